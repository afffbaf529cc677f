// What a request on one listener reads, fixed for the lifetime of one snapshot: the HCM options,
// the route table and the snapshot's clusters. A request captures it once at its start, so a
// snapshot swap never changes a request in flight.

import type { Cluster } from '../upstream/cluster';
import type { AccessLogEntry, AccessLogFormat } from './access-log';
import type { HcmConfig } from './hcm-config';
import type { ListenerConfig } from './snapshot';
import type { RequestView } from '../route/types';

export interface Logger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

export interface AccessLogSink {
  readonly out: NodeJS.WritableStream;
  readonly format: AccessLogFormat;
}

/**
 * What an observer (metrics, admin) sees of each finished request: the access log's view plus the
 * listener and the chosen endpoint's metadata (Istio labels carry the version).
 */
export interface CompletedStream extends AccessLogEntry {
  readonly listenerName: string;
  readonly statPrefix: string;
  readonly upstreamMetadata: { readonly [k: string]: unknown } | null;
  /** Retries performed (0 = first attempt only). */
  readonly retriesDone: number;
  /** The matched route entry (route/ RouteEntry), or null (no route). */
  readonly entry: object | null;
}

/** A per-listener observer bound once per snapshot (metrics): no lookup per request. */
export interface StreamObserver {
  streamDone(s: CompletedStream): void;
}

/** Server-wide mutable state every stream can see (drain flag, in-flight count, random source). */
export interface ProxyCore {
  draining: boolean;
  inflight: number;
  readonly random: () => number;
  readonly log: Logger;
  /** Called once per finished request when set (ProxyServerOptions.onStreamComplete). */
  readonly observer: ((s: CompletedStream) => void) | null;
  /**
   * `x-weir-explain` (ProxyServerOptions.explainHeader, the CLI's --enable-explain): a one-line
   * explanation of the routing decision for requests from loopback carrying the header; null when
   * off (one null check per request).
   */
  readonly explain: ((table: unknown, req: RequestView) => string) | null;
  streamDone(): void;
}

export class ListenerRuntime {
  readonly config: ListenerConfig;
  readonly hcm: HcmConfig;
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly core: ProxyCore;
  /** Value of the `server` response header (HCM server_name, else the server default). */
  readonly serverHeader: string;
  readonly accessLogs: readonly AccessLogSink[];
  /** This listener's observer for this snapshot (ProxyServerOptions.onSnapshot), or null. */
  readonly observer: StreamObserver | null;
  /** The bound port (for strip_matching_host_port and the access log). */
  port: number;

  constructor(
    config: ListenerConfig,
    clusters: ReadonlyMap<string, Cluster>,
    core: ProxyCore,
    defaultServerName: string,
    accessLogs: readonly AccessLogSink[],
    port: number,
    observer: StreamObserver | null,
  ) {
    this.observer = observer;
    this.config = config;
    this.hcm = config.hcm;
    this.clusters = clusters;
    this.core = core;
    this.serverHeader = config.hcm.serverName ?? defaultServerName;
    this.accessLogs = accessLogs;
    this.port = port;
  }
}
