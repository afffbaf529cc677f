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
  [FLAG_NR, 'NR'], [1 << 9, 'DI'], [1 << 10, 'FI'], [1 << 15, 'DC'], [FLAG_URX, 'URX'], [1 << 17, 'SI'], [1 << 19, 'DPE'], [1 << 24, 'UPE'], [FLAG_NC, 'NC'],
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
  /**
   * A request header (`:authority` for the Host), read only for requests that reached no cluster
   * (Istio's host header fallback for destination_service). Optional: the data path's Stream has it.
   */
  requestHeader?(name: string): string | undefined;
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

/**
 * Envoy's per-host counters (admin /clusters `rq_total`, `rq_error`, `rq_success`, `rq_timeout`).
 * Kept per (cluster, host) across snapshots, as Envoy keeps a host's stats while EDS keeps the host;
 * not derived from the Istio series, which two endpoints with the same labels share.
 */
export class HostStats {
  rqTotal = 0;
  rqError = 0;
  rqTimeout = 0;
}

/** One destination (endpoint, or a cluster without endpoint): Istio series by (code, flags). */
class DestinationBinding {
  readonly labels: DestinationLabels;
  /** The endpoint's metadata object it was bound from (reused while the resource object is the same). */
  readonly metadata: unknown;
  /** Per-host counters; null for a destination that is not an endpoint. */
  readonly host: HostStats | null;
  readonly #metrics: Metrics;
  readonly #sets = new Map<number, IstioSet>();
  constructor(metrics: Metrics, labels: DestinationLabels, metadata: unknown, host: HostStats | null) {
    this.#metrics = metrics;
    this.labels = labels;
    this.metadata = metadata;
    this.host = host;
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

/**
 * Envoy cluster stats of one cluster, plus its destinations. A snapshot whose cluster resource is
 * the same object as the previous snapshot's (an RDS or EDS-only update) reuses the binding and
 * rebinds only endpoints whose metadata object changed.
 */
class ClusterBinding {
  /** The latest snapshot's runtime cluster (hosts and their metadata). */
  cluster: ClusterView;
  /** The cluster resource the labels were computed from. */
  readonly raw: unknown;
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
    this.raw = c.config.raw;
    const n = [c.name];
    this.rqTotal = m.envoyRqTotal.series(n);
    this.rqXx = [0, 1, 2, 3, 4, 5].map((k) => m.envoyRqXx.series([String(k), c.name]));
    this.retry = m.envoyRqRetry.series(n);
    this.timeout = m.envoyRqTimeout.series(n);
    this.noneHealthy = m.envoyNoneHealthy.series(n);
    this.connectFail = m.envoyConnectFail.series(n);
    this.overflow = m.envoyPendingOverflow.series(n);
    this.rqTime = m.envoyRqTime.series(n);
    this.clusterDestination = new DestinationBinding(m, destinationLabels(c.name, c.config.raw, null), null, null);
    this.rebind(c);
  }

  /** Points the binding at a snapshot's runtime cluster of the same configuration. Config time. */
  rebind(c: ClusterView): void {
    this.cluster = c;
    const eps = this.#endpoints;
    for (const h of c.hosts) {
      const d = eps.get(h.key);
      if (d === undefined || d.metadata !== h.metadata) eps.set(h.key, this.#bindEndpoint(h.key, h.metadata));
    }
    if (eps.size > c.hosts.length) {
      // Hosts EDS removed (pods come and go): do not keep their bindings forever.
      const live = new Set<string>();
      for (const h of c.hosts) live.add(h.key);
      for (const k of eps.keys()) if (!live.has(k)) eps.delete(k);
    }
  }

  #bindEndpoint(key: string, metadata: unknown): DestinationBinding {
    const c = this.cluster;
    return new DestinationBinding(this.#metrics, destinationLabels(c.name, c.config.raw, metadata), metadata, this.#metrics.hostStatsFor(c.name, key));
  }

  endpoint(key: string): DestinationBinding {
    let d = this.#endpoints.get(key);
    if (d === undefined) {
      // A host that appeared after binding (DNS re-resolution), or one a request of an older
      // snapshot still reached: bind it once.
      let md: unknown = null;
      for (const h of this.cluster.hosts) if (h.key === key) md = h.metadata;
      d = this.#bindEndpoint(key, md);
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

/** weir's `route` label: the route's name, else its place (`routes[3]`). */
function routeLabel(r: { readonly name: string; readonly index: number }): string {
  return r.name !== '' ? r.name : 'routes[' + r.index + ']';
}

/** Picks per destination of one weighted route, and its weir_route_weight series. */
class RouteBinding {
  readonly key: string;
  readonly picks = new Map<string, CounterSeries>();
  /** One per distinct destination cluster, in config order (values set by publishWeights). */
  readonly weightSeries: CounterSeries[] = [];
  readonly #slots = new Map<string, number>();
  readonly #vh: string;
  /** The route's name, or '' for an unnamed route (then #index identifies it, as `routes[i]`). */
  readonly #name: string;
  readonly #index: number;
  /** Destination names in config order (clusterHeader destinations left out), for matches(). */
  readonly #names: string[] = [];
  /** Metrics epoch this binding's weights were last published in. */
  epoch = 0;

  constructor(m: Metrics, key: string, rc: string, vh: string, r: { readonly name: string; readonly index: number }, wcs: readonly WeightedClusterLike[]) {
    this.key = key;
    this.#vh = vh;
    this.#name = r.name;
    this.#index = r.index;
    const route = routeLabel(r);
    for (const wc of wcs) if (wc.clusterHeader === '') this.#names.push(wc.name);
    for (const wc of wcs) {
      if (wc.clusterHeader !== '' || this.#slots.has(wc.name)) continue;
      this.picks.set(wc.name, m.routePicks.series([rc, vh, route, wc.name]));
      this.#slots.set(wc.name, this.weightSeries.length);
      this.weightSeries.push(new CounterSeries({ route_config: rc, virtual_host: vh, route, cluster: wc.name }));
    }
  }

  slot(cluster: string): number {
    return this.#slots.get(cluster) as number;
  }

  /** Same place and destinations as this binding (without building its key). */
  matches(vh: string, r: { readonly name: string; readonly index: number }, wcs: readonly WeightedClusterLike[]): boolean {
    if (vh !== this.#vh || r.name !== this.#name || (r.name === '' && r.index !== this.#index)) return false;
    const names = this.#names;
    let j = 0;
    for (let i = 0; i < wcs.length; i++) {
      const wc = wcs[i] as WeightedClusterLike;
      if (wc.clusterHeader !== '') continue;
      if (j >= names.length || names[j] !== wc.name) return false;
      j++;
    }
    return j === names.length;
  }
}

/** A weighted route of one compiled route table: its binding and the weights this table gives it. */
interface TableRoute {
  readonly binding: RouteBinding;
  readonly weights: readonly number[];
}

/** What one compiled route table binds; reused while the table object is the same (RDS unchanged). */
class TableBinding {
  readonly rc: string;
  /** Route entry object -> picks per destination cluster (the data path's lookup). */
  readonly entries = new Map<object, Map<string, CounterSeries>>();
  readonly routes: TableRoute[] = [];
  constructor(rc: string) {
    this.rc = rc;
  }

  /** Every binding is still the one the registry holds for its key (none was pruned). */
  valid(bindings: ReadonlyMap<string, RouteBinding>): boolean {
    for (const r of this.routes) if (bindings.get(r.binding.key) !== r.binding) return false;
    return true;
  }
}

const KEY_SEP = '\u0001';

/** Everything one snapshot binds: clusters by name, shared by its listeners. */
export class SnapshotMetrics {
  readonly versionInfo: string;
  readonly clusters = new Map<string, ClusterBinding>();
  /** The runtime clusters this snapshot was bound with (restored if a later snapshot is rolled back). */
  readonly views: ReadonlyMap<string, ClusterView>;
  readonly #listeners = new Map<string, ListenerMetrics>();
  /** The distinct route tables of its listeners. */
  readonly tables: TableBinding[] = [];
  /** The route bindings whose weights this snapshot published (weir_route_weight at scrape time). */
  weightBindings: RouteBinding[] = [];
  /** The epoch of the last publishWeights. */
  epoch = 0;

  constructor(m: Metrics, snapshot: SnapshotView, clusters: ReadonlyMap<string, ClusterView>, prev: SnapshotMetrics | null) {
    this.versionInfo = snapshot.versionInfo;
    this.views = clusters;
    for (const [name, c] of clusters) {
      const old = prev?.clusters.get(name);
      if (old !== undefined && old.raw === c.config.raw) {
        old.rebind(c);
        this.clusters.set(name, old);
      } else this.clusters.set(name, new ClusterBinding(m, c));
    }
    for (const l of snapshot.listeners) {
      const tb = m.tableBinding(l.hcm);
      // Listeners sharing a route configuration (RDS by name: each listener compiles its own
      // table of it) publish its weights once, not once per listener.
      if (!this.tables.some((x) => x.rc === tb.rc)) this.tables.push(tb);
      this.#listeners.set(l.name, new ListenerMetrics(m, this, l.hcm.statPrefix, tb.entries));
    }
    this.publishWeights(m);
  }

  /** Sets weir_route_weight to this snapshot's weights (at bind, and when it is restored). */
  publishWeights(m: Metrics): void {
    const epoch = m.nextEpoch();
    this.epoch = epoch;
    const out: RouteBinding[] = [];
    for (const tb of this.tables) {
      for (const r of tb.routes) {
        const b = r.binding;
        const ws = b.weightSeries;
        if (b.epoch !== epoch) {
          b.epoch = epoch;
          for (let i = 0; i < ws.length; i++) (ws[i] as CounterSeries).value = 0;
          out.push(b);
        }
        // Two routes with the same name and destination (or tables sharing a name) add up, as before.
        const w = r.weights;
        for (let i = 0; i < w.length; i++) (ws[i] as CounterSeries).value += w[i] as number;
      }
    }
    this.weightBindings = out;
  }

  /** This snapshot serves again (the next one failed to swap in): its clusters and weights are current. */
  restore(m: Metrics): void {
    for (const [name, c] of this.views) {
      const b = this.clusters.get(name);
      if (b !== undefined && b.cluster !== c) b.rebind(c);
    }
    this.publishWeights(m);
  }

  /** The observer for a listener of this snapshot (null when it was not in the snapshot). */
  listener(name: string): ListenerMetrics | null {
    return this.#listeners.get(name) ?? null;
  }
}

interface WeightedClusterLike {
  readonly name: string;
  readonly weight: number;
  readonly clusterHeader: string;
}

interface RouteTableLike {
  readonly name?: string;
  readonly virtualHosts?: readonly {
    readonly name: string;
    readonly routes: readonly { readonly name: string; readonly index: number; readonly weightedClusters: readonly WeightedClusterLike[] | null }[];
  }[];
}

export class ListenerMetrics implements ListenerObserver {
  readonly #snap: SnapshotMetrics;
  readonly #metrics: Metrics;
  readonly rqTotal: CounterSeries;
  readonly rqXx: CounterSeries[];
  readonly noRoute: CounterSeries;
  readonly noCluster: CounterSeries;
  readonly rqTimeout: CounterSeries;
  readonly upgrades: CounterSeries;
  readonly #routes: ReadonlyMap<object, Map<string, CounterSeries>>;

  constructor(m: Metrics, snap: SnapshotMetrics, statPrefix: string, routes: ReadonlyMap<object, Map<string, CounterSeries>>) {
    this.#snap = snap;
    this.#metrics = m;
    const p = [statPrefix];
    this.rqTotal = m.envoyDownstreamRqTotal.series(p);
    this.rqXx = [0, 1, 2, 3, 4, 5].map((k) => m.envoyDownstreamRqXx.series([String(k), statPrefix]));
    this.noRoute = m.envoyNoRoute.series(p);
    this.noCluster = m.envoyNoCluster.series(p);
    this.rqTimeout = m.envoyDownstreamRqTimeout.series(p);
    this.upgrades = m.envoyDownstreamUpgrades.series(p);
    this.#routes = routes;
  }

  /** Called by the data path once per finished request. Lookups and increments only. */
  streamDone(s: ObservedStream): void {
    const status = s.status;
    const cls = status >= 100 && status < 600 ? (status / 100) | 0 : 0;
    // Envoy's HCM counts every stream it answered, its own 400/431/408 to a request it could not
    // parse or that timed out included (ConnectionManagerImpl: downstream_rq_total,
    // downstream_rq_<N>xx from the response headers encoded).
    this.rqTotal.value++;
    (this.rqXx[cls] as CounterSeries).value++;
    const flags = s.flags;
    const clusterName = s.upstreamCluster;
    if (s.entry !== null && clusterName !== null) {
      const rp = this.#routes.get(s.entry);
      if (rp !== undefined) {
        const c = rp.get(clusterName);
        if (c !== undefined) c.value++;
      }
    }
    let dest: DestinationBinding;
    const cb = clusterName === null ? undefined : this.#snap.clusters.get(clusterName);
    if (cb === undefined) {
      if ((flags & FLAG_NR) !== 0) this.noRoute.value++;
      else if ((flags & FLAG_NC) !== 0) this.noCluster.value++;
      // http.<prefix>.downstream_rq_timeout: the HCM's request (headers) timeout answered 408.
      if (status === 408) this.rqTimeout.value++;
      dest = this.#metrics.noClusterDestination(s);
    } else {
      // A WebSocket (or other) upgrade the upstream accepted: the tunnel ended now, under the
      // cluster that served it (upstream_rq_101) and http.<prefix>.downstream_cx_upgrades_total.
      if (status === 101) this.upgrades.value++;
      const host = s.upstreamHost;
      if (host !== null) {
        // An upstream was contacted: Envoy charges every attempt and the final code (a local 503
        // after a reset, a 504 after a timeout, as the router's chargeUpstreamAbort does).
        cb.rqTotal.value += 1 + s.retriesDone;
        cb.rqCode(status).value++;
        (cb.rqXx[cls] as CounterSeries).value++;
        if (s.upstreamServiceTimeMs >= 0) cb.rqTime.observe(s.upstreamServiceTimeMs);
        dest = cb.endpoint(host);
        const hs = dest.host as HostStats;
        hs.rqTotal++;
        if (status >= 500) hs.rqError++;
        if ((flags & FLAG_UT) !== 0) hs.rqTimeout++;
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
  /**
   * Istio's stats PluginConfig `disable_host_header_fallback` (istiod sets it on gateways): a
   * request that reached no cluster (NR, NC, DPE) reports destination_service="unknown" instead of
   * its Host header.
   */
  disableHostHeaderFallback?: boolean;
}

/**
 * Distinct Host headers bound as destination_service for requests that reached no cluster. Istio
 * has no bound; weir stops at this many (later ones report "unknown") so that a client sending
 * random Host headers cannot grow the registry without limit.
 */
export const MAX_HOST_HEADER_DESTINATIONS = 256;

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
  readonly envoyDownstreamRqTimeout: MetricFamily<CounterSeries>;
  readonly envoyDownstreamUpgrades: MetricFamily<CounterSeries>;
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
  /** Weighted routes by (route config, virtual host, route, destinations): reused across snapshots. */
  readonly #routeBindings = new Map<string, RouteBinding>();
  readonly #tableBindings = new WeakMap<object, TableBinding>();
  /** The last table bound per route config name (its routes are walked by the next one). */
  readonly #lastTables = new Map<string, TableBinding>();
  #epoch = 0;
  /** Per (cluster, host) counters for /clusters, across snapshots. */
  readonly #hostStats = new Map<string, HostStats>();
  readonly #unknownDestination: DestinationBinding;
  readonly #hostDestinations = new Map<string, DestinationBinding>();
  readonly #hostHeaderFallback: boolean;
  #configVersion = '';
  #configAppliedAt = 0;
  #configRejected: { version: string; errors: readonly string[]; at: number } | null = null;

  constructor(opts: MetricsOptions = {}) {
    this.source = sourceLabels(opts.node);
    this.#hostHeaderFallback = opts.disableHostHeaderFallback !== true;
    this.#unknownDestination = new DestinationBinding(this, UNKNOWN_DESTINATION, null, null);
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
    this.envoyDownstreamRqTimeout = C('envoy_http_downstream_rq_timeout', 'http.<stat_prefix>.downstream_rq_timeout: requests closed by the request timeout (408).', hp);
    this.envoyDownstreamUpgrades = C('envoy_http_downstream_cx_upgrades_total', 'http.<stat_prefix>.downstream_cx_upgrades_total: upgraded connections (101, WebSocket).', hp);
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
    // The serving snapshot's weights, whatever binding they live in (no per-update rebuild).
    this.routeWeight.source = () => this.#weightSeries();
    this.xdsSinceAccepted.collect = () => {
      const now = Date.now();
      for (const [t, at] of this.#xdsAcceptedAt) this.xdsSinceAccepted.series([t]).value = Math.round((now - at) / 100) / 10;
    };
  }

  /** Binds a snapshot's listeners and clusters; the data path stores the result per listener. */
  bindSnapshot(snapshot: SnapshotView, clusters: ReadonlyMap<string, ClusterView>): SnapshotMetrics {
    const b = new SnapshotMetrics(this, snapshot, clusters, this.#current);
    this.#previous = this.#current;
    this.#previousClusters = this.#clusters === clusters ? this.#previousClusters : this.#clusters;
    this.#clusters = clusters;
    this.#current = b;
    this.#prune();
    return b;
  }

  /**
   * Drops route bindings and host counters neither the current nor the previous snapshot (kept
   * for a rollback) uses. Counter series stay in their families, as before: a route or host that
   * comes back continues its counts.
   */
  #prune(): void {
    const keep = this.#previous !== null ? Math.min(this.#previous.epoch, this.#current!.epoch) : this.#current!.epoch;
    for (const [k, b] of this.#routeBindings) if (b.epoch < keep) this.#routeBindings.delete(k);
    // A route config no longer served must not keep its last compiled table alive.
    for (const [rc, tb] of this.#lastTables) if (!this.#current!.tables.includes(tb) && !(this.#previous?.tables.includes(tb) ?? false)) this.#lastTables.delete(rc);
    let hosts = 0;
    for (const c of this.#clusters.values()) hosts += c.hosts.length;
    for (const c of this.#previousClusters.values()) hosts += c.hosts.length;
    if (this.#hostStats.size <= 2 * hosts + 256) return;
    const live = new Set<string>();
    for (const m of [this.#clusters, this.#previousClusters]) for (const c of m.values()) for (const h of c.hosts) live.add(c.name + KEY_SEP + h.key);
    for (const k of this.#hostStats.keys()) if (!live.has(k)) this.#hostStats.delete(k);
  }

  /** A new publish epoch (SnapshotMetrics.publishWeights). */
  nextEpoch(): number {
    return ++this.#epoch;
  }

  /** The binding of an HCM's compiled route table: reused while the table object is the same. Config time. */
  tableBinding(hcm: SnapshotView['listeners'][number]['hcm']): TableBinding {
    const t = hcm.routeTable;
    const table: RouteTableLike = typeof t === 'object' && t !== null ? (t as RouteTableLike) : {};
    const rc = hcm.routeConfigName ?? table.name ?? '';
    const cached = table === t ? this.#tableBindings.get(table) : undefined;
    if (cached !== undefined && cached.rc === rc && cached.valid(this.#routeBindings)) return cached;
    const tb = new TableBinding(rc);
    // An RDS update usually keeps the routes and changes weights: walk the last table of this name
    // alongside and reuse its bindings in order while they match, without building keys.
    const prev = this.#lastTables.get(rc);
    const bindings = this.#routeBindings;
    let pi = 0;
    for (const vh of table.virtualHosts ?? []) {
      for (const r of vh.routes) {
        const wcs = r.weightedClusters;
        if (wcs === null || wcs === undefined) continue;
        const pr = prev !== undefined ? prev.routes[pi++] : undefined;
        let b = pr !== undefined && pr.binding.matches(vh.name, r, wcs) && bindings.get(pr.binding.key) === pr.binding ? pr.binding : undefined;
        if (b === undefined) {
          // The identity of a weighted route: where it is and where it sends. Weights are not part
          // of it (they change with every canary step); they are set by publishWeights.
          let key = rc + KEY_SEP + vh.name + KEY_SEP + routeLabel(r);
          for (const wc of wcs) if (wc.clusterHeader === '') key += KEY_SEP + wc.name;
          b = bindings.get(key);
          if (b === undefined) {
            b = new RouteBinding(this, key, rc, vh.name, r, wcs);
            bindings.set(key, b);
          }
        }
        const weights = new Array<number>(b.weightSeries.length).fill(0);
        for (const wc of wcs) {
          if (wc.clusterHeader === '') {
            const i = b.slot(wc.name);
            weights[i] = (weights[i] as number) + wc.weight;
          }
        }
        tb.entries.set(r, b.picks);
        tb.routes.push({ binding: b, weights });
      }
    }
    if (table === t) this.#tableBindings.set(table, tb);
    this.#lastTables.set(rc, tb);
    return tb;
  }

  *#weightSeries(): IterableIterator<CounterSeries> {
    const cur = this.#current;
    if (cur === null) return;
    for (const b of cur.weightBindings) yield* b.weightSeries;
  }

  /** The persistent per-host counters of (cluster, host). Config time. */
  hostStatsFor(cluster: string, hostKey: string): HostStats {
    const k = cluster + KEY_SEP + hostKey;
    let h = this.#hostStats.get(k);
    if (h === undefined) {
      h = new HostStats();
      this.#hostStats.set(k, h);
    }
    return h;
  }

  /**
   * The Istio destination of a request that reached no cluster (no route, unknown cluster, a
   * downstream protocol error): Istio's client-side stats filter reports destination_service and
   * destination_service_name from the Host header when there is one (unless
   * disable_host_header_fallback), every other destination_* label unknown
   * (istio/proxy source/extensions/filters/http/istio_stats populatePeerInfo).
   */
  noClusterDestination(s: ObservedStream): DestinationBinding {
    if (!this.#hostHeaderFallback || s.requestHeader === undefined) return this.#unknownDestination;
    const host = s.requestHeader(':authority');
    if (host === undefined || host === '') return this.#unknownDestination;
    let d = this.#hostDestinations.get(host);
    if (d === undefined) {
      if (this.#hostDestinations.size >= MAX_HOST_HEADER_DESTINATIONS) return this.#unknownDestination;
      d = new DestinationBinding(this, { ...UNKNOWN_DESTINATION, service: host, serviceName: host }, null, null);
      this.#hostDestinations.set(host, d);
    }
    return d;
  }

  /** Per-host counters (admin /clusters): requests that ended at the host, 5xx, timeouts. */
  hostCounters(cluster: string, hostKey: string): { rqTotal: number; rqError: number; rqSuccess: number; rqTimeout: number } {
    const h = this.#hostStats.get(cluster + KEY_SEP + hostKey);
    return h === undefined ? { rqTotal: 0, rqError: 0, rqSuccess: 0, rqTimeout: 0 } : { rqTotal: h.rqTotal, rqError: h.rqError, rqSuccess: h.rqTotal - h.rqError, rqTimeout: h.rqTimeout };
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
      this.#current.restore(this);
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
