// What metrics cost on the request path, measured so that a shared, noisy machine cannot fake the
// answer: the same weir build and bootstrap (90/10 weighted split, Istio-labelled endpoints so
// every Istio label is filled), one process with metrics (default), one with --disable-metrics and
// a second one with --disable-metrics as an A/A control, all running throughout. ROUNDS rounds;
// each round runs each process once under the same load, in an order that cycles through every
// permutation (so no process is always first or last: a drift in machine load cancels); the
// processes are started afresh for each of BLOCKS blocks of rounds (a difference that belongs to
// one process, how its JIT went or where the scheduler put it, is not carried through every round).
// Per round the paired ratios to the metrics-off process of req/s and of CPU µs per request (weir's
// own CPU from /proc, not the load generator's); the report is the median of those ratios with a
// distribution-free 95% interval for the median (order statistics of the binomial) and the
// min/max, for metrics on and for the control (what the method reports when there is nothing to
// find). Next to it, two direct measurements of the metrics code itself: in process
// (ListenerMetrics.streamDone, ns of CPU per call minus a no-op observer), and under load (a
// further weir with metrics under `node --cpu-prof`: the share of its busy CPU samples in
// src/admin/, the metrics code; BENCH_PROFILE=0 skips it).
//
//   npm run build && node dist/bench/metrics.js     BENCH_DURATION=2 BENCH_ROUNDS=24 BENCH_BLOCKS=3 (defaults, ~3 min)
//   BENCH_CONTROL=0 ...                               without the A/A control (2 processes per round)
//   BENCH_CONNECTIONS=50,200 ...                      several connection counts per round
//   BENCH_WRITE_RESULTS=1 ...                         publish: bench/results/ and "## Metrics" in bench/RESULTS.md
//
// Prints a Markdown section; every round's samples go to a JSON file (bench/results/metrics-<date>.json
// with BENCH_WRITE_RESULTS=1, else the temp directory).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveCommand, runLoad, type LoadTool } from './lib/load';
import { cpuMicros, startChild, type Child } from './lib/procs';
import { summariseProfile } from './lib/profile';
import { benchBootstrap, staticCluster, weighted } from './lib/bootstrap';
import { compileSnapshot } from '../src/proxy/snapshot';
import { Metrics, type ClusterView, type ObservedStream } from '../src/admin/metrics';
import type { RouteTable } from '../src/route/route-table';

const ROOT = path.join(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
// Many short rounds rather than a few long ones: on a shared machine the load changes over seconds,
// so the runs of a round are more alike the closer together they are, and the interval for the
// median narrows with the number of rounds.
const DURATION_S = Number(process.env.BENCH_DURATION ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 24);
/** Fresh processes per block of rounds. */
const BLOCKS = Math.max(1, Number(process.env.BENCH_BLOCKS ?? 3));
/** A second metrics-off process: the A/A control (BENCH_CONTROL=0 leaves it out). */
const CONTROL = process.env.BENCH_CONTROL !== '0';
const WARMUP_S = 1;
/** Load on the profiled weir: long enough that start-up (snapshot bind, JIT) is a small share. */
const PROFILE_S = Math.max(4, DURATION_S);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '50').split(',').map(Number);

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

function bootstrap(v1: number, v2: number): string {
  const istio = (version: string): object => ({
    filter_metadata: { istio: { workload: `reviews-${version};default;reviews;${version};Kubernetes`, labels: { app: 'reviews', version } } },
  });
  return benchBootstrap({
    name: 'bench',
    node: { id: 'bench', cluster: 'bench', metadata: { WORKLOAD_NAME: 'productpage-v1', NAMESPACE: 'default', LABELS: { app: 'productpage', version: 'v1' } } },
    routes: [{ name: 'split', match: { prefix: '/' }, route: weighted([[V1, 90], [V2, 10]]) }],
    clusters: [staticCluster(V1, { port: v1, metadata: istio('v1') }), staticCluster(V2, { port: v2, metadata: istio('v2') })],
  });
}

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const fmt = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : '-');

