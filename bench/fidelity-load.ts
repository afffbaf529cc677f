// Split fidelity under load (issue 7 section 2): for each pick mode, does a 90/10 split come out
// 90/10 while 50 connections hammer the proxy? Measured by `weir fidelity` (runFidelity) through
// weir and, when installed, through nginx configured as close to each mode as nginx gets.
//
//   npm run build && node dist/bench/fidelity-load.js [--json] [--svg-dir DIR]
//   BENCH_FIDELITY_REQUESTS=50000  BENCH_FIDELITY_USERS=5000  BENCH_FIDELITY_CONNECTIONS=50
//   BENCH_FIDELITY_PROXIES=weir,nginx  BENCH_FIDELITY_MODES=random,sticky,smooth
//
// Setup: two version upstreams (bench/lib/upstream.ts, own process, each answers `x-version`).
// weir: one process, one route per mode, each `weighted_clusters` v1=90 / v2=10 with the mode in
// route `metadata.filter_metadata.weir.pick_mode` (sticky: `sticky_key: {cookie: user}`).
// nginx (one process, one upstream block per mode, keep-alive):
//   random -> `random;` (ngx_http_upstream_random_module: weighted, independent draws)
//   sticky -> `hash $cookie_user consistent;` (ketama: weights scale the points on the ring)
//   smooth -> the default weighted round robin (nginx's is smooth WRR: deterministic)
// Every run sends K users round-robin as cookie `user=user-<i>` so the share of users who saw
// more than one version is measured in every mode; sticky is tested by users (each user is one
// sample), the others by requests.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FidelityReport } from '../src/fidelity/analyze';
import { formatTable } from '../src/fidelity/report';
import { FIDELITY_DEFAULTS, runFidelity, type FidelityOptions } from '../src/fidelity/run-fidelity';
import { renderSvg } from '../src/fidelity/svg';
import { haveCommand } from './lib/load';
import { freePort, spawnChild, startChild, waitForPort, type Child } from './lib/procs';
import { benchBootstrap, staticCluster, weighted } from './lib/bootstrap';

export type FidelityMode = 'random' | 'sticky' | 'smooth';
export type FidelityProxy = 'weir' | 'nginx';
export const FIDELITY_MODES: readonly FidelityMode[] = ['random', 'sticky', 'smooth'];
const WEIGHTS = { v1: 90, v2: 10 } as const;
const USER_COOKIE = 'user';

export interface FidelityLoadOptions {
  readonly requests: number;
  readonly users: number;
  readonly connections: number;
  readonly modes: readonly FidelityMode[];
  readonly proxies: readonly FidelityProxy[];
}

/** The figures of one (proxy, mode) run, flattened for tables and charts. */
export interface FidelityCase {
  readonly proxy: FidelityProxy;
  readonly mode: FidelityMode;
  /** How the proxy was configured for this mode. */
  readonly config: string;
  readonly unit: 'requests' | 'users';
  readonly n: number;
  readonly sent: number;
  readonly errors: number;
  readonly unclassified: number;
  readonly requestsPerSecond: number;
  readonly versions: readonly { version: string; target: number; count: number; share: number; interval: readonly [number, number] }[];
  /** Chi-square p-value of the tested split (by `unit`). */
  readonly pValue: number;
  /** Chi-square p-value of the split by requests (every mode). */
  readonly pValueRequests: number;
  readonly worstWindow: null | { size: number; version: string; deviationRequests: number; randomSd: number };
  readonly usersSeen: number;
  readonly multiVersionShare: number | null;
  readonly pass: boolean;
  readonly verdict: string;
  readonly svg: string | null;
}

export interface FidelityLoadResult {
  readonly date: string;
  readonly node: string;
  readonly nginx: string;
  readonly options: FidelityLoadOptions;
  readonly weights: typeof WEIGHTS;
  readonly cases: readonly FidelityCase[];
  /** Proxies asked for but not run, with why. */
  readonly skipped: readonly { proxy: string; reason: string }[];
  readonly reports: readonly FidelityReport[];
}

const children: Child[] = [];
async function stopAll(): Promise<void> {
  await Promise.all(children.splice(0).map((c) => c.stop()));
}

function weirBootstrap(v1: number, v2: number): string {
  const route = (mode: FidelityMode): object => ({
    match: { prefix: '/' + mode + '/' },
    route: weighted([['v1', WEIGHTS.v1], ['v2', WEIGHTS.v2]]),
    metadata: { filter_metadata: { weir: mode === 'sticky' ? { pick_mode: mode, sticky_key: { cookie: USER_COOKIE } } : { pick_mode: mode } } },
  });
  return benchBootstrap({ name: 'fidelity', routes: FIDELITY_MODES.map(route), clusters: [staticCluster('v1', v1), staticCluster('v2', v2)], pretty: true });
}

