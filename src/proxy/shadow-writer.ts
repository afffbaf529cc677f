// Request mirroring (RouteAction.request_mirror_policies), Envoy's ShadowWriterImpl: a copy of the
// request goes to the mirror cluster, fire-and-forget. The response is read and dropped, failures
// are counted nowhere but here, and nothing about the shadow can touch the main request: it has
// its own handler, its own host pick and its own circuit-breaker accounting.
//
// Only requests without a body are mirrored: bodies stream to the main upstream as they arrive and
// are never buffered (README, "Retries"), so there is no copy to send; teeing the stream would let
// a slow mirror apply backpressure to the main request.

import type { Cluster } from '../upstream/cluster';
import type { UpstreamHandler } from '../upstream/conn-pool';
import type { Host } from '../upstream/host';

/** Counters for tests and the config dump (Envoy counts shadow failures in cluster stats). */
export const SHADOW_STATS = { sent: 0, completed: 0, failed: 0, skippedNoCluster: 0, skippedOverflow: 0, skippedBody: 0 };

/**
 * Envoy's ShadowWriterImpl::shadowAppendedHost: `-shadow` goes after the host name and before a
 * port (`reviews:9080` -> `reviews-shadow:9080`), so the mirror sees a distinct authority.
 */
export function shadowHost(authority: string): string {
  // An IPv6 literal `[::1]:80` has its port after `]`; elsewhere the port follows the last `:`.
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon > close && colon !== -1 && (close !== -1 || authority.indexOf(':') === colon)) {
    return authority.slice(0, colon) + '-shadow' + authority.slice(colon);
  }
  return authority + '-shadow';
}

class ShadowRequest implements UpstreamHandler {
  readonly cluster: Cluster;
  readonly host: Host;
  ended = false;

  constructor(cluster: Cluster, host: Host) {
    this.cluster = cluster;
    this.host = host;
  }

  onConnect(_abort: (err?: Error) => void): void {}

  onHeaders(_statusCode: number, _headers: string[], _resume: () => void, _statusText: string): boolean {
    return true;
  }

  onData(_chunk: Buffer): boolean {
    return true;
  }

  onComplete(_trailers: string[] | null): void {
    if (this.end()) SHADOW_STATS.completed++;
  }

  onError(_err: Error): void {
    if (this.end()) SHADOW_STATS.failed++;
  }

  end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.host.active--;
    this.cluster.activeRequests--;
    return true;
  }
}

/**
 * Sends one shadow request to `cluster`. `headers` are the main request's upstream headers (flat
 * name/value list); they are copied with the Host replaced by `host`. Never throws because of
 * traffic: no host or an open circuit breaker skips the shadow.
 */
export function sendShadow(
  cluster: Cluster,
  headers: readonly string[],
  host: string,
  method: string,
  path: string,
  timeoutMs: number,
  idleTimeoutMs: number,
  hash: number,
  hasHash: boolean,
): void {
  const h = cluster.chooseHost(hash, hasHash);
  if (h === null || h.pool === null) {
    SHADOW_STATS.failed++;
    return;
  }
  if (cluster.activeRequests >= cluster.maxRequests || h.active >= cluster.maxConnections + cluster.maxPendingRequests) {
    SHADOW_STATS.skippedOverflow++;
    return;
  }
  const copy = headers.slice();
  let found = false;
  for (let i = 0; i < copy.length; i += 2) {
    if (copy[i] === 'host') {
      copy[i + 1] = host;
      found = true;
      break;
    }
  }
  if (!found) copy.push('host', host);
  cluster.activeRequests++;
  h.active++;
  SHADOW_STATS.sent++;
  h.pool.dispatch({ path, method, headers: copy, body: null, headersTimeout: timeoutMs, bodyTimeout: idleTimeoutMs }, new ShadowRequest(cluster, h));
}
