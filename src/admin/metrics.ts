// weir's metrics: Istio's standard metrics (names, labels and buckets of
// https://istio.io/latest/docs/reference/config/metrics/), Envoy's cluster and HTTP connection
// manager statistics under the names Envoy's /stats/prometheus gives them (tag extraction:
// `cluster.<name>.upstream_rq_200` -> `envoy_cluster_upstream_rq{envoy_response_code="200",
// envoy_cluster_name="<name>"}`), weir's own weighted-pick counters, and config/xDS state.
//
// Hot path: `bindSnapshot` runs once per applied snapshot and builds, per listener, lookup maps
// whose values are series objects (metric-family.ts). A finished request costs a few Map lookups
// and `value++`; Istio label sets per (endpoint, response code, flags) are built the first time
// they occur and cached. Counters live across snapshots (the series are keyed by label values).

import type { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { CounterSeries, HistogramSeries, MetricFamily, type Labels } from './metric-family';

export { MetricFamily, CounterSeries, HistogramSeries } from './metric-family';

/** istio_request_duration_milliseconds buckets (Istio's stats plugin defaults). */
export const ISTIO_DURATION_BUCKETS = Object.freeze([0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]);
/** istio_request_bytes / istio_response_bytes buckets: 1, 10, ..., 1e9. */
export const ISTIO_BYTES_BUCKETS = Object.freeze([1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9]);
/** Envoy's default histogram buckets (upstream_rq_time). */
export const ENVOY_HISTOGRAM_BUCKETS = ISTIO_DURATION_BUCKETS;

/** Istio's standard labels, in the order Istio's stats plugin emits them. */
export const ISTIO_LABELS = Object.freeze([
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
  'source_canonical_service',
  'destination_canonical_service',
  'source_canonical_revision',
  'destination_canonical_revision',
] as const);

const UNKNOWN = 'unknown';
const RESPONSE_CODE = ISTIO_LABELS.indexOf('response_code');
const RESPONSE_FLAGS = ISTIO_LABELS.indexOf('response_flags');

// Response flags (src/proxy/response-flags.ts bit order; duplicated as numbers so this module
// does not pull the data path in).
const FLAG_UH = 1 << 1;
const FLAG_UT = 1 << 2;
const FLAG_UF = 1 << 5;
const FLAG_UO = 1 << 7;
const FLAG_NR = 1 << 8;
const FLAG_URX = 1 << 16;
const FLAG_NC = 1 << 25;
const FLAG_NAMES: readonly [number, string][] = [
  [1 << 0, 'LH'], [FLAG_UH, 'UH'], [FLAG_UT, 'UT'], [1 << 3, 'LR'], [1 << 4, 'UR'], [FLAG_UF, 'UF'], [1 << 6, 'UC'], [FLAG_UO, 'UO'],
  [FLAG_NR, 'NR'], [1 << 15, 'DC'], [FLAG_URX, 'URX'], [1 << 17, 'SI'], [1 << 19, 'DPE'], [1 << 24, 'UPE'], [FLAG_NC, 'NC'],
];

function flagsText(flags: number): string {
  if (flags === 0) return '-';
  let s = '';
  for (const [bit, name] of FLAG_NAMES) if ((flags & bit) !== 0) s = s === '' ? name : s + ',' + name;
  return s;
}

/** What the observer reads of a finished request (src/proxy Stream has these fields). */
export interface ObservedStream {
  readonly status: number;
  readonly flags: number;
  readonly durationMs: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly upstreamCluster: string | null;
  readonly upstreamHost: string | null;
  readonly upstreamServiceTimeMs: number;
  readonly retriesDone: number;
  /** The matched route entry (the compiled RouteEntry object), or null. */
  readonly entry: object | null;
}

/** Per-listener observer the data path calls once per finished request. */
export interface ListenerObserver {
  streamDone(s: ObservedStream): void;
}

/** The part of a compiled snapshot the binder reads (src/proxy Snapshot). */
export interface SnapshotView {
  readonly versionInfo: string;
  readonly listeners: readonly {
    readonly name: string;
    readonly hcm: { readonly statPrefix: string; readonly routeConfigName: string | null; readonly routeTable: unknown };
  }[];
}

/** The part of a runtime cluster the binder reads (src/upstream Cluster). */
export interface ClusterView {
  readonly name: string;
  readonly config: { readonly raw: { readonly [k: string]: unknown } };
  readonly hosts: readonly HostView[];
  readonly activeRequests: number;
}

export interface HostView {
  readonly key: string;
  readonly healthy: boolean;
  readonly metadata: { readonly [k: string]: unknown } | null;
  readonly active: number;
  readonly pool: unknown;
}

/** Node identity (bootstrap `node`): source_* labels. */
export interface NodeView {
  readonly id?: string;
  readonly cluster?: string;
  readonly metadata?: { readonly [k: string]: unknown };
}

/** xDS statistics per type URL; the ADS client's `events` 'response' feeds it (attachAdsClient). */
export interface XdsStats {
  onResponse(e: { typeUrl: string; versionInfo: string; accepted: boolean; errors: readonly string[] }): void;
}

// ---------------------------------------------------------------- label helpers

function obj(v: unknown): { [k: string]: unknown } | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as { [k: string]: unknown }) : undefined;
}

