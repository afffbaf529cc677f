// `weir --mode validate` and the CLI's usage errors, through the built CLI.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT as ROOT, runCli as run, tempDir } from '../helpers/cli-process';

const tmp = tempDir(t, 'weir-validate-');

t.test('every example bootstrap in config/ validates', async (t) => {
  for (const f of ['config/demo.yaml', 'config/header-routing.yaml', 'config/cookie-routing.yaml']) {
    const r = await run(['--mode', 'validate', '-c', f]);
    t.equal(r.code, 0, `${f}: ${r.stderr}`);
    t.equal(r.stdout, `configuration '${f}' OK\n`);
  }
});

t.test('a bad bootstrap: exit 1, every error with file and field path, nothing started', async (t) => {
  const demo = fs.readFileSync(path.join(ROOT, 'config', 'demo.yaml'), 'utf8');
  const bad = path.join(tmp, 'bad.yaml');
  // Break a route (weights summing to 0) and an endpoint address.
  fs.writeFileSync(
    bad,
    demo
      .replace(/weight: 90/, 'weight: 0')
      .replace(/weight: 10/, 'weight: 0'),
  );
  const r = await run(['--mode', 'validate', '-c', bad]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, `error initializing configuration '${bad}'`);
  t.match(r.stderr, `${bad}: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[2].route.weighted_clusters: sum of weights is 0`);

  const bad2 = path.join(tmp, 'bad2.yaml');
  fs.writeFileSync(bad2, demo.replace('socket_address: { address: 127.0.0.1, port_value: 9082 }', 'pipe: { path: /tmp/x }'));
  const r2 = await run(['--mode', 'validate', '-c', bad2]);
  t.equal(r2.code, 1);
  t.match(r2.stderr, `${bad2}: static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe: unix domain socket addresses are not supported`);
});

t.test('--config-yaml is validated merged over the file', async (t) => {
  const r = await run(['--mode', 'validate', '-c', 'config/demo.yaml', '--config-yaml', 'admin: { address: { socket_address: { port_value: 99999 } } }']);
  t.equal(r.code, 1);
  t.match(r.stderr, 'config/demo.yaml (with --config-yaml): admin.address.socket_address.port_value: 99999 is not a port');
});

t.test('usage errors exit 1 with a clear message; --help lists every command', async (t) => {
  const u = await run(['-c', 'config/demo.yaml', '--no-such-flag']);
  t.equal(u.code, 1);
  t.match(u.stderr, /unknown flag '--no-such-flag'/);
  const h = await run(['--help']);
  t.equal(h.code, 0);
  for (const c of ['serve', 'demo', 'route-check', 'translate', 'fidelity', 'explain', '--config-path', '--config-yaml', '--service-node', '--service-cluster', '--log-level', '--concurrency', '--drain-time-s', '--mode'])
    t.match(h.stdout, c);
  const v = await run(['--version']);
  t.match(v.stdout, /^weir version: \d+\.\d+\.\d+/);
  const missing = await run(['-c', path.join(tmp, 'missing.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /missing\.yaml: unable to read file: no such file/);
});
