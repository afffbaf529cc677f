// bindSnapshot across snapshots: a route whose place and destinations are unchanged keeps its
// binding (picks continue) while weir_route_weight shows the new weight; removed routes and
// destinations leave no weight series; listeners sharing one route table publish its weights once;
// a snapshot that fails to swap in gives the weights back; per-host counters (/clusters) are per
// host even when two hosts share every Istio label, and survive a snapshot that keeps the cluster.
import t from 'tap';
import { compileSnapshot, type Snapshot } from '../../src/proxy/snapshot';
import type { RouteTable } from '../../src/route/route-table';
import { Metrics, type ClusterView, type ObservedStream } from '../../src/admin/metrics';
import type { Resource, ResourceSet } from '../../src/config/resources';
import { listener, staticCluster } from '../proxy/fixtures';
import { parsePrometheus, sum } from './prom-text';

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';
const V3 = 'outbound|9080|v3|reviews.default.svc.cluster.local';
const CLUSTERS = [staticCluster(V1, [19081, 19091]), staticCluster(V2, [19082]), staticCluster(V3, [19083])] as Resource[];

function rc(routes: object[]): Resource {
  return { name: 'rc', virtual_hosts: [{ name: 'reviews', domains: ['*'], routes }] };
}
function split(name: string, prefix: string, ws: [string, number][]): object {
  return { name, match: { prefix }, route: { weighted_clusters: { clusters: ws.map(([n, w]) => ({ name: n, weight: w })) } } };
}

function compile(version: string, routeConfig: Resource, listeners = ['l'], clusters = CLUSTERS): { snap: Snapshot; views: Map<string, ClusterView> } {
  const set: ResourceSet = { listeners: listeners.map((n) => listener(n, { rds: 'rc' }) as Resource), routeConfigurations: [routeConfig], clusters, clusterLoadAssignments: [], versionInfo: version };
  const r = compileSnapshot(set);
  if (r.errors) throw new Error(r.errors.join('\n'));
  const views = new Map<string, ClusterView>();
  for (const [name, c] of r.value.clusters) {
    views.set(name, { name, config: c, activeRequests: 0, hosts: c.endpoints.map((e) => ({ key: `${e.address}:${e.port}`, healthy: true, metadata: e.metadata, active: 0, pool: null })) });
  }
  return { snap: r.value, views };
}

function entry(snap: Snapshot, i: number): object {
  return (snap.listeners[0]!.hcm.routeTable as unknown as RouteTable).virtualHosts[0]!.routes[i]!;
}

function done(e: object, cluster: string, host: string, status = 200): ObservedStream {
  return { status, flags: 0, durationMs: 1, bytesReceived: 0, bytesSent: 0, upstreamCluster: cluster, upstreamHost: host, upstreamServiceTimeMs: 1, retriesDone: 0, entry: e };
}

async function scrape(m: Metrics): Promise<ReturnType<typeof parsePrometheus>['samples']> {
  return parsePrometheus(await m.text()).samples;
}

const A = { route_config: 'rc', virtual_host: 'reviews', route: 'a' };
const B = { route_config: 'rc', virtual_host: 'reviews', route: 'b' };

t.test('weights follow every update, picks continue, removed routes leave no weight', async (t) => {
  const m = new Metrics();
  const s1 = compile('1', rc([split('a', '/a', [[V1, 90], [V2, 10]]), split('b', '/b', [[V1, 50], [V3, 50]])]));
  let l = m.bindSnapshot(s1.snap, s1.views).listener('l')!;
  for (let i = 0; i < 3; i++) l.streamDone(done(entry(s1.snap, 0), V2, '127.0.0.1:19082'));
  let s = await scrape(m);
  t.equal(sum(s, 'weir_route_weight', { ...A, cluster: V2 }), 10);
  t.equal(sum(s, 'weir_route_picks_total', { ...A, cluster: V2 }), 3);

  // Same routes, new weights (a canary step): new weight shown, picks continue on the same series.
  const s2 = compile('2', rc([split('a', '/a', [[V1, 50], [V2, 50]]), split('b', '/b', [[V1, 50], [V3, 50]])]));
  l = m.bindSnapshot(s2.snap, s2.views).listener('l')!;
  l.streamDone(done(entry(s2.snap, 0), V2, '127.0.0.1:19082'));
  s = await scrape(m);
  t.equal(sum(s, 'weir_route_weight', { ...A, cluster: V2 }), 50, 'the new weight');
  t.equal(sum(s, 'weir_route_weight', { ...A, cluster: V1 }), 50);
  t.equal(s.filter((x) => x.name === 'weir_route_weight').length, 4, 'one weight series per destination, no stale copies');
  t.equal(sum(s, 'weir_route_picks_total', { ...A, cluster: V2 }), 4, 'picks continue');

  // Route b removed, route a now sends to v1 and v3: the old destinations' weights are gone.
  const s3 = compile('3', rc([split('a', '/a', [[V1, 70], [V3, 30]])]));
  m.bindSnapshot(s3.snap, s3.views);
  s = await scrape(m);
  const weights = s.filter((x) => x.name === 'weir_route_weight');
  t.same(weights.map((x) => [x.labels.route, x.labels.cluster, x.value]), [['a', V1, 70], ['a', V3, 30]], 'only the serving routes');
  t.equal(sum(s, 'weir_route_picks_total', { ...A, cluster: V2 }), 4, 'counters are kept (as before): a counter does not go back');
  t.equal(sum(s, 'weir_route_picks_total', { ...B, cluster: V1 }), 0);

  // The old snapshot's observer (a request in flight during the swap) still counts.
  const old = m.bindSnapshot(compile('4', rc([split('a', '/a', [[V1, 70], [V3, 30]])])).snap, s3.views).listener('l')!;
  old.streamDone(done(entry(s3.snap, 0), V3, '127.0.0.1:19083'));
  t.equal(sum(await scrape(m), 'weir_route_picks_total', { ...A, cluster: V3 }), 0, 'an entry of an older table is not this snapshot\'s route');
});