/** nginx directive per mode (placed before `keepalive`, as nginx requires for non-default methods). */
const NGINX_METHOD: Record<FidelityMode, string> = {
  random: 'random;',
  sticky: 'hash $cookie_' + USER_COOKIE + ' consistent;',
  smooth: '',
};
const NGINX_DESCRIPTION: Record<FidelityMode, string> = {
  random: 'nginx `random` (weighted)',
  sticky: 'nginx `hash $cookie_user consistent` (weighted ketama)',
  smooth: 'nginx weighted round robin (smooth WRR)',
};
const WEIR_DESCRIPTION: Record<FidelityMode, string> = {
  random: 'weir `pick_mode: random` (Envoy-compatible)',
  sticky: 'weir `pick_mode: sticky`, `sticky_key: {cookie: user}`',
  smooth: 'weir `pick_mode: smooth`',
};

function nginxConf(prefix: string, port: number, v1: number, v2: number): string {
  const upstreams = FIDELITY_MODES.map(
    (m) =>
      `    upstream split_${m} {\n` +
      (NGINX_METHOD[m] ? `        ${NGINX_METHOD[m]}\n` : '') +
      `        server 127.0.0.1:${v1} weight=${WEIGHTS.v1};\n        server 127.0.0.1:${v2} weight=${WEIGHTS.v2};\n        keepalive 64;\n    }\n`,
  ).join('');
  const locations = FIDELITY_MODES.map(
    (m) => `        location /${m}/ {\n            proxy_pass http://split_${m};\n            proxy_http_version 1.1;\n            proxy_set_header Connection "";\n        }\n`,
  ).join('');
  return `daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${prefix}/client_body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;
    keepalive_requests 1000000;
${upstreams}    server {
        listen 127.0.0.1:${port};
${locations}    }
}
`;
}

function summarise(proxy: FidelityProxy, mode: FidelityMode, report: FidelityReport, svg: string | null): FidelityCase {
  const tested = report.settings.splitUnit === 'users' && report.users !== null ? report.users.split : report.requests;
  const w = report.windows.worst;
  return {
    proxy,
    mode,
    config: proxy === 'weir' ? WEIR_DESCRIPTION[mode] : NGINX_DESCRIPTION[mode],
    unit: tested.unit,
    n: tested.n,
    sent: report.traffic.sent,
    errors: report.traffic.errors,
    unclassified: report.traffic.unclassified,
    requestsPerSecond: report.traffic.requestsPerSecond,
    versions: tested.versions.map((v) => ({ version: v.version, target: v.target, count: v.count, share: v.share, interval: v.interval })),
    pValue: tested.chiSquare.pValue,
    pValueRequests: report.requests.chiSquare.pValue,
    worstWindow: w === null ? null : { size: report.windows.size, version: w.version, deviationRequests: w.deviationRequests, randomSd: w.randomSd },
    usersSeen: report.users?.seen ?? 0,
    multiVersionShare: report.users?.multiVersionShare ?? null,
    pass: report.verdict.pass,
    verdict: report.verdict.summary,
    svg,
  };
}

function fidelityOptions(port: number, mode: FidelityMode, requests: number, options: FidelityLoadOptions): FidelityOptions {
  const sticky = mode === 'sticky';
  return {
    url: `http://127.0.0.1:${port}/${mode}/`,
    expect: [
      { version: 'v1', weight: WEIGHTS.v1 },
      { version: 'v2', weight: WEIGHTS.v2 },
    ],
    classify: { kind: 'header', name: 'x-version' },
    method: 'GET',
    headers: [],
    requests,
    durationMs: null,
    connections: options.connections,
    users: { count: options.users, cookie: USER_COOKIE, order: 'round-robin', seed: 1 },
    alpha: FIDELITY_DEFAULTS.alpha,
    tolerance: FIDELITY_DEFAULTS.tolerance,
    window: FIDELITY_DEFAULTS.window,
    // Sticky assigns users, not requests: each user is one sample, and one user seeing two
    // versions is a failure.
    expectSticky: sticky,
    splitUnit: sticky ? 'users' : 'requests',
    maxErrorRate: FIDELITY_DEFAULTS.maxErrorRate,
    maxUnclassifiedRate: FIDELITY_DEFAULTS.maxUnclassifiedRate,
    timeoutMs: FIDELITY_DEFAULTS.timeoutMs,
  };
}

