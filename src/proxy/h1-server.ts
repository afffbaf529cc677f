// The lean downstream HTTP/1.1 server: a net.Server whose connections are parsed by node's own
// native llhttp (`require('_http_common').HTTPParser`, the parser node:http's server uses, reading
// the socket natively with `parser.consume(handle)`), with one object per request (H1Exchange: the
// request and its response) instead of node:http's IncomingMessage + ServerResponse + Writable
// machinery. Why: on the proxy benchmark a bare node:http server cost 38 µs of CPU per request, more
// than nginx's whole 30 µs (bench/RESULTS.md, "Proxy: where the time goes").
//
// It keeps what node:http guaranteed the proxy: keep-alive (HTTP/1.0 and `connection: close`
// honoured, `connection: keep-alive` + `keep-alive: timeout=` sent as node does), a `date` header,
// HEAD / 204 / 304 without a body, chunked framing when the response has no content-length
// (close-delimited for HTTP/1.0), `expect: 100-continue` answered at once (other expectations 417),
// HTTP/1.1 without Host 400, pipelined responses strictly in request order (later requests wait, and
// reading stops while one waits), malformed requests and llhttp's smuggling refusals (CL+TE,
// duplicate CL) 400 + close, header overflow 431 + close, request/headers timeout 408 + close (a
// response in progress on that connection is never interleaved: the connection closes instead),
// keep-alive idle timeout, request bodies as Readables with backpressure (allocated only for
// requests that have a body), CONNECT refused, upgrades handed off with the socket and head bytes.
//
// node's parser API (`_http_common` is internal) is the same on node 20 and 24 for what is used
// here: initialize(type, resource, maxHeaderSize, lenientFlags), callbacks at the indices
// HTTPParser.kOn*; it is feature-checked once (DOWNSTREAM_PARSER_PROBLEM) and the proxy falls back
// to node:http with a warning when it is missing (resolveDownstreamServer).

import * as net from 'node:net';
import { Readable } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import { probeNativeParser } from '../upstream/conn-pool';
import type { DownstreamRequest, DownstreamResponse } from './downstream';

export type DownstreamServerKind = 'native' | 'node';
export const DOWNSTREAM_SERVERS: readonly DownstreamServerKind[] = ['native', 'node'];

interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  consume(handle: object): void;
  unconsume(): void;
  getCurrentBuffer(): Buffer;
  finish(): number | Error | undefined;
  close(): void;
  [k: number]: unknown;
  conn: H1Connection | null;
}
interface NativeParserClass {
  new (): NativeParser;
  readonly REQUEST: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kOnExecute: number;
}

function probe(): { parser: NativeParserClass | null; methods: readonly string[]; problem: string | null } {
  const p = probeNativeParser(() => require('_http_common'));
  if (p.problem !== null) return { parser: null, methods: [], problem: p.problem };
  const P = p.parser as NativeParserClass & { prototype: Record<string, unknown> };
  for (const k of ['REQUEST', 'kOnMessageBegin'] as const) {
    if (typeof P[k] !== 'number') return { parser: null, methods: [], problem: 'HTTPParser.' + k + ' is missing' };
  }
  if (typeof P.prototype.getCurrentBuffer !== 'function') return { parser: null, methods: [], problem: 'HTTPParser.prototype.getCurrentBuffer is missing' };
  let methods: unknown;
  try {
    methods = (require('_http_common') as { methods?: unknown }).methods;
  } catch {
    methods = undefined;
  }
  if (!Array.isArray(methods) || methods[1] !== 'GET') return { parser: null, methods: [], problem: '_http_common.methods is missing' };
  return { parser: P, methods: methods as string[], problem: null };
}

const PROBE = probe();
const HTTPParser = PROBE.parser as NativeParserClass;
/** Why the lean server cannot run on this node (null: it can). */
export const DOWNSTREAM_PARSER_PROBLEM: string | null = PROBE.problem;

/** llhttp's method enum past node's `methods` list (RTSP ones and QUERY), for node versions whose llhttp accepts them. */
const EXTRA_METHODS: Record<number, string> = {
  35: 'DESCRIBE', 36: 'ANNOUNCE', 37: 'SETUP', 38: 'PLAY', 39: 'PAUSE', 40: 'TEARDOWN', 41: 'GET_PARAMETER',
  42: 'SET_PARAMETER', 43: 'REDIRECT', 44: 'RECORD', 45: 'FLUSH', 46: 'QUERY',
};
const METHODS: readonly string[] = PROBE.methods;

