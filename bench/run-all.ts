// `npm run bench`: the whole benchmark suite (issue 7 section 2) in one bounded run. Each part runs
// as its own child process, one after another (never two at once: they would measure each other),
// with a time limit; a part that fails or times out is recorded as such and the run goes on.
//
//   npm run bench                   full run (about 6 to 8 minutes on 2 cores)
//   BENCH_QUICK=1 npm run bench     smoke run (about 2 minutes): short loads, few rounds
//   BENCH_ONLY=picker,route,proxy,fidelity,memory,xds   a subset
//   node dist/bench/run-all.js --render bench/results/<date>.json   redraw charts and RESULTS.md from a run
//
// Parts: picker micro-benchmark (bench/picker.ts --json), route table (bench/route-table.ts),
// proxy vs direct / node-http-proxy / nginx (bench/proxy.ts; it writes its own
// bench/results/proxy-<date>.json and the "## Proxy" section of RESULTS.md), split fidelity under
// load per pick mode through weir and nginx (bench/fidelity-load.ts), xDS update-to-effect latency
// and decode time (bench/xds-update-latency.ts, bench/xds-decode.ts), memory (bench/memory.ts).
// Every knob a part reads from the environment can still be set; run-all only fills in the ones
// left unset (quick or full defaults below).
//
// Writes bench/results/<date>.json (quick: <date>-quick.json) with every figure, SVG charts
// bench/results/{proxy,picker,route-table,fidelity,memory,xds}.svg (+ one fidelity-<proxy>-<mode>.svg
// per fidelity run, rendered by `weir fidelity`'s own chart), and the top of bench/RESULTS.md: the
// "# Benchmarks" header, "## Summary" (headline figures of this run, the command and date), "## Fidelity
// under load" and "## Memory". The other sections belong to their benchmarks and are left alone,
// except "## Proxy", which bench/proxy.ts rewrites itself on a full run (a quick run puts it back).

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FidelityCase, FidelityLoadResult } from './fidelity-load';
import { renderChart, shortNumber, type Bar, type Panel } from './lib/svg-chart';
import type { MemoryResult } from './memory';

const ROOT = path.join(__dirname, '..', '..');
const DIST_BENCH = __dirname;
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
const RESULTS_MD = path.join(ROOT, 'bench', 'RESULTS.md');
const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const MY_SECTIONS = ['Summary', 'Fidelity under load', 'Memory'] as const;

// ---- running the parts ------------------------------------------------------------------------

interface PartRun {
  readonly name: string;
  readonly command: string;
  readonly ok: boolean;
  readonly seconds: number;
  readonly error: string | null;
  /** The env knobs the part ran with (those run-all set and those already set). */
  readonly env: Record<string, string>;
}

let current: { pid: number } | null = null;
let interrupted = false;
process.once('SIGINT', () => {
  // The parts run in their own process groups (detached), so Ctrl-C reaches them only through here.
  interrupted = true;
  if (current) signalGroup(current.pid, 'SIGINT');
  process.exitCode = 130;
});

/** Signals a part's whole process group (the part and the servers and load generators it started). */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Runs `node args` with `defaults` for env vars that are unset; stderr passes through. */
export function runPart(
  name: string,
  args: string[],
  defaults: Record<string, string>,
  timeoutS: number,
): Promise<{ run: PartRun; stdout: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(defaults)) env[k] = process.env[k] ?? v;
  const shown = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  const command = `${shown ? shown + ' ' : ''}node ${args.map((a) => (a.startsWith(ROOT) ? path.relative(ROOT, a) : a)).join(' ')}`;
  process.stderr.write(`\nbench: ${name}: ${command}\n`);
  const t0 = performance.now();
  return new Promise((resolve) => {
    // Its own process group, so a part that hangs is stopped with everything it started.
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    current = { pid: child.pid ?? -1 };
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    let timedOut = false;
    const kill = setTimeout(() => {
      timedOut = true;
      process.stderr.write(`bench: ${name}: over ${timeoutS} s, stopping it\n`);
      if (child.pid !== undefined) {
        const pid = child.pid;
        signalGroup(pid, 'SIGINT');
        setTimeout(() => signalGroup(pid, 'SIGKILL'), 15_000);
      }
    }, timeoutS * 1000);
    const done = (code: number | null, signal: string | null, err?: Error): void => {
      clearTimeout(kill);
      current = null;
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      const error = err ? err.message : timedOut ? `timed out after ${timeoutS} s` : code !== 0 ? `exited ${signal ?? code}` : null;
      if (error) process.stderr.write(`bench: ${name}: ${error}\n`);
      resolve({ run: { name, command, ok: error === null, seconds, error, env }, stdout });
    };
    child.once('error', (err) => done(null, null, err));
    child.once('exit', (code, signal) => done(code, signal));
  });
}

/** The first top-level JSON object in `text` (a part may print a table after it), or null. */
export function firstJsonObject(text: string): unknown {
  const start = text.indexOf('{');
  if (start < 0) return null;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      try {
        return JSON.parse(text.slice(start, i + 1));
      } catch {
        return null;
      }
    }
  }
  return null;
}

// ---- parsing what the parts print ---------------------------------------------------------------

interface RouteRow {
  name: string;
  nsPerOp: number;
  bytesPerOp: number | null;
}
interface RouteResult {
  header: string;
  rows: RouteRow[];
  compile: { name: string; ms: number }[];
}

/** bench/route-table.ts prints a fixed-width table (or JSON, should it learn --json). */
export function parseRouteTable(out: string): RouteResult | null {
  const json = out.trimStart().startsWith('{') ? firstJsonObject(out) : null;
  if (json !== null && typeof json === 'object') {
    const j = json as { rows?: RouteRow[]; compile?: { name: string; ms: number }[]; compileRows?: { name: string; ms: number }[] };
    if (Array.isArray(j.rows)) return { header: 'route-table --json', rows: j.rows, compile: j.compile ?? j.compileRows ?? [] };
  }
  const lines = out.split('\n');
  const rows: RouteRow[] = [];
  const compile: { name: string; ms: number }[] = [];
  for (const line of lines) {
    const c = /^(compile .+?)\s+([\d.]+) ms\s*$/.exec(line);
    if (c) {
      compile.push({ name: c[1]!, ms: Number(c[2]) });
      continue;
    }
    const m = /^(.+?)\s+([\d.]+)\s+([\d.]+|-)\s*$/.exec(line);
    if (m) rows.push({ name: m[1]!.trim(), nsPerOp: Number(m[2]), bytesPerOp: m[3] === '-' ? null : Number(m[3]) });
  }
  if (rows.length === 0) return null;
  return { header: lines[0] ?? '', rows, compile };
}

