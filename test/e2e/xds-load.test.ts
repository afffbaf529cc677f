// Reliability of xDS updates under load (issue 4 section 5 (a) and (c)), through the real data path:
// a client sends requests continuously while the control plane pushes; every response says which
// RouteConfiguration routed it (x-rds-tag, a route-config level response header), so the split of
// each config is measured exactly on the requests that config routed.
import t, { type Test } from 'tap';
import { startVersionedEach, type TestUpstream } from '../helpers/upstream-servers';
import { C, cla, ContinuousClient, E, edsCluster, L, R, rdsListener, routeConfig, startXdsProxy, weightedRoute, type XdsProxy } from '../xds/e2e-harness';

let v1: TestUpstream;
let v2: TestUpstream;
t.before(async () => {
  [v1, v2] = await startVersionedEach(t, ['v1', 'v2']);
});

const split = (w2: number, tag: string, smooth = true) => routeConfig('r', [weightedRoute({ v1: 100 - w2, v2: w2 }, { smooth })], tag);

async function setup(t: Test, w2: number): Promise<XdsProxy> {
  const x = await startXdsProxy({
    seed: (s) => {
      s.setResources(C, [edsCluster('v1'), edsCluster('v2')]);
      s.setResources(E, [cla('v1', v1.port), cla('v2', v2.port)]);
      s.setResources(L, [rdsListener('l', 'r')]);
      s.setResources(R, [split(w2, '0')]);
    },
  });
  t.teardown(() => x.close());
  return x;
}

/** Smooth mode: after n picks every destination is within one pick of n x its share. */
function offBy(samples: { body: string }[], w2: number): number {
  const n = samples.length;
  const got = samples.filter((s) => s.body === 'v2').length;
  return Math.abs(got - (n * w2) / 100);
}

t.test('(a) 200 weight changes under continuous traffic: no failed request, each config splits exactly', async (t) => {
  const x = await setup(t, 10);
  const client = new ContinuousClient(x.port('l'), { connections: 4, maxRequests: 100_000 });
  t.teardown(() => client.stop());
  const UPDATES = 200;
  const PER_UPDATE = 24;
  const weights: number[] = [10];
  const started = Date.now();
  const mismatch: string[] = [];
  for (let i = 1; i <= UPDATES; i++) {
    // 0..100 in a scrambled order, including both ends (a weight of 0 is never picked).
    const w2 = (i * 37) % 101;
    weights.push(w2);
    const { reply, sent } = await x.push(R, [split(w2, String(i))]);
    if (reply.error_detail || reply.version_info !== sent.version_info) mismatch.push(`update ${i}: not ACKed: ${JSON.stringify(reply)}`);
    // ACKed and served: from now on every request must be routed by config i (or a later one).
    client.epoch = i;
    await client.until(() => client.count(String(i)) >= PER_UPDATE, 5000);
  }
  await client.stop();
  const elapsed = Date.now() - started;
  t.same(client.errors, [], 'zero failed requests');
  t.same(mismatch, [], 'every update ACKed with its version');
  const byTag = new Map<number, { body: string }[]>();
  const stale: string[] = [];
  for (const s of client.samples) {
    const tag = Number(s.tag);
    if (!byTag.has(tag)) byTag.set(tag, []);
    byTag.get(tag)!.push(s);
    if (tag < s.epoch) stale.push(`a request sent after config ${s.epoch} was served was routed by config ${tag}`);
  }
  t.same(stale.slice(0, 5), [], 'no request sent after an apply is routed by an older config');
  const bad: string[] = [];
  for (let i = 1; i <= UPDATES; i++) {
    const ss = byTag.get(i) ?? [];
    if (ss.length < PER_UPDATE) bad.push(`config ${i}: only ${ss.length} requests`);
    const off = offBy(ss, weights[i]!);
    if (off > 1) bad.push(`config ${i} (v2 weight ${weights[i]}): ${ss.filter((s) => s.body === 'v2').length} of ${ss.length} to v2, off by ${off}`);
  }
  t.same(bad, [], `each of ${UPDATES} configs split within one request of its weights (${client.samples.length} requests in ${elapsed} ms)`);
  t.equal(x.server.requests.filter((r) => r.error_detail).length, 0, 'nothing NACKed');
  t.ok(x.logs.some((l) => /xds: ACK RouteConfiguration version \d+ \(nonce/.test(l.msg)), 'ACKs logged with their version');
});

t.test('(c) an invalid RouteConfiguration is NACKed with its reason and the previous version; traffic keeps the last good one', async (t) => {
  const x = await setup(t, 30);
  const client = new ContinuousClient(x.port('l'), { connections: 4, maxRequests: 20_000 });
  t.teardown(() => client.stop());
  await client.until(() => client.count('0') >= 100);
  const goodVersion = x.server.versionOf(R);
  const bad = routeConfig('r', [weightedRoute({ v1: 0, v2: 0 }, { smooth: true })], 'bad');
  const { reply } = await x.push(R, [bad]);
  t.ok(reply.error_detail, 'NACK');
  t.equal(reply.error_detail?.code, 13, 'INTERNAL, as Envoy');
  t.equal(reply.version_info, goodVersion, 'NACK carries the previous (last good) version');
  t.match(reply.error_detail?.message, /route_configurations\["r"\]\.virtual_hosts\[0\]\.routes\[0\]\.route\.weighted_clusters.*sum of weights is 0|weighted_clusters.*weight/);
  t.ok(x.logs.some((l) => l.level === 'warn' && l.msg.includes(`NACK RouteConfiguration version ${x.server.versionOf(R)}`) && l.msg.includes(`keeping version ${goodVersion}`)), 'NACK logged with both versions');
  const at = client.samples.length;
  await client.until(() => client.samples.length >= at + 200);
  t.equal(client.count('bad'), 0, 'the rejected config never routed a request');
  const after = client.samples.slice(at);
  t.ok(after.every((s) => s.tag === '0'), 'traffic keeps following the last good config');
  t.ok(offBy(client.samples.filter((s) => s.tag === '0'), 30) <= 1, 'and its exact 70/30 split');
  // Fixed: ACKed and served.
  const fixed = await x.push(R, [split(80, 'fixed')]);
  t.notOk(fixed.reply.error_detail);
  const at2 = client.samples.length;
  client.epoch = 1;
  await client.until(() => client.count('fixed') >= 100);
  await client.stop();
  t.ok(offBy(client.samples.filter((s) => s.tag === 'fixed'), 80) <= 1, 'the fixed config splits 20/80');
  t.ok(client.samples.slice(at2).every((s) => s.epoch === 0 || s.tag === 'fixed'));
  t.same(client.errors, [], 'zero failed requests');
  t.same(x.client.state().perType[R]!.lastError, null, 'error cleared by the accepted update');
});
