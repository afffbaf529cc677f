// The proxy: listeners (the lean HTTP/1.1 server of h1-server.ts, or node:http servers) serving the
// current snapshot, clusters with their pools, apply() for new configuration, drain() and close().
// The request path is Stream (stream.ts); this file owns lifecycles.

import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Server as NetServer, Socket } from 'node:net';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { ResourceSet } from '../config/resources';
import type { RequestView } from '../route/types';
import { Prng } from '../route/prng';
import { Cluster } from '../upstream/cluster';
import { PoolRegistry } from '../upstream/pool-registry';
import { resolveUpstreamClient, type UpstreamClientKind } from '../upstream/upstream-client';
import { LbRandom } from '../upstream/random';
import type { AccessLogSink, CompletedStream, Logger, ProxyCore, StreamObserver } from './listener-runtime';
import { ListenerRuntime } from './listener-runtime';
import { ResponseFlag } from './response-flags';
import type { ListenerConfig, Snapshot, SnapshotOptions } from './snapshot';
import { compileSnapshot } from './snapshot';
import { Stream } from './stream';
import { UpgradeTunnel } from './upgrade';
import type { DownstreamRequest, DownstreamResponse } from './downstream';
import { type DownstreamServerKind, type H1Exchange, H1Server, type H1ServerHandlers, resolveDownstreamServer } from './h1-server';

export type { DownstreamServerKind } from './h1-server';

export type { CompletedStream, Logger, StreamObserver } from './listener-runtime';

/**
 * The `server` header weir sends: Envoy's own default (`envoy`) unless the HCM sets server_name,
 * so that tooling and tests written against Envoy (which often assert `server: envoy`) see the
 * same value. The CLI may pass another default (e.g. `weir`) through ProxyServerOptions.serverName.
 */
export const DEFAULT_SERVER_NAME = 'envoy';

export interface ProxyServerOptions {
  log?: Logger;
  /** Default drain time for drain() (Envoy --drain-time-s; default 600 s like Envoy). */
  drainTimeMs?: number;
  /** `server` header when the HCM has no server_name (default `envoy`). */
  serverName?: string;
  /** Where /dev/stdout access logs go (default process.stdout). */
  accessLogStream?: NodeJS.WritableStream;
  /** The per-request uint32 random value (injectable for tests). */
  random?: () => number;
  /** Options for compileSnapshot (route options, injected compilers). */
  snapshotOptions?: SnapshotOptions;
  /**
   * Called once per finished request (metrics, admin). Runs on the request path: keep it cheap and
   * never throw. Also called for connection-level protocol errors (400 / 431 / 408 with flag DPE,
   * no route entry, no upstream) and for upgrades when their tunnel ends (101, or the tunnel's own
   * local reply), like the listener observers of onSnapshot.
   */
  onStreamComplete?: (s: CompletedStream) => void;
  /**
   * Answer `x-weir-explain: <why>` on responses to requests from 127.0.0.1 / ::1 that carry an
   * `x-weir-explain` header; the function summarises the route table's explain trace (admin
   * explain.ts `explainHeaderValue`). Off (undefined) by default.
   */
  explainHeader?: (table: unknown, req: RequestView) => string;
  /**
   * Called on every accepted snapshot before it is swapped in, with its runtime clusters; the
   * result's `listener(name)` is bound into each listener so a finished request calls
   * `streamDone(stream)` without a lookup (admin/metrics `Metrics.bindSnapshot` has this shape).
   */
  onSnapshot?: (snapshot: Snapshot, clusters: ReadonlyMap<string, Cluster>) => { listener(name: string): StreamObserver | null } | null;
  /** Called when apply() rejects a set (nothing changed): metrics report the rejected update. */
  onRejected?: (set: ResourceSet, errors: readonly string[]) => void;
  /**
   * The upstream HTTP/1.1 client (src/upstream/upstream-client.ts): `native` (default, ConnPool on
   * node's llhttp; falls back to `undici` with a warning when this node lacks it) or `undici`.
   */
  upstreamClient?: UpstreamClientKind;
  /**
   * The downstream HTTP/1.1 server (src/proxy/h1-server.ts): `native` (default, the lean server on
   * node's llhttp; falls back to `node` with a warning when this node lacks it) or `node`
   * (node:http).
   */
  downstreamServer?: DownstreamServerKind;
}

