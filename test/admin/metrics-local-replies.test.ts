// Streams the proxy finishes without a cluster or with an upgrade, as the data path hands them to
// observer.streamDone (CompletedStream objects built here directly): a downstream protocol error
// (400/431, flag DPE, no route, no cluster), a request timeout (408), no route with a Host header
// (Istio's host header fallback for destination_service), and a finished WebSocket tunnel (101).
// Counted as Envoy's HCM and Istio's stats filter count them.
import t from 'tap';
import type { CompletedStream } from '../../src/proxy/listener-runtime';
import { compileSnapshot } from '../../src/proxy/snapshot';
import type { RouteTable } from '../../src/route/route-table';
import { ISTIO_LABELS, MAX_HOST_HEADER_DESTINATIONS, Metrics, type ClusterView } from '../../src/admin/metrics';
import type { Resource } from '../../src/config/resources';
import { listener, staticCluster } from '../proxy/fixtures';
import { find, parsePrometheus, sum } from './prom-text';

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const DPE = 1 << 19;
const NR = 1 << 8;
const DI = 1 << 9;
const FI = 1 << 10;

function completed(p: Partial<CompletedStream> & { headers?: Record<string, string> }): CompletedStream {
  const headers = p.headers ?? {};
  return {
    startTime: Date.now(),
    durationMs: 0.2,
    protocol: 'HTTP/1.1',
    status: 400,
    flags: 0,
    details: '',
    bytesReceived: 0,
    bytesSent: 11,
    upstreamHost: null,
    upstreamCluster: null,
    upstreamServiceTimeMs: -1,
    routeName: null,
    downstreamRemoteAddress: '127.0.0.1:50000',
    downstreamLocalAddress: '127.0.0.1:10000',
    requestHeader: (name: string) => headers[name],
    responseHeader: () => undefined,
    listenerName: 'l',
    statPrefix: 'ingress_http',
    upstreamMetadata: null,
    retriesDone: 0,
    entry: null,
    ...p,
  };
}

function setup(opts: { disableHostHeaderFallback?: boolean } = {}) {
  const set = {
    listeners: [listener('l', { name: 'rc', virtual_hosts: [{ name: 'reviews', domains: ['*'], routes: [{ name: 'ws', match: { prefix: '/' }, route: { cluster: V1, upgrade_configs: [{ upgrade_type: 'websocket' }] } }] }] }) as Resource],
    routeConfigurations: [],
    clusters: [staticCluster(V1, [{ port: 19081, metadata: { filter_metadata: { istio: { labels: { app: 'reviews', version: 'v1' } } } } }]) as Resource],
    clusterLoadAssignments: [],
    versionInfo: '1',
  };
  const r = compileSnapshot(set);
  if (r.errors) throw new Error(r.errors.join('\n'));
  const views = new Map<string, ClusterView>();
  for (const [name, c] of r.value.clusters) views.set(name, { name, config: c, activeRequests: 0, hosts: c.endpoints.map((e) => ({ key: `${e.address}:${e.port}`, healthy: true, metadata: e.metadata, active: 0, pool: null })) });
  const m = new Metrics({ node: { metadata: { WORKLOAD_NAME: 'gw', NAMESPACE: 'default' } }, ...opts });
  const l = m.bindSnapshot(r.value, views).listener('l')!;
  const entry = (r.value.listeners[0]!.hcm.routeTable as unknown as RouteTable).virtualHosts[0]!.routes[0]!;
  return { m, l, entry };
}

const HCM = { envoy_http_conn_manager_prefix: 'ingress_http' };

t.test('downstream protocol errors: HCM counts them, Istio reports them with no destination', async (t) => {
  const { m, l } = setup();
  l.streamDone(completed({ status: 400, flags: DPE })); // malformed request line: no headers at all
  l.streamDone(completed({ status: 431, flags: DPE })); // headers too large
  l.streamDone(completed({ status: 400, flags: DPE, headers: { ':authority': '' } }));
  const { samples } = parsePrometheus(await m.text());
  t.equal(sum(samples, 'envoy_http_downstream_rq_total', HCM), 3);
  t.equal(sum(samples, 'envoy_http_downstream_rq_xx', { ...HCM, envoy_response_code_class: '4' }), 3);
  t.equal(sum(samples, 'envoy_http_no_route', HCM), 0, 'a protocol error is not "no route"');
  t.equal(sum(samples, 'envoy_http_no_cluster', HCM), 0);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_total'), 0, 'no cluster charged');
  const dpe = find(samples, 'istio_requests_total', { response_code: '400', response_flags: 'DPE' });
  t.equal(dpe.length, 1);
  t.same(Object.keys(dpe[0]!.labels), [...ISTIO_LABELS]);
  t.match(dpe[0]!.labels, {
    reporter: 'source',
    source_workload: 'gw',
    destination_service: 'unknown',
    destination_service_name: 'unknown',
    destination_service_namespace: 'unknown',
    destination_workload: 'unknown',
    destination_version: 'unknown',
    destination_canonical_service: 'unknown',
    destination_canonical_revision: 'latest',
    request_protocol: 'http',
  });
  t.equal(dpe[0]!.value, 2);
  t.equal(sum(samples, 'istio_requests_total', { response_code: '431', response_flags: 'DPE', destination_service: 'unknown' }), 1);
  t.equal(sum(samples, 'istio_request_duration_milliseconds_count', { response_flags: 'DPE' }), 3, 'histograms too');
  t.equal(sum(samples, 'istio_response_bytes_sum', { response_flags: 'DPE' }), 33);
});

