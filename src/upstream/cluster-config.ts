// Cluster validation and compilation (Envoy `envoy.config.cluster.v3.Cluster`). Pure: no sockets,
// no DNS. The runtime `Cluster` (cluster.ts) turns a ClusterConfig into hosts, pools and a load
// balancer. Errors are prefixed with the field path under the cluster.

import { isIP } from 'node:net';
import type { Validated } from '../route/types';
import type { Resource } from '../config/resources';
import { field, isObject, parseBool, parseDuration, parseUint, anyType } from '../util/proto-json';
import type { LbOptions, LbPolicy } from './load-balancer';
import { DEFAULT_LB_OPTIONS } from './load-balancer';
import type { Locality } from './host';

export type DiscoveryType = 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'EDS';

export interface EndpointConfig {
  /** An IP address, or a DNS name for STRICT_DNS / LOGICAL_DNS. */
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly priority: number;
  readonly locality: Locality | null;
  readonly localityWeight: number;
  readonly metadata: { readonly [k: string]: unknown } | null;
  readonly healthy: boolean;
}

export interface CircuitBreakers {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

/** Envoy's defaults for the DEFAULT priority thresholds. */
export const DEFAULT_CIRCUIT_BREAKERS: CircuitBreakers = Object.freeze({
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  maxRetries: 3,
});

export interface ClusterConfig {
  readonly name: string;
  readonly type: DiscoveryType;
  readonly lbPolicy: LbPolicy;
  readonly lbOptions: LbOptions;
  /** common_lb_config.locality_weighted_lb_config: pick a locality by weight first (not for hash policies). */
  readonly localityWeighted: boolean;
  readonly endpoints: readonly EndpointConfig[];
  readonly connectTimeoutMs: number;
  readonly dnsRefreshRateMs: number;
  /** 4, 6, or 0 (either; node:dns order). */
  readonly dnsFamily: 0 | 4 | 6;
  readonly circuitBreakers: CircuitBreakers;
  /** Upstream connection idle timeout (common_http_protocol_options.idle_timeout; Envoy default 1 h). */
  readonly idleTimeoutMs: number;
  /** EDS: the ClusterLoadAssignment this cluster takes its endpoints from. */
  readonly edsServiceName: string | null;
  /** EDS cluster whose assignment has not arrived: it serves 503 UH until it does. */
  readonly warming: boolean;
  /** The resource as given, for config_dump. */
  readonly raw: Resource;
}

const HEALTHY_STATUSES = new Set(['UNKNOWN', 'HEALTHY', 'DEGRADED', 0, 1, 5]);
const LB_POLICIES = new Set<string>(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV']);
const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

function durationField(obj: unknown, name: string, path: string, dflt: number, errors: string[]): number {
  const v = field(obj, name);
  if (v === undefined || v === null) return dflt;
  const d = parseDuration(v);
  if ('error' in d) {
    errors.push(`${path === '' ? '' : path + '.'}${name}: ${d.error}`);
    return dflt;
  }
  return d.ms;
}

function uintField(obj: unknown, name: string, path: string, dflt: number, errors: string[]): number {
  const v = field(obj, name);
  if (v === undefined || v === null) return dflt;
  const n = parseUint(v);
  if (n === undefined) {
    errors.push(`${path === '' ? '' : path + '.'}${name}: expected an unsigned integer, got ${JSON.stringify(v)}`);
    return dflt;
  }
  return n;
}

function enumField(obj: unknown, name: string): string | undefined {
  const v = field(obj, name);
  return typeof v === 'string' ? v : undefined;
}

/**
 * Endpoints of a ClusterLoadAssignment (inline `load_assignment` or an EDS resource).
 * `path` is where `cla` sits, e.g. `load_assignment`.
 */
export function compileLoadAssignment(
  cla: unknown,
  path: string,
  needIp: boolean,
  errors: string[],
): EndpointConfig[] {
  const out: EndpointConfig[] = [];
  if (cla === undefined || cla === null) return out;
  if (!isObject(cla)) {
    errors.push(`${path}: expected an object`);
    return out;
  }
  const localities = field(cla, 'endpoints') ?? [];
  if (!Array.isArray(localities)) {
    errors.push(`${path}.endpoints: expected a list`);
    return out;
  }
  localities.forEach((le: unknown, li: number) => {
    const lpath = `${path}.endpoints[${li}]`;
    if (!isObject(le)) {
      errors.push(`${lpath}: expected an object`);
      return;
    }
    const priority = uintField(le, 'priority', lpath, 0, errors);
    const localityWeight = uintField(le, 'load_balancing_weight', lpath, 1, errors);
    const loc = field(le, 'locality');
    const locality: Locality | null = isObject(loc)
      ? {
          region: String(field(loc, 'region') ?? ''),
          zone: String(field(loc, 'zone') ?? ''),
          subZone: String(field(loc, 'sub_zone') ?? ''),
        }
      : null;
    const lbEndpoints = field(le, 'lb_endpoints') ?? [];
    if (!Array.isArray(lbEndpoints)) {
      errors.push(`${lpath}.lb_endpoints: expected a list`);
      return;
    }
    lbEndpoints.forEach((lbe: unknown, ei: number) => {
      const epath = `${lpath}.lb_endpoints[${ei}]`;
      if (!isObject(lbe)) {
        errors.push(`${epath}: expected an object`);
        return;
      }
      const ep = field(lbe, 'endpoint');
      const sa = field(field(ep, 'address'), 'socket_address');
      if (!isObject(sa)) {
        errors.push(`${epath}.endpoint.address.socket_address: required`);
        return;
      }
      const address = field(sa, 'address');
      if (typeof address !== 'string' || address === '') {
        errors.push(`${epath}.endpoint.address.socket_address.address: required`);
        return;
      }
      if (needIp && isIP(address) === 0) {
        errors.push(`${epath}.endpoint.address.socket_address.address: "${address}" is not an IP address (STATIC and EDS clusters need IPs; use STRICT_DNS for names)`);
        return;
      }
      const port = parseUint(field(sa, 'port_value'));
      if (port === undefined || port > 65535 || port === 0) {
        errors.push(`${epath}.endpoint.address.socket_address.port_value: expected a port 1..65535`);
        return;
      }
      const weight = uintField(lbe, 'load_balancing_weight', epath, 1, errors);
      if (weight === 0) {
        errors.push(`${epath}.load_balancing_weight: must be at least 1`);
        return;
      }
      const hs = field(lbe, 'health_status') ?? 'UNKNOWN';
      const md = field(lbe, 'metadata');
      out.push({
        address,
        port,
        weight,
        priority,
        locality,
        localityWeight,
        metadata: isObject(md) ? md : null,
        healthy: HEALTHY_STATUSES.has(hs as string),
      });
    });
  });
  return out;
}

/** Validates and compiles one Cluster. `assignments` maps EDS service names to ClusterLoadAssignments. */
export function compileCluster(
  raw: Resource,
  assignments: ReadonlyMap<string, Resource>,
  warnings: string[],
): Validated<ClusterConfig> {
  const errors: string[] = [];
  const name = field(raw, 'name');
  if (typeof name !== 'string' || name === '') return { errors: ['name: required'] };

  let type: DiscoveryType = 'STATIC';
  const t = enumField(raw, 'type');
  if (field(raw, 'cluster_type') !== undefined) {
    errors.push('cluster_type: custom cluster types are not supported');
  } else if (t !== undefined) {
    if (t === 'STATIC' || t === 'STRICT_DNS' || t === 'LOGICAL_DNS' || t === 'EDS') type = t;
    else errors.push(`type: ${t} is not supported (STATIC, STRICT_DNS, LOGICAL_DNS, EDS)`);
  }

  let lbPolicy: LbPolicy = 'ROUND_ROBIN';
  const lp = enumField(raw, 'lb_policy');
  if (lp !== undefined) {
    if (LB_POLICIES.has(lp)) lbPolicy = lp as LbPolicy;
    else errors.push(`lb_policy: ${lp} is not supported (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)`);
  }
  const ring = field(raw, 'ring_hash_lb_config');
  const lr = field(raw, 'least_request_lb_config');
  const mg = field(raw, 'maglev_lb_config');
  const lbOptions: LbOptions = {
    minRingSize: uintField(ring, 'minimum_ring_size', 'ring_hash_lb_config', DEFAULT_LB_OPTIONS.minRingSize, errors),
    maxRingSize: uintField(ring, 'maximum_ring_size', 'ring_hash_lb_config', DEFAULT_LB_OPTIONS.maxRingSize, errors),
    choiceCount: uintField(lr, 'choice_count', 'least_request_lb_config', DEFAULT_LB_OPTIONS.choiceCount, errors),
    maglevTableSize: uintField(mg, 'table_size', 'maglev_lb_config', DEFAULT_LB_OPTIONS.maglevTableSize, errors),
  };
  if (lbOptions.minRingSize > lbOptions.maxRingSize) {
    errors.push('ring_hash_lb_config.minimum_ring_size: greater than maximum_ring_size');
  }
  if (lbOptions.choiceCount < 2 && lr !== undefined && field(lr, 'choice_count') !== undefined) {
    errors.push('least_request_lb_config.choice_count: must be at least 2');
  }

  const connectTimeoutMs = durationField(raw, 'connect_timeout', '', 5000, errors);
  const dnsRefreshRateMs = durationField(raw, 'dns_refresh_rate', '', 5000, errors);
  const fam = enumField(raw, 'dns_lookup_family');
  const dnsFamily: 0 | 4 | 6 = fam === 'V4_ONLY' ? 4 : fam === 'V6_ONLY' ? 6 : fam === 'V4_PREFERRED' ? 4 : 0;

  // circuit_breakers.thresholds: the DEFAULT priority entry (HIGH is for priority routes, not used).
  let cb = DEFAULT_CIRCUIT_BREAKERS;
  const thresholds = field(field(raw, 'circuit_breakers'), 'thresholds');
  if (thresholds !== undefined) {
    if (!Array.isArray(thresholds)) errors.push('circuit_breakers.thresholds: expected a list');
    else {
      thresholds.forEach((th: unknown, i: number) => {
        const p = `circuit_breakers.thresholds[${i}]`;
        const prio = field(th, 'priority') ?? 'DEFAULT';
        if (prio !== 'DEFAULT' && prio !== 0) return;
        cb = {
          maxConnections: uintField(th, 'max_connections', p, DEFAULT_CIRCUIT_BREAKERS.maxConnections, errors),
          maxPendingRequests: uintField(th, 'max_pending_requests', p, DEFAULT_CIRCUIT_BREAKERS.maxPendingRequests, errors),
          maxRequests: uintField(th, 'max_requests', p, DEFAULT_CIRCUIT_BREAKERS.maxRequests, errors),
          maxRetries: uintField(th, 'max_retries', p, DEFAULT_CIRCUIT_BREAKERS.maxRetries, errors),
        };
      });
    }
  }

  // Upstream idle timeout: the deprecated cluster-level field or the HttpProtocolOptions extension.
  let idleTimeoutMs = 3600_000;
  const chpo = field(raw, 'common_http_protocol_options');
  if (chpo !== undefined) idleTimeoutMs = durationField(chpo, 'idle_timeout', 'common_http_protocol_options', idleTimeoutMs, errors);
  const tepo = field(raw, 'typed_extension_protocol_options');
  if (isObject(tepo)) {
    const hpo = tepo[HTTP_PROTOCOL_OPTIONS];
    const c = field(hpo, 'common_http_protocol_options');
    if (c !== undefined) {
      idleTimeoutMs = durationField(c, 'idle_timeout', `typed_extension_protocol_options["${HTTP_PROTOCOL_OPTIONS}"].common_http_protocol_options`, idleTimeoutMs, errors);
    }
    if (isObject(hpo) && (field(hpo, 'explicit_http_config') !== undefined || field(hpo, 'use_downstream_protocol_config') !== undefined)) {
      const e = field(hpo, 'explicit_http_config');
      if (e !== undefined && field(e, 'http2_protocol_options') !== undefined) {
        warnings.push(`clusters["${name}"]: http2_protocol_options ignored: weir speaks HTTP/1.1 to upstreams`);
      }
    }
  }
  if (field(raw, 'http2_protocol_options') !== undefined) {
    warnings.push(`clusters["${name}"]: http2_protocol_options ignored: weir speaks HTTP/1.1 to upstreams`);
  }
  const ts = field(raw, 'transport_socket');
  if (ts !== undefined) {
    // Istio's mTLS transport sockets: weir connects in plaintext (local development setups).
    warnings.push(`clusters["${name}"]: transport_socket ${anyType(field(ts, 'typed_config')) ?? String(field(ts, 'name') ?? '')} ignored: weir connects to upstreams in plaintext`);
  }
  if (parseBool(field(raw, 'respect_dns_ttl')) === true) {
    warnings.push(`clusters["${name}"]: respect_dns_ttl ignored: re-resolving every dns_refresh_rate`);
  }

  let endpoints: EndpointConfig[] = [];
  let edsServiceName: string | null = null;
  let warming = false;
  if (type === 'EDS') {
    const svc = field(field(raw, 'eds_cluster_config'), 'service_name');
    edsServiceName = typeof svc === 'string' && svc !== '' ? svc : name;
    const cla = assignments.get(edsServiceName);
    if (cla === undefined) {
      warming = true;
      warnings.push(`clusters["${name}"]: no ClusterLoadAssignment "${edsServiceName}" yet: answering 503 UH until it arrives`);
    } else {
      endpoints = compileLoadAssignment(cla, `cluster_load_assignment["${edsServiceName}"]`, true, errors);
    }
  } else {
    endpoints = compileLoadAssignment(field(raw, 'load_assignment'), 'load_assignment', type === 'STATIC', errors);
    if (type === 'LOGICAL_DNS' && endpoints.length !== 1) {
      errors.push('load_assignment: LOGICAL_DNS clusters take exactly one endpoint');
    }
  }

  if (errors.length > 0) return { errors };
  return {
    value: {
      name,
      type,
      lbPolicy,
      lbOptions,
      localityWeighted: field(field(raw, 'common_lb_config'), 'locality_weighted_lb_config') !== undefined,
      endpoints,
      connectTimeoutMs,
      dnsRefreshRateMs,
      dnsFamily,
      circuitBreakers: cb,
      idleTimeoutMs,
      edsServiceName,
      warming,
      raw,
    },
  };
}