const kRuntime = Symbol('weir.listenerRuntime');
const kTunnels = Symbol('weir.tunnels');

/** What ProxyServer needs of a listener: node:http's Server and H1Server both have it. */
interface DownstreamListener extends NetServer {
  keepAliveTimeout: number;
  requestTimeout: number;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

interface RuntimeServer extends DownstreamListener {
  [kRuntime]: ListenerRuntime;
  [kTunnels]: Set<UpgradeTunnel>;
}

interface BoundListener {
  readonly name: string;
  readonly server: RuntimeServer;
  /** The configured address/port (port 0 = ephemeral) and options that need a new socket to change. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
}

const NOOP_LOGGER: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

function listenerKey(l: ListenerConfig): string {
  return l.address + '|' + l.port + '|' + l.hcm.maxRequestHeadersKb;
}

function onRequest(this: RuntimeServer, req: DownstreamRequest, res: DownstreamResponse): void {
  const lr = this[kRuntime];
  lr.core.inflight++;
  const stream = new Stream(lr, req, res);
  // A safety net, not control flow: nothing in run() throws by design, but a bug there must cost
  // one request (500, logged), never the process.
  try {
    stream.run();
  } catch (e) {
    lr.core.log.error('request failed inside the proxy', { error: (e as Error).stack });
    if (!stream.done) stream.localReply(500, '', 0, 'internal_error');
  }
}

function onClientError(this: RuntimeServer, err: Error & { code?: string }, socket: Socket): void {
  // Malformed requests, smuggling shapes (llhttp rejects Content-Length with Transfer-Encoding and
  // duplicate Content-Length) and oversized headers: answer on this connection and close it;
  // other connections are untouched.
  // A response already in progress on this connection (pipelining) must not be interleaved with
  // the error response: close instead, as node's default handler does.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  let status = 400;
  if (err.code === 'HPE_HEADER_OVERFLOW') status = 431;
  else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') status = 408;
  socket.end(protocolErrorReply(this[kRuntime], socket, status));
}

/**
 * A connection-level protocol error (400 malformed or smuggling, 431 header overflow, 408 request
 * timeout): the response to send before closing; logged with flag DPE and reported to the
 * observers like a finished request (no route, no upstream).
 */
function protocolErrorReply(lr: ListenerRuntime, socket: Socket, status: number): string {
  const text = STATUS_CODES[status] ?? '';
  const reply =
    'HTTP/1.1 ' + status + ' ' + text + '\r\ncontent-length: ' + text.length + '\r\ncontent-type: text/plain\r\nserver: ' +
    lr.serverHeader + '\r\nconnection: close\r\n\r\n' + text;
  const logs = lr.accessLogs;
  if (logs.length === 0 && lr.observer === null && lr.core.observer === null) return reply;
  const entry: CompletedStream = {
    listenerName: lr.config.name,
    statPrefix: lr.hcm.statPrefix,
    upstreamMetadata: null,
    retriesDone: 0,
    entry: null,
    startTime: Date.now(),
    durationMs: 0,
    protocol: 'HTTP/1.1',
    status,
    flags: ResponseFlag.DPE,
    details: status === 408 ? 'request_overall_timeout' : 'http1.codec_error',
    bytesReceived: 0,
    bytesSent: text.length,
    upstreamHost: null,
    upstreamCluster: null,
    upstreamServiceTimeMs: -1,
    routeName: null,
    downstreamRemoteAddress: `${socket.remoteAddress}:${socket.remotePort}`,
    downstreamLocalAddress: `${socket.localAddress}:${socket.localPort}`,
    requestHeader: () => undefined,
    responseHeader: () => undefined,
  };
  for (const l of logs) l.out.write(l.format.format(entry));
  if (lr.observer !== null) lr.observer.streamDone(entry);
  if (lr.core.observer !== null) lr.core.observer(entry);
  return reply;
}

function onUpgrade(server: RuntimeServer, req: DownstreamRequest, socket: Socket, head: Buffer): void {
  try {
    new UpgradeTunnel(server[kRuntime], req, socket).run(head, server[kTunnels]);
  } catch (e) {
    server[kRuntime].core.log.error('upgrade failed inside the proxy', { error: (e as Error).stack });
    socket.destroy();
  }
}

/** The lean server's callbacks (its `server` is a RuntimeServer). */
const H1_HANDLERS: H1ServerHandlers = {
  request(server, ex: H1Exchange) {
    onRequest.call(server as unknown as RuntimeServer, ex, ex);
  },
  upgrade(server, ex, socket, head) {
    onUpgrade(server as unknown as RuntimeServer, ex, socket, head);
  },
  protocolError(server, socket, status) {
    return protocolErrorReply((server as unknown as RuntimeServer)[kRuntime], socket, status);
  },
};

export class ProxyServer {
  readonly #log: Logger;
  readonly #drainTimeMs: number;
  readonly #serverName: string;
  readonly #accessLogStream: NodeJS.WritableStream;
  readonly #snapshotOptions: SnapshotOptions;
  readonly #onSnapshot: ProxyServerOptions['onSnapshot'];
  readonly #onRejected: ProxyServerOptions['onRejected'];
  #resources: ResourceSet | null = null;
  #appliedAt: Date | null = null;
  #drainRequested = false;
  #healthCheckFailed = false;
  #observers: { listener(name: string): StreamObserver | null } | null = null;
  readonly #registry: PoolRegistry;
  readonly #downstream: DownstreamServerKind;
  readonly #lbRandom = new LbRandom();
  readonly #core: ProxyCore;
  #snapshot: Snapshot | null = null;
  #clusters = new Map<string, Cluster>();
  #listeners = new Map<string, BoundListener>();
  readonly #tunnels = new Set<UpgradeTunnel>();
  readonly #files = new Map<string, WriteStream>();
  #applying: Promise<unknown> = Promise.resolve();
  #idleWaiters: (() => void)[] = [];
  #closed = false;

