// Which HTTP/1.1 client carries upstream requests. `native` (ConnPool, node's own llhttp parser
// through the undocumented `_http_common`) is the default because it costs less CPU per request;
// `undici` (UndiciPool) is the public, maintained client with the same surface and error codes, and
// the automatic fallback when this node lacks what ConnPool needs.

import { ConnPool, type ConnPoolOptions, type ConnPoolStats, NATIVE_PARSER_PROBLEM, type UpstreamHandler, type UpstreamRequest } from './conn-pool';
import { UndiciPool } from './undici-pool';

export type UpstreamClientKind = 'native' | 'undici';
export const UPSTREAM_CLIENTS: readonly UpstreamClientKind[] = ['native', 'undici'];

/** ConnPool's public surface; UndiciPool has the same. */
export interface UpstreamPool {
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): void;
  close(): Promise<void>;
  destroy(): Promise<void>;
  readonly stats: ConnPoolStats;
}

/**
 * The client to use for `requested`: `native` falls back to `undici` when `nativeProblem` (by
 * default NATIVE_PARSER_PROBLEM, checked once when conn-pool.ts loaded) is set, with one warning.
 */
export function resolveUpstreamClient(
  requested: UpstreamClientKind,
  warn: (msg: string, fields?: object) => void,
  nativeProblem: string | null = NATIVE_PARSER_PROBLEM,
): UpstreamClientKind {
  if (requested === 'native' && nativeProblem !== null) {
    warn('native upstream client unavailable, using undici', { reason: nativeProblem });
    return 'undici';
  }
  return requested;
}

export function createUpstreamPool(kind: UpstreamClientKind, address: string, port: number, o: ConnPoolOptions): UpstreamPool {
  return kind === 'undici' ? new UndiciPool(address, port, o) : new ConnPool(address, port, o);
}
