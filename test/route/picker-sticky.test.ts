// Sticky mode: shares, monotonicity when a weight grows, weight 0 unpinning, stability across
// processes and versions (pinned picks), destination ids.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WeightedPicker, type PickMode } from '../../src/route/picker';
import { stableHash32 } from '../../src/route/stable-hash';
import { computeChildOutput, type PickerChildOutput } from '../fixtures/picker-child';

function compile(weights: readonly number[], mode: PickMode = 'sticky', ids?: readonly string[]): WeightedPicker {
  const r = WeightedPicker.compile(weights, mode, ids);
  if (r.value === undefined) throw new Error('unexpected errors: ' + r.errors.join('; '));
  return r.value;
}

const KEY_COUNT = 100_000;
const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => 'user-' + i);

function picksOf(p: WeightedPicker): Uint32Array {
  const out = new Uint32Array(KEY_COUNT);
  for (let k = 0; k < KEY_COUNT; k++) out[k] = p.pickKey(KEYS[k]!);
  return out;
}

t.test('shares within 1 percentage point of the weights over 10^5 keys', async (t) => {
  const vectors = [[90, 10], [70, 30], [50, 50], [99, 1], [33, 33, 34], [1, 2, 3, 4], [5, 0, 95], [10, 10, 10, 10, 10, 10, 10, 10, 10, 10], [60, 25, 10, 4, 1]];
  for (const w of vectors) {
    const picks = picksOf(compile(w));
    const counts = new Array<number>(w.length).fill(0);
    for (const i of picks) counts[i]!++;
    const total = w.reduce((a, b) => a + b, 0);
    const worst = Math.max(...counts.map((c, i) => Math.abs((100 * c) / KEY_COUNT - (100 * w[i]!) / total)));
    t.ok(worst < 1, `[${w.join(',')}]: shares ${counts.map((c) => ((100 * c) / KEY_COUNT).toFixed(2)).join('/')}, worst ${worst.toFixed(2)} points`);
  }
});

/** Every key either stays or moves to `grower`; returns how many moved. */
function checkOnlyInto(t: Test, before: Uint32Array, after: Uint32Array, grower: number, label: string): number {
  let moved = 0;
  let wrong = 0;
  for (let k = 0; k < KEY_COUNT; k++) {
    if (before[k] === after[k]) continue;
    moved++;
    if (after[k] !== grower) wrong++;
  }
  t.equal(wrong, 0, `${label}: ${moved} keys moved, all into destination ${grower}`);
  return moved;
}

t.test('monotone: growing a weight only moves keys into it (2-way)', async (t) => {
  const steps = [[90, 10], [70, 30], [50, 50], [0, 100]];
  let prev = picksOf(compile(steps[0]!));
  for (let s = 1; s < steps.length; s++) {
    const next = picksOf(compile(steps[s]!));
    const moved = checkOnlyInto(t, prev, next, 1, `${steps[s - 1]!.join('/')} -> ${steps[s]!.join('/')}`);
    // Minimal movement: about the weight that changed hands, not more.
    const expected = ((steps[s]![1]! - steps[s - 1]![1]!) / 100) * KEY_COUNT;
    t.ok(Math.abs(moved - expected) < KEY_COUNT / 100, `moved ${moved} ~ ${expected}`);
    prev = next;
  }
  t.ok(prev.every((i) => i === 1), '0/100: every key on destination 1');
  // Going back is monotone the other way: keys only move into 0.
  checkOnlyInto(t, picksOf(compile([50, 50])), picksOf(compile([90, 10])), 0, '50/50 -> 90/10');
});

t.test('monotone: a destination growing while the others keep their ratio (3-way canary)', async (t) => {
  const chains = [
    { grower: 2, steps: [[50, 50, 0], [45, 45, 10], [25, 25, 50], [0, 0, 100]] },
    { grower: 2, steps: [[60, 30, 10], [40, 20, 40], [20, 10, 70]] },
    { grower: 0, steps: [[10, 60, 30], [40, 40, 20], [70, 20, 10]] },
  ];
  for (const { grower, steps } of chains) {
    let prev = picksOf(compile(steps[0]!));
    for (let s = 1; s < steps.length; s++) {
      const next = picksOf(compile(steps[s]!));
      checkOnlyInto(t, prev, next, grower, `${steps[s - 1]!.join('/')} -> ${steps[s]!.join('/')}`);
      prev = next;
    }
  }
  // The mirror image: one destination shrinking while the others keep their ratio only loses keys.
  const before = picksOf(compile([20, 30, 50]));
  const after = picksOf(compile([40, 60, 0]));
  let wrong = 0;
  for (let k = 0; k < KEY_COUNT; k++) if (before[k] !== after[k] && before[k] !== 2) wrong++;
  t.equal(wrong, 0, '20/30/50 -> 40/60/0: only keys of destination 2 move');
});

