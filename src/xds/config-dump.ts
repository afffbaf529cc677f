// Envoy's /config_dump (envoy.admin.v3.ConfigDump) for what the ADS client holds, plus the static
// resources and the bootstrap, in proto3 JSON as Envoy prints it. Envoy's order of sections:
// Bootstrap, Clusters, Listeners, Routes, then Endpoints (Envoy adds EDS with ?include_eds).
// Per resource: the version that serves (`active_state` / `dynamic_active_clusters`), the one
// warming (waiting for its routes / endpoints), the last rejected update (`error_state`, the NACK's
// details), and `client_status` (ACKED, NACKED, REQUESTED, DOES_NOT_EXIST).
// Typed extensions weir has no proto for appear as `{ "@type": url }`: that is how "skipped" shows.
import { TYPE_URL, type Resource, type ResourceSet } from '../config/resources';
import type { AdsState, RejectedUpdate, TypeStateView } from './ads-client';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

export interface ConfigDumpOptions {
  /** Static resources from the bootstrap (`static_*` sections). */
  staticSet?: ResourceSet;
  /** The bootstrap as loaded, shown in BootstrapConfigDump. */
  bootstrap?: object;
  /** When the static config was loaded (last_updated of static entries and the bootstrap). */
  loadedAt?: Date;
  includeEds?: boolean;
}

const ts = (d: Date | null | undefined): string | undefined => (d ? d.toISOString() : undefined);

function any(typeUrl: string, r: Resource): Record<string, unknown> {
  return { '@type': typeUrl, ...r };
}

function errorState(rej: RejectedUpdate | null, typeUrl: string, name: string): Record<string, unknown> | undefined {
  if (!rej) return undefined;
  const failed = rej.resources.get(name);
  // A rejected response names the resources it failed for: each gets the details; a resource the
  // response did not carry is not in error.
  if (!failed && rej.resources.size > 0) return undefined;
  return clean({
    failed_configuration: failed ? any(typeUrl, failed) : undefined,
    last_update_attempt: ts(rej.lastUpdateAttempt),
    details: rej.details,
    version_info: rej.versionInfo,
  });
}

/** proto3 JSON omits unset fields and empty lists, as Envoy's dump does. */
function clean(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) delete o[k];
  }
  return o;
}

function status(t: TypeStateView, name: string): string {
  if (t.lastRejected?.resources.has(name)) return 'NACKED';
  if (t.resources.has(name)) return 'ACKED';
  if (t.absent.includes(name)) return 'DOES_NOT_EXIST';
  return 'REQUESTED';
}

export function xdsConfigDump(state: AdsState | null, opts: ConfigDumpOptions = {}): { configs: Record<string, unknown>[] } {
  const configs: Record<string, unknown>[] = [];
  const loaded = ts(opts.loadedAt);
  const stat = opts.staticSet;
  if (opts.bootstrap) configs.push(clean({ '@type': ADMIN + 'BootstrapConfigDump', bootstrap: opts.bootstrap, last_updated: loaded }));
  const T = (u: string): TypeStateView | undefined => state?.perType[u];

  // Clusters.
  const C = T(TYPE_URL.CLUSTER);
  const active: Record<string, unknown>[] = [];
  const warming: Record<string, unknown>[] = [];
  if (C && state) {
    const names = new Set([...C.resources.keys(), ...(C.lastRejected?.resources.keys() ?? [])]);
    for (const name of [...names].sort()) {
      const e = C.resources.get(name);
      const served = state.served.clusters.get(name);
      const entry = (r: Resource, version: string, at: Date | undefined): Record<string, unknown> =>
        clean({
          version_info: version,
          cluster: any(TYPE_URL.CLUSTER, r),
          last_updated: ts(at),
          error_state: errorState(C.lastRejected, TYPE_URL.CLUSTER, name),
          client_status: status(C, name),
        });
      if (served) active.push(entry(served, served === e?.resource ? e.version : C.versionInfo, served === e?.resource ? e.lastUpdated : undefined));
      if (e && e.resource !== served) warming.push(entry(e.resource, e.version, e.lastUpdated));
      if (!e && !served) active.push(clean({ version_info: C.versionInfo, error_state: errorState(C.lastRejected, TYPE_URL.CLUSTER, name), client_status: 'NACKED' }));
    }
  }
  configs.push(
    clean({
      '@type': ADMIN + 'ClustersConfigDump',
      version_info: C?.versionInfo || undefined,
      static_clusters: (stat?.clusters ?? []).map((c) => clean({ cluster: any(TYPE_URL.CLUSTER, c), last_updated: loaded })),
      dynamic_active_clusters: active,
      dynamic_warming_clusters: warming,
    }),
  );

  // Listeners.
  const L = T(TYPE_URL.LISTENER);
  const dyn: Record<string, unknown>[] = [];
  if (L && state) {
    const names = new Set([...L.resources.keys(), ...(L.lastRejected?.resources.keys() ?? [])]);
    for (const name of [...names].sort()) {
      const e = L.resources.get(name);
      const served = state.served.listeners.get(name);
      const st = (r: Resource, version: string, at: Date | undefined): Record<string, unknown> =>
        clean({ version_info: version, listener: any(TYPE_URL.LISTENER, r), last_updated: ts(at) });
      dyn.push(
        clean({
          name,
          active_state: served ? st(served, served === e?.resource ? e.version : L.versionInfo, served === e?.resource ? e.lastUpdated : undefined) : undefined,
          warming_state: e && e.resource !== served ? st(e.resource, e.version, e.lastUpdated) : undefined,
          error_state: errorState(L.lastRejected, TYPE_URL.LISTENER, name),
          client_status: status(L, name),
        }),
      );
    }
  }
  configs.push(
    clean({
      '@type': ADMIN + 'ListenersConfigDump',
      version_info: L?.versionInfo || undefined,
      static_listeners: (stat?.listeners ?? []).map((l) => clean({ listener: any(TYPE_URL.LISTENER, l), last_updated: loaded })),
      dynamic_listeners: dyn,
    }),
  );

  // Routes and endpoints: every subscribed name, with what we hold.
  const named = (typeUrl: string, field: string): Record<string, unknown>[] => {
    const t = T(typeUrl);
    if (!t) return [];
    const names = new Set([...t.subscribed, ...t.resources.keys(), ...(t.lastRejected?.resources.keys() ?? [])]);
    return [...names].sort().map((name) => {
      const e = t.resources.get(name);
      return clean({
        version_info: e?.version ?? t.versionInfo,
        [field]: e ? any(typeUrl, e.resource) : undefined,
        last_updated: ts(e?.lastUpdated),
        error_state: errorState(t.lastRejected, typeUrl, name),
        client_status: status(t, name),
      });
    });
  };
  configs.push(
    clean({
      '@type': ADMIN + 'RoutesConfigDump',
      dynamic_route_configs: named(TYPE_URL.ROUTE_CONFIGURATION, 'route_config'),
    }),
  );
  if (opts.includeEds !== false)
    configs.push(
      clean({
        '@type': ADMIN + 'EndpointsConfigDump',
        static_endpoint_configs: (stat?.clusterLoadAssignments ?? []).map((c) => clean({ endpoint_config: any(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, c), last_updated: loaded })),
        dynamic_endpoint_configs: named(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, 'endpoint_config'),
      }),
    );
  return { configs };
}
