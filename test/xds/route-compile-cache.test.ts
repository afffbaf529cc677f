// One route compile per RouteConfiguration the control plane sends (src/xds/route-compile-cache.ts).
import t from 'tap';
import type { RouteCompiler } from '../../src/proxy/route-contract';
import { defaultRouteCompiler } from '../../src/proxy/route-binding';
import { cachedRouteCompiler } from '../../src/xds/route-compile-cache';
import { startVersioned } from '../helpers/upstream-servers';
import { get } from '../proxy/fixtures';
import { C, cla, E, edsCluster, L, R, rdsListener, routeConfig, startXdsProxy, weightedRoute } from './e2e-harness';

t.test('same object and options: compiled once; another object or other options: compiled again', async (t) => {
  let calls = 0;
  const inner: RouteCompiler = (raw, opts) => {
    calls++;
    return defaultRouteCompiler()(raw, opts);
  };
  const c = cachedRouteCompiler(inner);
  const rc = { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'x' } }] }] };
  const opts = {};
  const a = c(rc, opts);
  t.equal(c(rc, opts), a, 'the same result object');
  t.equal(calls, 1);
  c(structuredClone(rc), opts);
  t.equal(calls, 2, 'an equal but new object is compiled (a new RDS response is a new object)');
  c(rc, {});
  t.equal(calls, 3, 'other options: compiled again');
  t.same(c.stats, { hits: 1, misses: 3 });
  const bad = c({ name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'x', weight: 0 }] } } }] }] }, opts);
  t.ok(bad.errors, 'errors are results too');
});

t.test('through the ADS client: an RDS push compiles once for validation and serving; a CDS/EDS push compiles nothing', async (t) => {
  const v1 = await startVersioned('v1');
  const v2 = await startVersioned('v2');
  t.teardown(() => Promise.all([v1.close(), v2.close()]));
  const x = await startXdsProxy({
    seed: (s) => {
      s.setResources(C, [edsCluster('v1')]);
      s.setResources(E, [cla('v1', v1.port)]);
      s.setResources(L, [rdsListener('l', 'r')]);
      s.setResources(R, [routeConfig('r', [weightedRoute({ v1: 1 })], 'a')]);
    },
  });
  t.teardown(() => x.close());
  const start = { ...x.routeCompiles };
  await x.push(R, [routeConfig('r', [weightedRoute({ v1: 1, v2: 1 })], 'b')]);
  t.equal(x.routeCompiles.misses, start.misses + 1, 'the RDS update compiled once');
  t.ok(x.routeCompiles.hits > start.hits, 'serving reused the validation compile');
  const misses = x.routeCompiles.misses;
  // Endpoints first (v2's are sent once CDS makes weir ask for them), then the cluster.
  x.server.setResources(E, [cla('v1', v1.port), cla('v2', v2.port)]);
  await x.push(C, [edsCluster('v1'), edsCluster('v2')]);
  t.equal(x.routeCompiles.misses, misses, 'CDS and EDS pushes did not recompile routes');
  const port = x.port('l');
  const bodies = new Set<string>();
  for (let i = 0; i < 40 && bodies.size < 2; i++) bodies.add((await get(port, '/')).body);
  t.same([...bodies].sort(), ['v1', 'v2'], 'the route config compiled before cluster v2 existed routes to it once it does');
});
