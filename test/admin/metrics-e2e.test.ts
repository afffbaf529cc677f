// Metrics through real traffic: a ProxyServer with Metrics bound by its onSnapshot hook, upstreams
// that answer, refuse, hang, fail with 503; every response flag (NR, NC, UH, UF, UT), retries
// (URX) and timeouts land in Istio's, Envoy's and weir's series with the right labels; the
// admin's /stats/prometheus serves them and parses.
import t from 'tap';
import { createServer } from 'node:http';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { Metrics } from '../../src/admin/metrics';
import { AdminServer } from '../../src/admin/admin-server';
import { get, keepAliveAgent, listener, resources, staticCluster } from '../proxy/fixtures';
import { startFailing, startSlow, startUpstream } from '../helpers/upstream-servers';
import { parsePrometheus, sum } from './prom-text';

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a !== null ? a.port : 1;
}

const V1 = 'outbound|80|v1|web.default.svc.cluster.local';
const V2 = 'outbound|80|v2|web.default.svc.cluster.local';
const md = (v: string) => ({ filter_metadata: { istio: { labels: { app: 'web', version: v } } } });

t.test('flags, retries and timeouts through the proxy', async (t) => {
  const ok1 = await startUpstream((_q, res) => res.end('one'));
  const ok2 = await startUpstream((_q, res) => res.end('two'));
  const slow = await startSlow(2000);
  const failing = await startFailing(503, 1000);
  t.teardown(() => Promise.all([ok1.close(), ok2.close(), slow.close(), failing.close()]));
  const dead = await deadPort();
  const metrics = new Metrics();
  let random = 0;
  const proxy = new ProxyServer({
    random: () => random,
    accessLogStream: { write: () => true } as unknown as NodeJS.WritableStream,
    onSnapshot: (s, c) => metrics.bindSnapshot(s, c),
  });
  t.teardown(() => proxy.close());
  const sick = staticCluster('sick', [ok1.port]) as { load_assignment: { endpoints: { lb_endpoints: object[] }[] } };
  sick.load_assignment.endpoints[0]!.lb_endpoints[0] = { ...sick.load_assignment.endpoints[0]!.lb_endpoints[0], health_status: 'UNHEALTHY' };
  const rc = {
    name: 'rc',
    virtual_hosts: [
      {
        name: 'web',
        domains: ['web'],
        routes: [
          { name: 'uf', match: { prefix: '/uf' }, route: { cluster: 'dead' } },
          { name: 'ut', match: { prefix: '/ut' }, route: { cluster: 'slow', timeout: '0.1s' } },
          { name: 'uh', match: { prefix: '/uh' }, route: { cluster: 'sick' } },
          { name: 'nc', match: { prefix: '/nc' }, route: { cluster: 'missing' } },
          { name: 'retry', match: { prefix: '/retry' }, route: { cluster: 'failing', retry_policy: { retry_on: '5xx', num_retries: 2, retry_back_off: { base_interval: '0.001s' } } } },
          { name: 'split', match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: V1, weight: 90 }, { name: V2, weight: 10 }] } } },
        ],
      },
    ],
  };
  const r = await proxy.apply(
    resources(
      [listener('l', rc)],
      [
        staticCluster(V1, [{ port: ok1.port, metadata: md('v1') }]),
        staticCluster(V2, [{ port: ok2.port, metadata: md('v2') }]),
        staticCluster('dead', [dead]),
        staticCluster('slow', [slow.port]),
        staticCluster('failing', [failing.port]),
        sick,
      ],
    ),
  );
  t.same(r.errors, []);
  const port = proxy.listeners()[0]!.port;
  const H = { host: 'web' };
  // 10 split requests: random values 0..9 of 100 pick v1 (< 90), 95 picks v2.
  for (let i = 0; i < 9; i++) {
    random = i;
    t.equal((await get(port, '/', H)).body, 'one');
  }
  random = 95;
  t.equal((await get(port, '/', H)).body, 'two');
  t.equal((await get(port, '/uf', H)).status, 503);
  t.equal((await get(port, '/ut', H)).status, 504);
  t.equal((await get(port, '/uh', H)).status, 503);
  t.equal((await get(port, '/nc', H)).status, 503);
  t.equal((await get(port, '/x', { host: 'nobody' })).status, 404);
  t.equal((await get(port, '/retry', H)).status, 503);

  const admin = await AdminServer.start({ address: '127.0.0.1', port: 0, state: () => 'LIVE', proxy, metrics });
  t.teardown(() => admin.close());
  const res = await get(admin.port, '/stats/prometheus');
  const { samples: s } = parsePrometheus(res.body);
  const istio = (labels: Record<string, string>): number => sum(s, 'istio_requests_total', labels);
  t.equal(istio({ destination_version: 'v1', response_code: '200', response_flags: '-' }), 9);
  t.equal(istio({ destination_version: 'v2', response_code: '200', destination_service: 'web.default.svc.cluster.local', destination_service_name: 'web' }), 1);
  t.equal(istio({ destination_service: 'dead', response_code: '503', response_flags: 'UF' }), 1, 'UF');
  t.equal(istio({ destination_service: 'slow', response_code: '504', response_flags: 'UT' }), 1, 'UT');
  t.equal(istio({ destination_service: 'sick', response_code: '503', response_flags: 'UH' }), 1, 'UH');
  t.equal(istio({ response_code: '503', response_flags: 'NC' }), 1, 'NC');
  t.equal(istio({ response_code: '404', response_flags: 'NR' }), 1, 'NR');
  t.equal(istio({ destination_service: 'failing', response_code: '503', response_flags: 'URX' }), 1, 'retries exhausted on a retriable response: URX');
  t.equal(sum(s, 'istio_requests_total'), 16);

  const c = (name: string, cluster: string, extra: Record<string, string> = {}): number => sum(s, name, { envoy_cluster_name: cluster, ...extra });
  t.equal(c('envoy_cluster_upstream_rq_total', V1), 9);
  t.equal(c('envoy_cluster_upstream_rq', V1, { envoy_response_code: '200' }), 9);
  t.equal(c('envoy_cluster_upstream_rq_xx', V2, { envoy_response_code_class: '2' }), 1);
  t.equal(c('envoy_cluster_upstream_cx_connect_fail', 'dead'), 1);
  t.equal(c('envoy_cluster_upstream_rq', 'dead', { envoy_response_code: '503' }), 1, 'a reset is charged as a 503 (chargeUpstreamAbort)');
  t.equal(c('envoy_cluster_upstream_rq_timeout', 'slow'), 1);
  t.equal(c('envoy_cluster_upstream_rq', 'slow', { envoy_response_code: '504' }), 1);
  t.equal(c('envoy_cluster_upstream_cx_none_healthy', 'sick'), 1);
  t.equal(c('envoy_cluster_upstream_rq_retry', 'failing'), 2);
  t.equal(c('envoy_cluster_upstream_rq_total', 'failing'), 3, 'three attempts');
  t.ok(c('envoy_cluster_upstream_cx_active', V1) >= 1, 'keep-alive upstream connection open');
  t.equal(c('envoy_cluster_membership_healthy', 'sick'), 0);
  const hcm = { envoy_http_conn_manager_prefix: 'ingress_http' };
  t.equal(sum(s, 'envoy_http_downstream_rq_total', hcm), 16);
  t.equal(sum(s, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '5' }), 5);
  t.equal(sum(s, 'envoy_http_no_route', hcm), 1);
  t.equal(sum(s, 'envoy_http_no_cluster', hcm), 1);
  t.equal(sum(s, 'weir_route_picks_total', { route: 'split', cluster: V1 }), 9);
  t.equal(sum(s, 'weir_route_picks_total', { route: 'split', cluster: V2 }), 1);
  t.equal(sum(s, 'weir_route_weight', { route: 'split', virtual_host: 'web', route_config: 'rc', cluster: V1 }), 90);

  // /clusters per-host counters come from the same series.
  const clusters = (await get(admin.port, '/clusters')).body;
  t.ok(clusters.split('\n').includes(`${V1}::127.0.0.1:${ok1.port}::rq_total::9`), '/clusters rq_total per host');
  t.ok(clusters.split('\n').includes(`slow::127.0.0.1:${slow.port}::rq_timeout::1`));
  // The live page's JSON: cumulative picks and per-version counts.
  const d = JSON.parse((await get(admin.port, '/weir/data.json')).body);
  const split = d.routes.find((x: { route: string }) => x.route === 'split');
  t.same(split.destinations.map((x: { cluster: string; weight: number; picks: number; version: string }) => [x.version, x.weight, x.picks]), [['v1', 90, 9], ['v2', 10, 1]]);
  t.same(d.versions.find((v: { service: string; version: string }) => v.version === 'v1'), { service: 'web.default.svc.cluster.local', version: 'v1', requests: 9, errors: 0 });
});