t.test('weight 0 unpins everyone from that destination', async (t) => {
  const before = picksOf(compile([33, 33, 34]));
  const after = picksOf(compile([33, 0, 34]));
  const landed = [0, 0, 0];
  let stayedElsewhere = 0;
  for (let k = 0; k < KEY_COUNT; k++) {
    if (before[k] === 1) landed[after[k]!]!++;
    else if (before[k] === after[k]) stayedElsewhere++;
  }
  t.equal(landed[1], 0, 'no key left on the weight-0 destination');
  t.ok(landed[0]! > 0 && landed[2]! > 0, `its keys spread over the others (${landed[0]} / ${landed[2]})`);
  t.equal(stayedElsewhere, KEY_COUNT - before.filter((i) => i === 1).length, 'every other key stays');
  const back = picksOf(compile([33, 33, 34]));
  let differ = 0;
  for (let k = 0; k < KEY_COUNT; k++) if (back[k] !== before[k]) differ++;
  t.equal(differ, 0, 'restoring the weight restores exactly the old assignment');
  t.ok(picksOf(compile([0, 0, 7])).every((i) => i === 2), 'a single positive weight takes every key');
});

t.test('destination ids: identity follows the name, not the position', async (t) => {
  const a = compile([70, 30], 'sticky', ['reviews-v1', 'reviews-v2']);
  const b = compile([30, 70], 'sticky', ['reviews-v2', 'reviews-v1']);
  let differ = 0;
  for (let k = 0; k < 20_000; k++) if (a.pickKey(KEYS[k]!) !== 1 - b.pickKey(KEYS[k]!)) differ++;
  t.equal(differ, 0, 'reordering the destinations keeps every key on the same named destination');
  // istiod drops weight-0 destinations, shifting positions: with names nobody moves.
  const three = compile([50, 50, 0], 'sticky', ['v1', 'v2', 'v3']);
  const two = compile([50, 50], 'sticky', ['v1', 'v2']);
  let moved = 0;
  for (let k = 0; k < 20_000; k++) if (three.pickKey(KEYS[k]!) !== two.pickKey(KEYS[k]!)) moved++;
  t.equal(moved, 0, 'a dropped weight-0 destination changes nothing');
  t.match(WeightedPicker.compile([1, 1], 'sticky', ['a']).errors, [/1 destination ids for 2 weights/]);
  // The same cluster listed twice still gets its share in each position.
  const dup = compile([70, 30], 'sticky', ['same', 'same']);
  let second = 0;
  for (let k = 0; k < 20_000; k++) if (dup.pickKey(KEYS[k]!) === 1) second++;
  t.ok(Math.abs(second / 20_000 - 0.3) < 0.02, `a repeated id keeps its share (${((100 * second) / 20_000).toFixed(1)}%)`);
});

t.test('bucketOf and pickKey on other modes', async (t) => {
  const p = compile([50, 50]);
  for (const key of ['', 'user-1', 'ünï', '😀']) {
    t.equal(p.bucketOf(key), stableHash32(key) >>> 16, `bucket of ${JSON.stringify(key)} is the top 16 bits of its hash`);
  }
  const random = compile([50, 50], 'random');
  let wrong = 0;
  for (let k = 0; k < 1000; k++) if (random.pickKey(KEYS[k]!) !== random.pickValue(stableHash32(KEYS[k]!))) wrong++;
  t.equal(wrong, 0, 'a random-mode picker maps a key through Envoy intervals of its hash');
});

t.test('pinned picks: the same key picks the same destination in every version of weir', async (t) => {
  // If this fails, sticky users would be re-shuffled on upgrade: change the algorithm only on purpose.
  const keys = Array.from({ length: 24 }, (_, i) => 'user-' + i);
  const golden: Record<string, number[]> = {
    '50,50': GOLDEN_50_50,
    '70,20,10': GOLDEN_70_20_10,
  };
  for (const [w, expected] of Object.entries(golden)) {
    const p = compile(w.split(',').map(Number));
    t.same(keys.map((k) => p.pickKey(k)), expected, `[${w}]`);
  }
});

t.test('the same picks in a separate process', async (t) => {
  const ext = extname(__filename);
  const child = join(__dirname, '..', 'fixtures', 'picker-child' + ext);
  // Under tsx the child is TypeScript and needs tsx's loader; compiled, it is plain JS.
  const args = ext === '.ts' ? ['--import', pathToFileURL(require.resolve('tsx')).href, child] : [child];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 20_000, maxBuffer: 16 << 20 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    );
  });
  const theirs = JSON.parse(stdout) as PickerChildOutput;
  const ours = computeChildOutput();
  t.same(theirs.hashes, ours.hashes, 'stable hashes');
  t.same(theirs.sticky, ours.sticky, 'sticky picks for 4 weight vectors x 5000 keys');
  t.same(theirs.prng, ours.prng, 'seeded Prng stream');
  t.same(theirs.smooth, ours.smooth, 'smooth sequence');
  t.ok(theirs.sticky.every((picks) => picks.length === 5000), 'the child computed everything');
});

const GOLDEN_50_50 = [1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1];
const GOLDEN_70_20_10 = [2, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 1, 2];
