// The compiled route table of one envoy.config.route.v3.RouteConfiguration (Envoy's ConfigImpl +
// RouteMatcher, source/common/router/config_impl.cc). compileRouteConfiguration validates the
// whole resource and reports every problem with its field path, or returns an immutable table whose
// `route(req)` only looks things up:
//   - domains lower-cased into an exact Map, suffix wildcards (`*.foo.com`, `*-bar.foo.com`) and
//     prefix wildcards (`foo.*`) grouped by length, longest first, then `*`; a wildcard matches
//     only a strictly longer host; duplicate domains are an error naming both virtual hosts;
//   - per route, one matcher chosen by path specifier, regexes compiled, weighted pickers built.
//
// Decisions where Envoy's behaviour had to be chosen or could not be copied (see the tests):
//   - separately sent header values: a matcher matches when any value does; invert_match negates
//     that (an inverted matcher matches when no value does); `matchHeadersIndividually: false`
//     joins them with ',' first (Envoy <= 1.38);
//   - require_tls reads x-forwarded-proto, falling back to :scheme (Envoy returns no route when
//     x-forwarded-proto is missing; the data path always has a scheme);
//   - a plain Runtime's integer under runtime_fraction.runtime_key is a percentage (Envoy's
//     RuntimeFractionalPercent rule); a FractionalRuntime decides itself (router_check's mock);
//   - sticky pick mode without the key in the request uses the random value (as random mode);
//   - unknown fields are ignored (Envoy rejects them); fields weir cannot honour (CONNECT matchers,
//     uri templates, cluster specifier plugins, VHDS, filter_state/CEL matchers, file bodies) are
//     rejected with a path; runtime_key_prefix, total_weight and use_hash_policy are ignored;
//   - header-value formatters weir cannot compute (e.g. %START_TIME%) stay literal.

import type { RequestView, Runtime, Validated } from './types';
import { NO_RUNTIME } from './types';
import { anyType, isObject } from '../util/proto-json';
import { ConfigReader, field, join } from './config-reader';
import { CommonConfig } from './common-config';
import { readHeaderParser } from './header-parser';
import { readHeaderMatchers } from './header-matcher';
import { asciiLower } from './string-matcher';
import { VirtualCluster, VirtualHost, REQUIRE_TLS_VALUES, type RequireTls } from './virtual-host';
import {
  RouteEntry,
  pathEndOf,
  queryEndOf,
  readRetryPolicy,
  readRoute,
  sslRedirectRoute,
  headerRandomValue,
} from './route-entry';
import type { PickMode } from './picker';

export { RouteEntry, WeightedCluster, CompiledRedirect, DEFAULT_ROUTE_TIMEOUT_MS } from './route-entry';
export type { CompiledRetryPolicy, CompiledHashPolicy, RouteKind } from './route-entry';
export { VirtualHost, VirtualCluster, VIRTUAL_CLUSTER_OTHER } from './virtual-host';
export type { RequireTls } from './virtual-host';
export type { HeaderMutationTarget } from './header-parser';

export const ROUTE_CONFIGURATION_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

const DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES = 4096;

export interface CompileOptions {
  /** Envoy's runtime for runtime_fraction (a FractionalRuntime decides the fraction itself). */
  runtime?: Runtime;
  /** Pick mode of weighted routes without weir metadata (CLI default); else random. */
  defaultPickMode?: PickMode;
  /**
   * Default true (Envoy >= 1.39). false joins separately-sent header values with ',' before
   * matching (runtime flag envoy.reloadable_features.match_headers_individually=false).
   */
  matchHeadersIndividually?: boolean;
  /** Strip the port before the virtual host lookup (also set by RouteConfiguration.ignore_port_in_host_matching). */
  ignorePortInHostMatching?: boolean;
  /** Default true: reuse compiled virtual hosts across compiles (see VIRTUAL_HOST_MEMO); false compiles all. */
  reuse?: boolean;
}

