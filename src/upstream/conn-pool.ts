// HTTP/1.1 connection pool to one upstream endpoint (Envoy `Http1::ConnPoolImpl` + `CodecClient`):
// keep-alive connections, one request at a time per connection, node's own native llhttp parser.
//
// Why not undici: measured on the proxy benchmark (bench/proxy.ts), undici's Pool cost about 50 µs
// of CPU per proxied request more than this (its wasm parser hands headers over as Buffers through
// JS callbacks, and every request builds a Request object, validates each header again and arms
// timers). node's HTTPParser (the one node:http uses) calls back once per message with the headers
// as strings. The handler API is undici's legacy dispatch handler (onConnect / onHeaders / onData /
// onComplete / onError) and the error codes are undici's (`UND_ERR_*`, llhttp's `HPE_*`), so the
// proxy's failure classification (Envoy's UF / UC / UT / UPE) is unchanged.

import * as net from 'node:net';
import type { Readable } from 'node:stream';

// node's native HTTP/1 parser (llhttp), the one node:http's client and server use. It is internal
// (`_http_common` is undocumented), so it is feature-checked once here and never throws at import:
// when it is missing or lacks what ConnPool uses, NATIVE_PARSER_PROBLEM says why and the pool
// registry falls back to undici (src/upstream/upstream-client.ts).
const PROBE = probeNativeParser(() => require('_http_common'));
const HTTPParser = PROBE.parser as NativeParserClass;
/** Why ConnPool cannot run on this node (null: it can). */
export const NATIVE_PARSER_PROBLEM: string | null = PROBE.problem;

/**
 * Checks that `load()` yields `{ HTTPParser }` with everything ConnPool calls (injectable so tests
 * can simulate a node without it). Never throws.
 */
export function probeNativeParser(load: () => unknown): { parser: unknown; problem: string | null } {
  let mod: unknown;
  try {
    mod = load();
  } catch (e) {
    return { parser: null, problem: "require('_http_common') failed: " + (e as Error).message };
  }
  const P = (mod as { HTTPParser?: unknown } | null)?.HTTPParser as (NativeParserClass & { prototype?: object }) | undefined;
  if (typeof P !== 'function') return { parser: null, problem: "_http_common has no HTTPParser" };
  for (const k of ['RESPONSE', 'kOnHeaders', 'kOnHeadersComplete', 'kOnBody', 'kOnMessageComplete', 'kOnExecute'] as const) {
    if (typeof P[k] !== 'number') return { parser: null, problem: 'HTTPParser.' + k + ' is missing' };
  }
  const proto = P.prototype as Record<string, unknown> | undefined;
  for (const m of ['initialize', 'execute', 'finish', 'close', 'consume', 'unconsume']) {
    if (proto === undefined || typeof proto[m] !== 'function') return { parser: null, problem: 'HTTPParser.prototype.' + m + ' is missing' };
  }
  return { parser: P, problem: null };
}

interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  consume(handle: object): void;
  unconsume(): void;
  finish(): number | Error | undefined;
  close(): void;
  free(): void;
  [k: number]: unknown;
  conn: H1Connection | null;
}
interface NativeParserClass {
  new (): NativeParser;
  readonly RESPONSE: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kOnExecute: number;
}

export interface UpstreamRequest {
  readonly path: string;
  readonly method: string;
  /** Flat [name, value, ...]; `host` (if present) should come first, as it is written in order. */
  readonly headers: readonly string[];
  /** The request body, streamed with backpressure; null for none. */
  readonly body: Readable | null;
  /** Time allowed until the response headers (0 = none): UND_ERR_HEADERS_TIMEOUT. */
  readonly headersTimeout: number;
  /** Time allowed between response body chunks (0 = none): UND_ERR_BODY_TIMEOUT. */
  readonly bodyTimeout: number;
}

/** undici's legacy dispatch handler shape, with header names and values as strings. */
export interface UpstreamHandler {
  /** `abort` cancels this request (valid until its onComplete/onError). */
  onConnect(abort: (err?: Error) => void): void;
  /** Return false to pause the body until `resume()`. Header names keep the upstream's case. */
  onHeaders(statusCode: number, headers: string[], resume: () => void, statusText: string): boolean;
  /** Return false to pause until `resume()`. */
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  onError(err: Error): void;
}

