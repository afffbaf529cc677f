// The weighted-selection core: Envoy's interval semantics (exhaustively), the smooth order's
// discrepancy bound, random mode's distribution, validation, and the primitives (Prng, stableHash32).
// Sticky mode and the two-process check are in picker-sticky.test.ts.
import t from 'tap';
import { PICK_MODES, WeightedPicker, type PickMode } from '../../src/route/picker';
import { Prng } from '../../src/route/prng';
import { stableHash32 } from '../../src/route/stable-hash';

function compile(weights: readonly number[], mode?: PickMode): WeightedPicker {
  const r = WeightedPicker.compile(weights, mode);
  if (r.value === undefined) throw new Error('unexpected errors: ' + r.errors.join('; '));
  return r.value;
}

/** Envoy's walk (config_impl.cc pickCluster) on an already-reduced value: the reference. */
function envoyIndex(weights: readonly number[], selected: number): number {
  let begin = 0;
  for (let i = 0; i < weights.length; i++) {
    const end = begin + weights[i]!;
    if (selected >= begin && selected < end) return i;
    begin = end;
  }
  return -1;
}

t.test('PICK_MODES lists the three modes', async (t) => {
  t.same([...PICK_MODES], ['random', 'sticky', 'smooth']);
  t.equal(compile([1, 2]).mode, 'random', 'random is the default');
});

t.test('validation: errors are path-free and every problem is reported', async (t) => {
  const cases: { name: string; weights: unknown[]; mode?: string; error: RegExp[] }[] = [
    { name: 'negative', weights: [1, -1], error: [/^weight of destination 1 must be a non-negative integer, got -1$/] },
    { name: 'fraction', weights: [1.5, 2], error: [/destination 0 .* got 1\.5/] },
    { name: 'not a number', weights: [1, '2'], error: [/destination 1 .* got "2"/] },
    { name: 'NaN and Infinity', weights: [NaN, Infinity], error: [/destination 0 .* NaN/, /destination 1 .* Infinity/] },
    { name: 'sum 0', weights: [0, 0], error: [/^sum of weights is 0$/] },
    { name: 'empty', weights: [], error: [/^sum of weights is 0$/] },
    { name: 'sum too large', weights: [4294967295, 1], error: [/^sum of weights 4294967296 exceeds 4294967295$/] },
    { name: 'one weight too large', weights: [2 ** 40], error: [/exceeds 4294967295/] },
    { name: 'unknown mode', weights: [1], mode: 'roundrobin', error: [/^unknown pick mode "roundrobin"/] },
  ];
  for (const c of cases) {
    const r = WeightedPicker.compile(c.weights as number[], c.mode as PickMode | undefined);
    t.equal(r.value, undefined, c.name + ': rejected');
    t.equal(r.errors?.length, c.error.length, c.name + ': error count');
    c.error.forEach((re, i) => t.match(r.errors?.[i], re, c.name));
    for (const e of r.errors ?? []) t.notMatch(e, /^\w+\[\d+\]\./, c.name + ': no field path, the caller adds it');
  }
  t.ok(WeightedPicker.compile([4294967295]).value, 'a total of exactly 2^32-1 is accepted');
  t.ok(WeightedPicker.compile([0, 1, 0]).value, 'zeros are fine when the sum is positive');
  const p = compile([3, 4]);
  t.ok(Object.isFrozen(p.weights), 'weights are frozen');
  t.same(p.weights, [3, 4]);
  t.equal(p.total, 7);
});

