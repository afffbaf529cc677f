// Control plane gone under load (issue 4 section 5 (b)): istiod killed while traffic flows and back
// 5 s later. weir keeps serving the last config with zero failed requests, reconnects with backoff,
// resubscribes with the versions it holds, ACKs what the new stream sends, and follows the next push.
import t from 'tap';
import { startVersionedEach, type TestUpstream } from '../helpers/upstream-servers';
import { C, cla, ContinuousClient, E, edsCluster, L, R, rdsListener, routeConfig, startXdsProxy, weightedRoute } from '../xds/e2e-harness';

const OUTAGE_MS = 5000;

let v1: TestUpstream;
let v2: TestUpstream;
t.before(async () => {
  [v1, v2] = await startVersionedEach(t, ['v1', 'v2']);
});

const split = (w2: number, tag: string) => routeConfig('r', [weightedRoute({ v1: 100 - w2, v2: w2 }, { smooth: true })], tag);

t.test('(b) control plane killed under traffic and restarted 5 s later: zero failed requests, resubscribe with last versions, ACK', async (t) => {
  const x = await startXdsProxy({
    seed: (s) => {
      // Distinct versions per type, so resubscription can be checked per type.
      s.setResources(C, [edsCluster('v1'), edsCluster('v2')], { version: 'cds-7' });
      s.setResources(E, [cla('v1', v1.port), cla('v2', v2.port)], { version: 'eds-3' });
      s.setResources(L, [rdsListener('l', 'r')], { version: 'lds-5' });
      s.setResources(R, [split(20, 'before')], { version: 'rds-11' });
    },
    backoff: { baseMs: 200, maxMs: 1000 },
  });
  t.teardown(() => x.close());
  const server = x.server;
  const client = new ContinuousClient(x.port('l'), { connections: 4, maxRequests: 200_000 });
  t.teardown(() => client.stop());
  await client.until(() => client.count('before') >= 50);

  const held: Record<string, string> = {};
  for (const type of [L, R, C, E]) held[type] = x.client.state().perType[type]!.versionInfo;
  t.same(held, { [L]: 'lds-5', [R]: 'rds-11', [C]: 'cds-7', [E]: 'eds-3' }, 'versions held before the outage');
  const disconnected = new Promise<void>((resolve) => x.client.events.once('disconnected', () => resolve()));
  const killedAt = client.samples.length;
  await server.kill();
  await disconnected;
  t.notOk(x.client.state().connected, 'the client knows the stream is gone');
  // The outage itself (the scenario, not synchronisation): traffic continues against the last config.
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  const duringOutage = client.samples.length - killedAt;
  t.ok(duringOutage > 100, `traffic flowed during the outage (${duringOutage} requests)`);
  t.same(client.errors, [], 'zero failed requests during the outage');
  const reconnectLogs = x.logs.filter((l) => /xds: disconnected from .* reconnecting in \d+ ms \(attempt \d+\)/.test(l.msg));
  t.ok(reconnectLogs.length >= 2, `reconnect attempts with backoff logged (${reconnectLogs.length})`);

  const streamsBefore = server.streamCount;
  const from = server.requests.length;
  const connected = new Promise<void>((resolve) => x.client.events.once('connected', () => resolve()));
  await server.restart();
  await connected;
  // Resubscription: the first request of each type on the new stream carries the version held.
  for (const type of [C, E, L, R]) {
    const first = await server.waitForRequest((r) => r.stream > streamsBefore && r.type_url === type, { from, timeoutMs: 5000 });
    t.equal(first.version_info, held[type], `${type.split('.').pop()}: resubscribed with version ${held[type]}`);
    t.equal(first.response_nonce, '', 'no nonce from the old stream');
    if (type === R) t.same(first.resource_names, ['r'], 'RDS names resubscribed');
    if (type === E) t.same(first.resource_names, ['v1', 'v2'], 'EDS names resubscribed');
  }
  const firstOfStream = server.requests.find((r) => r.stream > streamsBefore)!;
  t.equal(firstOfStream.node?.id, 'sidecar~127.0.0.1~weir-e2e.default~default.svc.cluster.local', 'node sent again on the new stream');
  // What the restarted server sends on the new stream is ACKed.
  for (const type of [C, E, L, R]) {
    const sent = await server.waitForResponse((r) => r.stream > streamsBefore && r.type_url === type, { timeoutMs: 5000 });
    const reply = await server.waitForReply(sent.nonce);
    t.notOk(reply.error_detail, `${type.split('.').pop()} ACKed after the restart`);
    t.equal(reply.version_info, sent.version_info);
  }
  t.ok(x.client.state().connected);
  t.equal(x.client.state().reconnectAttempts, 0, 'backoff reset after a good response');
  // And the next push is followed.
  const pushed = await x.push(R, [split(90, 'after')]);
  t.notOk(pushed.reply.error_detail);
  await client.until(() => client.count('after') >= 100);
  await client.stop();
  t.same(client.errors, [], 'zero failed requests, start to end');
  const after = client.samples.filter((s) => s.tag === 'after');
  const got = after.filter((s) => s.body === 'v2').length;
  t.ok(Math.abs(got - after.length * 0.9) <= 1, `the pushed 10/90 split is served (${got} of ${after.length})`);
  t.equal(client.count('before') + client.count('after'), client.samples.length, 'only those two configs ever routed');
});