/**
 * Compiled virtual hosts reused across compiles of a RouteConfiguration. istiod resends the whole
 * RouteConfiguration (one virtual host per service and port) when one VirtualService changes; the
 * xDS decoder keeps the decoded object of every virtual host whose bytes did not change
 * (resource-codec VirtualHostReuse), and a virtual host compiled from the same object, under the
 * same route-config-level settings and compile options, compiles to the same thing: it is reused
 * whole, routes included (so their metrics bindings are kept too). Only virtual hosts that compiled
 * without an error and hold no stateful picker (smooth pick mode keeps a cursor that a fresh
 * compile would reset) are remembered. Per runtime object (weak), per route config name and
 * options; a compile with other route-config-level settings starts a new memo.
 */
interface RouteConfigMemo {
  readonly commonKey: string;
  readonly common: CommonConfig;
  readonly vhosts: WeakMap<object, VirtualHost>;
}
const VIRTUAL_HOST_MEMO = new WeakMap<Runtime, Map<string, RouteConfigMemo>>();

/** What a CommonConfig is built from (route-config-level fields, options), as one comparable string. */
function commonKeyOf(raw: Record<string, unknown>, opts: CompileOptions): string {
  return JSON.stringify([
    field(raw, 'name'),
    field(raw, 'request_headers_to_add'),
    field(raw, 'request_headers_to_remove'),
    field(raw, 'response_headers_to_add'),
    field(raw, 'response_headers_to_remove'),
    field(raw, 'most_specific_header_mutations_wins'),
    field(raw, 'internal_only_headers'),
    field(raw, 'max_direct_response_body_size_bytes'),
    field(raw, 'ignore_path_parameters_in_path_matching'),
    opts.matchHeadersIndividually !== false,
    opts.defaultPickMode ?? 'random',
  ]);
}

export type VirtualHostMatchKind = 'exact' | 'suffix' | 'prefix' | 'default';

export interface ConditionExplanation {
  readonly condition: string;
  readonly pass: boolean;
  readonly detail: string;
}

export interface RouteTryExplanation {
  readonly index: number;
  readonly name: string;
  readonly matched: boolean;
  readonly conditions: readonly ConditionExplanation[];
}

export interface PickExplanation {
  readonly mode: PickMode;
  /** What chose the destination: the request's random value, the header_name value, the sticky key, the smooth schedule. */
  readonly source: 'random' | 'header' | 'sticky_key' | 'smooth';
  readonly value: number | null;
  readonly key: string | null;
  readonly bucket: number | null;
  readonly total: number;
  readonly index: number;
  readonly interval: { readonly begin: number; readonly end: number } | null;
  readonly cluster: string | undefined;
}

export interface RouteExplanation {
  readonly authority: string;
  /** The host looked up: lower-cased, port stripped when configured. */
  readonly host: string;
  readonly virtualHost: VirtualHost | null;
  readonly virtualHostMatch: { readonly kind: VirtualHostMatchKind; readonly domain: string } | null;
  /** require_tls sent this request to the SSL redirect. */
  readonly sslRedirect: boolean;
  readonly routes: readonly RouteTryExplanation[];
  readonly route: RouteEntry | null;
  readonly cluster: string | undefined;
  readonly pick: PickExplanation | null;
}

class WildcardGroup {
  readonly length: number;
  readonly map: Map<string, VirtualHost>;
  constructor(length: number) {
    this.length = length;
    this.map = new Map();
  }
}