t.test('pickValue: exhaustive over every value 0..total-1, matching Envoy intervals', async (t) => {
  const vectors: number[][] = [
    [90, 10],
    [1],
    [7],
    [0, 5],
    [5, 0],
    [0, 3, 0, 4, 0],
    [1, 1, 1],
    [100, 0, 0, 1],
    [33, 33, 34],
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    [4096],
    [4095, 1],
    [3000, 1, 0, 1, 2000, 7], // total 5009 > 2^12: bucketed, with boundaries inside buckets
    [...Array.from({ length: 300 }, () => 1), 0, 200000], // boundaries packed into the first buckets
    [...Array.from({ length: 1000 }, () => 1), 0, 2_000_000], // 256 boundaries in bucket 0: binary search
    [65535, 1, 65535, 0, 1, 2, 3, 70000],
    [999983, 7, 48577], // total 1,048,567: about 2^20 values
  ];
  for (const w of vectors) {
    const p = compile(w);
    const total = w.reduce((a, b) => a + b, 0);
    t.equal(p.total, total);
    let mismatches = 0;
    let cursor = 0; // reference walk, advanced incrementally as the value grows
    let end = w[0]!;
    for (let v = 0; v < total; v++) {
      while (v >= end) end += w[++cursor]!;
      if (p.pickValue(v) !== cursor) mismatches++;
    }
    t.equal(mismatches, 0, `[${w.length > 12 ? w.length + ' weights' : w.join(',')}]: every value in its interval`);
    let begin = 0;
    for (let i = 0; i < w.length; i++) {
      t.same(p.interval(i), { begin, end: begin + w[i]! });
      begin += w[i]!;
    }
    for (let i = 0; i < w.length; i++) {
      if (w[i] === 0) {
        const seen = [0, 1, total - 1, total, 2 ** 32 - 1].some((v) => p.pickValue(v) === i);
        t.notOk(seen, 'weight 0 never picked');
      }
    }
  }
  t.throws(() => compile([1, 2]).interval(2), RangeError);
});

