// Wiring of the ADS client to a bootstrap: static and dynamic resources mixed as in Envoy
// (static_resources plus whatever ADS delivers), one validate/apply path for both.
// Envoy: a static listener or cluster cannot be replaced by xDS (ClusterManagerImpl::addOrUpdateCluster
// and ListenerManagerImpl::addOrUpdateListener refuse to update what was not added via API, with a
// log line, without failing the update), so on a name clash the static resource wins and the dynamic
// one is logged, not NACKed.
import type { Resource, ResourceSet } from '../config/resources';
import type { Validated } from '../route/types';
import { field, isObject } from '../util/proto-json';
import { AdsClient, type AdsClientOptions, type Logger } from './ads-client';
import { adsConfigFromBootstrap } from './ads-config';

export interface MergedSet {
  set: ResourceSet;
  /** Dynamic listeners / clusters dropped because a static one has the same name. */
  shadowed: string[];
}

function nameOf(r: Resource, key: string): string {
  const n = field(r, key);
  return typeof n === 'string' ? n : '';
}

function mergeList(stat: readonly Resource[], dyn: readonly Resource[], key: string, kind: string, shadowed: string[]): Resource[] {
  const names = new Set(stat.map((r) => nameOf(r, key)));
  const out = stat.slice();
  for (const r of dyn) {
    if (names.has(nameOf(r, key))) shadowed.push(`${kind} "${nameOf(r, key)}": a static ${kind} has this name; the dynamic one is ignored`);
    else out.push(r);
  }
  return out;
}

/** Static resources first (they win on a name clash), then the dynamic ones. */
export function mergeResourceSets(staticSet: ResourceSet, dynamic: ResourceSet): MergedSet {
  const shadowed: string[] = [];
  const set: ResourceSet = {
    listeners: mergeList(staticSet.listeners, dynamic.listeners, 'name', 'listener', shadowed),
    routeConfigurations: mergeList(staticSet.routeConfigurations, dynamic.routeConfigurations, 'name', 'route configuration', shadowed),
    clusters: mergeList(staticSet.clusters, dynamic.clusters, 'name', 'cluster', shadowed),
    clusterLoadAssignments: mergeList(staticSet.clusterLoadAssignments, dynamic.clusterLoadAssignments, 'cluster_name', 'cluster load assignment', shadowed),
    versionInfo: dynamic.versionInfo,
  };
  return { set, shadowed };
}

/** The envoy.config.core.v3.Node weir sends: the bootstrap's node plus weir's user agent. */
export function xdsNode(node: { id: string; cluster: string; metadata?: object; locality?: object | null }): object {
  const out: Record<string, unknown> = { id: node.id, cluster: node.cluster, user_agent_name: 'weir' };
  if (node.metadata && Object.keys(node.metadata).length) out.metadata = node.metadata;
  if (isObject(node.locality)) {
    const loc: Record<string, unknown> = {};
    for (const k of ['region', 'zone', 'sub_zone']) if (node.locality[k]) loc[k] = node.locality[k];
    if (Object.keys(loc).length) out.locality = loc;
  }
  return out;
}

export interface XdsFromBootstrapOptions {
  /** What config/bootstrap.ts loadBootstrap returns (its resources are the static ones). */
  bootstrap: {
    resources: ResourceSet;
    node: { id: string; cluster: string; metadata?: object; locality?: object | null };
    dynamicResources: unknown;
  };
  /** The snapshot compiler's errors for a whole (static + dynamic) set. */
  compile: (set: ResourceSet) => string[];
  /**
   * Serve a whole (static + dynamic) set; called only with sets `compile` accepted. May resolve to
   * `{ errors }` (ProxyServer.apply: e.g. a port that cannot be bound), which is logged: the
   * update was already ACKed, and the last good snapshot keeps serving.
   */
  apply: (set: ResourceSet) => Promise<{ errors: string[] } | void> | { errors: string[] } | void;
  log?: Logger;
  backoff?: AdsClientOptions['backoff'];
}

/**
 * An AdsClient for the bootstrap's dynamic_resources (not started), or `null` when the bootstrap
 * is static only. validate and apply see static + dynamic resources together, so a dynamic route
 * may point at a static cluster.
 */
export function adsClientFromBootstrap(opts: XdsFromBootstrapOptions): Validated<AdsClient | null> {
  const cfg = adsConfigFromBootstrap(opts.bootstrap.dynamicResources, opts.bootstrap.resources.clusters);
  if (cfg.errors) return { errors: cfg.errors };
  if (!cfg.value) return { value: null };
  const log = opts.log;
  const staticSet = opts.bootstrap.resources;
  const client = new AdsClient({
    target: cfg.value.target,
    apiType: cfg.value.apiType,
    node: xdsNode(opts.bootstrap.node),
    initialFetchTimeoutMs: cfg.value.initialFetchTimeoutMs,
    backoff: opts.backoff,
    log,
    validate: (candidate) => opts.compile(mergeResourceSets(staticSet, candidate).set),
    apply: (set) => {
      const m = mergeResourceSets(staticSet, set);
      for (const s of m.shadowed) log?.warn(`xds: ${s}`);
      return Promise.resolve(opts.apply(m.set)).then((r) => {
        if (r && r.errors.length > 0) log?.warn(`xds: the data path refused config ${m.set.versionInfo}: ${r.errors.join('; ')}`);
      });
    },
  });
  return { value: client };
}