  constructor(opts: ProxyServerOptions = {}) {
    this.#log = opts.log ?? NOOP_LOGGER;
    this.#drainTimeMs = opts.drainTimeMs ?? 600_000;
    this.#serverName = opts.serverName ?? DEFAULT_SERVER_NAME;
    this.#accessLogStream = opts.accessLogStream ?? process.stdout;
    this.#snapshotOptions = opts.snapshotOptions ?? {};
    this.#onSnapshot = opts.onSnapshot;
    this.#onRejected = opts.onRejected;
    this.#registry = new PoolRegistry(resolveUpstreamClient(opts.upstreamClient ?? 'native', (m, f) => this.#log.warn(m, f)));
    this.#downstream = resolveDownstreamServer(opts.downstreamServer ?? 'native', (m, f) => this.#log.warn(m, f));
    let random = opts.random;
    if (random === undefined) {
      const prng = new Prng();
      random = () => prng.nextUint32();
    }
    const waiters = this.#idleWaiters;
    const core: ProxyCore = {
      draining: false,
      inflight: 0,
      random,
      log: this.#log,
      observer: opts.onStreamComplete ?? null,
      explain: opts.explainHeader ?? null,
      streamDone() {
        core.inflight--;
        if (core.inflight === 0 && waiters.length > 0) {
          const w = waiters.splice(0);
          for (const f of w) f();
        }
      },
    };
    this.#core = core;
  }

  get snapshot(): Snapshot | null {
    return this.#snapshot;
  }

  /** The ResourceSet the serving snapshot was compiled from, and when it was applied (config_dump). */
  get resources(): ResourceSet | null {
    return this.#resources;
  }

  get appliedAt(): Date | null {
    return this.#appliedAt;
  }

  /**
   * Admin POST /healthcheck/fail and /healthcheck/ok. Envoy's HCM answers `connection: close` while
   * the server's health check is failed (DrainManagerImpl::drainClose), so load balancers move
   * clients away; weir does the same through the drain flag, without stopping the listeners.
   */
  setHealthCheckFailed(failed: boolean): void {
    this.#healthCheckFailed = failed;
    this.#core.draining = failed || this.#drainRequested;
  }

  /** The upstream client in use (after any fallback). */
  get upstreamClient(): UpstreamClientKind {
    return this.#registry.client;
  }

  /** The downstream server in use (after any fallback). */
  get downstreamServer(): DownstreamServerKind {
    return this.#downstream;
  }

