// What the data path uses of the compiled route table (src/route). Kept as a narrow interface so
// the proxy reads only what it needs; the route module's RouteTable / RouteEntry satisfy it.

import type { RequestView, Validated } from '../route/types';
import type { CompiledFault, RequestMirrorPolicy } from '../route/route-entry';
import type { HeaderMutationTarget } from './header-list';

export interface RetryPolicyView {
  readonly retryOn: readonly string[];
  readonly numRetries: number;
  readonly perTryTimeoutMs: number;
  readonly retriableStatusCodes: readonly number[];
  readonly retryBackOff: { readonly baseIntervalMs: number; readonly maxIntervalMs: number } | null;
  readonly hostSelectionRetryMaxAttempts?: number;
}

export type HashPolicyView =
  | { readonly kind: 'header'; readonly headerName: string; readonly terminal: boolean }
  | { readonly kind: 'cookie'; readonly name: string; readonly terminal: boolean }
  | { readonly kind: 'source_ip'; readonly terminal: boolean }
  | { readonly kind: 'query_parameter'; readonly name: string; readonly terminal: boolean }
  | { readonly kind: 'filter_state'; readonly key: string; readonly terminal: boolean };

export interface RouteEntryView {
  readonly kind: 'route' | 'redirect' | 'direct_response' | 'filter_action';
  readonly name: string;
  readonly virtualHost: { readonly name: string };
  selectCluster(req: RequestView): string | undefined;
  rewritePath(path: string, req?: RequestView): string | null;
  /** The Host for the upstream request (literal, header, path regex, weighted cluster), or null. */
  rewriteHost(req: RequestView, clusterName?: string): string | null;
  readonly autoHostRewrite: boolean;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | null;
  readonly retryPolicy: RetryPolicyView | null;
  readonly hashPolicy: readonly HashPolicyView[];
  redirectLocation(req: RequestView): string;
  readonly redirectCode: number;
  readonly directResponse: { readonly status: number; readonly body: string } | null;
  applyRequestHeaders(target: HeaderMutationTarget, req: RequestView, clusterName?: string): void;
  applyResponseHeaders(target: HeaderMutationTarget, req: RequestView, clusterName?: string): void;
  /** The route's envoy.filters.http.fault config (overrides the listener's), or null. */
  readonly fault: CompiledFault | null;
  readonly mirrorPolicies: readonly RequestMirrorPolicy[];
}

export interface RouteTableView {
  route(req: RequestView): RouteEntryView | null;
}

export type RouteCompiler = (raw: unknown, opts: unknown) => Validated<RouteTableView>;