/**
 * The downstream server to use: `native` falls back to `node` (node:http) when this node's
 * `_http_common` lacks what the lean server needs, with one warning.
 */
export function resolveDownstreamServer(
  requested: DownstreamServerKind,
  warn: (msg: string, fields?: object) => void,
  problem: string | null = DOWNSTREAM_PARSER_PROBLEM,
): DownstreamServerKind {
  if (requested === 'native' && problem !== null) {
    warn('native downstream server unavailable, using node:http', { reason: problem });
    return 'node';
  }
  return requested;
}

// --- the date header: one string per second, as node:http caches it ---
let dateCache = '';
function resetDate(): void {
  dateCache = '';
}
function utcDate(): string {
  if (dateCache === '') {
    const now = Date.now();
    dateCache = new Date(now).toUTCString();
    setTimeout(resetDate, 1000 - (now % 1000)).unref();
  }
  return dateCache;
}

const STATUS_LINES: string[] = [];
function statusLine(status: number): string {
  let s = STATUS_LINES[status];
  if (s === undefined) {
    s = 'HTTP/1.1 ' + status + ' ' + (STATUS_CODES[status] ?? 'unknown') + '\r\n';
    if (status >= 100 && status < 1000) STATUS_LINES[status] = s;
  }
  return s;
}

interface LatinBuffer extends Buffer {
  latin1Write?(s: string, offset: number): number;
}
// Buffer's own latin1Write (what buf.write(s, o, 'latin1') ends in) skips write()'s argument
// parsing, measurable once per response; buf.write where a node lacks it.
const HAS_LATIN1_WRITE = typeof (Buffer.prototype as LatinBuffer).latin1Write === 'function';
function latin1Write(buf: LatinBuffer, s: string, offset: number): number {
  return HAS_LATIN1_WRITE ? buf.latin1Write!(s, offset) : buf.write(s, offset, 'latin1');
}

/** node's continueExpression. */
const CONTINUE_RE = /(?:^|\W)100-continue(?:$|\W)/i;
const CONTINUE_RESPONSE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** A first body chunk up to this size is copied into one buffer with the head (one write). */
const COALESCE_MAX = 16 * 1024;
/** node:http's headersTimeout default: min(60 s, requestTimeout). */
const HEADERS_TIMEOUT_CAP_MS = 60_000;

const enum Timer {
  None = 0,
  Idle = 1,
  Request = 2,
}

const enum Phase {
  /** Waiting for (or reading) a request's headers. */
  Head = 0,
  /** Headers done, body being read. */
  Body = 1,
}

interface StreamHandle {
  isStreamBase?: boolean;
  _consumed?: boolean;
  reading?: boolean;
  readStart(): number;
  readStop(): number;
}
interface SocketWithConn extends net.Socket {
  weirH1: H1Connection | null;
  _handle: StreamHandle | null;
}

/** The error node:http gives a request whose connection went away mid-body. */
function abortedError(): Error {
  const e = new Error('aborted') as Error & { code: string };
  e.code = 'ECONNRESET';
  return e;
}

/** A request body: pushed by the parser, pulled by the upstream pool; `_read` resumes the socket. */
export class RequestBody extends Readable {
  conn: H1Connection | null;
  constructor(conn: H1Connection) {
    super();
    this.conn = conn;
  }
  override _read(): void {
    const c = this.conn;
    if (c !== null && c.bodyPaused) {
      c.bodyPaused = false;
      c.updateReading();
    }
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // As node's IncomingMessage: an abort nobody listens for is not an uncaught error.
    cb(err !== null && this.listenerCount('error') > 0 ? err : null);
  }
}

/**
 * One request on a connection and its response (both DownstreamRequest and DownstreamResponse).
 * Every field is set in the constructor (one V8 shape).
 */
export class H1Exchange implements DownstreamRequest, DownstreamResponse {
  readonly conn: H1Connection;
  readonly socket: net.Socket;
  // --- request ---
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  /** llhttp's verdict: HTTP/1.1 without `connection: close`, or HTTP/1.0 with `connection: keep-alive`. */
  readonly keepAlive: boolean;
  readonly expect: string | null;
  readonly hasHost: boolean;
  /** The request body, null when the request has none (no content-length > 0, no transfer-encoding). */
  body: RequestBody | null;
  /** The whole request was received. */
  complete = false;
  // --- response ---
  headersSent = false;
  destroyed = false;
  finished = false;
  /** The response head, not yet written (it goes out with the first body bytes or the end). */
  head: string | null = null;
  chunked = false;
  bodyAllowed = true;
  /** Close the connection after this response. */
  last = false;
  needDrain = false;
  closeListener: ((this: H1Exchange) => void) | null = null;
  drainListener: ((this: H1Exchange) => void) | null = null;

