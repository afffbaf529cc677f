// DestinationRule trafficPolicy -> Envoy Cluster fields, as istiod's cluster builder applies them
// (applyLoadBalancer, applyConnectionPool, applyOutlierDetection). The same function validates a
// policy where it is written (with `report`) and applies a merged policy to a cluster (without).

import { durationField, get, isObj, type Obj, Problems } from './istio-values';
import type { IstioConfig } from './types';
import type { TrafficPolicy } from './destination-rules';

/** istiod's default circuit breaker: everything at uint32 max, remaining tracked. */
export const MAX_UINT32 = 4294967295;

type Report = ((path: string, problem: string) => void) | undefined;

const SIMPLE_LB: { [k: string]: string } = {
  UNSPECIFIED: 'LEAST_REQUEST',
  LEAST_CONN: 'LEAST_REQUEST',
  LEAST_REQUEST: 'LEAST_REQUEST',
  ROUND_ROBIN: 'ROUND_ROBIN',
  RANDOM: 'RANDOM',
  PASSTHROUGH: 'LEAST_REQUEST',
};

/** Validates `tp` at `path` of `cfg`, reporting into `p`. */
export function validateTrafficPolicy(p: Problems, cfg: IstioConfig, path: string, tp: TrafficPolicy): void {
  const scratch: Obj = {};
  applyTrafficPolicy(scratch, tp, (sub, problem) => p.error(cfg, `${path}.${sub}`, problem), (sub, text) => p.note(cfg, `${path}.${sub}`, text));
}

