// Reads the bootstrap's `dynamic_resources` into what the ADS client needs: where the control plane
// is (the static cluster named by ads_config.grpc_services[0].envoy_grpc.cluster_name: a TCP
// socket_address, or a unix socket `pipe`, as istio's pilot-agent serves xDS on
// ./etc/istio/proxy/XDS), which protocol (api_type GRPC = state of the world, DELTA_GRPC =
// incremental), and the initial fetch timeout (ConfigSource.initial_fetch_timeout, default 15 s).
// Envoy: envoy/config/bootstrap/v3/bootstrap.proto DynamicResources, envoy/config/core/v3/config_source.proto.
import type { Resource } from '../config/resources';
import type { Validated } from '../route/types';
import { field, isObject, parseDuration } from '../util/proto-json';
import type { AdsApiType } from './ads-client';

export interface AdsConfig {
  /** gRPC target: `host:port`, `[v6]:port`, `unix:///abs/path` or `unix:relative/path`. */
  target: string;
  apiType: AdsApiType;
  /** The static cluster the ADS stream goes to (ads_config.grpc_services[0].envoy_grpc.cluster_name). */
  clusterName: string;
  /** ConfigSource.initial_fetch_timeout of cds_config / lds_config; Envoy's default is 15 s; 0 = none. */
  initialFetchTimeoutMs: number;
  /** Which resource types come over ADS (Envoy allows lds_config or cds_config alone). */
  lds: boolean;
  cds: boolean;
}

const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;

/**
 * `null` when the bootstrap has no ADS (static config only). Errors are prefixed with their path
 * under `dynamic_resources`.
 */
export function adsConfigFromBootstrap(dynamicResources: unknown, staticClusters: readonly Resource[]): Validated<AdsConfig | null> {
  if (dynamicResources === undefined || dynamicResources === null) return { value: null };
  const P = 'dynamic_resources';
  if (!isObject(dynamicResources)) return { errors: [`${P}: expected an object`] };
  const errors: string[] = [];
  const ads = field(dynamicResources, 'ads_config');
  const lds = field(dynamicResources, 'lds_config');
  const cds = field(dynamicResources, 'cds_config');
  let timeoutMs = DEFAULT_INITIAL_FETCH_TIMEOUT_MS;
  for (const [name, cs] of [
    ['lds_config', lds],
    ['cds_config', cds],
  ] as const) {
    if (cs === undefined || cs === null) continue;
    if (!isObject(cs) || !isObject(field(cs, 'ads'))) {
      errors.push(`${P}.${name}: only \`ads: {}\` config sources are supported (path, api_config_source: not in weir)`);
      continue;
    }
    const rv = field(cs, 'resource_api_version');
    if (rv !== undefined && rv !== 'V3') errors.push(`${P}.${name}.resource_api_version: only V3 is supported`);
    const ift = field(cs, 'initial_fetch_timeout');
    if (ift !== undefined) {
      const d = parseDuration(ift);
      if ('error' in d) errors.push(`${P}.${name}.initial_fetch_timeout: ${d.error}`);
      else timeoutMs = d.ms;
    }
  }
  if (ads === undefined || ads === null) {
    if (lds || cds) errors.push(`${P}.ads_config: required when lds_config / cds_config use ads`);
    return errors.length ? { errors } : { value: null };
  }
  if (!isObject(ads)) return { errors: [`${P}.ads_config: expected an object`] };
  const A = `${P}.ads_config`;
  const apiType = field(ads, 'api_type');
  if (apiType !== 'GRPC' && apiType !== 'DELTA_GRPC') errors.push(`${A}.api_type: must be GRPC or DELTA_GRPC (got ${JSON.stringify(apiType)})`);
  const tav = field(ads, 'transport_api_version');
  if (tav !== undefined && tav !== 'V3') errors.push(`${A}.transport_api_version: only V3 is supported`);
  const services = field(ads, 'grpc_services');
  let clusterName = '';
  if (!Array.isArray(services) || services.length === 0) errors.push(`${A}.grpc_services: at least one is required`);
  else {
    const g = services[0];
    const eg = field(g, 'envoy_grpc');
    if (field(g, 'google_grpc') !== undefined) errors.push(`${A}.grpc_services[0].google_grpc: not supported, use envoy_grpc`);
    else if (!isObject(eg) || typeof field(eg, 'cluster_name') !== 'string' || !field(eg, 'cluster_name'))
      errors.push(`${A}.grpc_services[0].envoy_grpc.cluster_name: required`);
    else clusterName = field(eg, 'cluster_name') as string;
  }
  let target = '';
  if (clusterName) {
    const cluster = staticClusters.find((c) => field(c, 'name') === clusterName);
    const where = `${A}.grpc_services[0].envoy_grpc.cluster_name`;
    if (!cluster) errors.push(`${where}: no static cluster named "${clusterName}"`);
    else {
      const t = targetOf(cluster);
      if ('error' in t) errors.push(`${where}: cluster "${clusterName}": ${t.error}`);
      else target = t.target;
    }
  }
  if (errors.length) return { errors };
  return {
    value: {
      target,
      apiType: apiType as AdsApiType,
      clusterName,
      initialFetchTimeoutMs: timeoutMs,
      lds: lds !== undefined && lds !== null,
      cds: cds !== undefined && cds !== null,
    },
  };
}

/** The gRPC target of a static cluster's first endpoint. */
export function targetOf(cluster: Resource): { target: string } | { error: string } {
  const eps = field(field(cluster, 'load_assignment'), 'endpoints');
  const lbs = Array.isArray(eps) ? field(eps[0], 'lb_endpoints') : undefined;
  const addr = Array.isArray(lbs) ? field(field(lbs[0], 'endpoint'), 'address') : undefined;
  if (!isObject(addr)) return { error: 'load_assignment has no endpoint address' };
  const pipe = field(addr, 'pipe');
  if (isObject(pipe)) {
    const p = field(pipe, 'path');
    if (typeof p !== 'string' || !p) return { error: 'pipe.path is required' };
    // grpc-js: "unix:relative" or "unix:///absolute" (https://github.com/grpc/grpc/blob/master/doc/naming.md).
    return { target: p.startsWith('/') ? `unix://${p}` : `unix:${p}` };
  }
  const sa = field(addr, 'socket_address');
  if (isObject(sa)) {
    const host = field(sa, 'address');
    const port = Number(field(sa, 'port_value'));
    if (typeof host !== 'string' || !host) return { error: 'socket_address.address is required' };
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return { error: 'socket_address.port_value must be 1..65535' };
    return { target: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
  }
  return { error: 'endpoint address must be a socket_address or a pipe' };
}