export class RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
  readonly common: CommonConfig;
  readonly ignorePortInHostMatching: boolean;
  readonly #exact: Map<string, VirtualHost>;
  /** Longest first. */
  readonly #suffixes: readonly WildcardGroup[];
  readonly #prefixes: readonly WildcardGroup[];
  readonly #default: VirtualHost | null;
  readonly #onlyDefault: boolean;
  readonly #ignorePathParameters: boolean;

  constructor(
    common: CommonConfig,
    virtualHosts: VirtualHost[],
    exact: Map<string, VirtualHost>,
    suffixes: WildcardGroup[],
    prefixes: WildcardGroup[],
    defaultHost: VirtualHost | null,
    ignorePort: boolean,
  ) {
    this.name = common.name;
    this.virtualHosts = virtualHosts;
    this.common = common;
    this.ignorePortInHostMatching = ignorePort;
    this.#exact = exact;
    this.#suffixes = suffixes;
    this.#prefixes = prefixes;
    this.#default = defaultHost;
    this.#onlyDefault = exact.size === 0 && suffixes.length === 0 && prefixes.length === 0;
    this.#ignorePathParameters = common.ignorePathParametersInPathMatching;
  }

  /** RouteConfiguration.internal_only_headers (lower case): stripped from external requests by the data path. */
  get internalOnlyHeaders(): readonly string[] {
    return this.common.internalOnlyHeaders;
  }

  /** Config-dump view. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, virtual_hosts: this.virtualHosts.map((v) => v.toJSON()) };
  }

  /** RouteMatcher::findVirtualHost. */
  findVirtualHost(authority: string): VirtualHost | null {
    if (this.#onlyDefault) return this.#default;
    const host = this.#lookupHost(authority);
    const vh = this.#exact.get(host);
    if (vh !== undefined) return vh;
    if (this.#suffixes.length !== 0) {
      for (let i = 0; i < this.#suffixes.length; i++) {
        const g = this.#suffixes[i] as WildcardGroup;
        // A wildcard only matches a strictly longer host: *.foo.com never matches .foo.com.
        if (g.length >= host.length) continue;
        const m = g.map.get(host.slice(host.length - g.length));
        if (m !== undefined) return m;
      }
    }
    if (this.#prefixes.length !== 0) {
      for (let i = 0; i < this.#prefixes.length; i++) {
        const g = this.#prefixes[i] as WildcardGroup;
        if (g.length >= host.length) continue;
        const m = g.map.get(host.slice(0, g.length));
        if (m !== undefined) return m;
      }
    }
    return this.#default;
  }

  #lookupHost(authority: string): string {
    let h = authority;
    if (this.ignorePortInHostMatching) {
      const p = portStart(h);
      if (p !== -1) h = h.slice(0, p);
    }
    return asciiLower(h);
  }

  /** The matched route, or null (Envoy answers 404 NR). */
  route(req: RequestView): RouteEntry | null {
    const vh = this.findVirtualHost(req.authority);
    if (vh === null) return null;
    const path = req.path;
    // Envoy routes on the path without query and fragment (the HCM strips the fragment).
    const hash = path.indexOf('#');
    const queryEnd = hash === -1 ? path.length : hash;
    const q = path.indexOf('?');
    let pathEnd = q !== -1 && q < queryEnd ? q : queryEnd;
    if (this.#ignorePathParameters) {
      const semi = path.indexOf(';');
      if (semi !== -1 && semi < pathEnd) pathEnd = semi;
    }
    return vh.route(req, pathEnd, queryEnd);
  }

  /** The slow path: why this request goes where it goes. Costs nothing unless called. */
  explain(req: RequestView): RouteExplanation {
    const host = this.#lookupHost(req.authority);
    const vh = this.findVirtualHost(req.authority);
    let vhMatch: { kind: VirtualHostMatchKind; domain: string } | null = null;
    if (vh !== null) vhMatch = this.#explainVirtualHost(host, vh);
    const routes: RouteTryExplanation[] = [];
    let route: RouteEntry | null = null;
    let ssl = false;
    if (vh !== null) {
      const path = req.path;
      let pathEnd = pathEndOf(path);
      if (this.#ignorePathParameters) {
        const semi = path.indexOf(';');
        if (semi !== -1 && semi < pathEnd) pathEnd = semi;
      }
      const queryEnd = queryEndOf(path);
      if (vh.sslRedirect !== null && vh.needsSslRedirect(req)) {
        ssl = true;
        route = vh.sslRedirect;
      } else {
        for (const r of vh.routes) {
          const conditions = r.explainMatch(req, pathEnd, queryEnd);
          const matched = conditions.every((c) => c.pass);
          routes.push({ index: r.index, name: r.name, matched, conditions });
          if (matched) {
            route = r;
            break;
          }
        }
      }
    }
    let pick: PickExplanation | null = null;
    let cluster: string | undefined;
    if (route !== null && route.kind === 'route') {
      if (route.picker !== null && route.weightedClusters !== null) {
        pick = explainPick(route, req);
        cluster = pick.cluster;
      } else {
        cluster = route.selectCluster(req);
      }
    }
    return {
      authority: req.authority,
      host,
      virtualHost: vh,
      virtualHostMatch: vhMatch,
      sslRedirect: ssl,
      routes,
      route,
      cluster,
      pick,
    };
  }

  #explainVirtualHost(host: string, vh: VirtualHost): { kind: VirtualHostMatchKind; domain: string } {
    if (this.#exact.get(host) === vh) return { kind: 'exact', domain: host };
    for (const g of this.#suffixes) {
      if (g.length < host.length && g.map.get(host.slice(host.length - g.length)) === vh) {
        return { kind: 'suffix', domain: '*' + host.slice(host.length - g.length) };
      }
    }
    for (const g of this.#prefixes) {
      if (g.length < host.length && g.map.get(host.slice(0, g.length)) === vh) {
        return { kind: 'prefix', domain: host.slice(0, g.length) + '*' };
      }
    }
    return { kind: 'default', domain: '*' };
  }
}

