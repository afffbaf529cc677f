// The built CLI end to end: with --concurrency 2 the primary's /stats/prometheus merges both
// workers' metrics (every request counted once); with --istio the /config_dump shows the
// translated resources as dynamic entries with the Istio version and parses with the Envoy protos.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { get, keepAliveAgent } from '../proxy/fixtures';
import { freePort } from '../helpers/free-port';
import { LISTENING, startCli, tempDir, type TeardownLike } from '../helpers/cli-process';
import { startUpstream } from '../helpers/upstream-servers';
import { parsePrometheus, sum } from './prom-text';
import { checkMessage, loadEnvoyProtos } from './envoy-proto-check';
import { FakeAdsServer } from '../helpers/fake-ads-server';
import { writeAdsBootstrap } from '../helpers/static-bootstrap';
import { C, cla, E, edsCluster, L, R, rdsListener, routeConfig, weightedRoute } from '../xds/e2e-harness';

const tmp = tempDir(t, 'weir-serve-admin-');

/** Starts weir; resolves once `count` listener lines and the admin line were logged. */
async function startWeir(t: TeardownLike, args: string[], count: number): Promise<{ port: number; admin: number }> {
  const cli = startCli(t, [...args, '--log-level', 'info']);
  const lines = await cli.waitFor(LISTENING, count, 15_000);
  return { port: Number(lines[lines.length - 1]![3]), admin: await cli.adminPort() };
}

t.test('--concurrency 2: the primary merges both workers metrics', async (t) => {
  const up = await startUpstream((_q, res) => res.end('ok'));
  t.teardown(() => up.close());
  const file = path.join(tmp, 'conc.yaml');
  // A concrete port (workers share it through node:cluster) so that the primary's /listeners,
  // which names the configured address, can be checked; a free one rather than a fixed one.
  const port = await freePort();
  fs.writeFileSync(
    file,
    `
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: main
    address: {socket_address: {address: 127.0.0.1, port_value: ${port}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config: {virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: up}}]}]}
  clusters:
  - {name: up, type: STATIC, load_assignment: {cluster_name: up, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${up.port}}}}}]}]}}
`,
  );
  const w = await startWeir(t, ['-c', file, '--concurrency', '2'], 2);
  const N = 60;
  // Fresh connections spread over both workers.
  let ok = 0;
  for (let i = 0; i < N; i++) if ((await get(w.port, '/')).status === 200) ok++;
  t.equal(ok, N);
  const s = parsePrometheus((await get(w.admin, '/stats/prometheus')).body).samples;
  t.equal(sum(s, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: 'up' }), N, 'every request counted once across workers');
  t.equal(sum(s, 'istio_requests_total', { response_code: '200' }), N);
  t.equal(sum(s, 'envoy_http_downstream_rq_total', { envoy_http_conn_manager_prefix: 'ingress_http' }), N);
  const stats = (await get(w.admin, '/stats?filter=upstream_rq_total')).body;
  t.equal(stats, `cluster.up.upstream_rq_total: ${N}\n`);
  const info = JSON.parse((await get(w.admin, '/server_info')).body);
  t.match(info.command_line_options, { concurrency: 2, mode: 'Serve', config_path: file });
  const root = loadEnvoyProtos(['envoy/admin/v3/server_info.proto']);
  t.same(checkMessage(root, 'envoy.admin.v3.ServerInfo', info), [], 'server_info of the real CLI parses as envoy.admin.v3.ServerInfo');
  t.equal((await get(w.admin, '/listeners')).body, `main::127.0.0.1:${port}\n`, 'the primary lists the listeners');

  // /healthcheck/fail on the primary reaches the workers: keep-alive responses say connection: close.
  t.equal((await get(w.admin, '/healthcheck/fail', {}, undefined, 'POST')).status, 200);
  t.equal((await get(w.admin, '/ready')).body, 'DRAINING\n');
  let closed = false;
  for (let i = 0; i < 50 && !closed; i++) {
    const agent = keepAliveAgent();
    closed = (await get(w.port, '/', {}, agent)).headers.connection === 'close';
    agent.destroy();
  }
  t.ok(closed, 'workers answer connection: close while the health check fails');
  await get(w.admin, '/healthcheck/ok', {}, undefined, 'POST');
  t.equal((await get(w.admin, '/ready')).body, 'LIVE\n');
});

