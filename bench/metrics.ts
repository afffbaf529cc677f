// What metrics cost on the request path: the same weir build and bootstrap (90/10 weighted split,
// Istio-labelled endpoints so every Istio label is filled), one process with metrics (default)
// and one with --disable-metrics, measured alternately in rounds with the proxy benchmark's
// harness (bench/lib: wrk else autocannon, CPU from /proc). Reports medians of req/s and CPU µs per
// request and the throughput cost; writes bench/results/metrics-<date>.json and the "## Metrics"
// section of bench/RESULTS.md.
//
//   npm run build && node dist/bench/metrics.js          BENCH_DURATION=5 BENCH_ROUNDS=5 (defaults)
//   BENCH_DURATION=3 BENCH_ROUNDS=3 node dist/bench/metrics.js      a short run on a shared machine

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveCommand, runLoad, type LoadTool } from './lib/load';
import { cpuMicros, startChild, type Child } from './lib/procs';
import { benchBootstrap, staticCluster, weighted } from './lib/bootstrap';
import { compileSnapshot } from '../src/proxy/snapshot';
import { Metrics, type ClusterView, type ObservedStream } from '../src/admin/metrics';
import type { RouteTable } from '../src/route/route-table';

const ROOT = path.join(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
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

/**
 * In-process: CPU ns per observed request (ListenerMetrics.streamDone on the bootstrap's compiled
 * snapshot: 90% v1, 10% v2, 1% 503 UF), minus the same loop with a no-op observer. Steady on a
 * busy machine, unlike req/s.
 */
function observeNs(): number {
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
  const with_: number[] = [];
  const without: number[] = [];
  for (let k = 0; k < 5; k++) {
    with_.push(run(l));
    without.push(run(noop));
  }
  return median(with_) - median(without);
}

async function main(): Promise<void> {
  const ns = observeNs();
  process.stderr.write(`observer: ${ns.toFixed(0)} ns CPU per request (in process)\n`);
  const tool: LoadTool = haveCommand('wrk') ? 'wrk' : 'autocannon';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-metrics-'));
  const children: Child[] = [];
  try {
    const node = process.execPath;
    const up = await startChild('upstream', node, [path.join(DIST, 'bench', 'lib', 'upstream.js')], /^\{"ready":true.*\}$/);
    children.push(up.child);
    const { v1, v2 } = JSON.parse(up.match[0]) as { v1: number; v2: number };
    const file = path.join(tmp, 'bootstrap.json');
    fs.writeFileSync(file, bootstrap(v1, v2));
    const targets: { name: 'metrics on' | 'metrics off'; port: number; child: Child }[] = [];
    for (const [name, extra] of [['metrics on', []], ['metrics off', ['--disable-metrics']]] as const) {
      const w = await startChild(name, node, [path.join(DIST, 'src', 'cli', 'main.js'), '-c', file, '--log-level', 'info', ...extra], /listener bench listening on [\d.]+:(\d+)/);
      children.push(w.child);
      targets.push({ name, port: Number(w.match[1]), child: w.child });
    }
    for (const t of targets) await runLoad(tool, t.port, 50, 1); // JIT warm-up
    const samples = new Map<string, { rps: number; cpu: number; p50: number; errors: number }[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONNECTIONS) {
        for (let k = 0; k < targets.length; k++) {
          const t = targets[(k + round) % targets.length]!;
          const cpu0 = cpuMicros(t.child.pid);
          const r = await runLoad(tool, t.port, c, DURATION_S);
          const cpu = (cpuMicros(t.child.pid) - cpu0) / Math.max(1, r.requests);
          const key = `${t.name}@${c}`;
          if (!samples.has(key)) samples.set(key, []);
          samples.get(key)!.push({ rps: r.rps, cpu, p50: r.p50Ms, errors: r.errors });
          process.stderr.write(`round ${round + 1}/${ROUNDS} c=${c} ${t.name.padEnd(12)} ${fmt(r.rps, 0).padStart(7)} req/s  cpu ${fmt(cpu)} us/req  p50 ${fmt(r.p50Ms, 3)} ms${r.errors ? `  errors ${r.errors}` : ''}\n`);
        }
      }
    }
    const rows: { connections: number; on: number; off: number; costPct: number; cpuOn: number; cpuOff: number; cpuCostUs: number; observeNs: number; observePct: number }[] = [];
    for (const c of CONNECTIONS) {
      const on = samples.get(`metrics on@${c}`)!;
      const off = samples.get(`metrics off@${c}`)!;
      const rOn = median(on.map((s) => s.rps));
      const rOff = median(off.map((s) => s.rps));
      const cOn = median(on.map((s) => s.cpu));
      const cOff = median(off.map((s) => s.cpu));
      rows.push({ connections: c, on: rOn, off: rOff, costPct: (1 - rOn / rOff) * 100, cpuOn: cOn, cpuOff: cOff, cpuCostUs: cOn - cOff, observeNs: ns, observePct: (ns / 1000 / cOff) * 100 });
    }
    const date = new Date().toISOString();
    fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench', 'results', `metrics-${date.slice(0, 10)}.json`), JSON.stringify({ date, tool, durationS: DURATION_S, rounds: ROUNDS, cpus: os.cpus().length, rows, samples: Object.fromEntries(samples) }, null, 2) + '\n');
    const lines = [
      '## Metrics',
      '',
      `Cost of metrics on the request path (\`node dist/bench/metrics.js\`, ${date.slice(0, 10)}, ${os.cpus().length} cores, ${tool}, ${ROUNDS} interleaved rounds of ${DURATION_S} s, medians): the same weir build and bootstrap (90/10 weighted split, endpoints with Istio labels), with metrics (default) and with \`--disable-metrics\`. With metrics on, every request updates \`istio_requests_total\`, three Istio histograms, Envoy's cluster and HCM counters and \`weir_route_picks_total\` through series bound per snapshot (src/admin/metrics.ts).`,
      '',
      '| connections | req/s metrics on | req/s metrics off | throughput cost | CPU µs/req on | CPU µs/req off | CPU µs/req added |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.connections} | ${fmt(r.on, 0)} | ${fmt(r.off, 0)} | ${fmt(r.costPct)}% | ${fmt(r.cpuOn)} | ${fmt(r.cpuOff)} | ${fmt(r.cpuCostUs, 2)} |`),
      '',
      `In process, the observer itself costs ${fmt(ns, 0)} ns of CPU per request (\`ListenerMetrics.streamDone\` on the compiled snapshot, 2M calls, minus a no-op observer): ${rows.map((r) => `${fmt(r.observePct, 2)}% of the ${fmt(r.cpuOff)} µs weir spends per request at ${r.connections} connections`).join('; ')}.`,
      '',
      `Target: under 10% of throughput. Macro run: ${rows.map((r) => `${fmt(r.costPct)}% at ${r.connections} connections`).join(', ')}; the load generator, weir and the upstream share 2 cores with other work (load average ${os.loadavg()[0]!.toFixed(1)} during this run), so rounds vary by more than the effect measured; the in-process figure bounds the cost.`,
      '',
    ];
    writeResultsSection2(path.join(ROOT, 'bench', 'RESULTS.md'), lines.join('\n'));
    process.stdout.write(lines.join('\n'));
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
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
