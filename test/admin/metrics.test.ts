// Metric families and their binding to a compiled snapshot: Istio's labels (destination_version
// from endpoint metadata, envoy.lb metadata or the subset), Envoy's cluster / HCM stats for each
// response flag, retries and timeouts, weighted picks and weights, config and xDS state; the
// Prometheus text parses. Requests are finished-stream records as the data path hands them over.
import t from 'tap';
import { ProxyServer } from '../../src/proxy/proxy-server';
import type { RouteTable } from '../../src/route/route-table';
import { destinationLabels, ISTIO_DURATION_BUCKETS, ISTIO_LABELS, Metrics, type ObservedStream } from '../../src/admin/metrics';
import { listener, resources, staticCluster } from '../proxy/fixtures';
import { find, parsePrometheus, sum } from './prom-text';

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';
const V3 = 'outbound|9080|v3|reviews.default.svc.cluster.local';

function record(p: Partial<ObservedStream>): ObservedStream {
  return {
    status: 200,
    flags: 0,
    durationMs: 3,
    bytesReceived: 0,
    bytesSent: 12,
    upstreamCluster: null,
    upstreamHost: null,
    upstreamServiceTimeMs: -1,
    retriesDone: 0,
    entry: null,
    ...p,
  };
}

const UH = 1 << 1;
const UT = 1 << 2;
const UF = 1 << 5;
const NR = 1 << 8;
const URX = 1 << 16;
const NC = 1 << 25;

t.test('destination labels: endpoint metadata, envoy.lb, subset, never unknown when the config says', async (t) => {
  const istioEp = { filter_metadata: { istio: { workload: 'reviews-v1;default;reviews;v1;Kubernetes', labels: { app: 'reviews', version: 'v1' } } } };
  const d1 = destinationLabels(V1, { metadata: { filter_metadata: { istio: { services: [{ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }], subset: 'v1' } } } }, istioEp);
  t.match(d1, { version: 'v1', workload: 'reviews-v1', workloadNamespace: 'default', app: 'reviews', service: 'reviews.default.svc.cluster.local', serviceName: 'reviews', serviceNamespace: 'default', cluster: 'Kubernetes' });
  t.equal(destinationLabels('plain', {}, { filter_metadata: { 'envoy.lb': { version: 'canary' } } }).version, 'canary', 'Envoy lb metadata');
  t.equal(destinationLabels(V3, {}, null).version, 'v3', 'subset of outbound|port|subset|fqdn');
  t.equal(destinationLabels(V3, {}, null).serviceName, 'reviews');
  t.equal(destinationLabels('plain', {}, null).version, 'unknown', 'nothing says: unknown');
  t.equal(destinationLabels('plain', {}, null).service, 'plain', 'non-Istio cluster: the cluster name is the service');
});