function filterMetadata(md: unknown, ns: string): { [k: string]: unknown } | undefined {
  const fm = obj(obj(md)?.filter_metadata ?? obj(md)?.filterMetadata);
  return obj(fm?.[ns]);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** `outbound|9080|v1|reviews.default.svc.cluster.local` -> parts, or null. */
export function parseIstioClusterName(name: string): { direction: string; port: string; subset: string; host: string } | null {
  const p = name.split('|');
  if (p.length !== 4) return null;
  return { direction: p[0] as string, port: p[1] as string, subset: p[2] as string, host: p[3] as string };
}

export interface DestinationLabels {
  workload: string;
  workloadNamespace: string;
  app: string;
  version: string;
  service: string;
  serviceName: string;
  serviceNamespace: string;
  cluster: string;
  canonicalService: string;
  canonicalRevision: string;
}

/**
 * Istio's destination_* labels for a cluster and (optionally) one of its endpoints. The version
 * comes from the endpoint first (Istio's `filter_metadata.istio.labels.version`, the 4th field of
 * istiod's `workload` string `name;namespace;app;version;cluster`, Envoy's `envoy.lb` metadata
 * `version`), then the cluster's subset (cluster metadata `istio.subset` or the subset part of
 * `outbound|port|subset|fqdn`), and is `unknown` only when nothing in the config says.
 */
export function destinationLabels(clusterName: string, clusterRaw: unknown, endpointMetadata: unknown): DestinationLabels {
  const parsed = parseIstioClusterName(clusterName);
  const cmeta = filterMetadata(obj(clusterRaw)?.metadata, 'istio');
  const svc = obj(Array.isArray(cmeta?.services) ? (cmeta?.services as unknown[])[0] : undefined);
  const host = str(svc?.host) ?? (parsed !== null && parsed.host !== '' ? parsed.host : clusterName);
  const dot = host.split('.');
  const serviceName = str(svc?.name) ?? (parsed !== null ? (dot[0] as string) : clusterName);
  const serviceNamespace = str(svc?.namespace) ?? (parsed !== null && dot.length > 1 ? (dot[1] as string) : UNKNOWN);
  const subset = str(cmeta?.subset) ?? (parsed !== null && parsed.subset !== '' ? parsed.subset : undefined);

  const im = filterMetadata(endpointMetadata, 'istio');
  const labels = obj(im?.labels);
  const wl = str(im?.workload)?.split(';') ?? [];
  const lb = filterMetadata(endpointMetadata, 'envoy.lb');
  const version =
    str(labels?.version) ??
    str(wl[3]) ??
    str(lb?.version) ??
    str(labels?.['service.istio.io/canonical-revision']) ??
    subset ??
    UNKNOWN;
  const app = str(labels?.app) ?? str(wl[2]) ?? UNKNOWN;
  return {
    workload: str(wl[0]) ?? UNKNOWN,
    workloadNamespace: str(wl[1]) ?? (im !== undefined ? serviceNamespace : UNKNOWN),
    app,
    version,
    service: host,
    serviceName,
    serviceNamespace,
    cluster: str(wl[4]) ?? UNKNOWN,
    canonicalService: str(labels?.['service.istio.io/canonical-name']) ?? (app !== UNKNOWN ? app : UNKNOWN),
    canonicalRevision: version !== UNKNOWN ? version : 'latest',
  };
}

interface SourceLabels {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  cluster: string;
  canonicalService: string;
  canonicalRevision: string;
}

/** source_* from the bootstrap node's metadata as istiod's sidecar injector sets it. */
export function sourceLabels(node: NodeView | undefined): SourceLabels {
  const md = obj(node?.metadata) ?? {};
  const labels = obj(md.LABELS) ?? {};
  const app = str(labels.app) ?? str(labels['service.istio.io/canonical-name']) ?? UNKNOWN;
  const version = str(labels.version) ?? str(labels['service.istio.io/canonical-revision']) ?? UNKNOWN;
  return {
    workload: str(md.WORKLOAD_NAME) ?? UNKNOWN,
    namespace: str(md.NAMESPACE) ?? UNKNOWN,
    app,
    version,
    cluster: str(md.CLUSTER_ID) ?? UNKNOWN,
    canonicalService: str(labels['service.istio.io/canonical-name']) ?? app,
    canonicalRevision: str(labels['service.istio.io/canonical-revision']) ?? (version !== UNKNOWN ? version : 'latest'),
  };
}

function istioValues(src: SourceLabels, d: DestinationLabels, code: number, flags: number): string[] {
  return [
    'source',
    src.workload,
    src.namespace,
    UNKNOWN,
    src.app,
    src.version,
    src.cluster,
    d.workload,
    d.workloadNamespace,
    UNKNOWN,
    d.app,
    d.version,
    d.service,
    d.serviceName,
    d.serviceNamespace,
    d.cluster,
    'http',
    String(code),
    '',
    flagsText(flags),
    // Istio: "set to unknown when report is from source" (weir reports as the client side).
    UNKNOWN,
    src.canonicalService,
    d.canonicalService,
    src.canonicalRevision,
    d.canonicalRevision,
  ];
}

const UNKNOWN_DESTINATION: DestinationLabels = Object.freeze({
  workload: UNKNOWN,
  workloadNamespace: UNKNOWN,
  app: UNKNOWN,
  version: UNKNOWN,
  service: UNKNOWN,
  serviceName: UNKNOWN,
  serviceNamespace: UNKNOWN,
  cluster: UNKNOWN,
  canonicalService: UNKNOWN,
  canonicalRevision: 'latest',
});

// ---------------------------------------------------------------- bound objects (hot path)

class IstioSet {
  readonly requests: CounterSeries;
  readonly duration: HistogramSeries;
  readonly requestBytes: HistogramSeries;
  readonly responseBytes: HistogramSeries;
  constructor(m: Metrics, values: string[]) {
    this.requests = m.istioRequests.series(values);
    this.duration = m.istioDuration.series(values);
    this.requestBytes = m.istioRequestBytes.series(values);
    this.responseBytes = m.istioResponseBytes.series(values);
  }
}

/** One destination (endpoint, or a cluster without endpoint): Istio series by (code, flags). */
class DestinationBinding {
  readonly labels: DestinationLabels;
  readonly #metrics: Metrics;
  readonly #sets = new Map<number, IstioSet>();
  constructor(metrics: Metrics, labels: DestinationLabels) {
    this.#metrics = metrics;
    this.labels = labels;
  }

  /** Envoy's per-host counters for /clusters, summed over the bound series (slow path). */
  totals(): { rqTotal: number; rqError: number; rqSuccess: number; rqTimeout: number } {
    let rqTotal = 0;
    let rqError = 0;
    let rqTimeout = 0;
    for (const [key, s] of this.#sets) {
      const code = Math.floor(key / 67108864);
      const flags = key % 67108864;
      const n = s.requests.value;
      rqTotal += n;
      if (code >= 500) rqError += n;
      if ((flags & FLAG_UT) !== 0) rqTimeout += n;
    }
    return { rqTotal, rqError, rqSuccess: rqTotal - rqError, rqTimeout };
  }

  set(code: number, flags: number): IstioSet {
    // flags < 2^26, code < 1000: one exact number key.
    const key = code * 67108864 + flags;
    let s = this.#sets.get(key);
    if (s === undefined) {
      s = this.#metrics.istioSetFor(this.labels, code, flags);
      this.#sets.set(key, s);
    }
    return s;
  }
}

/** Envoy cluster stats of one cluster, plus its destinations. */
class ClusterBinding {
  readonly cluster: ClusterView;
  readonly rqTotal: CounterSeries;
  readonly rqXx: CounterSeries[];
  readonly #rqByCode: (CounterSeries | undefined)[] = [];
  readonly retry: CounterSeries;
  readonly timeout: CounterSeries;
  readonly noneHealthy: CounterSeries;
  readonly connectFail: CounterSeries;
  readonly overflow: CounterSeries;
  readonly rqTime: HistogramSeries;
  readonly clusterDestination: DestinationBinding;
  readonly #endpoints = new Map<string, DestinationBinding>();
  readonly #metrics: Metrics;

  constructor(m: Metrics, c: ClusterView) {
    this.#metrics = m;
    this.cluster = c;
    const n = [c.name];
    this.rqTotal = m.envoyRqTotal.series(n);
    this.rqXx = [0, 1, 2, 3, 4, 5].map((k) => m.envoyRqXx.series([String(k), c.name]));
    this.retry = m.envoyRqRetry.series(n);
    this.timeout = m.envoyRqTimeout.series(n);
    this.noneHealthy = m.envoyNoneHealthy.series(n);
    this.connectFail = m.envoyConnectFail.series(n);
    this.overflow = m.envoyPendingOverflow.series(n);
    this.rqTime = m.envoyRqTime.series(n);
    this.clusterDestination = new DestinationBinding(m, destinationLabels(c.name, c.config.raw, null));
    for (const h of c.hosts) this.#endpoints.set(h.key, new DestinationBinding(m, destinationLabels(c.name, c.config.raw, h.metadata)));
  }

  /** The endpoint's binding if requests reached it (slow path, /clusters). */
  peekEndpoint(key: string): DestinationBinding | undefined {
    return this.#endpoints.get(key);
  }

  endpoint(key: string): DestinationBinding {
    let d = this.#endpoints.get(key);
    if (d === undefined) {
      // A host that appeared after binding (DNS re-resolution): bind it once.
      let md: unknown = null;
      for (const h of this.cluster.hosts) if (h.key === key) md = h.metadata;
      d = new DestinationBinding(this.#metrics, destinationLabels(this.cluster.name, this.cluster.config.raw, md));
      this.#endpoints.set(key, d);
    }
    return d;
  }

  rqCode(code: number): CounterSeries {
    let s = this.#rqByCode[code];
    if (s === undefined) {
      s = this.#metrics.envoyRq.series([String(code), this.cluster.name]);
      this.#rqByCode[code] = s;
    }
    return s;
  }
}

/** Picks made per destination of one weighted route. */
class RoutePicks {
  readonly byCluster = new Map<string, CounterSeries>();
}

/** Everything one snapshot binds: clusters by name, shared by its listeners. */
export class SnapshotMetrics {
  readonly versionInfo: string;
  readonly clusters: Map<string, ClusterBinding>;
  readonly unknownDestination: DestinationBinding;
  readonly #metrics: Metrics;
  readonly #listeners = new Map<string, ListenerMetrics>();
  /** weir_route_weight values of this snapshot (republished if a later snapshot is rolled back). */
  readonly weights: { values: string[]; weight: number }[] = [];

  publishWeights(m: Metrics): void {
    m.routeWeight.clear();
    for (const w of this.weights) m.routeWeight.series(w.values).value += w.weight;
  }

  constructor(m: Metrics, snapshot: SnapshotView, clusters: ReadonlyMap<string, ClusterView>) {
    this.#metrics = m;
    this.versionInfo = snapshot.versionInfo;
    this.clusters = new Map();
    for (const [name, c] of clusters) this.clusters.set(name, new ClusterBinding(m, c));
    this.unknownDestination = new DestinationBinding(m, UNKNOWN_DESTINATION);
    for (const l of snapshot.listeners) this.#listeners.set(l.name, new ListenerMetrics(m, this, l.hcm, this.weights));
    this.publishWeights(m);
  }

  /** The observer for a listener of this snapshot (null when it was not in the snapshot). */
  listener(name: string): ListenerMetrics | null {
    return this.#listeners.get(name) ?? null;
  }
}

interface RouteTableLike {
  readonly name?: string;
  readonly virtualHosts?: readonly {
    readonly name: string;
    readonly routes: readonly { readonly name: string; readonly index: number; readonly weightedClusters: readonly { readonly name: string; readonly weight: number; readonly clusterHeader: string }[] | null }[];
  }[];
}

export class ListenerMetrics implements ListenerObserver {
  readonly #snap: SnapshotMetrics;
  readonly rqTotal: CounterSeries;
  readonly rqXx: CounterSeries[];
  readonly noRoute: CounterSeries;
  readonly noCluster: CounterSeries;
  readonly #routes = new Map<object, RoutePicks>();

  constructor(m: Metrics, snap: SnapshotMetrics, hcm: SnapshotView['listeners'][number]['hcm'], weights: { values: string[]; weight: number }[]) {
    this.#snap = snap;
    const p = hcm.statPrefix;
    this.rqTotal = m.envoyDownstreamRqTotal.series([p]);
    this.rqXx = [0, 1, 2, 3, 4, 5].map((k) => m.envoyDownstreamRqXx.series([String(k), p]));
    this.noRoute = m.envoyNoRoute.series([p]);
    this.noCluster = m.envoyNoCluster.series([p]);
    const table = hcm.routeTable as RouteTableLike;
    const rc = hcm.routeConfigName ?? table.name ?? '';
    for (const vh of table.virtualHosts ?? []) {
      for (const r of vh.routes) {
        const wcs = r.weightedClusters;
        if (wcs === null || wcs === undefined) continue;
        const picks = new RoutePicks();
        const route = r.name !== '' ? r.name : `routes[${r.index}]`;
        for (const wc of wcs) {
          if (wc.clusterHeader !== '') continue;
          const values = [rc, vh.name, route, wc.name];
          picks.byCluster.set(wc.name, m.routePicks.series(values));
          weights.push({ values, weight: wc.weight });
        }
        this.#routes.set(r, picks);
      }
    }
  }

  /** Called by the data path once per finished request. Lookups and increments only. */
  streamDone(s: ObservedStream): void {
    const status = s.status;
    const cls = status >= 100 && status < 600 ? (status / 100) | 0 : 0;
    this.rqTotal.value++;
    (this.rqXx[cls] as CounterSeries).value++;
    const flags = s.flags;
    const clusterName = s.upstreamCluster;
    if (s.entry !== null && clusterName !== null) {
      const rp = this.#routes.get(s.entry);
      if (rp !== undefined) {
        const c = rp.byCluster.get(clusterName);
        if (c !== undefined) c.value++;
      }
    }
    let dest: DestinationBinding;
    const cb = clusterName === null ? undefined : this.#snap.clusters.get(clusterName);
    if (cb === undefined) {
      if ((flags & FLAG_NR) !== 0) this.noRoute.value++;
      else if ((flags & FLAG_NC) !== 0) this.noCluster.value++;
      dest = this.#snap.unknownDestination;
    } else {
      const host = s.upstreamHost;
      if (host !== null) {
        // An upstream was contacted: Envoy charges every attempt and the final code (a local 503
        // after a reset, a 504 after a timeout, as the router's chargeUpstreamAbort does).
        cb.rqTotal.value += 1 + s.retriesDone;
        cb.rqCode(status).value++;
        (cb.rqXx[cls] as CounterSeries).value++;
        if (s.upstreamServiceTimeMs >= 0) cb.rqTime.observe(s.upstreamServiceTimeMs);
        dest = cb.endpoint(host);
      } else dest = cb.clusterDestination;
      if (s.retriesDone > 0) cb.retry.value += s.retriesDone;
      if (flags !== 0) {
        if ((flags & FLAG_UT) !== 0) cb.timeout.value++;
        if ((flags & FLAG_UH) !== 0) cb.noneHealthy.value++;
        if ((flags & FLAG_UF) !== 0) cb.connectFail.value++;
        if ((flags & FLAG_UO) !== 0) cb.overflow.value++;
      }
    }
    const set = dest.set(status, flags);
    set.requests.value++;
    set.duration.observe(s.durationMs);
    set.requestBytes.observe(s.bytesReceived);
    set.responseBytes.observe(s.bytesSent);
  }
}

// ---------------------------------------------------------------- the registry

export interface MetricsOptions {
  node?: NodeView;
}

export class Metrics implements XdsStats {
  readonly registry: Registry;
  readonly source: SourceLabels;
  // Istio
  readonly istioRequests: MetricFamily<CounterSeries>;
  readonly istioDuration: MetricFamily<HistogramSeries>;
  readonly istioRequestBytes: MetricFamily<HistogramSeries>;
  readonly istioResponseBytes: MetricFamily<HistogramSeries>;
  // Envoy cluster
  readonly envoyRqTotal: MetricFamily<CounterSeries>;
  readonly envoyRq: MetricFamily<CounterSeries>;
  readonly envoyRqXx: MetricFamily<CounterSeries>;
  readonly envoyRqRetry: MetricFamily<CounterSeries>;
  readonly envoyRqTimeout: MetricFamily<CounterSeries>;
  readonly envoyNoneHealthy: MetricFamily<CounterSeries>;
  readonly envoyConnectFail: MetricFamily<CounterSeries>;
  readonly envoyPendingOverflow: MetricFamily<CounterSeries>;
  readonly envoyRqTime: MetricFamily<HistogramSeries>;
  readonly envoyCxActive: MetricFamily<CounterSeries>;
  readonly envoyRqActive: MetricFamily<CounterSeries>;
  readonly envoyMembershipHealthy: MetricFamily<CounterSeries>;
  readonly envoyMembershipTotal: MetricFamily<CounterSeries>;
  // Envoy HCM
  readonly envoyDownstreamRqTotal: MetricFamily<CounterSeries>;
  readonly envoyDownstreamRqXx: MetricFamily<CounterSeries>;
  readonly envoyNoRoute: MetricFamily<CounterSeries>;
  readonly envoyNoCluster: MetricFamily<CounterSeries>;
  // weir
  readonly routePicks: MetricFamily<CounterSeries>;
  readonly routeWeight: MetricFamily<CounterSeries>;
  readonly configInfo: MetricFamily<CounterSeries>;
  readonly configLastApplied: MetricFamily<CounterSeries>;
  readonly configLastRejected: MetricFamily<CounterSeries>;
  readonly configUpdates: MetricFamily<CounterSeries>;
  readonly xdsUpdates: MetricFamily<CounterSeries>;
  readonly xdsVersion: MetricFamily<CounterSeries>;
  readonly xdsSinceAccepted: MetricFamily<CounterSeries>;
  readonly xdsNacked: MetricFamily<CounterSeries>;
  /** The current snapshot's clusters (scrape-time gauges). */
  #clusters: ReadonlyMap<string, ClusterView> = new Map();
  #current: SnapshotMetrics | null = null;
  #previous: SnapshotMetrics | null = null;
  #previousClusters: ReadonlyMap<string, ClusterView> = new Map();
  #previousConfig: { version: string; appliedAt: number } | null = null;
  readonly #xdsAcceptedAt = new Map<string, number>();
  #configVersion = '';
  #configAppliedAt = 0;
  #configRejected: { version: string; errors: readonly string[]; at: number } | null = null;

  constructor(opts: MetricsOptions = {}) {
    this.source = sourceLabels(opts.node);
    const r = (this.registry = new Registry());
    const C = (name: string, help: string, labels: readonly string[], aggregator: 'sum' | 'max' | 'first' = 'sum'): MetricFamily<CounterSeries> =>
      new MetricFamily<CounterSeries>(name, help, 'counter', labels, { aggregator }).register(r);
    const G = (name: string, help: string, labels: readonly string[], aggregator: 'sum' | 'max' | 'first' = 'sum'): MetricFamily<CounterSeries> =>
      new MetricFamily<CounterSeries>(name, help, 'gauge', labels, { aggregator }).register(r);
    const H = (name: string, help: string, labels: readonly string[], buckets: readonly number[]): MetricFamily<HistogramSeries> =>
      new MetricFamily<HistogramSeries>(name, help, 'histogram', labels, { buckets }).register(r);
    this.istioRequests = C('istio_requests_total', 'Requests handled by the proxy (Istio standard metric).', ISTIO_LABELS);
    this.istioDuration = H('istio_request_duration_milliseconds', 'Request duration in milliseconds (Istio standard metric).', ISTIO_LABELS, ISTIO_DURATION_BUCKETS);
    this.istioRequestBytes = H('istio_request_bytes', 'Request body sizes (Istio standard metric).', ISTIO_LABELS, ISTIO_BYTES_BUCKETS);
    this.istioResponseBytes = H('istio_response_bytes', 'Response body sizes (Istio standard metric).', ISTIO_LABELS, ISTIO_BYTES_BUCKETS);
    const cn = ['envoy_cluster_name'];
    this.envoyRqTotal = C('envoy_cluster_upstream_rq_total', 'cluster.<name>.upstream_rq_total: upstream requests (attempts).', cn);
    this.envoyRq = C('envoy_cluster_upstream_rq', 'cluster.<name>.upstream_rq_<code>: upstream requests by response code.', ['envoy_response_code', 'envoy_cluster_name']);
    this.envoyRqXx = C('envoy_cluster_upstream_rq_xx', 'cluster.<name>.upstream_rq_<N>xx: upstream requests by response code class.', ['envoy_response_code_class', 'envoy_cluster_name']);
    this.envoyRqRetry = C('envoy_cluster_upstream_rq_retry', 'cluster.<name>.upstream_rq_retry: retries.', cn);
    this.envoyRqTimeout = C('envoy_cluster_upstream_rq_timeout', 'cluster.<name>.upstream_rq_timeout: requests that timed out waiting for a response.', cn);
    this.envoyNoneHealthy = C('envoy_cluster_upstream_cx_none_healthy', 'cluster.<name>.upstream_cx_none_healthy: no healthy host (503 UH).', cn);
    this.envoyConnectFail = C('envoy_cluster_upstream_cx_connect_fail', 'cluster.<name>.upstream_cx_connect_fail: connection failures (UF).', cn);
    this.envoyPendingOverflow = C('envoy_cluster_upstream_rq_pending_overflow', 'cluster.<name>.upstream_rq_pending_overflow: circuit breaker overflow (UO).', cn);
    this.envoyRqTime = H('envoy_cluster_upstream_rq_time', 'cluster.<name>.upstream_rq_time: time to upstream response headers (ms).', cn, ENVOY_HISTOGRAM_BUCKETS);
    this.envoyCxActive = G('envoy_cluster_upstream_cx_active', 'cluster.<name>.upstream_cx_active: open upstream connections.', cn);
    this.envoyRqActive = G('envoy_cluster_upstream_rq_active', 'cluster.<name>.upstream_rq_active: upstream requests in flight.', cn);
    this.envoyMembershipHealthy = G('envoy_cluster_membership_healthy', 'cluster.<name>.membership_healthy: healthy hosts.', cn, 'max');
    this.envoyMembershipTotal = G('envoy_cluster_membership_total', 'cluster.<name>.membership_total: hosts.', cn, 'max');
    const hp = ['envoy_http_conn_manager_prefix'];
    this.envoyDownstreamRqTotal = C('envoy_http_downstream_rq_total', 'http.<stat_prefix>.downstream_rq_total: downstream requests.', hp);
    this.envoyDownstreamRqXx = C('envoy_http_downstream_rq_xx', 'http.<stat_prefix>.downstream_rq_<N>xx: downstream responses by class.', ['envoy_response_code_class', 'envoy_http_conn_manager_prefix']);
    this.envoyNoRoute = C('envoy_http_no_route', 'http.<stat_prefix>.no_route: requests with no route (404 NR).', hp);
    this.envoyNoCluster = C('envoy_http_no_cluster', 'http.<stat_prefix>.no_cluster: requests whose cluster does not exist (503 NC).', hp);
    const rl = ['route_config', 'virtual_host', 'route', 'cluster'];
    this.routePicks = C('weir_route_picks_total', 'Requests sent to each destination of a weighted route.', rl);
    this.routeWeight = G('weir_route_weight', 'Configured weight of each destination of a weighted route.', rl, 'max');
    this.configInfo = G('weir_config_info', 'The configuration version serving (value 1).', ['version'], 'max');
    this.configLastApplied = G('weir_config_last_applied_timestamp_seconds', 'When the serving configuration was applied.', [], 'max');
    this.configLastRejected = G('weir_config_last_update_rejected', '1 when the last configuration update was rejected (the previous one keeps serving).', [], 'max');
    this.configUpdates = C('weir_config_updates_total', 'Configuration updates by result (accepted, rejected).', ['result'], 'max');
    this.xdsUpdates = C('weir_xds_updates_total', 'xDS responses by type and result (accepted = ACKed, rejected = NACKed).', ['type_url', 'result'], 'max');
    this.xdsVersion = G('weir_xds_version_info', 'Current accepted version_info per xDS type (value 1).', ['type_url', 'version_info'], 'max');
    this.xdsSinceAccepted = G('weir_xds_seconds_since_last_accepted', 'Seconds since the last accepted response of the type.', ['type_url'], 'max');
    this.xdsNacked = G('weir_xds_last_response_nacked', '1 when the last response of the type was NACKed.', ['type_url'], 'max');

    // Scrape-time gauges.
    this.envoyCxActive.collect = () => this.#collectClusters();
    this.xdsSinceAccepted.collect = () => {
      const now = Date.now();
      for (const [t, at] of this.#xdsAcceptedAt) this.xdsSinceAccepted.series([t]).value = Math.round((now - at) / 100) / 10;
    };
  }

  /** Binds a snapshot's listeners and clusters; the data path stores the result per listener. */
  bindSnapshot(snapshot: SnapshotView, clusters: ReadonlyMap<string, ClusterView>): SnapshotMetrics {
    const b = new SnapshotMetrics(this, snapshot, clusters);
    this.#previous = this.#current;
    this.#previousClusters = this.#clusters === clusters ? this.#previousClusters : this.#clusters;
    this.#clusters = clusters;
    this.#current = b;
    return b;
  }

  /** Per-host counters of the current snapshot (admin /clusters). */
  hostCounters(cluster: string, hostKey: string): { rqTotal: number; rqError: number; rqSuccess: number; rqTimeout: number } {
    const d = this.#current?.clusters.get(cluster)?.peekEndpoint(hostKey);
    return d === undefined ? { rqTotal: 0, rqError: 0, rqSuccess: 0, rqTimeout: 0 } : d.totals();
  }

  istioSetFor(d: DestinationLabels, code: number, flags: number): IstioSet {
    return new IstioSet(this, istioValues(this.source, d, code, flags));
  }

  #collectClusters(): void {
    for (const f of [this.envoyCxActive, this.envoyRqActive, this.envoyMembershipHealthy, this.envoyMembershipTotal]) f.clear();
    for (const c of this.#clusters.values()) {
      let cx = 0;
      let healthy = 0;
      for (const h of c.hosts) {
        const stats = (h.pool as { stats?: { connected?: number } } | null)?.stats;
        if (stats !== undefined && typeof stats.connected === 'number') cx += stats.connected;
        if (h.healthy) healthy++;
      }
      this.envoyCxActive.series([c.name]).value = cx;
      this.envoyRqActive.series([c.name]).value = c.activeRequests;
      this.envoyMembershipHealthy.series([c.name]).value = healthy;
      this.envoyMembershipTotal.series([c.name]).value = c.hosts.length;
    }
  }

  /** A configuration (any source) was applied. */
  configApplied(version: string, at = Date.now()): void {
    this.#previousConfig = { version: this.#configVersion, appliedAt: this.#configAppliedAt };
    this.#configVersion = version;
    this.#configAppliedAt = at;
    this.configInfo.clear();
    this.configInfo.series([version]).value = 1;
    this.configLastApplied.series([]).value = at / 1000;
    this.configLastRejected.series([]).value = 0;
    this.configUpdates.series(['accepted']).value++;
  }

  /** A configuration update was rejected; the previous one keeps serving. */
  configRejected(version: string, errors: readonly string[], at = Date.now()): void {
    // A snapshot can be bound (and reported applied) and then fail to swap in (a listener cannot
    // bind its port): the data path keeps the previous one, and so do the metrics.
    if (this.#current !== null && this.#current.versionInfo === version && this.#previous !== null) {
      this.#current = this.#previous;
      this.#clusters = this.#previousClusters;
      this.#previous = null;
      this.#current.publishWeights(this);
      if (this.#previousConfig !== null && this.#configVersion === version) {
        const p = this.#previousConfig;
        this.#configVersion = p.version;
        this.#configAppliedAt = p.appliedAt;
        this.configInfo.clear();
        this.configInfo.series([p.version]).value = 1;
        this.configLastApplied.series([]).value = p.appliedAt / 1000;
      }
    }
    this.#configRejected = { version, errors, at };
    this.configLastRejected.series([]).value = 1;
    this.configUpdates.series(['rejected']).value++;
  }

  get configState(): { version: string; appliedAt: number; rejected: { version: string; errors: readonly string[]; at: number } | null } {
    const rej = this.#configRejected !== null && this.#configRejected.at >= this.#configAppliedAt ? this.#configRejected : null;
    return { version: this.#configVersion, appliedAt: this.#configAppliedAt, rejected: rej };
  }

  /** XdsStats: one ACKed or NACKed response. */
  onResponse(e: { typeUrl: string; versionInfo: string; accepted: boolean; errors: readonly string[] }): void {
    const t = e.typeUrl;
    this.xdsUpdates.series([t, e.accepted ? 'accepted' : 'rejected']).value++;
    this.xdsNacked.series([t]).value = e.accepted ? 0 : 1;
    if (e.accepted) {
      this.#xdsAcceptedAt.set(t, Date.now());
      for (const s of this.xdsVersion.allSeries()) if (s.labels.type_url === t) s.value = 0;
      this.xdsVersion.series([t, e.versionInfo]).value = 1;
      this.xdsSinceAccepted.series([t]).value = 0;
    }
  }

  /** Prometheus text of this process's registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Wires an AdsClient's `events` ('response') to XdsStats. Returns a detach function. */
export function attachAdsClient(client: { readonly events: EventEmitter }, stats: XdsStats): () => void {
  const f = (e: { typeUrl: string; versionInfo: string; accepted: boolean; errors: readonly string[] }): void => stats.onResponse(e);
  client.events.on('response', f);
  return () => void client.events.off('response', f);
}

export type { Labels };
