// Route retry_policy compiled into bits once per policy object (cached), so a request only tests
// bits. https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on
//
// Which requests weir retries: only requests without a body (no content-length > 0, no
// transfer-encoding). Bodies are streamed to the upstream as they arrive, never buffered, so once
// an attempt has consumed one there is nothing to replay; Envoy instead buffers up to
// per_request_buffer_limit_bytes. GET/HEAD/DELETE-style traffic, where retries matter most, is covered.

import type { RetryPolicyView } from './route-contract';

export const RETRY_5XX = 1;
export const RETRY_GATEWAY_ERROR = 2;
export const RETRY_RESET = 4;
export const RETRY_CONNECT_FAILURE = 8;
export const RETRY_RETRIABLE_4XX = 16;
export const RETRY_STATUS_CODES = 32;
export const RETRY_REFUSED_STREAM = 64;

export class CompiledRetry {
  readonly bits: number;
  readonly numRetries: number;
  readonly perTryTimeoutMs: number;
  readonly codes: ReadonlySet<number>;
  readonly baseMs: number;
  readonly maxMs: number;
  /**
   * Host picks per retry when the pick repeats the previous host. Envoy re-picks only with a
   * retry_host_predicate (previous_hosts), which Istio always pairs with
   * host_selection_retry_max_attempts: 5; weir treats a value above 1 as that pairing.
   */
  readonly hostSelectionAttempts: number;

  constructor(p: RetryPolicyView) {
    let bits = 0;
    for (const r of p.retryOn) {
      switch (r.trim()) {
        case '5xx':
          bits |= RETRY_5XX;
          break;
        case 'gateway-error':
          bits |= RETRY_GATEWAY_ERROR;
          break;
        case 'reset':
        case 'reset-before-request':
          bits |= RETRY_RESET;
          break;
        case 'connect-failure':
          bits |= RETRY_CONNECT_FAILURE;
          break;
        case 'retriable-4xx':
          bits |= RETRY_RETRIABLE_4XX;
          break;
        case 'retriable-status-codes':
          bits |= RETRY_STATUS_CODES;
          break;
        case 'refused-stream':
          bits |= RETRY_REFUSED_STREAM;
          break;
        default:
          // gRPC conditions (cancelled, unavailable, ...) and retriable-headers: not applicable to
          // HTTP/1 responses without grpc-status; ignored.
          break;
      }
    }
    this.bits = bits;
    this.numRetries = p.numRetries;
    this.perTryTimeoutMs = p.perTryTimeoutMs;
    this.codes = new Set(p.retriableStatusCodes);
    this.baseMs = p.retryBackOff?.baseIntervalMs ?? 25;
    this.maxMs = p.retryBackOff?.maxIntervalMs ?? this.baseMs * 10;
    this.hostSelectionAttempts = Math.max(1, p.hostSelectionRetryMaxAttempts ?? 1);
  }

  /** Does an upstream response with `status` call for a retry? */
  retriableStatus(status: number): boolean {
    const b = this.bits;
    if ((b & RETRY_5XX) !== 0 && status >= 500 && status < 600) return true;
    if ((b & RETRY_GATEWAY_ERROR) !== 0 && (status === 502 || status === 503 || status === 504)) return true;
    if ((b & RETRY_RETRIABLE_4XX) !== 0 && status === 409) return true;
    if ((b & RETRY_STATUS_CODES) !== 0 && this.codes.has(status)) return true;
    return false;
  }

  /** A connection failure (refused, connect timeout). */
  retriableConnectFailure(): boolean {
    return (this.bits & (RETRY_5XX | RETRY_GATEWAY_ERROR | RETRY_RESET | RETRY_CONNECT_FAILURE)) !== 0;
  }

  /** A reset / disconnect / per-try timeout before response headers. */
  retriableReset(): boolean {
    return (this.bits & (RETRY_5XX | RETRY_GATEWAY_ERROR | RETRY_RESET)) !== 0;
  }

  /** Envoy's jittered exponential back-off: uniform in [0, min(base * 2^n, max)). */
  backoffMs(retryIndex: number, rand: number): number {
    const ceiling = Math.min(this.baseMs * 2 ** retryIndex, this.maxMs);
    return ceiling <= 0 ? 0 : rand % Math.ceil(ceiling);
  }
}

const CACHE = new WeakMap<RetryPolicyView, CompiledRetry>();

export function compiledRetry(p: RetryPolicyView): CompiledRetry {
  let c = CACHE.get(p);
  if (c === undefined) {
    c = new CompiledRetry(p);
    CACHE.set(p, c);
  }
  return c;
}