export interface ConnPoolOptions {
  readonly connectTimeoutMs: number;
  /** Idle keep-alive connections close after this (capped by the upstream's `keep-alive: timeout=` hint). */
  readonly idleTimeoutMs: number;
  /** Connections to this endpoint at most (circuit_breakers max_connections); requests beyond queue. */
  readonly maxConnections: number;
  /** Response header block limit in bytes (Envoy max_response_headers_kb, default 60 KiB). */
  readonly maxHeaderSize: number;
}

export interface ConnPoolStats {
  /** Open connections (upstream_cx_active). */
  readonly connected: number;
  /** Idle keep-alive connections. */
  readonly free: number;
  /** Requests waiting for a connection. */
  readonly pending: number;
  /** Requests on a connection. */
  readonly running: number;
  readonly size: number;
}

/** An error with undici's code (the proxy classifies failures by code). */
export class UpstreamError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

// Like undici: an idle connection is given up this long before the upstream's advertised
// keep-alive timeout, so a request does not race the upstream closing it.
const KEEP_ALIVE_THRESHOLD_MS = 2000;
const EMPTY_HEADERS: string[] = [];

const enum Timer {
  None = 0,
  Connect = 1,
  Headers = 2,
  Body = 3,
  Idle = 4,
}

function onTimer(c: H1Connection, kind: Timer): void {
  // Timers of the other kinds stay scheduled when not in use (re-arming is then a cheap refresh);
  // only the kind in force counts.
  if (c.timerKind === kind) c.onTimer();
}

function onSocketConnect(this: net.Socket): void {
  (this as SocketWithConn).conn.onConnected();
}
function onSocketData(this: net.Socket, d: Buffer): void {
  (this as SocketWithConn).conn.onData(d);
}
function onSocketEnd(this: net.Socket): void {
  (this as SocketWithConn).conn.onEnd();
}
function onSocketError(this: net.Socket, err: Error): void {
  (this as SocketWithConn).conn.socketError = err;
}
function onSocketClose(this: net.Socket): void {
  (this as SocketWithConn).conn.onClose();
}
function onSocketDrain(this: net.Socket): void {
  const c = (this as SocketWithConn).conn;
  const b = c.body;
  if (b !== null) b.resume();
}

interface StreamHandle {
  isStreamBase?: boolean;
  _consumed?: boolean;
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}
interface SocketWithConn extends net.Socket {
  conn: H1Connection;
  _handle: StreamHandle | null;
}
interface BodyWithConn extends Readable {
  weirConn: H1Connection | null;
}

function parserOnHeaders(this: NativeParser, headers: string[]): void {
  // Called only when the header block spans several reads (node's parser then flushes them early).
  const c = this.conn;
  if (c === null) return;
  for (let i = 0; i < headers.length; i++) c.partialHeaders.push(headers[i]!);
}

function parserOnHeadersComplete(
  this: NativeParser,
  _major: number,
  _minor: number,
  headers: string[] | undefined,
  _method: unknown,
  _url: unknown,
  statusCode: number,
  statusText: string,
  _upgrade: boolean,
  shouldKeepAlive: boolean,
): number {
  const c = this.conn;
  if (c === null) return 0;
  return c.onResponseHeaders(headers, statusCode, statusText, shouldKeepAlive);
}

function parserOnBody(this: NativeParser, chunk: Buffer): void {
  const c = this.conn;
  if (c !== null) c.onBody(chunk);
}

function parserOnMessageComplete(this: NativeParser): void {
  const c = this.conn;
  if (c !== null) c.onMessageComplete();
}

/** After the native parser consumed one read from the socket (see H1Connection `consumed`). */
function parserOnExecute(this: NativeParser, ret: number | Error): void {
  const c = this.conn;
  if (c !== null && typeof ret !== 'number') c.parseError(ret);
}

function bodyOnData(this: BodyWithConn, chunk: Buffer): void {
  const c = this.weirConn;
  if (c !== null) c.writeBody(chunk);
}
function bodyOnEnd(this: BodyWithConn): void {
  const c = this.weirConn;
  if (c !== null) c.endBody();
}
function bodyOnError(this: BodyWithConn, err: Error): void {
  const c = this.weirConn;
  if (c !== null) c.bodyFailed(err);
}
function bodyOnClose(this: BodyWithConn): void {
  // Closed before 'end': the downstream went away mid-upload.
  const c = this.weirConn;
  if (c !== null) c.bodyFailed(new UpstreamError('request body aborted', 'UND_ERR_ABORTED'));
}