t.test('every family, label set and flag', async (t) => {
  const proxy = new ProxyServer();
  t.teardown(() => proxy.close());
  const weighted = {
    name: 'split',
    match: { prefix: '/' },
    route: { weighted_clusters: { clusters: [{ name: V1, weight: 90 }, { name: V2, weight: 10 }] } },
  };
  const set = resources(
    [listener('l', { name: 'rc', virtual_hosts: [{ name: 'reviews', domains: ['*'], routes: [weighted] }] })],
    [
      staticCluster(V1, [{ port: 19081, metadata: { filter_metadata: { istio: { labels: { app: 'reviews', version: 'v1' } } } } }]),
      staticCluster(V2, [{ port: 19082, metadata: { filter_metadata: { 'envoy.lb': { version: 'v2-lb' } } } }]),
      staticCluster(V3, [{ port: 19083 }]),
    ],
    { versionInfo: 'v-1' },
  );
  const r = await proxy.apply(set);
  t.same(r.errors, []);
  const snap = proxy.snapshot!;
  const m = new Metrics({ node: { id: 'n', metadata: { WORKLOAD_NAME: 'productpage-v1', NAMESPACE: 'default', LABELS: { app: 'productpage', version: 'v1' }, CLUSTER_ID: 'Kubernetes' } } });
  const bound = m.bindSnapshot(snap, proxy.clusters);
  m.configApplied(snap.versionInfo);
  const l = bound.listener('l')!;
  t.ok(l, 'listener bound');
  t.equal(bound.listener('nope'), null);
  const entry = (snap.listeners[0]!.hcm.routeTable as unknown as RouteTable).virtualHosts[0]!.routes[0]!;

  for (let i = 0; i < 9; i++) l.streamDone(record({ entry, upstreamCluster: V1, upstreamHost: '127.0.0.1:19081', upstreamServiceTimeMs: 2, bytesReceived: 5 }));
  l.streamDone(record({ entry, upstreamCluster: V2, upstreamHost: '127.0.0.1:19082', status: 503, flags: UF, bytesSent: 91 }));
  l.streamDone(record({ entry, upstreamCluster: V2, upstreamHost: '127.0.0.1:19082', status: 504, flags: UT, durationMs: 1500 }));
  l.streamDone(record({ entry, upstreamCluster: V1, upstreamHost: '127.0.0.1:19081', status: 503, flags: UF | URX, retriesDone: 2 }));
  l.streamDone(record({ entry, upstreamCluster: V3, upstreamHost: null, status: 503, flags: UH }));
  l.streamDone(record({ status: 404, flags: NR }));
  l.streamDone(record({ entry, upstreamCluster: 'missing', status: 503, flags: NC }));

  const text = await m.text();
  const { samples, types } = parsePrometheus(text);
  t.equal(types.get('istio_requests_total'), 'counter');
  t.equal(types.get('istio_request_duration_milliseconds'), 'histogram');

  const ok = find(samples, 'istio_requests_total', { response_code: '200' });
  t.equal(ok.length, 1, 'one series for the 200s');
  t.same(Object.keys(ok[0]!.labels), [...ISTIO_LABELS], "Istio's label set, in Istio's order");
  t.match(ok[0]!.labels, {
    reporter: 'source',
    source_workload: 'productpage-v1',
    source_version: 'v1',
    source_app: 'productpage',
    destination_service: 'reviews.default.svc.cluster.local',
    destination_service_name: 'reviews',
    destination_version: 'v1',
    request_protocol: 'http',
    response_flags: '-',
    connection_security_policy: 'unknown',
  });
  t.equal(ok[0]!.value, 9);
  t.equal(sum(samples, 'istio_requests_total', { response_code: '503', response_flags: 'UF', destination_version: 'v2-lb' }), 1, 'UF, version from envoy.lb');
  t.equal(sum(samples, 'istio_requests_total', { response_code: '504', response_flags: 'UT' }), 1, 'UT');
  t.equal(sum(samples, 'istio_requests_total', { response_code: '503', response_flags: 'UF,URX', destination_version: 'v1' }), 1, 'retried then failed');
  t.equal(sum(samples, 'istio_requests_total', { response_code: '503', response_flags: 'UH', destination_version: 'v3' }), 1, 'UH: version from the subset');
  t.equal(sum(samples, 'istio_requests_total', { response_code: '404', response_flags: 'NR', destination_service: 'unknown' }), 1, 'NR');
  t.equal(sum(samples, 'istio_requests_total', { response_code: '503', response_flags: 'NC' }), 1, 'NC');
  t.equal(sum(samples, 'istio_requests_total'), 15);

  // Histograms: buckets cumulative, Istio's bounds, +Inf equals count.
  const b = find(samples, 'istio_request_duration_milliseconds_bucket', { response_code: '504' });
  t.same(b.map((s) => s.labels.le), [...ISTIO_DURATION_BUCKETS.map(String), '+Inf']);
  t.equal(b.find((s) => s.labels.le === '1000')!.value, 0);
  t.equal(b.find((s) => s.labels.le === '2500')!.value, 1, '1500 ms lands in the 2500 bucket');
  t.equal(sum(samples, 'istio_request_duration_milliseconds_count', { response_code: '200' }), 9);
  t.equal(sum(samples, 'istio_request_bytes_sum', { response_code: '200' }), 45);
  t.equal(sum(samples, 'istio_response_bytes_bucket', { response_code: '503', response_flags: 'UF', le: '100' }), 1);
  t.equal(sum(samples, 'istio_response_bytes_bucket', { response_code: '503', response_flags: 'UF', le: '10' }), 0);

  // Envoy cluster stats.
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: V1 }), 9 + 3, 'attempts: 9 + (1 + 2 retries)');
  t.equal(sum(samples, 'envoy_cluster_upstream_rq', { envoy_cluster_name: V1, envoy_response_code: '200' }), 9);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq', { envoy_cluster_name: V2, envoy_response_code: '504' }), 1);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_xx', { envoy_cluster_name: V2, envoy_response_code_class: '5' }), 2);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_retry', { envoy_cluster_name: V1 }), 2);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_timeout', { envoy_cluster_name: V2 }), 1);
  t.equal(sum(samples, 'envoy_cluster_upstream_cx_connect_fail', { envoy_cluster_name: V2 }), 1);
  t.equal(sum(samples, 'envoy_cluster_upstream_cx_none_healthy', { envoy_cluster_name: V3 }), 1);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: V3 }), 0, 'UH: no upstream request');
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_time_count', { envoy_cluster_name: V1 }), 9);
  t.equal(sum(samples, 'envoy_cluster_membership_total', { envoy_cluster_name: V1 }), 1);
  t.equal(types.get('envoy_cluster_upstream_cx_active'), 'gauge');
  // HCM stats.
  const hcm = { envoy_http_conn_manager_prefix: 'ingress_http' };
  t.equal(sum(samples, 'envoy_http_downstream_rq_total', hcm), 15);
  t.equal(sum(samples, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '2' }), 9);
  t.equal(sum(samples, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '4' }), 1);
  t.equal(sum(samples, 'envoy_http_no_route', hcm), 1);
  t.equal(sum(samples, 'envoy_http_no_cluster', hcm), 1);
  // weir.
  const route = { route_config: 'rc', virtual_host: 'reviews', route: 'split' };
  t.equal(sum(samples, 'weir_route_picks_total', { ...route, cluster: V1 }), 10);
  t.equal(sum(samples, 'weir_route_picks_total', { ...route, cluster: V2 }), 2);
  t.equal(sum(samples, 'weir_route_weight', { ...route, cluster: V1 }), 90);
  t.equal(sum(samples, 'weir_route_weight', { ...route, cluster: V2 }), 10);
  t.equal(sum(samples, 'weir_config_info', { version: 'v-1' }), 1);
  t.equal(sum(samples, 'weir_config_last_update_rejected'), 0);

  // Per-host counters for /clusters.
  t.same(m.hostCounters(V1, '127.0.0.1:19081'), { rqTotal: 10, rqError: 1, rqSuccess: 9, rqTimeout: 0 });
  t.same(m.hostCounters(V2, '127.0.0.1:19082'), { rqTotal: 2, rqError: 2, rqSuccess: 0, rqTimeout: 1 });

  // A new snapshot keeps counters and drops the old weights.
  const set2 = { ...set, versionInfo: 'v-2', listeners: [listener('l', { name: 'rc', virtual_hosts: [{ name: 'reviews', domains: ['*'], routes: [{ ...weighted, route: { weighted_clusters: { clusters: [{ name: V1, weight: 50 }, { name: V3, weight: 50 }] } } }] }] })] };
  t.same((await proxy.apply(set2)).errors, []);
  m.bindSnapshot(proxy.snapshot!, proxy.clusters);
  m.configRejected('v-3', ['route_configurations["rc"]: bad']);
  const after = parsePrometheus(await m.text()).samples;
  t.equal(sum(after, 'weir_route_weight', { ...route, cluster: V2 }), 0, 'v2 no longer weighted');
  t.equal(sum(after, 'weir_route_weight', { ...route, cluster: V3 }), 50);
  t.equal(sum(after, 'envoy_cluster_upstream_rq', { envoy_cluster_name: V1, envoy_response_code: '200' }), 9, 'counters survive the swap');
  t.equal(sum(after, 'weir_config_last_update_rejected'), 1);
  t.equal(m.configState.rejected?.version, 'v-3');
});

