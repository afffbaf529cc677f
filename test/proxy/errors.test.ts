// Envoy's own responses with their flags (checked in the access log), retries, circuit breaking,
// upstream failures after headers, malformed and smuggling requests, header limits.

import t from 'tap';
import { createServer } from 'node:net';
import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { startClosingMidBody, startFailing, startResetting, startSlow, startVersioned, type TestUpstream, waitForSeen } from '../helpers/upstream-servers';
import { get, routeConfig, setupProxy, staticCluster } from './fixtures';

const UPSTREAM_RESET = 'upstream connect error or disconnect/reset before headers. ';

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof a === 'object' && a !== null ? a.port : 1;
}

/** The access log line for `path` (default format: `"GET <path> HTTP/1.1" <code> <flags> ...`). */
function lineFor(lines: string[], path: string): string {
  return lines.find((l) => l.includes(`"GET ${path} HTTP/1.1"`)) ?? '';
}

/** Raw request on its own connection; resolves with everything the proxy sent until it closed. */
function raw(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(data));
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.on('error', reject);
  });
}

let ok: TestUpstream;
t.before(async () => {
  ok = await startVersioned('ok');
});
t.teardown(() => ok.close());

t.test('no route: 404 NR with an empty body', async (t) => {
  const rc = routeConfig([{ match: { prefix: '/only' }, route: { cluster: 'ok' } }]);
  const { port, log } = await setupProxy(t, rc, [staticCluster('ok', [ok.port])]);
  const r = await get(port, '/elsewhere');
  t.equal(r.status, 404);
  t.equal(r.body, '');
  await log.waitFor(1);
  t.match(lineFor(log.lines, '/elsewhere'), /" 404 NR 0 0 /);
});

t.test('unknown cluster: 503 NC; no healthy upstream: 503 UH', async (t) => {
  const rc = routeConfig([
    { match: { prefix: '/nc' }, route: { cluster: 'missing' } },
    { match: { prefix: '/uh' }, route: { cluster: 'sick' } },
    { match: { prefix: '/eds' }, route: { cluster: 'eds' } },
  ]);
  const sick = staticCluster('sick', [ok.port]) as { load_assignment: { endpoints: { lb_endpoints: object[] }[] } };
  sick.load_assignment.endpoints[0]!.lb_endpoints[0] = { ...sick.load_assignment.endpoints[0]!.lb_endpoints[0], health_status: 'UNHEALTHY' };
  const { port, log } = await setupProxy(t, rc, [sick, { name: 'eds', type: 'EDS', eds_cluster_config: { service_name: 'nowhere' } }]);
  const nc = await get(port, '/nc');
  t.equal(nc.status, 503);
  const uh = await get(port, '/uh');
  t.equal(uh.status, 503);
  t.equal(uh.body, 'no healthy upstream');
  t.equal(uh.headers['content-type'], 'text/plain');
  const eds = await get(port, '/eds');
  t.equal(eds.body, 'no healthy upstream', 'EDS cluster without endpoints');
  await log.waitFor(3);
  t.match(lineFor(log.lines, '/nc'), /" 503 NC /);
  t.match(lineFor(log.lines, '/uh'), /" 503 UH 0 19 /);
});

t.test('connection failure: 503 UF; with retries exhausted UF,URX', async (t) => {
  const dead = await deadPort();
  const rc = routeConfig([
    { match: { prefix: '/once' }, route: { cluster: 'dead' } },
    { match: { prefix: '/retried' }, route: { cluster: 'dead', retry_policy: { retry_on: 'connect-failure', num_retries: 2 } } },
  ]);
  const { port, log, proxy } = await setupProxy(t, rc, [staticCluster('dead', [dead])]);
  const r = await get(port, '/once');
  t.equal(r.status, 503);
  t.equal(r.body, UPSTREAM_RESET + 'reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused');
  const r2 = await get(port, '/retried');
  t.equal(r2.status, 503);
  t.equal(r2.body, UPSTREAM_RESET + 'retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused');
  await log.waitFor(2);
  t.match(lineFor(log.lines, '/once'), /" 503 UF /);
  t.match(lineFor(log.lines, '/retried'), /" 503 UF,URX /);
  t.equal(proxy.clusters.get('dead')!.activeRetries, 0, 'retry slots released');
  t.match(lineFor(log.lines, '/once'), new RegExp(`"127\\.0\\.0\\.1:${dead}"$`), 'upstream host logged');
});

t.test('upstream reset before headers: 503 UC connection termination', async (t) => {
  const reset = await startResetting();
  t.teardown(() => reset.close());
  const { port, log } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'reset' } }]), [staticCluster('reset', [reset.port])]);
  const r = await get(port, '/r');
  t.equal(r.status, 503);
  t.equal(r.body, UPSTREAM_RESET + 'reset reason: connection termination');
  await log.waitFor(1);
  t.match(lineFor(log.lines, '/r'), /" 503 UC /);
});

t.test('route timeout: 504 UT upstream request timeout', async (t) => {
  const slow = await startSlow(2000);
  t.teardown(() => slow.close());
  const { port, log } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'slow', timeout: '0.2s' } }]), [staticCluster('slow', [slow.port])]);
  const started = Date.now();
  const r = await get(port, '/t');
  t.equal(r.status, 504);
  t.equal(r.body, 'upstream request timeout');
  t.ok(Date.now() - started < 1500, 'answered at the timeout, not when the upstream finished');
  await log.waitFor(1);
  t.match(lineFor(log.lines, '/t'), /" 504 UT /);
});

