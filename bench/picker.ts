// Micro-benchmark of the weighted-selection core (issue 2, section 5).
//   npx tsc -p tsconfig.json && BENCH_ITERS=2000000 node --expose-gc dist/bench/picker.js [--json]
// For n = 2, 3, 10, 100, 1000 destinations: ns/pick and heap bytes/pick of each mode, next to the
// cost of one random draw from the Prng and a straight port of Envoy's pick (random % total, then a
// linear scan in config order: config_impl.cc pickCluster) measured in the same process.
// Prints a table; with --json prints the results as JSON instead. Times are process CPU time
// (process.cpuUsage) per pick: the minimum of BENCH_ROUNDS (default 7) interleaved runs of BENCH_ITERS
// picks each (the median is in the JSON).
import v8 from 'node:v8';
import { WeightedPicker, type PickMode } from '../src/route/picker';
import { Prng } from '../src/route/prng';
import { stableHash32 } from '../src/route/stable-hash';

const ITERS = Math.max(10_000, Number(process.env.BENCH_ITERS ?? 2_000_000) | 0);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 7) | 0);
const JSON_OUT = process.argv.includes('--json');
const SIZES = [2, 3, 10, 100, 1000] as const;
const KEY_COUNT = 4096; // sticky keys, cycled
const KEY_MASK = KEY_COUNT - 1;
const VALUE_COUNT = 1 << 16; // pre-drawn random values for the "pick only" row
const VALUE_MASK = VALUE_COUNT - 1;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write('run with node --expose-gc to measure heap bytes per pick\n');
}

let sink = 0; // every loop's result ends here so nothing is optimised away

/** Envoy's WeightedClusterSpecifierPlugin pick, ported line for line (the baseline). */
function envoyPickCluster(weights: readonly number[], totalWeight: number, randomValue: number): number {
  const selectedValue = randomValue % totalWeight;
  let begin = 0;
  let end = 0;
  for (let i = 0; i < weights.length; i++) {
    end = begin + weights[i]!;
    if (selectedValue >= begin && selectedValue < end) return i;
    begin = end;
  }
  return weights.length - 1;
}

// One function per case keeps each call site's type feedback monomorphic.
function runDraw(prng: Prng, iters: number): number {
  let acc = 0;
  for (let k = 0; k < iters; k++) acc ^= prng.nextUint32();
  return acc;
}
function runRandom(picker: WeightedPicker, prng: Prng, iters: number): number {
  let acc = 0;
  for (let k = 0; k < iters; k++) acc ^= picker.pickValue(prng.nextUint32());
  return acc;
}
function runPredrawn(picker: WeightedPicker, values: Uint32Array, iters: number): number {
  let acc = 0;
  for (let k = 0; k < iters; k++) acc ^= picker.pickValue(values[k & VALUE_MASK]!);
  return acc;
}
function runPredrawnLoad(values: Uint32Array, iters: number): number {
  let acc = 0;
  for (let k = 0; k < iters; k++) acc ^= values[k & VALUE_MASK]!;
  return acc;
}
function runEnvoy(weights: readonly number[], total: number, prng: Prng, iters: number): number {
  let acc = 0;
  for (let k = 0; k < iters; k++) acc ^= envoyPickCluster(weights, total, prng.nextUint32());
  return acc;
}
function runSticky(picker: WeightedPicker, keys: readonly string[], iters: number): number {
  let acc = 0;
  for (let k = 0; k < iters; k++) acc ^= picker.pickKey(keys[k & KEY_MASK]!);
  return acc;
}
function runHash(keys: readonly string[], iters: number): number {
  let acc = 0;
  for (let k = 0; k < iters; k++) acc ^= stableHash32(keys[k & KEY_MASK]!);
  return acc;
}
function runSmooth(picker: WeightedPicker, iters: number): number {
  let acc = 0;
  for (let k = 0; k < iters; k++) acc ^= picker.pickNext();
  return acc;
}

interface Measurement {
  /** Minimum over the rounds. */
  nsPerPick: number;
  medianNsPerPick: number;
  heapBytesPerPick: number | null;
  /** GCs that ran during the heap window: any at all means the loop allocated. */
  gcsDuringHeapWindow: number | null;
}

/** CPU ns per pick of one run. CPU time, not wall time: on a shared 2-core machine wall time mostly measures the neighbours. */
function timeOnce(run: (iters: number) => number): number {
  const start = process.cpuUsage();
  sink ^= run(ITERS);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / ITERS;
}

