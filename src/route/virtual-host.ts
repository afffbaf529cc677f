// One compiled envoy.config.route.v3.VirtualHost (Envoy's VirtualHostImpl / CommonVirtualHostImpl):
// require_tls, first-match-wins routes, virtual clusters, vhost-level header mutations.

import type { RequestView } from './types';
import type { CommonConfig } from './common-config';
import { EMPTY_HEADER_PARSER, type HeaderParser } from './header-parser';
import { matchAllHeaders, type HeaderMatcher } from './header-matcher';
import { forwardedProto, type RouteEntry } from './route-entry';

export type RequireTls = 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
export const REQUIRE_TLS_VALUES: readonly RequireTls[] = ['NONE', 'EXTERNAL_ONLY', 'ALL'];

export class VirtualCluster {
  readonly name: string;
  readonly headers: readonly HeaderMatcher[];
  constructor(name: string, headers: HeaderMatcher[]) {
    this.name = name;
    this.headers = headers;
  }
}

/** Envoy's CatchAllVirtualCluster: what a request gets when virtual clusters exist and none match. */
export const VIRTUAL_CLUSTER_OTHER = 'other';

/** Below this many routes a plain first-match scan is cheapest (and allocation-free). */
const SEGMENT_INDEX_MIN_ROUTES = 16;
const NO_INDEXES = new Int32Array(0);
/** Route counts per segment stay below 2^21; start * 2^21 + count stays an exact double. */
const SEGMENT_PACK = 2097152;

export class VirtualHost {
  readonly name: string;
  readonly domains: readonly string[];
  /** Filled once while compiling, frozen after. */
  readonly routes: readonly RouteEntry[];
  readonly virtualClusters: readonly VirtualCluster[];
  readonly requireTls: RequireTls;
  readonly requestHeaderParser: HeaderParser;
  readonly responseHeaderParser: HeaderParser;
  readonly metadata: unknown;
  /** The raw virtual-host retry_policy that routes without their own inherit (already validated). */
  readonly retryPolicyConfig: unknown;
  /** Envoy's SslRedirectRoute for require_tls; null when NONE. */
  sslRedirect: RouteEntry | null;
  readonly #individually: boolean;
  /**
   * First-path-segment index for large route lists: segment -> indexes (ascending) of the routes
   * that can only match paths starting with that segment; #wild holds every other route. Scanning
   * the merge of both in index order is exactly Envoy's first-match scan, minus routes that cannot
   * match. Null below SEGMENT_INDEX_MIN_ROUTES.
   */
  #segmentIndex: Map<string, number> | null;
  #segmentOrder: Int32Array;
  #wild: Int32Array;

  constructor(
    name: string,
    domains: string[],
    virtualClusters: VirtualCluster[],
    requireTls: RequireTls,
    requestHeaderParser: HeaderParser,
    responseHeaderParser: HeaderParser,
    metadata: unknown,
    retryPolicyConfig: unknown,
    common: CommonConfig,
  ) {
    this.name = name;
    this.domains = domains;
    this.routes = [];
    this.virtualClusters = virtualClusters;
    this.requireTls = requireTls;
    this.requestHeaderParser = requestHeaderParser ?? EMPTY_HEADER_PARSER;
    this.responseHeaderParser = responseHeaderParser ?? EMPTY_HEADER_PARSER;
    this.metadata = metadata;
    this.retryPolicyConfig = retryPolicyConfig;
    this.sslRedirect = null;
    this.#individually = common.matchHeadersIndividually;
    this.#segmentIndex = null;
    this.#segmentOrder = NO_INDEXES;
    this.#wild = NO_INDEXES;
  }