/** One upstream connection; carries at most one request at a time. */
class H1Connection {
  readonly pool: ConnPool;
  readonly socket: SocketWithConn;
  readonly parser: NativeParser;
  connected = false;
  closed = false;
  /**
   * The parser reads the socket natively (`parser.consume(handle)`, as node:http's server does):
   * no 'data' events, no Readable buffering in between. Pause and resume then act on the handle.
   */
  consumed = false;
  socketError: Error | null = null;
  // The request on this connection (null when idle).
  handler: UpstreamHandler | null = null;
  isHead = false;
  informational = false;
  headersDone = false;
  keepAlive = true;
  paused = false;
  bodyTimeoutMs = 0;
  headersTimeoutMs = 0;
  /** Keep-alive time after this response (the upstream's hint, else the pool's idle timeout). */
  idleMs: number;
  partialHeaders: string[] = [];
  // Request body streaming.
  body: BodyWithConn | null = null;
  bodyChunked = false;
  bodyExpected = -1;
  bodyWritten = 0;
  bodyDone = true;
  // One timer per kind (indexed by Timer), re-armed with refresh() when the duration repeats: route
  // timeouts and keep-alive times rarely change, so a request allocates no timer.
  readonly timers: (NodeJS.Timeout | null)[] = [null, null, null, null, null];
  readonly timerMs: number[] = [0, 0, 0, 0, 0];
  timerKind = Timer.None;
  readonly resumeFn: () => void;
  readonly abortFn: (err?: Error) => void;