t.test('a snapshot that fails to swap in gives back the previous weights', async (t) => {
  const m = new Metrics();
  const s1 = compile('1', rc([split('a', '/a', [[V1, 90], [V2, 10]])]));
  m.bindSnapshot(s1.snap, s1.views);
  m.configApplied('1');
  const s2 = compile('2', rc([split('a', '/a', [[V1, 10], [V2, 90]])]));
  m.bindSnapshot(s2.snap, s2.views);
  m.configApplied('2');
  t.equal(sum(await scrape(m), 'weir_route_weight', { ...A, cluster: V2 }), 90);
  m.configRejected('2', ['listener l: cannot bind']);
  const s = await scrape(m);
  t.equal(sum(s, 'weir_route_weight', { ...A, cluster: V2 }), 10, 'back to the serving weights');
  t.equal(sum(s, 'weir_config_info', { version: '1' }), 1);
  // And the next update binds against what serves.
  const s3 = compile('3', rc([split('a', '/a', [[V1, 40], [V2, 60]])]));
  m.bindSnapshot(s3.snap, s3.views);
  t.equal(sum(await scrape(m), 'weir_route_weight', { ...A, cluster: V2 }), 60);
});

t.test('listeners sharing a route table publish its weights once', async (t) => {
  const m = new Metrics();
  const s1 = compile('1', rc([split('a', '/a', [[V1, 90], [V2, 10]])]), ['l1', 'l2']);
  const b = m.bindSnapshot(s1.snap, s1.views);
  const second = (s1.snap.listeners[1]!.hcm.routeTable as unknown as RouteTable).virtualHosts[0]!.routes[0]!;
  b.listener('l1')!.streamDone(done(entry(s1.snap, 0), V1, '127.0.0.1:19081'));
  b.listener('l2')!.streamDone(done(second, V1, '127.0.0.1:19081'));
  const s = await scrape(m);
  t.equal(sum(s, 'weir_route_weight', { ...A, cluster: V1 }), 90, 'not 180');
  t.equal(sum(s, 'weir_route_picks_total', { ...A, cluster: V1 }), 2, 'both listeners count');
});

t.test('per-host counters: per host even with identical labels, across snapshots; Istio labels follow endpoint metadata', async (t) => {
  const m = new Metrics();
  const s1 = compile('1', rc([split('a', '/a', [[V1, 90], [V2, 10]])]));
  let l = m.bindSnapshot(s1.snap, s1.views).listener('l')!;
  // Two endpoints of v1 with identical Istio labels (same version, no workload metadata).
  for (let i = 0; i < 3; i++) l.streamDone(done(entry(s1.snap, 0), V1, '127.0.0.1:19081'));
  l.streamDone(done(entry(s1.snap, 0), V1, '127.0.0.1:19091', 503));
  t.same(m.hostCounters(V1, '127.0.0.1:19081'), { rqTotal: 3, rqError: 0, rqSuccess: 3, rqTimeout: 0 });
  t.same(m.hostCounters(V1, '127.0.0.1:19091'), { rqTotal: 1, rqError: 1, rqSuccess: 0, rqTimeout: 0 });
  // An RDS update (cluster resources unchanged): counters continue.
  const s2 = compile('2', rc([split('a', '/a', [[V1, 50], [V2, 50]])]));
  l = m.bindSnapshot(s2.snap, s2.views).listener('l')!;
  l.streamDone(done(entry(s2.snap, 0), V1, '127.0.0.1:19081'));
  t.same(m.hostCounters(V1, '127.0.0.1:19081'), { rqTotal: 4, rqError: 0, rqSuccess: 4, rqTimeout: 0 });
  // Endpoint metadata changed (a new version label): the Istio labels follow, the host counters stay.
  const relabelled = [staticCluster(V1, [{ port: 19081, metadata: { filter_metadata: { istio: { labels: { version: 'v1b' } } } } }, 19091]), CLUSTERS[1]!, CLUSTERS[2]!] as Resource[];
  const s3 = compile('3', rc([split('a', '/a', [[V1, 50], [V2, 50]])]), ['l'], relabelled);
  l = m.bindSnapshot(s3.snap, s3.views).listener('l')!;
  l.streamDone(done(entry(s3.snap, 0), V1, '127.0.0.1:19081'));
  t.same(m.hostCounters(V1, '127.0.0.1:19081').rqTotal, 5);
  const s = await scrape(m);
  t.equal(sum(s, 'istio_requests_total', { destination_version: 'v1b' }), 1, 'the new label');
  t.equal(sum(s, 'istio_requests_total', { destination_version: 'v1', response_code: '200' }), 4);
  t.same(m.hostCounters('nope', 'x'), { rqTotal: 0, rqError: 0, rqSuccess: 0, rqTimeout: 0 });
});