function uint(v: unknown, report: Report, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = isObj(v) && 'value' in v ? v.value : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_UINT32) {
    report?.(path, `must be a non-negative integer, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return n;
}

function duration(v: unknown, report: Report, path: string, minNs = 1e6): string | undefined {
  if (v === undefined || v === null) return undefined;
  const sink = new Problems();
  const d = durationField(sink, 'x', path, v, minNs);
  if (sink.errors.length > 0) report?.(path, (sink.errors[0] as string).replace(/^x: [^:]+: /, ''));
  return d;
}

/** Sets lb_policy, lb configs, circuit_breakers, outlier_detection and connect_timeout on `cluster`. */
export function applyTrafficPolicy(cluster: Obj, tp: TrafficPolicy, report?: Report, note?: Report): void {
  // Load balancer (istiod applyLoadBalancer). Default is LEAST_REQUEST.
  cluster.lb_policy = 'LEAST_REQUEST';
  const lb = tp.loadBalancer;
  if (lb) {
    const simple = lb.simple;
    if (simple !== undefined) {
      const mapped = typeof simple === 'string' ? SIMPLE_LB[simple] : undefined;
      if (!mapped) report?.('loadBalancer.simple', `must be one of ${Object.keys(SIMPLE_LB).join(', ')}, got ${JSON.stringify(simple)}`);
      else cluster.lb_policy = mapped;
      if (simple === 'PASSTHROUGH') note?.('loadBalancer.simple', 'PASSTHROUGH (ORIGINAL_DST) cannot be served by weir; LEAST_REQUEST over the endpoints is used');
    }
    const ch = get(lb, 'consistentHash');
    if (ch !== undefined) {
      if (!isObj(ch)) report?.('loadBalancer.consistentHash', 'must be an object');
      else {
        if (simple !== undefined) report?.('loadBalancer', 'only one of simple or consistentHash may be set');
        const keys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'].filter((k) => get(ch, k) !== undefined);
        if (keys.length !== 1) report?.('loadBalancer.consistentHash', `exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName must be set`);
        const cookie = get(ch, 'httpCookie');
        if (cookie !== undefined && (!isObj(cookie) || typeof cookie.name !== 'string' || cookie.name === '')) {
          report?.('loadBalancer.consistentHash.httpCookie.name', 'is required');
        }
        if (isObj(cookie)) duration(cookie.ttl, report, 'loadBalancer.consistentHash.httpCookie.ttl', 0);
        const maglev = get(ch, 'maglev');
        const ring = get(ch, 'ringHash');
        if (isObj(maglev)) {
          cluster.lb_policy = 'MAGLEV';
          const size = uint(get(maglev, 'tableSize'), report, 'loadBalancer.consistentHash.maglev.tableSize');
          if (size) cluster.maglev_lb_config = { table_size: String(size) };
        } else if (isObj(ring)) {
          cluster.lb_policy = 'RING_HASH';
          const size = uint(get(ring, 'minimumRingSize'), report, 'loadBalancer.consistentHash.ringHash.minimumRingSize');
          if (size) cluster.ring_hash_lb_config = { minimum_ring_size: String(size) };
        } else {
          // istiod ApplyRingHashLoadBalancer: the deprecated top-level minimumRingSize, else Envoy's 1024.
          cluster.lb_policy = 'RING_HASH';
          const size = uint(get(ch, 'minimumRingSize'), report, 'loadBalancer.consistentHash.minimumRingSize');
          cluster.ring_hash_lb_config = { minimum_ring_size: String(size || 1024) };
        }
      }
    }
  }

  // Connection pool (istiod applyConnectionPool): thresholds start at uint32 max.
  const threshold: Obj = {
    max_connections: MAX_UINT32,
    max_pending_requests: MAX_UINT32,
    max_requests: MAX_UINT32,
    max_retries: MAX_UINT32,
    track_remaining: true,
  };
  const cp = tp.connectionPool;
  if (cp) {
    const http = cp.http;
    if (isObj(http)) {
      const maxRequests = uint(get(http, 'http2MaxRequests'), report, 'connectionPool.http.http2MaxRequests');
      if (maxRequests) threshold.max_requests = maxRequests;
      const pending = uint(get(http, 'http1MaxPendingRequests'), report, 'connectionPool.http.http1MaxPendingRequests');
      if (pending) threshold.max_pending_requests = pending;
      const retries = uint(get(http, 'maxRetries'), report, 'connectionPool.http.maxRetries');
      if (retries) threshold.max_retries = retries;
      const common: Obj = {};
      const idle = duration(get(http, 'idleTimeout'), report, 'connectionPool.http.idleTimeout');
      if (idle) common.idle_timeout = idle;
      const perConn = uint(get(http, 'maxRequestsPerConnection'), report, 'connectionPool.http.maxRequestsPerConnection');
      if (perConn) common.max_requests_per_connection = perConn;
      if (Object.keys(common).length > 0) {
        cluster.typed_extension_protocol_options = {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            common_http_protocol_options: common,
            explicit_http_config: { http_protocol_options: {} },
          },
        };
      }
    } else if (http !== undefined) report?.('connectionPool.http', 'must be an object');
    const tcp = cp.tcp;
    if (isObj(tcp)) {
      const maxConn = uint(get(tcp, 'maxConnections'), report, 'connectionPool.tcp.maxConnections');
      if (maxConn) threshold.max_connections = maxConn;
      const ct = duration(get(tcp, 'connectTimeout'), report, 'connectionPool.tcp.connectTimeout');
      if (ct) cluster.connect_timeout = ct;
    } else if (tcp !== undefined) report?.('connectionPool.tcp', 'must be an object');
  }
  cluster.circuit_breakers = { thresholds: [threshold] };

  // Outlier detection (istiod applyOutlierDetection): success-rate ejection off, consecutive errors enforced at 100%.
  const od = tp.outlierDetection;
  if (od) {
    const out: Obj = { enforcing_success_rate: 0 };
    const c5 = uint(get(od, 'consecutive5xxErrors') ?? od['consecutive_5xx_errors'], report, 'outlierDetection.consecutive5xxErrors');
    const legacy = uint(get(od, 'consecutiveErrors'), report, 'outlierDetection.consecutiveErrors');
    const five = c5 ?? legacy;
    if (five !== undefined) {
      out.consecutive_5xx = five;
      out.enforcing_consecutive_5xx = five > 0 ? 100 : 0;
    }
    const gw = uint(get(od, 'consecutiveGatewayErrors'), report, 'outlierDetection.consecutiveGatewayErrors');
    if (gw !== undefined) {
      out.consecutive_gateway_failure = gw;
      out.enforcing_consecutive_gateway_failure = gw > 0 ? 100 : 0;
    }
    const interval = duration(od.interval, report, 'outlierDetection.interval');
    if (interval) out.interval = interval;
    const base = duration(get(od, 'baseEjectionTime'), report, 'outlierDetection.baseEjectionTime');
    if (base) out.base_ejection_time = base;
    const maxPct = uint(get(od, 'maxEjectionPercent'), report, 'outlierDetection.maxEjectionPercent');
    if (maxPct !== undefined && maxPct > 100) report?.('outlierDetection.maxEjectionPercent', 'must be at most 100');
    if (maxPct) out.max_ejection_percent = maxPct;
    if (get(od, 'splitExternalLocalOriginErrors') === true) {
      out.split_external_local_origin_errors = true;
      const local = uint(get(od, 'consecutiveLocalOriginFailures'), report, 'outlierDetection.consecutiveLocalOriginFailures');
      if (local) {
        out.consecutive_local_origin_failure = local;
        out.enforcing_consecutive_local_origin_failure = 100;
      }
      out.enforcing_local_origin_success_rate = 0;
    }
    cluster.outlier_detection = out;
    // istiod disables the panic threshold unless minHealthPercent says otherwise (few pods per service).
    const minHealth = uint(get(od, 'minHealthPercent'), report, 'outlierDetection.minHealthPercent') ?? 0;
    cluster.common_lb_config = { ...(isObj(cluster.common_lb_config) ? cluster.common_lb_config : {}), healthy_panic_threshold: { value: minHealth } };
  }
}
