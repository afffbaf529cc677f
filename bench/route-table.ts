// Route-table micro-benchmarks: lookup cost against the number of routes and virtual hosts, the
// cookie-regex fast path against re2js, and compile time. Short runs on a shared machine.
//
//   npm run build && node --expose-gc dist/bench/route-table.js
//   BENCH_ITERATIONS=200000 (lookups per measurement, default 200000), BENCH_ROUNDS=5 (best of)

import { RE2JS } from 're2js';
import { compileRouteConfiguration, type RouteTable } from '../src/route/route-table';
import { compileRegex } from '../src/route/regex';
import type { RequestView } from '../src/route/types';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const gc = (globalThis as { gc?: () => void }).gc;

class BenchRequest implements RequestView {
  readonly authority: string;
  readonly path: string;
  readonly method = 'GET';
  readonly scheme = 'http';
  readonly random: number;
  readonly #headers: Map<string, string[]>;
  constructor(authority: string, path: string, random: number, headers: [string, string][] = []) {
    this.authority = authority;
    this.path = path;
    this.random = random;
    this.#headers = new Map(headers.map(([k, v]) => [k, [v]]));
  }
  headerValues(name: string): readonly string[] | undefined {
    return this.#headers.get(name);
  }
}

interface Row {
  name: string;
  nsPerOp: number;
  bytesPerOp: number | null;
}
const rows: Row[] = [];

let sink = 0;

/** Best of ROUNDS: ns per call of fn(i) and heap bytes per call (needs --expose-gc). */
function measure(name: string, n: number, fn: (i: number) => unknown): Row {
  for (let i = 0; i < Math.min(n, 20_000); i++) if (fn(i) !== null) sink++;
  let best = Infinity;
  let bytes: number | null = null;
  for (let r = 0; r < ROUNDS; r++) {
    if (gc) gc();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (fn(i) !== null) sink++;
    const ns = Number(process.hrtime.bigint() - t0) / n;
    const heap1 = process.memoryUsage().heapUsed;
    if (ns < best) best = ns;
    if (gc) bytes = bytes === null ? Math.max(0, (heap1 - heap0) / n) : Math.min(bytes, Math.max(0, (heap1 - heap0) / n));
  }
  const row = { name, nsPerOp: best, bytesPerOp: bytes };
  rows.push(row);
  return row;
}

function routesConfig(n: number, withHeaders: boolean): unknown {
  const routes = [];
  for (let i = 0; i < n; i++) {
    routes.push({
      match: withHeaders && i % 2 === 0 ? { prefix: `/svc${i}/`, headers: [{ name: 'x-env', string_match: { exact: 'prod' } }] } : { prefix: `/svc${i}/` },
      route: i % 10 === 0 ? { weighted_clusters: { clusters: [{ name: `c${i}-v1`, weight: 90 }, { name: `c${i}-v2`, weight: 10 }] } } : { cluster: `c${i}` },
    });
  }
  return { name: 'bench', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] };
}

function compileOrThrow(raw: unknown): RouteTable {
  const res = compileRouteConfiguration(raw);
  if (res.errors) throw new Error(res.errors.join('\n'));
  return res.value;
}

// ---- route lookup vs number of routes -----------------------------------------------------------
for (const n of [10, 1000, 10_000]) {
  const table = compileOrThrow(routesConfig(n, false));
  const iters = Math.max(2000, Math.floor(ITERATIONS / Math.max(1, n / 100)));
  const last = new BenchRequest('a.com', `/svc${n - 1}/items?id=7`, 12345);
  measure(`route(): ${n} routes, match is the last route`, iters, () => table.route(last));
  const mix: BenchRequest[] = [];
  let seed = 1;
  for (let i = 0; i < 1024; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    mix.push(new BenchRequest('a.com', `/svc${seed % n}/x`, seed));
  }
  measure(`route(): ${n} routes, uniform mix`, iters, (i) => table.route(mix[i & 1023] as BenchRequest));
  const miss = new BenchRequest('a.com', '/nothing', 1);
  measure(`route(): ${n} routes, no match (404)`, iters, () => table.route(miss));
}

{
  const table = compileOrThrow(routesConfig(10, false));
  const req = new BenchRequest('a.com', '/svc0/x', 777);
  const route = table.route(req)!;
  measure('route() + selectCluster(): weighted 90/10, first route', ITERATIONS, () => {
    const r = table.route(req);
    return r === null ? null : r.selectCluster(req);
  });
  void route;
}