  constructor(pool: ConnPool) {
    this.pool = pool;
    this.idleMs = pool.idleTimeoutMs;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {}, pool.maxHeaderSize, 0);
    parser.conn = this;
    parser[HTTPParser.kOnHeaders] = parserOnHeaders;
    parser[HTTPParser.kOnHeadersComplete] = parserOnHeadersComplete;
    parser[HTTPParser.kOnBody] = parserOnBody;
    parser[HTTPParser.kOnMessageComplete] = parserOnMessageComplete;
    this.parser = parser;
    // Bound once per connection (not per request): see UpstreamHandler.onConnect.
    this.resumeFn = () => this.resume();
    this.abortFn = (err?: Error) => this.abort(err);
    const socket = net.connect({ host: pool.address, port: pool.port, noDelay: true }) as SocketWithConn;
    socket.conn = this;
    socket.on('connect', onSocketConnect);
    const handle = socket._handle;
    if (handle !== null && handle.isStreamBase === true && handle._consumed !== true) {
      handle._consumed = true;
      parser[HTTPParser.kOnExecute] = parserOnExecute;
      parser.consume(handle);
      this.consumed = true;
    } else socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    this.socket = socket;
    if (pool.connectTimeoutMs > 0) this.arm(Timer.Connect, pool.connectTimeoutMs);
  }

  arm(kind: Timer, ms: number): void {
    this.timerKind = kind;
    const t = this.timers[kind]!;
    if (t !== null && this.timerMs[kind] === ms) {
      t.refresh();
      return;
    }
    if (t !== null) clearTimeout(t);
    this.timerMs[kind] = ms;
    const n = setTimeout(onTimer, ms, this, kind);
    n.unref();
    this.timers[kind] = n;
  }

  onTimer(): void {
    const kind = this.timerKind;
    this.timerKind = Timer.None;
    switch (kind) {
      case Timer.Connect:
        if (!this.connected) this.fail(new UpstreamError('connect timeout', 'UND_ERR_CONNECT_TIMEOUT'));
        return;
      case Timer.Headers:
        this.fail(new UpstreamError('headers timeout', 'UND_ERR_HEADERS_TIMEOUT'));
        return;
      case Timer.Body:
        this.fail(new UpstreamError('body timeout', 'UND_ERR_BODY_TIMEOUT'));
        return;
      case Timer.Idle:
        if (this.handler === null) this.socket.destroy();
        return;
    }
  }

  /** Starts `req` on this connection (it is connected and idle, or still connecting). */
  start(req: UpstreamRequest, handler: UpstreamHandler): void {
    this.handler = handler;
    this.isHead = req.method === 'HEAD';
    this.informational = false;
    this.headersDone = false;
    this.paused = false;
    this.headersTimeoutMs = req.headersTimeout;
    this.bodyTimeoutMs = req.bodyTimeout;
    this.partialHeaders.length = 0;
    this.pool.running++;
    handler.onConnect(this.abortFn);
    if (this.handler !== handler) return; // aborted inside onConnect
    // While connecting, the connect timeout runs; the headers timeout starts once connected.
    if (this.connected || this.pool.connectTimeoutMs === 0) {
      if (this.headersTimeoutMs > 0) this.arm(Timer.Headers, this.headersTimeoutMs);
      else this.timerKind = Timer.None;
    }
    this.writeHead(req);
  }

  writeHead(req: UpstreamRequest): void {
    const h = req.headers;
    let head = req.method + ' ' + req.path + ' HTTP/1.1\r\n';
    let hasLength = false;
    const body = req.body;
    const i0 = h.length > 0 && h[0] === 'host' ? 2 : 0;
    if (i0 === 2) head += 'host: ' + h[1] + '\r\nconnection: keep-alive\r\n';
    else head += 'connection: keep-alive\r\n';
    for (let i = i0; i < h.length; i += 2) {
      const name = h[i]!;
      if (name.length === 14 && name === 'content-length') {
        hasLength = true;
        if (body !== null) this.bodyExpected = Number(h[i + 1]);
      }
      head += name + ': ' + h[i + 1] + '\r\n';
    }
    if (body === null) {
      // As undici (and node's client) do: a POST/PUT/PATCH without a body says so explicitly.
      if (!hasLength && (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')) head += 'content-length: 0\r\n';
      this.bodyDone = true;
      this.body = null;
      this.socket.write(head + '\r\n', 'latin1');
      return;
    }
    this.bodyChunked = !hasLength;
    if (!hasLength) {
      this.bodyExpected = -1;
      head += 'transfer-encoding: chunked\r\n';
    }
    this.bodyWritten = 0;
    this.bodyDone = false;
    this.socket.write(head + '\r\n', 'latin1');
    const b = body as BodyWithConn;
    b.weirConn = this;
    this.body = b;
    b.on('data', bodyOnData);
    b.on('end', bodyOnEnd);
    b.on('error', bodyOnError);
    b.on('close', bodyOnClose);
  }

  writeBody(chunk: Buffer): void {
    if (this.bodyDone) return;
    this.bodyWritten += chunk.length;
    if (this.bodyExpected >= 0 && this.bodyWritten > this.bodyExpected) {
      this.bodyFailed(new UpstreamError('request body longer than content-length', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'));
      return;
    }
    const s = this.socket;
    let ok: boolean;
    if (this.bodyChunked) {
      if (chunk.length === 0) return;
      s.cork();
      s.write(chunk.length.toString(16) + '\r\n', 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else ok = s.write(chunk);
    if (!ok) this.body!.pause();
  }

  endBody(): void {
    if (this.bodyDone) return;
    if (this.bodyExpected >= 0 && this.bodyWritten !== this.bodyExpected) {
      this.bodyFailed(new UpstreamError('request body shorter than content-length', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'));
      return;
    }
    if (this.bodyChunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.detachBody();
  }

  bodyFailed(err: Error): void {
    if (this.bodyDone) return;
    this.detachBody();
    this.fail(err);
  }

  detachBody(): void {
    this.bodyDone = true;
    const b = this.body;
    if (b === null) return;
    this.body = null;
    b.weirConn = null;
    b.off('data', bodyOnData);
    b.off('end', bodyOnEnd);
    b.off('error', bodyOnError);
    b.off('close', bodyOnClose);
    // Abandoned mid-way (an early response, a failure): whatever the client still sends is read
    // and dropped, so a paused body cannot stall its downstream keep-alive connection.
    if (!b.readableEnded && !b.destroyed) b.resume();
  }

  onConnected(): void {
    this.connected = true;
    this.pool.connected++;
    if (this.handler !== null && this.headersTimeoutMs > 0) this.arm(Timer.Headers, this.headersTimeoutMs);
    else if (this.timerKind === Timer.Connect) this.timerKind = Timer.None;
  }

  onData(d: Buffer): void {
    const r = this.parser.execute(d);
    if (typeof r !== 'number') this.parseError(r);
  }

  parseError(err: Error): void {
    // undici reports llhttp errors as HTTPParserError (a protocol error), except a header block
    // over the limit (UND_ERR_HEADERS_OVERFLOW, a reset).
    if ((err as { code?: string }).code !== 'HPE_HEADER_OVERFLOW') err.name = 'HTTPParserError';
    this.fail(err);
  }

  onResponseHeaders(headers: string[] | undefined, statusCode: number, statusText: string, shouldKeepAlive: boolean): number {
    const handler = this.handler;
    if (handler === null) {
      // A response nobody asked for: the connection is unusable.
      this.socket.destroy();
      return 0;
    }
    let list = headers;
    if (this.partialHeaders.length > 0) {
      const p = this.partialHeaders;
      if (headers !== undefined) for (let i = 0; i < headers.length; i++) p.push(headers[i]!);
      list = p.slice();
      p.length = 0;
    }
    if (list === undefined) list = EMPTY_HEADERS;
    if (statusCode < 200) {
      // 1xx (100 Continue, 103 Early Hints): informational, the real response follows.
      this.informational = true;
      return 0;
    }
    this.informational = false;
    this.headersDone = true;
    this.keepAlive = shouldKeepAlive;
    this.idleMs = this.pool.idleTimeoutMs;
    for (let i = 0; i < list.length; i += 2) {
      const n = list[i]!;
      if (n.length === 10 && n.toLowerCase() === 'keep-alive') this.keepAliveHint(list[i + 1]!);
    }
    if (this.bodyTimeoutMs > 0) this.arm(Timer.Body, this.bodyTimeoutMs);
    else this.timerKind = Timer.None;
    if (!handler.onHeaders(statusCode, list, this.resumeFn, statusText) && this.handler === handler) this.pause();
    // A response to HEAD has no body whatever its headers say (node's client returns 1 likewise).
    return this.isHead ? 1 : 0;
  }

  keepAliveHint(v: string): void {
    const m = /timeout=(\d+)/i.exec(v);
    if (m === null) return;
    const ms = Math.min(Number(m[1]) * 1000 - KEEP_ALIVE_THRESHOLD_MS, this.pool.idleTimeoutMs);
    if (ms <= 0) this.keepAlive = false;
    else this.idleMs = ms;
  }

  onBody(chunk: Buffer): void {
    const handler = this.handler;
    if (handler === null || this.informational) return;
    if (this.timerKind === Timer.Body) this.timers[Timer.Body]!.refresh();
    if (!handler.onData(chunk) && this.handler === handler) this.pause();
  }

  onMessageComplete(): void {
    const handler = this.handler;
    if (handler === null) return;
    if (this.informational) {
      this.informational = false;
      return;
    }
    this.handler = null;
    this.timerKind = Timer.None;
    this.pool.running--;
    // A response that ends before the request body was sent leaves the connection mid-request.
    const reusable = this.keepAlive && this.bodyDone && !this.closed;
    if (!this.bodyDone) this.detachBody();
    if (this.paused) this.resume();
    handler.onComplete(null);
    if (reusable) this.pool.release(this);
    else this.socket.destroy();
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    if (!this.consumed) {
      this.socket.pause();
      return;
    }
    const h = this.socket._handle;
    if (h !== null && h.reading !== false) {
      h.reading = false;
      h.readStop();
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.timerKind === Timer.Body) this.timers[Timer.Body]!.refresh();
    if (!this.consumed) {
      this.socket.resume();
      return;
    }
    const h = this.socket._handle;
    if (h !== null && h.reading !== true) {
      h.reading = true;
      h.readStart();
    }
  }

  /** Idle: waiting for the next request, closed after the keep-alive time. */
  idle(): void {
    this.arm(Timer.Idle, this.idleMs);
  }

  onEnd(): void {
    // The upstream closed its side: a response delimited by the close completes now.
    // An incomplete one (content-length or chunked cut short) is a reset, as undici reports it.
    if (this.handler !== null && this.headersDone) this.parser.finish();
    if (this.handler !== null) this.fail(new UpstreamError('other side closed', 'UND_ERR_SOCKET'));
    this.socket.destroy();
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.connected) this.pool.connected--;
    for (const t of this.timers) if (t !== null) clearTimeout(t);
    this.timerKind = Timer.None;
    if (this.handler !== null) this.fail(this.socketError ?? new UpstreamError('other side closed', 'UND_ERR_SOCKET'));
    this.parser.conn = null;
    if (this.consumed) this.parser.unconsume();
    this.parser.close();
    this.pool.removed(this);
  }

  abort(err?: Error): void {
    if (this.handler === null) return;
    this.fail(err ?? new UpstreamError('request aborted', 'UND_ERR_ABORTED'));
  }

  /** Ends the current request with `err` and closes the connection. */
  fail(err: Error): void {
    const handler = this.handler;
    this.timerKind = Timer.None;
    if (!this.bodyDone) this.detachBody();
    if (handler !== null) {
      this.handler = null;
      this.pool.running--;
    }
    this.socket.destroy();
    if (handler !== null) handler.onError(err);
  }
}

interface Pending {
  readonly req: UpstreamRequest;
  readonly handler: UpstreamHandler;
}

/** Keep-alive HTTP/1.1 connections to one endpoint (`address:port`). */
export class ConnPool {
  readonly address: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxHeaderSize: number;
  connected = 0;
  running = 0;
  /** Every open or opening connection. */
  readonly #live = new Set<H1Connection>();
  readonly #idle: H1Connection[] = [];
  readonly #pending: Pending[] = [];
  #closing = false;
  #destroyed = false;
  #closeWaiters: (() => void)[] = [];

  constructor(address: string, port: number, o: ConnPoolOptions) {
    if (NATIVE_PARSER_PROBLEM !== null) throw new Error('ConnPool unavailable: ' + NATIVE_PARSER_PROBLEM);
    this.address = address;
    this.port = port;
    this.connectTimeoutMs = o.connectTimeoutMs;
    this.idleTimeoutMs = o.idleTimeoutMs > 0 ? o.idleTimeoutMs : 3_600_000;
    this.maxConnections = o.maxConnections > 0 ? o.maxConnections : 1;
    this.maxHeaderSize = o.maxHeaderSize;
  }

  get stats(): ConnPoolStats {
    return { connected: this.connected, free: this.#idle.length, pending: this.#pending.length, running: this.running, size: this.#live.size };
  }

  /** Sends `req`; the outcome arrives on `handler` (never synchronously an error). */
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.#closing || this.#destroyed) {
      process.nextTick(failLater, handler, new UpstreamError(this.#destroyed ? 'pool destroyed' : 'pool closed', this.#destroyed ? 'UND_ERR_DESTROYED' : 'UND_ERR_CLOSED'));
      return;
    }
    const idle = this.#idle;
    if (idle.length > 0) {
      idle.pop()!.start(req, handler);
      return;
    }
    if (this.#live.size < this.maxConnections) {
      this.#open().start(req, handler);
      return;
    }
    this.#pending.push({ req, handler });
  }

  /** A connection finished its request and may be reused. */
  release(c: H1Connection): void {
    const p = this.#pending.shift();
    if (p !== undefined) {
      c.start(p.req, p.handler);
      return;
    }
    if (this.#closing) {
      c.socket.destroy();
      return;
    }
    c.idle();
    this.#idle.push(c);
  }

  #open(): H1Connection {
    const c = new H1Connection(this);
    this.#live.add(c);
    return c;
  }

  /** A connection closed. */
  removed(c: H1Connection): void {
    this.#live.delete(c);
    const idle = this.#idle;
    const i = idle.indexOf(c);
    if (i !== -1) idle.splice(i, 1);
    // Queued requests get a connection of their own (its failure, if any, is theirs).
    const p = this.#pending.shift();
    if (p !== undefined && !this.#destroyed) this.#open().start(p.req, p.handler);
    this.#checkClosed();
  }

  #checkClosed(): void {
    if (!(this.#closing || this.#destroyed)) return;
    if (this.running > 0 || this.#pending.length > 0) return;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
    if (this.#live.size > 0) return;
    const w = this.#closeWaiters.splice(0);
    for (const f of w) f();
  }

  /** Graceful: running and queued requests finish, then every connection closes. */
  close(): Promise<void> {
    this.#closing = true;
    return new Promise((resolve) => {
      this.#closeWaiters.push(resolve);
      this.#checkClosed();
      // Idle connections have nothing to finish.
      if (this.running === 0 && this.#pending.length === 0) for (const c of this.#idle.splice(0)) c.socket.destroy();
    });
  }

  /** Now: queued and running requests fail with UND_ERR_DESTROYED. */
  destroy(): Promise<void> {
    this.#destroyed = true;
    const err = new UpstreamError('pool destroyed', 'UND_ERR_DESTROYED');
    for (const p of this.#pending.splice(0)) process.nextTick(failLater, p.handler, err);
    return new Promise((resolve) => {
      this.#closeWaiters.push(resolve);
      for (const c of [...this.#live]) c.fail(err);
      this.#checkClosed();
    });
  }
}

function failLater(handler: UpstreamHandler, err: Error): void {
  handler.onError(err);
}
