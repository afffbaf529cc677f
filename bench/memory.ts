// Memory of a weir process (issue 7 section 2): resident set size for 10 and 10,000 routes
// (generated bootstraps, measured once started and after a forced GC has settled), next to an
// idle `node` process as the floor; then RSS sampled every second while 50 connections load weir
// for BENCH_MEMORY_SECONDS (default 60), to show it does not grow.
//
//   npm run build && node dist/bench/memory.js [--json]
//   BENCH_MEMORY_SECONDS=60  BENCH_MEMORY_CONNECTIONS=50  BENCH_MEMORY_ROUTES=10,10000
//   BENCH_MEMORY_LOAD_ROUTES=10 (the route table weir serves under load)
//
// The GC is forced without touching weir: each process runs with `node --expose-gc --require
// dist/bench/memory.js`, and this file, loaded as a preload (WEIR_BENCH_MEMORY_PRELOAD=1), only
// installs a SIGUSR2 handler that runs gc() twice and prints process.memoryUsage() as one line.
// Built-in modules only at the top, so the preload adds nothing else to the measured process.
//
// "No growth" is judged on the second half of the run (connection pools, JIT and V8's young
// generation grow to their working size first: RSS steps up with the heap V8 reserves, which weir
// also reports every second): the least-squares slope over that half, extrapolated over the whole
// run, must stay under max(2 MiB, 3% of the mean RSS); and the heap used after a forced GC must
// not have grown by more than 2 MiB from before the load (the leak test).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Child } from './lib/procs';
import { benchBootstrap, staticCluster, weighted } from './lib/bootstrap';

const PRELOAD_ENV = 'WEIR_BENCH_MEMORY_PRELOAD';
const PROBE_TAG = 'weir-bench-memory ';
const SAMPLE_TAG = 'weir-bench-memory-sample ';
/** Set in a probed process: print process.memoryUsage() every this many ms (no GC forced). */
const SAMPLE_ENV = 'WEIR_BENCH_MEMORY_SAMPLE_MS';
const MIB = 1024 * 1024;

function installGcProbe(): void {
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc !== undefined) {
      gc();
      gc();
    }
    // One turn later, so finalizers and the sweeper have had a chance to run.
    setImmediate(() => process.stderr.write(PROBE_TAG + JSON.stringify({ gc: gc !== undefined, ...process.memoryUsage() }) + '\n'));
  });
  // Where the resident memory goes (V8 heap reserved vs used, buffers), sampled by weir itself so
  // a growing RSS can be told apart from a growing heap. unref: never keeps the process alive.
  const every = Number(process.env[SAMPLE_ENV] ?? 0);
  if (every > 0) setInterval(() => process.stderr.write(SAMPLE_TAG + JSON.stringify({ t: Date.now(), ...process.memoryUsage() }) + '\n'), every).unref();
}

interface MemoryUsage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export interface IdleMeasurement {
  readonly name: string;
  readonly routes: number;
  /** Spawn to "listening" (ms); the bootstrap load and route compile are in it. */
  readonly startMs: number;
  /** VmRSS once ready, before any forced GC (MiB). */
  readonly rssAtReadyMiB: number;
  /** After two forced GCs (MiB). */
  readonly rssAfterGcMiB: number;
  readonly heapUsedAfterGcMiB: number;
  readonly externalAfterGcMiB: number;
  readonly bootstrapBytes: number;
}

export interface LoadMeasurement {
  readonly routes: number;
  readonly connections: number;
  readonly seconds: number;
  readonly tool: string;
  readonly requests: number;
  readonly rps: number;
  readonly errors: number;
  /** [seconds since load start, RSS MiB] every second. */
  readonly samples: readonly (readonly [number, number])[];
  /** [seconds, V8 heap total MiB, V8 heap used MiB, external + array buffers MiB], printed by weir every second (no GC forced). */
  readonly heapSamples: readonly (readonly [number, number, number, number])[];
  readonly firstMiB: number;
  readonly lastMiB: number;
  readonly maxMiB: number;
  readonly minMiB: number;
  /** Least-squares slope over all samples and over the steady part (the second half), MiB per minute. */
  readonly slopeMiBPerMin: number;
  readonly steadySlopeMiBPerMin: number;
  readonly heapUsedBeforeMiB: number;
  readonly heapUsedAfterMiB: number;
  readonly rssAfterGcMiB: number;
  /** Heap used after a forced GC, after the load minus before it (MiB): the leak test. */
  readonly heapAfterGcGrowthMiB: number;
  readonly heapStable: boolean;
  /** RSS flat (steady slope rule) and heap stable. */
  readonly noGrowth: boolean;
  readonly rule: string;
}

