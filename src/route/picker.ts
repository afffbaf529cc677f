// The weighted-selection core: one compiled, immutable picker per weighted route (and reusable for
// endpoint weights). Everything is decided in `compile`; a pick is a couple of typed-array loads, never
// allocates and never calls `Math.random()` (the random value is a parameter, as in Envoy's
// `pickCluster(random_value)`, so tests inject it).
//
// Three modes (../shared/design.md "The weighted-selection core"):
//
// random (default, Envoy-compatible). `pickValue(v)` implements Envoy's weighted_clusters pick
//   (source/common/router/config_impl.cc / weighted_cluster_specifier.cc, `pickCluster`):
//   selected = v % total_weight, then the clusters are walked in config order and the one whose
//   interval [begin, begin + weight) holds `selected` wins; a weight of 0 is an empty interval, never
//   picked. Instead of the walk, `compile` builds a bucket table over 0..total-1: bucket b covers
//   [b << shift, (b + 1) << shift). When total <= 2^12 (every Istio split: weights sum to 100)
//   shift is 0 and the table is a direct lookup. Otherwise there are up to 2^12..2^18 buckets (2^7
//   per destination rounded up to a power of two, up to 2048 destinations; Int16 slots up to 32767
//   destinations, so at most 512 KiB); a bucket lying inside
//   one interval stores the answer, a bucket that contains interval boundaries stores where to
//   search, and the pick binary-searches the cumulative ends of the intervals touching that bucket.
//   At most n-1 buckets hold a boundary and at least half of the table is in use, so a uniformly
//   random value needs the search with probability < 1/64 (n <= 2048) and then over a handful of
//   boundaries: O(1) expected, flat in n (bench/RESULTS.md "## Picker").
//   Worst case (a header_name value aimed at a bucket where many tiny weights are packed):
//   O(log n), against Envoy's O(n).
//   `v % total` for v < 2^32 is one uint32 division; larger values (header_name accepts any uint64
//   in Envoy; callers pass integers < 2^53) fall back to `%`, which is exact on doubles.
//
// sticky. `pickKey(key)`: value = stableHash32(key) (MurmurHash3_x86_32 over UTF-8, seed 0, see
//   stable-hash.ts), bucket = top 16 bits, destination = a table of 2^16 buckets precomputed by
//   weighted rendezvous hashing (HRW, Schindelhauer & Schomaker's "weighted distributed hash
//   tables" / the exponential race): bucket b goes to the destination i with weight > 0 that
//   minimises E(b, i) / w_i, where E(b, i) = -ln(u), u = (h + 0.5) / 2^32 and
//   h = MurmurHash3_x86_32(le32(b), seed = stableHash32(id_i)) is fixed per (bucket, destination)
//   pair. Consequences:
//   - the same key picks the same destination in every process (nothing depends on process state;
//     -ln is computed by `negLogUnit` with + - * / only, so it is bit-identical on every platform
//     and V8 version, unlike Math.log);
//   - each destination wins a bucket with probability w_i / total independently per bucket, so its
//     share of the 65,536 buckets is within ~0.2 percentage point (one standard deviation) of its
//     weight;
//   - weight 0 wins no bucket: everyone pinned to it is unpinned;
//   - monotone: when destination j's weight grows and the others keep their ratios to each other
//     (a 2-way split always does: 90/10 -> 70/30; a canary taking share from v1 and v2 alike:
//     50/50/0 -> 45/45/10), every other destination's score is divided by the same factor, so a
//     bucket either keeps its winner or moves to j: keys only move INTO j. Symmetrically, when
//     one destination shrinks and the rest keep their ratios, keys only move OUT of it.
//   - No stateless scheme can promise more for n >= 3. Take (1,1,0) -> (1,0,1) -> (0,1,1), each step
//     one destination growing, one shrinking, one unchanged. "Keys only move into the grower"
//     forces: step 1 moves B's keys to C (A keeps its own), step 2 moves A's keys to B, so at
//     (0,1,1) B holds A's original keys; but the direct step (1,1,0) -> (0,1,1) (C grows, A
//     shrinks, B unchanged) requires B to hold its own original keys. So when a change alters the
//     ratios among the non-growing destinations some keys can move between them; HRW moves no more
//     than that ratio change implies.
//   Destinations are identified by `ids` (cluster names) when given, else by position: pass ids so
//   that istiod dropping a weight-0 destination (which shifts positions) does not re-shuffle keys.
//   Hashing the key costs O(key length); the rest is one table load. Compile: O(65,536 x n).
//
// smooth. `pickNext()`: a deterministic low-discrepancy order in which, after ANY number of picks k,
//   every destination i has been picked floor(k w_i / W) or ceil(k w_i / W) times, i.e.
//   |count_i - k w_i / W| < 1 (strictly). nginx's smooth weighted round robin does NOT guarantee
//   this (weights [1,1,1,100,1,1,1,1,1,100,1,100,1,100] reach a deviation of 1.44), so the order is
//   the quota method as a schedule: the m-th pick of i is a unit job released at step
//   floor((m-1) W / w_i) + 1 with deadline ceil(m W / w_i), scheduled earliest-deadline-first.
//   Tijdeman's chairman-assignment theorem says a sequence within 1 - 1/(2n-2) exists, so those
//   windows are feasible, and EDF is optimal for unit jobs with integer release times and
//   deadlines, so EDF meets them all. One period (W = sum of weights / their gcd) is precomputed
//   into a typed array, and a pick reads the next slot. If the period would exceed 2^20, the weights
//   are first scaled to sum to ~2^20 (largest remainders; a positive weight keeps at least 1): the
//   bound then holds for the scaled weights, whose shares differ from the configured ones by about 2^-20.
import type { Validated } from './types';
import { stableHash32, stableHashInt32, stableHashWord32 } from './stable-hash';