t.test('pickValue: value % total for values up to 2^53-1 (header_name values)', async (t) => {
  const prng = new Prng(7);
  const vectors = [[90, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [3000, 1, 0, 1, 2000, 7], [4294967290, 5], [123456789, 0, 987654321, 1]];
  let checked = 0;
  let wrong = 0;
  for (const w of vectors) {
    const p = compile(w);
    const total = BigInt(p.total);
    const values: number[] = [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 2, 2 ** 53 - 1];
    for (let k = 0; k < 2000; k++) {
      values.push(prng.nextUint32()); // the random value path
      values.push(prng.nextUint32() * 2 ** 21 + (prng.nextUint32() >>> 11)); // any integer < 2^53
      // just around multiples of total, where the reciprocal quotient can be off by one
      const q = Math.floor(prng.nextUint32() / p.total);
      values.push(q * p.total, q * p.total - 1, q * p.total + 1);
    }
    for (const v of values) {
      if (v < 0 || v > Number.MAX_SAFE_INTEGER) continue;
      const expected = envoyIndex(w, Number(BigInt(v) % total));
      checked++;
      if (p.pickValue(v) !== expected) wrong++;
    }
  }
  t.equal(wrong, 0, `${checked} values picked as Envoy's random_value % total_weight would`);
});

t.test('pickValue: the reciprocal reduction is exact for uint32 values against awkward totals', async (t) => {
  // A 2-way split [x, total - x] flips exactly where value % total crosses x, so a wrong remainder
  // anywhere shows up as a wrong destination at the edges.
  const prng = new Prng(99);
  const totals = [3, 7, 100, 65537, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 4294967291, 4294967295, 3037000493];
  let wrong = 0;
  let checked = 0;
  for (const total of totals) {
    for (let k = 0; k < 200; k++) {
      const x = 1 + (prng.nextUint32() % (total - 1 || 1));
      if (x >= total) continue;
      const p = compile([x, total - x]);
      const q = Math.floor(prng.nextUint32() / total);
      for (const base of [q * total, 0]) {
        for (const [v, want] of [[base + x - 1, 0], [base + x, 1], [base, 0], [base + total - 1, 1]] as const) {
          if (v < 0 || v >= 2 ** 32) continue;
          checked++;
          if (p.pickValue(v) !== want) wrong++;
        }
      }
    }
  }
  t.equal(wrong, 0, `${checked} edge values`);
});

/** Upper 0.1% points of the chi-square distribution (alpha = 0.001). */
const CHI2_CRIT_0_001: Record<number, number> = { 3: 16.266, 9: 27.877, 19: 43.82 };

t.test('random mode: chi-square over 10^6 picks with a fixed seed (alpha 0.001)', async (t) => {
  const vectors = [[50, 30, 15, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], Array.from({ length: 20 }, (_, i) => 1000 + 37 * i)];
  for (const w of vectors) {
    const p = compile(w);
    const prng = new Prng(20261122);
    const counts = new Float64Array(w.length);
    const N = 1_000_000;
    for (let k = 0; k < N; k++) counts[p.pickValue(prng.nextUint32())]!++;
    // Exact expectation for uniform uint32 values, including the modulo bias Envoy has too.
    const q = Math.floor(2 ** 32 / p.total);
    const rem = 2 ** 32 % p.total;
    let chi2 = 0;
    for (let i = 0; i < w.length; i++) {
      const { begin, end } = p.interval(i);
      const values = (end - begin) * q + Math.max(0, Math.min(end, rem) - begin);
      const expected = (N * values) / 2 ** 32;
      chi2 += (counts[i]! - expected) ** 2 / expected;
    }
    const crit = CHI2_CRIT_0_001[w.length - 1]!;
    t.ok(chi2 < crit, `n=${w.length}: chi2 ${chi2.toFixed(2)} < ${crit} (df ${w.length - 1})`);
  }
  // The test has power: a biased source (top half of the range never drawn) is rejected.
  const p = compile([50, 30, 15, 5]);
  const prng = new Prng(1);
  const counts = [0, 0, 0, 0];
  for (let k = 0; k < 100_000; k++) counts[p.pickValue(prng.nextUint32() % 70)]!++;
  let chi2 = 0;
  [50, 30, 15, 5].forEach((w, i) => (chi2 += (counts[i]! - w * 1000) ** 2 / (w * 1000)));
  t.ok(chi2 > CHI2_CRIT_0_001[3]!, 'a skewed source fails the same test');
});

t.test('smooth: within 1 pick of the target at every prefix of 10^5 picks, 20 random vectors', async (t) => {
  const prng = new Prng(2026);
  const vectors: number[][] = [
    [1, 1, 1, 100, 1, 1, 1, 1, 1, 100, 1, 100, 1, 100], // nginx SWRR reaches 1.44 here
    [90, 10],
    [0, 1, 0, 2],
  ];
  while (vectors.length < 20) {
    const n = 2 + (prng.nextUint32() % 49);
    const kind = vectors.length % 3;
    const w: number[] = Array.from({ length: n }, (): number => {
      const x = prng.nextUint32();
      if (kind === 0) return x % 1000; // uniform, some zeros
      if (kind === 1) return Math.floor(Math.exp((x / 2 ** 32) * 9)); // log-uniform 1..8103
      return x % 4 === 0 ? 500 : x % 3; // a few heavy, many 0..2
    });
    if (!w.some((x) => x > 0)) w[0] = 1;
    vectors.push(w);
  }
  const N = 100_000;
  for (const w of vectors) {
    const p = compile(w, 'smooth');
    const n = w.length;
    const total = p.total;
    const counts = new Float64Array(n);
    let worst = 0;
    let zeroPicked = false;
    for (let k = 1; k <= N; k++) {
      const i = p.pickNext();
      counts[i]!++;
      if (w[i] === 0) zeroPicked = true;
      // |count_i - k w_i / total| < 1  <=>  |count_i * total - k * w_i| < total (exact integers)
      for (let j = 0; j < n; j++) {
        const d = Math.abs(counts[j]! * total - k * w[j]!);
        if (d > worst) worst = d;
      }
    }
    t.ok(worst < total, `n=${n} total=${total}: max deviation ${(worst / total).toFixed(6)} < 1 pick`);
    t.notOk(zeroPicked, 'weight 0 never picked');
  }
});

t.test('smooth: deterministic, periodic, and scaled when the period exceeds 2^20', async (t) => {
  const a = compile([5, 3, 2], 'smooth');
  const b = compile([5, 3, 2], 'smooth');
  const seqA = Array.from({ length: 30 }, () => a.pickNext());
  t.same(Array.from({ length: 30 }, () => b.pickNext()), seqA, 'two pickers give the same order');
  t.same(seqA.slice(10, 20), seqA.slice(0, 10), 'period = sum of weights');
  t.same(seqA.slice(0, 10), [0, 1, 0, 2, 0, 1, 0, 1, 0, 2], 'pinned order for [5,3,2]');
  const c = compile([50, 30, 20], 'smooth');
  t.same(Array.from({ length: 10 }, () => c.pickNext()), seqA.slice(0, 10), 'weights reduced by their gcd');

  const big = compile([1048577, 1048576, 3], 'smooth'); // period 2^21 + 4 > 2^20: scaled down
  const counts = [0, 0, 0];
  const N = 1 << 21;
  let worst = 0;
  for (let k = 1; k <= N; k++) {
    counts[big.pickNext()]!++;
    if ((k & 1023) === 0) {
      for (let i = 0; i < 3; i++) worst = Math.max(worst, Math.abs(counts[i]! - (k * big.weights[i]!) / big.total));
    }
  }
  t.ok(counts[2]! >= 1, 'a tiny weight keeps at least one slot');
  t.ok(worst < 3, `scaled order stays within ${worst.toFixed(3)} picks of the exact shares over 2^21 picks`);
  t.throws(() => compile([1, 1]).pickNext(), /mode 'smooth'/, 'pickNext needs a smooth picker');
});

t.test('Prng: seedable, deterministic, uint32 output', async (t) => {
  const a = new Prng(1);
  t.same([a.nextUint32(), a.nextUint32(), a.nextUint32(), a.nextUint32()], [2012149540, 1872316204, 1707632675, 1779833415], 'pinned sfc32 stream for seed 1');
  const b = new Prng(1);
  const c = new Prng(2);
  const d = new Prng(2 + 2 ** 32); // the high 32 bits of the seed matter
  const e = new Prng(); // OS-seeded
  let same = 0;
  let bad = 0;
  for (let k = 0; k < 1000; k++) {
    const x = b.nextUint32();
    const y = c.nextUint32();
    const z = d.nextUint32();
    const r = e.nextUint32();
    if (x === y || y === z) same++;
    for (const v of [x, y, z, r]) if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) bad++;
  }
  t.ok(same < 3, 'different seeds give different streams');
  t.equal(bad, 0, 'every value is an integer in 0..2^32-1');
  t.throws(() => new Prng(NaN), RangeError);
});