function explainPick(route: RouteEntry, req: RequestView): PickExplanation {
  const picker = route.picker as NonNullable<RouteEntry['picker']>;
  const wcs = route.weightedClusters as NonNullable<RouteEntry['weightedClusters']>;
  const mode = route.pickMode ?? 'random';
  const clusterOf = (i: number): string | undefined => {
    const wc = wcs[i];
    if (wc === undefined) return undefined;
    if (wc.clusterHeader === '') return wc.name;
    const v = req.headerValues(wc.clusterHeader);
    return v === undefined ? undefined : v[0];
  };
  if (mode === 'smooth') {
    // Picking would advance the shared schedule; explain does not touch it.
    return { mode, source: 'smooth', value: null, key: null, bucket: null, total: picker.total, index: -1, interval: null, cluster: undefined };
  }
  if (mode === 'sticky') {
    const key = route.stickyKeyValue(req);
    if (key !== undefined) {
      const index = picker.pickKey(key);
      return { mode, source: 'sticky_key', value: null, key, bucket: picker.bucketOf(key), total: picker.total, index, interval: null, cluster: clusterOf(index) };
    }
  }
  let value = req.random;
  let source: PickExplanation['source'] = 'random';
  if (route.randomValueHeader !== null) {
    const v = headerRandomValue(req, route.randomValueHeader, picker.total);
    if (v !== undefined) {
      value = v;
      source = 'header';
    }
  }
  const index = picker.pickValue(value);
  return {
    mode,
    source,
    value,
    key: null,
    bucket: null,
    total: picker.total,
    index,
    interval: picker.interval(index),
    cluster: clusterOf(index),
  };
}

/** Http::HeaderUtility::getPortStart: the ':' before a port, IPv6-literal aware; -1 when none. */
export function portStart(host: string): number {
  const colon = host.lastIndexOf(':');
  if (colon === -1) return -1;
  const v6End = host.lastIndexOf(']');
  if (v6End === -1 || v6End < colon) return colon + 1 > host.length ? -1 : colon;
  return -1;
}

/**
 * Validate and compile a RouteConfiguration given as a plain object (snake_case or lowerCamelCase
 * fields; bare or as an Any with `@type`). Every problem is reported, each with its field path.
 */
