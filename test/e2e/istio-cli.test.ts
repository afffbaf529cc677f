// `weir --istio` through the built CLI (`node dist/src/cli/main.js`) as a child process: it prints
// the listener and the live config version, a weight edit becomes live (log `config version <new>
// live (was <old>)`), an invalid edit is rejected with file/document/path and the old version stays
// live, SIGTERM exits 0. Plus the flag's usage errors and `--mode validate`.

import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { UsageError } from '../../src/errors';
import { parseArgs } from '../../src/cli/args';
import { startVersionUpstreams } from '../helpers/version-upstreams';
import { EXAMPLES_DIR, setDefaultWeights } from './istio-harness';
import { startCli } from '../helpers/cli-process';

async function exampleDir(t: Test, example: string): Promise<{ dir: string; file: string; text: string; rewrite: (s: string) => Promise<string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-e2e-istio-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ups = startVersionUpstreams();
  t.teardown(() => ups.close());
  const text = await ups.rewrite(readFileSync(join(EXAMPLES_DIR, example), 'utf8'));
  const file = join(dir, example);
  writeFileSync(file, text);
  return { dir, file, text, rewrite: ups.rewrite };
}

async function labels(port: number, host: string, n: number): Promise<Map<string, number>> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
  const out = new Map<string, number>();
  try {
    for (let i = 0; i < n; i++) {
      const r = await pool.request({ method: 'GET', path: '/', headers: { host } });
      await r.body.text();
      const label = r.statusCode === 200 ? String(r.headers['x-service']) + '/' + String(r.headers['x-version']) : 'status ' + r.statusCode;
      out.set(label, (out.get(label) ?? 0) + 1);
    }
  } finally {
    await pool.close();
  }
  return out;
}

t.test('weir --istio <dir> serves, reloads, rejects, stops', async (t) => {
  const ex = await exampleDir(t, 'bookinfo-reviews.yaml');
  // -c gives the admin listener a free port (alone, --istio puts admin on 127.0.0.1:15000).
  const boot = join(ex.dir, 'bootstrap.json');
  writeFileSync(boot, JSON.stringify({ admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } } }));
  const w = startCli(t, ['-c', boot, '--istio', ex.dir, '--istio-listen', '127.0.0.1:0', '--pick-mode', 'smooth', '--drain-time-s', '1']);
  const listening = await w.nth(/listener (\S+) listening on 127\.0\.0\.1:(\d+)/);
  const port = Number(listening[2]);
  const first = (await w.nth(/config version (istio:[0-9a-f]{12}) live\n/))[1]!;
  t.pass(`printed: ${listening[0]}; config version ${first} live`);
  // The bootstrap file is JSON, not *.yaml: it is not read as Istio config.
  const split = await labels(port, 'reviews', 100);
  t.same(Object.fromEntries(split), { 'reviews/v2': 90, 'reviews/v3': 10 }, 'smooth 90/10 exactly (--pick-mode smooth)');

  // 100% v3: one new snapshot, logged with both versions.
  writeFileSync(ex.file, await ex.rewrite(setDefaultWeights(ex.text, 'reviews', [['v2', 0], ['v3', 100]])));
  const live = await w.nth(/config version (istio:[0-9a-f]{12}) live \(was (istio:[0-9a-f]{12})\)/);
  t.equal(live[2], first, 'the log names the version replaced');
  t.not(live[1], first);
  t.same(Object.fromEntries(await labels(port, 'reviews.default.svc.cluster.local:9080', 20)), { 'reviews/v3': 20 }, 'all traffic on v3');

  // Invalid: an unknown subset. Rejected whole, the 100% v3 version stays live.
  writeFileSync(ex.file, await ex.rewrite(setDefaultWeights(ex.text, 'reviews', [['v2', 50], ['v9', 50]])));
  const rej = await w.nth(/config version (istio:[0-9a-f]{12}) rejected; (istio:[0-9a-f]{12}) stays live/);
  t.equal(rej[2], live[1], 'the rejection names the version that stays live');
  await w.waitFor(/bookinfo-reviews\.yaml: document \d+ \(VirtualService reviews\): spec\.http\[0\]\.route\[1\]\.destination\.subset[^\n]*v9/);
  t.same(Object.fromEntries(await labels(port, 'reviews', 20)), { 'reviews/v3': 20 }, 'old routing intact');

  // Rollback: the original file; the original version is live again.
  writeFileSync(ex.file, ex.text);
  const back = await w.nth(/config version (istio:[0-9a-f]{12}) live \(was (istio:[0-9a-f]{12})\)/, 2);
  t.equal(back[1], first, 'rolled back to the first version');
  t.same(Object.fromEntries(await labels(port, 'reviews', 100)), { 'reviews/v2': 90, 'reviews/v3': 10 });

  w.proc.kill('SIGTERM');
  const exit = await w.exited;
  t.equal(exit.code, 0, 'SIGTERM: exit 0');
});