t.test('health check fail: proxied responses carry connection: close; ok clears it', async (t) => {
  const ok = await startUpstream((_q, res) => res.end('ok'));
  t.teardown(() => ok.close());
  const proxy = new ProxyServer({ accessLogStream: { write: () => true } as unknown as NodeJS.WritableStream });
  t.teardown(() => proxy.close());
  await proxy.apply(resources([listener('l', { name: 'rc', virtual_hosts: [{ name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'ok' } }] }] })], [staticCluster('ok', [ok.port])]));
  const admin = await AdminServer.start({ address: '127.0.0.1', port: 0, state: () => 'LIVE', proxy });
  t.teardown(() => admin.close());
  const port = proxy.listeners()[0]!.port;
  const agent = keepAliveAgent();
  t.teardown(() => agent.destroy());
  t.equal((await get(port, '/', {}, agent)).headers.connection, 'keep-alive');
  await get(admin.port, '/healthcheck/fail', {}, undefined, 'POST');
  const r = await get(port, '/', {}, agent);
  t.equal(r.status, 200, 'still serving');
  t.equal(r.headers.connection, 'close', 'Envoy drainClose: connection: close while the health check fails');
  await get(admin.port, '/healthcheck/ok', {}, undefined, 'POST');
  t.equal((await get(port, '/', {}, agent)).headers.connection, 'keep-alive');
});