interface PickerMeasurement {
  nsPerPick: number;
  medianNsPerPick: number;
  heapBytesPerPick: number | null;
}
interface PickerResult {
  node: string;
  iters: number;
  rounds: number;
  sizes: number[];
  results: Record<string, Record<string, PickerMeasurement>>;
  compileMs: Record<string, Record<string, number>>;
  envoyOverRandomAtN100: number;
  targets: Record<string, boolean>;
}

interface ProxySummary {
  target: string;
  connections: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  errors: number;
  vsNginx: number;
  vsHttpProxy: number;
}
interface ProxyResult {
  env: Record<string, unknown>;
  summaries: ProxySummary[];
  checks: { target: string; value: number; ok: boolean }[];
  file: string;
}

interface XdsStats {
  p50: number;
  p99: number;
  max?: number;
}
interface XdsResult {
  inProcess?: { routes: number; routeCompileCache?: boolean; sendToFirstRoutedMs?: XdsStats; sendToApplyDoneMs?: XdsStats }[];
  twoProcesses?: null | { routes: number; apartMs?: XdsStats; sendToFirstRoutedMs?: XdsStats };
}

// ---- formatting helpers ------------------------------------------------------------------------

function fmt(x: number | null | undefined, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
}
function pct(x: number | null | undefined, digits = 2): string {
  return typeof x === 'number' && Number.isFinite(x) ? (x * 100).toFixed(digits) + '%' : '-';
}
function pValue(p: number): string {
  if (!Number.isFinite(p)) return '-';
  if (p === 0) return '0';
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(p < 0.01 ? 4 : 3);
}
function signed(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? (x > 0 ? '+' : '') + x.toFixed(0) : '-';
}
function absInt(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? Math.abs(x).toFixed(0) : '-';
}
function thousands(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-';
}

const PICKER_ROWS: [string, string][] = [
  ['random', 'random: draw + pickValue'],
  ['sticky', 'sticky: pickKey (hash + load)'],
  ['smooth', 'smooth: pickNext'],
  ['envoy', 'Envoy port: draw + % + scan'],
  ['draw', 'one random draw (Prng)'],
];

// ---- charts ------------------------------------------------------------------------------------

function proxyChart(p: ProxyResult, label: string): string {
  const conns = [...new Set(p.summaries.map((s) => s.connections))];
  const targets = [...new Set(p.summaries.map((s) => s.target))];
  const groups = conns.map((c) => ({
    label: `${c} connection${c === 1 ? '' : 's'}`,
    bars: targets.flatMap((t, i): Bar[] => {
      const s = p.summaries.find((x) => x.target === t && x.connections === c);
      return s ? [{ series: i, value: s.rps, label: shortNumber(s.rps), note: `${fmt(s.p50Ms, 2)} / ${fmt(s.p99Ms, 1)}` }] : [];
    }),
  }));
  const lat = conns.map((c) => ({
    label: `${c} connection${c === 1 ? '' : 's'}`,
    bars: targets.flatMap((t, i): Bar[] => {
      const s = p.summaries.find((x) => x.target === t && x.connections === c);
      return s ? [{ series: i, value: s.p50Ms, low: s.p50Ms, high: s.p99Ms, label: fmt(s.p50Ms, 2) }] : [];
    }),
  }));
  const env = p.env as { durationS?: number; rounds?: number; load?: string };
  return renderChart(
    'Proxy throughput, 90/10 split: weir vs the direct path, node-http-proxy, nginx',
    [
      `${label}; ${env.durationS ?? '?'} s per run, median of ${env.rounds ?? '?'} rounds, load from ${env.load ?? '?'}; notes under the bars: p50 / p99 ms.`,
      'One process each, loopback; direct = the upstream without a proxy (the ceiling).',
    ],
    [
      { kind: 'bars', title: 'Requests per second (median of rounds)', yLabel: 'req/s', series: targets, groups },
      { kind: 'bars', title: 'Latency: bar = p50, whisker up to p99 (ms, log scale)', yLabel: 'ms', series: targets, groups: lat, log: true, format: (v) => (v >= 1 ? String(v) : v.toPrecision(1)) },
    ],
  );
}

function pickerChart(p: PickerResult, label: string): string {
  const sizes = p.sizes;
  return renderChart(
    'Weighted picker: CPU ns per pick by number of destinations',
    [`${label}; ${p.iters.toLocaleString('en-US')} picks per run, min of ${p.rounds} interleaved rounds (node ${p.node}). ${p.targets['zeroBytesPerPick'] ? '0 bytes allocated per pick in every mode.' : 'Some mode allocated per pick (see the JSON).'}`],
    [
      {
        kind: 'lines',
        title: 'ns per pick (log scale): weir modes vs a straight port of Envoy\'s pickCluster',
        yLabel: 'ns / pick',
        xLabel: 'destinations (n)',
        xCategories: sizes.map((n) => 'n=' + n),
        log: true,
        series: PICKER_ROWS.map(([row, name]) => ({
          name,
          dashed: row === 'envoy' || row === 'draw',
          points: sizes.map((n, i): [number, number] => [i, p.results[String(n)]?.[row]?.nsPerPick ?? NaN]),
        })),
      },
    ],
  );
}