t.test('xDS stats per type', async (t) => {
  const m = new Metrics();
  const L = 'type.googleapis.com/envoy.config.listener.v3.Listener';
  m.onResponse({ typeUrl: L, versionInfo: '1', accepted: true, errors: [] });
  m.onResponse({ typeUrl: L, versionInfo: '2', accepted: true, errors: [] });
  m.onResponse({ typeUrl: L, versionInfo: '3', accepted: false, errors: ['bad'] });
  const s = parsePrometheus(await m.text()).samples;
  t.equal(sum(s, 'weir_xds_updates_total', { type_url: L, result: 'accepted' }), 2);
  t.equal(sum(s, 'weir_xds_updates_total', { type_url: L, result: 'rejected' }), 1);
  t.equal(sum(s, 'weir_xds_version_info', { type_url: L, version_info: '2' }), 1, 'the accepted version stays current after a NACK');
  t.equal(sum(s, 'weir_xds_version_info', { type_url: L, version_info: '1' }), 0);
  t.equal(sum(s, 'weir_xds_last_response_nacked', { type_url: L }), 1);
  const since = find(s, 'weir_xds_seconds_since_last_accepted', { type_url: L });
  t.equal(since.length, 1);
  t.ok(since[0]!.value >= 0 && since[0]!.value < 5);
});

t.test('attachAdsClient feeds the ADS client response events into the xDS stats', async (t) => {
  const { EventEmitter } = await import('node:events');
  const { attachAdsClient } = await import('../../src/admin/metrics');
  const m = new Metrics();
  const client = { events: new EventEmitter() };
  const C = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
  const detach = attachAdsClient(client, m);
  client.events.emit('response', { typeUrl: C, nonce: '1', versionInfo: 'v7', accepted: true, errors: [] });
  detach();
  client.events.emit('response', { typeUrl: C, nonce: '2', versionInfo: 'v8', accepted: false, errors: ['x'] });
  const s = parsePrometheus(await m.text()).samples;
  t.equal(sum(s, 'weir_xds_version_info', { type_url: C, version_info: 'v7' }), 1);
  t.equal(sum(s, 'weir_xds_updates_total', { type_url: C, result: 'rejected' }), 0, 'detached');
});