  /** The live clusters (config_dump, admin). */
  get clusters(): ReadonlyMap<string, Cluster> {
    return this.#clusters;
  }

  /** Requests in flight (drain, tests). */
  get inflight(): number {
    return this.#core.inflight;
  }

  listeners(): { name: string; address: string; port: number }[] {
    const out: { name: string; address: string; port: number }[] = [];
    for (const l of this.#listeners.values()) {
      const a = l.server.address();
      out.push({ name: l.name, address: l.address, port: typeof a === 'object' && a !== null ? a.port : l.port });
    }
    return out;
  }

  /**
   * Validates and compiles `set`; on errors nothing changes (the last good snapshot keeps serving).
   * Otherwise clusters are built (DNS clusters resolved once), new listener sockets bound, and the
   * snapshot swapped in; removed or moved listeners stop accepting and finish their requests.
   */
  apply(set: ResourceSet): Promise<{ errors: string[] }> {
    const p = this.#applying.then(() => this.#apply(set));
    this.#applying = p.catch(() => undefined);
    return p;
  }

  async #apply(set: ResourceSet): Promise<{ errors: string[] }> {
    if (this.#closed) return { errors: ['proxy server is closed'] };
    const r = compileSnapshot(set, this.#snapshotOptions);
    if (r.errors) {
      this.#rejected(set, r.errors);
      return { errors: r.errors };
    }
    const snap = r.value;
    for (const w of snap.warnings) this.#log.warn(w);

    const clusters = new Map<string, Cluster>();
    for (const cfg of snap.clusters.values()) clusters.set(cfg.name, new Cluster(cfg, this.#registry, this.#lbRandom, this.#log));
    await Promise.all([...clusters.values()].map((c) => c.start()));
    const previousObservers = this.#observers;
    if (this.#onSnapshot !== undefined) {
      try {
        this.#observers = this.#onSnapshot(snap, clusters);
      } catch (e) {
        this.#log.error('snapshot observer failed', { error: (e as Error).message });
        this.#observers = null;
      }
    }

    // Bind what is new before swapping, so a bind failure rejects the whole update.
    const next = new Map<string, BoundListener>();
    const fresh: BoundListener[] = [];
    const errors: string[] = [];
    for (const l of snap.listeners) {
      const key = listenerKey(l);
      const existing = this.#listeners.get(l.name);
      if (existing !== undefined && existing.key === key) {
        next.set(l.name, existing);
        continue;
      }
      try {
        const bound = await this.#bind(l, key, clusters);
        fresh.push(bound);
        next.set(l.name, bound);
      } catch (e) {
        errors.push(`listeners["${l.name}"].address: cannot listen on ${l.address}:${l.port}: ${(e as Error).message}`);
      }
    }
    if (errors.length > 0) {
      this.#rejected(set, errors);
      this.#observers = previousObservers;
      for (const b of fresh) b.server.close();
      for (const c of clusters.values()) c.close();
      return { errors };
    }

    // The swap.
    const oldClusters = this.#clusters;
    const oldListeners = this.#listeners;
    this.#snapshot = snap;
    this.#resources = set;
    this.#appliedAt = new Date();
    this.#clusters = clusters;
    this.#listeners = next;
    for (const l of snap.listeners) {
      const b = next.get(l.name)!;
      this.#configureServer(b.server, l);
      b.server[kRuntime] = this.#runtime(l, clusters, b.server);
    }
    for (const [name, b] of oldListeners) {
      if (next.get(name) !== b) this.#retire(b.server);
    }
    for (const c of oldClusters.values()) c.close();
    this.#log.info('snapshot applied', { version: snap.versionInfo, listeners: snap.listeners.length, clusters: clusters.size });
    return { errors: [] };
  }

  #rejected(set: ResourceSet, errors: readonly string[]): void {
    if (this.#onRejected === undefined) return;
    try {
      this.#onRejected(set, errors);
    } catch (e) {
      this.#log.error('rejection observer failed', { error: (e as Error).message });
    }
  }

  #runtime(l: ListenerConfig, clusters: ReadonlyMap<string, Cluster>, server: NetServer): ListenerRuntime {
    const sinks: AccessLogSink[] = l.hcm.accessLogs.map((a) => ({ out: this.#sink(a.path), format: a.format }));
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : l.port;
    const observers = this.#observers;
    return new ListenerRuntime(l, clusters, this.#core, this.#serverName, sinks, port, observers === null ? null : observers.listener(l.name));
  }

  #sink(path: string): NodeJS.WritableStream {
    if (path === '/dev/stdout') return this.#accessLogStream;
    if (path === '/dev/stderr') return process.stderr;
    let f = this.#files.get(path);
    if (f === undefined) {
      f = createWriteStream(path, { flags: 'a' });
      f.on('error', (e) => this.#log.error('access log write failed', { path, error: e.message }));
      this.#files.set(path, f);
    }
    return f;
  }

  #configureServer(server: DownstreamListener, l: ListenerConfig): void {
    // Downstream idle timeout: HCM common_http_protocol_options.idle_timeout (Envoy default 1 h).
    server.keepAliveTimeout = l.hcm.idleTimeoutMs;
    server.requestTimeout = l.hcm.requestTimeoutMs;
  }

  #bind(l: ListenerConfig, key: string, clusters: ReadonlyMap<string, Cluster>): Promise<BoundListener> {
    let server: RuntimeServer;
    if (this.#downstream === 'native') {
      server = new H1Server(
        { maxHeaderSize: l.hcm.maxRequestHeadersKb * 1024, requestTimeout: l.hcm.requestTimeoutMs, keepAliveTimeout: l.hcm.idleTimeoutMs },
        H1_HANDLERS,
      ) as unknown as RuntimeServer;
    } else {
      server = createServer({
        keepAlive: true,
        noDelay: true,
        maxHeaderSize: l.hcm.maxRequestHeadersKb * 1024,
        requestTimeout: l.hcm.requestTimeoutMs,
      }) as unknown as RuntimeServer;
      server.on('request', onRequest as (req: IncomingMessage, res: ServerResponse) => void);
      server.on('clientError', onClientError);
      server.on('upgrade', function (this: RuntimeServer, req: IncomingMessage, socket: Socket, head: Buffer) {
        onUpgrade(this, req, socket, head);
      });
    }
    this.#configureServer(server, l);
    server[kRuntime] = this.#runtime(l, clusters, server);
    server[kTunnels] = this.#tunnels;
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      server.once('error', onError);
      server.listen({ host: l.address, port: l.port }, () => {
        server.off('error', onError);
        server.on('error', (e) => this.#log.error('listener error', { listener: l.name, error: e.message }));
        resolve({ name: l.name, server, key, address: l.address, port: l.port });
      });
    });
  }

  /** Stops accepting on a listener that left the config; its requests in flight finish. */
  #retire(server: DownstreamListener): void {
    server.close();
    server.closeIdleConnections();
    // Connections still busy finish their current request, then close (keep-alive is refused
    // because the server is closed); a last sweep after the drain time.
    const t = setTimeout(() => server.closeAllConnections(), this.#drainTimeMs);
    t.unref();
    server.once('close', () => clearTimeout(t));
  }

  /**
   * Drain: stop accepting, answer with `connection: close` from now on, close idle keep-alive
   * connections, and wait for requests in flight (at most `timeoutMs`, default the drain time);
   * then close what is left.
   */
  async drain(timeoutMs = this.#drainTimeMs): Promise<void> {
    const core = this.#core;
    this.#drainRequested = true;
    core.draining = true;
    const servers = [...this.#listeners.values()].map((l) => l.server);
    const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const s of servers) s.closeIdleConnections();
    if (core.inflight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.#idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    for (const s of servers) s.closeAllConnections();
    for (const t of this.#tunnels) t.close();
    await Promise.all(closed);
  }

  /** Closes everything now: listeners, tunnels, pools. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#applying;
    this.#closed = true;
    this.#core.draining = true;
    const servers = [...this.#listeners.values()].map((l) => l.server);
    const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const s of servers) s.closeAllConnections();
    for (const t of this.#tunnels) t.close();
    for (const c of this.#clusters.values()) c.close();
    this.#clusters = new Map();
    this.#listeners = new Map();
    await Promise.all(closed);
    await this.#registry.destroyAll();
    for (const f of this.#files.values()) f.end();
    this.#files.clear();
  }
}