t.test('circuit breaker max_requests: 503 UO overflow', async (t) => {
  const slow = await startSlow(400);
  t.teardown(() => slow.close());
  const cluster = staticCluster('slow', [slow.port], { circuit_breakers: { thresholds: [{ max_requests: 1 }] } });
  const { port, log } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'slow' } }]), [cluster]);
  const first = get(port, '/first');
  // The first request is in flight once the upstream has seen it.
  await waitForSeen(slow, 1);
  const second = await get(port, '/second');
  t.equal(second.status, 503);
  t.equal(second.body, UPSTREAM_RESET + 'reset reason: overflow');
  t.equal((await first).status, 200);
  await log.waitFor(2);
  t.match(lineFor(log.lines, '/second'), /" 503 UO /);
});

t.test('retries recover from a failing endpoint (5xx, retriable-status-codes)', async (t) => {
  const failing = await startFailing(503, 2);
  const conflict = await startFailing(409, 1);
  t.teardown(() => failing.close());
  t.teardown(() => conflict.close());
  const rc = routeConfig([
    { match: { prefix: '/5xx' }, route: { cluster: 'failing', retry_policy: { retry_on: '5xx', num_retries: 3 } } },
    { match: { prefix: '/409' }, route: { cluster: 'conflict', retry_policy: { retry_on: 'retriable-4xx', num_retries: 1 } } },
  ]);
  const { port, log, proxy } = await setupProxy(t, rc, [staticCluster('failing', [failing.port]), staticCluster('conflict', [conflict.port])]);
  const r = await get(port, '/5xx');
  t.equal(r.status, 200);
  t.equal(r.body, 'ok');
  t.equal(failing.seen.length, 3, 'two failures then success');
  t.equal(proxy.clusters.get('failing')!.activeRetries, 0, 'retry slots released');
  t.equal(proxy.clusters.get('failing')!.activeRequests, 0);
  const r2 = await get(port, '/409');
  t.equal(r2.status, 200);
  await log.waitFor(2);
  t.match(lineFor(log.lines, '/5xx'), /" 200 - /);
});

t.test('retries exhausted on a retriable status pass the last response through with URX', async (t) => {
  const failing = await startFailing(503, 100);
  t.teardown(() => failing.close());
  const rc = routeConfig([{ match: { prefix: '/' }, route: { cluster: 'failing', retry_policy: { retry_on: 'retriable-status-codes', retriable_status_codes: [503], num_retries: 1 } } }]);
  const { port, log } = await setupProxy(t, rc, [staticCluster('failing', [failing.port])]);
  const r = await get(port, '/x');
  t.equal(r.status, 503);
  t.equal(r.body, 'fail');
  t.equal(failing.seen.length, 2);
  await log.waitFor(1);
  t.match(lineFor(log.lines, '/x'), /" 503 URX /);
});

t.test('upstream closing mid-body aborts the downstream response', async (t) => {
  const closing = await startClosingMidBody();
  t.teardown(() => closing.close());
  const { port, log } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'c' } }]), [staticCluster('c', [closing.port])]);
  const outcome = await new Promise<{ status: number; bytes: number; aborted: boolean }>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/mid', agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, aborted: false }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, bytes, aborted: true }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, bytes, aborted: true }));
    });
    req.on('error', () => resolve({ status: 0, bytes: 0, aborted: true }));
    req.end();
  });
  t.equal(outcome.status, 200, 'headers were relayed');
  t.ok(outcome.aborted, 'the client sees a truncated response, not a complete one');
  t.ok(outcome.bytes < 1000);
  await log.waitFor(1);
  t.match(lineFor(log.lines, '/mid'), /" 200 UC /);
  // The proxy keeps serving.
  const { port: p2 } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'ok' } }]), [staticCluster('ok', [ok.port])]);
  t.equal((await get(p2, '/')).status, 200);
});

