// `weir translate` (src/cli/translate.ts; kept with the translator's tests): resources grouped like istioctl proxy-config, a static bootstrap a real Envoy
// accepts, errors with file/document/path and exit codes.

import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main, parseListen } from '../../../src/cli/translate';
import { REPO_ROOT } from '../../helpers/repo-root';

const BOOKINFO = join(REPO_ROOT, 'config', 'istio', 'bookinfo-reviews.yaml');

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

t.test('YAML by default, grouped as listeners / routes / clusters / endpoints', async (t) => {
  const r = await run([BOOKINFO]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^# weir translate, config version [0-9a-f]{12}\n/);
  const doc = parse(r.out) as Any;
  t.same(Object.keys(doc), ['version_info', 'listeners', 'routes', 'clusters', 'endpoints']);
  t.equal(doc.routes[0].name, '9080');
  t.same(
    doc.routes[0].virtual_hosts[0].routes[0].route.weighted_clusters.clusters.map((c: Any) => c.weight),
    [90, 10],
  );
});

t.test('--format json, --listen one port', async (t) => {
  const r = await run([BOOKINFO, '--format', 'json', '--listen', '0.0.0.0:15001']);
  t.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  t.same(doc.listeners.map((l: Any) => l.name), ['0.0.0.0_15001']);
  t.same(doc.routes.map((x: Any) => x.name), ['15001']);
});

t.test('--bootstrap: routes inline, EDS clusters become STATIC with their endpoints', async (t) => {
  const r = await run([BOOKINFO, '--bootstrap', '--format=json']);
  t.equal(r.code, 0, r.err);
  const b = JSON.parse(r.out);
  t.ok(b.node.id);
  const hcm = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  t.equal(hcm.rds, undefined);
  t.equal(hcm.route_config.name, '9080');
  t.equal(hcm.route_config.virtual_hosts[0].name, 'reviews.default.svc.cluster.local:9080');
  for (const c of b.static_resources.clusters) {
    t.equal(c.type, 'STATIC');
    t.equal(c.eds_cluster_config, undefined);
    t.equal(c.load_assignment.cluster_name, c.name);
  }
  const v3 = b.static_resources.clusters.find((c: Any) => c.name === 'outbound|9080|v3|reviews.default.svc.cluster.local');
  t.same(v3.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: '127.0.0.1', port_value: 9083 });
});

t.test('invalid config: exit 1, every error on stderr with file and path; usage errors exit 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-translate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [r]\n  http:\n  - route:\n    - destination: {host: r}\n      weight: 50\n    - destination: {host: r}\n      weight: 40\n`);
  const r = await run([bad]);
  t.equal(r.code, 1);
  t.equal(r.out, '');
  t.match(r.err, 'bad.yaml: document 1 (VirtualService r): spec.http[0].route: weights sum to 90, must be 100');
  const missing = await run([join(dir, 'nope.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.err, /nope\.yaml: no such file or directory/);
  t.equal((await run([])).code, 2);
  t.equal((await run([BOOKINFO, '--format', 'xml'])).code, 2);
  t.equal((await run([BOOKINFO, '--bogus'])).code, 2);
  const help = await run(['--help']);
  t.equal(help.code, 0);
  t.match(help.out, /^usage: weir translate/);
});

t.test('a directory reads its YAML files; notes go to stderr', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-translate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n');
  writeFileSync(join(dir, 'b.yml'), 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [s.example.com]\n  ports: [{number: 80, name: http}]\n  resolution: DNS\n');
  writeFileSync(join(dir, 'README.md'), '# not yaml');
  const r = await run([dir, '--format', 'json']);
  t.equal(r.code, 0, r.err);
  t.match(r.err, /note: .*a\.yaml: document 1 \(Deployment d\): apps\/v1 Deployment ignored/);
  t.same(JSON.parse(r.out).clusters.map((c: Any) => c.name), ['outbound|80||s.example.com']);
});

t.test('--pick-mode and --sticky-key set the default of weighted routes', async (t) => {
  const r = await run([BOOKINFO, '--format', 'json', '--pick-mode', 'sticky', '--sticky-key', 'cookie:session']);
  t.equal(r.code, 0, r.err);
  const route = JSON.parse(r.out).routes[0].virtual_hosts[0].routes[0];
  t.same(route.metadata.filter_metadata.weir, { pick_mode: 'sticky', sticky_key: { cookie: 'session' } });
  const noKey = await run([BOOKINFO, '--pick-mode', 'sticky']);
  t.equal(noKey.code, 1);
  t.match(noKey.err, /the default pick mode is sticky but no key is set/);
});

t.test('parseListen', async (t) => {
  t.same(parseListen('15001'), { address: '127.0.0.1', port: 15001 });
  t.same(parseListen('0.0.0.0'), { address: '0.0.0.0' });
  t.same(parseListen('0.0.0.0:8080'), { address: '0.0.0.0', port: 8080 });
  t.same(parseListen('[::1]:8080'), { address: '::1', port: 8080 });
  t.throws(() => parseListen('1.2.3.4:99999'));
});
