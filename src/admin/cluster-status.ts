// What admin /clusters shows (Envoy's `cluster_statuses` / `<cluster>::<host>::<stat>::<value>`),
// as plain data: computed in the process that serves traffic (single process, or each worker under
// --concurrency N, answering the primary over IPC), merged in the primary (each endpoint once,
// counters and gauges summed over workers), then rendered as Envoy's text or JSON.
//
// https://www.envoyproxy.io/docs/envoy/latest/operations/admin#get--clusters

import type { Metrics } from './metrics';

export interface CircuitBreakerStatus {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

export interface HostStatus {
  key: string;
  address: string;
  port: number;
  hostname: string;
  weight: number;
  priority: number;
  healthy: boolean;
  locality: { region: string; zone: string; subZone: string } | null;
  /** Envoy host stats: gauges cx_active, rq_active; counters rq_total, rq_error, rq_success, rq_timeout. */
  cxActive: number;
  rqActive: number;
  rqTotal: number;
  rqError: number;
  rqSuccess: number;
  rqTimeout: number;
}

export interface ClusterStatus {
  name: string;
  circuitBreakers: CircuitBreakerStatus;
  hosts: HostStatus[];
}

/** What is read of the proxy's runtime clusters (admin-server AdminCluster). */
export interface ClusterSource {
  readonly name: string;
  readonly config: { readonly circuitBreakers: CircuitBreakerStatus };
  readonly hosts: readonly {
    readonly key: string;
    readonly address: string;
    readonly port: number;
    readonly hostname: string;
    readonly weight: number;
    readonly priority: number;
    readonly healthy: boolean;
    readonly active: number;
    readonly locality: { region: string; zone: string; subZone: string } | null;
    readonly pool: unknown;
  }[];
}

/** This process's clusters and their host counters. */
export function clusterStatuses(clusters: Iterable<ClusterSource> | null | undefined, metrics: Metrics | null | undefined): ClusterStatus[] {
  const out: ClusterStatus[] = [];
  for (const c of clusters ?? []) {
    const cb = c.config.circuitBreakers;
    out.push({
      name: c.name,
      circuitBreakers: { maxConnections: cb.maxConnections, maxPendingRequests: cb.maxPendingRequests, maxRequests: cb.maxRequests, maxRetries: cb.maxRetries },
      hosts: c.hosts.map((h) => {
        const t = metrics?.hostCounters(c.name, h.key) ?? { rqTotal: 0, rqError: 0, rqSuccess: 0, rqTimeout: 0 };
        const cx = (h.pool as { stats?: { connected?: number } } | null)?.stats?.connected ?? 0;
        return {
          key: h.key,
          address: h.address,
          port: h.port,
          hostname: h.hostname,
          weight: h.weight,
          priority: h.priority,
          healthy: h.healthy,
          locality: h.locality === null ? null : { region: h.locality.region, zone: h.locality.zone, subZone: h.locality.subZone },
          cxActive: cx,
          rqActive: h.active,
          ...t,
        };
      }),
    });
  }
  return out;
}

/**
 * Every worker's statuses as one process's: each cluster and endpoint once (in the order first
 * seen), counters and gauges summed. Configuration (weights, circuit breakers, locality) is the
 * same in every worker; health is the worst any worker reports (workers with their own xDS
 * streams can be a moment apart).
 */
export function mergeClusterStatuses(perWorker: readonly (readonly ClusterStatus[])[]): ClusterStatus[] {
  const clusters = new Map<string, { c: ClusterStatus; hosts: Map<string, HostStatus> }>();
  for (const statuses of perWorker) {
    for (const c of statuses) {
      let m = clusters.get(c.name);
      if (m === undefined) {
        m = { c: { name: c.name, circuitBreakers: { ...c.circuitBreakers }, hosts: [] }, hosts: new Map() };
        clusters.set(c.name, m);
      }
      for (const h of c.hosts) {
        const have = m.hosts.get(h.key);
        if (have === undefined) {
          const copy = { ...h };
          m.hosts.set(h.key, copy);
          m.c.hosts.push(copy);
          continue;
        }
        have.cxActive += h.cxActive;
        have.rqActive += h.rqActive;
        have.rqTotal += h.rqTotal;
        have.rqError += h.rqError;
        have.rqSuccess += h.rqSuccess;
        have.rqTimeout += h.rqTimeout;
        have.healthy = have.healthy && h.healthy;
      }
    }
  }
  return [...clusters.values()].map((m) => m.c);
}

/** Envoy's /clusters text. */
export function clustersText(statuses: readonly ClusterStatus[], addedViaApi: (name: string) => boolean): string {
  let s = '';
  for (const c of statuses) {
    const n = c.name;
    const cb = c.circuitBreakers;
    s += `${n}::observability_name::${n}\n`;
    for (const prio of ['default_priority', 'high_priority']) {
      s += `${n}::${prio}::max_connections::${cb.maxConnections}\n${n}::${prio}::max_pending_requests::${cb.maxPendingRequests}\n`;
      s += `${n}::${prio}::max_requests::${cb.maxRequests}\n${n}::${prio}::max_retries::${cb.maxRetries}\n`;
    }
    s += `${n}::added_via_api::${addedViaApi(n)}\n`;
    for (const h of c.hosts) {
      const k = `${n}::${h.key}`;
      s += `${k}::cx_active::${h.cxActive}\n${k}::rq_active::${h.rqActive}\n${k}::rq_error::${h.rqError}\n${k}::rq_success::${h.rqSuccess}\n`;
      s += `${k}::rq_timeout::${h.rqTimeout}\n${k}::rq_total::${h.rqTotal}\n${k}::hostname::${h.hostname === h.address ? '' : h.hostname}\n`;
      s += `${k}::health_flags::${h.healthy ? 'healthy' : '/failed_eds_health'}\n${k}::weight::${h.weight}\n`;
      s += `${k}::region::${h.locality?.region ?? ''}\n${k}::zone::${h.locality?.zone ?? ''}\n${k}::sub_zone::${h.locality?.subZone ?? ''}\n`;
      s += `${k}::canary::false\n${k}::priority::${h.priority}\n${k}::success_rate::-1\n${k}::local_origin_success_rate::-1\n`;
    }
  }
  return s;
}

/** Envoy's /clusters?format=json (envoy.admin.v3.Clusters). */
export function clustersJson(statuses: readonly ClusterStatus[], addedViaApi: (name: string) => boolean): object {
  return {
    cluster_statuses: statuses.map((c) => ({
      name: c.name,
      observability_name: c.name,
      added_via_api: addedViaApi(c.name),
      host_statuses: c.hosts.map((h) => ({
        address: { socket_address: { address: h.address, port_value: h.port } },
        stats: [
          { name: 'cx_active', type: 'GAUGE', value: String(h.cxActive) },
          { name: 'rq_active', type: 'GAUGE', value: String(h.rqActive) },
          { name: 'rq_error', value: String(h.rqError) },
          { name: 'rq_success', value: String(h.rqSuccess) },
          { name: 'rq_timeout', value: String(h.rqTimeout) },
          { name: 'rq_total', value: String(h.rqTotal) },
        ],
        health_status: { eds_health_status: h.healthy ? 'HEALTHY' : 'UNHEALTHY' },
        weight: h.weight,
        ...(h.hostname !== h.address ? { hostname: h.hostname } : {}),
        ...(h.locality ? { locality: { region: h.locality.region, zone: h.locality.zone, sub_zone: h.locality.subZone } } : {}),
        priority: h.priority,
      })),
    })),
  };
}
