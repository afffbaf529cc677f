// The lean downstream HTTP/1.1 server (src/proxy/h1-server.ts) through the proxy, on raw sockets so
// the bytes on the wire are what is asserted: pipelining order, protocol errors (400 / 431 / 408 with
// close, DPE in the access log and at the observers), keep-alive, HTTP/1.0, HEAD, chunked framing,
// request bodies with backpressure, a client reset mid-body, 100-continue, upgrades (101 at the
// observers), drain, %REQUEST_DURATION%. Runs against the proxy's default downstream server; the
// suites re-run over node:http in node-server.test.ts.

import t from 'tap';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { type CompletedStream, ProxyServer } from '../../src/proxy/proxy-server';
import { DOWNSTREAM_PARSER_PROBLEM, resolveDownstreamServer } from '../../src/proxy/h1-server';
import { startUpstream, startSlow, startWebSocketEcho, waitForSeen, wsFrame, wsParse, type TestUpstream } from '../helpers/upstream-servers';
import { downstreamServerFromEnv, get, listener, LogCapture, resources, routeConfig, setupProxy, staticCluster } from './fixtures';

const to = (cluster: string) => routeConfig([{ match: { prefix: '/' }, route: { cluster } }]);

/** A raw client: collects everything received; `until` waits for a predicate on the bytes. */
class Raw {
  readonly socket: Socket;
  data = '';
  closed = false;
  #waiters: (() => void)[] = [];
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (c: Buffer) => {
      this.data += c.toString('latin1');
      this.#wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    this.socket.on('error', () => undefined);
  }
  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
  write(s: string | Buffer): void {
    this.socket.write(s);
  }
  /** Resolves when `pred()` holds (checked on every event), rejects after 5 s. */
  until(pred: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for ' + what + '; got: ' + JSON.stringify(this.data.slice(0, 500)))), 5000);
      const check = (): void => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else this.#waiters.push(check);
      };
      check();
    });
  }
  /** Number of complete HTTP responses received (counted by status lines). */
  responses(): number {
    return (this.data.match(/HTTP\/1\.[01] \d\d\d /g) ?? []).length;
  }
  untilClosed(): Promise<void> {
    return this.until(() => this.closed, 'close');
  }
}

function raw(t: { teardown(fn: () => unknown): void }, port: number): Raw {
  const r = new Raw(port);
  t.teardown(() => r.socket.destroy());
  return r;
}

let echo: TestUpstream;
t.before(async () => {
  // Answers `<method> <url> <body length>`; /delay/<ms> waits first; /chunked answers without a length.
  echo = await startUpstream((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      const url = req.url ?? '';
      const body = `${req.method} ${url} ${n}`;
      const send = (): void => {
        if (url.startsWith('/chunked')) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write(body.slice(0, 3));
          res.end(body.slice(3));
        } else {
          res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
          res.end(body);
        }
      };
      const m = /^\/delay\/(\d+)/.exec(url);
      if (m) setTimeout(send, Number(m[1]));
      else send();
    });
  });
});
t.teardown(() => echo.close());

t.test('the default downstream server is the lean one; fallback to node:http with one warning', async (t) => {
  t.equal(DOWNSTREAM_PARSER_PROBLEM, null, 'this node has what the lean server needs');
  const { proxy } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])]);
  t.equal(proxy.downstreamServer, process.env.WEIR_DOWNSTREAM_SERVER === 'node' ? 'node' : 'native');
  const warnings: string[] = [];
  t.equal(resolveDownstreamServer('native', (m) => warnings.push(m), 'no HTTPParser'), 'node');
  t.equal(resolveDownstreamServer('node', (m) => warnings.push(m), 'no HTTPParser'), 'node');
  t.equal(resolveDownstreamServer('native', (m) => warnings.push(m), null), 'native');
  t.same(warnings, ['native downstream server unavailable, using node:http']);
});