export type PickMode = 'random' | 'sticky' | 'smooth';
export const PICK_MODES: readonly PickMode[] = Object.freeze(['random', 'sticky', 'smooth'] as const);

/** Envoy: "The sum of weights ... exceeds 4294967295" (the total is a uint32). */
const MAX_TOTAL_WEIGHT = 4294967295;
const TWO_POW_32 = 4294967296;
/** total <= 2^LOOKUP_BITS: the bucket table is a direct lookup of every value. */
const LOOKUP_BITS = 12;
/**
 * 2^7 buckets per destination: under 1/64 of the values land in a bucket holding a boundary. Measured
 * on the bench (n = 100, 1000): 2^6 and 2^8 were slower (more binary searches vs more cache misses).
 */
const BUCKETS_PER_DESTINATION_BITS = 7;
/** At most 2^18 buckets (512 KiB of Int16 slots), reached from 2048 destinations up. */
const MAX_BUCKET_BITS = 18;
const INT16_MAX = 32767;
const STICKY_BUCKET_BITS = 16;
const STICKY_BUCKETS = 1 << STICKY_BUCKET_BITS;
const STICKY_SHIFT = 32 - STICKY_BUCKET_BITS;
const SMOOTH_PERIOD_MAX = 1 << 20;
/** Destinations per table entry type: indices up to 65535 fit a Uint16Array. */
const UINT16_LIMIT = 65536;

type IndexTable = Uint16Array | Uint32Array;
/** >= 0: the destination; < 0: ~(index of a [first, last] destination range in `ranges`). */
type SlotTable = Int16Array | Int32Array;

/** Random-mode pickers by their weights (WeightedPicker.compile); cleared when it reaches the cap. */
const RANDOM_PICKERS = new Map<string, WeightedPicker>();
const RANDOM_PICKERS_MAX = 4096;

export class WeightedPicker {
  readonly mode: PickMode;
  /** The configured weights, in config order (frozen). */
  readonly weights: readonly number[];
  /** Sum of the weights: 1..4294967295. */
  readonly total: number;