t.test('malformed and smuggling requests: 400 and close; 431 for huge headers; others unaffected', async (t) => {
  const { port, log } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'ok' } }]), [staticCluster('ok', [ok.port])]);
  // A keep-alive connection in use before, during and after the bad ones.
  const agentReq = () => get(port, '/good', {}, undefined);
  t.equal((await agentReq()).status, 200);
  const cases: [string, string, number][] = [
    ['CL + TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['duplicate CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400],
    ['garbage', 'NOT HTTP AT ALL\r\n\r\n', 400],
    ['bad header name', 'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n', 400],
    ['huge header', 'GET / HTTP/1.1\r\nHost: a\r\nx-big: ' + 'a'.repeat(70 * 1024) + '\r\n\r\n', 431],
  ];
  for (const [name, data, status] of cases) {
    const resp = await raw(port, data);
    t.match(resp, new RegExp(`^HTTP/1\\.1 ${status} `), `${name}: ${status}`);
    t.match(resp, /connection: close/i, `${name}: connection closed`);
  }
  t.equal((await agentReq()).status, 200, 'other connections keep working');
  t.ok(log.lines.some((l) => / 400 DPE /.test(l)), 'protocol errors logged with DPE');
});

t.test('client going away mid-request is logged DC and frees the upstream request', async (t) => {
  const slow = await startSlow(3000);
  t.teardown(() => slow.close());
  const { port, log, proxy } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 's' } }]), [staticCluster('s', [slow.port])]);
  const req = httpRequest({ host: '127.0.0.1', port, path: '/dc', agent: false });
  req.on('error', () => undefined);
  req.end();
  await waitForSeen(slow, 1);
  req.destroy();
  await log.waitFor(1);
  t.match(lineFor(log.lines, '/dc'), /" 0 DC /);
  t.equal(proxy.inflight, 0);
  t.equal(proxy.clusters.get('s')!.activeRequests, 0, 'upstream request released');
});

t.test('per_try_timeout retries, then 504 UT,URX', async (t) => {
  const slow = await startSlow(3000);
  t.teardown(() => slow.close());
  const rc = routeConfig([{ match: { prefix: '/' }, route: { cluster: 's', timeout: '5s', retry_policy: { retry_on: '5xx', num_retries: 2, per_try_timeout: '0.1s' } } }]);
  const { port, log } = await setupProxy(t, rc, [staticCluster('s', [slow.port])]);
  const r = await get(port, '/pt');
  t.equal(r.status, 504);
  t.equal(r.body, 'upstream request timeout');
  t.equal(slow.seen.length, 3, 'first try and two retries');
  t.equal(slow.seen[0]!.headers['x-envoy-expected-rq-timeout-ms'], '100');
  await log.waitFor(1);
  t.match(lineFor(log.lines, '/pt'), /" 504 UT,URX /);
});

t.test('host_selection_retry_max_attempts > 1: a retry avoids the host that just failed', async (t) => {
  const bad = await startFailing(503, 1000);
  t.teardown(() => bad.close());
  const rc = routeConfig([{ match: { prefix: '/' }, route: { cluster: 'mixed', retry_policy: { retry_on: '5xx', num_retries: 1, host_selection_retry_max_attempts: 5 } } }]);
  const { port } = await setupProxy(t, rc, [staticCluster('mixed', [bad.port, ok.port], { lb_policy: 'RANDOM' })]);
  let okCount = 0;
  for (let i = 0; i < 20; i++) if ((await get(port, '/')).status === 200) okCount++;
  // A failed first try on `bad` retries on a host re-picked until it differs (up to 5 picks, each
  // 1/2 to repeat `bad`): a request fails with p = 1/2 * 1/32, so nearly all succeed.
  t.ok(okCount >= 18, `${okCount}/20 succeeded`);
});