/** P(X <= k) for X ~ Binomial(n, 1/2). */
function binomCdfHalf(n: number, k: number): number {
  let p = 0;
  let c = 1; // C(n, i)
  for (let i = 0; i <= k; i++) {
    p += c;
    c = (c * (n - i)) / (i + 1);
  }
  return p / 2 ** n;
}

export interface Spread {
  n: number;
  median: number;
  /** Distribution-free ~95% interval for the median: order statistics x(k), x(n-k+1). */
  lo: number;
  hi: number;
  /** The interval's actual coverage (order statistics give discrete levels). */
  coverage: number;
  min: number;
  max: number;
}

/** Median of `xs` with a distribution-free confidence interval (no normality assumed). */
export function spread(xs: number[]): Spread {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { n, median: NaN, lo: NaN, hi: NaN, coverage: 0, min: NaN, max: NaN };
  // Largest k with P(X <= k - 1) <= 2.5%: [x(k), x(n-k+1)] covers the median with >= 95%.
  let k = 0;
  while (k + 1 <= n && binomCdfHalf(n, k) <= 0.025) k++;
  const lo = k >= 1 ? (s[k - 1] as number) : (s[0] as number);
  const hi = k >= 1 ? (s[n - k] as number) : (s[n - 1] as number);
  const coverage = k >= 1 ? 1 - 2 * binomCdfHalf(n, k - 1) : 1;
  return { n, median: median(s), lo, hi, coverage, min: s[0] as number, max: s[n - 1] as number };
}

/**
 * In-process: CPU ns per observed request (ListenerMetrics.streamDone on the bootstrap's compiled
 * snapshot: 90% v1, 10% v2, 1% 503 UF), minus the same loop with a no-op observer. Steady on a
 * busy machine, unlike req/s.
 */
function observeNs(): Spread {
  const set = JSON.parse(bootstrap(1001, 1002)).static_resources;
  const r = compileSnapshot({ listeners: set.listeners, clusters: set.clusters, routeConfigurations: [], clusterLoadAssignments: [], versionInfo: 'bench' });
  if (r.errors) throw new Error(r.errors.join('\n'));
  const snap = r.value;
  const clusters = new Map<string, ClusterView>();
  for (const [name, c] of snap.clusters) {
    clusters.set(name, { name, config: c, activeRequests: 0, hosts: c.endpoints.map((e) => ({ key: `${e.address}:${e.port}`, healthy: true, metadata: e.metadata, active: 0, pool: null })) });
  }
  const m = new Metrics({ node: { metadata: { WORKLOAD_NAME: 'productpage-v1', NAMESPACE: 'default' } } });
  const l = m.bindSnapshot(snap, clusters).listener('bench')!;
  const entry = (snap.listeners[0]!.hcm.routeTable as unknown as RouteTable).virtualHosts[0]!.routes[0]!;
  class Rec implements ObservedStream {
    status = 200;
    flags = 0;
    durationMs = 0.8;
    bytesReceived = 0;
    bytesSent = 15;
    upstreamCluster: string | null = V1;
    upstreamHost: string | null = '127.0.0.1:1001';
    upstreamServiceTimeMs = 1;
    retriesDone = 0;
    entry: object | null = entry;
  }
  const recs: Rec[] = [];
  for (let i = 0; i < 100; i++) {
    const x = new Rec();
    if (i % 10 === 9) {
      x.upstreamCluster = V2;
      x.upstreamHost = '127.0.0.1:1002';
    }
    if (i === 50) {
      x.status = 503;
      x.flags = 1 << 5;
    }
    x.durationMs = 0.3 + (i % 7);
    recs.push(x);
  }
  const noop = { streamDone(_s: ObservedStream): void {} };
  const N = 2_000_000;
  const run = (o: { streamDone(s: ObservedStream): void }): number => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) o.streamDone(recs[i % 100]!);
    const d = process.cpuUsage(t0);
    return ((d.user + d.system) * 1000) / N;
  };
  for (let k = 0; k < 2; k++) run(l), run(noop); // warm-up
  // Paired per repetition (the same moment of machine load for both loops).
  const diffs: number[] = [];
  for (let k = 0; k < 7; k++) {
    const a = run(l);
    const b = run(noop);
    diffs.push(a - b);
  }
  return spread(diffs);
}

interface Sample {
  rps: number;
  cpu: number;
  p50: number;
  errors: number;
}