export function compileRouteConfiguration(raw: unknown, opts: CompileOptions = {}): Validated<RouteTable> {
  const r = new ConfigReader();
  if (!isObject(raw)) return { errors: ['expected a RouteConfiguration object'] };
  const t = anyType(raw);
  if (t !== undefined && t !== ROUTE_CONFIGURATION_TYPE_URL) {
    return { errors: [`@type: expected ${ROUTE_CONFIGURATION_TYPE_URL}, got ${t}`] };
  }
  const name = r.string(raw, 'name', '') ?? '';
  const ignorePort = (r.bool(raw, 'ignore_port_in_host_matching', '') ?? false) || opts.ignorePortInHostMatching === true;
  const internalOnly: string[] = [];
  const io = r.array(raw, 'internal_only_headers', '');
  for (let i = 0; i < io.length; i++) {
    const h = io[i];
    if (typeof h !== 'string') r.error(`internal_only_headers[${i}]`, 'expected a header name');
    else internalOnly.push(h.toLowerCase());
  }
  if (field(raw, 'vhds') !== undefined) r.error('vhds', 'VHDS is not supported');
  if (r.array(raw, 'cluster_specifier_plugins', '').length > 0) {
    r.error('cluster_specifier_plugins', 'cluster specifier plugins are not supported');
  }
  const runtime = opts.runtime ?? NO_RUNTIME;
  let memo: RouteConfigMemo | undefined;
  let memoKey = '';
  let commonKey = '';
  let byName: Map<string, RouteConfigMemo> | undefined;
  if (opts.reuse !== false) {
    byName = VIRTUAL_HOST_MEMO.get(runtime);
    if (byName === undefined) VIRTUAL_HOST_MEMO.set(runtime, (byName = new Map()));
    memoKey = name;
    commonKey = commonKeyOf(raw, opts);
    memo = byName.get(memoKey);
    if (memo !== undefined && memo.commonKey !== commonKey) memo = undefined;
  }
  const commonErrors = r.errors.length;
  const common = memo !== undefined ? memo.common : new CommonConfig(
    name,
    readHeaderParser(r, raw, 'request_headers_to_add', 'request_headers_to_remove', ''),
    readHeaderParser(r, raw, 'response_headers_to_add', 'response_headers_to_remove', ''),
    r.bool(raw, 'most_specific_header_mutations_wins', '') ?? false,
    internalOnly,
    r.uint(raw, 'max_direct_response_body_size_bytes', '') ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES,
    r.bool(raw, 'ignore_path_parameters_in_path_matching', '') ?? false,
    opts.matchHeadersIndividually !== false,
    runtime,
    opts.defaultPickMode ?? 'random',
  );
  // A new memo only from an error-free CommonConfig (its reads are skipped when it is reused).
  if (memo === undefined && byName !== undefined && r.errors.length === commonErrors) {
    byName.set(memoKey, (memo = { commonKey, common, vhosts: new WeakMap() }));
  }

  const vhosts: VirtualHost[] = [];
  const exact = new Map<string, VirtualHost>();
  const suffixes = new Map<number, WildcardGroup>();
  const prefixes = new Map<number, WildcardGroup>();
  let defaultHost: VirtualHost | null = null;
  /** domain -> where it was first declared, for duplicate errors naming both. */
  const seen = new Map<string, { vhost: string; path: string }>();

  const list = r.array(raw, 'virtual_hosts', '');
  for (let v = 0; v < list.length; v++) {
    const vp = `virtual_hosts[${v}]`;
    const vraw = list[v];
    if (!isObject(vraw)) {
      r.error(vp, 'expected an object');
      continue;
    }
    const reused = memo?.vhosts.get(vraw);
    const vh = reused ?? compileVirtualHost(r, vraw, vp, common, memo);
    vhosts.push(vh);
    const vname = vh.name;
    const domains = vh.domains;

    for (let d = 0; d < domains.length; d++) {
      const dp = `${join(vp, 'domains')}[${d}]`;
      const dom = asciiLower(domains[d] as string);
      const prev = seen.get(dom);
      if (prev !== undefined) {
        r.error(dp, `duplicate domain "${dom}": already in virtual host "${prev.vhost}" (${prev.path}); domains must be unique within route ${JSON.stringify(name)}`);
        continue;
      }
      seen.set(dom, { vhost: vname, path: dp });
      if (dom === '*') {
        defaultHost = vh;
      } else if (dom.startsWith('*')) {
        const key = dom.slice(1);
        let g = suffixes.get(key.length);
        if (g === undefined) suffixes.set(key.length, (g = new WildcardGroup(key.length)));
        g.map.set(key, vh);
      } else if (dom.endsWith('*')) {
        const key = dom.slice(0, -1);
        let g = prefixes.get(key.length);
        if (g === undefined) prefixes.set(key.length, (g = new WildcardGroup(key.length)));
        g.map.set(key, vh);
      } else {
        exact.set(dom, vh);
      }
    }
  }
  if (r.errors.length > 0) return { errors: r.errors };
  const byLengthDesc = (a: WildcardGroup, b: WildcardGroup): number => b.length - a.length;
  return {
    value: new RouteTable(
      common,
      vhosts,
      exact,
      [...suffixes.values()].sort(byLengthDesc),
      [...prefixes.values()].sort(byLengthDesc),
      defaultHost,
      ignorePort,
    ),
  };
}

