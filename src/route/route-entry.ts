// One compiled envoy.config.route.v3.Route (source/common/router/config_impl.cc, RouteEntryImplBase
// and its per-path-specifier subclasses). Everything is decided when the entry is built; every field
// is set in the constructor so V8 keeps one shape for all entries, and `matches` is a switch over a
// path-specifier kind chosen at compile time (no closures per route or per request).

import { Buffer } from 'node:buffer';
import type { FractionalRuntime, RequestView, RequestViewExtras, Runtime } from './types';
import type { VirtualHost } from './virtual-host';
import type { CommonConfig } from './common-config';
import { isObject, type JsonObject } from '../util/proto-json';
import { ConfigReader, either, field, fields, join } from './config-reader';
import { readHeaderMatchers, matchAllHeaders, firstHeaderValue, headerSource, type HeaderMatcher } from './header-matcher';
import { readHeaderParserOf, EMPTY_HEADER_PARSER, type HeaderParser, type HeaderMutationTarget, type FormatContext } from './header-parser';
import { asciiStartsWithLower, readRegexMatcher, readStringMatcher, type StringMatcher } from './string-matcher';
import { compileRewrite, type RegexMatcher, type RegexRewrite } from './regex';
import { readMetadataMatcher, type MetadataMatcher } from './metadata-matcher';
import { WeightedPicker, type PickMode } from './picker';

export type RouteKind = 'route' | 'redirect' | 'direct_response' | 'filter_action';

/** Envoy's DEFAULT_ROUTE_TIMEOUT_MS: RouteAction.timeout when unset. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15000;
const MAX_UINT32 = 4294967295;

export const PATH_PREFIX = 0;
export const PATH_EXACT = 1;
export const PATH_REGEX = 2;
export const PATH_SEPARATED_PREFIX = 3;
/** The SSL redirect route of a virtual host with require_tls: never matched by path. */
export const PATH_NONE = 4;

const PATH_KIND_NAMES = ['prefix', 'path', 'safe_regex', 'path_separated_prefix', 'none'] as const;

const DENOMINATORS = ['HUNDRED', 'TEN_THOUSAND', 'MILLION'] as const;
const DENOMINATOR_VALUES = [100, 10000, 1000000] as const;

const CLUSTER_NOT_FOUND_CODES = ['SERVICE_UNAVAILABLE', 'NOT_FOUND', 'INTERNAL_SERVER_ERROR'] as const;
const CLUSTER_NOT_FOUND_STATUS = [503, 404, 500] as const;

const REDIRECT_CODES = ['MOVED_PERMANENTLY', 'FOUND', 'SEE_OTHER', 'TEMPORARY_REDIRECT', 'PERMANENT_REDIRECT'] as const;
const REDIRECT_STATUS = [301, 302, 303, 307, 308] as const;

/** One destination of `weighted_clusters`. */
export class WeightedCluster {
  readonly name: string;
  readonly weight: number;
  /** `cluster_header` instead of `name`: the cluster is that request header's first value. */
  readonly clusterHeader: string;
  readonly hostRewriteLiteral: string;
  readonly requestHeaderParser: HeaderParser;
  readonly responseHeaderParser: HeaderParser;
  readonly metadataMatch: unknown;
  constructor(
    name: string,
    weight: number,
    clusterHeader: string,
    hostRewriteLiteral: string,
    requestHeaderParser: HeaderParser,
    responseHeaderParser: HeaderParser,
    metadataMatch: unknown,
  ) {
    this.name = name;
    this.weight = weight;
    this.clusterHeader = clusterHeader;
    this.hostRewriteLiteral = hostRewriteLiteral;
    this.requestHeaderParser = requestHeaderParser;
    this.responseHeaderParser = responseHeaderParser;
    this.metadataMatch = metadataMatch;
  }
}

/** RetryPolicy, parsed for the data path (retry_state_impl.cc semantics). */
export interface CompiledRetryPolicy {
  readonly retryOn: readonly string[];
  /** Default 1 when a retry_policy is present. */
  readonly numRetries: number;
  /** 0 = none (the route timeout applies). */
  readonly perTryTimeoutMs: number;
  readonly perTryIdleTimeoutMs: number;
  readonly retriableStatusCodes: readonly number[];
  /** Envoy's defaults when unset: base 25 ms, max 10 x base. */
  readonly retryBackOff: { readonly baseIntervalMs: number; readonly maxIntervalMs: number };
  readonly retriableHeaders: readonly HeaderMatcher[];
  readonly retriableRequestHeaders: readonly HeaderMatcher[];
  readonly hostSelectionRetryMaxAttempts: number;
}

export type CompiledHashPolicy =
  | { readonly kind: 'header'; readonly headerName: string; readonly regexRewrite: RegexRewrite | null; readonly terminal: boolean }
  | {
      readonly kind: 'cookie';
      readonly name: string;
      readonly ttlMs: number | null;
      readonly path: string;
      readonly attributes: readonly { readonly name: string; readonly value: string }[];
      readonly terminal: boolean;
    }
  | { readonly kind: 'source_ip'; readonly terminal: boolean }
  | { readonly kind: 'query_parameter'; readonly name: string; readonly terminal: boolean }
  | { readonly kind: 'filter_state'; readonly key: string; readonly terminal: boolean };

/** RedirectAction (Http::Utility::RedirectConfig). */
export class CompiledRedirect {
  readonly schemeRedirect: string;
  readonly httpsRedirect: boolean;
  readonly hostRedirect: string;
  /** ":<port>" or "". */
  readonly portRedirect: string;
  readonly pathRedirect: string;
  readonly pathRedirectHasQuery: boolean;
  readonly prefixRewrite: string;
  readonly regexRewrite: RegexRewrite | null;
  readonly stripQuery: boolean;
  readonly responseCode: number;
  constructor(
    schemeRedirect: string,
    httpsRedirect: boolean,
    hostRedirect: string,
    portRedirect: string,
    pathRedirect: string,
    prefixRewrite: string,
    regexRewrite: RegexRewrite | null,
    stripQuery: boolean,
    responseCode: number,
  ) {
    this.schemeRedirect = schemeRedirect;
    this.httpsRedirect = httpsRedirect;
    this.hostRedirect = hostRedirect;
    this.portRedirect = portRedirect;
    this.pathRedirect = pathRedirect;
    this.pathRedirectHasQuery = pathRedirect.includes('?');
    this.prefixRewrite = prefixRewrite;
    this.regexRewrite = regexRewrite;
    this.stripQuery = stripQuery;
    this.responseCode = responseCode;
  }

  /** RouteEntryImplBase::isRedirect: whether the redirect rewrites the path (getPathRewrite). */
  get rewritesPath(): boolean {
    return this.hostRedirect !== '' || this.pathRedirect !== '' || this.prefixRewrite !== '' || this.regexRewrite !== null;
  }
}

export class QueryParameterMatcher {
  readonly name: string;
  /** null = present match. */
  readonly stringMatch: StringMatcher | null;
  constructor(name: string, stringMatch: StringMatcher | null) {
    this.name = name;
    this.stringMatch = stringMatch;
  }
  /** Envoy keeps only the first value of a repeated key (QueryParamsMulti::getFirstValue). */
  matches(path: string, pathEnd: number, queryEnd: number): boolean {
    const v = firstQueryValue(path, pathEnd, queryEnd, this.name);
    if (v === undefined) return false;
    return this.stringMatch === null ? true : this.stringMatch.matches(v);
  }
  describe(): string {
    return `query_parameter ${this.name} ${this.stringMatch === null ? 'present' : this.stringMatch.describe()}`;
  }
}

/**
 * The first value of query parameter `name` (not percent-decoded, as Http::Utility::parseQueryString),
 * "" for `?name` without `=`, undefined when absent.
 */
export function firstQueryValue(path: string, pathEnd: number, queryEnd: number, name: string): string | undefined {
  if (pathEnd >= queryEnd || path.charCodeAt(pathEnd) !== 63 /* ? */) return undefined;
  let start = pathEnd + 1;
  const nlen = name.length;
  while (start <= queryEnd) {
    let end = path.indexOf('&', start);
    if (end === -1 || end > queryEnd) end = queryEnd;
    if (end - start >= nlen && path.startsWith(name, start)) {
      const after = start + nlen;
      if (after === end) return '';
      if (path.charCodeAt(after) === 61 /* = */) return path.slice(after + 1, end);
    }
    start = end + 1;
  }
  return undefined;
}

/** Where the path ends (first `?` or `#`) and where the query ends (first `#`). */
export function pathEndOf(path: string): number {
  const q = path.indexOf('?');
  const h = path.indexOf('#');
  if (q === -1) return h === -1 ? path.length : h;
  return h === -1 || q < h ? q : h;
}

export function queryEndOf(path: string): number {
  const h = path.indexOf('#');
  return h === -1 ? path.length : h;
}

export function isGrpcRequest(req: RequestView): boolean {
  const ct = req.headerValues('content-type');
  if (ct === undefined || ct.length === 0) return false;
  const v = ct[0] as string;
  // Grpc::Common::hasGrpcContentType: exactly application/grpc or application/grpc+<subtype>.
  return v.startsWith('application/grpc') && (v.length === 16 || v.charCodeAt(16) === 43 /* + */);
}

/** Cookie value as Http::Utility::parseCookieValue: `; `-separated pairs, quotes stripped. */
export function cookieValue(req: RequestView, name: string): string | undefined {
  const headers = req.headerValues('cookie');
  if (headers === undefined) return undefined;
  for (let h = 0; h < headers.length; h++) {
    const s = headers[h] as string;
    let start = 0;
    while (start < s.length) {
      let end = s.indexOf(';', start);
      if (end === -1) end = s.length;
      let k = start;
      while (k < end && s.charCodeAt(k) === 32) k++;
      if (s.startsWith(name, k) && s.charCodeAt(k + name.length) === 61) {
        let v = s.slice(k + name.length + 1, end);
        if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
        return v;
      }
      start = end + 1;
    }
  }
  return undefined;
}

