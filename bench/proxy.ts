// Macro benchmark of the data path (issue 3, section 5): in one run, alternating in rounds, the
// upstream hit directly, weir (built dist/, one process), node-http-proxy with the same 90/10
// random split, and nginx (one process, weighted upstream with keep-alive) when installed.
// Load from wrk (else autocannon) at 1 and 50 connections. Reports medians over the rounds of
// req/s, p50, p99 and the proxy's CPU µs per request, ratios to nginx and node-http-proxy, and the
// p50 weir adds over the direct path; writes bench/results/proxy-<date>.json and the "## Proxy"
// section of bench/RESULTS.md.
//
//   npm run bench:proxy                      BENCH_DURATION=5 BENCH_ROUNDS=5 (defaults)
//   BENCH_DURATION=2 BENCH_ROUNDS=3 npm run bench:proxy     a short run on a shared machine
//   BENCH_CONNECTIONS=1,50  BENCH_TARGETS=direct,weir,node-http-proxy,nginx  (subsets)
//   BENCH_PROFILE=1         run weir under --cpu-prof and list its hottest functions
//   BENCH_TARGETS=...,weir-node   also weir on node:http downstream (downstreamServer 'node'), an A/B
//                                 of the lean downstream server (src/proxy/h1-server.ts) in one run
//   BENCH_WRITE_RESULTS=0   do not rewrite the "## Proxy" section of bench/RESULTS.md (JSON only)

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveCommand, runLoad, type LoadResult, type LoadTool } from './lib/load';
import { cpuMicros, freePort, spawnChild, startChild, waitForPort, type Child } from './lib/procs';
import { summariseProfile, type HotFunction } from './lib/profile';
import { benchBootstrap, staticCluster, weighted } from './lib/bootstrap';

const ROOT = path.join(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,50').split(',').map(Number);
const WARMUP_S = 1;
/** Optional subset, e.g. BENCH_TARGETS=direct,weir (direct is always measured: it is the baseline). */
const ONLY = process.env.BENCH_TARGETS ? new Set(process.env.BENCH_TARGETS.split(',')) : null;
const wanted = (name: string): boolean => ONLY === null || ONLY.has(name);
/** BENCH_PROFILE=1: run weir under `node --cpu-prof` and report its hottest functions. */
const PROFILE = process.env.BENCH_PROFILE === '1';
const SANITY_REQUESTS = 200;

interface PairedRatio {
  connections: number;
  a: string;
  b: string;
  /** Median over rounds of a's req/s / b's req/s in the same round. */
  rps: number;
  /** Median over rounds of a's CPU µs/req / b's. */
  cpu: number;
  rounds: number;
}

type TargetName = 'direct' | 'weir' | 'weir-base' | 'weir-undici' | 'weir-node' | 'node-http-proxy' | 'nginx';
const WRITE_RESULTS = process.env.BENCH_WRITE_RESULTS !== '0';
interface Target {
  name: TargetName;
  port: number;
  /** The process whose CPU is charged to the target (none for direct). */
  child: Child | null;
}

interface Sample extends LoadResult {
  round: number;
  cpuUsPerReq: number;
  /** CPU of the upstream process per request (a bare node:http server answering a constant). */
  upstreamCpuUsPerReq: number;
}

const children: Child[] = [];
/** The upstream process (its CPU during the direct runs is the cost of a bare node:http server). */
let upstreamChild: Child | null = null;
async function stopAll(): Promise<void> {
  await Promise.all(children.map((c) => c.stop()));
}
process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** nginx and wrk come from Debian's packages; try once when running as root, tolerate failure. */
function ensureTools(): void {
  if (haveCommand('nginx') && haveCommand('wrk')) return;
  if (process.getuid?.() !== 0 || !haveCommand('apt-get')) return;
  process.stderr.write('bench: installing nginx and wrk from Debian packages (apt-get)...\n');
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 300_000,
  });
  if (r.status !== 0) process.stderr.write('bench: apt-get failed; continuing with what is installed\n');
}

function weirBootstrap(v1: number, v2: number): string {
  return benchBootstrap({
    name: 'bench',
    routes: [{ match: { prefix: '/' }, route: weighted([['v1', 90], ['v2', 10]]) }],
    clusters: [staticCluster('v1', v1), staticCluster('v2', v2)],
    pretty: true,
  });
}

