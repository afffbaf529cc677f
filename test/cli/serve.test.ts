// End to end: the built CLI (`node dist/src/cli/main.js -c ...`) as a child process, with an
// upstream in this process. The child binds ephemeral ports and says where in its log.
import t from 'tap';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { startCli, tempDir } from '../helpers/cli-process';
import { startHeldUpstream } from '../helpers/held-upstream';
import { writeSingleClusterBootstrap } from '../helpers/static-bootstrap';
import { get } from '../proxy/fixtures';

const tmp = tempDir(t, 'weir-serve-');

t.test('serves a bootstrap, /ready is LIVE, SIGTERM under load drains with no failed request', async (t) => {
  const up = await startHeldUpstream(t);
  const weir = startCli(t, ['-c', writeSingleClusterBootstrap(tmp, up.port), '--drain-time-s', '30']);
  const port = await weir.listenerPort('main');
  const adminPort = await weir.adminPort();
  const r = await get(port, '/');
  t.equal(r.status, 200);
  t.equal(r.body, 'ok\n');
  t.equal(r.headers['x-upstream'], 'yes');
  const ready = await get(adminPort, '/ready');
  t.same([ready.status, ready.body], [200, 'LIVE\n']);

  // 20 requests in flight (held by the upstream), then SIGTERM.
  up.hold = true;
  const before = up.received;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
  const inflight = Array.from({ length: 20 }, () => get(port, '/', {}, agent).catch((e: Error) => ({ status: -1, body: e.message, headers: {} })));
  await up.onReceived(before + 20);
  weir.proc.kill('SIGTERM');
  await weir.waitFor(/caught SIGTERM/);
  const draining = await get(adminPort, '/ready');
  t.same([draining.status, draining.body], [503, 'DRAINING\n'], '/ready answers 503 while draining');
  up.release();
  const results = await Promise.all(inflight);
  agent.destroy();
  t.same(results.map((x) => x.status), Array(20).fill(200), 'every request in flight completed');
  const { code } = await weir.exited;
  t.equal(code, 0, 'exit code 0 after the drain');
});

t.test('SIGINT drains for at most about a second', async (t) => {
  const up = await startHeldUpstream(t);
  const weir = startCli(t, ['-c', writeSingleClusterBootstrap(tmp, up.port), '--drain-time-s', '600']);
  const port = await weir.listenerPort('main');
  up.hold = true;
  const stuck = get(port, '/').catch(() => null);
  await up.onReceived(1);
  const started = Date.now();
  weir.proc.kill('SIGINT');
  const { code } = await weir.exited;
  const took = Date.now() - started;
  t.equal(code, 0);
  t.ok(took < 5000, `exited in ${took} ms despite a request that never finishes (drain time 600 s)`);
  up.release();
  await stuck;
});

t.test('a port in use: a clear error and exit code 1', async (t) => {
  const up = await startHeldUpstream(t);
  const file = writeSingleClusterBootstrap(tmp, up.port);
  const taken = fs.readFileSync(file, 'utf8').replace(/port_value: 0 \} \}\n      filter_chains/, `port_value: ${up.port} } }\n      filter_chains`);
  const p = path.join(tmp, 'taken.yaml');
  fs.writeFileSync(p, taken);
  const weir = startCli(t, ['-c', p]);
  const { code } = await weir.exited;
  t.equal(code, 1);
  t.match(weir.log(), new RegExp(`taken\\.yaml: static_resources\\.listeners\\[0\\]\\.address: cannot listen on 127\\.0\\.0\\.1:${up.port}: .*EADDRINUSE`));
});

t.test('--downstream-server node serves through node:http and says so; the default does not', async (t) => {
  const up = await startHeldUpstream(t);
  const file = writeSingleClusterBootstrap(tmp, up.port);
  const weir = startCli(t, ['-c', file, '--downstream-server', 'node']);
  const port = await weir.listenerPort('main');
  const r = await get(port, '/');
  t.same([r.status, r.body], [200, 'ok\n']);
  t.match(weir.log(), /downstream HTTP\/1\.1 server: node:http/);
  const lean = startCli(t, ['-c', file]);
  const p2 = await lean.listenerPort('main');
  t.equal((await get(p2, '/')).status, 200);
  t.notMatch(lean.log(), /downstream HTTP\/1\.1 server: node:http/);
});