t.test('request timeout 408: downstream_rq_timeout', async (t) => {
  const { m, l } = setup();
  l.streamDone(completed({ status: 408, flags: 0, headers: { ':authority': 'reviews:9080' } }));
  const { samples } = parsePrometheus(await m.text());
  t.equal(sum(samples, 'envoy_http_downstream_rq_timeout', HCM), 1);
  t.equal(sum(samples, 'envoy_http_downstream_rq_xx', { ...HCM, envoy_response_code_class: '4' }), 1);
  t.equal(sum(samples, 'istio_requests_total', { response_code: '408', destination_service: 'reviews:9080' }), 1);
});

t.test('no route: destination_service from the Host header (Istio fallback), bounded; off like disable_host_header_fallback', async (t) => {
  const { m, l } = setup();
  l.streamDone(completed({ status: 404, flags: NR, headers: { ':authority': 'ratings:9080' } }));
  l.streamDone(completed({ status: 404, flags: NR, headers: { ':authority': 'ratings:9080' } }));
  l.streamDone(completed({ status: 404, flags: NR }));
  let s = parsePrometheus(await m.text()).samples;
  t.equal(sum(s, 'envoy_http_no_route', HCM), 3);
  const nr = find(s, 'istio_requests_total', { response_code: '404', response_flags: 'NR', destination_service: 'ratings:9080' });
  t.equal(nr.length, 1);
  t.match(nr[0]!.labels, { destination_service_name: 'ratings:9080', destination_workload: 'unknown', destination_version: 'unknown' });
  t.equal(nr[0]!.value, 2);
  t.equal(sum(s, 'istio_requests_total', { response_flags: 'NR', destination_service: 'unknown' }), 1, 'no Host: unknown');
  // Random Host headers cannot grow the registry without bound.
  for (let i = 0; i < MAX_HOST_HEADER_DESTINATIONS + 10; i++) l.streamDone(completed({ status: 404, flags: NR, headers: { ':authority': `h${i}` } }));
  s = parsePrometheus(await m.text()).samples;
  t.equal(find(s, 'istio_requests_total', { response_flags: 'NR' }).length, MAX_HOST_HEADER_DESTINATIONS + 1, 'the cap, plus unknown');
  t.equal(sum(s, 'istio_requests_total', { response_flags: 'NR' }), 3 + MAX_HOST_HEADER_DESTINATIONS + 10, 'every request still counted');

  const off = setup({ disableHostHeaderFallback: true });
  off.l.streamDone(completed({ status: 404, flags: NR, headers: { ':authority': 'ratings:9080' } }));
  t.equal(sum(parsePrometheus(await off.m.text()).samples, 'istio_requests_total', { response_flags: 'NR', destination_service: 'unknown' }), 1);
});

t.test('a finished WebSocket tunnel (101) counts under the cluster that served it', async (t) => {
  const { m, l, entry } = setup();
  l.streamDone(completed({ status: 101, entry, upstreamCluster: V1, upstreamHost: '127.0.0.1:19081', upstreamServiceTimeMs: 2, durationMs: 5000, bytesReceived: 300, bytesSent: 900, headers: { ':authority': 'reviews' } }));
  const { samples } = parsePrometheus(await m.text());
  t.equal(sum(samples, 'envoy_http_downstream_rq_xx', { ...HCM, envoy_response_code_class: '1' }), 1);
  t.equal(sum(samples, 'envoy_http_downstream_cx_upgrades_total', HCM), 1);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq', { envoy_cluster_name: V1, envoy_response_code: '101' }), 1);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_xx', { envoy_cluster_name: V1, envoy_response_code_class: '1' }), 1);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: V1 }), 1);
  t.equal(sum(samples, 'istio_requests_total', { response_code: '101', destination_version: 'v1', destination_service: 'reviews.default.svc.cluster.local' }), 1);
  t.equal(sum(samples, 'istio_request_bytes_sum', { response_code: '101' }), 300);
  t.same(m.hostCounters(V1, '127.0.0.1:19081'), { rqTotal: 1, rqError: 0, rqSuccess: 1, rqTimeout: 0 });
});

t.test('fault injection flags DI and FI are named in response_flags', async (t) => {
  const { m, l, entry } = setup();
  l.streamDone(completed({ status: 503, flags: FI, entry, upstreamCluster: V1 }));
  l.streamDone(completed({ status: 200, flags: DI, entry, upstreamCluster: V1, upstreamHost: '127.0.0.1:19081' }));
  const { samples } = parsePrometheus(await m.text());
  t.equal(sum(samples, 'istio_requests_total', { response_code: '503', response_flags: 'FI' }), 1);
  t.equal(sum(samples, 'istio_requests_total', { response_code: '200', response_flags: 'DI' }), 1);
});
