// The admin API answers on Envoy's paths with Envoy's shapes: /ready and /server_info states,
// health check fail/ok, drain_listeners (new connections refused), quitquitquit, logging, /stats
// (text, json, prometheus), /clusters, /listeners, the help page for unknown paths, POST-only
// endpoints, /explain only when enabled, and a /config_dump of a bootstrap-configured weir that
// parses strictly with the full Envoy protos (envoy.admin.v3.ConfigDump).
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from 'node:net';
import { loadBootstrap } from '../../src/config/bootstrap';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { AdminServer, type ServerState } from '../../src/admin/admin-server';
import { Metrics } from '../../src/admin/metrics';
import { get } from '../proxy/fixtures';
import { startUpstream } from '../helpers/upstream-servers';
import { parsePrometheus, sum } from './prom-text';
import { checkMessage, loadEnvoyProtos } from './envoy-proto-check';

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

function bootstrapYaml(p1: number, p2: number): string {
  const cluster = (name: string, port: number, version: string): string => `
  - name: "${name}"
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: "${name}"
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${port}}}}
          metadata: {filter_metadata: {istio: {labels: {app: reviews, version: ${version}}}}}`;
  return `
node: {id: "sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local", cluster: productpage, metadata: {NAMESPACE: default, LABELS: {app: productpage, version: v1}}}
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
static_resources:
  listeners:
  - name: main
    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            name: local_route
            virtual_hosts:
            - name: reviews
              domains: ["*"]
              routes:
              - name: split
                match: {prefix: "/"}
                route:
                  weighted_clusters:
                    clusters:
                    - {name: "${V1}", weight: 90}
                    - {name: "${V2}", weight: 10}
          http_filters:
          - name: envoy.filters.http.cors
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:${cluster(V1, p1, 'v1')}${cluster(V2, p2, 'v2')}
`;
}

async function setup(t: { teardown(fn: () => unknown): void }, extra: { enableExplain?: boolean } = {}) {
  const up1 = await startUpstream((_q, res) => res.end('v1'));
  const up2 = await startUpstream((_q, res) => res.end('v2'));
  t.teardown(() => Promise.all([up1.close(), up2.close()]));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-admin-'));
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(file, bootstrapYaml(up1.port, up2.port));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const b = loadBootstrap({ configPath: file });
  if (b.errors) throw new Error(b.errors.join('\n'));
  const boot = b.value;
  const proxy = new ProxyServer();
  t.teardown(() => proxy.close());
  const r = await proxy.apply(boot.resources);
  if (r.errors.length) throw new Error(r.errors.join('\n'));
  const metrics = new Metrics({ node: boot.node });
  metrics.bindSnapshot(proxy.snapshot!, proxy.clusters);
  metrics.configApplied(boot.resources.versionInfo);
  const loadedAt = new Date();
  const events = { quit: 0, level: [] as string[] };
  let level = 'info';
  const state: ServerState = 'LIVE';
  const admin = await AdminServer.start({
    address: '127.0.0.1',
    port: 0,
    state: () => state,
    proxy,
    metrics,
    configDump: () => ({ bootstrap: boot.raw, staticSet: boot.resources, loadedAt }),
    node: boot.node,
    commandLineOptions: { config_path: file, concurrency: 1, mode: 'Serve', drain_time: '600s', log_level: 'info' },
    version: '0.1.0',
    enableExplain: extra.enableExplain === true,
    onQuit: () => void events.quit++,
    setLogLevel: (l) => {
      if (!['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'].includes(l)) return false;
      events.level.push(l);
      level = l;
      return true;
    },
    logLevel: () => level,
  });
  t.teardown(() => admin.close());
  const port = proxy.listeners()[0]!.port;
  return { admin, proxy, metrics, port, events, up1, up2, file };
}

const post = (port: number, p: string) => get(port, p, {}, undefined, 'POST');