/** Sends a few requests and checks both versions answer 200 through the target (the split works). */
async function sanityCheck(t: Target): Promise<string> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const seen = new Map<string, number>();
  for (let i = 0; i < SANITY_REQUESTS; i++) {
    const key = await new Promise<string>((resolve) => {
      http
        .get({ host: '127.0.0.1', port: t.port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200 ? String(res.headers['x-version']) : `HTTP ${res.statusCode}`));
        })
        .on('error', (e) => resolve(`error ${e.message}`));
    });
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  agent.destroy();
  const summary = [...seen].map(([k, n]) => `${k}=${n}`).join(' ');
  const bad = [...seen.keys()].filter((k) => k !== 'v1' && k !== 'v2');
  if (bad.length > 0) throw new Error(`${t.name}: sanity check failed: ${summary}`);
  if (t.name !== 'direct' && !(seen.has('v1') && seen.has('v2'))) throw new Error(`${t.name}: does not split: ${summary}`);
  return summary;
}

async function startTargets(tmp: string): Promise<Target[]> {
  const node = process.execPath;
  const up = await startChild('upstream', node, [path.join(DIST, 'bench', 'lib', 'upstream.js')], /^\{"ready":true.*\}$/);
  children.push(up.child);
  upstreamChild = up.child;
  const { v1, v2 } = JSON.parse(up.match[0]) as { v1: number; v2: number };
  const targets: Target[] = [{ name: 'direct', port: v1, child: null }];

  const bootstrap = path.join(tmp, 'weir-bench.json');
  fs.writeFileSync(bootstrap, weirBootstrap(v1, v2));
  if (wanted('weir')) {
  const profArgs = PROFILE ? ['--cpu-prof', '--cpu-prof-dir', path.join(tmp, 'profile')] : [];
  const weir = await startChild(
    'weir',
    node,
    [...profArgs, path.join(DIST, 'src', 'cli', 'main.js'), '-c', bootstrap, '--log-level', 'info'],
    /listener bench listening on [\d.]+:(\d+)/,
  );
  children.push(weir.child);
  targets.push({ name: 'weir', port: Number(weir.match[1]), child: weir.child });
  }

  // Opt-in (BENCH_TARGETS=...,weir-base): weir from another build (WEIR_BASE_DIST, default
  // /tmp/weir-base-dist, a copy of dist/ taken before a change), for an A/B paired per round.
  if (ONLY !== null && ONLY.has('weir-base')) {
    const baseDist = process.env.WEIR_BASE_DIST ?? '/tmp/weir-base-dist';
    const wb = await startChild(
      'weir-base',
      node,
      [path.join(baseDist, 'src', 'cli', 'main.js'), '-c', bootstrap, '--log-level', 'info'],
      /listener bench listening on [\d.]+:(\d+)/,
    );
    children.push(wb.child);
    targets.push({ name: 'weir-base', port: Number(wb.match[1]), child: wb.child });
  }

  // Opt-in (BENCH_TARGETS=...,weir-undici): weir on its second upstream client, `--upstream-client undici`.
  if (ONLY !== null && ONLY.has('weir-undici')) {
    const wu = await startChild(
      'weir-undici',
      node,
      [path.join(DIST, 'src', 'cli', 'main.js'), '-c', bootstrap, '--log-level', 'info', '--upstream-client', 'undici'],
      /listener bench listening on [\d.]+:(\d+)/,
    );
    children.push(wu.child);
    targets.push({ name: 'weir-undici', port: Number(wu.match[1]), child: wu.child });
  }

  // Opt-in (BENCH_TARGETS=...,weir-node): weir with node:http as its downstream server instead of
  // the lean one (bench/lib/weir-downstream.ts forces ProxyServerOptions.downstreamServer).
  if (ONLY !== null && ONLY.has('weir-node')) {
    const wn = await startChild(
      'weir-node',
      node,
      [path.join(DIST, 'bench', 'lib', 'weir-downstream.js'), 'node', '-c', bootstrap, '--log-level', 'info'],
      /listener bench listening on [\d.]+:(\d+)/,
    );
    children.push(wn.child);
    targets.push({ name: 'weir-node', port: Number(wn.match[1]), child: wn.child });
  }

  if (wanted('node-http-proxy')) {
  const hp = await startChild('node-http-proxy', node, [path.join(DIST, 'bench', 'lib', 'http-proxy-peer.js'), String(v1), String(v2)], /^\{"ready":true.*\}$/);
  children.push(hp.child);
  targets.push({ name: 'node-http-proxy', port: (JSON.parse(hp.match[0]) as { port: number }).port, child: hp.child });
  }

  if (wanted('nginx') && haveCommand('nginx')) {
    const port = await freePort();
    const conf = fs
      .readFileSync(path.join(ROOT, 'bench', 'nginx', 'nginx.conf.template'), 'utf8')
      .replaceAll('{{PREFIX}}', tmp)
      .replaceAll('{{PORT}}', String(port))
      .replaceAll('{{V1}}', String(v1))
      .replaceAll('{{V2}}', String(v2));
    fs.writeFileSync(path.join(tmp, 'nginx.conf'), conf);
    // master_process off: the spawned pid is the one process doing the work (CPU is sampled from it).
    const child = spawnChild('nginx', 'nginx', ['-p', tmp, '-c', path.join(tmp, 'nginx.conf'), '-e', path.join(tmp, 'error.log')]);
    children.push(child);
    // nginx prints nothing when it starts; the port answering is its ready signal.
    await waitForPort(port);
    targets.push({ name: 'nginx', port, child });
  }
  return targets;
}