t.test('--mode validate --istio: errors with file, document and path; exit 1', async (t) => {
  const ex = await exampleDir(t, 'helloworld-80-20.yaml');
  const ok = startCli(t, ['--istio', ex.file, '--mode', 'validate']);
  t.equal((await ok.exited).code, 0, 'valid file: exit 0');
  t.match(ok.log(), /OK/);
  writeFileSync(ex.file, setDefaultWeights(ex.text, 'helloworld', [['v1', 80], ['v2', 30]]));
  const bad = startCli(t, ['--istio', ex.dir, '--mode', 'validate']);
  t.equal((await bad.exited).code, 1, 'invalid file: exit 1');
  t.match(bad.log(), /helloworld-80-20\.yaml: document 3 \(VirtualService helloworld\): spec\.http\[0\]\.route: weights sum to 110/);
});

t.test('weir --istio on an invalid file does not start', async (t) => {
  const ex = await exampleDir(t, 'user-agent-canary.yaml');
  writeFileSync(ex.file, ex.text.replace('exact: canary', 'regex: "(?=canary)"'));
  const w = startCli(t, ['--istio', ex.file, '--istio-listen', '127.0.0.1:0']);
  const exit = await w.exited;
  t.equal(exit.code, 1);
  t.match(w.log(), /user-agent-canary\.yaml: document \d+ \(VirtualService frontend\)/);
  t.notMatch(w.log(), /listening on/);
});

t.test('flag parsing', async (t) => {
  const c = parseArgs(['--istio', 'a.yaml', '--istio', 'dir', '--istio-listen', '127.0.0.1:15001', '--istio-namespace', 'shop', '--pick-mode', 'sticky', '--sticky-key', 'cookie:user']);
  t.equal(c.kind, 'serve');
  if (c.kind === 'serve') {
    t.same(c.args.istio, {
      paths: ['a.yaml', 'dir'],
      options: { listen: { address: '127.0.0.1', port: 15001 }, namespace: 'shop', defaultPickMode: 'sticky', defaultStickyKey: { cookie: 'user' } },
    });
    t.equal(c.args.configPath, undefined, '--istio alone is enough');
  }
  const noIstio = parseArgs(['-c', 'x.yaml']);
  t.ok(noIstio.kind === 'serve' && !('istio' in noIstio.args), 'no istio key without --istio');
  const BAD: [string[], RegExp][] = [
    [['-c', 'x.yaml', '--pick-mode', 'smooth'], /'--pick-mode' needs --istio/],
    [['--istio', 'a', '--pick-mode', 'fair'], /invalid mode 'fair'/],
    [['--istio', 'a', '--sticky-key', 'user'], /cookie:<name> or header:<name>/],
    [['--istio', 'a', '--concurrency', '2'], /--concurrency 1 only/],
    [['--istio', 'a', '--istio-listen', '127.0.0.1:99999'], /invalid port/],
    [['--istio'], /needs a value/],
  ];
  for (const [argv, re] of BAD) {
    let caught: unknown;
    try {
      parseArgs(argv);
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof UsageError, `${argv.join(' ')}: UsageError`);
    t.match((caught as Error | undefined)?.message ?? '', re);
  }
});