t.test('pipelining: three requests in one write are answered in request order', async (t) => {
  const { port } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])]);
  const c = raw(t, port);
  // The first is the slowest upstream answer: order must still be kept.
  c.write('GET /delay/150 HTTP/1.1\r\nHost: a\r\n\r\nGET /delay/1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc');
  await c.until(() => c.data.includes('POST /p 3'), 'three responses');
  const a = c.data.indexOf('GET /delay/150 0');
  const b = c.data.indexOf('GET /delay/1 0');
  const p = c.data.indexOf('POST /p 3');
  t.ok(a !== -1 && a < b && b < p, 'in order: ' + [a, b, p].join(' < '));
  t.equal(c.responses(), 3);
  t.notOk(c.closed, 'connection kept alive');
});

t.test('keep-alive reuse, date and keep-alive headers; HTTP/1.0 closes; chunked when the upstream sends no length', async (t) => {
  const { port } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])]);
  const c = raw(t, port);
  c.write('GET /one HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.until(() => c.data.includes('GET /one 0'), 'first');
  c.write('GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.until(() => c.data.endsWith('0\r\n\r\n'), 'chunked terminator');
  t.equal(c.responses(), 2, 'two responses on one connection');
  t.match(c.data, /\r\ndate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/i, 'date header');
  t.match(c.data, /\r\nconnection: keep-alive\r\n/i);
  t.match(c.data, /\r\nkeep-alive: timeout=3600\r\n/i, 'idle_timeout hint (Envoy default 1 h)');
  t.match(c.data, /\r\ntransfer-encoding: chunked\r\n/i);
  t.match(c.data, /\r\n\r\n3\r\nGET\r\nb\r\n \/chunked 0\r\n0\r\n\r\n$/, 'chunked framing of the two upstream writes');
  t.notOk(c.closed);

  const old = raw(t, port);
  old.write('GET /chunked HTTP/1.0\r\nHost: a\r\n\r\n');
  await old.untilClosed();
  t.match(old.data, /^HTTP\/1\.1 200 /);
  t.match(old.data, /\r\nconnection: close\r\n/i);
  t.notMatch(old.data, /transfer-encoding/i, 'HTTP/1.0: close-delimited, no chunked');
  t.match(old.data, /\r\n\r\nGET \/chunked 0$/, 'body until close');

  const ka = raw(t, port);
  ka.write('GET /k HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n');
  await ka.until(() => ka.data.includes('GET /k 0'), 'HTTP/1.0 keep-alive');
  t.match(ka.data, /\r\nconnection: keep-alive\r\n/i, 'HTTP/1.0 keep-alive honoured');
  ka.write('GET /k2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  await ka.untilClosed();
  t.match(ka.data, /GET \/k2 0$/, 'connection: close answered, then closed');
});

t.test('HEAD: headers only (the next response on the connection is intact)', async (t) => {
  const { port } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])]);
  const c = raw(t, port);
  c.write('HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nHEAD /chunked HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.until(() => c.data.includes('GET /after 0'), 'GET after HEADs');
  const parts = c.data.split('HTTP/1.1 200 OK\r\n');
  t.equal(parts.length, 4, 'three responses');
  t.ok(parts[1]!.endsWith('\r\n\r\n'), 'HEAD response has no body');
  t.ok(parts[2]!.endsWith('\r\n\r\n'), 'HEAD response to a length-less upstream answer has no body');
  t.notMatch(parts[2]!, /transfer-encoding/i);
});

