// --concurrency 2 end to end through the built CLI: the primary serves the admin API while the two
// workers serve traffic. /clusters lists each endpoint once with its counters summed over the
// workers; /listeners shows the port the workers actually bound (the bootstrap says port 0), and
// that port answers. A worker that does not answer (SIGSTOP) is left out after the time bound:
// the admin answers with the other worker's counters and says `x-weir-workers: 1/2`. (With xDS:
// serve-concurrency-xds.test.ts.)
import t from 'tap';
import { startCli, tempDir } from '../helpers/cli-process';
import { startHeldUpstream } from '../helpers/held-upstream';
import { writeSingleClusterBootstrap } from '../helpers/static-bootstrap';
import { get } from '../proxy/fixtures';

const tmp = tempDir(t, 'weir-conc-admin-');
const WORKER_LINE = /\[(\d+)\]\[info\]\[main\] listener main listening on 127\.0\.0\.1:(\d+)/;

function hostStat(text: string, host: string, stat: string): number {
  const m = new RegExp(`^up::${host.replace(/\./g, '\\.')}::${stat}::(\\d+)$`, 'm').exec(text);
  if (m === null) throw new Error(`no up::${host}::${stat} in:\n${text}`);
  return Number(m[1]);
}

t.test('--concurrency 2: /clusters sums both workers, /listeners shows the bound port', async (t) => {
  const up = await startHeldUpstream(t);
  const host = `127.0.0.1:${up.port}`;
  const weir = startCli(t, ['-c', writeSingleClusterBootstrap(tmp, up.port), '--concurrency', '2', '--drain-time-s', '1']);
  const lines = await weir.waitFor(WORKER_LINE, 2);
  const pids = lines.map((m) => Number(m[1]));
  const port = Number(lines[0]![2]);
  t.not(port, 0, 'workers bound an ephemeral port');
  const admin = await weir.adminPort();
  await weir.waitFor(/all 2 workers serving/);

  // Fresh connections: node:cluster hands them to the workers in turn.
  const N = 24;
  for (let i = 0; i < N; i++) t.equal((await get(port, '/')).status, 200, `request ${i}`);
  t.equal(up.received, N);

  const text = await get(admin, '/clusters');
  t.equal(text.headers['x-weir-workers'], '2/2', 'both workers answered');
  t.equal(text.body.split('\n').filter((l) => l.startsWith(`up::${host}::rq_total::`)).length, 1, 'the endpoint is listed once');
  t.equal(hostStat(text.body, host, 'rq_total'), N, 'rq_total summed over the workers');
  t.equal(hostStat(text.body, host, 'rq_success'), N);
  t.equal(hostStat(text.body, host, 'rq_error'), 0);
  t.equal(hostStat(text.body, host, 'rq_active'), 0);
  t.match(text.body, `up::${host}::health_flags::healthy\n`);
  t.match(text.body, 'up::added_via_api::false\n');
  const json = JSON.parse((await get(admin, '/clusters?format=json')).body);
  t.equal(json.cluster_statuses.length, 1);
  const hs = json.cluster_statuses[0].host_statuses;
  t.equal(hs.length, 1);
  t.same(hs[0].address, { socket_address: { address: '127.0.0.1', port_value: up.port } });
  t.equal(hs[0].stats.find((s: { name: string }) => s.name === 'rq_total').value, String(N));

  const listeners = await get(admin, '/listeners');
  t.equal(listeners.body, `main::127.0.0.1:${port}\n`, 'the bound port, not the configured 0');
  t.equal(listeners.headers['x-weir-workers'], '2/2');
  const lj = JSON.parse((await get(admin, '/listeners?format=json')).body);
  t.same(lj.listener_statuses, [{ name: 'main', local_address: { socket_address: { address: '127.0.0.1', port_value: port } } }]);
  t.equal((await get(port, '/')).status, 200, 'the port /listeners names answers');

  // One worker stopped: the admin does not hang; it answers with the other worker's share.
  process.kill(pids[0]!, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(pids[0]!, 'SIGCONT');
    } catch {
      // already gone
    }
  });
  const t0 = Date.now();
  const partial = await get(admin, '/clusters');
  const took = Date.now() - t0;
  t.equal(partial.headers['x-weir-workers'], '1/2', 'one of two answered');
  t.ok(took < 5000, `answered within the bound (${took} ms)`);
  const share = hostStat(partial.body, host, 'rq_total');
  t.ok(share > 0 && share < N + 1, `the running worker's share (${share} of ${N + 1}): both workers served traffic`);
  // Many admin requests at once while it is stopped (a dashboard polling, a scraper): all answer.
  const many = await Promise.all(Array.from({ length: 12 }, (_x, i) => get(admin, i % 2 === 0 ? '/clusters' : '/stats/prometheus')));
  t.same(many.map((r) => r.headers['x-weir-workers']), Array(12).fill('1/2'), 'every concurrent admin request answered without the stopped worker');
  t.notMatch(weir.log(), /MaxListenersExceeded/, 'no listener pile-up in the primary');
  const pl = await get(admin, '/listeners');
  t.equal(pl.body, `main::127.0.0.1:${port}\n`, 'listeners from the worker that answered');
  process.kill(pids[0]!, 'SIGCONT');
  t.equal(hostStat((await get(admin, '/clusters')).body, host, 'rq_total'), N + 1, 'all of them again once it runs');

  weir.proc.kill('SIGTERM');
  t.equal((await weir.exited).code, 0);
});
