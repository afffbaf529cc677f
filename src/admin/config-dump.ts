// /config_dump: Envoy's envoy.admin.v3.ConfigDump in proto3 JSON. For xDS-fed weir the ADS client's
// state is dumped by src/xds/config-dump.ts; this module adds what Envoy also shows and weir's
// other sources need:
//   - static_route_configs: the inline route_config of each static listener's HCM (Envoy's
//     RouteConfigProviderManager dumps inline route configs as static);
//   - file sources (Istio YAML, reloaded on change): their resources as dynamic_* entries with the
//     source's version_info and last_updated, and the last rejected update as error_state;
//   - `?resource=` and `?mask=` (FieldMask over each config, or each resource) as Envoy's admin.
// Skipped extensions (HTTP filters weir does not implement) stay in the listener exactly as
// configured (`typed_config` with its `@type`), which is where Envoy shows them too; the data
// path's list of skipped filters is in the log and in each listener's HCM.

import { TYPE_URL, type Resource, type ResourceSet } from '../config/resources';
import { xdsConfigDump } from '../xds/config-dump';
import type { AdsState } from '../xds/ads-client';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

export interface ConfigSourceState {
  /** Resources served that came from a dynamic source other than ADS (Istio files). */
  set: ResourceSet;
  version: string;
  lastUpdated: Date;
  /** The last rejected update of that source, if any since the last accepted one. */
  rejected: { version: string; details: string; at: Date } | null;
}

export interface ConfigDumpInput {
  bootstrap?: object;
  staticSet?: ResourceSet;
  loadedAt?: Date;
  ads?: AdsState | null;
  dynamic?: ConfigSourceState | null;
  includeEds?: boolean;
}

type Json = Record<string, unknown>;

function clean(o: Json): Json {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) delete o[k];
  }
  return o;
}

function any(typeUrl: string, r: Resource): Json {
  return { '@type': typeUrl, ...r };
}

function inlineRouteConfigs(listeners: readonly Resource[]): Resource[] {
  const out: Resource[] = [];
  for (const l of listeners) {
    const chains = [...((l.filter_chains as unknown[]) ?? []), ...(l.default_filter_chain ? [l.default_filter_chain] : [])] as Json[];
    for (const c of chains) {
      for (const f of (c.filters as Json[] | undefined) ?? []) {
        const tc = (f.typed_config ?? f.typedConfig) as Json | undefined;
        const rc = (tc?.route_config ?? tc?.routeConfig) as Resource | undefined;
        if (rc) out.push(rc);
      }
    }
  }
  return out;
}

export function buildConfigDump(input: ConfigDumpInput): { configs: Json[] } {
  const loaded = input.loadedAt?.toISOString();
  const dump = xdsConfigDump(input.ads ?? null, {
    ...(input.staticSet ? { staticSet: input.staticSet } : {}),
    ...(input.bootstrap ? { bootstrap: input.bootstrap } : {}),
    ...(input.loadedAt ? { loadedAt: input.loadedAt } : {}),
    includeEds: input.includeEds === true,
  });
  const byType = (s: string): Json | undefined => dump.configs.find((c) => c['@type'] === ADMIN + s);
  const statics = [...(input.staticSet?.listeners ?? [])];
  const routes = byType('RoutesConfigDump');
  if (routes) {
    const inline = inlineRouteConfigs(statics).map((rc) => clean({ route_config: any(TYPE_URL.ROUTE_CONFIGURATION, rc), last_updated: loaded }));
    const rs = (input.staticSet?.routeConfigurations ?? []).map((rc) => clean({ route_config: any(TYPE_URL.ROUTE_CONFIGURATION, rc), last_updated: loaded }));
    routes.static_route_configs = [...inline, ...rs];
    clean(routes);
  }
  const d = input.dynamic;
  if (d) {
    const at = d.lastUpdated.toISOString();
    const err = d.rejected ? clean({ last_update_attempt: d.rejected.at.toISOString(), details: d.rejected.details, version_info: d.rejected.version }) : undefined;
    const ls = byType('ListenersConfigDump');
    if (ls) {
      const dyn = (ls.dynamic_listeners as Json[] | undefined) ?? [];
      for (const l of d.set.listeners) {
        dyn.push(clean({ name: l.name, active_state: { version_info: d.version, listener: any(TYPE_URL.LISTENER, l), last_updated: at }, error_state: err, client_status: err ? 'NACKED' : 'ACKED' }));
      }
      ls.dynamic_listeners = dyn;
      ls.version_info = d.version;
      clean(ls);
    }
    const cs = byType('ClustersConfigDump');
    if (cs) {
      const dyn = (cs.dynamic_active_clusters as Json[] | undefined) ?? [];
      for (const c of d.set.clusters) dyn.push(clean({ version_info: d.version, cluster: any(TYPE_URL.CLUSTER, c), last_updated: at }));
      cs.dynamic_active_clusters = dyn;
      cs.version_info = d.version;
      clean(cs);
    }
    if (routes) {
      // Inline route configs of these listeners are static route configs, as Envoy dumps them.
      const inline = inlineRouteConfigs(d.set.listeners).map((rc) => clean({ route_config: any(TYPE_URL.ROUTE_CONFIGURATION, rc), last_updated: at }));
      routes.static_route_configs = [...((routes.static_route_configs as Json[] | undefined) ?? []), ...inline];
      const dyn = (routes.dynamic_route_configs as Json[] | undefined) ?? [];
      for (const rc of d.set.routeConfigurations) dyn.push(clean({ version_info: d.version, route_config: any(TYPE_URL.ROUTE_CONFIGURATION, rc), last_updated: at, error_state: err, client_status: err ? 'NACKED' : 'ACKED' }));
      routes.dynamic_route_configs = dyn;
      clean(routes);
    }
    const es = byType('EndpointsConfigDump');
    if (es) {
      const dyn = (es.dynamic_endpoint_configs as Json[] | undefined) ?? [];
      for (const e of d.set.clusterLoadAssignments) dyn.push(clean({ version_info: d.version, endpoint_config: any(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, e), last_updated: at }));
      es.dynamic_endpoint_configs = dyn;
      clean(es);
    }
  }
  return dump;
}

