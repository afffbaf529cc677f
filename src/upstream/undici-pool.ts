// The second upstream client: ConnPool's public surface (dispatch / close / destroy / stats, the
// UpstreamHandler with string headers, the same error codes) over undici's Pool.
//
// Why keep it: ConnPool rests on node's undocumented `_http_common` HTTPParser; undici is a public,
// maintained client. It costs more CPU per request (bench/RESULTS.md, "Proxy: where the time goes"),
// so it is the fallback when the native parser is missing (NATIVE_PARSER_PROBLEM) and a choice
// (`--upstream-client undici`), not the default.
//
// The adapter is undici's legacy dispatch handler (undici 7 unwraps its controller API into exactly
// these calls, so this is its cheapest entry) and differs from a bare undici handler only where
// ConnPool's contract says so:
// - header names and values are strings (latin1, the upstream's case), 1xx responses are skipped;
// - onConnect comes at dispatch (undici calls it once the request is written), so the proxy can
//   abort a request still queued or connecting, and the handler hears of it at once;
// - errors never arrive synchronously from dispatch, and carry ConnPool's codes (mapError);
// - the request body is relayed (BodyRelay): undici destroys a body it gives up on, which would
//   destroy the downstream request and its connection; ConnPool drains it instead.

import { Readable } from 'node:stream';
import { Pool } from 'undici';
import type Dispatcher from 'undici/types/dispatcher';
import { type ConnPoolOptions, type ConnPoolStats, UpstreamError, type UpstreamHandler, type UpstreamRequest } from './conn-pool';

/** undici's codes where ConnPool reports the same failure under another one. */
function mapError(err: Error): Error {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'UND_ERR_HEADERS_OVERFLOW':
      // ConnPool: llhttp's own code for a header block over max_response_headers_kb.
      return new UpstreamError(err.message, 'HPE_HEADER_OVERFLOW');
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'HPE_INVALID_EOF_STATE':
      // A response body cut short by the upstream closing: ConnPool calls it a reset.
      return new UpstreamError('other side closed', 'UND_ERR_SOCKET');
  }
  return err;
}

function failLater(handler: UpstreamHandler, err: Error): void {
  handler.onError(err);
}

// undici runs headers/body timeouts on its fast timers (about 0.5 to 1 s late); Envoy's UT must fire
// at the configured time, so shorter timeouts (per_try_timeout: 0.1s is common) are timed here
// with node's own timer, longer ones are left to undici (cheaper, and off by under a second).
const PRECISE_BELOW_MS = 5000;

const enum Timer {
  None = 0,
  Headers = 1,
  Body = 2,
}

function onRequestTimer(r: UndiciRequest): void {
  const kind = r.timerKind;
  r.timerKind = Timer.None;
  r.timer = null;
  if (kind === Timer.Headers) r.abort(new UpstreamError('headers timeout', 'UND_ERR_HEADERS_TIMEOUT'));
  else if (kind === Timer.Body) r.abort(new UpstreamError('body timeout', 'UND_ERR_BODY_TIMEOUT'));
}

function relayOnData(this: Readable & { relay: BodyRelay | null }, chunk: Buffer): void {
  const r = this.relay;
  if (r !== null && !r.push(chunk)) this.pause();
}
function relayOnEnd(this: Readable & { relay: BodyRelay | null }): void {
  const r = this.relay;
  if (r !== null) r.sourceEnded();
}
function relayOnError(this: Readable & { relay: BodyRelay | null }, err: Error): void {
  const r = this.relay;
  if (r !== null) r.destroy(err);
}
function relayOnClose(this: Readable & { relay: BodyRelay | null }): void {
  // Closed before 'end': the downstream went away mid-upload (ConnPool's code for it).
  const r = this.relay;
  if (r !== null) r.destroy(new UpstreamError('request body aborted', 'UND_ERR_ABORTED'));
}

/**
 * The request body as undici sees it, with backpressure passed through. When undici gives up on it
 * (an early response, a failure) it destroys this relay, not the downstream request: the source is
 * detached and read to its end, so its keep-alive connection is not stalled or killed.
 */
class BodyRelay extends Readable {
  readonly source: Readable & { relay: BodyRelay | null };
  constructor(source: Readable) {
    super();
    const s = source as Readable & { relay: BodyRelay | null };
    this.source = s;
    s.relay = this;
    s.on('data', relayOnData);
    s.on('end', relayOnEnd);
    s.on('error', relayOnError);
    s.on('close', relayOnClose);
  }
  override _read(): void {
    if (this.source.isPaused()) this.source.resume();
  }
  sourceEnded(): void {
    this.detach();
    this.push(null);
  }
  detach(): void {
    const s = this.source;
    if (s.relay !== this) return;
    s.relay = null;
    s.off('data', relayOnData);
    s.off('end', relayOnEnd);
    s.off('error', relayOnError);
    s.off('close', relayOnClose);
    if (!s.readableEnded && !s.destroyed) s.resume();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.detach();
    cb(err);
  }
}

/** One request: undici's handler in front of the proxy's UpstreamHandler. */
class UndiciRequest implements Dispatcher.DispatchHandler {
  readonly handler: UpstreamHandler;
  /** Inside pool.dispatch: an error now is delivered on the next tick (ConnPool never errors synchronously). */
  sync = true;
  /** onComplete or onError was delivered (or the proxy aborted): later undici calls are ignored. */
  finished = false;
  undiciAbort: ((err?: Error) => void) | null = null;
  readonly abortFn: (err?: Error) => void;
  /** Timeouts timed here (0: none, or left to undici). */
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  timer: NodeJS.Timeout | null = null;
  timerKind = Timer.None;