async function measure(tool: LoadTool, t: Target, connections: number, durationS: number, round: number): Promise<Sample> {
  const cpu0 = t.child ? cpuMicros(t.child.pid) : NaN;
  const up0 = upstreamChild ? cpuMicros(upstreamChild.pid) : NaN;
  const r = await runLoad(tool, t.port, connections, durationS);
  const cpu1 = t.child ? cpuMicros(t.child.pid) : NaN;
  const up1 = upstreamChild ? cpuMicros(upstreamChild.pid) : NaN;
  const n = Math.max(1, r.requests);
  return { ...r, round, cpuUsPerReq: (cpu1 - cpu0) / n, upstreamCpuUsPerReq: (up1 - up0) / n };
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

interface Summary {
  target: TargetName;
  connections: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerReq: number;
  upstreamCpuUsPerReq: number;
  errors: number;
  vsNginx: number;
  vsHttpProxy: number;
}

async function main(): Promise<void> {
  ensureTools();
  const tool: LoadTool = haveCommand('wrk') ? 'wrk' : 'autocannon';
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-'));
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(tmp, d));
  const started = new Date();
  let targets: Target[] = [];
  try {
    targets = await startTargets(tmp);
    for (const t of targets) process.stderr.write(`bench: ${t.name} on 127.0.0.1:${t.port}: ${await sanityCheck(t)}\n`);
    // JIT warm-up, not recorded.
    for (const t of targets) await runLoad(tool, t.port, 50, WARMUP_S);

    const samples = new Map<string, Sample[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CONNECTIONS) {
        // Rotate the order every round so no target always runs right after the same neighbour.
        for (let k = 0; k < targets.length; k++) {
          const t = targets[(k + round) % targets.length] as Target;
          const s = await measure(tool, t, c, DURATION_S, round);
          const key = `${t.name}@${c}`;
          if (!samples.has(key)) samples.set(key, []);
          samples.get(key)!.push(s);
          process.stderr.write(
            `round ${round + 1}/${ROUNDS} c=${c} ${t.name.padEnd(15)} ${fmt(s.rps, 0).padStart(7)} req/s  p50 ${fmt(s.p50Ms, 3)} ms  p99 ${fmt(s.p99Ms, 3)} ms  cpu ${fmt(s.cpuUsPerReq, 1)} us/req${s.errors ? `  errors ${s.errors}` : ''}\n`,
          );
        }
      }
    }

    const summaries: Summary[] = [];
    for (const c of CONNECTIONS) {
      const med = (name: TargetName): Summary | undefined => {
        const ss = samples.get(`${name}@${c}`);
        if (!ss) return undefined;
        return {
          target: name,
          connections: c,
          rps: median(ss.map((s) => s.rps)),
          p50Ms: median(ss.map((s) => s.p50Ms)),
          p99Ms: median(ss.map((s) => s.p99Ms)),
          cpuUsPerReq: median(ss.map((s) => s.cpuUsPerReq)),
          upstreamCpuUsPerReq: median(ss.map((s) => s.upstreamCpuUsPerReq)),
          errors: ss.reduce((a, s) => a + s.errors, 0),
          vsNginx: NaN,
          vsHttpProxy: NaN,
        };
      };
      const rows = targets.map((t) => med(t.name)).filter((x): x is Summary => x !== undefined);
      const ng = rows.find((r) => r.target === 'nginx');
      const hp = rows.find((r) => r.target === 'node-http-proxy');
      for (const r of rows) {
        r.vsNginx = ng ? r.rps / ng.rps : NaN;
        r.vsHttpProxy = hp ? r.rps / hp.rps : NaN;
        summaries.push(r);
      }
    }

    const get = (name: TargetName, c: number): Summary | undefined => summaries.find((s) => s.target === name && s.connections === c);
    const w50 = get('weir', 50);
    const w1 = get('weir', 1);
    const d1 = get('direct', 1);
    const addedP50 = w1 && d1 ? w1.p50Ms - d1.p50Ms : NaN;
    const checks = [
      { target: 'weir >= 1.6x node-http-proxy at 50 connections', value: w50?.vsHttpProxy ?? NaN, ok: (w50?.vsHttpProxy ?? 0) >= 1.6 },
      { target: 'weir >= 0.6x nginx at 50 connections', value: w50?.vsNginx ?? NaN, ok: (w50?.vsNginx ?? 0) >= 0.6 },
      { target: 'weir adds <= 0.1 ms to p50 over direct at 1 connection', value: addedP50, ok: addedP50 <= 0.1 },
    ];

    // Paired per round: each round measures every target back to back, so the ratio within a round
    // cancels load that moves between rounds (other jobs on a shared machine); the median of those
    // ratios is reported next to the ratio of the medians above.
    const paired: PairedRatio[] = [];
    for (const c of CONNECTIONS) {
      for (const [a, b] of [['weir', 'nginx'], ['weir', 'node-http-proxy'], ['weir', 'weir-node'], ['weir-node', 'nginx'], ['weir', 'weir-base']] as const) {
        const sa = samples.get(`${a}@${c}`);
        const sb = samples.get(`${b}@${c}`);
        if (!sa || !sb) continue;
        const n = Math.min(sa.length, sb.length);
        const rps: number[] = [];
        const cpu: number[] = [];
        for (let i = 0; i < n; i++) {
          rps.push(sa[i]!.rps / sb[i]!.rps);
          cpu.push(sa[i]!.cpuUsPerReq / sb[i]!.cpuUsPerReq);
        }
        paired.push({ connections: c, a, b, rps: median(rps), cpu: median(cpu), rounds: n });
      }
    }

    const env = {
      date: started.toISOString(),
      node: process.version,
      cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
      load: tool,
      nginx: haveCommand('nginx') ? (spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim()) : 'not installed',
      durationS: DURATION_S,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      command: `BENCH_DURATION=${DURATION_S} BENCH_ROUNDS=${ROUNDS}${PROFILE ? ' BENCH_PROFILE=1' : ''} npm run bench:proxy`,
    };
    let hot: HotFunction[] = [];
    const weirTarget = targets.find((t) => t.name === 'weir');
    if (PROFILE && weirTarget?.child) {
      // The profile is written when weir exits (SIGTERM: drain, then exit).
      await weirTarget.child.stop();
      const dir = path.join(tmp, 'profile');
      const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) : undefined;
      if (file) hot = summariseProfile(path.join(dir, file), ROOT);
      else process.stderr.write('bench: no weir CPU profile was written\n');
    }
    const resultsDir = path.join(ROOT, 'bench', 'results');
    fs.mkdirSync(resultsDir, { recursive: true });
    const jsonPath = path.join(resultsDir, `proxy-${started.toISOString().slice(0, 16).replace(':', '-')}.json`);
    fs.writeFileSync(jsonPath, JSON.stringify({ env, summaries, checks, paired, profile: hot, samples: Object.fromEntries(samples) }, null, 2) + '\n');

    const md = renderSection(env, summaries, checks, addedP50, path.relative(path.join(ROOT, 'bench'), jsonPath), hot, paired);
    process.stdout.write(md + '\n');
    if (WRITE_RESULTS) {
      writeResultsSection(path.join(ROOT, 'bench', 'RESULTS.md'), md);
      process.stderr.write(`bench: wrote ${path.relative(ROOT, jsonPath)} and the "## Proxy" section of bench/RESULTS.md\n`);
    } else process.stderr.write(`bench: wrote ${path.relative(ROOT, jsonPath)} (BENCH_WRITE_RESULTS=0: RESULTS.md untouched)\n`);
  } finally {
    await stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function renderSection(
  env: { date: string; node: string; cpus: string; load: string; nginx: string; durationS: number; rounds: number; command: string },
  summaries: Summary[],
  checks: { target: string; value: number; ok: boolean }[],
  addedP50: number,
  jsonRel: string,
  hot: HotFunction[],
  paired: PairedRatio[] = [],
): string {
  const lines: string[] = [];
  lines.push('## Proxy', '');
  lines.push(
    `Measured ${env.date.slice(0, 16).replace('T', ' ')} UTC with \`${env.command}\` (${env.cpus}, Node ${env.node}, ${env.nginx}, load from ${env.load}; ` +
      `${env.durationS} s per run, median of ${env.rounds} rounds, targets alternating within each round). ` +
      'Upstream: two minimal node:http servers in their own process; every proxy splits 90/10 between them. ' +
      'weir: built dist/, one process; node-http-proxy: `http-proxy` with a keep-alive agent, random split; nginx: one process (`master_process off`), `upstream { server a weight=9; server b weight=1; keepalive 64; }`. ' +
      'CPU is the proxy process\'s utime+stime per request (from /proc). Raw samples: ' + `\`bench/${jsonRel}\`.`,
    '',
  );
  if (env.durationS < 5 || env.rounds < 5)
    lines.push('_A short run (below the 5 s x 5 rounds defaults), possibly on a shared machine: indicative only._', '');
  lines.push('| connections | target | req/s | p50 ms | p99 ms | proxy CPU µs/req | vs nginx | vs node-http-proxy |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const s of summaries) {
    lines.push(
      `| ${s.connections} | ${s.target} | ${fmt(s.rps, 0)} | ${fmt(s.p50Ms, 3)} | ${fmt(s.p99Ms, 3)} | ${s.target === 'direct' ? '-' : fmt(s.cpuUsPerReq, 1)} | ${fmt(s.vsNginx)}x | ${fmt(s.vsHttpProxy)}x |` +
        (s.errors ? ` (${s.errors} errors)` : ''),
    );
  }
  lines.push('', `p50 latency weir adds over the direct path at 1 connection: ${fmt(addedP50, 3)} ms.`, '');
  // The floor for any node:http-based proxy: its downstream half alone is a node:http server.
  const floor = summaries.filter((s) => s.target === 'direct').map((s) => `${fmt(s.upstreamCpuUsPerReq, 1)} µs at ${s.connections} connection${s.connections === 1 ? '' : 's'}`);
  if (floor.length > 0) {
    lines.push(
      `A bare node:http server answering a constant (the upstream process, measured during the direct runs) costs ${floor.join(', ')} of CPU per request: ` +
        'the floor for the downstream half of any proxy built on node:http, before it makes its own upstream request.',
      '',
    );
  }
  if (paired.length > 0) {
    lines.push(
      'Paired per round (the median over rounds of each round\'s ratio; a round runs every target back to back, so load that moves between rounds cancels):',
      '',
      '| connections | ratio | req/s | CPU µs/req | rounds |',
      '|---:|---|---:|---:|---:|',
    );
    for (const p of paired) lines.push(`| ${p.connections} | ${p.a} / ${p.b} | ${fmt(p.rps)}x | ${fmt(p.cpu)}x | ${p.rounds} |`);
    lines.push('');
  }
  lines.push('| target (issue 3) | measured | met |', '|---|---:|---|');
  for (const c of checks) lines.push(`| ${c.target} | ${fmt(c.value, c.target.includes('ms') ? 3 : 2)} | ${c.ok ? 'yes' : 'no'} |`);
  if (hot.length > 0) {
    lines.push('', 'weir\'s hottest functions by self time, as a share of its busy time over the whole run (`BENCH_PROFILE=1`, `node --cpu-prof`):', '');
    lines.push('| self % | function | where |', '|---:|---|---|');
    for (const h of hot) lines.push(`| ${h.selfPct.toFixed(1)} | \`${h.name}\` | ${h.where} |`);
  }
  return lines.join('\n') + '\n';
}

/** Replaces the "## Proxy" section of RESULTS.md (up to the next "## " heading), or appends it. */
export function writeResultsSection(file: string, section: string): void {
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# weir benchmark results\n\n';
  const start = text.search(/^## Proxy\s*$/m);
  if (start < 0) {
    text = text.replace(/\n*$/, '\n\n') + section;
  } else {
    const after = text.slice(start + 1).search(/^## /m);
    const end = after < 0 ? text.length : start + 1 + after;
    text = text.slice(0, start) + section + (end < text.length ? '\n' + text.slice(end) : '');
  }
  fs.writeFileSync(file, text);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    void stopAll().then(() => process.exit(1));
  });
}
