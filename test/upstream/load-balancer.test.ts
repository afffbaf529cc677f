import t from 'tap';
import { Host } from '../../src/upstream/host';
import { LeastRequestLb, MaglevLb, RandomLb, RingHashLb, RoundRobinLb, DEFAULT_LB_OPTIONS } from '../../src/upstream/load-balancer';
import { LbRandom } from '../../src/upstream/random';
import { murmur3 } from '../../src/upstream/hash';

function hosts(weights: number[]): Host[] {
  return weights.map((w, i) => new Host('10.0.0.' + (i + 1), 8080, '10.0.0.' + (i + 1), w, 0, null, 1, null, true));
}

function counts(pick: () => Host, n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const h = pick();
    m.set(h.address, (m.get(h.address) ?? 0) + 1);
  }
  return m;
}

t.test('ROUND_ROBIN: equal weights rotate, unequal weights are exact per cycle (smooth WRR)', async (t) => {
  const eq = new RoundRobinLb(hosts([1, 1, 1]), new LbRandom(1));
  const c = counts(() => eq.choose(), 300);
  t.same([...c.values()].sort(), [100, 100, 100]);
  const w = new RoundRobinLb(hosts([9, 1]), new LbRandom(1));
  const seq: string[] = [];
  for (let i = 0; i < 10; i++) seq.push(w.choose().address);
  t.equal(seq.filter((a) => a === '10.0.0.2').length, 1, 'one in ten goes to the weight-1 host');
  const c2 = counts(() => w.choose(), 10_000);
  t.equal(c2.get('10.0.0.1'), 9000);
  t.equal(c2.get('10.0.0.2'), 1000);
});

t.test('RANDOM honours weights within binomial bounds', async (t) => {
  const lb = new RandomLb(hosts([3, 1]), new LbRandom(7));
  const c = counts(() => lb.choose(), 20_000);
  // p = 0.25, n = 20000: sd ~ 61; allow 5 sd.
  t.ok(Math.abs((c.get('10.0.0.2') ?? 0) - 5000) < 310, `weight-1 host got ${c.get('10.0.0.2')}`);
});

t.test('LEAST_REQUEST prefers the host with fewer active requests', async (t) => {
  const hs = hosts([1, 1]);
  hs[0]!.active = 10;
  const lb = new LeastRequestLb(hs, new LbRandom(3), 2);
  const c = counts(() => lb.choose(), 1000);
  // With two choices, the busy host wins only when both draws land on it (~1/4).
  t.ok((c.get('10.0.0.2') ?? 0) > 650, `idle host chosen ${c.get('10.0.0.2')} times`);
});

t.test('RING_HASH: same hash -> same host; weights shape the shares; minimal disruption on removal', async (t) => {
  const hs = hosts([1, 1, 2]);
  const lb = new RingHashLb(hs, new LbRandom(1), DEFAULT_LB_OPTIONS);
  t.ok(lb.ringSize >= 1024);
  const h1 = murmur3('user-42');
  t.equal(lb.choose(h1, true), lb.choose(h1, true));
  const c = counts(() => lb.choose(murmur3(String(Math.random())), true), 20_000);
  const share = (c.get('10.0.0.3') ?? 0) / 20_000;
  t.ok(share > 0.4 && share < 0.6, `weight-2 host share ${share}`);
  const fewer = new RingHashLb(hs.slice(0, 2), new LbRandom(1), DEFAULT_LB_OPTIONS);
  let moved = 0;
  let stayed = 0;
  for (let i = 0; i < 4000; i++) {
    const h = murmur3('k' + i);
    const a = lb.choose(h, true);
    if (a.address === '10.0.0.3') continue;
    if (fewer.choose(h, true) !== a) moved++;
    else stayed++;
  }
  // The ring is rescaled when a host leaves (Envoy does the same), so a few keys move between the
  // remaining hosts; most stay (modulo hashing would move about half).
  t.ok(moved / (moved + stayed) < 0.3, `moved ${moved} of ${moved + stayed}`);
  const noHash = counts(() => lb.choose(0, false), 3000);
  t.equal(noHash.size, 3, 'no hash: random over all hosts');
});

t.test('MAGLEV: table filled by weight; consistent lookups', async (t) => {
  const hs = hosts([1, 3]);
  const lb = new MaglevLb(hs, new LbRandom(1), 65537);
  const c = counts(() => lb.choose(murmur3(String(Math.random())), true), 20_000);
  const share = (c.get('10.0.0.2') ?? 0) / 20_000;
  t.ok(share > 0.7 && share < 0.8, `weight-3 host share ${share}`);
  t.equal(lb.choose(12345, true), lb.choose(12345, true));
});