export function runtimeFeatureEnabled(
  runtime: Runtime,
  fractional: FractionalRuntime | null,
  key: string,
  numerator: number,
  denominator: number,
  random: number,
): boolean {
  if (fractional !== null) return fractional.featureEnabled(key, numerator, denominator, random);
  // Snapshot::featureEnabled: an integer under the key is a percentage (numerator over HUNDRED).
  const v = key === '' ? undefined : runtime.getInteger(key);
  if (v !== undefined) return random % 100 < v;
  return random % denominator < numerator;
}

const INT_RE = /^\s*\+?\d+\s*$/;

/**
 * weighted_clusters.header_name: the header's value when the header is sent once and holds one
 * uint64 (absl::SimpleAtoi); else undefined (Envoy falls back to the stream's random value).
 * Values beyond 2^53 are reduced exactly modulo `total`, which leaves `value % total` unchanged.
 */
export function headerRandomValue(req: RequestView, name: string, total: number): number | undefined {
  const values = req.headerValues(name);
  if (values === undefined || values.length !== 1) return undefined;
  const v = values[0] as string;
  if (!INT_RE.test(v)) return undefined;
  const t = v.trim().replace(/^\+/, '');
  if (t.length <= 15) return Number(t);
  const b = BigInt(t);
  if (b > 18446744073709551615n) return undefined;
  return Number(b % BigInt(total));
}

export class RouteEntry {
  readonly name: string;
  readonly virtualHost: VirtualHost;
  /** Position in the virtual host's routes; -1 for the SSL redirect route. */
  readonly index: number;
  readonly kind: RouteKind;
  // match
  readonly pathKind: number;
  /** The configured prefix / path / path_separated_prefix as written (Envoy rewrites by its length). */
  readonly pathValue: string;
  readonly #pathLower: string;
  readonly caseSensitive: boolean;
  readonly #pathNever: boolean;
  readonly pathRegex: RegexMatcher | null;
  readonly headerMatchers: readonly HeaderMatcher[];
  readonly queryParameterMatchers: readonly QueryParameterMatcher[];
  readonly runtimeKey: string | null;
  readonly runtimeNumerator: number;
  readonly runtimeDenominator: number;
  readonly grpc: boolean;
  readonly tlsPresented: boolean | null;
  readonly tlsValidated: boolean | null;
  readonly dynamicMetadataMatchers: readonly MetadataMatcher[];
  readonly #individually: boolean;
  readonly #runtime: Runtime;
  readonly #fractional: FractionalRuntime | null;
  // route action
  readonly clusterName: string | null;
  readonly clusterHeader: string | null;
  readonly #clusterHeaderSource: number;
  readonly weightedClusters: readonly WeightedCluster[] | null;
  readonly picker: WeightedPicker | null;
  readonly pickMode: PickMode | null;
  readonly stickyKey: { readonly cookie: string } | { readonly header: string } | null;
  readonly randomValueHeader: string | null;
  readonly prefixRewrite: string | null;
  readonly regexRewrite: RegexRewrite | null;
  readonly hostRewriteLiteral: string | null;
  readonly autoHostRewrite: boolean;
  readonly hostRewriteHeader: string | null;
  readonly hostRewritePathRegex: RegexRewrite | null;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | null;
  readonly retryPolicy: CompiledRetryPolicy | null;
  readonly hashPolicy: readonly CompiledHashPolicy[];
  /** RouteAction.cluster_not_found_response_code: 503 (default), 404 or 500 when the cluster is unknown. */
  readonly clusterNotFoundResponseCode: number;
  /** RouteAction.append_x_forwarded_host: on a host rewrite, append the old host to x-forwarded-host. */
  readonly appendXForwardedHost: boolean;
  readonly redirect: CompiledRedirect | null;
  readonly redirectCode: number;
  readonly directResponse: { readonly status: number; readonly body: string } | null;
  readonly requestHeaderParser: HeaderParser;
  readonly responseHeaderParser: HeaderParser;
  readonly isSslRedirect: boolean;
  readonly metadata: unknown;
  /**
   * typed_per_filter_config["envoy.filters.http.fault"] compiled (overrides the listener-level
   * fault filter config, as Envoy's per-route config does), or null when the route has none.
   */
  readonly fault: CompiledFault | null;
  /** RouteAction.request_mirror_policies (and the legacy request_mirror_policy). */
  readonly mirrorPolicies: readonly RequestMirrorPolicy[];
  readonly #common: CommonConfig;

  constructor(p: RouteEntryParts) {
    this.name = p.name;
    this.virtualHost = p.virtualHost;
    this.index = p.index;
    this.kind = p.kind;
    this.pathKind = p.pathKind;
    this.pathValue = p.pathValue;
    this.#pathLower = p.caseSensitive ? p.pathValue : p.pathValue.toLowerCase();
    this.caseSensitive = p.caseSensitive;
    // A prefix or path holding '?' or '#' can never equal (part of) a path without its query.
    this.#pathNever = p.pathKind !== PATH_REGEX && p.pathKind !== PATH_NONE && /[?#]/.test(p.pathValue);
    this.pathRegex = p.pathRegex;
    this.headerMatchers = p.headerMatchers;
    this.queryParameterMatchers = p.queryParameterMatchers;
    this.runtimeKey = p.runtimeKey;
    this.runtimeNumerator = p.runtimeNumerator;
    this.runtimeDenominator = p.runtimeDenominator;
    this.grpc = p.grpc;
    this.tlsPresented = p.tlsPresented;
    this.tlsValidated = p.tlsValidated;
    this.dynamicMetadataMatchers = p.dynamicMetadataMatchers;
    this.#individually = p.common.matchHeadersIndividually;
    this.#runtime = p.common.runtime;
    this.#fractional =
      typeof (p.common.runtime as Partial<FractionalRuntime>).featureEnabled === 'function'
        ? (p.common.runtime as FractionalRuntime)
        : null;
    this.clusterName = p.clusterName;
    this.clusterHeader = p.clusterHeader;
    this.#clusterHeaderSource = p.clusterHeader === null ? 0 : headerSource(p.clusterHeader);
    this.weightedClusters = p.weightedClusters;
    this.picker = p.picker;
    this.pickMode = p.pickMode;
    this.stickyKey = p.stickyKey;
    this.randomValueHeader = p.randomValueHeader;
    this.prefixRewrite = p.prefixRewrite;
    this.regexRewrite = p.regexRewrite;
    this.hostRewriteLiteral = p.hostRewriteLiteral;
    this.autoHostRewrite = p.autoHostRewrite;
    this.hostRewriteHeader = p.hostRewriteHeader;
    this.hostRewritePathRegex = p.hostRewritePathRegex;
    this.timeoutMs = p.timeoutMs;
    this.idleTimeoutMs = p.idleTimeoutMs;
    this.retryPolicy = p.retryPolicy;
    this.hashPolicy = p.hashPolicy;
    this.clusterNotFoundResponseCode = p.clusterNotFoundResponseCode;
    this.appendXForwardedHost = p.appendXForwardedHost;
    this.redirect = p.redirect;
    this.redirectCode = p.redirect !== null ? p.redirect.responseCode : p.isSslRedirect ? 301 : 0;
    this.directResponse = p.directResponse;
    this.requestHeaderParser = p.requestHeaderParser;
    this.responseHeaderParser = p.responseHeaderParser;
    this.isSslRedirect = p.isSslRedirect;
    this.metadata = p.metadata;
    this.fault = p.fault;
    this.mirrorPolicies = p.mirrorPolicies;
    this.#common = p.common;
  }