// ---- virtual host lookup: exact domains, 10 vs 10,000 ----------------------------------------------
// Measured alternately, best of each, so machine noise does not favour one side.
{
  const tables = [10, 10_000].map((n) => {
    const vhosts = [];
    for (let i = 0; i < n; i++) vhosts.push({ name: `vh${i}`, domains: [`host${i}.example.com`, `*.w${i}.example.com`], routes: [] });
    const hosts: string[] = [];
    // 1024 distinct string objects in both cases (joined at run time, not shared constants), so the
    // two sides touch the same amount of memory per pass.
    for (let i = 0; i < 1024; i++) hosts.push(['host', String((i * 7919) % n), '.example.com'].join(''));
    return { n, table: compileOrThrow({ virtual_hosts: vhosts }), hosts, wild: `a.w${n - 1}.example.com` };
  });
  const exact: Row[][] = [[], []];
  const wild: Row[][] = [[], []];
  for (let round = 0; round < 3; round++) {
    tables.forEach(({ n, table, hosts }, k) => {
      exact[k]!.push(measure(`findVirtualHost(): exact domain, ${n} virtual hosts`, ITERATIONS, (i) => table.findVirtualHost(hosts[i & 1023] as string)));
      rows.pop();
    });
    tables.forEach(({ n, table, wild: w }, k) => {
      wild[k]!.push(measure(`findVirtualHost(): suffix wildcard, ${n} virtual hosts`, ITERATIONS, () => table.findVirtualHost(w)));
      rows.pop();
    });
  }
  const best = (list: Row[]): Row => list.reduce((a, b) => (b.nsPerOp < a.nsPerOp ? b : a));
  rows.push(best(exact[0]!), best(exact[1]!), best(wild[0]!), best(wild[1]!));
}

// ---- cookie regex: literal fast path vs re2js ------------------------------------------------------
{
  const cookie =
    '_ga=GA1.2.1234567890.1600000000; session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc; ' +
    'theme=dark; lang=en-US; tz=Europe/Berlin; consent=1; tenantGray=1; _gid=GA1.2.987654321.1600000000';
  const miss = cookie.replace('tenantGray=1', 'tenantGray=0');
  for (const pattern of ['.*tenantGray=1.*', '^(.*?;)?(user=jason)(;.*)?$']) {
    const fast = compileRegex(pattern).matcher!;
    const re = RE2JS.compile(pattern);
    measure(`regex ${pattern}: fast path [${fast.strategy}]`, ITERATIONS, (i) => (fast.matches(i & 1 ? cookie : miss) ? 1 : null));
    measure(`regex ${pattern}: re2js testExact`, Math.floor(ITERATIONS / 10), (i) => (re.testExact(i & 1 ? cookie : miss) ? 1 : null));
  }
  const table = compileOrThrow({
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          { match: { prefix: '/', headers: [{ name: 'cookie', string_match: { safe_regex: { regex: '.*tenantGray=1.*' } } }] }, route: { cluster: 'gray' } },
          { match: { prefix: '/' }, route: { cluster: 'stable' } },
        ],
      },
    ],
  });
  const gray = new BenchRequest('a.com', '/p', 1, [['cookie', cookie]]);
  measure('route(): canary cookie regex route (Istio style)', ITERATIONS, () => table.route(gray));
}

// ---- compile time ---------------------------------------------------------------------------------
const compileRows: { name: string; ms: number }[] = [];
for (const [n, headers] of [
  [10_000, false],
  [10_000, true],
] as const) {
  const raw = routesConfig(n, headers);
  let best = Infinity;
  for (let r = 0; r < Math.max(3, ROUNDS); r++) {
    const t0 = process.hrtime.bigint();
    compileOrThrow(raw);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  compileRows.push({ name: `compile ${n} routes${headers ? ' (half with a header matcher)' : ''}`, ms: best });
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
console.log(`route-table bench (node ${process.version}, iterations ${ITERATIONS}, best of ${ROUNDS}${gc ? '' : ', run with --expose-gc for bytes/op'})`);
console.log(pad('case', 66) + pad('ns/op', 12) + 'bytes/op');
for (const r of rows) {
  console.log(pad(r.name, 66) + pad(r.nsPerOp.toFixed(1), 12) + (r.bytesPerOp === null ? '-' : r.bytesPerOp.toFixed(1)));
}
for (const c of compileRows) console.log(pad(c.name, 66) + `${c.ms.toFixed(1)} ms`);
if (sink === -1) console.log('');