  // random / pickValue
  readonly #shift: number;
  /** Per bucket: >= 0 the destination; < 0: ~m, the bucket's destinations are ranges[2m]..ranges[2m+1]. */
  readonly #slots: SlotTable;
  readonly #ranges: Int32Array;
  /** Cumulative interval ends: interval i is [ends[i] - weights[i], ends[i]). */
  readonly #ends: Float64Array;
  // sticky
  readonly #sticky: IndexTable | undefined;
  // smooth
  readonly #sequence: IndexTable | undefined;
  #cursor: number;

  private constructor(weights: readonly number[], total: number, mode: PickMode, ids: readonly string[] | undefined) {
    this.mode = mode;
    this.weights = Object.freeze(weights.slice());
    this.total = total;
    const n = weights.length;
    const ends = new Float64Array(n);
    let end = 0;
    for (let i = 0; i < n; i++) {
      end += weights[i]!;
      ends[i] = end;
    }
    this.#ends = ends;
    const table = buildBucketTable(weights, ends, total);
    this.#shift = table.shift;
    this.#slots = table.slots;
    this.#ranges = table.ranges;
    this.#sticky = mode === 'sticky' ? buildStickyTable(weights, ids) : undefined;
    this.#sequence = mode === 'smooth' ? buildSmoothSequence(weights, total) : undefined;
    this.#cursor = 0;
  }

  /**
   * Validates and compiles. Errors carry no field path: the caller prefixes its own
   * (`virtual_hosts[0].routes[2].route.weighted_clusters: sum of weights is 0`).
   * @param ids optional stable identities of the destinations (cluster names) for sticky mode;
   *   default: their positions.
   */
  static compile(weights: readonly number[], mode: PickMode = 'random', ids?: readonly string[]): Validated<WeightedPicker> {
    const errors: string[] = [];
    if (!PICK_MODES.includes(mode)) errors.push(`unknown pick mode ${JSON.stringify(mode)} (expected one of ${PICK_MODES.join(', ')})`);
    if (!Array.isArray(weights)) return { errors: [...errors, 'weights must be an array of non-negative integers'] };
    if (ids !== undefined && ids.length !== weights.length) {
      errors.push(`${ids.length} destination ids for ${weights.length} weights`);
    }
    let total = 0;
    let valid = true;
    for (let i = 0; i < weights.length; i++) {
      const w: unknown = weights[i];
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 0) {
        errors.push(`weight of destination ${i} must be a non-negative integer, got ${typeof w === 'number' ? String(w) : JSON.stringify(w) ?? String(w)}`);
        valid = false;
      } else {
        total += w;
      }
    }
    if (valid) {
      // Envoy: "Sum of weights in the weighted_cluster must be greater than 0" / "... exceeds 4294967295".
      if (total === 0) errors.push('sum of weights is 0');
      else if (total > MAX_TOTAL_WEIGHT) errors.push(`sum of weights ${total} exceeds ${MAX_TOTAL_WEIGHT}`);
    }
    if (errors.length > 0) return { errors };
    if (mode !== 'random') return { value: new WeightedPicker(weights, total, mode, ids) };
    // A random-mode picker is immutable and depends on the weights alone (no ids, no cursor), and
    // a route config repeats a handful of splits (every Istio 90/10 route): one picker per split,
    // shared, instead of one set of typed arrays per route to build and collect on every RDS update.
    const key = weights.join(',');
    let shared = RANDOM_PICKERS.get(key);
    if (shared === undefined) {
      if (RANDOM_PICKERS.size >= RANDOM_PICKERS_MAX) RANDOM_PICKERS.clear();
      shared = new WeightedPicker(weights, total, mode, ids);
      RANDOM_PICKERS.set(key, shared);
    }
    return { value: shared };
  }

  /**
   * Envoy's pick: the destination whose interval [begin, begin + weight), in config order, holds
   * `value % total`. `value`: a non-negative integer < 2^53 (the stream's random uint32, or the
   * `header_name` header's value).
   */
  pickValue(value: number): number {
    const total = this.total;
    let r: number;
    if (value < TWO_POW_32) {
      // Both operands typed uint32: V8 emits one integer division (Uint32Mod), the fastest exact
      // remainder measured here (a float reciprocal with a correction step was slower; `%` on
      // doubles calls fmod, ~5x slower).
      r = (value >>> 0) % (total >>> 0);
    } else {
      r = value % total; // exact on doubles
    }
    const slot = this.#slots[r >>> this.#shift]!;
    // The slow path takes `value`, not `r`: letting `r` escape into a call makes TurboFan compute
    // the remainder as a float (an fmod call, 4x the cost of the whole pick).
    return slot >= 0 ? slot : this.#pickInBucket(value);
  }

  /** A bucket holding interval boundaries: binary search of the ends of the intervals touching it. */
  #pickInBucket(value: number): number {
    const r = value % this.total;
    const bucket = r >>> this.#shift;
    const ends = this.#ends;
    const m = ~this.#slots[bucket]!;
    let lo = this.#ranges[2 * m]!;
    let hi = this.#ranges[2 * m + 1]!;
    // The first destination whose interval end exceeds r (zero weights have end == begin).
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! > r) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Sticky: the destination for a user key (cookie or header value), the same in every process.
   * On a picker compiled in another mode this is Envoy's interval pick of stableHash32(key):
   * deterministic, but only the sticky table is monotone for splits of 3 or more.
   */
  pickKey(key: string): number {
    const h = stableHashInt32(key);
    const sticky = this.#sticky;
    return sticky !== undefined ? sticky[h >>> STICKY_SHIFT]! : this.pickValue(h >>> 0);
  }

  /** Sticky: the bucket (0..65535) `key` hashes to, for explain output. */
  bucketOf(key: string): number {
    return stableHashInt32(key) >>> STICKY_SHIFT;
  }

  /** Smooth: the next destination of the deterministic sequence (the cursor is the picker's only state). */
  pickNext(): number {
    const sequence = this.#sequence;
    if (sequence === undefined) throw new Error(`pickNext() needs a picker compiled with mode 'smooth', this one is '${this.mode}'`);
    const cursor = this.#cursor;
    const next = cursor + 1;
    this.#cursor = next === sequence.length ? 0 : next;
    return sequence[cursor]!;
  }

  /** The interval [begin, end) of destination `index` over 0..total-1, for explain output. */
  interval(index: number): { begin: number; end: number } {
    if (!Number.isInteger(index) || index < 0 || index >= this.#ends.length) {
      throw new RangeError(`no destination ${index} (picker has ${this.#ends.length})`);
    }
    const end = this.#ends[index]!;
    return { begin: end - this.weights[index]!, end };
  }
}