  constructor(handler: UpstreamHandler, headersTimeoutMs: number, bodyTimeoutMs: number) {
    this.handler = handler;
    this.headersTimeoutMs = headersTimeoutMs;
    this.bodyTimeoutMs = bodyTimeoutMs;
    this.abortFn = (err?: Error) => this.abort(err);
  }

  arm(kind: Timer, ms: number): void {
    this.timerKind = kind;
    const t = this.timer;
    if (t !== null) clearTimeout(t);
    const n = setTimeout(onRequestTimer, ms, this);
    n.unref();
    this.timer = n;
  }

  disarm(): void {
    this.timerKind = Timer.None;
    const t = this.timer;
    if (t !== null) {
      clearTimeout(t);
      this.timer = null;
    }
  }

  abort(err?: Error): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) this.disarm();
    const e = err ?? new UpstreamError('request aborted', 'UND_ERR_ABORTED');
    const a = this.undiciAbort;
    if (a !== null) a(e);
    if (this.sync) process.nextTick(failLater, this.handler, e);
    else this.handler.onError(e);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.undiciAbort = abort;
    // Aborted while queued or connecting: cancel it now that undici can.
    if (this.finished) abort(new UpstreamError('request aborted', 'UND_ERR_ABORTED'));
    // As ConnPool and undici: the wait for headers starts once the request is on a connection.
    else if (this.headersTimeoutMs > 0) this.arm(Timer.Headers, this.headersTimeoutMs);
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.finished) return false;
    // 1xx (103 Early Hints): informational, the real response follows (ConnPool skips them too).
    if (statusCode < 200) return true;
    if (this.bodyTimeoutMs > 0) this.arm(Timer.Body, this.bodyTimeoutMs);
    else if (this.timer !== null) this.disarm();
    const n = raw.length;
    const list: string[] = new Array(n);
    for (let i = 0; i < n; i++) list[i] = raw[i]!.toString('latin1');
    return this.handler.onHeaders(statusCode, list, resume, statusText);
  }

  onData(chunk: Buffer): boolean {
    if (this.finished) return false;
    if (this.timerKind === Timer.Body) this.timer!.refresh();
    return this.handler.onData(chunk);
  }

  onComplete(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) this.disarm();
    this.handler.onComplete(null);
  }

  onError(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) this.disarm();
    const e = mapError(err);
    if (this.sync) process.nextTick(failLater, this.handler, e);
    else this.handler.onError(e);
  }
}

/** Keep-alive HTTP/1.1 connections to one endpoint over undici's Pool; ConnPool's surface. */
export class UndiciPool {
  readonly address: string;
  readonly port: number;
  readonly #pool: Pool;
  // undici's close() ends in destroy(); ConnPool's codes tell a closed pool from a destroyed one.
  #closing = false;
  #destroyed = false;

  constructor(address: string, port: number, o: ConnPoolOptions) {
    this.address = address;
    this.port = port;
    const idle = o.idleTimeoutMs > 0 ? o.idleTimeoutMs : 3_600_000;
    this.#pool = new Pool('http://' + (address.includes(':') ? '[' + address + ']' : address) + ':' + port, {
      connections: o.maxConnections > 0 ? o.maxConnections : 1,
      pipelining: 1,
      // 0 = none, as in ConnPool.
      connectTimeout: o.connectTimeoutMs,
      // Route timeouts are applied per request (dispatch headersTimeout / bodyTimeout).
      headersTimeout: 0,
      bodyTimeout: 0,
      // The upstream's keep-alive hint may shorten this, never lengthen it (ConnPool: the same;
      // undici's default keepAliveTimeoutThreshold is ConnPool's 2 s margin).
      keepAliveTimeout: idle,
      keepAliveMaxTimeout: idle,
      // Responses are relayed as they arrive; undici must not cap them.
      maxResponseSize: -1,
      maxHeaderSize: o.maxHeaderSize,
    });
  }

  get stats(): ConnPoolStats {
    const s = this.#pool.stats;
    // undici does not expose connections still being opened: size is the connected ones.
    return { connected: s.connected, free: s.free, pending: s.pending, running: s.running, size: s.connected };
  }

  /** Sends `req`; the outcome arrives on `handler` (never synchronously an error). */
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.#closing || this.#destroyed) {
      process.nextTick(failLater, handler, new UpstreamError(this.#destroyed ? 'pool destroyed' : 'pool closed', this.#destroyed ? 'UND_ERR_DESTROYED' : 'UND_ERR_CLOSED'));
      return;
    }
    const ht = req.headersTimeout;
    const bt = req.bodyTimeout;
    const ownHeaders = ht > 0 && ht < PRECISE_BELOW_MS;
    const ownBody = bt > 0 && bt < PRECISE_BELOW_MS;
    const r = new UndiciRequest(handler, ownHeaders ? ht : 0, ownBody ? bt : 0);
    handler.onConnect(r.abortFn);
    if (r.finished) return; // aborted inside onConnect
    const body = req.body;
    this.#pool.dispatch(
      {
        path: req.path,
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers as string[],
        body: body === null ? null : new BodyRelay(body),
        headersTimeout: ownHeaders ? 0 : ht,
        bodyTimeout: ownBody ? 0 : bt,
      },
      r,
    );
    r.sync = false;
  }

  /** Graceful: running and queued requests finish, then every connection closes. */
  close(): Promise<void> {
    this.#closing = true;
    return this.#pool.close();
  }

  /** Now: queued and running requests fail with UND_ERR_DESTROYED. */
  destroy(): Promise<void> {
    this.#destroyed = true;
    return this.#pool.destroy();
  }
}
