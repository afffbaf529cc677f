// Small upstream servers for data-path tests, all on 127.0.0.1 port 0: echo, version-tagged,
// slow, failing, resetting, closing mid-body, bulk up/download, WebSocket echo.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: readonly string[];
}

export interface TestUpstream {
  readonly port: number;
  readonly server: Server;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

export async function startUpstream(handler: Handler): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    handler(req, res, seen.length);
  });
  server.keepAliveTimeout = 30_000;
  // Upgraded sockets leave the http server's bookkeeping but keep net.Server open: track them all.
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  return {
    port,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * Resolves once `up` has seen `n` requests in total (its 'request' event, after `seen` grew);
 * rejects after `timeoutMs`. For "a request is in flight at the upstream" without polling.
 */
export function waitForSeen(up: TestUpstream, n: number, timeoutMs = 5000): Promise<void> {
  if (up.seen.length >= n) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      up.server.off('request', onRequest);
      if (err) reject(err);
      else resolve();
    };
    const onRequest = (): void => {
      if (up.seen.length >= n) done();
    };
    const timer = setTimeout(() => done(new Error(`upstream saw ${up.seen.length} of ${n} requests within ${timeoutMs} ms`)), timeoutMs);
    up.server.on('request', onRequest);
  });
}

/** Echoes what it saw as JSON: method, url, headers, and how many body bytes arrived (counted, not kept). */
export function startEcho(): Promise<TestUpstream> {
  return startUpstream((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: bytes });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
}

/** Answers 200 with `x-version: <version>` and the version as the body. */
export function startVersioned(version: string): Promise<TestUpstream> {
  return startUpstream((req, res) => {
    req.resume();
    res.writeHead(200, { 'x-version': version, 'content-type': 'text/plain', 'content-length': version.length });
    res.end(version);
  });
}

/**
 * One startVersioned upstream per version, in order, each closed in `t`'s teardown (also those
 * started before a later one failed). For a file's shared upstreams:
 * `t.before(async () => { [v1, v2] = await startVersionedEach(t, ['v1', 'v2']); });`
 */
export async function startVersionedEach<const V extends readonly string[]>(
  t: { teardown(fn: () => unknown): void },
  versions: V,
): Promise<{ -readonly [K in keyof V]: TestUpstream }> {
  const ups: TestUpstream[] = [];
  t.teardown(() => Promise.all(ups.map((u) => u.close())));
  for (const v of versions) ups.push(await startVersioned(v));
  return ups as unknown as { -readonly [K in keyof V]: TestUpstream };
}

/** Answers 200 after `delayMs` (a server's behaviour, not test synchronisation). */
export function startSlow(delayMs: number): Promise<TestUpstream> {
  return startUpstream((req, res) => {
    req.resume();
    const t = setTimeout(() => {
      res.writeHead(200, { 'content-length': 4 });
      res.end('slow');
    }, delayMs);
    res.on('close', () => clearTimeout(t));
  });
}

/** Answers `status` to the first `failures` requests, then 200 `ok`. */
export function startFailing(status: number, failures: number): Promise<TestUpstream> {
  return startUpstream((req, res, n) => {
    req.resume();
    if (n <= failures) {
      res.writeHead(status, { 'content-length': 4 });
      res.end('fail');
    } else {
      res.writeHead(200, { 'content-length': 2 });
      res.end('ok');
    }
  });
}

/** Destroys the connection without answering (the proxy sees a reset before headers). */
export function startResetting(): Promise<TestUpstream> {
  return startUpstream((req) => {
    req.socket.destroy();
  });
}

/** Sends headers promising 1000 bytes, 10 bytes of body, then closes the connection. */
export function startClosingMidBody(): Promise<TestUpstream> {
  return startUpstream((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-length': 1000 });
    res.write('0123456789', () => setImmediate(() => req.socket.destroy()));
  });
}

/** GET /bytes/<n>: streams n bytes with backpressure; POST: counts the body and answers the count. */
export function startBulk(): Promise<TestUpstream> {
  return startUpstream((req, res) => {
    if (req.method === 'POST' || req.method === 'PUT') {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        const body = String(bytes);
        res.writeHead(200, { 'content-length': body.length });
        res.end(body);
      });
      return;
    }
    const n = Number((req.url ?? '').split('/').pop());
    res.writeHead(200, { 'content-length': n });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let left = n;
    const pump = (): void => {
      while (left > 0) {
        const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= c.length;
        if (!res.write(c)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC11B65';

export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** Encodes one final text frame (payload < 126 bytes), masked when `mask` is given (client frames). */
export function wsFrame(text: string, mask: Buffer | null): Buffer {
  const payload = Buffer.from(text);
  if (payload.length >= 126) throw new Error('test frames are small');
  const head = Buffer.from([0x81, (mask ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([head, payload]);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([head, mask, masked]);
}

/** Decodes one small frame from `buf` (masked or not); null when incomplete. */
export function wsParse(buf: Buffer): { text: string; rest: Buffer } | null {
  if (buf.length < 2) return null;
  const masked = (buf[1]! & 0x80) !== 0;
  const len = buf[1]! & 0x7f;
  const start = 2 + (masked ? 4 : 0);
  if (buf.length < start + len) return null;
  const payload = Buffer.from(buf.subarray(start, start + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ buf[2 + (i % 4)]!;
  return { text: payload.toString(), rest: buf.subarray(start + len) };
}

/** A WebSocket echo server: completes the handshake, echoes text frames back (prefixed "echo:"). */
export async function startWebSocketEcho(): Promise<TestUpstream> {
  const up = await startUpstream((_req, res) => {
    res.writeHead(426, { 'content-length': 0 });
    res.end();
  });
  up.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    up.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    const key = String(req.headers['sec-websocket-key'] ?? '');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ' +
        websocketAccept(key) + '\r\n\r\n',
    );
    let buf = head;
    const consume = (): void => {
      for (let f = wsParse(buf); f !== null; f = wsParse(buf)) {
        buf = f.rest;
        socket.write(wsFrame('echo:' + f.text, null));
      }
    };
    consume();
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      consume();
    });
    socket.on('error', () => socket.destroy());
  });
  return up;
}