  constructor(conn: H1Connection, method: string, url: string, headers: string[], major: number, minor: number, keepAlive: boolean) {
    this.conn = conn;
    this.socket = conn.socket;
    this.method = method;
    this.url = url;
    this.rawHeaders = headers;
    this.httpVersionMajor = major;
    this.httpVersionMinor = minor;
    this.keepAlive = keepAlive;
    let expect: string | null = null;
    let hasHost = false;
    let hasBody = false;
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      switch (n.length) {
        case 4:
          if (n === 'host' || n === 'Host' || n.toLowerCase() === 'host') hasHost = true;
          break;
        case 6:
          if (n.toLowerCase() === 'expect') expect = headers[i + 1]!;
          break;
        case 14:
          if ((n === 'content-length' || n === 'Content-Length' || n.toLowerCase() === 'content-length') && Number(headers[i + 1]) > 0) hasBody = true;
          break;
        case 17:
          if (n.toLowerCase() === 'transfer-encoding') hasBody = true;
          break;
      }
    }
    this.expect = expect;
    this.hasHost = hasHost;
    this.body = hasBody ? new RequestBody(conn) : null;
  }

  // --- DownstreamResponse ---

  on(event: 'close' | 'drain', listener: () => void): this {
    if (event === 'close') this.closeListener = listener;
    else this.drainListener = listener;
    return this;
  }

  writeHead(status: number, headers: string[]): this {
    if (this.headersSent || this.finished) return this;
    let head = statusLine(status);
    let hasLength = false;
    let hasTe = false;
    let hasDate = false;
    let connection: string | null = null;
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      const v = headers[i + 1]!;
      switch (n.length) {
        case 4:
          if (n === 'date' || n.toLowerCase() === 'date') hasDate = true;
          break;
        case 10:
          if (n === 'connection' || n.toLowerCase() === 'connection') connection = v;
          break;
        case 14:
          if (n === 'content-length' || n.toLowerCase() === 'content-length') hasLength = true;
          break;
        case 17:
          if (n.toLowerCase() === 'transfer-encoding') {
            hasTe = true;
            if (/chunked/i.test(v)) this.chunked = true;
          }
          break;
      }
      head += n + ': ' + v + '\r\n';
    }
    if (!hasDate) head += 'date: ' + utcDate() + '\r\n';
    const conn = this.conn;
    let keep = this.keepAlive && !conn.server.closing;
    const bodyAllowed = this.method !== 'HEAD' && status !== 204 && status !== 304 && (status < 100 || status >= 200);
    this.bodyAllowed = bodyAllowed;
    if (!hasLength && !hasTe && bodyAllowed) {
      // No length: chunked on HTTP/1.1, close-delimited on HTTP/1.0 (node:http's _storeHeader).
      if (this.httpVersionMinor >= 1 && this.httpVersionMajor === 1) {
        head += 'transfer-encoding: chunked\r\n';
        this.chunked = true;
      } else keep = false;
    }
    if (connection !== null) {
      if (/close/i.test(connection)) keep = false;
    } else head += keep ? conn.server.keepAliveHeader : 'connection: close\r\n';
    this.last = !keep;
    this.head = head + '\r\n';
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.finished || this.destroyed) return false;
    if (!this.headersSent) this.writeHead(200, []);
    if (!this.bodyAllowed || chunk.length === 0) return true;
    if (this.head !== null) {
      // The head leaves with the first body bytes, in one buffer (one write). (node's parser runs
      // the tick queue between its body and message-complete callbacks, so holding the chunk back
      // for end() would not save a write: it goes now.)
      if (chunk.length <= COALESCE_MAX) {
        this.flush(chunk, false);
        return !this.needDrain;
      }
      const s = this.socket;
      s.cork();
      this.flush(null, false);
      const ok = this.send(chunk);
      s.uncork();
      return ok;
    }
    return this.send(chunk);
  }

  end(body?: string): this {
    if (this.finished) return this;
    if (!this.headersSent) this.writeHead(200, []);
    this.finished = true;
    if (!this.destroyed) {
      const data = body !== undefined && body.length > 0 && this.bodyAllowed ? Buffer.from(body) : null;
      if (this.head !== null) this.flush(data, true);
      else {
        if (data !== null) this.send(data);
        if (this.chunked) this.socket.write('0\r\n\r\n', 'latin1');
      }
    }
    this.conn.responseDone(this);
    return this;
  }

  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.socket.destroy();
    }
    return this;
  }

  /** Writes the head, `data` and (when `last` and chunked) the terminator, as one buffer. */
  flush(data: Buffer | null, last: boolean): void {
    const head = this.head!;
    this.head = null;
    const chunked = this.chunked;
    let size = head.length;
    let dataPrefix = '';
    if (data !== null) {
      if (chunked) dataPrefix = data.length.toString(16) + '\r\n';
      size += dataPrefix.length + data.length + (chunked ? 2 : 0);
    }
    if (last && chunked) size += 5;
    const buf = Buffer.allocUnsafe(size) as LatinBuffer;
    let o = latin1Write(buf, head, 0);
    if (data !== null) {
      if (chunked) o += latin1Write(buf, dataPrefix, o);
      o += data.copy(buf, o);
      if (chunked) o += latin1Write(buf, '\r\n', o);
    }
    if (last && chunked) latin1Write(buf, '0\r\n\r\n', o);
    if (!this.socket.write(buf)) this.needDrain = true;
  }

  send(chunk: Buffer): boolean {
    const s = this.socket;
    let ok: boolean;
    if (this.chunked) {
      s.cork();
      s.write(chunk.length.toString(16) + '\r\n', 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else ok = s.write(chunk);
    if (!ok) this.needDrain = true;
    return ok;
  }
}

function dispatchNT(c: H1Connection, ex: H1Exchange): void {
  if (!c.closed && c.active === ex) c.dispatch(ex);
}

function onTimer(c: H1Connection, kind: Timer): void {
  if (kind === Timer.Idle) c.idlePending = false;
  if (c.timerKind === kind) c.onTimer(kind);
}

// --- parser callbacks (`this` is the parser) ---
function parserOnMessageBegin(this: NativeParser): void {
  const c = this.conn;
  if (c !== null) c.messageBegin();
}
function parserOnHeaders(this: NativeParser, headers: string[], url: string): void {
  // Called when the header block spans several reads or holds more than 32 fields.
  const c = this.conn;
  if (c === null) return;
  const p = c.partialHeaders;
  for (let i = 0; i < headers.length; i++) p.push(headers[i]!);
  c.partialUrl += url;
}
function parserOnHeadersComplete(
  this: NativeParser,
  major: number,
  minor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  _statusCode: unknown,
  _statusText: unknown,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  const c = this.conn;
  if (c === null) return 0;
  return c.headersComplete(major, minor, headers, method, url, upgrade, keepAlive);
}
function parserOnBody(this: NativeParser, chunk: Buffer): void {
  const c = this.conn;
  if (c !== null) c.onBody(chunk);
}
function parserOnMessageComplete(this: NativeParser): void {
  const c = this.conn;
  if (c !== null) c.messageComplete();
}
function parserOnExecute(this: NativeParser, ret: number | Error): void {
  const c = this.conn;
  if (c !== null) c.executed(ret, null);
}

function closeParser(p: NativeParser): void {
  p.close();
}

// --- socket listeners (`this` is the socket) ---
function onSocketData(this: SocketWithConn, d: Buffer): void {
  const c = this.weirH1;
  if (c === null || c.parser === null) return;
  c.executed(c.parser.execute(d), d);
}
function onSocketEnd(this: SocketWithConn): void {
  const c = this.weirH1;
  if (c !== null) c.onEnd();
}
function onSocketError(this: SocketWithConn): void {
  // 'close' follows; the exchange in progress learns it there.
}
function onSocketClose(this: SocketWithConn): void {
  const c = this.weirH1;
  if (c !== null) c.onClose();
}
function onSocketDrain(this: SocketWithConn): void {
  const c = this.weirH1;
  if (c === null) return;
  const ex = c.active;
  if (ex !== null && ex.needDrain && !ex.finished) {
    ex.needDrain = false;
    const l = ex.drainListener;
    if (l !== null) l.call(ex);
  }
}

function onConnection(this: H1Server, socket: net.Socket): void {
  new H1Connection(this, socket as SocketWithConn);
}

/** One downstream connection: parses requests and serves them one at a time, in order. */
export class H1Connection {
  readonly server: H1Server;
  readonly socket: SocketWithConn;
  parser: NativeParser | null;
  consumed = false;
  /** The exchange whose response is being produced. */
  active: H1Exchange | null = null;
  /** Pipelined exchanges waiting for the active one (null until the first). */
  queue: H1Exchange[] | null = null;
  /** The exchange whose request body is being read. */
  incoming: H1Exchange | null = null;
  phase = Phase.Head;
  partialHeaders: string[] = [];
  partialUrl = '';
  /** The request body is over its high-water mark: stop reading until it is read. */
  bodyPaused = false;
  reading = true;
  /** Nothing more is parsed (protocol error, data after `connection: close`, hand-off). */
  stopped = false;
  upgrade: H1Exchange | null = null;
  /** A protocol error behind a request in progress: close once the requests before it are answered. */
  poisoned = false;
  /** A protocol error was handled (answered, or the connection is closing). */
  errored = false;
  closed = false;
  readonly requestTimeoutMs: number;
  beginMs = 0;
  readonly timers: (NodeJS.Timeout | null)[] = [null, null, null];
  readonly timerMs: number[] = [0, 0, 0];
  timerKind = Timer.None;
  /** An idle timer is scheduled (it may fire early: see idle()). */
  idlePending = false;
  idleSince = 0;

  constructor(server: H1Server, socket: SocketWithConn) {
    this.server = server;
    this.socket = socket;
    socket.weirH1 = this;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, server.maxHeaderSize, 0);
    parser.conn = this;
    this.requestTimeoutMs = server.requestTimeout;
    // Message-begin callbacks cost a call per request: only when request_timeout needs them.
    if (this.requestTimeoutMs > 0) parser[HTTPParser.kOnMessageBegin] = parserOnMessageBegin;
    parser[HTTPParser.kOnHeaders] = parserOnHeaders;
    parser[HTTPParser.kOnHeadersComplete] = parserOnHeadersComplete;
    parser[HTTPParser.kOnBody] = parserOnBody;
    // The message-complete callback is set only while a request body is being read (and with
    // request_timeout): a body-less request is complete with its headers, and node's parser skips
    // an unset callback, which saves a native-to-JS call per request.
    if (this.requestTimeoutMs > 0) parser[HTTPParser.kOnMessageComplete] = parserOnMessageComplete;
    this.parser = parser;
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
    server.h1Connections.add(this);
    this.idle();
  }

  get isIdle(): boolean {
    return this.active === null && this.incoming === null && this.phase === Phase.Head;
  }

  // --- timers: one per kind, re-armed with refresh() when the duration repeats ---

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

  /**
   * Keep-alive idle timeout (HCM common_http_protocol_options.idle_timeout). Lazy: the timer is
   * not re-armed per response; each response only notes the time, and a timer that fires early
   * (the connection was used meanwhile) is set again for the rest.
   */
  idle(): void {
    const ms = this.server.keepAliveTimeout;
    if (ms <= 0) {
      this.timerKind = Timer.None;
      return;
    }
    this.idleSince = performance.now();
    this.timerKind = Timer.Idle;
    if (!this.idlePending) {
      this.idlePending = true;
      this.arm(Timer.Idle, ms);
    }
  }

  onTimer(kind: Timer): void {
    this.timerKind = Timer.None;
    if (kind === Timer.Idle) {
      if (this.active !== null || this.incoming !== null) return;
      const left = this.server.keepAliveTimeout - (performance.now() - this.idleSince);
      if (left > 1) {
        this.idlePending = true;
        this.arm(Timer.Idle, Math.ceil(left));
        return;
      }
      this.socket.destroy();
      return;
    }
    // request_timeout (and node's headersTimeout) expired before the request was complete.
    this.protocolError(408);
  }

  messageBegin(): void {
    this.beginMs = Date.now();
    const rt = this.requestTimeoutMs;
    this.arm(Timer.Request, rt < HEADERS_TIMEOUT_CAP_MS ? rt : HEADERS_TIMEOUT_CAP_MS);
  }

  // --- parsing ---

  headersComplete(major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, upgrade: boolean, keepAlive: boolean): number {
    let list = headers;
    const p = this.partialHeaders;
    if (p.length > 0) {
      if (list !== undefined) for (let i = 0; i < list.length; i++) p.push(list[i]!);
      list = p;
      this.partialHeaders = [];
    } else if (list === undefined) list = [];
    let target = url;
    if (target === undefined || this.partialUrl !== '') {
      target = this.partialUrl + (target ?? '');
      this.partialUrl = '';
    }
    if (this.stopped || this.socket.destroyed) return 1;
    const name = METHODS[method] ?? EXTRA_METHODS[method] ?? 'GET';
    const ex = new H1Exchange(this, name, target, list, major, minor, keepAlive);
    if (this.requestTimeoutMs > 0) {
      // The headers timeout is spent; the rest of request_timeout bounds the body.
      if (this.requestTimeoutMs > HEADERS_TIMEOUT_CAP_MS) this.arm(Timer.Request, Math.max(1, this.requestTimeoutMs - (Date.now() - this.beginMs)));
    } else if (this.timerKind === Timer.Idle) this.timerKind = Timer.None;
    if (upgrade) {
      // Upgrade or CONNECT: llhttp stops after this head (return 2 skips the body); the socket is
      // handed off in executed(), with the bytes that followed the head.
      this.upgrade = ex;
      this.stopped = true;
      if (ex.body !== null) ex.body = null;
      return 2;
    }
    if (ex.body !== null) {
      this.incoming = ex;
      this.parser![HTTPParser.kOnMessageComplete] = parserOnMessageComplete;
      this.phase = Phase.Body;
    } else {
      ex.complete = true;
      if (this.timerKind === Timer.Request) this.timerKind = Timer.None;
    }
    if (this.active === null) {
      this.active = ex;
      this.dispatch(ex);
    } else {
      // Pipelined: it waits for the responses before it; stop reading meanwhile.
      if (this.queue === null) this.queue = [];
      this.queue.push(ex);
      this.updateReading();
    }
    return 0;
  }

  onBody(chunk: Buffer): void {
    const ex = this.incoming;
    if (ex === null) return;
    const b = ex.body;
    if (b === null || b.destroyed) return;
    if (!b.push(chunk) && !this.bodyPaused) {
      this.bodyPaused = true;
      this.updateReading();
    }
  }

  messageComplete(): void {
    this.phase = Phase.Head;
    if (this.timerKind === Timer.Request) this.timerKind = Timer.None;
    const ex = this.incoming;
    if (ex === null) return;
    this.incoming = null;
    if (this.requestTimeoutMs === 0 && this.parser !== null) this.parser[HTTPParser.kOnMessageComplete] = undefined;
    ex.complete = true;
    const b = ex.body;
    if (b !== null && !b.destroyed) b.push(null);
    if (this.bodyPaused) {
      this.bodyPaused = false;
      this.updateReading();
    }
    // Its response already ended (the rest of the body was dropped): the connection is idle now.
    if (this.active === null && !this.closed) this.idle();
  }

  /** After the parser consumed one read (`d` is null when it read the socket natively). */
  executed(ret: number | Error, d: Buffer | null): void {
    if (typeof ret !== 'number') {
      this.parseError(ret);
      return;
    }
    if (this.upgrade !== null) this.handOff(ret, d);
  }

  parseError(err: Error): void {
    const code = (err as { code?: string }).code;
    if (this.closed) return;
    if (code === 'HPE_CLOSED_CONNECTION') {
      // Data after a `connection: close` request: ignored, the connection ends after its response.
      this.stopped = true;
      this.updateReading();
      return;
    }
    this.protocolError(code === 'HPE_HEADER_OVERFLOW' ? 431 : 400);
  }

  /**
   * 400 / 431 / 408 and close. A response in progress on this connection (or a request being
   * served) must not be interleaved with it: the connection closes instead, as node:http does.
   */
  protocolError(status: number): void {
    if (this.closed || this.socket.destroyed || this.errored) return;
    this.errored = true;
    this.stopped = true;
    this.updateReading();
    const ex = this.incoming;
    if (ex !== null && ex.body !== null && !ex.complete) {
      // The error is inside a request body: that request cannot complete.
      ex.body.destroy(abortedError());
      this.socket.destroy();
      return;
    }
    if (this.active !== null) {
      // A later request is bad: the ones before it are answered, then the connection closes
      // without an error response (it must not be interleaved with theirs).
      this.poisoned = true;
      return;
    }
    if (!this.socket.writable) {
      this.socket.destroy();
      return;
    }
    const reply = this.server.handlers.protocolError(this.server, this.socket, status);
    this.socket.write(reply, 'latin1');
    this.endSoon();
  }

  handOff(ret: number, d: Buffer | null): void {
    const ex = this.upgrade!;
    this.upgrade = null;
    const parser = this.parser!;
    const data = d ?? parser.getCurrentBuffer();
    const head = data.subarray(ret);
    this.detach();
    const s = this.socket;
    if (this.active !== null || ex.method === 'CONNECT' || ex.method === 'PRI') {
      // CONNECT is not served (node:http without a 'connect' listener closes too); an upgrade
      // behind a pipelined request would interleave with its response.
      s.destroy();
      return;
    }
    (s as { readableFlowing: boolean | null }).readableFlowing = null;
    this.server.handlers.upgrade(this.server, ex, s, head);
  }

  /** Gives the socket up (upgrade hand-off): no parser, no listeners, no timers. */
  detach(): void {
    const s = this.socket;
    s.weirH1 = null;
    s.removeListener('data', onSocketData);
    s.removeListener('end', onSocketEnd);
    s.removeListener('error', onSocketError);
    s.removeListener('close', onSocketClose);
    s.removeListener('drain', onSocketDrain);
    this.clearTimers();
    this.server.h1Connections.delete(this);
    const parser = this.parser;
    if (parser !== null) {
      this.parser = null;
      parser.conn = null;
      if (this.consumed) {
        parser.unconsume();
        this.consumed = false;
      }
      // Not inside the parser's own callback stack (node:http's freeParser does the same).
      setImmediate(closeParser, parser);
    }
    const h = s._handle;
    if (h !== null && h.reading === false && !this.reading) {
      h.reading = true;
      h.readStart();
    }
  }

  clearTimers(): void {
    this.timerKind = Timer.None;
    this.idlePending = false;
    const t = this.timers;
    for (let i = 0; i < t.length; i++) {
      const x = t[i];
      if (x !== null && x !== undefined) clearTimeout(x);
      t[i] = null;
    }
  }

  /** Reading stops while a pipelined request waits, a body is over its mark, or after a stop. */
  updateReading(): void {
    const want = !this.stopped && !this.bodyPaused && (this.queue === null || this.queue.length === 0);
    if (want === this.reading || this.closed) return;
    this.reading = want;
    if (!this.consumed) {
      if (want) this.socket.resume();
      else this.socket.pause();
      return;
    }
    const h = this.socket._handle;
    if (h === null) return;
    if (want) {
      if (h.reading !== true) {
        h.reading = true;
        h.readStart();
      }
    } else if (h.reading !== false) {
      h.reading = false;
      h.readStop();
    }
  }

  // --- serving ---

  dispatch(ex: H1Exchange): void {
    if (ex.httpVersionMajor === 1 && ex.httpVersionMinor === 1) {
      // As node:http: HTTP/1.1 requires Host (RFC 9112 3.2); `expect: 100-continue` is answered
      // at once (Envoy's default too); any other expectation is 417.
      if (!ex.hasHost) {
        ex.writeHead(400, ['content-length', '0', 'connection', 'close']);
        ex.end();
        return;
      }
      if (ex.expect !== null) {
        if (!CONTINUE_RE.test(ex.expect)) {
          ex.writeHead(417, ['content-length', '0']);
          ex.end();
          return;
        }
        this.socket.write(CONTINUE_RESPONSE, 'latin1');
      }
    }
    this.server.handlers.request(this.server, ex);
  }

  /** The active exchange's response ended. */
  responseDone(ex: H1Exchange): void {
    if (this.active !== ex) return;
    this.active = null;
    if (this.closed || this.socket.destroyed) return;
    if (!ex.complete) {
      // The response ended before its request body was fully received (an early answer): the
      // rest is read and dropped (as node:http dumps it), then the connection goes on.
      const b = ex.body;
      if (b !== null && !b.destroyed) b.destroy();
      if (this.bodyPaused) {
        this.bodyPaused = false;
        this.updateReading();
      }
    }
    // `connection: close`, HTTP/1.0 without keep-alive, a close-delimited body or a closing
    // server: close once written.
    if (ex.last || this.server.closing) {
      ex.last = true;
      this.stopped = true;
      this.updateReading();
      this.endSoon();
      return;
    }
    const q = this.queue;
    if (this.poisoned && (q === null || q.length === 0)) {
      this.endSoon();
      return;
    }
    if (q !== null && q.length > 0) {
      const next = q.shift()!;
      this.active = next;
      if (q.length === 0) this.updateReading();
      // Not inside the finishing Stream's own call stack.
      process.nextTick(dispatchNT, this, next);
      return;
    }
    // (A pipelined head being read keeps its request timer.)
    if (this.incoming === null && this.phase === Phase.Head && this.timerKind !== Timer.Request) this.idle();
  }

  /** Close after what was written is flushed. */
  endSoon(): void {
    const s = this.socket as net.Socket & { destroySoon?: () => void };
    if (typeof s.destroySoon === 'function') s.destroySoon();
    else s.end();
  }

  onEnd(): void {
    // The client half-closed. An incomplete request is a protocol error (as node:http's
    // parser.finish()); a request being served is abandoned: the client is gone (node:http and
    // Envoy without half-close support both close: the Stream sees DC).
    const parser = this.parser;
    if (parser !== null && !this.stopped && this.active === null) {
      const r = parser.finish();
      if (r instanceof Error) {
        this.protocolError(400);
        return;
      }
    }
    this.stopped = true;
    if (this.active === null) this.endSoon();
    else this.socket.destroy();
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.server.h1Connections.delete(this);
    const parser = this.parser;
    if (parser !== null) {
      this.parser = null;
      parser.conn = null;
      if (this.consumed) parser.unconsume();
      parser.close();
    }
    // The response first (the Stream records DC and aborts its upstream request), then the body.
    const ex = this.active;
    if (ex !== null && !ex.finished) {
      ex.destroyed = true;
      const l = ex.closeListener;
      if (l !== null) l.call(ex);
    }
    const inc = this.incoming;
    if (inc !== null && inc.body !== null && !inc.complete) inc.body.destroy(abortedError());
    this.incoming = null;
    this.active = null;
    this.queue = null;
  }
}