/** Heap bytes per pick and GCs over one run, after two full GCs. */
function heapOnce(run: (iters: number) => number): { heapBytesPerPick: number | null; gcsDuringHeapWindow: number | null } {
  if (gc === undefined) return { heapBytesPerPick: null, gcsDuringHeapWindow: null };
  gc();
  gc();
  const profiler = new v8.GCProfiler();
  const before = process.memoryUsage().heapUsed;
  profiler.start();
  sink ^= run(ITERS);
  const stats = profiler.stop();
  const after = process.memoryUsage().heapUsed;
  return { heapBytesPerPick: Math.max(0, after - before) / ITERS, gcsDuringHeapWindow: stats.statistics.length };
}

function weightsFor(n: number): number[] {
  if (n === 2) return [90, 10];
  if (n === 3) return [70, 20, 10];
  const prng = new Prng(n);
  return Array.from({ length: n }, () => 1 + (prng.nextUint32() % 1000));
}

function compile(weights: readonly number[], mode: PickMode): WeightedPicker {
  const r = WeightedPicker.compile(weights, mode);
  if (r.value === undefined) throw new Error(r.errors.join('; '));
  return r.value;
}

type Row = 'draw' | 'random' | 'predrawnLoad' | 'predrawn' | 'envoy' | 'hash' | 'sticky' | 'smooth';
const ROW_LABELS: Record<Row, string> = {
  draw: 'Prng.nextUint32 (one draw)',
  random: 'random: draw + pickValue',
  envoy: 'Envoy port: draw + % + scan',
  predrawnLoad: 'load a pre-drawn value',
  predrawn: 'random: load + pickValue',
  hash: 'stableHash32 (10-char key)',
  sticky: 'sticky: pickKey (hash+load)',
  smooth: 'smooth: pickNext',
};
const ROWS: Row[] = ['draw', 'random', 'envoy', 'predrawnLoad', 'predrawn', 'hash', 'sticky', 'smooth'];