export async function runFidelityLoad(options: FidelityLoadOptions, svgDir: string | null = null, log: (s: string) => void = () => {}): Promise<FidelityLoadResult> {
  const root = path.join(__dirname, '..', '..');
  const node = process.execPath;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-fidelity-'));
  const skipped: { proxy: string; reason: string }[] = [];
  const cases: FidelityCase[] = [];
  const reports: FidelityReport[] = [];
  const ports = new Map<FidelityProxy, number>();
  const nginxVersion = haveCommand('nginx') ? spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim() : 'not installed';
  try {
    const up = await startChild('upstream', node, [path.join(__dirname, 'lib', 'upstream.js')], /^\{"ready":true.*\}$/);
    children.push(up.child);
    const { v1, v2 } = JSON.parse(up.match[0]) as { v1: number; v2: number };

    if (options.proxies.includes('weir')) {
      const bootstrap = path.join(tmp, 'weir-fidelity.json');
      fs.writeFileSync(bootstrap, weirBootstrap(v1, v2));
      const weir = await startChild('weir', node, [path.join(root, 'dist', 'src', 'cli', 'main.js'), '-c', bootstrap, '--log-level', 'info'], /listener fidelity listening on [\d.]+:(\d+)/);
      children.push(weir.child);
      ports.set('weir', Number(weir.match[1]));
    }
    if (options.proxies.includes('nginx')) {
      if (!haveCommand('nginx')) {
        skipped.push({ proxy: 'nginx', reason: 'not installed' });
      } else {
        for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(tmp, d));
        const port = await freePort();
        const conf = path.join(tmp, 'nginx.conf');
        fs.writeFileSync(conf, nginxConf(tmp, port, v1, v2));
        const child = spawnChild('nginx', 'nginx', ['-p', tmp, '-c', conf, '-e', path.join(tmp, 'error.log')]);
        children.push(child);
        try {
          await waitForPort(port);
          ports.set('nginx', port);
        } catch (err) {
          skipped.push({ proxy: 'nginx', reason: `did not start: ${(err as Error).message} ${child.output().slice(0, 300)}` });
        }
      }
    }

    // JIT warm-up, not recorded: a cold weir answers its first thousand requests several times slower.
    for (const [, port] of ports) for (const mode of options.modes) await runFidelity(fidelityOptions(port, mode, Math.min(2000, options.requests), options));

    for (const mode of options.modes) {
      for (const proxy of options.proxies) {
        const port = ports.get(proxy);
        if (port === undefined) continue;
        let report: FidelityReport;
        try {
          report = await runFidelity(fidelityOptions(port, mode, options.requests, options));
        } catch (err) {
          // One broken run (a proxy that died) must not lose the others.
          skipped.push({ proxy: `${proxy} ${mode}`, reason: (err as Error).message });
          log(`fidelity ${proxy} ${mode}: ${(err as Error).message}\n`);
          continue;
        }
        let svg: string | null = null;
        if (svgDir !== null) {
          svg = path.join(svgDir, `fidelity-${proxy}-${mode}.svg`);
          fs.writeFileSync(svg, renderSvg(report));
        }
        reports.push(report);
        const c = summarise(proxy, mode, report, svg);
        cases.push(c);
        log(
          `fidelity ${proxy.padEnd(5)} ${mode.padEnd(6)} ${c.unit} n=${c.n} v2 ${(c.versions[1]!.share * 100).toFixed(2)}% ` +
            `[${(c.versions[1]!.interval[0] * 100).toFixed(2)}, ${(c.versions[1]!.interval[1] * 100).toFixed(2)}] p=${c.pValue.toPrecision(3)} ` +
            `worst window ${c.worstWindow ? c.worstWindow.deviationRequests.toFixed(1) : '-'} users>1 version ${c.multiVersionShare === null ? '-' : (c.multiVersionShare * 100).toFixed(1) + '%'} ` +
            `${Math.round(c.requestsPerSecond)} req/s ${c.pass ? 'PASS' : 'FAIL'}\n`,
        );
      }
    }
  } finally {
    await stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { date: new Date().toISOString(), node: process.version, nginx: nginxVersion, options, weights: WEIGHTS, cases, skipped, reports };
}

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : fallback;
}

export function fidelityOptionsFromEnv(quick: boolean): FidelityLoadOptions {
  const list = <T extends string>(name: string, all: readonly T[]): T[] => {
    const v = process.env[name];
    return v ? (v.split(',').filter((x) => (all as readonly string[]).includes(x)) as T[]) : [...all];
  };
  return {
    requests: envInt('BENCH_FIDELITY_REQUESTS', quick ? 10_000 : 50_000),
    users: envInt('BENCH_FIDELITY_USERS', quick ? 1_000 : 5_000),
    connections: envInt('BENCH_FIDELITY_CONNECTIONS', 50),
    modes: list('BENCH_FIDELITY_MODES', FIDELITY_MODES),
    proxies: list<FidelityProxy>('BENCH_FIDELITY_PROXIES', ['weir', 'nginx']),
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const svgAt = argv.indexOf('--svg-dir');
  const svgDir = svgAt >= 0 ? (argv[svgAt + 1] ?? null) : null;
  if (svgDir !== null) fs.mkdirSync(svgDir, { recursive: true });
  const options = fidelityOptionsFromEnv(process.env.BENCH_QUICK === '1');
  const result = await runFidelityLoad(options, svgDir, (s) => process.stderr.write(s));
  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  for (const r of result.reports) process.stdout.write(formatTable(r) + '\n');
}

if (require.main === module) {
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  main().catch((err: unknown) => {
    process.stderr.write(`fidelity-load: ${(err as Error).stack ?? String(err)}\n`);
    void stopAll().then(() => process.exit(1));
  });
}