t.test('ready, server_info, healthcheck fail/ok, POST-only endpoints', async (t) => {
  const { admin } = await setup(t);
  const a = admin.port;
  let r = await get(a, '/ready');
  t.same([r.status, r.body], [200, 'LIVE\n']);
  const info = JSON.parse((await get(a, '/server_info')).body);
  t.equal(info.state, 'LIVE');
  t.match(info.version, /^weir\/0\.1\.0\//);
  t.match(info.uptime_current_epoch, /^\d+s$/);
  t.equal(info.command_line_options.mode, 'Serve');
  t.equal(info.node.cluster, 'productpage');
  const root = loadEnvoyProtos(['envoy/admin/v3/server_info.proto']);
  t.same(checkMessage(root, 'envoy.admin.v3.ServerInfo', info), [], 'server_info parses as envoy.admin.v3.ServerInfo');

  t.equal((await get(a, '/healthcheck/fail')).status, 405, 'GET on a POST endpoint');
  r = await post(a, '/healthcheck/fail');
  t.same([r.status, r.body], [200, 'OK\n']);
  r = await get(a, '/ready');
  t.same([r.status, r.body], [503, 'DRAINING\n'], 'health check failed: /ready answers 503 DRAINING as Envoy');
  t.equal(JSON.parse((await get(a, '/server_info')).body).state, 'DRAINING');
  await post(a, '/healthcheck/ok');
  t.equal((await get(a, '/ready')).status, 200);
});

t.test('help page for unknown paths, /help and /', async (t) => {
  const { admin } = await setup(t);
  const r = await get(admin.port, '/nope');
  t.equal(r.status, 404);
  t.match(r.body, /^invalid path\. admin commands are:\n/);
  for (const p of ['/config_dump', '/stats/prometheus', '/clusters', '/healthcheck/fail (POST)', '/weir']) t.ok(r.body.includes(`  ${p}`), `lists ${p}`);
  t.equal((await get(admin.port, '/help')).status, 200);
  t.match((await get(admin.port, '/')).body, /admin commands are/);
});

t.test('stats: text, json, filter, prometheus; clusters and listeners', async (t) => {
  const { admin, metrics, proxy, port, up1 } = await setup(t);
  // Feed the bound observer as the data path does (one finished request per call).
  const l = metrics.bindSnapshot(proxy.snapshot!, proxy.clusters).listener('main')!;
  for (let i = 0; i < 3; i++) l.streamDone({ status: 200, flags: 0, durationMs: 1, bytesReceived: 0, bytesSent: 2, upstreamCluster: V1, upstreamHost: `127.0.0.1:${up1.port}`, upstreamServiceTimeMs: 1, retriesDone: 0, entry: null });
  const text = (await get(admin.port, '/stats')).body;
  t.match(text, new RegExp(`^cluster\\.${V1.replace(/\|/g, '\\|')}\\.upstream_rq_total: 3$`, 'm'), 'Envoy stat names');
  t.match(text, /^http\.ingress_http\.downstream_rq_2xx: 3$/m);
  t.match(text, /^cluster\..*\.upstream_rq_time: P0\(/m, 'histograms as Envoy summaries');
  for (const line of text.trim().split('\n')) t.match(line, /^\S.*: \S/, `line "${line.slice(0, 40)}" is name: value`);
  const json = JSON.parse((await get(admin.port, '/stats?format=json&filter=upstream_rq_200')).body);
  t.same(json.stats, [{ name: `cluster.${V1}.upstream_rq_200`, value: 3 }]);
  t.equal((await get(admin.port, '/stats?filter=(a)\\1')).status, 400, 'RE2 rejects back-references, as Envoy');
  t.match((await get(admin.port, '/stats?filter=^http%5C.')).body, /^http\.ingress_http\.downstream_rq_total: 3$/m);
  const prom = await get(admin.port, '/stats/prometheus');
  t.match(prom.headers['content-type'], /text\/plain; version=0\.0\.4/);
  const s = parsePrometheus(prom.body).samples;
  t.equal(sum(s, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: V1 }), 3);
  t.equal(sum(s, 'istio_requests_total', { destination_version: 'v1', response_code: '200', source_workload: 'unknown', source_app: 'productpage' }), 3);
  t.equal(sum(s, 'weir_route_weight', { route: 'split', cluster: V2 }), 10);

  const clusters = (await get(admin.port, '/clusters')).body;
  const host = `${V1}::127.0.0.1:${up1.port}`;
  for (const want of [`${V1}::observability_name::${V1}`, `${V1}::default_priority::max_connections::1024`, `${host}::health_flags::healthy`, `${host}::weight::1`, `${host}::rq_total::3`, `${host}::rq_success::3`, `${V1}::added_via_api::false`]) {
    t.ok(clusters.split('\n').includes(want), `clusters has ${want}`);
  }
  const cj = JSON.parse((await get(admin.port, '/clusters?format=json')).body);
  const c1 = cj.cluster_statuses.find((c: { name: string }) => c.name === V1);
  t.equal(c1.host_statuses[0].address.socket_address.port_value, up1.port);
  t.same(c1.host_statuses[0].stats.find((x: { name: string }) => x.name === 'rq_total'), { name: 'rq_total', value: '3' });
  t.equal(c1.host_statuses[0].health_status.eds_health_status, 'HEALTHY');
  const root = loadEnvoyProtos(['envoy/admin/v3/clusters.proto', 'envoy/admin/v3/listeners.proto']);
  t.same(checkMessage(root, 'envoy.admin.v3.Clusters', cj), [], '/clusters?format=json parses as envoy.admin.v3.Clusters');
  t.equal((await get(admin.port, '/listeners')).body, `main::127.0.0.1:${port}\n`);
  const lj = JSON.parse((await get(admin.port, '/listeners?format=json')).body);
  t.same(checkMessage(root, 'envoy.admin.v3.Listeners', lj), []);
});

t.test('config_dump of a bootstrap-configured weir parses with the Envoy protos', async (t) => {
  const { admin } = await setup(t);
  const r = await get(admin.port, '/config_dump');
  t.equal(r.status, 200);
  const dump = JSON.parse(r.body);
  t.same(dump.configs.map((c: Record<string, string>) => c['@type']!.split('.').pop()), ['BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'RoutesConfigDump']);
  const root = loadEnvoyProtos([
    'envoy/admin/v3/config_dump.proto',
    'envoy/config/bootstrap/v3/bootstrap.proto',
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
    'envoy/extensions/filters/http/router/v3/router.proto',
    'envoy/extensions/filters/http/cors/v3/cors.proto',
  ]);
  t.same(checkMessage(root, 'envoy.admin.v3.ConfigDump', dump), [], 'strict proto3 JSON parse');
  const ls = dump.configs[2];
  t.equal(ls.static_listeners[0].listener.name, 'main');
  t.equal(ls.static_listeners[0].listener.filter_chains[0].filters[0].typed_config.http_filters[0].name, 'envoy.filters.http.cors', 'a skipped filter stays visible in the listener, as configured');
  t.equal(dump.configs[3].static_route_configs[0].route_config.name, 'local_route', 'inline route config dumped as static, as Envoy does');
  t.ok(dump.configs[1].static_clusters[0].last_updated);

  const eds = JSON.parse((await get(admin.port, '/config_dump?include_eds')).body);
  t.equal(eds.configs.at(-1)['@type'], 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump');
  t.same(checkMessage(root, 'envoy.admin.v3.ConfigDump', eds), []);
  const sc = JSON.parse((await get(admin.port, '/config_dump?resource=static_clusters')).body);
  t.same(sc.configs.map((c: Record<string, unknown>) => c['@type']), [
    'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster',
    'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster',
  ]);
  t.same(checkMessage(root, 'envoy.admin.v3.ConfigDump', sc), []);
  const masked = JSON.parse((await get(admin.port, '/config_dump?resource=static_clusters&mask=cluster.name')).body);
  t.same(masked.configs[0], { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster', cluster: { name: V1 } });
  t.equal((await get(admin.port, '/config_dump?resource=nope')).status, 404);
});

t.test('drain_listeners stops accepting; quitquitquit and logging call back', async (t) => {
  const { admin, port, events } = await setup(t);
  t.equal((await get(port, '/')).status, 200, 'serving before the drain');
  t.equal((await post(admin.port, '/drain_listeners')).status, 200);
  // Envoy: drained listeners stop accepting; a new connection is refused.
  const refused = await new Promise<boolean>((resolve) => {
    const tryOnce = (n: number): void => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        if (n > 0) setImmediate(() => tryOnce(n - 1));
        else resolve(false);
      });
      s.once('error', () => resolve(true));
    };
    tryOnce(50);
  });
  t.ok(refused, 'new connections are refused after /drain_listeners');
  t.equal((await get(admin.port, '/ready')).status, 200, 'admin still answers');

  t.equal((await post(admin.port, '/logging?level=debug')).status, 200);
  t.same(events.level, ['debug']);
  t.match((await post(admin.port, '/logging')).body, /admin: debug/);
  t.equal((await post(admin.port, '/logging?level=loud')).status, 404);
  const q = await post(admin.port, '/quitquitquit');
  t.same([q.status, q.body], [200, 'OK\n']);
  await new Promise((r) => setImmediate(r));
  t.equal(events.quit, 1, 'onQuit called after answering');
});

t.test('explain endpoint: off by default, on with the flag', async (t) => {
  const off = await setup(t);
  const r0 = await get(off.admin.port, '/explain?authority=x&path=/');
  t.equal(r0.status, 404);
  t.match(r0.body, /--enable-explain/);
  const on = await setup(t, { enableExplain: true });
  const r = await get(on.admin.port, '/explain?authority=reviews&path=/a&random=95&header=cookie:user%3Djason');
  t.equal(r.status, 200);
  const x = JSON.parse(r.body);
  t.equal(x.virtual_host.name, 'reviews');
  t.equal(x.route.name, 'split');
  t.equal(x.pick.value, 95);
  t.same(x.pick.interval, [90, 100]);
  t.equal(x.cluster, V2);
  t.equal(x.endpoints[0].version, 'v2');
  t.same(x.request.headers, [['cookie', 'user=jason']]);
  const txt = await get(on.admin.port, '/explain?authority=reviews&path=/a&random=3&format=text');
  t.match(txt.body, /-> outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local\s+weight 90\s+\[0, 90\)/);
  t.equal((await get(on.admin.port, '/explain?path=/')).status, 400, 'authority required');
});
