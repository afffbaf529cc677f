// Contracts shared by the route model, the picker and the data path. `route/` imports nothing
// outside itself; the data path adapts node:http requests to `RequestView`.

/** A validator's answer: the compiled value, or every problem found, each prefixed with its field path. */
export type Validated<T> = { value: T; errors?: undefined } | { value?: undefined; errors: string[] };

/**
 * What the route table sees of a request. The proxy builds one per request (one shape, all fields
 * set in the constructor); router_check tests build them from their `input` blocks.
 */
export interface RequestView {
  /** `:authority` (HTTP/1 `Host`) exactly as received; the table lower-cases it. */
  readonly authority: string;
  /** `:path` including the query string and fragment, as received. */
  readonly path: string;
  /** `:method`, upper case as received. */
  readonly method: string;
  /** `:scheme`: `http` or `https`. */
  readonly scheme: string;
  /**
   * Envoy's per-stream random value (a uint32 here). The same value drives `runtime_fraction`
   * and the weighted-cluster pick, as in Envoy (`RouteEntryImplBase::matches(..., random_value)`).
   */
  readonly random: number;
  /**
   * Every value of a header as sent: one entry per header line, in order; `undefined` when the
   * header is absent. `name` is lower case. Pseudo-headers are not asked for here: the matcher
   * answers `:authority`, `:path`, `:method`, `:scheme` from the fields above.
   */
  headerValues(name: string): readonly string[] | undefined;
}

/** Envoy's runtime, injectable so `runtime_fraction` is testable (router_check's `input.runtime`). */
export interface Runtime {
  /** The numerator configured under `key`, or `undefined` to use the route's `default_value`. */
  getInteger(key: string): number | undefined;
}

export const NO_RUNTIME: Runtime = Object.freeze({ getInteger: () => undefined });

/**
 * Optional facts a `RequestView` may also carry. The route table reads them only where a config
 * asks for them (a `%DOWNSTREAM_REMOTE_ADDRESS%` header value, a `dynamic_metadata` or
 * `tls_context` match), so a plain `RequestView` stays enough for everything else.
 */
export interface RequestViewExtras {
  /** Downstream peer IP (`127.0.0.1`, `::1`) and port, as Envoy's `%DOWNSTREAM_REMOTE_ADDRESS%` sees them. */
  readonly downstreamRemoteIp?: string;
  readonly downstreamRemotePort?: number;
  /** The local (listener) address the request arrived on. */
  readonly downstreamLocalIp?: string;
  readonly downstreamLocalPort?: number;
  /** `HTTP/1.1`, `HTTP/2`: Envoy's `%PROTOCOL%`. */
  readonly protocol?: string;
  /** Envoy's per-stream dynamic metadata: filter namespace -> Struct (plain JSON object). */
  readonly dynamicMetadata?: Readonly<Record<string, unknown>>;
  /** Downstream TLS facts for `match.tls_context`; absent means no TLS (both false). */
  readonly peerCertificatePresented?: boolean;
  readonly peerCertificateValidated?: boolean;
}

/**
 * A runtime that decides `runtime_fraction` itself, as Envoy's `Snapshot::featureEnabled(key,
 * default_value, random_value)` does. router_check's mock (only the key named by `input.runtime`
 * is on) needs this; a plain `Runtime` gets Envoy's default rule: an integer under the key is a
 * percentage (numerator over HUNDRED), otherwise the route's `default_value` is used.
 */
export interface FractionalRuntime extends Runtime {
  featureEnabled(key: string, numerator: number, denominator: number, random: number): boolean;
}
