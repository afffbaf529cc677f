// --concurrency 2 end to end through the built CLI: the primary serves the admin API while the two
// workers serve traffic. /clusters lists each endpoint once with its counters summed over the
// workers; /listeners shows the port the workers actually bound (the bootstrap says port 0), and
// that port answers. A worker that does not answer (SIGSTOP) is left out after the time bound:
// the admin answers with the other worker's counters and says `x-weir-workers: 1/2`. With xDS,
// /listeners, /clusters, /config_dump and /explain on the primary show what the workers got over
// ADS (the primary holds no ADS stream).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startCli, tempDir } from '../helpers/cli-process';
import { FakeAdsServer } from '../helpers/fake-ads-server';
import { C, cla, E, edsCluster, L, R, rdsListener, routeConfig, weightedRoute } from '../xds/e2e-harness';
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
  const N = 40;
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

t.test('--concurrency 2 with xDS: the primary shows what the workers got over ADS', async (t) => {
  const up = await startHeldUpstream(t);
  const ads = await FakeAdsServer.start();
  t.teardown(() => ads.close());
  const file = path.join(tmp, 'xds.yaml');
  fs.writeFileSync(
    file,
    `
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
node: {id: weir-test, cluster: weir}
dynamic_resources:
  ads_config: {api_type: GRPC, transport_api_version: V3, grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}}]}
  lds_config: {ads: {}, resource_api_version: V3}
  cds_config: {ads: {}, resource_api_version: V3}
static_resources:
  clusters:
  - name: xds-grpc
    type: STATIC
    load_assignment: {cluster_name: xds-grpc, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${ads.port}}}}}]}]}
`,
  );
  const weir = startCli(t, ['-c', file, '--concurrency', '2', '--drain-time-s', '1', '--enable-explain']);
  const admin = await weir.adminPort();
  await weir.waitFor(/all 2 workers serving/);
  // Envoy's /ready: INITIALIZING until the first xDS configuration is in, in every worker.
  t.same(await get(admin, '/ready').then((r) => [r.status, r.body]), [503, 'INITIALIZING\n'], 'no configuration yet');
  ads.setResources(C, [edsCluster('v1')]);
  ads.setResources(E, [cla('v1', up.port)]);
  ads.setResources(L, [rdsListener('from-lds', 'r')]);
  ads.setResources(R, [routeConfig('r', [weightedRoute({ v1: 100 })], 'first')]);
  await weir.waitFor(/all 2 workers initialized/);
  t.same(await get(admin, '/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
  const lines = await weir.waitFor(/\[(\d+)\]\[info\]\[main\] listener from-lds listening on 127\.0\.0\.1:(\d+)/, 2);
  const port = Number(lines[0]![2]);
  t.equal(lines[1]![2], lines[0]![2], 'both workers share the LDS listener\'s one port');
  for (let i = 0; i < 4; i++) t.equal((await get(port, '/')).status, 200);

  // The LDS listener exists only in the workers: /listeners names its bound port.
  t.equal((await get(admin, '/listeners')).body, `from-lds::127.0.0.1:${port}\n`);
  // The EDS cluster and its endpoint, with all four requests.
  const clusters = (await get(admin, '/clusters')).body;
  t.match(clusters, `v1::127.0.0.1:${up.port}::rq_total::4\n`);
  t.match(clusters, 'v1::added_via_api::true\n');
  // config_dump from a worker: the ADS resources, not just the bootstrap.
  const dump = JSON.parse((await get(admin, '/config_dump')).body);
  const ls = dump.configs.find((c: Record<string, string>) => c['@type']!.endsWith('ListenersConfigDump'));
  t.same(ls.dynamic_listeners.map((l: { name: string }) => l.name), ['from-lds']);
  const eds = JSON.parse((await get(admin, '/config_dump?include_eds')).body);
  t.ok(eds.configs.some((c: Record<string, string>) => c['@type']!.endsWith('EndpointsConfigDump')), '?include_eds reaches the worker');
  t.equal((await get(admin, '/config_dump?resource=nope')).status, 404);
  // explain, answered by a worker on the snapshot it serves.
  const x = JSON.parse((await get(admin, '/explain?authority=anything&path=/a')).body);
  t.equal(x.cluster, 'v1');
  t.equal(x.listener.name, 'from-lds');
  t.match((await get(admin, '/explain?authority=anything&path=/a&format=text')).body, /cluster: v1/);
  t.equal((await get(admin, '/explain?authority=a&listener=nope')).status, 400, "a worker's error comes back with its status");

  weir.proc.kill('SIGTERM');
  t.equal((await weir.exited).code, 0);
});