function main(): void {
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => 'user-' + (10000 + i)); // 10 chars
  const valuesPrng = new Prng(3);
  const values = Uint32Array.from({ length: VALUE_COUNT }, () => valuesPrng.nextUint32());
  const results: Record<string, Record<Row, Measurement>> = {};
  const compileMs: Record<string, Record<PickMode, number>> = {};
  const setups = SIZES.map((n) => {
    const weights = weightsFor(n);
    const total = weights.reduce((a, b) => a + b, 0);
    const t0 = performance.now();
    const random = compile(weights, 'random');
    const t1 = performance.now();
    const sticky = compile(weights, 'sticky');
    const t2 = performance.now();
    const smooth = compile(weights, 'smooth');
    const t3 = performance.now();
    compileMs[n] = { random: t1 - t0, sticky: t2 - t1, smooth: t3 - t2 };
    const prng = new Prng(42);
    const cases: Record<Row, (iters: number) => number> = {
      draw: (it) => runDraw(prng, it),
      random: (it) => runRandom(random, prng, it),
      envoy: (it) => runEnvoy(weights, total, prng, it),
      predrawnLoad: (it) => runPredrawnLoad(values, it),
      predrawn: (it) => runPredrawn(random, values, it),
      hash: (it) => runHash(keys, it),
      sticky: (it) => runSticky(sticky, keys, it),
      smooth: (it) => runSmooth(smooth, it),
    };
    return { n, cases };
  });
  // Global warm-up: every case at every size first, so the type feedback each loop ends with (all
  // picker sizes) is there before anything is timed, and no size pays for a re-optimisation.
  for (let pass = 0; pass < 2; pass++) {
    for (const { cases } of setups) for (const row of ROWS) sink ^= cases[row](Math.min(ITERS, 100_000));
  }
  // Rounds interleave the cases, so a burst of load from the neighbours hits every case alike, and
  // the minimum over rounds is reported: contention can only add CPU time (shared caches, SMT).
  for (const { n, cases } of setups) {
    const samples = {} as Record<Row, number[]>;
    for (const r of ROWS) samples[r] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of ROWS) samples[r].push(timeOnce(cases[r]));
    }
    const row = {} as Record<Row, Measurement>;
    for (const r of ROWS) {
      const sorted = samples[r].sort((a, b) => a - b);
      // Heap: the least of three windows. Per-pick allocation shows in every window; one-off
      // allocations by the engine (tier-up compilations, feedback) land in some windows only.
      let heap = heapOnce(cases[r]);
      for (let k = 0; k < 2; k++) {
        const again = heapOnce(cases[r]);
        if ((again.heapBytesPerPick ?? 0) < (heap.heapBytesPerPick ?? 0)) heap = again;
      }
      row[r] = { nsPerPick: sorted[0]!, medianNsPerPick: sorted[sorted.length >> 1]!, ...heap };
    }
    results[n] = row;
  }
  const ratio = (n: number, a: Row, b: Row): number => results[n]![a].nsPerPick / results[n]![b].nsPerPick;
  const randomOverDraw = SIZES.map((n) => ratio(n, 'random', 'draw'));
  const randomNs = SIZES.map((n) => results[n]!.random.nsPerPick);
  const maxHeap = Math.max(
    ...SIZES.flatMap((n) => ['random', 'predrawn', 'sticky', 'smooth'].map((r) => results[n]![r as Row].heapBytesPerPick ?? NaN)),
  );
  const maxGcs = Math.max(...SIZES.flatMap((n) => ['random', 'predrawn', 'sticky', 'smooth'].map((r) => results[n]![r as Row].gcsDuringHeapWindow ?? 0)));
  const targets = {
    randomWithin1_5xDraw: Math.max(...randomOverDraw) <= 1.5,
    randomFlat2To1000: Math.max(...randomNs) / Math.min(...randomNs) <= 1.5,
    atLeast5xEnvoyAtN100: ratio(100, 'envoy', 'random') >= 5,
    // The smallest allocation V8 can make per pick is a 16-byte heap number, in every window; what
    // remains under 1 B/pick with no GC is process.memoryUsage() itself and engine bookkeeping.
    zeroBytesPerPick: maxHeap < 1 && maxGcs === 0,
  };
  if (JSON_OUT) {
    process.stdout.write(
      JSON.stringify(
        { node: process.version, iters: ITERS, rounds: ROUNDS, sizes: SIZES, results, compileMs, randomOverDraw, envoyOverRandomAtN100: ratio(100, 'envoy', 'random'), targets, sink },
        null,
        2,
      ) + '\n',
    );
    return;
  }
  const pad = (s: string, w: number): string => (s.length >= w - 1 ? ' ' + s : ' '.repeat(w - s.length) + s);
  const out: string[] = [];
  out.push(`weir picker bench: node ${process.version}, BENCH_ITERS=${ITERS}, min of ${ROUNDS} interleaved rounds, CPU ns/pick (heap bytes/pick)`);
  out.push('case'.padEnd(30) + SIZES.map((n) => pad('n=' + n, 16)).join(''));
  for (const row of ROWS) {
    out.push(
      ROW_LABELS[row].padEnd(30) +
        SIZES.map((n) => {
          const m = results[n]![row];
          const heap = m.heapBytesPerPick === null ? '?' : m.heapBytesPerPick.toFixed(2);
          return pad(`${m.nsPerPick.toFixed(2)} (${heap})`, 16);
        }).join(''),
    );
  }
  out.push('');
  out.push('random (draw+pick) / draw:     ' + randomOverDraw.map((r) => pad(r.toFixed(2) + 'x', 16)).join(''));
  out.push('envoy port / random:           ' + SIZES.map((n) => pad(ratio(n, 'envoy', 'random').toFixed(2) + 'x', 16)).join(''));
  out.push('compile ms random/sticky/smooth' + SIZES.map((n) => pad(Object.values(compileMs[n]!).map((x) => x.toFixed(1)).join('/'), 16)).join(''));
  out.push(`GCs during the heap windows of the weir picks: ${maxGcs} (0 means nothing allocated)`);
  out.push('');
  out.push(`target random draw+pick <= 1.5x draw, every n:  ${targets.randomWithin1_5xDraw ? 'met' : 'MISSED'} (max ${Math.max(...randomOverDraw).toFixed(2)}x)`);
  out.push(`target random flat n=2..1000 (max/min <= 1.5): ${targets.randomFlat2To1000 ? 'met' : 'MISSED'} (${(Math.max(...randomNs) / Math.min(...randomNs)).toFixed(2)})`);
  out.push(`target >= 5x faster than the Envoy port at n=100: ${targets.atLeast5xEnvoyAtN100 ? 'met' : 'MISSED'} (${ratio(100, 'envoy', 'random').toFixed(2)}x)`);
  out.push(`target 0 bytes per pick:                        ${targets.zeroBytesPerPick ? 'met' : 'MISSED'} (max ${maxHeap.toFixed(3)} B/pick)`);
  process.stdout.write(out.join('\n') + '\n');
  if (sink === 0.5) process.stdout.write('');
}

main();