/** Envoy's element message of each repeated field `?resource=` may name. */
const RESOURCE_TYPES: Record<string, string> = {
  static_listeners: 'ListenersConfigDump.StaticListener',
  dynamic_listeners: 'ListenersConfigDump.DynamicListener',
  static_clusters: 'ClustersConfigDump.StaticCluster',
  dynamic_active_clusters: 'ClustersConfigDump.DynamicCluster',
  dynamic_warming_clusters: 'ClustersConfigDump.DynamicCluster',
  static_route_configs: 'RoutesConfigDump.StaticRouteConfig',
  dynamic_route_configs: 'RoutesConfigDump.DynamicRouteConfig',
  static_endpoint_configs: 'EndpointsConfigDump.StaticEndpointConfig',
  dynamic_endpoint_configs: 'EndpointsConfigDump.DynamicEndpointConfig',
};

/** FieldMask: keep only the listed paths (`a.b`), keeping `@type`. */
export function applyMask(o: Json, paths: readonly string[]): Json {
  const out: Json = {};
  if ('@type' in o) out['@type'] = o['@type'];
  for (const p of paths) {
    const parts = p.split('.');
    let src: unknown = o;
    for (const k of parts) src = src !== null && typeof src === 'object' ? (src as Json)[k] : undefined;
    if (src === undefined) continue;
    let dst = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const k = parts[i] as string;
      if (typeof dst[k] !== 'object' || dst[k] === null) dst[k] = {};
      dst = dst[k] as Json;
    }
    dst[parts[parts.length - 1] as string] = src;
  }
  return out;
}

/**
 * Envoy's /config_dump query handling: `resource` picks one repeated field across the configs
 * (each element typed as Envoy types it), `mask` is a comma-separated FieldMask applied to each
 * config (or each resource). Returns null for an unknown resource field (Envoy answers 404).
 */
export function selectConfigDump(dump: { configs: Json[] }, resource: string | null, mask: string | null): { configs: Json[] } | null {
  const paths = mask === null || mask === '' ? null : mask.split(',').map((s) => s.trim()).filter(Boolean);
  if (resource === null || resource === '') {
    return { configs: paths === null ? dump.configs : dump.configs.map((c) => applyMask(c, paths)) };
  }
  const type = RESOURCE_TYPES[resource];
  if (type === undefined) return null;
  const out: Json[] = [];
  for (const c of dump.configs) {
    const list = c[resource];
    if (!Array.isArray(list)) continue;
    for (const e of list as Json[]) {
      const typed = { '@type': ADMIN + type, ...e };
      out.push(paths === null ? typed : applyMask(typed, paths));
    }
  }
  return { configs: out };
}