export interface H1ServerHandlers {
  /** A request: `ex` is both the request and its response. Must not throw. */
  request(server: H1Server, ex: H1Exchange): void;
  /** An upgrade request; the socket and the bytes after its head are the handler's now. */
  upgrade(server: H1Server, ex: H1Exchange, socket: net.Socket, head: Buffer): void;
  /** A connection-level error (400 / 431 / 408): returns the response to send before closing. */
  protocolError(server: H1Server, socket: net.Socket, status: number): string;
}

export interface H1ServerOptions {
  /** Request header block limit in bytes (HCM max_request_headers_kb). */
  maxHeaderSize: number;
  /** request_timeout (0 = none); the headers must arrive within min(60 s, it), as node:http. */
  requestTimeout: number;
  /** Keep-alive idle timeout (0 = none). */
  keepAliveTimeout: number;
}

/** The lean HTTP/1.1 server (see the file header). Same lifecycle surface as node:http's Server. */
export class H1Server extends net.Server {
  readonly handlers: H1ServerHandlers;
  readonly maxHeaderSize: number;
  requestTimeout: number;
  #keepAliveTimeout = 0;
  /** `connection: keep-alive` plus node:http's `keep-alive: timeout=<s>` hint. */
  keepAliveHeader = 'connection: keep-alive\r\n';
  closing = false;
  readonly h1Connections = new Set<H1Connection>();

