// ConnPool and UndiciPool, the two upstream HTTP/1.1 clients under the proxy (one contract, both run). Response framing (content-length, chunked,
// close-delimited, HEAD, 204, 1xx), keep-alive reuse and the upstream's keep-alive hint, request
// bodies (content-length and chunked), backpressure, the timeouts and error codes the proxy
// classifies into Envoy's response flags, the connection cap and close/destroy.

import t from 'tap';
import * as net from 'node:net';
import * as http from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { ConnPool, type ConnPoolOptions, type UpstreamHandler, type UpstreamRequest } from '../../src/upstream/conn-pool';
import { UndiciPool } from '../../src/upstream/undici-pool';
import type { UpstreamPool } from '../../src/upstream/upstream-client';

interface Outcome {
  status: number;
  headers: string[];
  body: string;
  error: (Error & { code?: string }) | null;
}

class Collect implements UpstreamHandler {
  status = 0;
  headers: string[] = [];
  chunks: Buffer[] = [];
  abort: ((err?: Error) => void) | null = null;
  pauseFirst = false;
  resume: (() => void) | null = null;
  readonly done: Promise<Outcome>;
  /** Resolves at the first onData (an event to await instead of polling `chunks`). */
  readonly firstData: Promise<void>;
  #resolve!: (o: Outcome) => void;
  #firstData!: () => void;
  constructor() {
    this.done = new Promise((r) => (this.#resolve = r));
    this.firstData = new Promise((r) => (this.#firstData = r));
  }
  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
  }
  onHeaders(status: number, headers: string[], resume: () => void): boolean {
    this.status = status;
    this.headers = headers;
    this.resume = resume;
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.#firstData();
    if (this.pauseFirst) {
      this.pauseFirst = false;
      return false;
    }
    return true;
  }
  onComplete(): void {
    this.#resolve({ status: this.status, headers: this.headers, body: Buffer.concat(this.chunks).toString(), error: null });
  }
  onError(err: Error): void {
    this.#resolve({ status: this.status, headers: this.headers, body: Buffer.concat(this.chunks).toString(), error: err });
  }
}

function req(path: string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return { path, method: 'GET', headers: ['host', 'upstream.test'], body: null, headersTimeout: 0, bodyTimeout: 0, ...extra };
}

function send(pool: UpstreamPool, r: UpstreamRequest): Collect {
  const h = new Collect();
  pool.dispatch(r, h);
  return h;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

const OPTS = { connectTimeoutMs: 1000, idleTimeoutMs: 60_000, maxConnections: 4, maxHeaderSize: 60 * 1024 };

/** A raw TCP upstream: `reply(request text, socket)` answers each request head it receives. */
async function rawServer(t: Teardown, reply: (head: string, s: net.Socket) => void): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n\r\n')) !== -1) {
        const head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        reply(head, s);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, connections: () => connections };
}

async function httpServer(t: Teardown, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

const IMPLS: [string, new (address: string, port: number, o: ConnPoolOptions) => UpstreamPool][] = [
  ['ConnPool (native)', ConnPool],
  ['UndiciPool (undici)', UndiciPool],
];

for (const [name, Impl] of IMPLS) t.test(name, async (t) => {
  t.test('framing: content-length, chunked, close-delimited, HEAD, 204; 1xx skipped; keep-alive reuse', async (t) => {
    const up = await rawServer(t, (head, s) => {
      const path = head.split(' ')[1];
      if (path === '/cl') s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: a\r\n\r\nhello');
      else if (path === '/chunked') s.write('HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
      else if (path === '/head') s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
      else if (path === '/204') s.write('HTTP/1.1 204 No Content\r\n\r\n');
      else if (path === '/early') s.write('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else if (path === '/close') s.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
    });
    const pool = new Impl('127.0.0.1', up.port, OPTS);
    t.teardown(() => pool.destroy());
    const a = await send(pool, req('/cl')).done;
    t.same([a.status, a.body, a.headers], [200, 'hello', ['Content-Length', '5', 'X-Up', 'a']]);
    const b = await send(pool, req('/chunked')).done;
    t.same([b.status, b.body, b.error], [201, 'abcde', null]);
    const c = await send(pool, req('/head', { method: 'HEAD' })).done;
    t.same([c.status, c.body, c.error], [200, '', null], 'HEAD has no body whatever content-length says');
    const d = await send(pool, req('/204')).done;
    t.same([d.status, d.body], [204, '']);
    const e = await send(pool, req('/early')).done;
    t.same([e.status, e.body], [200, 'ok'], '1xx informational responses are skipped');
    // undici waits one event-loop turn before reusing a connection (client-h1: setImmediate before
    // the next request), so a request dispatched from the previous one's completion opens another
    // connection while under the cap (4): deterministic here, 3 in all.
    t.equal(up.connections(), Impl === ConnPool ? 1 : 3, 'keep-alive connections served them all');
    const f = await send(pool, req('/close')).done;
    t.same([f.status, f.body, f.error], [200, 'until close', null], 'a close-delimited body completes on close');
  });

  t.test('request head as the upstream sees it; bodies with content-length and chunked', async (t) => {
    const port = await httpServer(t, (rq, rs) => {
      const parts: Buffer[] = [];
      rq.on('data', (d: Buffer) => parts.push(d));
      rq.on('end', () => rs.end(JSON.stringify({ method: rq.method, url: rq.url, raw: rq.rawHeaders, body: Buffer.concat(parts).toString() })));
    });
    const pool = new Impl('127.0.0.1', port, OPTS);
    t.teardown(() => pool.destroy());
    const a = JSON.parse((await send(pool, req('/x?y=1', { headers: ['host', 'h.test', 'x-a', '1', 'x-a', '2'] })).done).body);
    t.same(a, { method: 'GET', url: '/x?y=1', raw: ['host', 'h.test', 'connection', 'keep-alive', 'x-a', '1', 'x-a', '2'], body: '' });
    const b = JSON.parse((await send(pool, req('/p', { method: 'POST', headers: ['host', 'h'], body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) })).done).body);
    // undici reads a stream body before writing the head (`body.read(0)`) and sends a body that has
    // already ended with its content-length; ConnPool streams it chunked.
    t.same([b.body, b.raw.slice(-2)], ['abcd', Impl === ConnPool ? ['transfer-encoding', 'chunked'] : ['content-length', '4']], 'no content-length: chunked (undici: an ended body has a length)');
    const c = JSON.parse((await send(pool, req('/p', { method: 'PUT', headers: ['host', 'h', 'content-length', '3'], body: Readable.from([Buffer.from('xyz')]) })).done).body);
    t.same([c.body, c.raw.slice(-2)], ['xyz', ['content-length', '3']]);
    const d = JSON.parse((await send(pool, req('/p', { method: 'POST' })).done).body);
    t.same(d.raw.slice(-2), ['content-length', '0'], 'a POST without a body says content-length: 0');
    const e = await send(pool, req('/p', { method: 'POST', headers: ['host', 'h', 'content-length', '10'], body: Readable.from([Buffer.from('short')]) })).done;
    t.equal(e.error?.code, 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
  });

  t.test('an early response ends the request; the rest of the body is drained, the connection not reused', async (t) => {
    const up = await rawServer(t, (_head, s) => s.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n'));
    const pool = new Impl('127.0.0.1', up.port, OPTS);
    t.teardown(() => pool.destroy());
    const body = new PassThrough();
    body.write('first');
    const h = send(pool, req('/up', { method: 'POST', headers: ['host', 'h', 'content-length', '1000000'], body }));
    body.pause(); // as backpressure from the upstream socket would
    const o = await h.done;
    t.same([o.status, o.error], [413, null]);
    const ended = new Promise<boolean>((r) => body.once('end', () => r(true)));
    body.end(Buffer.alloc(64 * 1024));
    t.ok(await ended, 'the abandoned body still flows to its end');
    await send(pool, req('/again')).done;
    t.equal(up.connections(), 2, 'the interrupted connection was not reused');
  });

  t.test('errors carry the codes the proxy classifies: refused, reset, timeouts, protocol, header overflow', async (t) => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = new Impl('127.0.0.1', deadPort, OPTS);
    t.teardown(() => refused.destroy());
    t.equal((await send(refused, req('/')).done).error?.code, 'ECONNREFUSED');

    const up = await rawServer(t, (head, s) => {
      const path = head.split(' ')[1];
      if (path === '/reset') s.destroy();
      else if (path === '/bad') s.write('HTTP/1.1 2x0 OK\r\n\r\n');
      else if (path === '/huge') s.write('HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(70 * 1024) + '\r\n\r\n');
      else if (path === '/slowbody') s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab');
      else if (path === '/midbody') s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab');
      // '/silent': never answers
    });
    const pool = new Impl('127.0.0.1', up.port, OPTS);
    t.teardown(() => pool.destroy());
    t.equal((await send(pool, req('/reset')).done).error?.code, 'UND_ERR_SOCKET');
    const bad = (await send(pool, req('/bad')).done).error;
    // undici 7 leaves its HTTPParserError's code undefined (it indexes llhttp's name->number ERROR
    // table by number); the proxy classifies by the name, so the flag (UPE) is the same.
    t.same([bad?.code, bad?.name], [Impl === ConnPool ? 'HPE_INVALID_STATUS' : undefined, 'HTTPParserError']);
    t.equal((await send(pool, req('/huge')).done).error?.code, 'HPE_HEADER_OVERFLOW', 'over max_response_headers_kb');
    t.equal((await send(pool, req('/silent', { headersTimeout: 50 })).done).error?.code, 'UND_ERR_HEADERS_TIMEOUT');
    const slow = await send(pool, req('/slowbody', { bodyTimeout: 50 })).done;
    t.same([slow.status, slow.body, slow.error?.code], [200, 'ab', 'UND_ERR_BODY_TIMEOUT']);
    const mid = await send(pool, req('/midbody')).done;
    t.same([mid.status, mid.body], [200, 'ab']);
    t.equal(mid.error?.code, 'UND_ERR_SOCKET', 'a body cut short by close is a reset');
    const h = send(pool, req('/silent'));
    h.abort!();
    t.equal((await h.done).error?.code, 'UND_ERR_ABORTED');
  });

  t.test('connection cap queues requests; backpressure pauses the body; keep-alive hint; close and destroy', async (t) => {
    let active = 0;
    let maxActive = 0;
    const port = await httpServer(t, (rq, rs) => {
      active++;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => {
        active--;
        rs.setHeader('keep-alive', 'timeout=1');
        rs.end(rq.url === '/big' ? 'x'.repeat(256 * 1024) : 'ok');
      }, 5);
    });
    const pool = new Impl('127.0.0.1', port, { ...OPTS, maxConnections: 2 });
    const all = await Promise.all(Array.from({ length: 8 }, () => send(pool, req('/')).done));
    t.same(all.map((o) => o.body), Array(8).fill('ok'));
    t.equal(maxActive, 2, 'never more than max_connections at once');
    // keep-alive: timeout=1 is below the 2 s safety margin: connections are not reused.
    t.equal(pool.stats.free, 0, 'hinted keep-alive too short to reuse');

    const h = new Collect();
    h.pauseFirst = true;
    pool.dispatch(req('/big'), h);
    await h.firstData;
    const seen = h.chunks.length;
    // An absence can only be observed over a window: 50 ms in which a flowing 256 KiB body would arrive.
    await new Promise((r) => setTimeout(r, 50));
    t.equal(h.chunks.length, seen, 'no data while paused');
    h.resume!();
    const big = await h.done;
    t.equal(big.body.length, 256 * 1024);

    await pool.close();
    t.equal(pool.stats.size, 0, 'closed');
    t.equal((await send(pool, req('/')).done).error?.code, 'UND_ERR_CLOSED');
    await pool.destroy();
  });
});
