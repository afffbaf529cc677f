// The 90/10 split over 10,000 requests through the proxy: random mode within binomial bounds,
// smooth mode exact.

import t from 'tap';
import { startVersionedEach, type TestUpstream } from '../helpers/upstream-servers';
import { get, routeConfig, setupProxy, staticCluster, tally } from './fixtures';

const setup = setupProxy;
let v1: TestUpstream;
let v2: TestUpstream;
t.before(async () => {
  [v1, v2] = await startVersionedEach(t, ['v1', 'v2']);
});

const split = (mode?: string) =>
  routeConfig([
    {
      match: { prefix: '/' },
      ...(mode ? { metadata: { filter_metadata: { weir: { pick_mode: mode } } } } : {}),
      route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }] } },
    },
  ]);

t.test('90/10 random split over 10,000 requests is within binomial bounds', async (t) => {
  const { port } = await setup(t, split(), [staticCluster('v1', [v1.port]), staticCluster('v2', [v2.port])]);
  const counts = await tally(port, 10_000);
  const n2 = counts.get('v2') ?? 0;
  t.equal((counts.get('v1') ?? 0) + n2, 10_000, 'all 200 from v1 or v2');
  // n = 10000, p = 0.1: sd = 30; 5 sd.
  t.ok(Math.abs(n2 - 1000) <= 150, `v2 got ${n2}`);
  const one = await get(port, '/');
  t.equal(one.headers['server'], 'envoy');
  t.match(one.headers['x-envoy-upstream-service-time'], /^\d+$/);
});

t.test('90/10 smooth split is exact: 9000/1000, v2 every tenth request', async (t) => {
  const { port } = await setup(t, split('smooth'), [staticCluster('v1', [v1.port]), staticCluster('v2', [v2.port])]);
  const counts = await tally(port, 10_000);
  t.equal(counts.get('v1'), 9000);
  t.equal(counts.get('v2'), 1000);
});