t.test('--istio: config_dump shows the translated resources as dynamic, and parses', async (t) => {
  const up = await startUpstream((_q, res) => res.end('v1'));
  t.teardown(() => up.close());
  const file = path.join(tmp, 'web.yaml');
  fs.writeFileSync(
    file,
    `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web}
spec:
  hosts: [web.default.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: ${up.port}}, labels: {app: web, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web}
spec:
  host: web
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: web, subset: v1}}]}]
`,
  );
  const boot = path.join(tmp, 'istio-boot.yaml');
  fs.writeFileSync(boot, 'admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}\n');
  const w = await startWeir(t, ['-c', boot, '--istio', file, '--istio-listen', '127.0.0.1:0'], 1);
  const agent = keepAliveAgent();
  t.teardown(() => agent.destroy());
  t.equal((await get(w.port, '/', { host: 'web' }, agent)).body, 'v1');
  const dump = JSON.parse((await get(w.admin, '/config_dump?include_eds')).body);
  const byType = (x: string) => dump.configs.find((c: Record<string, string>) => c['@type']!.endsWith(x));
  const ls = byType('ListenersConfigDump');
  t.ok(ls.dynamic_listeners?.length >= 1, 'Istio listeners are dynamic');
  t.match(ls.dynamic_listeners[0].active_state.version_info, /istio/);
  t.ok(byType('ClustersConfigDump').dynamic_active_clusters.some((c: { cluster: { name: string } }) => c.cluster.name === 'outbound|80|v1|web.default.svc.cluster.local'));
  t.ok(byType('RoutesConfigDump').dynamic_route_configs.length >= 1);
  t.ok(byType('EndpointsConfigDump').dynamic_endpoint_configs.length >= 1);
  const root = loadEnvoyProtos([
    'envoy/admin/v3/config_dump.proto',
    'envoy/config/bootstrap/v3/bootstrap.proto',
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
    'envoy/extensions/filters/http/router/v3/router.proto',
    'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  ]);
  t.same(checkMessage(root, 'envoy.admin.v3.ConfigDump', dump), [], 'parses as envoy.admin.v3.ConfigDump');
  const s = parsePrometheus((await get(w.admin, '/stats/prometheus')).body).samples;
  t.equal(sum(s, 'istio_requests_total', { destination_version: 'v1', destination_service: 'web.default.svc.cluster.local' }), 1);
  t.ok(sum(s, 'weir_config_info') >= 1, 'config version reported');
});

t.test('xDS: per-type stats and config_dump error_state after a NACK', async (t) => {
  const up = await startUpstream((_q, res) => res.end('v1'));
  t.teardown(() => up.close());
  const server = await FakeAdsServer.start();
  t.teardown(() => server.close());
  server.setResources(C, [edsCluster('v1')]);
  server.setResources(E, [cla('v1', up.port)]);
  server.setResources(L, [rdsListener('from-lds', 'r')]);
  server.setResources(R, [routeConfig('r', [weightedRoute({ v1: 100 })], 'first')]);
  const file = writeAdsBootstrap(tmp, server.port);
  const w = await startWeir(t, ['-c', file], 1);
  t.equal((await get(w.port, '/')).body, 'v1');
  const from = server.responses.length;
  const bad = server.setResources(R, [routeConfig('r', [weightedRoute({ v1: 0 })], 'bad')]);
  const sent = await server.waitForResponse((r) => r.type_url === R && r.version_info === bad, { from });
  await server.waitForReply(sent.nonce);
  const s = parsePrometheus((await get(w.admin, '/stats/prometheus')).body).samples;
  t.equal(sum(s, 'weir_xds_last_response_nacked', { type_url: R }), 1, 'route config NACKed');
  t.equal(sum(s, 'weir_xds_updates_total', { type_url: R, result: 'rejected' }), 1);
  t.ok(sum(s, 'weir_xds_updates_total', { type_url: L, result: 'accepted' }) >= 1);
  t.equal(sum(s, 'weir_xds_last_response_nacked', { type_url: L }), 0);
  const dump = JSON.parse((await get(w.admin, '/config_dump')).body);
  const routes = dump.configs.find((c: Record<string, string>) => c['@type']!.endsWith('RoutesConfigDump'));
  t.equal(routes.dynamic_route_configs.length, 1, 'ADS resources once (not also as a file source)');
  t.equal(routes.dynamic_route_configs[0].client_status, 'NACKED');
  t.match(routes.dynamic_route_configs[0].error_state.details, /weighted_clusters/);
  const ls = dump.configs.find((c: Record<string, string>) => c['@type']!.endsWith('ListenersConfigDump'));
  t.same(ls.dynamic_listeners.map((l: { name: string }) => l.name), ['from-lds']);
  t.equal((await get(w.port, '/')).body, 'v1', 'the last good config keeps serving');
});