function routeChart(r: RouteResult, label: string): string {
  const sizes = [10, 1000, 10000];
  const kinds: [string, string][] = [
    ['match is the last route', 'last route'],
    ['uniform mix', 'uniform mix'],
    ['no match (404)', 'no match (404)'],
  ];
  const groups = sizes.map((n) => ({
    label: `${n.toLocaleString('en-US')} routes`,
    bars: kinds.flatMap(([k], i): Bar[] => {
      const row = r.rows.find((x) => x.name === `route(): ${n} routes, ${k}`);
      return row ? [{ series: i, value: row.nsPerOp, label: fmt(row.nsPerOp, 0) }] : [];
    }),
  }));
  return renderChart(
    'Route matching: ns per route() by route-table size',
    [`${label}; best of rounds, one process. Compile: ${r.compile.map((c) => `${c.name} ${fmt(c.ms, 0)} ms`).join('; ')}.`],
    [{ kind: 'bars', title: 'ns per lookup (first match wins, Envoy order)', yLabel: 'ns', series: kinds.map(([, n]) => n), groups }],
  );
}

function fidelityChart(f: FidelityLoadResult, label: string): string {
  const proxies = [...new Set(f.cases.map((c) => c.proxy))];
  const modes = [...new Set(f.cases.map((c) => c.mode))];
  const v2 = (c: FidelityCase): { share: number; interval: readonly [number, number]; target: number } => {
    const v = c.versions.find((x) => x.version === 'v2');
    return v ?? { share: NaN, interval: [NaN, NaN], target: 0.1 };
  };
  const dev = modes.map((m) => ({
    label: m,
    bars: proxies.flatMap((p, i): Bar[] => {
      const c = f.cases.find((x) => x.mode === m && x.proxy === p);
      if (!c) return [];
      const v = v2(c);
      return [{
        series: i,
        value: (v.share - v.target) * 100,
        low: (v.interval[0] - v.target) * 100,
        high: (v.interval[1] - v.target) * 100,
        label: `${v.share - v.target >= 0 ? '+' : ''}${((v.share - v.target) * 100).toFixed(2)}`,
        note: `p=${c.pValue >= 0.01 ? c.pValue.toFixed(2) : pValue(c.pValue)}`,
      }];
    }),
  }));
  const win = modes.map((m) => ({
    label: m,
    bars: proxies.flatMap((p, i): Bar[] => {
      const c = f.cases.find((x) => x.mode === m && x.proxy === p);
      return c?.worstWindow ? [{ series: i, value: Math.abs(c.worstWindow.deviationRequests), label: fmt(Math.abs(c.worstWindow.deviationRequests), 0) }] : [];
    }),
  }));
  const users = modes.map((m) => ({
    label: m,
    bars: proxies.flatMap((p, i): Bar[] => {
      const c = f.cases.find((x) => x.mode === m && x.proxy === p);
      return c && c.multiVersionShare !== null ? [{ series: i, value: c.multiVersionShare * 100, label: fmt(c.multiVersionShare * 100, 1) + '%' }] : [];
    }),
  }));
  const sd = Math.sqrt(100 * 0.1 * 0.9);
  return renderChart(
    'Split fidelity under load: 90/10, measured by weir fidelity',
    [
      `${label}; ${f.options.requests.toLocaleString('en-US')} requests per run at ${f.options.connections} connections, ${f.options.users.toLocaleString('en-US')} users (cookie user=user-<i>, round robin).`,
      'random: weir Envoy-compatible / nginx `random`; sticky: weir sticky cookie / nginx `hash $cookie_user consistent` (tested by users);',
      'smooth: weir smooth WRR / nginx weighted round robin. Charts per run: bench/results/fidelity-<proxy>-<mode>.svg.',
    ],
    [
      {
        kind: 'bars',
        title: 'v2 share minus its 10% target, percentage points (whiskers: 95% Wilson interval; under the bars: chi-square p)',
        yLabel: 'pp',
        series: proxies,
        groups: dev,
        baseline: 0,
        band: { low: -1, high: 1, label: '±1 pp tolerance' },
        format: (v) => (v > 0 ? '+' : '') + v.toFixed(Math.abs(v) < 1 && v !== 0 ? 1 : 0),
      },
      {
        kind: 'bars',
        title: 'Worst window of 100 consecutive responses: how many requests off the 90/10 target',
        yLabel: 'requests',
        series: proxies,
        groups: win,
        refs: [{ value: 1.96 * sd, label: `one window of a fair random split stays within ±${(1.96 * sd).toFixed(1)} with 95% probability (the worst of many goes beyond)` }],
        height: 180,
      },
      { kind: 'bars', title: 'Users who saw more than one version', yLabel: '% of users', series: proxies, groups: users, height: 180 },
    ],
  );
}

function memoryChart(m: MemoryResult, label: string): string {
  const panels: Panel[] = [
    {
      kind: 'bars',
      title: 'Idle process after start and a forced GC (MiB)',
      yLabel: 'MiB',
      series: ['RSS', 'V8 heap used'],
      groups: m.idle.map((r) => ({
        label: r.name,
        bars: [
          { series: 0, value: r.rssAfterGcMiB, label: fmt(r.rssAfterGcMiB, 1), note: r.routes > 0 ? `start ${Math.round(r.startMs)} ms` : undefined },
          { series: 1, value: r.heapUsedAfterGcMiB, label: fmt(r.heapUsedAfterGcMiB, 1) },
        ],
      })),
      height: 200,
    },
  ];
  if (m.load) {
    panels.push({
      kind: 'lines',
      title: `Every second under ${m.load.connections} connections (${m.load.rps.toLocaleString('en-US')} req/s): RSS ${m.load.firstMiB} -> ${m.load.lastMiB} MiB (max ${m.load.maxMiB}), heap after GC ${m.load.heapUsedBeforeMiB} -> ${m.load.heapUsedAfterMiB}`,
      yLabel: 'MiB',
      xLabel: 'seconds under load',
      zero: true,
      series: [
        { name: 'RSS (/proc)', points: m.load.samples },
        { name: 'V8 heap total', points: (m.load.heapSamples ?? []).map(([t, total]): [number, number] => [t, total]) },
        { name: 'V8 heap used (no forced GC)', points: (m.load.heapSamples ?? []).map(([t, , used]): [number, number] => [t, used]) },
        { name: 'external + array buffers', points: (m.load.heapSamples ?? []).map(([t, , , ext]): [number, number] => [t, ext]) },
      ],
      height: 240,
    });
  }
  return renderChart('weir memory', [`${label}; RSS from /proc/<pid>/status (VmRSS); GC forced with --expose-gc through a preload.`], panels);
}

