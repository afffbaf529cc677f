// xDS through the real data path (issue 4 sections 3 and 5): what the control plane pushes is what
// traffic sees. A weight change changes the observed split (random mode, Envoy's default: binomial
// bounds); a header route added by RDS starts matching; LDS opens, moves and closes ports without
// dropping requests in flight; a cluster removed by CDS finishes its requests before its pool goes.
import t, { type Test } from 'tap';
import { freePort } from '../helpers/free-port';
import { startSlow, startVersioned, type TestUpstream, waitForSeen } from '../helpers/upstream-servers';
import { get, keepAliveAgent } from '../proxy/fixtures';
import { C, cla, E, edsCluster, L, R, RDS_TAG, rdsListener, routeConfig, startXdsProxy, weightedRoute, type XdsProxy } from '../xds/e2e-harness';
import type { AdsApiType } from '../../src/xds/ads-client';

let v1: TestUpstream;
let v2: TestUpstream;
let slow: TestUpstream;
t.before(async () => {
  v1 = await startVersioned('v1');
  v2 = await startVersioned('v2');
  slow = await startSlow(400);
});
t.teardown(async () => {
  await v1.close();
  await v2.close();
  await slow.close();
});

async function setup(t: Test, routes: object[], apiType: AdsApiType = 'GRPC'): Promise<XdsProxy> {
  const x = await startXdsProxy({
    apiType,
    seed: (s) => {
      s.setResources(C, [edsCluster('v1'), edsCluster('v2'), edsCluster('slow')]);
      s.setResources(E, [cla('v1', v1.port), cla('v2', v2.port), cla('slow', slow.port)]);
      s.setResources(L, [rdsListener('l', 'r')]);
      s.setResources(R, [routeConfig('r', routes as never, 'seed')]);
    },
  });
  t.teardown(() => x.close());
  return x;
}

/** `n` requests on keep-alive connections, `concurrency` at a time; counts bodies. */
async function tallyBodies(port: number, n: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const agent = keepAliveAgent();
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const r = await get(port, '/', headers, agent);
      const k = r.status === 200 ? r.body : `status ${r.status}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  agent.destroy();
  return counts;
}

/** |observed - n p| within 5 standard deviations of Binomial(n, p): fails by chance ~1 in 1.7 million. */
function withinBinomial(got: number, n: number, p: number): boolean {
  return Math.abs(got - n * p) <= 5 * Math.sqrt(n * p * (1 - p));
}

for (const apiType of ['GRPC', 'DELTA_GRPC'] as const) {
  t.test(`${apiType}: a weight change pushed by the control plane changes the observed split (random mode, binomial bounds)`, async (t) => {
    const x = await setup(t, [weightedRoute({ v1: 90, v2: 10 })], apiType);
    const port = x.port('l');
    const N = 1000;
    const before = await tallyBodies(port, N);
    t.equal((before.get('v1') ?? 0) + (before.get('v2') ?? 0), N, 'every request answered by an upstream');
    t.ok(withinBinomial(before.get('v2') ?? 0, N, 0.1), `90/10: ${before.get('v2')} of ${N} to v2`);
    const { reply } = await x.push(R, [routeConfig('r', [weightedRoute({ v1: 20, v2: 80 })], 'pushed')]);
    t.notOk(reply.error_detail, 'ACK');
    const after = await tallyBodies(port, N);
    t.equal((after.get('v1') ?? 0) + (after.get('v2') ?? 0), N);
    t.ok(withinBinomial(after.get('v2') ?? 0, N, 0.8), `20/80 after the push: ${after.get('v2')} of ${N} to v2`);
  });
}

t.test('a header route added by RDS starts matching; removed, it stops', async (t) => {
  const x = await setup(t, [{ match: { prefix: '/' }, route: { cluster: 'v1' } }]);
  const port = x.port('l');
  t.equal((await get(port, '/', { 'x-canary': 'yes' })).body, 'v1', 'no header route yet');
  const canary = { match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] }, route: { cluster: 'v2' } };
  await x.push(R, [routeConfig('r', [canary, { match: { prefix: '/' }, route: { cluster: 'v1' } }] as never, 'canary')]);
  const hit = await get(port, '/', { 'x-canary': 'yes' });
  t.equal(hit.body, 'v2', 'the header route matches');
  t.equal(hit.headers[RDS_TAG], 'canary');
  t.equal((await get(port, '/', { 'x-canary': 'no' })).body, 'v1', 'other values fall through');
  t.equal((await get(port, '/')).body, 'v1', 'no header falls through');
  await x.push(R, [routeConfig('r', [{ match: { prefix: '/' }, route: { cluster: 'v1' } }] as never, 'gone')]);
  t.equal((await get(port, '/', { 'x-canary': 'yes' })).body, 'v1', 'removed again');
});

t.test('LDS: an added listener opens its port, a moved one keeps its in-flight request, a removed one closes', async (t) => {
  const x = await setup(t, [{ match: { prefix: '/slow' }, route: { cluster: 'slow' } }, { match: { prefix: '/' }, route: { cluster: 'v1' } }]);
  const a = x.port('l');
  // Added.
  await x.push(L, [rdsListener('l', 'r'), rdsListener('extra', 'r')]);
  const extra = x.port('extra');
  t.not(extra, a);
  t.equal((await get(extra, '/')).body, 'v1', 'the new listener serves');
  // Moved (a new address for the same name) while a slow request is in flight on the old socket.
  const seen = slow.seen.length;
  const inflight = get(a, '/slow');
  await waitForSeen(slow, seen + 1);
  const to = await freePort();
  const moved = rdsListener('l', 'r', to);
  await x.push(L, [moved, rdsListener('extra', 'r')]);
  const now = x.proxy.listeners().find((l) => l.name === 'l')!;
  t.equal(now.port, to, 'listener l replaced on its new address');
  t.equal((await get(to, '/')).body, 'v1', 'and serves there');
  const old = await inflight;
  t.equal(old.status, 200, 'the request in flight on the old socket finished');
  t.equal(old.body, 'slow');
  await t.rejects(get(a, '/'), 'the old socket no longer accepts');
  // Removed.
  await x.push(L, [moved]);
  t.same(x.proxy.listeners().map((l) => l.name), ['l']);
  await t.rejects(get(extra, '/'), 'the removed listener closed its port');
});

t.test('CDS: a removed cluster finishes its requests in flight, then is gone (503 for new ones)', async (t) => {
  const x = await setup(t, [{ match: { prefix: '/slow' }, route: { cluster: 'slow' } }, { match: { prefix: '/' }, route: { cluster: 'v1' } }]);
  const port = x.port('l');
  const seen = slow.seen.length;
  const inflight = Promise.all([get(port, '/slow'), get(port, '/slow'), get(port, '/slow')]);
  await waitForSeen(slow, seen + 3);
  await x.push(C, [edsCluster('v1'), edsCluster('v2')]);
  t.notOk(x.proxy.clusters.has('slow'), 'cluster slow left the data path');
  const done = await inflight;
  t.same(done.map((r) => [r.status, r.body]), [[200, 'slow'], [200, 'slow'], [200, 'slow']], 'its requests in flight completed');
  const after = await get(port, '/slow');
  t.equal(after.status, 503, 'new requests to it: 503');
  t.equal(x.client.state().perType[E]!.subscribed.includes('slow'), false, 'EDS unsubscribed from it');
});