  /** Called once the routes are in: builds the segment index. */
  seal(): void {
    const routes = this.routes;
    Object.freeze(routes);
    if (routes.length < SEGMENT_INDEX_MIN_ROUTES) return;
    // Two passes, no per-key arrays: count per key, then lay every key's routes out contiguously
    // (ascending) in one Int32Array; the map holds start * 2^21 + count.
    const keys: (string | null)[] = new Array(routes.length);
    const counts = new Map<string, number>();
    let wildCount = 0;
    for (let i = 0; i < routes.length; i++) {
      const key = (routes[i] as RouteEntry).firstSegmentKey();
      keys[i] = key;
      if (key === null) wildCount++;
      else counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const index = new Map<string, number>();
    let start = 0;
    for (const [k, n] of counts) {
      index.set(k, start * SEGMENT_PACK + n);
      start += n;
    }
    const order = new Int32Array(start);
    const fill = new Map<string, number>();
    const wild = new Int32Array(wildCount);
    let w = 0;
    for (let i = 0; i < routes.length; i++) {
      const key = keys[i];
      if (key === null || key === undefined) {
        wild[w++] = i;
        continue;
      }
      const packed = index.get(key) as number;
      const done = fill.get(key) ?? 0;
      order[Math.floor(packed / SEGMENT_PACK) + done] = i;
      fill.set(key, done + 1);
    }
    this.#segmentIndex = index;
    this.#segmentOrder = order;
    this.#wild = wild;
  }

  /**
   * VirtualHostImpl::getRouteFromEntries: the SSL redirect when TLS is required and the request is
   * not https (x-forwarded-proto, else :scheme; EXTERNAL_ONLY exempts `x-envoy-internal: true`),
   * else the first matching route, else null (404 NR).
   */
  route(req: RequestView, pathEnd: number, queryEnd: number): RouteEntry | null {
    if (this.sslRedirect !== null && this.needsSslRedirect(req)) return this.sslRedirect;
    const routes = this.routes;
    const index = this.#segmentIndex;
    if (index === null) {
      for (let i = 0; i < routes.length; i++) {
        const r = routes[i] as RouteEntry;
        if (r.matches(req, pathEnd, queryEnd)) return r;
      }
      return null;
    }
    const path = req.path;
    let segEnd = path.indexOf('/', 1);
    if (segEnd === -1 || segEnd > pathEnd) segEnd = pathEnd;
    const packed = index.get(path.slice(0, segEnd));
    const order = this.#segmentOrder;
    let a = 0;
    let aEnd = 0;
    if (packed !== undefined) {
      a = Math.floor(packed / SEGMENT_PACK);
      aEnd = a + (packed % SEGMENT_PACK);
    }
    const wild = this.#wild;
    let b = 0;
    while (a < aEnd || b < wild.length) {
      const i = b >= wild.length || (a < aEnd && (order[a] as number) < (wild[b] as number)) ? (order[a++] as number) : (wild[b++] as number);
      const r = routes[i] as RouteEntry;
      if (r.matches(req, pathEnd, queryEnd)) return r;
    }
    return null;
  }

  needsSslRedirect(req: RequestView): boolean {
    if (this.requireTls === 'NONE') return false;
    if (forwardedProto(req) === 'https') return false;
    if (this.requireTls === 'ALL') return true;
    const internal = req.headerValues('x-envoy-internal');
    return !(internal !== undefined && internal[0] === 'true');
  }

  /** Config-dump view. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      domains: this.domains,
      require_tls: this.requireTls === 'NONE' ? undefined : this.requireTls,
      routes: this.routes.map((r) => r.toJSON()),
      virtual_clusters: this.virtualClusters.length ? this.virtualClusters.map((v) => v.name) : undefined,
    };
  }

  virtualClusterName(req: RequestView): string | undefined {
    const vcs = this.virtualClusters;
    if (vcs.length === 0) return undefined;
    for (let i = 0; i < vcs.length; i++) {
      const vc = vcs[i] as VirtualCluster;
      if (matchAllHeaders(vc.headers, req, this.#individually)) return vc.name;
    }
    return VIRTUAL_CLUSTER_OTHER;
  }
}
