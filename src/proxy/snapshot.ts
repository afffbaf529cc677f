// One immutable snapshot of everything the data path serves: listeners (with their compiled
// HttpConnectionManager and route table) and clusters. compileSnapshot is pure: it validates and
// compiles a ResourceSet, or returns every error with its field path and compiles nothing
// (design.md: "a rejected update changes nothing"). ProxyServer.apply swaps it in whole.

import type { Resource, ResourceSet } from '../config/resources';
import { TYPE_URL } from '../config/resources';
import type { Validated } from '../route/types';
import { anyType, field, isObject, parseBool, parseUint } from '../util/proto-json';
import type { ClusterConfig } from '../upstream/cluster-config';
import { compileCluster } from '../upstream/cluster-config';
import type { HcmConfig } from './hcm-config';
import { compileHcm, securityFilterKind } from './hcm-config';
import type { RouteCompiler } from './route-contract';
import { defaultRouteCompiler } from './route-binding';

export interface ListenerConfig {
  readonly name: string;
  readonly address: string;
  /** 0 binds an ephemeral port (tests). */
  readonly port: number;
  readonly hcm: HcmConfig;
  /**
   * The served filter chain's network filters in order: the HCM, and those weir does not implement
   * (Istio's istio.metadata_exchange, Wasm stats...), skipped and listed for the config dump.
   */
  readonly networkFilters: readonly NetworkFilterInfo[];
  readonly raw: Resource;
}

/**
 * A listener accepted but not bound: `bind_to_port: false` (istiod's outbound `0.0.0.0_<port>`
 * listeners, which Envoy only reaches by handing a connection over from the bound `virtualOutbound`
 * listener with `use_original_dst`), or a bound `use_original_dst` listener with no HTTP filter
 * chain of its own. weir does not implement that hand-off: nothing of these is served, and they
 * are listed for the admin and config dump.
 */
export interface UnboundListener {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Why weir does not serve it (shown in warnings). */
  readonly reason: string;
  /** Its HTTP filter chain, compiled and validated as a bound listener's would be; null when it has none. */
  readonly config: ListenerConfig | null;
  readonly raw: Resource;
}

export interface NetworkFilterInfo {
  readonly name: string;
  readonly typeUrl: string | null;
  readonly skipped: boolean;
}

export interface Snapshot {
  readonly versionInfo: string;
  readonly listeners: readonly ListenerConfig[];
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  /** Listeners accepted and not bound (bind_to_port: false...): never served by weir. */
  readonly unboundListeners: readonly UnboundListener[];
  /** Listeners whose RDS route configuration has not arrived (not started). */
  readonly warmingListeners: readonly string[];
  readonly warnings: readonly string[];
}

export interface SnapshotOptions {
  /** Passed to the route model's compileRouteConfiguration (runtime, pick-mode defaults...). */
  readonly routeOptions?: unknown;
  /** Overrides the route compiler (tests of the data path in isolation). */
  readonly compileRoutes?: RouteCompiler;
  /**
   * Access-enforcing filters weir does not implement (RBAC, ext_authz, JWT authn: see
   * hcm-config.ts `securityFilterKind`) reject their listener unless this is true; then they are
   * skipped with a warning like any other unknown filter (CLI --allow-unenforced-security-filters).
   */
  readonly allowUnenforcedSecurityFilters?: boolean;
}

const HCM_NAMES = new Set(['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager']);

function byName(list: readonly Resource[], kind: string, errors: string[], key = 'name'): Map<string, Resource> {
  const m = new Map<string, Resource>();
  list.forEach((r, i) => {
    const n = field(r, key);
    if (typeof n !== 'string' || n === '') {
      errors.push(`${kind}[${i}].${key}: required`);
      return;
    }
    if (m.has(n)) errors.push(`${kind}["${n}"]: duplicate name`);
    m.set(n, r);
  });
  return m;
}

/** How compileSnapshot treats one listener (see UnboundListener). */
interface ListenerServing {
  /** A listener weir will not bind may have no HTTP filter chain (istiod's tcp_proxy listeners). */
  readonly tolerateNoHttp: boolean;
  /** Reject the listener over access-enforcing filters weir cannot enforce (only if it is served). */
  readonly refuseSecurityFilters: boolean;
}

function addressOf(raw: Resource): { address: string; port: number } {
  const sa = field(field(raw, 'address'), 'socket_address');
  const a = field(sa, 'address');
  const p = parseUint(field(sa, 'port_value') ?? 0);
  return { address: typeof a === 'string' ? a : '', port: p ?? 0 };
}