  /**
   * The first path segment (`/svc` of `/svc/x`) every path this route can match starts with, or
   * null when there is none (short prefixes, regexes, case-insensitive matching). See VirtualHost.seal.
   */
  firstSegmentKey(): string | null {
    if (!this.caseSensitive || this.#pathNever) return null;
    const v = this.pathValue;
    if (!v.startsWith('/')) return null;
    const j = v.indexOf('/', 1);
    switch (this.pathKind) {
      case PATH_PREFIX:
        return j > 0 ? v.slice(0, j) : null;
      case PATH_EXACT:
      case PATH_SEPARATED_PREFIX:
        return j > 0 ? v.slice(0, j) : v;
      default:
        return null;
    }
  }

  /** The path specifier as Envoy names it. */
  get pathSpecifier(): string {
    return PATH_KIND_NAMES[this.pathKind] ?? 'none';
  }

  /**
   * Does this route match? `pathEnd` is where the path stops (first `?`/`#`, or `;` when
   * ignore_path_parameters_in_path_matching); `queryEnd` where the query stops.
   */
  matches(req: RequestView, pathEnd: number, queryEnd: number): boolean {
    if (!this.#pathMatches(req.path, pathEnd)) return false;
    if (this.runtimeKey !== null && !this.#runtimeMatches(req.random)) return false;
    if (this.grpc && !isGrpcRequest(req)) return false;
    if (this.headerMatchers.length !== 0 && !matchAllHeaders(this.headerMatchers, req, this.#individually)) return false;
    if (this.queryParameterMatchers.length !== 0) {
      for (let i = 0; i < this.queryParameterMatchers.length; i++) {
        if (!(this.queryParameterMatchers[i] as QueryParameterMatcher).matches(req.path, pathEnd, queryEnd)) return false;
      }
    }
    if ((this.tlsPresented !== null || this.tlsValidated !== null) && !this.#tlsMatches(req)) return false;
    if (this.dynamicMetadataMatchers.length !== 0 && !this.#metadataMatches(req)) return false;
    return true;
  }

  #pathMatches(path: string, pathEnd: number): boolean {
    if (this.#pathNever) return false;
    const v = this.#pathLower;
    switch (this.pathKind) {
      case PATH_PREFIX:
        if (pathEnd < v.length) return false;
        return this.caseSensitive ? path.startsWith(v) : asciiStartsWithLower(path, v, 0);
      case PATH_EXACT:
        if (pathEnd !== v.length) return false;
        return this.caseSensitive ? path.startsWith(v) : asciiStartsWithLower(path, v, 0);
      case PATH_REGEX:
        return (this.pathRegex as RegexMatcher).matches(pathEnd === path.length ? path : path.slice(0, pathEnd));
      case PATH_SEPARATED_PREFIX:
        if (pathEnd < v.length) return false;
        if (!(this.caseSensitive ? path.startsWith(v) : asciiStartsWithLower(path, v, 0))) return false;
        return pathEnd === v.length || path.charCodeAt(v.length) === 47 /* / */;
      default:
        return false;
    }
  }

  #runtimeMatches(random: number): boolean {
    return runtimeFeatureEnabled(
      this.#runtime,
      this.#fractional,
      this.runtimeKey as string,
      this.runtimeNumerator,
      this.runtimeDenominator,
      random,
    );
  }

  #tlsMatches(req: RequestView): boolean {
    const x = req as RequestView & RequestViewExtras;
    if (this.tlsPresented !== null && this.tlsPresented !== (x.peerCertificatePresented === true)) return false;
    if (this.tlsValidated !== null && this.tlsValidated !== (x.peerCertificateValidated === true)) return false;
    return true;
  }

  #metadataMatches(req: RequestView): boolean {
    const md = (req as RequestView & RequestViewExtras).dynamicMetadata;
    for (let i = 0; i < this.dynamicMetadataMatchers.length; i++) {
      if (!(this.dynamicMetadataMatchers[i] as MetadataMatcher).matches(md)) return false;
    }
    return true;
  }

  /** The matcher's verdict condition by condition, evaluated fully (explain only). */
  explainMatch(req: RequestView, pathEnd: number, queryEnd: number): { condition: string; pass: boolean; detail: string }[] {
    const out: { condition: string; pass: boolean; detail: string }[] = [];
    const pathOnly = req.path.slice(0, pathEnd);
    if (this.pathKind !== PATH_NONE) {
      const what =
        this.pathKind === PATH_REGEX
          ? `safe_regex ${JSON.stringify((this.pathRegex as RegexMatcher).pattern)} [${(this.pathRegex as RegexMatcher).strategy}]`
          : `${this.pathSpecifier} ${JSON.stringify(this.pathValue)}${this.caseSensitive ? '' : ' (case_sensitive: false)'}`;
      out.push({ condition: what, pass: this.#pathMatches(req.path, pathEnd), detail: `path ${JSON.stringify(pathOnly)}` });
    }
    if (this.runtimeKey !== null) {
      out.push({
        condition: `runtime_fraction ${JSON.stringify(this.runtimeKey)} default ${this.runtimeNumerator}/${this.runtimeDenominator}`,
        pass: this.#runtimeMatches(req.random),
        detail: `random ${req.random}`,
      });
    }
    if (this.grpc) {
      const ct = req.headerValues('content-type');
      out.push({ condition: 'grpc', pass: isGrpcRequest(req), detail: `content-type ${ct === undefined ? 'absent' : JSON.stringify(ct[0])}` });
    }
    for (const h of this.headerMatchers) {
      out.push({ condition: h.describe(), pass: h.matches(req, this.#individually), detail: h.observed(req) });
    }
    for (const q of this.queryParameterMatchers) {
      const v = firstQueryValue(req.path, pathEnd, queryEnd, q.name);
      out.push({
        condition: q.describe(),
        pass: q.matches(req.path, pathEnd, queryEnd),
        detail: v === undefined ? 'absent' : JSON.stringify(v),
      });
    }
    if (this.tlsPresented !== null || this.tlsValidated !== null) {
      out.push({ condition: `tls_context presented=${this.tlsPresented} validated=${this.tlsValidated}`, pass: this.#tlsMatches(req), detail: '' });
    }
    for (const m of this.dynamicMetadataMatchers) {
      out.push({ condition: m.describe(), pass: m.matches((req as RequestView & RequestViewExtras).dynamicMetadata), detail: '' });
    }
    return out;
  }

  /**
   * The upstream cluster: `cluster`; the `cluster_header` header's first value (undefined when
   * absent); or the weighted pick. undefined => Envoy answers 503 NC.
   */
  selectCluster(req: RequestView): string | undefined {
    if (this.clusterName !== null) return this.clusterName;
    if (this.clusterHeader !== null) return firstHeaderValue(req, this.clusterHeader, this.#clusterHeaderSource);
    if (this.picker === null) return undefined;
    const wc = (this.weightedClusters as readonly WeightedCluster[])[this.pickIndex(req)] as WeightedCluster;
    if (wc.clusterHeader === '') return wc.name;
    return firstHeaderValue(req, wc.clusterHeader, headerSource(wc.clusterHeader));
  }

  /**
   * Index into weightedClusters of the pick for this request (-1 when not weighted).
   * random: the `header_name` value when it holds exactly one integer, else the request's random
   * value; sticky: a stable hash of the sticky key, or the random value when the request lacks the
   * key; smooth: the next slot of the deterministic schedule (advances it).
   */
  pickIndex(req: RequestView): number {
    const picker = this.picker;
    if (picker === null) return -1;
    if (this.pickMode === 'smooth') return picker.pickNext();
    if (this.pickMode === 'sticky') {
      const key = this.stickyKeyValue(req);
      if (key !== undefined) return picker.pickKey(key);
    }
    if (this.randomValueHeader !== null) {
      const v = headerRandomValue(req, this.randomValueHeader, picker.total);
      if (v !== undefined) return picker.pickValue(v);
    }
    return picker.pickValue(req.random);
  }

  /** The sticky key's value in this request, or undefined. */
  stickyKeyValue(req: RequestView): string | undefined {
    const k = this.stickyKey;
    if (k === null) return undefined;
    if ('cookie' in k) return cookieValue(req, k.cookie);
    return firstHeaderValue(req, k.header, headerSource(k.header));
  }

  /**
   * The path after prefix_rewrite (replaces the matched prefix, keeps the query) or regex_rewrite
   * (substitutes on the path without the query); null when the route rewrites nothing.
   */
  rewritePath(path: string, _req?: RequestView): string | null {
    if (this.prefixRewrite !== null) {
      return this.prefixRewrite + path.slice(this.#matchedLength(path));
    }
    if (this.regexRewrite !== null) {
      const end = pathEndOf(path);
      return this.regexRewrite.replaceAll(path.slice(0, end)) + path.slice(end);
    }
    return null;
  }

  /** How much of the path prefix_rewrite replaces: the configured prefix/path, or the whole path (regex). */
  #matchedLength(path: string): number {
    if (this.pathKind === PATH_REGEX || this.pathKind === PATH_NONE) return pathEndOf(path);
    return Math.min(this.pathValue.length, path.length);
  }

  /**
   * The Host the upstream request carries, or null to keep the request's. Route-level rewrites
   * (literal, host_rewrite_header's first value, host_rewrite_path_regex) win over a weighted
   * cluster's host_rewrite_literal, which Envoy applies first. auto_host_rewrite needs the chosen
   * endpoint and is the data path's job (see `autoHostRewrite`).
   */
  rewriteHost(req: RequestView, clusterName?: string): string | null {
    let host: string | null = null;
    if (clusterName !== undefined && this.weightedClusters !== null) {
      const wc = this.#weightedCluster(clusterName);
      if (wc !== null && wc.hostRewriteLiteral !== '') host = wc.hostRewriteLiteral;
    }
    if (this.hostRewriteLiteral !== null) return this.hostRewriteLiteral;
    if (this.hostRewriteHeader !== null) {
      const v = firstHeaderValue(req, this.hostRewriteHeader, headerSource(this.hostRewriteHeader));
      if (v !== undefined && v !== '') return v;
    } else if (this.hostRewritePathRegex !== null) {
      const end = pathEndOf(req.path);
      const v = this.hostRewritePathRegex.replaceAll(req.path.slice(0, end));
      if (v !== '') return v;
    }
    return host;
  }

  #weightedCluster(clusterName: string): WeightedCluster | null {
    const wcs = this.weightedClusters;
    if (wcs === null) return null;
    for (let i = 0; i < wcs.length; i++) {
      const wc = wcs[i] as WeightedCluster;
      if (wc.name === clusterName) return wc;
    }
    return null;
  }

  /**
   * The Location of a redirect (Http::Utility::newUri after rewritePathHeader), also what Envoy's
   * router_check reports as path_redirect for direct responses (the request's own URL).
   */
  redirectLocation(req: RequestView): string {
    if (this.isSslRedirect) return `https://${req.authority}${req.path}`;
    const rc = this.redirect;
    let path = req.path;
    if (rc !== null && rc.rewritesPath) {
      if (rc.regexRewrite !== null) {
        const end = pathEndOf(path);
        path = rc.regexRewrite.replaceAll(path.slice(0, end)) + path.slice(end);
      } else if (rc.prefixRewrite !== '') {
        path = rc.prefixRewrite + path.slice(this.#matchedLength(path));
      }
    }
    const xfp = forwardedProto(req);
    let scheme: string;
    if (rc !== null && rc.schemeRedirect !== '') scheme = rc.schemeRedirect;
    else if (rc !== null && rc.httpsRedirect) scheme = 'https';
    else scheme = req.scheme !== '' ? req.scheme : xfp;
    const port = rc !== null ? rc.portRedirect : '';
    const host = rc !== null && rc.hostRedirect !== '' ? rc.hostRedirect : processRequestHost(req.authority, xfp, scheme, port);
    let finalPath: string;
    if (rc !== null && rc.pathRedirect !== '') {
      if (rc.pathRedirectHasQuery) finalPath = rc.pathRedirect;
      else {
        const q = path.indexOf('?');
        finalPath = q === -1 ? rc.pathRedirect : rc.pathRedirect + path.slice(q);
      }
    } else {
      finalPath = path;
    }
    if (!finalPath.startsWith('/')) finalPath = '/' + finalPath;
    if (rc !== null && !rc.pathRedirectHasQuery && rc.stripQuery) {
      const q = finalPath.indexOf('?');
      if (q !== -1) finalPath = finalPath.slice(0, q);
    }
    return `${scheme}://${host}${port}${finalPath}`;
  }

  /**
   * request_headers_to_add/remove in Envoy's order: the weighted cluster's own first (when
   * `clusterName` is one of them), then route, virtual host, route configuration — or route
   * configuration, virtual host, route when most_specific_header_mutations_wins. Later parsers win.
   */
  applyRequestHeaders(target: HeaderMutationTarget, req: RequestView, clusterName?: string): void {
    this.#applyHeaders(target, req, clusterName, false);
  }

  applyResponseHeaders(target: HeaderMutationTarget, req: RequestView, clusterName?: string): void {
    this.#applyHeaders(target, req, clusterName, true);
  }

  #applyHeaders(target: HeaderMutationTarget, req: RequestView, clusterName: string | undefined, response: boolean): void {
    const common = this.#common;
    const vh = this.virtualHost;
    const wc = clusterName !== undefined ? this.#weightedCluster(clusterName) : null;
    const wcParser = wc === null ? EMPTY_HEADER_PARSER : response ? wc.responseHeaderParser : wc.requestHeaderParser;
    const route = response ? this.responseHeaderParser : this.requestHeaderParser;
    const vhost = response ? vh.responseHeaderParser : vh.requestHeaderParser;
    const global = response ? common.responseHeaderParser : common.requestHeaderParser;
    if (wcParser.empty && route.empty && vhost.empty && global.empty) return;
    const ctx: FormatContext = { req, target, response, clusterName: clusterName ?? this.clusterName ?? '', routeName: this.name };
    wcParser.evaluate(ctx);
    if (common.mostSpecificHeaderMutationsWins) {
      global.evaluate(ctx);
      vhost.evaluate(ctx);
      route.evaluate(ctx);
    } else {
      route.evaluate(ctx);
      vhost.evaluate(ctx);
      global.evaluate(ctx);
    }
  }

  /**
   * A config-dump view (the entry links back to its virtual host, so JSON.stringify needs this):
   * what was compiled, including weir's pick mode.
   */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      match:
        this.pathKind === PATH_NONE
          ? { ssl_redirect: true }
          : {
              [this.pathSpecifier]: this.pathKind === PATH_REGEX ? (this.pathRegex as RegexMatcher).pattern : this.pathValue,
              ...(this.pathKind === PATH_REGEX ? { strategy: (this.pathRegex as RegexMatcher).strategy } : {}),
              ...(this.caseSensitive ? {} : { case_sensitive: false }),
              ...(this.headerMatchers.length ? { headers: this.headerMatchers.map((h) => h.describe()) } : {}),
              ...(this.queryParameterMatchers.length ? { query_parameters: this.queryParameterMatchers.map((q) => q.describe()) } : {}),
              ...(this.runtimeKey !== null
                ? { runtime_fraction: { runtime_key: this.runtimeKey, numerator: this.runtimeNumerator, denominator: this.runtimeDenominator } }
                : {}),
              ...(this.grpc ? { grpc: true } : {}),
            },
      cluster: this.clusterName ?? undefined,
      cluster_header: this.clusterHeader ?? undefined,
      weighted_clusters: this.weightedClusters?.map((c) => ({ name: c.name || undefined, cluster_header: c.clusterHeader || undefined, weight: c.weight })),
      pick_mode: this.pickMode ?? undefined,
      sticky_key: this.stickyKey ?? undefined,
      header_name: this.randomValueHeader ?? undefined,
      prefix_rewrite: this.prefixRewrite ?? undefined,
      regex_rewrite: this.regexRewrite === null ? undefined : { pattern: this.regexRewrite.pattern, substitution: this.regexRewrite.substitution },
      host_rewrite_literal: this.hostRewriteLiteral ?? undefined,
      auto_host_rewrite: this.autoHostRewrite || undefined,
      timeout_ms: this.kind === 'route' ? this.timeoutMs : undefined,
      retry_policy: this.retryPolicy ?? undefined,
      redirect: this.redirect === null ? undefined : { code: this.redirectCode },
      direct_response: this.directResponse ?? undefined,
    };
  }

  /** VirtualHost.virtual_clusters: the first whose headers all match; 'other' when none does; undefined when none are configured. */
  virtualClusterName(req: RequestView): string | undefined {
    return this.virtualHost.virtualClusterName(req);
  }
}

/** x-forwarded-proto as Envoy's getForwardedProtoValue, falling back to :scheme. */
export function forwardedProto(req: RequestView): string {
  const v = req.headerValues('x-forwarded-proto');
  return v !== undefined && v.length > 0 && v[0] !== '' ? (v[0] as string) : req.scheme;
}

/** Http::Utility processRequestHost: drop a default port that the new scheme makes wrong. */
function processRequestHost(host: string, requestProto: string, newScheme: string, newPort: string): string {
  if (host === '') return host;
  let hostEnd: number;
  if (host.startsWith('[')) {
    hostEnd = host.lastIndexOf(']:');
    if (hostEnd !== -1) hostEnd += 1;
  } else {
    hostEnd = host.lastIndexOf(':');
  }
  if (hostEnd === -1) return host;
  const requestPort = host.slice(hostEnd);
  let removePort = newPort !== '';
  if (newScheme !== requestProto) {
    removePort = removePort || (requestProto === 'https' && requestPort === ':443');
    removePort = removePort || (requestProto === 'http' && requestPort === ':80');
  }
  return removePort ? host.slice(0, hostEnd) : host;
}

/** Everything a RouteEntry is built from (constructor argument). */
export interface RouteEntryParts {
  name: string;
  virtualHost: VirtualHost;
  index: number;
  kind: RouteKind;
  pathKind: number;
  pathValue: string;
  caseSensitive: boolean;
  pathRegex: RegexMatcher | null;
  headerMatchers: HeaderMatcher[];
  queryParameterMatchers: QueryParameterMatcher[];
  runtimeKey: string | null;
  runtimeNumerator: number;
  runtimeDenominator: number;
  grpc: boolean;
  tlsPresented: boolean | null;
  tlsValidated: boolean | null;
  dynamicMetadataMatchers: MetadataMatcher[];
  clusterName: string | null;
  clusterHeader: string | null;
  weightedClusters: WeightedCluster[] | null;
  picker: WeightedPicker | null;
  pickMode: PickMode | null;
  stickyKey: { cookie: string } | { header: string } | null;
  randomValueHeader: string | null;
  prefixRewrite: string | null;
  regexRewrite: RegexRewrite | null;
  hostRewriteLiteral: string | null;
  autoHostRewrite: boolean;
  hostRewriteHeader: string | null;
  hostRewritePathRegex: RegexRewrite | null;
  timeoutMs: number;
  idleTimeoutMs: number | null;
  retryPolicy: CompiledRetryPolicy | null;
  hashPolicy: CompiledHashPolicy[];
  clusterNotFoundResponseCode: number;
  appendXForwardedHost: boolean;
  redirect: CompiledRedirect | null;
  directResponse: { status: number; body: string } | null;
  requestHeaderParser: HeaderParser;
  responseHeaderParser: HeaderParser;
  isSslRedirect: boolean;
  metadata: unknown;
  fault: CompiledFault | null;
  mirrorPolicies: RequestMirrorPolicy[];
  common: CommonConfig;
}

// Shared empty lists: a 10,000-route table should not allocate 40,000 empty arrays.
const NO_MATCHERS: HeaderMatcher[] = [];
const NO_QUERY_MATCHERS: QueryParameterMatcher[] = [];
const NO_METADATA_MATCHERS: MetadataMatcher[] = [];
const NO_HASH_POLICY: CompiledHashPolicy[] = [];
const NO_MIRROR_POLICIES: RequestMirrorPolicy[] = [];

/** The SSL redirect route of a virtual host with require_tls (Envoy's SslRedirectRoute). */
export function sslRedirectRoute(vh: VirtualHost, common: CommonConfig): RouteEntry {
  return new RouteEntry(baseParts('', vh, -1, 'redirect', common, true));
}

function baseParts(name: string, vh: VirtualHost, index: number, kind: RouteKind, common: CommonConfig, ssl: boolean): RouteEntryParts {
  return {
    name,
    virtualHost: vh,
    index,
    kind,
    pathKind: PATH_NONE,
    pathValue: '',
    caseSensitive: true,
    pathRegex: null,
    headerMatchers: NO_MATCHERS,
    queryParameterMatchers: NO_QUERY_MATCHERS,
    runtimeKey: null,
    runtimeNumerator: 0,
    runtimeDenominator: 100,
    grpc: false,
    tlsPresented: null,
    tlsValidated: null,
    dynamicMetadataMatchers: NO_METADATA_MATCHERS,
    clusterName: null,
    clusterHeader: null,
    weightedClusters: null,
    picker: null,
    pickMode: null,
    stickyKey: null,
    randomValueHeader: null,
    prefixRewrite: null,
    regexRewrite: null,
    hostRewriteLiteral: null,
    autoHostRewrite: false,
    hostRewriteHeader: null,
    hostRewritePathRegex: null,
    timeoutMs: DEFAULT_ROUTE_TIMEOUT_MS,
    idleTimeoutMs: null,
    retryPolicy: null,
    hashPolicy: NO_HASH_POLICY,
    clusterNotFoundResponseCode: 503,
    appendXForwardedHost: false,
    redirect: null,
    directResponse: null,
    requestHeaderParser: EMPTY_HEADER_PARSER,
    responseHeaderParser: EMPTY_HEADER_PARSER,
    isSslRedirect: ssl,
    metadata: undefined,
    fault: null,
    mirrorPolicies: NO_MIRROR_POLICIES,
    common,
  };
}

// ---- compile ------------------------------------------------------------------------------------

// Oneof members in Envoy's declaration order (the first set one wins; a second is reported).
const ROUTE_ACTIONS = ['route', 'redirect', 'direct_response', 'filter_action', 'non_forwarding_action'] as const;
const PATH_SPECIFIERS = ['prefix', 'path', 'safe_regex', 'connect_matcher', 'path_separated_prefix', 'path_match_policy'] as const;
const CLUSTER_SPECIFIERS = ['cluster', 'cluster_header', 'weighted_clusters', 'cluster_specifier_plugin', 'inline_cluster_specifier_plugin'] as const;
const HOST_REWRITE_SPECIFIERS = ['host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header', 'host_rewrite_path_regex'] as const;

export function readRoute(
  r: ConfigReader,
  raw: unknown,
  path: string,
  vh: VirtualHost,
  index: number,
  common: CommonConfig,
  vhostRetryPolicy: CompiledRetryPolicy | null,
): RouteEntry | null {
  const before = r.errors.length;
  if (!isObject(raw)) {
    r.error(path, 'expected an object');
    return null;
  }
  // Fields are read as literal loads (config-reader `fields`/`either`): ~75 per route, most absent.
  const o = raw;
  const directResponse = either(o.direct_response, o.directResponse);
  const a = r.oneofOf(
    path,
    'action',
    ROUTE_ACTIONS,
    o.route,
    o.redirect,
    directResponse,
    either(o.filter_action, o.filterAction),
    either(o.non_forwarding_action, o.nonForwardingAction),
  );
  if (a === -1) {
    r.error(path, 'one of route, redirect, direct_response, filter_action or non_forwarding_action is required');
  }
  const kind: RouteKind = a === 1 ? 'redirect' : a === 2 ? 'direct_response' : a === 0 ? 'route' : 'filter_action';
  const p = baseParts(r.stringOf(o.name, path, 'name') ?? '', vh, index, kind, common, false);
  const metadata = o.metadata;
  p.metadata = metadata;

  readMatch(r, o.match, path, p);

  if (a === 0) readRouteAction(r, r.objectOf(o.route, path, 'route'), join(path, 'route'), p, vhostRetryPolicy);
  else if (a === 1) p.redirect = readRedirect(r, r.objectOf(o.redirect, path, 'redirect'), join(path, 'redirect'));
  else if (a === 2) {
    p.directResponse = readDirectResponse(r, r.objectOf(directResponse, path, 'direct_response'), join(path, 'direct_response'), common);
  }

  p.requestHeaderParser = readHeaderParserOf(
    r,
    either(o.request_headers_to_add, o.requestHeadersToAdd),
    either(o.request_headers_to_remove, o.requestHeadersToRemove),
    'request_headers_to_add',
    'request_headers_to_remove',
    path,
  );
  p.responseHeaderParser = readHeaderParserOf(
    r,
    either(o.response_headers_to_add, o.responseHeadersToAdd),
    either(o.response_headers_to_remove, o.responseHeadersToRemove),
    'response_headers_to_add',
    'response_headers_to_remove',
    path,
  );
  readPickMode(r, metadata, path, p, common);
  readTypedPerFilterConfig(r, either(o.typed_per_filter_config, o.typedPerFilterConfig), path, p);
  if (r.errors.length !== before) return null;
  return new RouteEntry(p);
}

function readMatch(r: ConfigReader, matchValue: unknown, path: string, p: RouteEntryParts): void {
  const mp = join(path, 'match');
  const m = r.objectOf(matchValue, path, 'match');
  if (m === undefined) {
    r.error(mp, 'match is required');
    return;
  }
  const safeRegex = either(m.safe_regex, m.safeRegex);
  const separated = either(m.path_separated_prefix, m.pathSeparatedPrefix);
  const si = r.oneofOf(
    mp,
    'path_specifier',
    PATH_SPECIFIERS,
    m.prefix,
    m.path,
    safeRegex,
    either(m.connect_matcher, m.connectMatcher),
    separated,
    either(m.path_match_policy, m.pathMatchPolicy),
  );
  const spec = si === -1 ? undefined : PATH_SPECIFIERS[si];
  p.caseSensitive = r.boolOf(either(m.case_sensitive, m.caseSensitive), mp, 'case_sensitive') ?? true;
  switch (spec) {
    case 'prefix':
      p.pathKind = PATH_PREFIX;
      p.pathValue = r.stringOf(m.prefix, mp, 'prefix') ?? '';
      break;
    case 'path':
      p.pathKind = PATH_EXACT;
      p.pathValue = r.stringOf(m.path, mp, 'path') ?? '';
      break;
    case 'path_separated_prefix': {
      p.pathKind = PATH_SEPARATED_PREFIX;
      const v = r.stringOf(separated, mp, 'path_separated_prefix') ?? '';
      // PGV: pattern ^[^?#]+[^?#/]$.
      if (!/^[^?#]+[^?#/]$/.test(v)) {
        r.error(join(mp, 'path_separated_prefix'), `${JSON.stringify(v)} must not contain ? or #, must not end with /, and needs at least 2 characters`);
      }
      p.pathValue = v;
      break;
    }
    case 'safe_regex': {
      p.pathKind = PATH_REGEX;
      p.pathRegex = readRegexMatcher(r, safeRegex, join(mp, 'safe_regex'));
      // Envoy: case_sensitive does not apply to safe_regex (use (?i) in the pattern).
      p.caseSensitive = true;
      break;
    }
    case 'connect_matcher':
      r.error(join(mp, 'connect_matcher'), 'CONNECT routes are not supported');
      break;
    case 'path_match_policy':
      r.error(join(mp, 'path_match_policy'), 'path_match_policy extensions (uri templates) are not supported');
      break;
    default:
      r.error(mp, 'one of prefix, path, safe_regex or path_separated_prefix is required');
  }
  if (m.headers !== undefined) {
    const headers = readHeaderMatchers(r, m, 'headers', mp);
    if (headers.length !== 0) p.headerMatchers = headers;
  }
  const qps = r.arrayOf(either(m.query_parameters, m.queryParameters), mp, 'query_parameters');
  if (qps.length !== 0) p.queryParameterMatchers = [];
  for (let i = 0; i < qps.length; i++) {
    const qp = `${join(mp, 'query_parameters')}[${i}]`;
    const q = qps[i];
    const name = r.string(q, 'name', qp);
    if (name === undefined || name === '') {
      r.error(join(qp, 'name'), 'query parameter name is required');
      continue;
    }
    const which = r.oneof(q, ['string_match', 'present_match'], qp, 'query_parameter_match_specifier');
    let sm: StringMatcher | null = null;
    if (which === 'string_match') {
      sm = readStringMatcher(r, field(q, 'string_match'), join(qp, 'string_match'));
      if (sm === null) continue;
    } else if (which === 'present_match') {
      r.bool(q, 'present_match', qp);
    }
    p.queryParameterMatchers.push(new QueryParameterMatcher(name, sm));
  }
  const rf = r.objectOf(either(m.runtime_fraction, m.runtimeFraction), mp, 'runtime_fraction');
  if (rf !== undefined) {
    const rfp = join(mp, 'runtime_fraction');
    p.runtimeKey = r.string(rf, 'runtime_key', rfp) ?? '';
    const dv = r.object(rf, 'default_value', rfp);
    const dvp = join(rfp, 'default_value');
    p.runtimeNumerator = r.uint(dv, 'numerator', dvp, MAX_UINT32) ?? 0;
    const d = r.enumValue(dv, 'denominator', dvp, DENOMINATORS) ?? 0;
    p.runtimeDenominator = DENOMINATOR_VALUES[d] ?? 100;
  }
  const grpc = m.grpc;
  if (grpc !== undefined && grpc !== null) {
    if (!isObject(grpc)) r.error(join(mp, 'grpc'), 'expected an object ({})');
    p.grpc = true;
  }
  const tls = r.objectOf(either(m.tls_context, m.tlsContext), mp, 'tls_context');
  if (tls !== undefined) {
    const tp = join(mp, 'tls_context');
    p.tlsPresented = r.bool(tls, 'presented', tp) ?? null;
    p.tlsValidated = r.bool(tls, 'validated', tp) ?? null;
  }
  const dms = r.arrayOf(either(m.dynamic_metadata, m.dynamicMetadata), mp, 'dynamic_metadata');
  if (dms.length !== 0) p.dynamicMetadataMatchers = [];
  for (let i = 0; i < dms.length; i++) {
    const dm = readMetadataMatcher(r, dms[i], `${join(mp, 'dynamic_metadata')}[${i}]`);
    if (dm !== null) p.dynamicMetadataMatchers.push(dm);
  }
  if (r.arrayOf(either(m.filter_state, m.filterState), mp, 'filter_state').length > 0) {
    r.error(join(mp, 'filter_state'), 'filter_state matchers are not supported');
  }
  if (either(m.cel_matcher, m.celMatcher) !== undefined) r.error(join(mp, 'cel_matcher'), 'cel_matcher is not supported');
}

function readRouteAction(r: ConfigReader, ra: JsonObject | undefined, path: string, p: RouteEntryParts, vhostRetryPolicy: CompiledRetryPolicy | null): void {
  if (ra === undefined) return;
  const clusterHeaderValue = either(ra.cluster_header, ra.clusterHeader);
  const weighted = either(ra.weighted_clusters, ra.weightedClusters);
  const si = r.oneofOf(
    path,
    'cluster_specifier',
    CLUSTER_SPECIFIERS,
    ra.cluster,
    clusterHeaderValue,
    weighted,
    either(ra.cluster_specifier_plugin, ra.clusterSpecifierPlugin),
    either(ra.inline_cluster_specifier_plugin, ra.inlineClusterSpecifierPlugin),
  );
  const spec = si === -1 ? undefined : CLUSTER_SPECIFIERS[si];
  switch (spec) {
    case 'cluster': {
      const c = r.stringOf(ra.cluster, path, 'cluster') ?? '';
      if (c === '') r.error(join(path, 'cluster'), 'must not be empty');
      p.clusterName = c;
      break;
    }
    case 'cluster_header': {
      const h = r.stringOf(clusterHeaderValue, path, 'cluster_header') ?? '';
      if (h === '') r.error(join(path, 'cluster_header'), 'must not be empty');
      p.clusterHeader = h.toLowerCase();
      break;
    }
    case 'weighted_clusters':
      readWeightedClusters(r, r.objectOf(weighted, path, 'weighted_clusters'), join(path, 'weighted_clusters'), p);
      break;
    case 'cluster_specifier_plugin':
    case 'inline_cluster_specifier_plugin':
      r.error(join(path, spec), 'cluster specifier plugins are not supported');
      break;
    default:
      r.error(path, 'one of cluster, cluster_header or weighted_clusters is required');
  }

  const pr = r.stringOf(either(ra.prefix_rewrite, ra.prefixRewrite), path, 'prefix_rewrite');
  if (pr !== undefined && pr !== '') p.prefixRewrite = pr;
  const rr = r.objectOf(either(ra.regex_rewrite, ra.regexRewrite), path, 'regex_rewrite');
  if (rr !== undefined) p.regexRewrite = readRewrite(r, rr, join(path, 'regex_rewrite'));
  if (either(ra.path_rewrite_policy, ra.pathRewritePolicy) !== undefined) {
    r.error(join(path, 'path_rewrite_policy'), 'path_rewrite_policy extensions are not supported');
  }
  if (p.prefixRewrite !== null && rr !== undefined) {
    r.error(path, 'Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy');
  }

  const hostLiteral = either(ra.host_rewrite_literal, ra.hostRewriteLiteral);
  const autoHost = either(ra.auto_host_rewrite, ra.autoHostRewrite);
  const hostHeader = either(ra.host_rewrite_header, ra.hostRewriteHeader);
  const hostRegex = either(ra.host_rewrite_path_regex, ra.hostRewritePathRegex);
  const hi = r.oneofOf(path, 'host_rewrite_specifier', HOST_REWRITE_SPECIFIERS, hostLiteral, autoHost, hostHeader, hostRegex);
  if (hi === 0) {
    const h = r.stringOf(hostLiteral, path, 'host_rewrite_literal') ?? '';
    if (h !== '') p.hostRewriteLiteral = h;
  } else if (hi === 1) {
    p.autoHostRewrite = r.boolOf(autoHost, path, 'auto_host_rewrite') ?? false;
  } else if (hi === 2) {
    const h = r.stringOf(hostHeader, path, 'host_rewrite_header') ?? '';
    if (h !== '') p.hostRewriteHeader = h.toLowerCase();
  } else if (hi === 3) {
    p.hostRewritePathRegex = readRewrite(r, r.objectOf(hostRegex, path, 'host_rewrite_path_regex'), join(path, 'host_rewrite_path_regex'));
  }

  const t = r.durationMsOf(ra.timeout, path, 'timeout');
  p.timeoutMs = t === undefined ? DEFAULT_ROUTE_TIMEOUT_MS : t;
  p.idleTimeoutMs = r.durationMsOf(either(ra.idle_timeout, ra.idleTimeout), path, 'idle_timeout') ?? null;

  // Route-specific retry policy wins; else the virtual host's (RouteEntryImplBase::buildRetryPolicy).
  const rp = r.objectOf(either(ra.retry_policy, ra.retryPolicy), path, 'retry_policy');
  if (rp !== undefined) p.retryPolicy = readRetryPolicy(r, rp, join(path, 'retry_policy'));
  else p.retryPolicy = vhostRetryPolicy;
  const cnf =
    r.enumValueOf(either(ra.cluster_not_found_response_code, ra.clusterNotFoundResponseCode), path, 'cluster_not_found_response_code', CLUSTER_NOT_FOUND_CODES) ?? 0;
  p.clusterNotFoundResponseCode = CLUSTER_NOT_FOUND_STATUS[cnf] ?? 503;
  p.appendXForwardedHost = r.boolOf(either(ra.append_x_forwarded_host, ra.appendXForwardedHost), path, 'append_x_forwarded_host') ?? false;

  readMirrorPolicies(r, ra, path, p);

  const hps = r.arrayOf(either(ra.hash_policy, ra.hashPolicy), path, 'hash_policy');
  if (hps.length !== 0) p.hashPolicy = [];
  for (let i = 0; i < hps.length; i++) {
    const hp = readHashPolicy(r, hps[i], `${join(path, 'hash_policy')}[${i}]`);
    if (hp !== null) p.hashPolicy.push(hp);
  }
}

function readWeightedClusters(r: ConfigReader, wcs: JsonObject | undefined, path: string, p: RouteEntryParts): void {
  if (wcs === undefined) return;
  const list = r.arrayOf(wcs.clusters, path, 'clusters');
  if (list.length === 0) {
    r.error(join(path, 'clusters'), 'at least one cluster is required');
    return;
  }
  // total_weight is deprecated and ignored; runtime_key_prefix is ignored (weights come from config).
  r.uintOf(either(wcs.total_weight, wcs.totalWeight), path, 'total_weight', MAX_UINT32);
  r.stringOf(either(wcs.runtime_key_prefix, wcs.runtimeKeyPrefix), path, 'runtime_key_prefix');
  const header = r.stringOf(either(wcs.header_name, wcs.headerName), path, 'header_name');
  if (header !== undefined && header !== '') p.randomValueHeader = header.toLowerCase();
  // Exact size (a pushed-to list keeps spare capacity for as long as the route table lives).
  const out = new Array<WeightedCluster>(list.length);
  let count = 0;
  const errorsBefore = r.errors.length;
  let sum = 0;
  for (let i = 0; i < list.length; i++) {
    const cp = `${join(path, 'clusters')}[${i}]`;
    const c = list[i];
    if (!isObject(c)) {
      r.error(cp, 'expected an object');
      continue;
    }
    const name = r.stringOf(c.name, cp, 'name') ?? '';
    const clusterHeader = (r.stringOf(either(c.cluster_header, c.clusterHeader), cp, 'cluster_header') ?? '').toLowerCase();
    if ((name === '') === (clusterHeader === '')) {
      r.error(cp, name === '' ? 'At least one of name or cluster_header need to be specified' : 'Only one of name or cluster_header can be specified');
    }
    const weight = r.uintOf(c.weight, cp, 'weight', MAX_UINT32) ?? 0;
    sum += weight;
    out[count++] = (
      new WeightedCluster(
        name,
        weight,
        clusterHeader,
        r.stringOf(either(c.host_rewrite_literal, c.hostRewriteLiteral), cp, 'host_rewrite_literal') ?? '',
        readHeaderParserOf(
          r,
          either(c.request_headers_to_add, c.requestHeadersToAdd),
          either(c.request_headers_to_remove, c.requestHeadersToRemove),
          'request_headers_to_add',
          'request_headers_to_remove',
          cp,
        ),
        readHeaderParserOf(
          r,
          either(c.response_headers_to_add, c.responseHeadersToAdd),
          either(c.response_headers_to_remove, c.responseHeadersToRemove),
          'response_headers_to_add',
          'response_headers_to_remove',
          cp,
        ),
        either(c.metadata_match, c.metadataMatch),
      )
    );
  }
  if (count !== list.length || r.errors.length !== errorsBefore) return;
  if (sum === 0) {
    r.error(path, 'sum of weights is 0');
    return;
  }
  if (sum > MAX_UINT32) {
    r.error(path, `sum of weights ${sum} exceeds ${MAX_UINT32}`);
    return;
  }
  p.weightedClusters = out;
}

function readRewrite(r: ConfigReader, obj: unknown, path: string): RegexRewrite | null {
  if (obj === undefined) return null;
  const pat = r.object(obj, 'pattern', path);
  const re = r.string(pat, 'regex', join(path, 'pattern'));
  const sub = r.string(obj, 'substitution', path) ?? '';
  if (re === undefined) {
    r.error(join(path, 'pattern.regex'), 'regex is required');
    return null;
  }
  const c = compileRewrite(re, sub);
  if (c.error !== undefined) {
    r.error(path, c.error);
    return null;
  }
  return c.rewrite as RegexRewrite;
}

const RETRY_BASE_DEFAULT_MS = 25;

export function readRetryPolicy(r: ConfigReader, rp: unknown, path: string): CompiledRetryPolicy {
  const retryOn = (r.string(rp, 'retry_on', path) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const codes: number[] = [];
  const cl = r.array(rp, 'retriable_status_codes', path);
  for (let i = 0; i < cl.length; i++) {
    const v = cl[i];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) codes.push(v);
    else r.error(`${join(path, 'retriable_status_codes')}[${i}]`, `expected a status code, got ${JSON.stringify(v)}`);
  }
  let base = RETRY_BASE_DEFAULT_MS;
  let max = base * 10;
  const bo = r.object(rp, 'retry_back_off', path);
  if (bo !== undefined) {
    const bp = join(path, 'retry_back_off');
    const b = r.durationMs(bo, 'base_interval', bp);
    if (b === undefined) r.error(join(bp, 'base_interval'), 'base_interval is required');
    base = Math.max(1, b ?? RETRY_BASE_DEFAULT_MS);
    const m = r.durationMs(bo, 'max_interval', bp);
    if (m !== undefined) {
      max = Math.max(1, m);
      if (max < base) r.error(join(bp, 'max_interval'), 'retry_policy.max_interval must greater than or equal to the base_interval');
    } else {
      max = base * 10;
    }
  }
  return {
    retryOn,
    numRetries: r.uint(rp, 'num_retries', path, MAX_UINT32) ?? 1,
    perTryTimeoutMs: r.durationMs(rp, 'per_try_timeout', path) ?? 0,
    perTryIdleTimeoutMs: r.durationMs(rp, 'per_try_idle_timeout', path) ?? 0,
    retriableStatusCodes: codes,
    retryBackOff: { baseIntervalMs: base, maxIntervalMs: max },
    retriableHeaders: readHeaderMatchers(r, rp, 'retriable_headers', path),
    retriableRequestHeaders: readHeaderMatchers(r, rp, 'retriable_request_headers', path),
    hostSelectionRetryMaxAttempts: r.uint(rp, 'host_selection_retry_max_attempts', path) ?? 1,
  };
}

function readHashPolicy(r: ConfigReader, hp: unknown, path: string): CompiledHashPolicy | null {
  const terminal = r.bool(hp, 'terminal', path) ?? false;
  const which = r.oneof(hp, ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state'], path, 'policy_specifier');
  switch (which) {
    case 'header': {
      const hpp = join(path, 'header');
      const h = r.object(hp, 'header', path);
      const name = r.string(h, 'header_name', hpp) ?? '';
      if (name === '') r.error(join(hpp, 'header_name'), 'header_name is required');
      const rw = r.object(h, 'regex_rewrite', hpp);
      return { kind: 'header', headerName: name.toLowerCase(), regexRewrite: rw === undefined ? null : readRewrite(r, rw, join(hpp, 'regex_rewrite')), terminal };
    }
    case 'cookie': {
      const cp = join(path, 'cookie');
      const c = r.object(hp, 'cookie', path);
      const name = r.string(c, 'name', cp) ?? '';
      if (name === '') r.error(join(cp, 'name'), 'cookie name is required');
      const attrs: { name: string; value: string }[] = [];
      const al = r.array(c, 'attributes', cp);
      for (let i = 0; i < al.length; i++) {
        const ap = `${join(cp, 'attributes')}[${i}]`;
        attrs.push({ name: r.string(al[i], 'name', ap) ?? '', value: r.string(al[i], 'value', ap) ?? '' });
      }
      return { kind: 'cookie', name, ttlMs: r.durationMs(c, 'ttl', cp) ?? null, path: r.string(c, 'path', cp) ?? '', attributes: attrs, terminal };
    }
    case 'connection_properties': {
      const cp = r.object(hp, 'connection_properties', path);
      r.bool(cp, 'source_ip', join(path, 'connection_properties'));
      return { kind: 'source_ip', terminal };
    }
    case 'query_parameter': {
      const qp = join(path, 'query_parameter');
      const name = r.string(r.object(hp, 'query_parameter', path), 'name', qp) ?? '';
      if (name === '') r.error(join(qp, 'name'), 'name is required');
      return { kind: 'query_parameter', name, terminal };
    }
    case 'filter_state': {
      const fp = join(path, 'filter_state');
      const key = r.string(r.object(hp, 'filter_state', path), 'key', fp) ?? '';
      if (key === '') r.error(join(fp, 'key'), 'key is required');
      return { kind: 'filter_state', key, terminal };
    }
    default:
      r.error(path, 'one of header, cookie, connection_properties, query_parameter or filter_state is required');
      return null;
  }
}

function readRedirect(r: ConfigReader, rd: unknown, path: string): CompiledRedirect | null {
  if (rd === undefined) return null;
  const schemeSpec = r.oneof(rd, ['https_redirect', 'scheme_redirect'], path, 'scheme_rewrite_specifier');
  const pathSpec = r.oneof(rd, ['path_redirect', 'prefix_rewrite', 'regex_rewrite'], path, 'path_rewrite_specifier');
  const scheme = schemeSpec === 'scheme_redirect' ? (r.string(rd, 'scheme_redirect', path) ?? '') : '';
  const https = schemeSpec === 'https_redirect' ? (r.bool(rd, 'https_redirect', path) ?? false) : false;
  const port = r.uint(rd, 'port_redirect', path, MAX_UINT32) ?? 0;
  let regex: RegexRewrite | null = null;
  if (pathSpec === 'regex_rewrite') regex = readRewrite(r, r.object(rd, 'regex_rewrite', path), join(path, 'regex_rewrite'));
  const code = r.enumValue(rd, 'response_code', path, REDIRECT_CODES) ?? 0;
  const host = r.string(rd, 'host_redirect', path) ?? '';
  const pathRedirect = pathSpec === 'path_redirect' ? (r.string(rd, 'path_redirect', path) ?? '') : '';
  const prefixRewrite = pathSpec === 'prefix_rewrite' ? (r.string(rd, 'prefix_rewrite', path) ?? '') : '';
  // They end up in the `location` header: Envoy's HTTP_HEADER_VALUE rule (no NUL, CR, LF).
  const parts: [string, string][] = [['scheme_redirect', scheme], ['host_redirect', host], ['path_redirect', pathRedirect], ['prefix_rewrite', prefixRewrite]];
  for (const [name, v] of parts) if (/[\0\r\n]/.test(v)) r.error(join(path, name), 'contains NUL, CR or LF');
  return new CompiledRedirect(
    scheme,
    https,
    host,
    port === 0 ? '' : `:${port}`,
    pathRedirect,
    prefixRewrite,
    regex,
    r.bool(rd, 'strip_query', path) ?? false,
    REDIRECT_STATUS[code] ?? 301,
  );
}

function readDirectResponse(r: ConfigReader, dr: unknown, path: string, common: CommonConfig): { status: number; body: string } | null {
  if (dr === undefined) return null;
  const status = r.uint(dr, 'status', path) ?? 0;
  if (status < 200 || status >= 600) r.error(join(path, 'status'), `status ${status} must be in [200, 600)`);
  let body = '';
  const b = r.object(dr, 'body', path);
  if (b !== undefined) {
    const bp = join(path, 'body');
    const which = r.oneof(b, ['inline_string', 'inline_bytes', 'filename', 'environment_variable'], bp, 'specifier');
    if (which === 'inline_string') body = r.string(b, 'inline_string', bp) ?? '';
    else if (which === 'inline_bytes') body = Buffer.from(r.string(b, 'inline_bytes', bp) ?? '', 'base64').toString('latin1');
    else if (which === 'filename' || which === 'environment_variable') {
      // route/ does no I/O: the loader must inline the file (or variable) before compiling.
      r.error(join(bp, which), `${which} bodies are not supported here: inline the content as inline_string`);
    }
    const bytes = Buffer.byteLength(body, which === 'inline_bytes' ? 'latin1' : 'utf8');
    if (bytes > common.maxDirectResponseBodySizeBytes) {
      r.error(bp, `response body size is ${bytes} bytes; maximum is ${common.maxDirectResponseBodySizeBytes}`);
    }
  }
  return { status, body };
}

/**
 * weir's opt-in pick mode: route `metadata.filter_metadata.weir` may hold
 * `pick_mode: random|sticky|smooth` and, for sticky, `sticky_key: {cookie: <name>}` or
 * `{header: <name>}`. Default: CompileOptions.defaultPickMode, else random. A sticky request
 * without the key falls back to the random value.
 */
function readPickMode(r: ConfigReader, metadata: unknown, path: string, p: RouteEntryParts, common: CommonConfig): void {
  const md = fields(metadata);
  const fm = either(md.filter_metadata, md.filterMetadata);
  const weir = isObject(fm) ? fm['weir'] : undefined;
  if (weir === undefined && p.weightedClusters === null) return;
  const mdPath = join(path, 'metadata.filter_metadata.weir');
  let mode: PickMode = common.defaultPickMode;
  let explicit = false;
  if (weir !== undefined) {
    if (!isObject(weir)) {
      r.error(mdPath, 'expected an object');
      return;
    }
    const m = r.string(weir, 'pick_mode', mdPath);
    if (m !== undefined) {
      if (m !== 'random' && m !== 'sticky' && m !== 'smooth') {
        r.error(join(mdPath, 'pick_mode'), `unknown pick mode ${JSON.stringify(m)} (expected random, sticky or smooth)`);
        return;
      }
      mode = m;
      explicit = true;
    }
    const sk = r.object(weir, 'sticky_key', mdPath);
    if (sk !== undefined) {
      const skp = join(mdPath, 'sticky_key');
      const cookie = r.string(sk, 'cookie', skp);
      const header = r.string(sk, 'header', skp);
      if ((cookie === undefined || cookie === '') === (header === undefined || header === '')) {
        r.error(skp, 'exactly one of cookie or header is required');
      } else if (cookie !== undefined && cookie !== '') p.stickyKey = { cookie };
      else p.stickyKey = { header: (header as string).toLowerCase() };
    }
  }
  if (p.weightedClusters === null) return;
  if (mode === 'sticky' && p.stickyKey === null) {
    r.error(
      explicit ? join(mdPath, 'pick_mode') : mdPath,
      explicit
        ? 'pick_mode sticky needs sticky_key: {cookie: <name>} or {header: <name>}'
        : 'the default pick mode is sticky, which needs sticky_key: {cookie: <name>} or {header: <name>} here (or pick_mode: random)',
    );
    return;
  }
  const compiled = WeightedPicker.compile(
    p.weightedClusters.map((c) => c.weight),
    mode,
    p.weightedClusters.map((c) => (c.name !== '' ? c.name : c.clusterHeader)),
  );
  if (compiled.errors !== undefined) {
    for (const e of compiled.errors) r.error(join(path, 'route.weighted_clusters'), e);
    return;
  }
  p.picker = compiled.value;
  p.pickMode = mode;
}

// ---- envoy.filters.http.fault and request mirroring ----------------------------------------------

export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';
const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

/**
 * envoy.extensions.filters.http.fault.v3.HTTPFault, compiled. Percentages are FractionalPercent
 * (`random % denominator < numerator`); an absent percentage is numerator 0 (never), as the proto
 * default is. `delayMs` / `abortStatus` 0: that fault is not configured.
 */
export interface CompiledFault {
  readonly delayMs: number;
  readonly delayNumerator: number;
  readonly delayDenominator: number;
  readonly abortStatus: number;
  readonly abortNumerator: number;
  readonly abortDenominator: number;
  /** max_active_faults; 0 = unlimited. */
  readonly maxActiveFaults: number;
  /** HTTPFault.headers: the fault applies only to requests matching all of them. */
  readonly headers: readonly HeaderMatcher[];
}

/** A per-route config that turns the fault filter off for the route (FilterConfig.disabled). */
export const NO_FAULT: CompiledFault = Object.freeze({
  delayMs: 0,
  delayNumerator: 0,
  delayDenominator: 100,
  abortStatus: 0,
  abortNumerator: 0,
  abortDenominator: 100,
  maxActiveFaults: 0,
  headers: NO_MATCHERS,
});

function readPercent(r: ConfigReader, obj: unknown, path: string): [number, number] {
  const pct = r.object(obj, 'percentage', path);
  if (pct === undefined) return [0, 100];
  const pp = join(path, 'percentage');
  const n = r.uint(pct, 'numerator', pp, MAX_UINT32) ?? 0;
  const d = DENOMINATOR_VALUES[r.enumValue(pct, 'denominator', pp, DENOMINATORS) ?? 0] ?? 100;
  return [n, d];
}

/** Compiles an HTTPFault (listener-level typed_config or a route's per-filter config). */
export function readHttpFault(r: ConfigReader, raw: unknown, path: string): CompiledFault {
  let delayMs = 0;
  let delayNumerator = 0;
  let delayDenominator = 100;
  let abortStatus = 0;
  let abortNumerator = 0;
  let abortDenominator = 100;
  const delay = r.object(raw, 'delay', path);
  if (delay !== undefined) {
    const dp = join(path, 'delay');
    if (field(delay, 'header_delay') !== undefined) r.error(join(dp, 'header_delay'), 'header-controlled delays are not supported');
    const ms = r.durationMs(delay, 'fixed_delay', dp);
    if (ms === undefined && field(delay, 'header_delay') === undefined) r.error(join(dp, 'fixed_delay'), 'is required');
    delayMs = ms ?? 0;
    [delayNumerator, delayDenominator] = readPercent(r, delay, dp);
  }
  const abort = r.object(raw, 'abort', path);
  if (abort !== undefined) {
    const ap = join(path, 'abort');
    const which = r.oneof(abort, ['http_status', 'grpc_status', 'header_abort'], ap, 'error_type');
    if (which === 'http_status') {
      const st = r.uint(abort, 'http_status', ap) ?? 0;
      // PGV: uint32 {gte: 200, lt: 600}.
      if (st < 200 || st >= 600) r.error(join(ap, 'http_status'), `must be in 200..599, got ${st}`);
      else abortStatus = st;
    } else if (which !== undefined) r.error(join(ap, which), 'only http_status aborts are supported');
    else r.error(ap, 'http_status is required');
    [abortNumerator, abortDenominator] = readPercent(r, abort, ap);
  }
  if (field(raw, 'upstream_cluster') !== undefined) r.error(join(path, 'upstream_cluster'), 'not supported');
  if (r.array(raw, 'downstream_nodes', path).length > 0) r.error(join(path, 'downstream_nodes'), 'not supported');
  const maxActiveFaults = r.uint(raw, 'max_active_faults', path, MAX_UINT32) ?? 0;
  const headers = readHeaderMatchers(r, raw, 'headers', path);
  return {
    delayMs,
    delayNumerator,
    delayDenominator,
    abortStatus,
    abortNumerator,
    abortDenominator,
    maxActiveFaults,
    headers: headers.length === 0 ? NO_MATCHERS : headers,
  };
}

/** Does the fault's `headers` list match? (Envoy: all must match.) */
export function faultHeadersMatch(f: CompiledFault, req: RequestView): boolean {
  return f.headers.length === 0 || matchAllHeaders(f.headers, req, true);
}

/**
 * A route's typed_per_filter_config: the fault filter's entry is compiled (bare HTTPFault or
 * wrapped in envoy.config.route.v3.FilterConfig); other filters' entries are left for them (weir
 * skips those filters).
 */
function readTypedPerFilterConfig(r: ConfigReader, value: unknown, path: string, p: RouteEntryParts): void {
  const tpf = r.objectOf(value, path, 'typed_per_filter_config');
  if (tpf === undefined) return;
  const v = tpf[FAULT_FILTER_NAME];
  if (v === undefined || v === null) return;
  const fp = `${join(path, 'typed_per_filter_config')}["${FAULT_FILTER_NAME}"]`;
  if (!isObject(v)) {
    r.error(fp, 'expected an object');
    return;
  }
  if (v['@type'] === FILTER_CONFIG_TYPE) {
    if (r.bool(v, 'disabled', fp) === true) {
      p.fault = NO_FAULT;
      return;
    }
    p.fault = readHttpFault(r, r.object(v, 'config', fp) ?? {}, join(fp, 'config'));
    return;
  }
  p.fault = readHttpFault(r, v, fp);
}

/** RouteAction.RequestMirrorPolicy, compiled. */
export interface RequestMirrorPolicy {
  /** The mirror cluster, or '' when it comes from `clusterHeader`. */
  readonly cluster: string;
  /** cluster_header, lower-cased, or ''. */
  readonly clusterHeader: string;
  /** runtime_fraction.default_value (100% when runtime_fraction is absent). */
  readonly numerator: number;
  readonly denominator: number;
  /** disable_shadow_host_suffix_append. */
  readonly disableShadowHostSuffixAppend: boolean;
}

function readMirrorPolicy(r: ConfigReader, m: unknown, path: string): RequestMirrorPolicy | null {
  if (!isObject(m)) {
    r.error(path, 'expected an object');
    return null;
  }
  const cluster = r.string(m, 'cluster', path) ?? '';
  const clusterHeader = (r.string(m, 'cluster_header', path) ?? '').toLowerCase();
  if ((cluster === '') === (clusterHeader === '')) {
    r.error(path, cluster === '' ? 'one of cluster or cluster_header is required' : 'only one of cluster or cluster_header can be specified');
    return null;
  }
  let numerator = 100;
  let denominator = 100;
  const rf = r.object(m, 'runtime_fraction', path);
  if (rf !== undefined) {
    // runtime_key is not consulted (weir has no runtime layer for it); default_value decides.
    const rfp = join(path, 'runtime_fraction');
    const dv = r.object(rf, 'default_value', rfp);
    const dvp = join(rfp, 'default_value');
    numerator = r.uint(dv, 'numerator', dvp, MAX_UINT32) ?? 0;
    denominator = DENOMINATOR_VALUES[r.enumValue(dv, 'denominator', dvp, DENOMINATORS) ?? 0] ?? 100;
  }
  r.bool(m, 'trace_sampled', path);
  const disableShadowHostSuffixAppend = r.bool(m, 'disable_shadow_host_suffix_append', path) ?? false;
  return { cluster, clusterHeader, numerator, denominator, disableShadowHostSuffixAppend };
}

function readMirrorPolicies(r: ConfigReader, ra: JsonObject, path: string, p: RouteEntryParts): void {
  const list = r.arrayOf(either(ra.request_mirror_policies, ra.requestMirrorPolicies), path, 'request_mirror_policies');
  const legacy = r.objectOf(either(ra.request_mirror_policy, ra.requestMirrorPolicy), path, 'request_mirror_policy');
  if (list.length === 0 && legacy === undefined) return;
  const out: RequestMirrorPolicy[] = [];
  for (let i = 0; i < list.length; i++) {
    const m = readMirrorPolicy(r, list[i], `${join(path, 'request_mirror_policies')}[${i}]`);
    if (m !== null) out.push(m);
  }
  if (legacy !== undefined) {
    const m = readMirrorPolicy(r, legacy, join(path, 'request_mirror_policy'));
    if (m !== null) out.push(m);
  }
  p.mirrorPolicies = out;
}