t.test('a snapshot that fails to swap in (port taken) leaves the metrics on the previous one', async (t) => {
  const ok = await startUpstream((_q, res) => res.end('ok'));
  t.teardown(() => ok.close());
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const taken = (blocker.address() as { port: number }).port;
  const metrics = new Metrics();
  const proxy = new ProxyServer({
    accessLogStream: { write: () => true } as unknown as NodeJS.WritableStream,
    onSnapshot: (s, c) => {
      const b = metrics.bindSnapshot(s, c);
      metrics.configApplied(s.versionInfo);
      return b;
    },
    onRejected: (set, errors) => metrics.configRejected(set.versionInfo, errors),
  });
  t.teardown(() => proxy.close());
  const split = (a: number, b: number) => ({ name: 'rc', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ name: 's', match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: a }, { name: 'b', weight: b }] } } }] }] });
  const clusters = [staticCluster('a', [ok.port]), staticCluster('b', [ok.port])];
  t.same((await proxy.apply(resources([listener('l', split(90, 10))], clusters, { versionInfo: 'good' }))).errors, []);
  const bad = await proxy.apply(resources([listener('l', split(50, 50)), listener('l2', split(50, 50), {}, taken)], clusters, { versionInfo: 'taken-port' }));
  t.match(bad.errors.join(), /cannot listen/);
  const s = parsePrometheus(await metrics.text()).samples;
  t.equal(sum(s, 'weir_config_info', { version: 'good' }), 1, 'the serving version is still reported');
  t.equal(sum(s, 'weir_config_info', { version: 'taken-port' }), 0);
  t.equal(sum(s, 'weir_config_last_update_rejected'), 1);
  t.equal(sum(s, 'weir_route_weight', { cluster: 'a' }), 90, "the serving snapshot's weights");
});