// ---- random: bucket table ---------------------------------------------------------------------

function buildBucketTable(
  weights: readonly number[],
  ends: Float64Array,
  total: number,
): { shift: number; slots: SlotTable; ranges: Int32Array } {
  const n = weights.length;
  const valueBits = total === 1 ? 0 : 32 - Math.clz32(total - 1); // values are 0..total-1
  const destinationBits = 32 - Math.clz32(Math.max(1, n - 1));
  const bucketBits = Math.min(MAX_BUCKET_BITS, Math.max(LOOKUP_BITS, destinationBits + BUCKETS_PER_DESTINATION_BITS));
  const shift = Math.max(0, valueBits - bucketBits);
  const width = 2 ** shift;
  const buckets = Math.floor((total - 1) / width) + 1;
  const slots = n <= INT16_MAX ? new Int16Array(buckets) : new Int32Array(buckets);
  const ranges: number[] = [];
  let i = 0; // first destination whose interval end exceeds the bucket's first value
  for (let b = 0; b < buckets; b++) {
    const first = b * width;
    const last = Math.min(first + width, total) - 1;
    while (ends[i]! <= first) i++;
    if (ends[i]! > last) {
      slots[b] = i;
    } else {
      let j = i;
      while (ends[j]! <= last) j++;
      // At most n - 1 buckets hold a boundary, so ~(range number) fits the slot type too.
      slots[b] = ~(ranges.length >>> 1);
      ranges.push(i, j);
    }
  }
  return { shift, slots, ranges: Int32Array.from(ranges) };
}

// ---- sticky: weighted rendezvous table --------------------------------------------------------

