// "Why did this request go there?": the route table's own trace (RouteTable.explain: the virtual
// host and how it matched, every route tried with each condition's verdict, the weighted pick)
// followed to the cluster and the endpoints it leads to, with their version labels, and the config
// version. Shared by `weir explain` (any config source) and the admin `/explain` endpoint. Slow
// path only: nothing here runs unless asked.

import { ConfigError, UsageError } from '../errors';
import type { Snapshot } from '../proxy/snapshot';
import type { RequestView } from '../route/types';
import type { RouteExplanation, RouteTable } from '../route/route-table';
import { destinationLabels } from './metrics';

export interface ExplainRequest {
  authority: string;
  path: string;
  method?: string;
  scheme?: string;
  /** Header lines as sent, names in any case (one entry per line). */
  headers?: readonly (readonly [string, string])[];
  /** The per-request random value (uint32); a fixed default keeps answers reproducible. */
  random?: number;
}

/** A RequestView built from the attributes a user typed. */
export class ExplainRequestView implements RequestView {
  readonly authority: string;
  readonly path: string;
  readonly method: string;
  readonly scheme: string;
  readonly random: number;
  readonly #headers: Map<string, string[]>;
  constructor(r: ExplainRequest) {
    this.authority = r.authority;
    this.path = r.path;
    this.method = (r.method ?? 'GET').toUpperCase();
    this.scheme = r.scheme ?? 'http';
    this.random = r.random ?? 0;
    this.#headers = new Map();
    for (const [n, v] of r.headers ?? []) {
      const k = n.toLowerCase();
      const list = this.#headers.get(k);
      if (list === undefined) this.#headers.set(k, [v]);
      else list.push(v);
    }
    if (!this.#headers.has('host')) this.#headers.set('host', [r.authority]);
  }
  headerValues(name: string): readonly string[] | undefined {
    return this.#headers.get(name);
  }
}

export interface EndpointInfo {
  address: string;
  healthy: boolean;
  weight: number;
  version: string;
}

/** What the explanation needs of a cluster: its raw config and endpoints. */
export interface ClusterInfo {
  name: string;
  raw: { readonly [k: string]: unknown };
  endpoints: EndpointInfo[];
}

export interface ListenerTable {
  name: string;
  port: number;
  routeConfigName: string | null;
  table: RouteTable;
}

export interface Explanation {
  config_version: string;
  listener: { name: string; port: number; route_config: string | null };
  request: { authority: string; path: string; method: string; random: number; headers: [string, string][] };
  virtual_host: { name: string; matched_by: string; domain: string } | null;
  ssl_redirect: boolean;
  routes_tried: { index: number; name: string; matched: boolean; conditions: { condition: string; pass: boolean; detail: string }[] }[];
  route: { name: string; index: number; kind: string } | null;
  pick: {
    mode: string;
    source: string;
    value: number | null;
    key: string | null;
    bucket: number | null;
    total: number;
    interval: [number, number] | null;
    destinations: { cluster: string; weight: number; interval: [number, number]; picked: boolean }[];
  } | null;
  cluster: string | null;
  cluster_known: boolean;
  endpoints: EndpointInfo[];
  outcome: string;
}

/** Endpoints of a cluster from its config (STATIC / DNS load_assignment, or the EDS assignment). */
export function clusterInfoFromConfig(raw: { readonly [k: string]: unknown }, endpointsRaw: readonly { address: string; port: number; weight: number; healthy: boolean; metadata: unknown }[]): ClusterInfo {
  const name = String(raw.name ?? '');
  return {
    name,
    raw,
    endpoints: endpointsRaw.map((e) => ({
      address: e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`,
      healthy: e.healthy,
      weight: e.weight,
      version: destinationLabels(name, raw, e.metadata).version,
    })),
  };
}

export function explainRequest(
  lt: ListenerTable,
  clusters: ReadonlyMap<string, ClusterInfo>,
  req: ExplainRequest,
  configVersion: string,
): Explanation {
  const view = new ExplainRequestView(req);
  const e: RouteExplanation = lt.table.explain(view);
  const route = e.route;
  let pick: Explanation['pick'] = null;
  if (e.pick !== null && route !== null && route.weightedClusters !== null) {
    let begin = 0;
    const destinations = route.weightedClusters.map((wc, i) => {
      const d = { cluster: wc.clusterHeader !== '' ? `(header ${wc.clusterHeader})` : wc.name, weight: wc.weight, interval: [begin, begin + wc.weight] as [number, number], picked: i === e.pick!.index };
      begin += wc.weight;
      return d;
    });
    pick = {
      mode: e.pick.mode,
      source: e.pick.source,
      value: e.pick.value,
      key: e.pick.key,
      bucket: e.pick.bucket,
      total: e.pick.total,
      interval: e.pick.interval === null ? null : [e.pick.interval.begin, e.pick.interval.end],
      destinations,
    };
  }
  const cluster = e.cluster ?? null;
  const ci = cluster === null ? undefined : clusters.get(cluster);
  let outcome: string;
  if (e.virtualHost === null) outcome = '404 NR: no virtual host matches the authority';
  else if (route === null) outcome = '404 NR: no route of the virtual host matches';
  else if (route.kind === 'redirect') outcome = `${route.redirectCode} redirect`;
  else if (route.kind === 'direct_response') outcome = `${route.directResponse?.status ?? 200} direct response`;
  else if (route.kind !== 'route') outcome = route.kind;
  else if (cluster === null) outcome = '503 NC: no cluster selected';
  else if (ci === undefined) outcome = `503 NC: cluster ${cluster} does not exist`;
  else if (!ci.endpoints.some((x) => x.healthy)) outcome = `503 UH: cluster ${cluster} has no healthy endpoint`;
  else outcome = `forwarded to cluster ${cluster}`;
  const headers: [string, string][] = (req.headers ?? []).map(([n, v]) => [n.toLowerCase(), v]);
  return {
    config_version: configVersion,
    listener: { name: lt.name, port: lt.port, route_config: lt.routeConfigName },
    request: { authority: view.authority, path: view.path, method: view.method, random: view.random, headers },
    virtual_host: e.virtualHost === null ? null : { name: e.virtualHost.name, matched_by: e.virtualHostMatch?.kind ?? 'default', domain: e.virtualHostMatch?.domain ?? '*' },
    ssl_redirect: e.sslRedirect,
    routes_tried: e.routes.map((r) => ({ index: r.index, name: r.name, matched: r.matched, conditions: r.conditions.map((c) => ({ condition: c.condition, pass: c.pass, detail: c.detail })) })),
    route: route === null ? null : { name: route.name, index: route.index, kind: route.kind },
    pick,
    cluster,
    cluster_known: ci !== undefined,
    endpoints: ci?.endpoints ?? [],
    outcome,
  };
}

/** Human-readable form (what `weir explain` prints without --json). */
export function formatExplanation(x: Explanation): string {
  const out: string[] = [];
  out.push(`config version: ${x.config_version}`);
  out.push(`listener: ${x.listener.name}${x.listener.port ? ` (port ${x.listener.port})` : ''}, route config ${x.listener.route_config ?? '(inline)'}`);
  const h = x.request.headers.map(([n, v]) => `${n}: ${v}`).join('; ');
  out.push(`request: ${x.request.method} ${x.request.authority}${x.request.path}${h ? `  [${h}]` : ''}`);
  if (x.virtual_host === null) out.push(`virtual host: none matches authority ${JSON.stringify(x.request.authority)}`);
  else out.push(`virtual host: ${x.virtual_host.name} (${x.virtual_host.matched_by} match on ${JSON.stringify(x.virtual_host.domain)})`);
  if (x.ssl_redirect) out.push('require_tls: request is not TLS -> SSL redirect');
  for (const r of x.routes_tried) {
    out.push(`  route[${r.index}]${r.name ? ` ${r.name}` : ''}: ${r.matched ? 'MATCH' : 'no match'}`);
    for (const c of r.conditions) out.push(`    ${c.pass ? 'pass' : 'FAIL'}  ${c.condition}${c.detail ? `  (${c.detail})` : ''}`);
  }
  if (x.routes_tried.length === 0 && x.virtual_host !== null && !x.ssl_redirect) out.push('  (the virtual host has no routes)');
  if (x.route !== null) out.push(`route: ${x.route.name || `#${x.route.index}`} (${x.route.kind})`);
  if (x.pick !== null) {
    const p = x.pick;
    let how = `${p.mode} pick by ${p.source}`;
    if (p.value !== null) how += `: value ${p.value} -> ${p.value % Math.max(1, p.total)} of ${p.total}`;
    if (p.key !== null) how += `: key ${JSON.stringify(p.key)}`;
    if (p.bucket !== null) how += ` -> bucket ${p.bucket}`;
    out.push(how);
    for (const d of p.destinations) out.push(`    ${d.picked ? '->' : '  '} ${d.cluster}  weight ${d.weight}  [${d.interval[0]}, ${d.interval[1]})`);
    if (p.mode === 'smooth') out.push('    (smooth: the next pick follows the shared schedule; not advanced by explain)');
  }
  if (x.cluster !== null) {
    out.push(`cluster: ${x.cluster}${x.cluster_known ? '' : ' (not in the config)'}`);
    for (const e of x.endpoints) out.push(`    endpoint ${e.address}  version ${e.version}  weight ${e.weight}${e.healthy ? '' : '  (unhealthy)'}`);
  }
  out.push(`outcome: ${x.outcome}`);
  return out.join('\n') + '\n';
}

/** Picks the listener: by name or port when asked, else the authority's port, else one that knows the host. */
export function chooseListener(snap: Snapshot, req: ExplainRequest, which?: string): ListenerTable {
  const all = snap.listeners.map((l) => ({ name: l.name, port: l.port, routeConfigName: l.hcm.routeConfigName, table: l.hcm.routeTable as unknown as RouteTable }));
  if (all.length === 0) throw new ConfigError(['no listener is ready in this configuration' + (snap.warmingListeners.length ? ` (warming: ${snap.warmingListeners.join(', ')})` : '')]);
  if (which !== undefined) {
    const l = all.find((x) => x.name === which || String(x.port) === which);
    if (l === undefined) throw new UsageError(`explain: no listener ${JSON.stringify(which)} (listeners: ${all.map((x) => `${x.name}:${x.port}`).join(', ')})`);
    return l;
  }
  if (all.length === 1) return all[0]!;
  const m = /:(\d+)$/.exec(req.authority);
  if (m) {
    const byPort = all.find((x) => String(x.port) === m[1]);
    if (byPort) return byPort;
  }
  return all.find((x) => x.table.findVirtualHost(req.authority) !== null) ?? all[0]!;
}

/**
 * /explain on a snapshot: the explanation, or why there is none (503 nothing serving yet, 400 a
 * listener that does not exist). Also what a --concurrency worker answers its primary.
 */
export function explainOn(snap: Snapshot | null, r: ExplainRequest, listener: string | undefined): { explanation: Explanation } | { error: string; status: number } {
  if (snap === null) return { error: 'no configuration is serving yet', status: 503 };
  try {
    const lt = chooseListener(snap, r, listener);
    return { explanation: explainRequest(lt, clusterInfos(snap), r, snap.versionInfo) };
  } catch (e) {
    return { error: (e as Error).message, status: 400 };
  }
}

export function clusterInfos(snap: Snapshot): Map<string, ClusterInfo> {
  const out = new Map<string, ClusterInfo>();
  for (const [name, c] of snap.clusters) out.set(name, clusterInfoFromConfig(c.raw, c.endpoints));
  return out;
}


/** Header values must be printable ASCII: anything else becomes '?'. */
function headerSafe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

/**
 * The one-line `x-weir-explain` response header (ProxyServerOptions.explainHeader): virtual host
 * and how it matched, routes tried, the route, the weighted pick and the cluster. The full trace
 * is the admin /explain endpoint's.
 */
export function explainHeaderValue(table: unknown, req: RequestView): string {
  const t = table as Partial<RouteTable>;
  if (typeof t.explain !== 'function') return 'unavailable';
  const e = (table as RouteTable).explain(req);
  const parts: string[] = [];
  parts.push(e.virtualHost === null ? 'vhost=none' : `vhost=${e.virtualHost.name} (${e.virtualHostMatch?.kind ?? 'default'} ${e.virtualHostMatch?.domain ?? '*'})`);
  parts.push(`tried=${e.routes.length}`);
  const failed = e.routes.filter((r) => !r.matched).map((r) => `#${r.index}:${r.conditions.find((c) => !c.pass)?.condition ?? '?'}`);
  if (failed.length > 0) parts.push(`failed=${failed.join(', ')}`);
  if (e.route !== null) parts.push(`route=${e.route.name !== '' ? e.route.name : `#${e.route.index}`}`);
  else parts.push('route=none');
  const p = e.pick;
  if (p !== null) {
    let s = `pick=${p.mode} by ${p.source}`;
    if (p.value !== null) s += ` value=${p.value}`;
    if (p.key !== null) s += ` key=${p.key}`;
    if (p.bucket !== null) s += ` bucket=${p.bucket}`;
    if (p.interval !== null) s += ` [${p.interval.begin},${p.interval.end}) of ${p.total}`;
    parts.push(s);
  }
  if (e.cluster !== undefined) parts.push(`cluster=${e.cluster}`);
  return headerSafe(parts.join('; '));
}