type TargetName = 'on' | 'off' | 'off2';
type Round = { on: Sample; off: Sample; off2?: Sample };

/** Every order of `n` items (n <= 3 here): rounds cycle through them, so each order is equally often. */
function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  const out: number[][] = [];
  for (const p of permutations(n - 1)) for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)]);
  return out;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const micro = observeNs();
  process.stderr.write(`observer: ${micro.median.toFixed(0)} ns CPU per request (in process, min ${micro.min.toFixed(0)}, max ${micro.max.toFixed(0)})\n`);
  const tool: LoadTool = haveCommand('wrk') ? 'wrk' : 'autocannon';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-metrics-'));
  const children: Child[] = [];
  const loads: number[] = [];
  try {
    const node = process.execPath;
    const up = await startChild('upstream', node, [path.join(DIST, 'bench', 'lib', 'upstream.js')], /^\{"ready":true.*\}$/);
    children.push(up.child);
    const { v1, v2 } = JSON.parse(up.match[0]) as { v1: number; v2: number };
    const file = path.join(tmp, 'bootstrap.json');
    fs.writeFileSync(file, bootstrap(v1, v2));
    const names: TargetName[] = CONTROL ? ['on', 'off', 'off2'] : ['on', 'off'];
    const orders = permutations(names.length);
    const rounds = new Map<number, Round[]>();
    const perBlock = Math.ceil(ROUNDS / BLOCKS);
    let round = 0;
    for (let block = 0; block < BLOCKS && round < ROUNDS; block++) {
      // Fresh processes per block: a difference that belongs to one process (how its JIT went,
      // where the scheduler put it) is not carried through every round.
      const targets: { name: TargetName; port: number; child: Child }[] = [];
      for (const name of names) {
        const extra = name === 'on' ? [] : ['--disable-metrics'];
        const w = await startChild(`metrics ${name}`, node, [path.join(DIST, 'src', 'cli', 'main.js'), '-c', file, '--log-level', 'info', '--drain-time-s', '1', ...extra], /listener bench listening on [\d.]+:(\d+)/);
        targets.push({ name, port: Number(w.match[1]), child: w.child });
      }
      try {
        for (const t of targets) await runLoad(tool, t.port, 50, WARMUP_S); // JIT warm-up
        for (let k = 0; k < perBlock && round < ROUNDS; k++, round++) {
          for (const c of CONNECTIONS) {
            const pair: Partial<Round> = {};
            for (const i of orders[round % orders.length]!) {
              const t = targets[i]!;
              const cpu0 = cpuMicros(t.child.pid);
              const r = await runLoad(tool, t.port, c, DURATION_S);
              const cpu = (cpuMicros(t.child.pid) - cpu0) / Math.max(1, r.requests);
              pair[t.name] = { rps: r.rps, cpu, p50: r.p50Ms, errors: r.errors };
              loads.push(os.loadavg()[0]!);
              process.stderr.write(`block ${block + 1} round ${round + 1}/${ROUNDS} c=${c} metrics ${t.name.padEnd(4)} ${fmt(r.rps, 0).padStart(7)} req/s  cpu ${fmt(cpu)} us/req  p50 ${fmt(r.p50Ms, 3)} ms${r.errors ? `  errors ${r.errors}` : ''}\n`);
            }
            if (!rounds.has(c)) rounds.set(c, []);
            rounds.get(c)!.push(pair as Round);
          }
        }
      } finally {
        await Promise.all(targets.map((t) => t.child.stop()));
      }
    }
    const profile = process.env.BENCH_PROFILE === '0' ? null : await profileShare(node, file, tool, tmp);
    const rows = CONNECTIONS.map((c) => {
      const rs = rounds.get(c)!;
      const cpuOff = median(rs.map((p) => p.off.cpu));
      const ctl = rs.filter((p) => p.off2 !== undefined);
      return {
        connections: c,
        rounds: rs.length,
        rpsOn: median(rs.map((p) => p.on.rps)),
        rpsOff: median(rs.map((p) => p.off.rps)),
        cpuOn: median(rs.map((p) => p.on.cpu)),
        cpuOff,
        /** on/off per round: < 1 means metrics cost throughput. */
        rpsRatio: spread(rs.map((p) => p.on.rps / p.off.rps)),
        /** on/off per round: > 1 means metrics cost CPU per request. */
        cpuRatio: spread(rs.map((p) => p.on.cpu / p.off.cpu)),
        /** The A/A control: a second metrics-off process against the first, measured the same way. */
        controlRps: ctl.length > 0 ? spread(ctl.map((p) => p.off2!.rps / p.off.rps)) : null,
        controlCpu: ctl.length > 0 ? spread(ctl.map((p) => p.off2!.cpu / p.off.cpu)) : null,
        errors: rs.reduce((a, p) => a + p.on.errors + p.off.errors + (p.off2?.errors ?? 0), 0),
        microPctOfCpu: (micro.median / 1000 / cpuOff) * 100,
      };
    });
    const date = new Date().toISOString();
    const load = { min: Math.min(...loads), max: Math.max(...loads) };
    const minutes = (Date.now() - t0) / 60000;
    // bench/results/ holds the runs the coordinator publishes (BENCH_WRITE_RESULTS=1); other runs
    // leave their samples in the temp directory.
    const publish = process.env.BENCH_WRITE_RESULTS === '1';
    if (publish) fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    const out = publish ? path.join(ROOT, 'bench', 'results', `metrics-${date.slice(0, 10)}.json`) : path.join(os.tmpdir(), `weir-bench-metrics-${date.replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(out, JSON.stringify({ date, tool, durationS: DURATION_S, rounds: ROUNDS, blocks: BLOCKS, cpus: os.cpus().length, load, micro, profile, rows, samples: Object.fromEntries(rounds) }, null, 2) + '\n');
    const pct = (x: number): string => fmt((x - 1) * 100) + '%';
    const cost = (x: number): string => fmt((1 - x) * 100) + '%';
    const row = (label: string, c: number, rps: Spread, cpu: Spread, abs: string): string =>
      `| ${label} | ${c} | ${cost(rps.median)} | ${cost(rps.hi)} to ${cost(rps.lo)} | ${cost(rps.max)} to ${cost(rps.min)} | ${pct(cpu.median)} | ${pct(cpu.lo)} to ${pct(cpu.hi)} | ${pct(cpu.min)} to ${pct(cpu.max)} | ${abs} |`;
    const lines = [
      '## Metrics',
      '',
      `Cost of metrics on the request path (\`node dist/bench/metrics.js\`, ${date.slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores, ${tool}, ${ROUNDS} rounds of ${DURATION_S} s per process in ${BLOCKS} blocks of fresh processes; 1-minute load average ${fmt(load.min)}-${fmt(load.max)} during the run, ${fmt(minutes, 1)} min in all). The same weir build and bootstrap (90/10 weighted split, endpoints with Istio labels), with metrics (default) and with \`--disable-metrics\`${CONTROL ? ', plus a second `--disable-metrics` process as an A/A control' : ''}, all running throughout; each round runs each process once under the same load, in an order that cycles through every permutation. With metrics on, every request updates \`istio_requests_total\`, three Istio histograms, Envoy's cluster, host and HCM counters and \`weir_route_picks_total\` through series bound per snapshot (src/admin/metrics.ts).`,
      '',
      `Per round, the ratio of each process to the metrics-off one; the table gives the median of those paired ratios, a distribution-free 95% interval for the median (order statistics) and the smallest and largest round.${CONTROL ? ' The control row compares two identical metrics-off processes: what the method reports when there is nothing to find.' : ''}`,
      '',
      '| comparison | connections | throughput cost (median) | 95% interval | min-max of rounds | CPU per request added (median) | 95% interval | min-max of rounds | medians (req/s; CPU µs/req) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.flatMap((r) => [
        row('metrics on vs off', r.connections, r.rpsRatio, r.cpuRatio, `${fmt(r.rpsOn, 0)} / ${fmt(r.rpsOff, 0)}; ${fmt(r.cpuOn)} / ${fmt(r.cpuOff)}`),
        ...(r.controlRps !== null && r.controlCpu !== null ? [row('control: off vs off', r.connections, r.controlRps, r.controlCpu, '')] : []),
      ]),
      '',
      `Measured directly, the metrics code costs ${fmt(micro.median, 0)} ns of CPU per request (\`ListenerMetrics.streamDone\` on the compiled snapshot: 90% v1, 10% v2, 1% 503 UF; 2M calls per repetition minus a no-op observer, median of ${micro.n} repetitions, min ${fmt(micro.min, 0)}, max ${fmt(micro.max, 0)}): ${rows.map((r) => `${fmt(r.microPctOfCpu, 2)}% of the ${fmt(r.cpuOff)} µs of CPU weir spends per request without metrics at ${r.connections} connections`).join('; ')}.`,
      '',
      ...(profile === null
        ? []
        : [
            `Under load (a third weir with metrics on under \`node --cpu-prof\`, ${CONNECTIONS[0]} connections for ${PROFILE_S} s, ${profile.requests} requests), ${fmt(profile.adminPct, 2)}% of its busy CPU samples were in the metrics code (functions in src/admin/: ${profile.functions.map((f) => `${f.name} ${fmt(f.selfPct, 2)}%`).join(', ') || 'none sampled'}); garbage collection is not attributed to a function.`,
            '',
          ]),
      `Target: under 10% of throughput. ${rows.map((r) => `At ${r.connections} connections the median paired cost is ${cost(r.rpsRatio.median)} (95% interval ${cost(r.rpsRatio.hi)} to ${cost(r.rpsRatio.lo)}) and CPU per request ${pct(r.cpuRatio.median)}${r.controlRps !== null ? `; the A/A control reads ${cost(r.controlRps.median)} and ${pct(r.controlCpu!.median)}` : ''}`).join('; ')}.`,
      '',
    ];
    if (publish) writeResultsSection2(path.join(ROOT, 'bench', 'RESULTS.md'), lines.join('\n'));
    process.stdout.write(lines.join('\n'));
    process.stderr.write(`samples: ${out}\n`);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The share of weir's busy CPU samples spent in src/admin/ (the metrics code) under load: a third
 * weir (metrics on) runs under `node --cpu-prof` for one load run and is stopped (SIGTERM: it
 * drains and exits, which writes the profile).
 */