const SQRT_HALF = Math.SQRT1_2;
const LN2 = Math.LN2;
/** POW2_NEG[e + 1] = 2^-e for e = -1..31 (exact powers of two). */
const POW2_NEG = Float64Array.from({ length: 33 }, (_, k) => 2 ** -(k - 1));

/** 2 atanh(s) = ln((1+s)/(1-s)) by its odd series; |s| <= 0.1716 here, error < 1e-16 relative. */
function twoAtanh(s: number): number {
  const s2 = s * s;
  return 2 * s * (1 + s2 * (1 / 3 + s2 * (1 / 5 + s2 * (1 / 7 + s2 * (1 / 9 + s2 * (1 / 11 + s2 * (1 / 13 + s2 * (1 / 15 + s2 * (1 / 17)))))))));
}

/**
 * -ln(u) for u = (h + 0.5) / 2^32, h a uint32: an Exp(1) variate that is bit-identical everywhere
 * (only + - * / on doubles, which IEEE 754 rounds the same on every platform).
 */
function negLogUnit(h: number): number {
  const u = (h + 0.5) / TWO_POW_32;
  if (u >= SQRT_HALF) {
    // u near 1: compute from x = 1 - u (exact) to avoid cancellation. -ln(1-x) = 2 atanh(x / (2 - x)).
    const x = (TWO_POW_32 - 0.5 - h) / TWO_POW_32;
    return twoAtanh(x / (2 - x));
  }
  // u = m * 2^e with m in [sqrt(1/2), sqrt(2)): ln u = e ln 2 + 2 atanh((m-1)/(m+1)).
  let e = h === 0 ? -1 : 31 - Math.clz32(h); // h + 0.5 = m' * 2^e, m' in [1, 2)
  let m = (h + 0.5) * POW2_NEG[e + 1]!;
  if (m >= Math.SQRT2) {
    m /= 2;
    e += 1;
  }
  return -((e - 32) * LN2 + twoAtanh((m - 1) / (m + 1)));
}

function buildStickyTable(weights: readonly number[], ids: readonly string[] | undefined): IndexTable {
  const n = weights.length;
  // Heaviest first, so the best score drops fast and the cheap bound below skips most logarithms.
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (weights[i]! > 0) order.push(i);
  order.sort((a, b) => weights[b]! - weights[a]! || a - b);
  const count = order.length;
  const seeds = new Int32Array(count);
  const weight = new Float64Array(count);
  // A repeated id (the same cluster listed twice) would give two destinations identical scores,
  // so the lighter one would never win: later occurrences get "\u0000<k>" appended.
  const identities: string[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = ids !== undefined ? ids[i]! : String(i);
    const k = seen.get(id) ?? 0;
    seen.set(id, k + 1);
    identities.push(k === 0 ? id : id + '\u0000' + k);
  }
  for (let p = 0; p < count; p++) {
    const i = order[p]!;
    seeds[p] = stableHash32(identities[i]!);
    weight[p] = weights[i]!;
  }
  const table = n <= UINT16_LIMIT ? new Uint16Array(STICKY_BUCKETS) : new Uint32Array(STICKY_BUCKETS);
  for (let b = 0; b < STICKY_BUCKETS; b++) {
    let best = -1;
    let bestScore = Infinity;
    for (let p = 0; p < count; p++) {
      const h = stableHashWord32(b, seeds[p]!);
      // -ln(u) > 1 - u, with a margin far above rounding (1 - u >= 2^-33), so when (1 - u) / w
      // already reaches the best score, the exact score cannot win or tie: skip the logarithm.
      // The result is identical to evaluating every score.
      const w = weight[p]!;
      if ((TWO_POW_32 - 0.5 - h) / TWO_POW_32 / w >= bestScore) continue;
      const score = negLogUnit(h) / w;
      const i = order[p]!;
      if (score < bestScore || (score === bestScore && i < best)) {
        bestScore = score;
        best = i;
      }
    }
    table[b] = best;
  }
  return table;
}