function compileListener(
  raw: Resource,
  path: string,
  routeConfigurations: ReadonlyMap<string, Resource>,
  compileRoutes: RouteCompiler,
  routeOptions: unknown,
  errors: string[],
  warnings: string[],
  serve: ListenerServing,
): ListenerConfig | 'warming' | 'no-http' | null {
  const start = errors.length;
  const name = field(raw, 'name') as string;
  const addr = field(raw, 'address');
  const sa = field(addr, 'socket_address');
  let address = '';
  let port = 0;
  if (!isObject(sa)) {
    errors.push(`${path}.address.socket_address: required${field(addr, 'pipe') !== undefined ? ' (pipe addresses are not supported)' : ''}`);
  } else {
    const a = field(sa, 'address');
    if (typeof a !== 'string' || a === '') errors.push(`${path}.address.socket_address.address: required`);
    else address = a;
    const p = parseUint(field(sa, 'port_value') ?? 0);
    if (p === undefined || p > 65535) errors.push(`${path}.address.socket_address.port_value: expected a port 0..65535`);
    else port = p;
    const proto = field(sa, 'protocol');
    if (proto !== undefined && proto !== 'TCP') errors.push(`${path}.address.socket_address.protocol: only TCP is supported`);
  }
  if (field(raw, 'listener_filters') !== undefined) warnings.push(`${path}.listener_filters: not supported: ignored`);

  const chains = field(raw, 'filter_chains');
  const dflt = field(raw, 'default_filter_chain');
  const all: { chain: unknown; path: string }[] = [];
  if (Array.isArray(chains)) chains.forEach((c: unknown, i: number) => all.push({ chain: c, path: `${path}.filter_chains[${i}]` }));
  else if (chains !== undefined) errors.push(`${path}.filter_chains: expected a list`);
  if (dflt !== undefined) all.push({ chain: dflt, path: `${path}.default_filter_chain` });
  // weir serves one plaintext HTTP chain per listener: the first chain without TLS / SNI match
  // conditions. Other chains (Istio's TLS-inspecting ones) are reported and skipped.
  let chosen: { chain: unknown; path: string } | null = null;
  for (const c of all) {
    const m = field(c.chain, 'filter_chain_match');
    const tls = field(c.chain, 'transport_socket') !== undefined || field(m, 'transport_protocol') === 'tls' || field(m, 'server_names') !== undefined;
    if (!tls && chosen === null) chosen = c;
    else warnings.push(`${c.path}: ${tls ? 'TLS filter chain not supported' : 'only the first plaintext filter chain is served'}: skipped`);
  }
  let hcm: HcmConfig | null = null;
  let warming = false;
  let noHttp = false;
  const securityErrors: string[] = [];
  const networkFilters: NetworkFilterInfo[] = [];
  if (chosen === null) {
    if (serve.tolerateNoHttp) noHttp = true;
    else errors.push(`${path}.filter_chains: no plaintext filter chain with an http_connection_manager`);
  } else {
    const filters = field(chosen.chain, 'filters');
    let found = false;
    if (Array.isArray(filters)) {
      filters.forEach((f: unknown, i: number) => {
        const fp = `${chosen!.path}.filters[${i}]`;
        const n = field(f, 'name');
        const tc = field(f, 'typed_config');
        const typeUrl = anyType(tc) ?? null;
        const isHcm = typeUrl === TYPE_URL.HTTP_CONNECTION_MANAGER || (typeof n === 'string' && HCM_NAMES.has(n));
        if (found) {
          // Envoy: the HCM is a terminal filter; "terminal filter named ... must be the last filter
          // in a network filter chain" (Config::Utility::validateTerminalFilters).
          errors.push(`${fp}: the http_connection_manager is a terminal filter and must be the last network filter (found ${String(n)} after it)`);
          return;
        }
        if (!isHcm) {
          // Network filters ahead of the HCM that weir does not implement (Istio puts
          // istio.metadata_exchange and Wasm stats there) are skipped with a warning, like unknown
          // HTTP filters: listener.v3.Filter has no is_optional to mark one as required.
          if (typeof n !== 'string' || n === '') errors.push(`${fp}.name: required`);
          else {
            // Access-enforcing filters are the exception: skipping one would serve what it denies.
            const kind = securityFilterKind(n, typeUrl);
            // (Held until the chain turns out to be served: a tcp_proxy chain weir leaves alone is not.)
            if (kind !== null && serve.refuseSecurityFilters) {
              securityErrors.push(`${fp}: weir does not implement ${kind} (network filter ${n}); refusing to serve without it (--allow-unenforced-security-filters skips it)`);
              return;
            }
            warnings.push(`${fp}: network filter ${n}${typeUrl ? ` (${typeUrl})` : ''} is not supported by weir: skipped${kind !== null ? `: ${kind} is NOT enforced` : ''}`);
            networkFilters.push({ name: n, typeUrl, skipped: true });
          }
          return;
        }
        networkFilters.push({ name: typeof n === 'string' && n !== '' ? n : 'envoy.filters.network.http_connection_manager', typeUrl, skipped: false });
        found = true;
        if (!isObject(tc)) {
          errors.push(`${fp}.typed_config: required`);
          return;
        }
        const h = compileHcm(tc, `${fp}.typed_config`, routeConfigurations, compileRoutes, routeOptions, errors, warnings, serve.refuseSecurityFilters);
        if (h === null && errors.length === start) warming = true;
        hcm = h;
      });
    }
    if (!found && errors.length === start) {
      if (serve.tolerateNoHttp) noHttp = true;
      else errors.push(`${chosen.path}.filters: an envoy.filters.network.http_connection_manager is required`);
    }
  }
  if (!noHttp) for (const e of securityErrors) errors.push(e);
  if (errors.length > start) return null;
  if (noHttp) return 'no-http';
  if (warming || hcm === null) return 'warming';
  return { name, address, port, hcm, networkFilters, raw };
}