function xdsChart(x: XdsResult, label: string): string | null {
  const rows = (x.inProcess ?? []).filter((r) => r.sendToFirstRoutedMs);
  if (rows.length === 0) return null;
  const groups = rows.map((r) => ({
    label: `${r.routes.toLocaleString('en-US')} routes, in process${r.routeCompileCache === false ? ', no compile cache' : ''}`,
    bars: [{ series: 0, value: r.sendToFirstRoutedMs!.p50, low: r.sendToFirstRoutedMs!.p50, high: r.sendToFirstRoutedMs!.p99, label: fmt(r.sendToFirstRoutedMs!.p50, 2) }],
  }));
  const two = x.twoProcesses;
  if (two?.sendToFirstRoutedMs) {
    groups.push({
      label: `${two.routes.toLocaleString('en-US')} routes, 2 weir processes`,
      bars: [{ series: 0, value: two.sendToFirstRoutedMs.p50, low: two.sendToFirstRoutedMs.p50, high: two.sendToFirstRoutedMs.p99, label: fmt(two.sendToFirstRoutedMs.p50, 2) }],
    });
  }
  return renderChart(
    'xDS update to effect: control plane sends a RouteConfiguration -> first request routed by it',
    [`${label}; bar = p50, whisker up to p99 (ms).`],
    [{ kind: 'bars', title: 'ms from send to the first request routed by the new config', yLabel: 'ms', series: ['send -> first routed'], groups }],
  );
}

// ---- RESULTS.md --------------------------------------------------------------------------------