  constructor(opts: H1ServerOptions, handlers: H1ServerHandlers) {
    // allowHalfOpen: a client's FIN is handled (onEnd) rather than ending the socket at once.
    super({ allowHalfOpen: true, noDelay: true, keepAlive: true });
    if (DOWNSTREAM_PARSER_PROBLEM !== null) throw new Error('H1Server unavailable: ' + DOWNSTREAM_PARSER_PROBLEM);
    this.handlers = handlers;
    this.maxHeaderSize = opts.maxHeaderSize;
    this.requestTimeout = opts.requestTimeout;
    this.keepAliveTimeout = opts.keepAliveTimeout;
    this.on('connection', onConnection);
  }

  get keepAliveTimeout(): number {
    return this.#keepAliveTimeout;
  }

  set keepAliveTimeout(ms: number) {
    this.#keepAliveTimeout = ms;
    const s = Math.floor(ms / 1000);
    this.keepAliveHeader = s > 0 ? 'connection: keep-alive\r\nkeep-alive: timeout=' + s + '\r\n' : 'connection: keep-alive\r\n';
  }

  /** Stops accepting; idle connections close now, busy ones after their response (no keep-alive). */
  override close(cb?: (err?: Error) => void): this {
    this.closing = true;
    this.closeIdleConnections();
    return super.close(cb);
  }

  closeIdleConnections(): void {
    for (const c of [...this.h1Connections]) if (c.isIdle) c.socket.destroy();
  }

  closeAllConnections(): void {
    for (const c of [...this.h1Connections]) c.socket.destroy();
  }
}