/**
 * One VirtualHost of a RouteConfiguration with its routes (its errors go to `r`). Remembered in
 * `memo` when it compiled cleanly and holds no stateful picker.
 */
function compileVirtualHost(
  r: ConfigReader,
  vraw: Record<string, unknown>,
  vp: string,
  common: CommonConfig,
  memo: RouteConfigMemo | undefined,
): VirtualHost {
  const errorsBefore = r.errors.length;
  const vname = r.string(vraw, 'name', vp) ?? '';
  if (vname === '') r.error(join(vp, 'name'), 'virtual host name is required');
  const domains: string[] = [];
  const draw = r.array(vraw, 'domains', vp);
  if (draw.length === 0) r.error(join(vp, 'domains'), 'at least one domain is required');
  for (let d = 0; d < draw.length; d++) {
    const dp = `${join(vp, 'domains')}[${d}]`;
    const dom = draw[d];
    if (typeof dom !== 'string' || dom === '') {
      r.error(dp, 'expected a non-empty domain');
      continue;
    }
    domains.push(dom);
  }
  const vcs: VirtualCluster[] = [];
  const vcl = r.array(vraw, 'virtual_clusters', vp);
  for (let i = 0; i < vcl.length; i++) {
    const cp = `${join(vp, 'virtual_clusters')}[${i}]`;
    const cname = r.string(vcl[i], 'name', cp) ?? '';
    if (cname === '') r.error(join(cp, 'name'), 'virtual cluster name is required');
    const headers = readHeaderMatchers(r, vcl[i], 'headers', cp);
    if (r.array(vcl[i], 'headers', cp).length === 0) r.error(join(cp, 'headers'), "virtual clusters must define 'headers'");
    vcs.push(new VirtualCluster(cname, headers));
  }
  const requireTls: RequireTls = REQUIRE_TLS_VALUES[r.enumValue(vraw, 'require_tls', vp, REQUIRE_TLS_VALUES) ?? 0] ?? 'NONE';
  const retryRaw = r.object(vraw, 'retry_policy', vp);
  // Routes without their own retry_policy inherit this one (one compiled object, shared).
  const vhostRetry = retryRaw === undefined ? null : readRetryPolicy(r, retryRaw, join(vp, 'retry_policy'));
  if (field(vraw, 'matcher') !== undefined) r.error(join(vp, 'matcher'), 'the generic matcher tree is not supported; use routes');
  const vh = new VirtualHost(
    vname,
    domains,
    vcs,
    requireTls,
    readHeaderParser(r, vraw, 'request_headers_to_add', 'request_headers_to_remove', vp),
    readHeaderParser(r, vraw, 'response_headers_to_add', 'response_headers_to_remove', vp),
    field(vraw, 'metadata'),
    retryRaw,
    common,
  );
  if (requireTls !== 'NONE') vh.sslRedirect = sslRedirectRoute(vh, common);
  const routes = vh.routes as RouteEntry[];
  const rl = r.array(vraw, 'routes', vp);
  const rp = join(vp, 'routes');
  for (let i = 0; i < rl.length; i++) {
    const entry = readRoute(r, rl[i], rp + '[' + i + ']', vh, i, common, vhostRetry);
    if (entry !== null) routes.push(entry);
  }
  vh.seal();

  if (r.errors.length !== errorsBefore) return vh;
  if (memo !== undefined && vh.routes.every((e) => e.pickMode !== 'smooth')) memo.vhosts.set(vraw, vh);
  return vh;
}