export function compileSnapshot(set: ResourceSet, opts: SnapshotOptions = {}): Validated<Snapshot> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const compileRoutes = opts.compileRoutes ?? defaultRouteCompiler();

  const listenersByName = byName(set.listeners, 'listeners', errors);
  const rcs = byName(set.routeConfigurations, 'route_configurations', errors);
  const clustersByName = byName(set.clusters, 'clusters', errors);
  const clas = byName(set.clusterLoadAssignments, 'cluster_load_assignments', errors, 'cluster_name');

  const clusters = new Map<string, ClusterConfig>();
  for (const [name, raw] of clustersByName) {
    const r = compileCluster(raw, clas, warnings);
    if (r.errors) for (const e of r.errors) errors.push(`clusters["${name}"].${e}`);
    else clusters.set(name, r.value);
  }

  const listeners: ListenerConfig[] = [];
  const unboundListeners: UnboundListener[] = [];
  const warmingListeners: string[] = [];
  const ports = new Map<string, string>();
  const allowUnenforced = opts.allowUnenforcedSecurityFilters === true;
  for (const [name, raw] of listenersByName) {
    const path = `listeners["${name}"]`;
    // Listener.bind_to_port (default true): false means "do not bind; connections reach this
    // listener only when a listener with use_original_dst hands them over" (Envoy
    // listener.proto). weir has no original-destination hand-off (node cannot read
    // SO_ORIGINAL_DST), so such a listener is validated like any other and never served; nor does
    // it take an address from the bound ones (istiod sends many on one port).
    const bindToPort = parseBool(field(raw, 'bind_to_port')) !== false;
    const useOriginalDst = parseBool(field(raw, 'use_original_dst')) === true;
    const serve: ListenerServing = {
      // A bound use_original_dst listener (istiod's virtualOutbound on 15001) exists to hand
      // connections over; its own chains are tcp_proxy ones weir cannot serve either.
      tolerateNoHttp: !bindToPort || useOriginalDst,
      refuseSecurityFilters: bindToPort && !allowUnenforced,
    };
    const l = compileListener(raw, path, rcs, compileRoutes, opts.routeOptions, errors, warnings, serve);
    if (l === null) continue;
    if (l === 'no-http' || !bindToPort) {
      const reason = !bindToPort
        ? 'bind_to_port: false: not bound (weir does not hand connections over from a use_original_dst listener)'
        : 'use_original_dst: weir does not hand connections over to the listener of their original destination, and this listener has no plaintext HTTP filter chain of its own: not bound';
      warnings.push(`${path}: ${reason}`);
      const a = addressOf(raw);
      unboundListeners.push({ name, address: a.address, port: a.port, reason, config: l === 'no-http' || l === 'warming' ? null : l, raw });
      if (l === 'warming') warmingListeners.push(name);
      continue;
    }
    if (l === 'warming') warmingListeners.push(name);
    else {
      if (useOriginalDst) {
        warnings.push(
          `${path}.use_original_dst: weir does not hand connections over to the listener of their original destination: this listener's own filter chain serves them`,
        );
      }
      if (l.port !== 0) {
        const k = l.address + ':' + l.port;
        const other = ports.get(k);
        if (other !== undefined) errors.push(`listeners["${name}"].address: ${k} is also the address of listener "${other}"`);
        ports.set(k, name);
      }
      listeners.push(l);
    }
  }

  if (errors.length > 0) return { errors };
  return {
    value: Object.freeze({
      versionInfo: set.versionInfo,
      listeners: Object.freeze(listeners),
      clusters,
      unboundListeners: Object.freeze(unboundListeners),
      warmingListeners: Object.freeze(warmingListeners),
      warnings: Object.freeze(warnings),
    }),
  };
}