t.test('malformed, smuggling and oversized requests: 400 / 431 and close, DPE logged and observed', async (t) => {
  const seen: CompletedStream[] = [];
  const observed: CompletedStream[] = [];
  const { port, log } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])], { max_request_headers_kb: 2 }, {
    onStreamComplete: (s) => seen.push(s),
    onSnapshot: () => ({ listener: () => ({ streamDone: (s: CompletedStream) => observed.push(s) }) }),
  });
  const cases: [string, string, number][] = [
    ['CL + TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['duplicate CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400],
    ['garbage', 'NOT HTTP AT ALL\r\n\r\n', 400],
    ['header over max_request_headers_kb', 'GET / HTTP/1.1\r\nHost: a\r\nx-big: ' + 'a'.repeat(3000) + '\r\n\r\n', 431],
  ];
  for (const [name, data, status] of cases) {
    const c = raw(t, port);
    c.write(data);
    await c.untilClosed();
    t.match(c.data, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${status}`);
    t.match(c.data, /\r\nconnection: close\r\n/i, `${name}: connection: close`);
  }
  // A bad request pipelined behind a good one: the good one is answered first, then the close.
  const c = raw(t, port);
  c.write('GET /good HTTP/1.1\r\nHost: a\r\n\r\nBAD\r\n\r\n');
  await c.untilClosed();
  t.match(c.data, /GET \/good 0$/, 'the request before the bad one was answered, then the connection closed');
  t.equal(c.responses(), 1, 'no second response interleaved');
  t.equal((await get(port, '/still')).status, 200, 'other connections unaffected');
  await log.waitFor(cases.length + 2);
  t.equal(log.lines.filter((l) => / 400 DPE /.test(l)).length, 3);
  t.equal(log.lines.filter((l) => / 431 DPE /.test(l)).length, 1);
  const dpe = seen.filter((s) => s.flags !== 0);
  t.same(dpe.map((s) => s.status).sort(), [400, 400, 400, 431], 'onStreamComplete saw every protocol error');
  t.ok(dpe.every((s) => s.entry === null && s.upstreamCluster === null && s.upstreamHost === null && s.listenerName === 'l'));
  t.equal(observed.filter((s) => s.flags !== 0).length, 4, 'the listener observer (metrics) too');
});

t.test('request_timeout: a stalled header gets 408 and close; other connections unaffected', async (t) => {
  const seen: CompletedStream[] = [];
  const { port, log } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])], { request_timeout: '0.3s' }, { onStreamComplete: (s) => seen.push(s) });
  const c = raw(t, port);
  const started = Date.now();
  c.write('GET /stalled HTTP/1.1\r\nHost: a\r\n');
  const other = await get(port, '/fine');
  t.equal(other.status, 200);
  await c.untilClosed();
  t.match(c.data, /^HTTP\/1\.1 408 /);
  t.ok(Date.now() - started >= 250, 'not before the timeout');
  await log.waitFor(2);
  t.ok(log.lines.some((l) => / 408 DPE /.test(l)), '408 logged with DPE');
  t.ok(seen.some((s) => s.status === 408 && s.entry === null), 'observed');
  // A complete request on a keep-alive connection idle longer than the timeout is not a timeout.
  const k = raw(t, port);
  k.write('GET /a HTTP/1.1\r\nHost: a\r\n\r\n');
  await k.until(() => k.data.includes('GET /a 0'), 'first');
  await new Promise<void>((r) => setTimeout(r, 400).unref()); // idle longer than request_timeout (the behaviour under test)
  k.write('GET /b HTTP/1.1\r\nHost: a\r\n\r\n');
  await k.until(() => k.data.includes('GET /b 0'), 'second after idling');
  t.notOk(k.closed);
});

t.test('request bodies: chunked upload of several chunks; backpressure stops reading the client', async (t) => {
  // An upstream that does not read the body until released.
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  const held = await startUpstream((req, res) => {
    let n = 0;
    void released.then(() => {
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(String(n)));
    });
    if (req.url === '/now') release();
  });
  t.teardown(() => held.close());
  const { port } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port]), staticCluster('h', [held.port])]);
  const c = raw(t, port);
  c.write('POST /chunks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
  for (const part of ['hello', ' ', 'chunked', ' world']) c.write(part.length.toString(16) + '\r\n' + part + '\r\n');
  c.write('0\r\n\r\n');
  await c.until(() => c.data.includes('POST /chunks 19'), 'echoed length');
  t.pass('several chunks relayed');

  const { port: p2 } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'h' } }]), [staticCluster('h', [held.port])]);
  const total = 48 * 1024 * 1024;
  const up = connect(p2, '127.0.0.1');
  t.teardown(() => up.destroy());
  up.on('error', () => undefined);
  let answer = '';
  up.on('data', (d: Buffer) => (answer += d.toString()));
  up.write(`POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\n\r\n`);
  await waitForSeen(held, 1);
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  let sent = 0;
  // Write until the socket stays blocked: the proxy stopped reading because its upstream does not.
  const blocked = await new Promise<boolean>((resolve) => {
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!up.write(chunk)) {
          const timer = setTimeout(() => resolve(true), 500);
          up.once('drain', () => {
            clearTimeout(timer);
            pump();
          });
          return;
        }
      }
      resolve(false);
    };
    pump();
  });
  t.ok(blocked, `the client was blocked after ${sent} of ${total} bytes (the proxy does not buffer the body whole)`);
  // Release the upstream through another request, then send the rest.
  const r = get(p2, '/now');
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!up.write(chunk)) {
          up.once('drain', pump);
          return;
        }
      }
      resolve();
    };
    if (up.writableNeedDrain) up.once('drain', pump);
    else pump();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer: ' + answer)), 10_000);
    const check = (): void => {
      if (answer.endsWith(String(total))) {
        clearTimeout(timer);
        resolve();
      } else up.once('data', check);
    };
    check();
  });
  t.match(answer, /^HTTP\/1\.1 200 /);
  t.ok(answer.endsWith(String(total)), 'every byte arrived');
  await r;
});

t.test('client reset mid-body: DC logged, upstream request released, proxy keeps serving', async (t) => {
  const { port, log, proxy } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])]);
  const before = echo.seen.length;
  const c = raw(t, port);
  c.write('POST /reset HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(1000));
  await waitForSeen(echo, before + 1);
  c.socket.resetAndDestroy();
  await log.waitFor(1);
  t.match(log.lines.find((l) => l.includes('/reset')) ?? '', /" 0 DC /);
  t.equal(proxy.inflight, 0);
  t.equal(proxy.clusters.get('e')!.activeRequests, 0);
  t.equal((await get(port, '/after')).status, 200);
});

t.test('expect: 100-continue is answered before the body; other expectations 417', async (t) => {
  const { port } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])]);
  const c = raw(t, port);
  c.write('PUT /c HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
  await c.until(() => c.data.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), '100 Continue');
  c.write('body');
  await c.until(() => c.data.includes('PUT /c 4'), 'final response');
  t.match(c.data, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  const e = raw(t, port);
  e.write('GET /e HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n');
  await e.until(() => e.responses() === 1, 'a response');
  t.match(e.data, /^HTTP\/1\.1 417 /);
  const h = raw(t, port);
  h.write('GET /nohost HTTP/1.1\r\n\r\n');
  await h.untilClosed();
  t.match(h.data, /^HTTP\/1\.1 400 /, 'HTTP/1.1 without Host: 400 and close');
});

t.test('upgrade hand-off (WebSocket): head bytes forwarded; 101 reported at tunnel end', async (t) => {
  const ws = await startWebSocketEcho();
  t.teardown(() => ws.close());
  const seen: CompletedStream[] = [];
  const { port } = await setupProxy(t, to('ws'), [staticCluster('ws', [ws.port])], { upgrade_configs: [{ upgrade_type: 'websocket' }] }, { onStreamComplete: (s) => seen.push(s) });
  const key = randomBytes(16).toString('base64');
  const c = raw(t, port);
  // The first frame travels in the same write as the upgrade request (the head bytes).
  c.write(Buffer.concat([Buffer.from(`GET /echo HTTP/1.1\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`), wsFrame('early', randomBytes(4))]));
  await c.until(() => c.data.includes('\r\n\r\n') && wsParse(Buffer.from(c.data.slice(c.data.indexOf('\r\n\r\n') + 4), 'latin1')) !== null, 'echo of the early frame');
  t.match(c.data, /^HTTP\/1\.1 101 /);
  t.equal(wsParse(Buffer.from(c.data.slice(c.data.indexOf('\r\n\r\n') + 4), 'latin1'))!.text, 'echo:early');
  t.equal(seen.length, 0, 'not reported while the tunnel is open');
  c.socket.destroy();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no 101 observed')), 5000);
    const check = (): void => {
      if (seen.length > 0) {
        clearTimeout(timer);
        resolve();
      } else setImmediate(check);
    };
    check();
  });
  t.equal(seen[0]!.status, 101);
  t.equal(seen[0]!.upstreamCluster, 'ws');
  t.not(seen[0]!.entry, null, 'with its route entry');
});

t.test('drain: idle keep-alive connections close at once, the request in flight finishes', async (t) => {
  const slow = await startSlow(300);
  t.teardown(() => slow.close());
  const log = new LogCapture();
  const proxy = new ProxyServer({ accessLogStream: log, drainTimeMs: 5000, downstreamServer: downstreamServerFromEnv() });
  t.teardown(() => proxy.close());
  await proxy.apply(resources([listener('l', routeConfig([{ match: { prefix: '/slow' }, route: { cluster: 's' } }, { match: { prefix: '/' }, route: { cluster: 'e' } }]))], [staticCluster('s', [slow.port]), staticCluster('e', [echo.port])]));
  const port = proxy.listeners()[0]!.port;
  const idle = raw(t, port);
  idle.write('GET /x HTTP/1.1\r\nHost: a\r\n\r\n');
  await idle.until(() => idle.data.includes('GET /x 0'), 'idle connection used once');
  const busy = new Promise<IncomingMessage & { body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/slow', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(Object.assign(res, { body })));
    });
    req.on('error', reject);
    req.end();
  });
  await waitForSeen(slow, 1);
  const drained = proxy.drain();
  await idle.untilClosed();
  t.pass('idle connection closed by the drain');
  const res = await busy;
  t.equal(res.statusCode, 200);
  t.equal(res.body, 'slow');
  t.equal(res.headers.connection, 'close');
  await drained;
  t.equal(proxy.inflight, 0);
});

t.test('%REQUEST_DURATION%: time to the last request byte; 0 without a body', async (t) => {
  const fmt = '%REQ(:PATH)% %REQUEST_DURATION%\n';
  const accessLog = [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', log_format: { text_format_source: { inline_string: fmt } } } }];
  const { port, log } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])], { access_log: accessLog });
  t.equal((await get(port, '/nobody')).status, 200);
  const c = raw(t, port);
  c.write('POST /slowbody HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab');
  await waitForSeen(echo, echo.seen.length);
  await new Promise<void>((r) => setTimeout(r, 200).unref()); // the client is slow to send (the behaviour under test)
  c.write('cd');
  await c.until(() => c.data.includes('POST /slowbody 4'), 'answer');
  await log.waitFor(2);
  t.equal(log.lines.find((l) => l.startsWith('/nobody')), '/nobody 0');
  const line = log.lines.find((l) => l.startsWith('/slowbody')) ?? '';
  const ms = Number(line.split(' ')[1]);
  t.ok(ms >= 150 && ms < 5000, `request duration ${ms} ms covers the slow body`);
});

t.test('idle_timeout: a keep-alive connection closes after idle_timeout without requests, counted from its last response', async (t) => {
  const { port } = await setupProxy(t, to('e'), [staticCluster('e', [echo.port])], { common_http_protocol_options: { idle_timeout: '0.3s' } });
  const c = raw(t, port);
  c.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.until(() => c.data.includes('GET /1 0'), 'first');
  await new Promise<void>((r) => setTimeout(r, 200).unref()); // used again before the timeout (the behaviour under test)
  c.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.until(() => c.data.includes('GET /2 0'), 'second');
  const second = Date.now();
  await c.untilClosed();
  const idleMs = Date.now() - second;
  t.ok(idleMs >= 250 && idleMs < 3000, `closed ${idleMs} ms after the last response`);
  t.equal(c.responses(), 2);
});

t.test('a response that ends before its request body: the rest of the body is read and dropped, the connection goes on', async (t) => {
  const rc = routeConfig([{ match: { prefix: '/up' }, route: { cluster: 'e' } }]);
  const { port } = await setupProxy(t, rc, [staticCluster('e', [echo.port])]);
  const c = raw(t, port);
  c.write('POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n' + 'x'.repeat(10_000));
  await c.until(() => c.responses() === 1, 'the early 404');
  t.match(c.data, /^HTTP\/1\.1 404 /);
  c.write('y'.repeat(190_000));
  c.write('GET /up/next HTTP/1.1\r\nHost: a\r\n\r\n');
  await c.until(() => c.data.includes('GET /up/next 0'), 'the next request on the same connection');
  t.notOk(c.closed);
});