/** MurmurHash3_x86_32 written the obvious way over Buffer bytes: the reference for stableHash32. */
function murmur3Reference(bytes: Buffer, seed = 0): number {
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    let k = bytes.readUInt32LE(i * 4);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = blocks * 4;
  const tailBytes = bytes.length & 3;
  if (tailBytes === 3) k ^= bytes[tail + 2]! << 16;
  if (tailBytes >= 2) k ^= bytes[tail + 1]! << 8;
  if (tailBytes >= 1) {
    k ^= bytes[tail]!;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

t.test('stableHash32: MurmurHash3_x86_32 over UTF-8, seed 0 (pinned: sticky users depend on it)', async (t) => {
  // Published MurmurHash3_x86_32 vectors (seed 0).
  t.equal(stableHash32(''), 0);
  t.equal(stableHash32('hello'), 0x248bfa47);
  t.equal(stableHash32('Hello, world!'), 0xc0363e43);
  t.equal(stableHash32('The quick brown fox jumps over the lazy dog'), 0x2e4ff723);
  const prng = new Prng(5);
  const alphabet = ['a', 'Z', '0', '=', ';', ' ', 'é', 'ß', '€', '中', '😀', '\ud800', '\udc00', '\u0000', '\u07ff', '\uffff'];
  let wrong = 0;
  for (let k = 0; k < 3000; k++) {
    let s = '';
    const len = prng.nextUint32() % 24;
    for (let i = 0; i < len; i++) s += alphabet[prng.nextUint32() % alphabet.length];
    if (stableHash32(s) !== murmur3Reference(Buffer.from(s, 'utf8'))) wrong++;
  }
  t.equal(wrong, 0, '3000 random strings (including astral and lone surrogates) match the reference');
});

t.test('random-mode pickers are shared per split; smooth and sticky ones are per route', async (t) => {
  const a = WeightedPicker.compile([90, 10]).value!;
  t.equal(WeightedPicker.compile([90, 10], 'random', ['x', 'y']).value, a, 'same weights: one immutable picker');
  t.not(WeightedPicker.compile([10, 90]).value, a, 'other weights: another picker');
  const s1 = WeightedPicker.compile([90, 10], 'smooth').value!;
  t.not(WeightedPicker.compile([90, 10], 'smooth').value, s1, 'smooth keeps its own cursor');
  t.not(WeightedPicker.compile([90, 10], 'sticky', ['a', 'b']).value, WeightedPicker.compile([90, 10], 'sticky', ['a', 'b']).value);
  for (let v = 0; v < 100; v++) t.equal(a.pickValue(v), v < 90 ? 0 : 1);
});