export interface MemoryResult {
  readonly date: string;
  readonly node: string;
  readonly idle: readonly IdleMeasurement[];
  readonly load: LoadMeasurement | null;
}

const children: Child[] = [];
async function stopAll(): Promise<void> {
  await Promise.all(children.splice(0).map((c) => c.stop()));
}

/** VmRSS of `pid` in bytes (from /proc: what `ps` calls RSS), or NaN. */
function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

function bootstrap(routes: number, v1: number, v2: number): string {
  // Every route is a 90/10 weighted split (each compiles its own picker); the last one catches
  // `/`, so the load (GET /) walks past all the others, like route-table's worst case.
  const list: object[] = [];
  for (let i = 0; i < routes - 1; i++) list.push({ match: { prefix: `/svc${i}/` }, route: weighted([['v1', 90], ['v2', 10]]) });
  list.push({ match: { prefix: '/' }, route: weighted([['v1', 90], ['v2', 10]]) });
  return benchBootstrap({ name: 'memory', routes: list, clusters: [staticCluster('v1', v1), staticCluster('v2', v2)] });
}

type ProbedChild = Child & { onLine(fn: (line: string) => void): void };

/** Sends SIGUSR2 and resolves with the memoryUsage the preload prints after its forced GCs. */
function probe(child: ProbedChild, pending: ((m: MemoryUsage) => void)[]): Promise<MemoryUsage> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${child.name}: no memory probe answer within 10 s`)), 10_000);
    pending.push((m) => (clearTimeout(t), resolve(m)));
    child.proc.kill('SIGUSR2');
  });
}

interface Started {
  child: ProbedChild;
  /** memoryUsage() lines the process printed by itself (WEIR_BENCH_MEMORY_SAMPLE_MS), with Date.now(). */
  selfSamples: (MemoryUsage & { t: number })[];
  port: number;
  startMs: number;
  rssAtReady: number;
  probe(): Promise<MemoryUsage>;
}

async function startProbed(name: string, args: string[], ready: RegExp, sampleMs = 0): Promise<Started> {
  const { spawnChild } = await import('./lib/procs');
  const preload = __filename;
  const t0 = performance.now();
  const prev = process.env[PRELOAD_ENV];
  process.env[PRELOAD_ENV] = '1';
  process.env[SAMPLE_ENV] = String(sampleMs);
  const child = spawnChild(name, process.execPath, ['--expose-gc', '--require', preload, ...args]);
  if (prev === undefined) delete process.env[PRELOAD_ENV];
  else process.env[PRELOAD_ENV] = prev;
  delete process.env[SAMPLE_ENV];
  children.push(child);
  const pending: ((m: MemoryUsage) => void)[] = [];
  const selfSamples: (MemoryUsage & { t: number })[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name}: not ready after 30 s\n${child.output()}`)), 30_000);
    child.onLine((line) => {
      if (line.startsWith(SAMPLE_TAG)) {
        selfSamples.push(JSON.parse(line.slice(SAMPLE_TAG.length)) as MemoryUsage & { t: number });
        return;
      }
      if (line.startsWith(PROBE_TAG)) {
        pending.shift()?.(JSON.parse(line.slice(PROBE_TAG.length)) as MemoryUsage);
        return;
      }
      const m = ready.exec(line);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1] ?? 0));
      }
    });
    child.proc.once('exit', (code, signal) => {
      clearTimeout(t);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready\n${child.output()}`));
    });
  });
  const startMs = performance.now() - t0;
  return { child, port, startMs, rssAtReady: rssBytes(child.pid), selfSamples, probe: () => probe(child, pending) };
}

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) (sx += x), (sy += y);
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) (num += (x - mx) * (y - my)), (den += (x - mx) * (x - mx));
  return den === 0 ? 0 : num / den;
}

const mib = (b: number): number => Math.round((b / MIB) * 100) / 100;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface MemoryOptions {
  readonly routes: readonly number[];
  readonly loadRoutes: number;
  readonly loadSeconds: number;
  readonly connections: number;
}

export function memoryOptionsFromEnv(quick: boolean): MemoryOptions {
  const n = (name: string, fallback: number): number => {
    const v = Number(process.env[name]);
    return Number.isFinite(v) && v >= 0 && process.env[name] !== undefined && process.env[name] !== '' ? v : fallback;
  };
  return {
    routes: (process.env.BENCH_MEMORY_ROUTES ?? '10,10000').split(',').map(Number).filter((x) => x > 0),
    loadRoutes: n('BENCH_MEMORY_LOAD_ROUTES', 10),
    loadSeconds: n('BENCH_MEMORY_SECONDS', quick ? 30 : 60),
    connections: n('BENCH_MEMORY_CONNECTIONS', 50),
  };
}

export async function runMemoryBench(options: MemoryOptions, log: (s: string) => void = () => {}): Promise<MemoryResult> {
  const { startChild } = await import('./lib/procs');
  const { haveCommand, runLoad } = await import('./lib/load');
  const root = path.join(__dirname, '..', '..');
  const main = path.join(root, 'dist', 'src', 'cli', 'main.js');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-memory-'));
  const idle: IdleMeasurement[] = [];
  let load: LoadMeasurement | null = null;
  try {
    const up = await startChild('upstream', process.execPath, [path.join(__dirname, 'lib', 'upstream.js')], /^\{"ready":true.*\}$/);
    children.push(up.child);
    const { v1, v2 } = JSON.parse(up.match[0]) as { v1: number; v2: number };

    // The floor: node itself, idle, with the same flags.
    {
      const s = await startProbed('node (idle)', ['-e', 'console.log("ready"); setInterval(() => {}, 1 << 30)'], /^ready()$/);
      await settle(500);
      const m = await s.probe();
      idle.push({ name: 'node, empty script', routes: 0, startMs: s.startMs, rssAtReadyMiB: mib(s.rssAtReady), rssAfterGcMiB: mib(m.rss), heapUsedAfterGcMiB: mib(m.heapUsed), externalAfterGcMiB: mib(m.external), bootstrapBytes: 0 });
      await s.child.stop();
      children.splice(children.indexOf(s.child), 1);
    }

    const startWeir = async (routes: number, sampleMs = 0): Promise<Started & { bytes: number }> => {
      const file = path.join(tmp, `weir-${routes}.json`);
      const text = bootstrap(routes, v1, v2);
      fs.writeFileSync(file, text);
      const s = await startProbed(`weir (${routes} routes)`, [main, '-c', file, '--log-level', 'info'], /listener memory listening on [\d.]+:(\d+)/, sampleMs);
      return { ...s, bytes: Buffer.byteLength(text) };
    };

    for (const routes of options.routes) {
      const s = await startWeir(routes);
      await settle(1000);
      const m = await s.probe();
      await settle(200);
      const m2 = await s.probe();
      const row: IdleMeasurement = {
        name: `weir, ${routes.toLocaleString('en-US')} routes`,
        routes,
        startMs: Math.round(s.startMs),
        rssAtReadyMiB: mib(s.rssAtReady),
        rssAfterGcMiB: mib(Math.min(m.rss, m2.rss)),
        heapUsedAfterGcMiB: mib(Math.min(m.heapUsed, m2.heapUsed)),
        externalAfterGcMiB: mib(m2.external),
        bootstrapBytes: s.bytes,
      };
      idle.push(row);
      log(`memory: ${row.name}: start ${row.startMs} ms, RSS ${row.rssAtReadyMiB} MiB at ready, ${row.rssAfterGcMiB} MiB after GC, heap used ${row.heapUsedAfterGcMiB} MiB\n`);
      await s.child.stop();
      children.splice(children.indexOf(s.child), 1);
    }

    if (options.loadSeconds > 0) {
      const tool = haveCommand('wrk') ? 'wrk' : 'autocannon';
      const s = await startWeir(options.loadRoutes, 1000);
      await runLoad(tool, s.port, options.connections, 1); // JIT warm-up
      const before = await s.probe();
      const samples: [number, number][] = [];
      const t0 = performance.now();
      const wall0 = Date.now();
      s.selfSamples.length = 0;
      const sample = (): void => void samples.push([Math.round((performance.now() - t0) / 100) / 10, mib(rssBytes(s.child.pid))]);
      sample();
      const timer = setInterval(sample, 1000);
      let result;
      try {
        result = await runLoad(tool, s.port, options.connections, options.loadSeconds);
      } finally {
        clearInterval(timer);
      }
      sample();
      await settle(500);
      const after = await s.probe();
      const ys = samples.map((p) => p[1]);
      const heap = s.selfSamples
        .filter((x) => x.t >= wall0)
        .map((x): [number, number, number, number] => [Math.round((x.t - wall0) / 100) / 10, mib(x.heapTotal), mib(x.heapUsed), mib(x.external + x.arrayBuffers)]);
      const steady = samples.filter(([t]) => t >= options.loadSeconds * 0.5);
      const mean = ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length);
      const steadySlope = slope(steady) * 60;
      const allowed = Math.max(2, 0.03 * mean);
      const heapGrowth = mib(after.heapUsed - before.heapUsed);
      const rule = `no growth when the RSS slope over the second half of the run, times the whole ${options.loadSeconds} s, stays under max(2 MiB, 3% of the mean RSS) = ${allowed.toFixed(1)} MiB, and the V8 heap used after a forced GC grew by less than 2 MiB`;
      load = {
        routes: options.loadRoutes,
        connections: options.connections,
        seconds: options.loadSeconds,
        tool,
        requests: result.requests,
        rps: Math.round(result.rps),
        errors: result.errors,
        samples,
        heapSamples: heap,
        firstMiB: ys[0] ?? NaN,
        lastMiB: ys[ys.length - 1] ?? NaN,
        maxMiB: Math.max(...ys),
        minMiB: Math.min(...ys),
        slopeMiBPerMin: Math.round(slope(samples) * 60 * 100) / 100,
        steadySlopeMiBPerMin: Math.round(steadySlope * 100) / 100,
        heapUsedBeforeMiB: mib(before.heapUsed),
        heapUsedAfterMiB: mib(after.heapUsed),
        rssAfterGcMiB: mib(after.rss),
        heapAfterGcGrowthMiB: heapGrowth,
        heapStable: heapGrowth < 2,
        noGrowth: Math.abs(steadySlope) * (options.loadSeconds / 60) < allowed && heapGrowth < 2,
        rule,
      };
      log(
        `memory: under ${options.connections} connections for ${options.loadSeconds} s (${load.rps} req/s): RSS first ${load.firstMiB} last ${load.lastMiB} max ${load.maxMiB} MiB, ` +
          `steady slope ${load.steadySlopeMiBPerMin} MiB/min, heap used after GC ${load.heapUsedBeforeMiB} -> ${load.heapUsedAfterMiB} MiB: ${load.noGrowth ? 'no growth' : load.heapStable ? 'RSS grows, heap after GC stable' : 'GROWTH'}\n`,
      );
    }
  } finally {
    await stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { date: new Date().toISOString(), node: process.version, idle, load };
}

async function main(): Promise<void> {
  const result = await runMemoryBench(memoryOptionsFromEnv(process.env.BENCH_QUICK === '1'), (s) => process.stderr.write(s));
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  process.stdout.write('| process | start ms | RSS at ready MiB | RSS after GC MiB | heap used MiB |\n|---|---:|---:|---:|---:|\n');
  for (const r of result.idle) process.stdout.write(`| ${r.name} | ${Math.round(r.startMs)} | ${r.rssAtReadyMiB} | ${r.rssAfterGcMiB} | ${r.heapUsedAfterGcMiB} |\n`);
  const l = result.load;
  if (l) {
    process.stdout.write(
      `\nunder load (${l.connections} connections, ${l.seconds} s, ${l.rps} req/s): RSS first ${l.firstMiB}, last ${l.lastMiB}, max ${l.maxMiB} MiB; ` +
        `slope ${l.slopeMiBPerMin} MiB/min (steady ${l.steadySlopeMiBPerMin}); ${l.noGrowth ? 'no growth' : 'GROWTH'} (${l.rule})\n`,
    );
  }
}

if (process.env[PRELOAD_ENV] === '1' && require.main !== module) {
  installGcProbe();
} else if (require.main === module) {
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  main().catch((err: unknown) => {
    process.stderr.write(`memory: ${(err as Error).stack ?? String(err)}\n`);
    void stopAll().then(() => process.exit(1));
  });
}