/** Replaces (or puts at the top, in order) the sections this suite owns; keeps every other section as it is. */
export function mergeResults(existing: string, preamble: string, sections: ReadonlyMap<string, string>): string {
  const parts = existing.split(/^(?=## )/m);
  const others = parts.filter((p) => p.startsWith('## ') && !sections.has(/^## (.*)$/m.exec(p)![1]!.trim()));
  const mine = [...sections.values()].map((s) => s.replace(/\n*$/, '\n\n'));
  return preamble.replace(/\n*$/, '\n\n') + mine.join('') + others.map((s) => s.replace(/\n*$/, '\n\n')).join('').replace(/\n+$/, '\n');
}

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');
}

let headings: string[] = [];
/** A link to the first RESULTS.md section whose heading matches, or plain text when there is none. */
function link(text: string, heading: RegExp): string {
  const h = headings.find((x) => heading.test(x));
  return h === undefined ? '' : ` ([${text}](#${slug(h)}))`;
}

function section(title: string, body: string[]): string {
  return ['## ' + title, '', ...body].join('\n') + '\n';
}

// ---- main --------------------------------------------------------------------------------------

function wanted(part: string): boolean {
  return !interrupted && (ONLY === null || ONLY.has(part));
}

function commandVersion(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return 'not installed';
  return ((r.stdout || '') + (r.stderr || '')).trim().split('\n')[0] ?? '';
}

interface RunOutputs {
  picker: PickerResult | null;
  routeTable: RouteResult | null;
  proxy: ProxyResult | null;
  fidelity: FidelityLoadResult | null;
  xdsUpdateLatency: { parsed: unknown; text: string } | null;
  xdsDecode: unknown;
  memory: MemoryResult | null;
}

interface RunEnv {
  date: string;
  quick: boolean;
  command: string;
  node: string;
  cpus: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
  nginx: string;
  haproxy: string;
  wrk: string;
}

async function main(): Promise<void> {
  // `node dist/bench/run-all.js --render bench/results/<date>.json`: redraw the charts and the
  // RESULTS.md sections from a run's figures without measuring again.
  const renderAt = process.argv.indexOf('--render');
  if (renderAt >= 0) {
    const file = process.argv[renderAt + 1];
    if (file === undefined) throw new Error('--render needs a bench/results/<date>.json file');
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as RunOutputs & { env: RunEnv; runs: PartRun[] };
    render(j.env, j.runs, j);
    return;
  }
  const started = new Date();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const env: RunEnv = {
    date: started.toISOString(),
    quick: QUICK,
    command: `${QUICK ? 'BENCH_QUICK=1 ' : ''}${ONLY ? `BENCH_ONLY=${[...ONLY].join(',')} ` : ''}npm run bench`,
    node: process.version,
    cpus: `${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? 'unknown'}`,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    loadAverageAtEnd: [],
    nginx: commandVersion('nginx', ['-v']),
    haproxy: commandVersion('haproxy', ['-v']),
    wrk: commandVersion('wrk', ['--version']).startsWith('wrk') ? 'installed' : 'not installed',
  };
  const runs: PartRun[] = [];
  const out: RunOutputs = { picker: null, routeTable: null, proxy: null, fidelity: null, xdsUpdateLatency: null, xdsDecode: null, memory: null };
  const js = (f: string): string => path.join(DIST_BENCH, f);

  if (wanted('picker')) {
    const { run, stdout } = await runPart('picker', ['--expose-gc', js('picker.js'), '--json'], { BENCH_ITERS: QUICK ? '200000' : '1000000', BENCH_ROUNDS: QUICK ? '2' : '5' }, QUICK ? 120 : 300);
    runs.push(run);
    out.picker = firstJsonObject(stdout) as PickerResult | null;
  }
  if (wanted('route')) {
    const { run, stdout } = await runPart('route table', ['--expose-gc', js('route-table.js'), '--json'], { BENCH_ITERATIONS: QUICK ? '20000' : '200000', BENCH_ROUNDS: QUICK ? '2' : '5' }, QUICK ? 120 : 300);
    runs.push(run);
    out.routeTable = parseRouteTable(stdout);
  }
  if (wanted('proxy')) {
    const before = fs.existsSync(RESULTS_MD) ? fs.readFileSync(RESULTS_MD, 'utf8') : '';
    const t0 = Date.now();
    const { run } = await runPart('proxy', [js('proxy.js')], { BENCH_DURATION: QUICK ? '1' : '5', BENCH_ROUNDS: QUICK ? '1' : '3' }, QUICK ? 180 : 600);
    runs.push(run);
    const file = fs
      .readdirSync(RESULTS_DIR)
      .filter((f) => /^proxy-.*\.json$/.test(f) && !f.endsWith('-quick.json'))
      .map((f) => ({ f, t: fs.statSync(path.join(RESULTS_DIR, f)).mtimeMs }))
      .filter((x) => x.t >= t0 - 1000)
      .sort((a, b) => b.t - a.t)[0]?.f;
    if (file !== undefined) {
      let rel = file;
      if (QUICK) {
        // A smoke run's proxy figures stay out of the measured ones: its JSON is labelled quick and
        // the "## Proxy" section bench/proxy.ts just rewrote is put back as it was.
        rel = file.replace(/\.json$/, '-quick.json');
        fs.renameSync(path.join(RESULTS_DIR, file), path.join(RESULTS_DIR, rel));
        const proxySection = /^## Proxy\s*$[\s\S]*?(?=^## |(?![\s\S]))/m.exec(before)?.[0];
        const now = fs.readFileSync(RESULTS_MD, 'utf8');
        if (proxySection !== undefined) fs.writeFileSync(RESULTS_MD, now.replace(/^## Proxy\s*$[\s\S]*?(?=^## |(?![\s\S]))/m, () => proxySection));
      }
      const j = JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, rel), 'utf8')) as Omit<ProxyResult, 'file'>;
      out.proxy = { env: j.env, summaries: j.summaries, checks: j.checks, file: 'results/' + rel };
    }
  }
  if (wanted('fidelity')) {
    const { run, stdout } = await runPart('fidelity under load', [js('fidelity-load.js'), '--json', '--svg-dir', RESULTS_DIR], QUICK ? { BENCH_QUICK: '1' } : {}, QUICK ? 180 : 420);
    runs.push(run);
    out.fidelity = firstJsonObject(stdout) as FidelityLoadResult | null;
  }
  if (wanted('memory')) {
    const seconds = Number(process.env.BENCH_MEMORY_SECONDS ?? (QUICK ? 30 : 60));
    const { run, stdout } = await runPart('memory', [js('memory.js'), '--json'], { BENCH_MEMORY_SECONDS: String(QUICK ? 30 : 60) }, seconds + 150);
    runs.push(run);
    out.memory = firstJsonObject(stdout) as MemoryResult | null;
  }
  if (wanted('xds')) {
    const { run, stdout } = await runPart(
      'xDS update latency',
      [js('xds-update-latency.js')],
      { ROUTES: '10,1000', UPDATES: QUICK ? '20' : '200', TWO_PROCESS_ROUTES: '1000' },
      QUICK ? 180 : 420,
    );
    runs.push(run);
    out.xdsUpdateLatency = { parsed: firstJsonObject(stdout), text: stdout.slice(0, 20_000) };
    const dec = await runPart('xDS decode', [js('xds-decode.js')], { ROUTES: '10,1000', ITER: QUICK ? '10' : '50' }, 120);
    runs.push(dec.run);
    out.xdsDecode = firstJsonObject(dec.stdout);
  }
  env.loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  render(env, runs, out);
  if (runs.some((r) => !r.ok)) process.exitCode = 1;
}

/** Charts, bench/results/<date>.json and the RESULTS.md sections from one run's figures. */
function render(env: RunEnv, runs: PartRun[], out: RunOutputs): void {
  const stamp = env.date.slice(0, 16).replace(':', '-') + (env.quick ? '-quick' : '');
  const label = `${env.quick ? 'QUICK run (BENCH_QUICK=1, indicative only)' : 'full run'} ${env.date.slice(0, 16).replace('T', ' ')} UTC`;
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  // ---- charts
  const charts: string[] = [];
  const chart = (name: string, svg: string | null): void => {
    if (svg === null) return;
    fs.writeFileSync(path.join(RESULTS_DIR, name), svg);
    charts.push(name);
  };
  if (out.proxy && out.proxy.summaries.length > 0) chart('proxy.svg', proxyChart(out.proxy, label));
  if (out.picker?.results) chart('picker.svg', pickerChart(out.picker, label));
  if (out.routeTable) chart('route-table.svg', routeChart(out.routeTable, label));
  if (out.fidelity && out.fidelity.cases.length > 0) chart('fidelity.svg', fidelityChart(out.fidelity, label));
  if (out.memory) chart('memory.svg', memoryChart(out.memory, label));
  if (out.xdsUpdateLatency?.parsed) chart('xds.svg', xdsChart(out.xdsUpdateLatency.parsed as XdsResult, label));

  // ---- JSON (the fidelity reports' running shares are in the per-run SVGs; keep the JSON readable)
  const jsonName = `${stamp}.json`;
  const fidelityForJson = out.fidelity ? { ...out.fidelity, reports: out.fidelity.reports.map((r) => ({ ...r, running: undefined })) } : null;
  fs.writeFileSync(path.join(RESULTS_DIR, jsonName), JSON.stringify({ env, runs, charts, picker: out.picker, routeTable: out.routeTable, proxy: out.proxy, fidelity: fidelityForJson, xdsUpdateLatency: out.xdsUpdateLatency, xdsDecode: out.xdsDecode, memory: out.memory }, null, 2) + '\n');

  // ---- RESULTS.md (and the README block)
  headings = [...MY_SECTIONS, ...[...(fs.existsSync(RESULTS_MD) ? fs.readFileSync(RESULTS_MD, 'utf8') : '').matchAll(/^## (.+)$/gm)].map((m) => m[1]!.trim())];
  const sections = new Map<string, string>();
  sections.set('Summary', section('Summary', summaryLines(env, runs, out, charts, jsonName, label)));
  if (out.fidelity) sections.set('Fidelity under load', section('Fidelity under load', fidelityLines(out.fidelity, label)));
  if (out.memory) sections.set('Memory', section('Memory', memoryLines(out.memory, label)));
  const preamble =
    '# Benchmarks\n\n' +
    'All of it: `npm run bench` (build, then `node dist/bench/run-all.js`; `BENCH_QUICK=1` for a ~2 minute smoke run). ' +
    'Each part also runs alone (`npm run bench:picker`, `bench:route`, `bench:proxy`, `node dist/bench/fidelity-load.js`, `node dist/bench/memory.js`, ' +
    '`node dist/bench/xds-update-latency.js`). Figures: `bench/results/<date>.json`; charts: `bench/results/*.svg`.\n';
  const existing = fs.existsSync(RESULTS_MD) ? fs.readFileSync(RESULTS_MD, 'utf8') : '';
  const merged = mergeResults(existing, preamble, sections);
  fs.writeFileSync(RESULTS_MD, merged);
  fs.writeFileSync(path.join(RESULTS_DIR, 'README-snippet.md'), readmeSnippet(env, out));
  process.stderr.write(`\nbench: wrote bench/results/${jsonName}, ${charts.map((c) => 'bench/results/' + c).join(', ')}, bench/results/README-snippet.md and bench/RESULTS.md\n`);
  for (const r of runs) process.stderr.write(`bench: ${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.seconds} s)${r.error ? ': ' + r.error : ''}\n`);
  process.stdout.write(sections.get('Summary')!);
}

function summaryLines(
  env: RunEnv,
  runs: PartRun[],
  out: RunOutputs,
  charts: string[],
  jsonName: string,
  label: string,
): string[] {
  const lines: string[] = [];
  lines.push(
    `${env.quick ? '**Quick run** (`BENCH_QUICK=1`): short loads and few rounds on a shared machine, to prove the suite works; the figures are indicative only. ' : ''}` +
      `Measured ${env.date.slice(0, 16).replace('T', ' ')} UTC with \`${env.command}\` (${runs.reduce((a, r) => a + r.seconds, 0).toFixed(0)} s): ` +
      `${env.cpus}, Node ${env.node}, ${env.nginx}, haproxy: ${env.haproxy === 'not installed' ? 'not installed' : env.haproxy}; ` +
      `load average ${env.loadAverageAtStart.join(' / ')} at the start, ${env.loadAverageAtEnd.join(' / ')} at the end (other jobs share the 2 cores). ` +
      `All figures: \`bench/results/${jsonName}\`.`,
    '',
  );
  lines.push('| benchmark | headline (this run) | detail |', '|---|---|---|');
  const p = out.proxy;
  if (p) {
    const g = (t: string, c: number): ProxySummary | undefined => p.summaries.find((s) => s.target === t && s.connections === c);
    for (const c of [50, 1]) {
      const w = g('weir', c);
      if (!w) continue;
      const others = ['direct', 'nginx', 'node-http-proxy', 'haproxy'].map((t) => g(t, c)).filter((s): s is ProxySummary => s !== undefined);
      lines.push(
        `| proxy, ${c} connection${c === 1 ? '' : 's'} | weir ${thousands(w.rps)} req/s, p50 ${fmt(w.p50Ms, 2)} ms, p99 ${fmt(w.p99Ms, 2)} ms` +
          ` (${fmt(w.vsNginx, 2)}x nginx, ${fmt(w.vsHttpProxy, 2)}x node-http-proxy) | ` +
          others.map((o) => `${o.target} ${thousands(o.rps)} req/s`).join(', ') +
          `${link('Proxy', /^Proxy/)}, \`bench/${p.file}\` |`,
      );
    }
  } else lines.push('| proxy | not run / failed | |');
  const pk = out.picker;
  if (pk?.results) {
    const at = (n: number, row: string): string => fmt(pk.results[String(n)]?.[row]?.nsPerPick, 1);
    lines.push(
      `| picker (ns/pick, n=2 / 1000) | random ${at(2, 'random')} / ${at(1000, 'random')}, sticky ${at(2, 'sticky')} / ${at(1000, 'sticky')}, smooth ${at(2, 'smooth')} / ${at(1000, 'smooth')} | ` +
        `Envoy port ${at(2, 'envoy')} / ${at(1000, 'envoy')}; ${fmt(pk.envoyOverRandomAtN100, 1)}x faster than it at n=100; 0 B/pick: ${pk.targets['zeroBytesPerPick'] ? 'yes' : 'no'}${link('Picker', /^Picker/)} |`,
    );
  } else lines.push('| picker | not run / failed | |');
  const rt = out.routeTable;
  if (rt) {
    const ns = (n: number): string => fmt(rt.rows.find((r) => r.name === `route(): ${n} routes, uniform mix`)?.nsPerOp, 0);
    const compile = rt.compile.find((c) => c.name === 'compile 10000 routes');
    lines.push(`| route matching (ns/lookup, uniform mix) | 10 routes ${ns(10)}, 1,000 routes ${ns(1000)}, 10,000 routes ${ns(10000)} | compile 10,000 routes ${fmt(compile?.ms, 0)} ms${link('Route table', /^Route table/)} |`);
  } else lines.push('| route matching | not run / failed | |');
  const f = out.fidelity;
  if (f) {
    for (const c of f.cases.filter((x) => x.proxy === 'weir')) {
      const v2 = c.versions.find((v) => v.version === 'v2');
      const ng = f.cases.find((x) => x.proxy === 'nginx' && x.mode === c.mode);
      const ngv2 = ng?.versions.find((v) => v.version === 'v2');
      lines.push(
        `| fidelity, ${c.mode} | weir v2 ${pct(v2?.share)} of ${c.n.toLocaleString('en-US')} ${c.unit} (target 10%), p=${pValue(c.pValue)}, worst window off by ${absInt(c.worstWindow?.deviationRequests)}/100, users on >1 version ${pct(c.multiVersionShare, 1)}: ${c.pass ? 'PASS' : 'FAIL'} | ` +
          (ng ? `nginx v2 ${pct(ngv2?.share)}, p=${pValue(ng.pValue)}, worst window off by ${absInt(ng.worstWindow?.deviationRequests)}/100, users on >1 version ${pct(ng.multiVersionShare, 1)}: ${ng.pass ? 'PASS' : 'FAIL'}` : 'nginx not run') +
          link('Fidelity', /^Fidelity under load/) + ' |',
      );
    }
  } else lines.push('| fidelity | not run / failed | |');
  const x = out.xdsUpdateLatency?.parsed as XdsResult | null | undefined;
  if (x?.inProcess) {
    const cells = x.inProcess.map((r) => `${r.routes.toLocaleString('en-US')} routes${r.routeCompileCache === false ? ' (no compile cache)' : ''} p50 ${fmt(r.sendToFirstRoutedMs?.p50, 2)} / p99 ${fmt(r.sendToFirstRoutedMs?.p99, 2)} ms`).join('; ');
    const two = x.twoProcesses;
    lines.push(
      `| xDS update -> first request routed | ${cells} | ` +
        (two ? `two weir processes (${two.routes} routes) apart by p50 ${fmt(two.apartMs?.p50, 2)} / p99 ${fmt(two.apartMs?.p99, 2)} ms` : '') +
        link('xDS', /^xDS/i) + ' |',
    );
  } else lines.push('| xDS update latency | not run / failed | |');
  const m = out.memory;
  if (m) {
    const idle = m.idle.filter((r) => r.routes > 0).map((r) => `${r.routes.toLocaleString('en-US')} routes ${fmt(r.rssAfterGcMiB, 0)} MiB`).join(', ');
    const l = m.load;
    lines.push(
      `| memory (RSS) | idle after GC: ${idle} (node alone ${fmt(m.idle.find((r) => r.routes === 0)?.rssAfterGcMiB, 0)}) | ` +
        (l ? `${l.connections} connections for ${l.seconds} s: first ${fmt(l.firstMiB, 0)}, last ${fmt(l.lastMiB, 0)}, max ${fmt(l.maxMiB, 0)} MiB, steady slope ${fmt(l.steadySlopeMiBPerMin, 2)} MiB/min, heap used after GC ${fmt(l.heapUsedBeforeMiB)} -> ${fmt(l.heapUsedAfterMiB)} MiB: ${verdictOf(l)}` : '') +
        link('Memory', /^Memory/) + ' |',
    );
  } else lines.push('| memory | not run / failed | |');
  const rest = headings.filter((h) => !(MY_SECTIONS as readonly string[]).includes(h) && !/^(Proxy|Picker|Route table|xDS)/i.test(h));
  if (rest.length > 0) lines.push(`| other results (not run by this suite) | ${rest.map((h) => `[${h}](#${slug(h)})`).join(', ')} | |`);
  const failed = runs.filter((r) => !r.ok);
  if (failed.length > 0) lines.push('', 'Parts that failed in this run: ' + failed.map((r) => `${r.name} (${r.error})`).join('; ') + '.');
  lines.push('', `Charts (${label}):`, '');
  for (const c of charts) lines.push(`![${c.replace(/\.svg$/, '')}](results/${c})`, '');
  lines.push('Commands each part ran with:', '', '```');
  for (const r of runs) lines.push(`${r.command}    # ${r.seconds} s${r.ok ? '' : ', ' + r.error}`);
  lines.push('```');
  return lines;
}

/** The headline block for the project README (bench/results/README-snippet.md), from this run. */
function readmeSnippet(env: RunEnv, out: RunOutputs): string {
  const lines: string[] = [];
  lines.push(
    `Latest \`npm run bench\`${env.quick ? ' (QUICK run: indicative only)' : ''}, ${env.date.slice(0, 10)}, ${env.cpus.replace(/ x .*/, '')} shared cores, Node ${env.node}, loopback, ` +
      'one process each, 90/10 split. All figures and charts: [bench/RESULTS.md](bench/RESULTS.md).',
    '',
    '| | weir | nginx | node-http-proxy |',
    '|---|---:|---:|---:|',
  );
  const p = out.proxy;
  const g = (t: string, c: number): ProxySummary | undefined => p?.summaries.find((s) => s.target === t && s.connections === c);
  if (p) {
    lines.push(`| req/s at 50 connections | ${thousands(g('weir', 50)?.rps ?? NaN)} | ${thousands(g('nginx', 50)?.rps ?? NaN)} | ${thousands(g('node-http-proxy', 50)?.rps ?? NaN)} |`);
    lines.push(
      `| p50 / p99 at 50 connections, ms | ${fmt(g('weir', 50)?.p50Ms, 2)} / ${fmt(g('weir', 50)?.p99Ms, 1)} | ${fmt(g('nginx', 50)?.p50Ms, 2)} / ${fmt(g('nginx', 50)?.p99Ms, 1)} | ${fmt(g('node-http-proxy', 50)?.p50Ms, 2)} / ${fmt(g('node-http-proxy', 50)?.p99Ms, 1)} |`,
    );
  }
  const f = out.fidelity;
  const fc = (proxy: string, mode: string): FidelityCase | undefined => f?.cases.find((c) => c.proxy === proxy && c.mode === mode);
  const share = (c: FidelityCase | undefined): string => (c ? pct(c.versions.find((v) => v.version === 'v2')?.share) : '-');
  if (f) {
    lines.push(`| v2 share of ${f.options.requests.toLocaleString('en-US')} requests, random (target 10%) | ${share(fc('weir', 'random'))} | ${share(fc('nginx', 'random'))} | |`);
    lines.push(`| worst window of 100 requests, off target by, random / smooth | ${absInt(fc('weir', 'random')?.worstWindow?.deviationRequests)} / ${absInt(fc('weir', 'smooth')?.worstWindow?.deviationRequests)} | ${absInt(fc('nginx', 'random')?.worstWindow?.deviationRequests)} / ${absInt(fc('nginx', 'smooth')?.worstWindow?.deviationRequests)} | |`);
    lines.push(`| users who saw both versions, sticky cookie | ${pct(fc('weir', 'sticky')?.multiVersionShare, 1)} | ${pct(fc('nginx', 'sticky')?.multiVersionShare, 1)} | |`);
  }
  const pk = out.picker;
  if (pk?.results) lines.push(`| ns per weighted pick, n = 1,000 destinations (random / Envoy's algorithm) | ${fmt(pk.results['1000']?.['random']?.nsPerPick, 1)} / ${fmt(pk.results['1000']?.['envoy']?.nsPerPick, 0)} | | |`);
  const m = out.memory;
  if (m) {
    const r = (n: number): string => fmt(m.idle.find((x) => x.routes === n)?.rssAfterGcMiB, 0);
    lines.push(`| RSS idle, 10 / 10,000 routes, MiB | ${r(10)} / ${r(10000)} | | |`);
  }
  lines.push('', '![Split fidelity under load: weir and nginx, per pick mode](bench/results/fidelity.svg)', '');
  return lines.join('\n');
}

function fidelityLines(f: FidelityLoadResult, label: string): string[] {
  const lines: string[] = [];
  lines.push(
    `${label}. \`bench/fidelity-load.ts\`: two version upstreams (one process, each answers \`x-version\`), weir with one route per mode, ` +
      `nginx (${f.nginx}) with one weighted upstream per mode; every run is \`weir fidelity\` (\`runFidelity\`): ` +
      `${f.options.requests.toLocaleString('en-US')} requests at ${f.options.connections} connections, ${f.options.users.toLocaleString('en-US')} users sent round robin as cookie \`user=user-<i>\`, ` +
      'expect v1=90,v2=10, classify `header:x-version`, alpha 0.001, tolerance 1 pp. Sticky runs are tested by users (each user counted once, at its version; ' +
      'a user who saw two versions fails the run); the others by requests. A JIT warm-up of 2,000 requests per mode precedes the measured runs.',
    '',
  );
  if (f.skipped.length > 0) lines.push('Not run: ' + f.skipped.map((s) => `${s.proxy} (${s.reason})`).join('; ') + '.', '');
  lines.push('| mode | proxy (config) | tested by | n | v1 share [95% Wilson] | v2 share [95% Wilson] | chi-square p | worst window of 100: version, count − expected | users on >1 version | req/s | verdict |');
  lines.push('|---|---|---|---:|---|---|---:|---:|---:|---:|---|');
  for (const c of f.cases) {
    const v = (name: string): string => {
      const r = c.versions.find((x) => x.version === name);
      return r ? `${pct(r.share)} [${pct(r.interval[0])}, ${pct(r.interval[1])}]` : '-';
    };
    const w = c.worstWindow;
    lines.push(
      `| ${c.mode} | ${c.config} | ${c.unit} | ${c.n.toLocaleString('en-US')} | ${v('v1')} | ${v('v2')} | ${pValue(c.pValue)} | ` +
        `${w ? w.version + ' ' + signed(w.deviationRequests) : '-'} | ${pct(c.multiVersionShare, 1)} | ${thousands(c.requestsPerSecond)} | ${c.pass ? 'PASS' : 'FAIL'}${c.errors ? `, ${c.errors} errors` : ''} |`,
    );
  }
  lines.push(
    '',
    'Reading it: a fair random split of 100 requests at 90/10 puts v2 at 10 ± 3 (one standard deviation), so a worst window of ±6 to ±10 over hundreds of ' +
      'windows is what random picking looks like; smooth weighted round robin (weir `smooth`, nginx\'s default) keeps every window within one request of 10. ' +
      'Under random picking about 1 − 0.9^k − 0.1^k of users with k requests see both versions; sticky should show 0%. ' +
      'Per-run charts (target vs observed with intervals, deviation, running share): ' +
      f.cases.map((c) => (c.svg ? `[${c.proxy} ${c.mode}](results/${path.basename(c.svg)})` : '')).filter((s) => s).join(', ') + '.',
    '',
    '![fidelity](results/fidelity.svg)',
  );
  return lines;
}

function verdictOf(l: NonNullable<MemoryResult['load']>): string {
  return l.noGrowth ? 'no growth' : l.heapStable ? 'RSS grew; heap after GC stable (no leak)' : 'GROWTH (heap after GC grew)';
}

function memoryLines(m: MemoryResult, label: string): string[] {
  const lines: string[] = [];
  lines.push(
    `${label}. \`bench/memory.ts\`: weir from a generated bootstrap (every route a 90/10 weighted split, the last one catching \`/\`), ` +
      'RSS read from `/proc/<pid>/status` once the listener is up, and again after two forced GCs (the process runs with `--expose-gc` and a preload that ' +
      'answers SIGUSR2 with `gc()` and `process.memoryUsage()`). An idle `node` with the same flags is the floor.',
    '',
    '| process | start to listening ms | RSS at ready MiB | RSS after GC MiB | V8 heap used after GC MiB | bootstrap bytes |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const r of m.idle) lines.push(`| ${r.name} | ${r.routes > 0 ? Math.round(r.startMs) : '-'} | ${fmt(r.rssAtReadyMiB)} | ${fmt(r.rssAfterGcMiB)} | ${fmt(r.heapUsedAfterGcMiB)} | ${r.bootstrapBytes ? thousands(r.bootstrapBytes) : '-'} |`);
  const l = m.load;
  if (l) {
    lines.push(
      '',
      `Under load: weir with ${l.routes} routes, ${l.tool} with ${l.connections} connections for ${l.seconds} s (${thousands(l.requests)} requests, ${thousands(l.rps)} req/s, ${l.errors} errors), RSS sampled every second:`,
      '',
      '| first MiB | last MiB | min MiB | max MiB | slope, whole run MiB/min | slope, second half MiB/min | heap used after GC, before -> after MiB | RSS after GC MiB | verdict |',
      '|---:|---:|---:|---:|---:|---:|---|---:|---|',
      `| ${fmt(l.firstMiB)} | ${fmt(l.lastMiB)} | ${fmt(l.minMiB)} | ${fmt(l.maxMiB)} | ${fmt(l.slopeMiBPerMin, 2)} | ${fmt(l.steadySlopeMiBPerMin, 2)} | ${fmt(l.heapUsedBeforeMiB)} -> ${fmt(l.heapUsedAfterMiB)} | ${fmt(l.rssAfterGcMiB)} | ${verdictOf(l)} |`,
      '',
      `Rule: ${l.rule}.`,
    );
  }
  lines.push('', '![memory](results/memory.svg)');
  return lines;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