// ---- smooth: earliest-deadline-first quota sequence --------------------------------------------

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Weights reduced by their gcd, scaled to sum to about SMOOTH_PERIOD_MAX when the period is longer. */
function smoothWeights(weights: readonly number[], total: number): number[] {
  let g = 0;
  for (const w of weights) g = gcd(w, g);
  let reduced = weights.map((w) => w / g);
  const period = total / g;
  if (period <= SMOOTH_PERIOD_MAX) return reduced;
  // Largest remainders (Hamilton): floor of each exact quota, then +1 to the largest fractions.
  const quotas = reduced.map((w) => (w * SMOOTH_PERIOD_MAX) / period);
  const scaled = quotas.map((q) => Math.floor(q));
  let left = SMOOTH_PERIOD_MAX - scaled.reduce((a, b) => a + b, 0);
  const order = quotas.map((_, i) => i).sort((a, b) => quotas[b]! - scaled[b]! - (quotas[a]! - scaled[a]!) || a - b);
  for (let k = 0; k < order.length && left > 0; k++, left--) scaled[order[k]!]! += 1;
  for (let i = 0; i < scaled.length; i++) if (reduced[i]! > 0 && scaled[i] === 0) scaled[i] = 1;
  g = 0;
  for (const w of scaled) g = gcd(w, g);
  reduced = scaled.map((w) => w / g);
  return reduced;
}

/** A binary min-heap of destination indices ordered by key[i], then i. Compile time only. */
class IndexHeap {
  readonly #items: Int32Array;
  readonly #key: Float64Array;
  size = 0;
  constructor(capacity: number, key: Float64Array) {
    this.#items = new Int32Array(capacity);
    this.#key = key;
  }
  #less(a: number, b: number): boolean {
    const ka = this.#key[a]!;
    const kb = this.#key[b]!;
    return ka < kb || (ka === kb && a < b);
  }
  top(): number {
    return this.#items[0]!;
  }
  push(x: number): void {
    const items = this.#items;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (!this.#less(x, items[parent]!)) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = x;
  }
  pop(): number {
    const items = this.#items;
    const out = items[0]!;
    const x = items[--this.size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && this.#less(items[child + 1]!, items[child]!)) child++;
      if (!this.#less(items[child]!, x)) break;
      items[i] = items[child]!;
      i = child;
    }
    if (this.size > 0) items[i] = x;
    return out;
  }
}

function buildSmoothSequence(weights: readonly number[], total: number): IndexTable {
  const w = smoothWeights(weights, total);
  const n = w.length;
  let period = 0;
  for (const x of w) period += x;
  const sequence = n <= UINT16_LIMIT ? new Uint16Array(period) : new Uint32Array(period);
  const release = new Float64Array(n); // of destination i's next pick (1-based step)
  const deadline = new Float64Array(n);
  const picked = new Float64Array(n);
  const waiting = new IndexHeap(n, release);
  const ready = new IndexHeap(n, deadline);
  // The m-th pick of i (m = picked + 1) is allowed at steps floor((m-1) W / w_i) + 1 ..
  // ceil(m W / w_i): then after every step k, floor(k w_i / W) <= count_i <= ceil(k w_i / W).
  const schedule = (i: number, step: number): void => {
    const m = picked[i]! + 1;
    release[i] = Math.floor(((m - 1) * period) / w[i]!) + 1;
    deadline[i] = Math.ceil((m * period) / w[i]!);
    if (release[i]! <= step) ready.push(i);
    else waiting.push(i);
  };
  for (let i = 0; i < n; i++) if (w[i]! > 0) schedule(i, 1);
  for (let k = 1; k <= period; k++) {
    while (waiting.size > 0 && release[waiting.top()]! <= k) ready.push(waiting.pop());
    if (ready.size === 0) throw new Error('smooth schedule: no destination released (unreachable)');
    const i = ready.pop();
    if (deadline[i]! < k) throw new Error('smooth schedule: deadline missed (unreachable)');
    sequence[k - 1] = i;
    picked[i] = picked[i]! + 1;
    if (picked[i]! < w[i]!) schedule(i, k + 1);
  }
  return sequence;
}