async function profileShare(node: string, file: string, tool: LoadTool, tmp: string): Promise<{ adminPct: number; requests: number; functions: { name: string; selfPct: number }[] } | null> {
  const dir = path.join(tmp, 'profile');
  const w = await startChild('metrics on (profiled)', node, ['--cpu-prof', '--cpu-prof-dir', dir, path.join(DIST, 'src', 'cli', 'main.js'), '-c', file, '--log-level', 'info', '--drain-time-s', '1'], /listener bench listening on [\d.]+:(\d+)/);
  let requests = 0;
  try {
    const port = Number(w.match[1]);
    await runLoad(tool, port, 50, 1); // JIT warm-up (in the profile too: a small share)
    requests = (await runLoad(tool, port, CONNECTIONS[0]!, PROFILE_S)).requests;
  } finally {
    await w.child.stop();
  }
  const prof = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
  if (prof === undefined) {
    process.stderr.write('profile: no .cpuprofile written; skipped\n');
    return null;
  }
  const all = summariseProfile(path.join(dir, prof), ROOT, Number.MAX_SAFE_INTEGER);
  const admin = all.filter((f) => f.where.startsWith(path.join('dist', 'src', 'admin') + path.sep));
  return { adminPct: admin.reduce((a, f) => a + f.selfPct, 0), requests, functions: admin.slice(0, 6).map((f) => ({ name: f.name, selfPct: f.selfPct })) };
}

/** Replaces the "## Metrics" section of RESULTS.md (up to the next "## " heading), or appends it. */
function writeResultsSection2(file: string, section: string): void {
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# weir benchmark results\n\n';
  const start = text.search(/^## Metrics\s*$/m);
  if (start < 0) text = text.replace(/\n*$/, '\n\n') + section;
  else {
    const after = text.slice(start + 1).search(/^## /m);
    const end = after < 0 ? text.length : start + 1 + after;
    text = text.slice(0, start) + section + (end < text.length ? '\n' + text.slice(end) : '');
  }
  fs.writeFileSync(file, text);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
