// xDS update-to-effect latency (issue 4 section 6): from the control plane's send of a new
// RouteConfiguration to the first request routed by it, p50 / p99 over UPDATES pushes, for route
// configs of ROUTES routes; and two weir processes on one control plane: how far apart they start
// routing by the same update.
//
// Run: npm run build && node dist/bench/xds-update-latency.js
//   ROUTES=10,1000  UPDATES=200  TWO_PROCESS_ROUTES=1000 (0 = skip the two-process part)
//   WEIR_ARGS="--disable-metrics" (extra flags for the two weir processes),
//   WEIR_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (node flags for them)
//   CP_ENCODE=ahead (default) | inline: when the fake control plane encodes each update (below)
//   CHANGE=all (default) | one: every route changes, or one virtual host of many (routeConfig)
//   PROBE_GAP_MS=0 (default: requests back to back) | n: the probe waits n ms after each response.
//     Back to back, each probe keeps its weir busy serving it (in the two-process run that is two
//     weir processes, the bench process and the upstream competing for 2 cores while an update is
//     applied); with a gap the probe costs little, and the measured time can be up to n ms (plus
//     timer lateness) later than the first request the new config could have routed.
//
// Setup (one machine, loopback): the fake control plane (test/helpers/fake-ads-server.ts) and the
// probes run in this process; the upstream runs in its own process (bench/lib/upstream.ts).
// - "in-process": a real ProxyServer fed by an ADS client built by adsClientFromBootstrap, compile =
//   compileSnapshot, apply = ProxyServer.apply (the wiring `weir -c` uses), in this process.
// - "two processes": two `node dist/src/cli/main.js -c <bootstrap with dynamic_resources>`.
// Every route config adds a route-config level response header `x-cfg: <update number>`; a probe
// sends requests back to back on one keep-alive connection to the LAST route (/svc<N-1>/, the
// slowest match) and the clock stops at the first response carrying the new number. Each route is
// a 2-way weighted split between two EDS clusters. The clock starts once the fake server has
// written the response. The probe's own round trip (~0.1-0.3 ms) is included.
// CP_ENCODE: a real control plane runs in its own process; here it shares the bench process (and,
// in-process, weir's event loop and heap). With `ahead` every update's RouteConfiguration is
// encoded before the measured loop and sent as is (FakeAdsServer.sendRaw, auto-responses off once
// the first config is applied), so the control plane's encoding (~10 ms of CPU and ~1 MB of garbage
// per 1,000-route update, all before the clock starts) does not land in weir's event loop or young
// generation during the measurement. `inline` is the older setup: setResources per update, which
// encodes synchronously right before the clock starts. What is timed is the same in both.
// The in-process run also reports the GC pauses (perf_hooks) and event-loop delay seen during the
// measured loop, so a tail can be told apart from a collection.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Pool } from 'undici';
import { TYPE_URL, type ResourceSet } from '../src/config/resources';
import { ProxyServer } from '../src/proxy/proxy-server';
import { compileSnapshot } from '../src/proxy/snapshot';
import { defaultRouteCompiler } from '../src/proxy/route-binding';
import { cachedRouteCompiler } from '../src/xds/route-compile-cache';
import { adsClientFromBootstrap } from '../src/xds/xds-source';
import { FakeAdsServer } from '../test/helpers/fake-ads-server';
import { startChild, type Child } from './lib/procs';
import { rdsListener, staticCluster } from './lib/bootstrap';

const L = TYPE_URL.LISTENER;
const R = TYPE_URL.ROUTE_CONFIGURATION;
const C = TYPE_URL.CLUSTER;
const E = TYPE_URL.CLUSTER_LOAD_ASSIGNMENT;
const TAG = 'x-cfg';

/**
 * CHANGE=all (default): one virtual host of n routes; every update changes every route's weights
 * and a route-config level header (the worst case: nothing can be reused).
 * CHANGE=one: istiod's shape, one virtual host per service (n / 10 hosts of 10 routes, domains
 * svc<i>); every update changes only the last host's weights and a header of that host (one
 * VirtualService edited), the other hosts' bytes stay the same. The probe asks the last host.
 */
const CHANGE_ONE = process.env.CHANGE === 'one';
const HOST_ROUTES = 10;

function routeConfig(n: number, w: number, tag: string): object {
  if (CHANGE_ONE) {
    const hosts = Math.max(1, Math.floor(n / HOST_ROUTES));
    const virtual_hosts = [];
    for (let h = 0; h < hosts; h++) {
      const last = h === hosts - 1;
      const routes = [];
      for (let i = 0; i < HOST_ROUTES; i++) {
        const ww = last ? w : 10;
        routes.push({
          match: { prefix: `/svc${h * HOST_ROUTES + i}/` },
          route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 100 - ww }, { name: 'v2', weight: ww }] } },
        });
      }
      virtual_hosts.push({
        name: `svc${h}`,
        domains: [last ? '*' : `svc${h}`],
        routes,
        ...(last ? { response_headers_to_add: [{ header: { key: TAG, value: tag } }] } : {}),
      });
    }
    return { name: 'r', virtual_hosts };
  }
  const routes = [];
  for (let i = 0; i < n; i++) {
    routes.push({
      match: { prefix: `/svc${i}/` },
      route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 100 - w }, { name: 'v2', weight: w }] } },
    });
  }
  return { name: 'r', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }], response_headers_to_add: [{ header: { key: TAG, value: tag } }] };
}

function seed(server: FakeAdsServer, n: number, up: { v1: number; v2: number }): void {
  server.setResources(C, ['v1', 'v2'].map((name) => ({ name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {} } } })));
  server.setResources(
    E,
    (['v1', 'v2'] as const).map((name) => ({
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: up[name] } } } }] }],
    })),
  );
  server.setResources(L, [rdsListener('l', 'r')]);
  server.setResources(R, [routeConfig(n, 10, '0')]);
}

/** Requests back to back on one keep-alive connection; reports when a response first carries a tag. */
const PROBE_GAP_MS = Number(process.env.PROBE_GAP_MS ?? 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Probe {
  #pool: Pool;
  #stopped = false;
  #want = '';
  #resolve: ((t: bigint) => void) | null = null;
  #done: Promise<void>;
  errors = 0;
  requests = 0;

  constructor(port: number, pathName: string) {
    this.#pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
    this.#done = this.#run(pathName);
  }

  async #run(pathName: string): Promise<void> {
    {
      while (!this.#stopped) {
        try {
          const r = await this.#pool.request({ path: pathName, method: 'GET' });
          await r.body.dump();
          this.requests++;
          if (r.statusCode !== 200) this.errors++;
          if (this.#resolve && r.headers[TAG] === this.#want) {
            const f = this.#resolve;
            this.#resolve = null;
            f(process.hrtime.bigint());
          } else if (PROBE_GAP_MS > 0) {
            await sleep(PROBE_GAP_MS);
          }
        } catch {
          this.errors++;
        }
      }
    }
  }

  /** Resolves with the arrival time of the first response tagged `tag`. */
  next(tag: string): Promise<bigint> {
    this.#want = tag;
    return new Promise((resolve) => (this.#resolve = resolve));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
    await this.#pool.close();
  }
}

interface Stats {
  p50: number;
  p99: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = xs.slice().sort((a, b) => a - b);
  const q = (p: number): number => Number(s[Math.min(s.length - 1, Math.floor(s.length * p))]!.toFixed(2));
  return { p50: q(0.5), p99: q(0.99), max: Number(s[s.length - 1]!.toFixed(2)) };
}

const ms = (a: bigint, b: bigint): number => Number(b - a) / 1e6;

const ENCODE_AHEAD = (process.env.CP_ENCODE ?? 'ahead') !== 'inline';

/** The last route (the slowest match), in the virtual host that changes. */
function probePath(n: number): string {
  return CHANGE_ONE ? `/svc${Math.max(1, Math.floor(n / HOST_ROUTES)) * HOST_ROUTES - 1}/x` : `/svc${n - 1}/x`;
}

/**
 * How the control plane sends update `i`: `prepare` (before the measured loop) encodes every update
 * when CP_ENCODE=ahead; `send` pushes update i (setResources, or sendRaw of the prepared bytes).
 */
class Updates {
  #pre: ReturnType<FakeAdsServer['encode']>[] = [];
  constructor(
    readonly server: FakeAdsServer,
    readonly n: number,
  ) {}
  prepare(count: number): void {
    if (!ENCODE_AHEAD) return;
    for (let i = 1; i <= count; i++) this.#pre.push(this.server.encode(R, routeConfig(this.n, i % 100 || 100, String(i))));
    // From here on the bench answers nothing by itself: a stored (seed) RDS version must not be
    // re-sent in reply to the ACK of a raw update.
    this.server.autoRespond = false;
  }
  send(i: number): void {
    if (!ENCODE_AHEAD) this.server.setResources(R, [routeConfig(this.n, i % 100 || 100, String(i))]);
    else {
      // To every open stream (sendRaw alone answers the newest): one per weir process.
      const resp = { type_url: R, version_info: `raw-${i}`, resources: [this.#pre[i - 1]!] };
      for (let id = 1; id <= this.server.streamCount; id++) {
        try {
          this.server.sendRaw(resp, id);
        } catch {
          // a stream that is closed (a reconnect made a newer one)
        }
      }
    }
  }
}

/** GC pauses and event-loop delay while the measured loop runs (in this process). */
function watchProcess(): () => { gcPauses: number; gcMaxMs: number; gcOver10Ms: number; gcTotalMs: number; loopDelayP99Ms: number; loopDelayMaxMs: number } {
  const pauses: number[] = [];
  const obs = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) pauses.push(e.duration);
  });
  obs.observe({ entryTypes: ['gc'] });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return () => {
    obs.disconnect();
    h.disable();
    const r = (x: number): number => Math.round(x * 10) / 10;
    return {
      gcPauses: pauses.length,
      gcMaxMs: r(Math.max(0, ...pauses)),
      gcOver10Ms: pauses.filter((d) => d > 10).length,
      gcTotalMs: r(pauses.reduce((a, b) => a + b, 0)),
      loopDelayP99Ms: r(h.percentile(99) / 1e6),
      loopDelayMaxMs: r(h.max / 1e6),
    };
  };
}

async function inProcess(n: number, updates: number, up: { v1: number; v2: number }, cache: boolean) {
  const server = await FakeAdsServer.start();
  seed(server, n, up);
  // As `weir -c` wires it: validation and serving share one route compile per RouteConfiguration.
  const compileRoutes = cache ? cachedRouteCompiler(defaultRouteCompiler()) : defaultRouteCompiler();
  const proxy = new ProxyServer({ drainTimeMs: 1000, snapshotOptions: { compileRoutes } });
  const staticSet: ResourceSet = {
    listeners: [],
    routeConfigurations: [],
    clusters: [
      staticCluster('xds-grpc', server.port),
    ],
    clusterLoadAssignments: [],
    versionInfo: 'static',
  };
  const client = adsClientFromBootstrap({
    bootstrap: {
      resources: staticSet,
      node: { id: 'bench', cluster: 'bench' },
      dynamicResources: { ads_config: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] }, lds_config: { ads: {} }, cds_config: { ads: {} } },
    },
    compile: (s) => compileSnapshot(s, { compileRoutes }).errors ?? [],
    apply: (s) => proxy.apply(s),
  }).value!;
  let answeredAt = 0n;
  client.events.on('response', (e: { typeUrl: string }) => {
    if (e.typeUrl === R) answeredAt = process.hrtime.bigint();
  });
  let onApplied: (() => void) | null = null;
  client.events.on('applied', () => onApplied?.());
  const first = new Promise<void>((r) => (onApplied = r));
  client.start();
  await first;
  const port = proxy.listeners()[0]!.port;
  const sender = new Updates(server, n);
  sender.prepare(updates);
  const probe = new Probe(port, probePath(n));
  const effect: number[] = [];
  const apply: number[] = [];
  const answer: number[] = [];
  const watch = watchProcess();
  for (let i = 1; i <= updates; i++) {
    const tag = String(i);
    const seen = probe.next(tag);
    let appliedAt = 0n;
    const applied = new Promise<void>((r) => (onApplied = () => ((appliedAt = process.hrtime.bigint()), r())));
    sender.send(i);
    const t0 = process.hrtime.bigint();
    const t1 = await seen;
    await applied;
    effect.push(ms(t0, t1));
    apply.push(ms(t0, appliedAt));
    answer.push(ms(t0, answeredAt));
  }
  const proc = watch();
  const requests = probe.requests;
  const errors = probe.errors;
  await probe.stop();
  await client.stop();
  await proxy.close();
  await server.close();
  return {
    routes: n,
    updates,
    routeCompileCache: cache,
    controlPlaneEncode: ENCODE_AHEAD ? 'ahead' : 'inline',
    change: CHANGE_ONE ? 'one' : 'all',
    probeGapMs: PROBE_GAP_MS,
    sendToFirstRoutedMs: stats(effect),
    sendToApplyDoneMs: stats(apply),
    sendToAckMs: stats(answer),
    probeRequests: requests,
    probeErrors: errors,
    process: proc,
  };
}

async function twoProcesses(n: number, updates: number, up: { v1: number; v2: number }) {
  const server = await FakeAdsServer.start();
  seed(server, n, up);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-xds-bench-'));
  const file = path.join(dir, 'bootstrap.yaml');
  fs.writeFileSync(
    file,
    JSON.stringify({
      node: { id: 'bench', cluster: 'bench' },
      dynamic_resources: {
        ads_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] },
        lds_config: { ads: {} },
        cds_config: { ads: {} },
      },
      static_resources: {
        clusters: [
          {
            name: 'xds-grpc',
            type: 'STATIC',
            connect_timeout: '1s',
            load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: server.port } } } }] }] },
          },
        ],
      },
    }),
  );
  const main = path.join(__dirname, '..', 'src', 'cli', 'main.js');
  const procs: Child[] = [];
  const probes: Probe[] = [];
  try {
    for (const name of ['weir-a', 'weir-b']) {
      const { child, match } = await startChild(name, process.execPath, [...(process.env.WEIR_NODE_ARGS ?? '').split(' ').filter(Boolean), main, '-c', file, '--service-node', name, ...(process.env.WEIR_ARGS ?? '').split(' ').filter(Boolean)], /listener l listening on 127\.0\.0\.1:(\d+)/);
      procs.push(child);
      probes.push(new Probe(Number(match[1]), probePath(n)));
    }
  } catch (e) {
    for (const p of procs) await p.stop();
    throw e;
  }
  const apart: number[] = [];
  const effect: number[] = [];
  const sender = new Updates(server, n);
  sender.prepare(updates);
  for (let i = 1; i <= updates; i++) {
    const tag = String(i);
    const seen = probes.map((p) => p.next(tag));
    sender.send(i);
    const t0 = process.hrtime.bigint();
    const [a, b] = await Promise.all(seen);
    apart.push(Math.abs(ms(a!, b!)));
    effect.push(ms(t0, a!), ms(t0, b!));
  }
  const errors = probes.reduce((s, p) => s + p.errors, 0);
  for (const p of probes) await p.stop();
  for (const p of procs) await p.stop();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { routes: n, updates, processes: 2, probeGapMs: PROBE_GAP_MS, controlPlaneEncode: ENCODE_AHEAD ? 'ahead' : 'inline', apartMs: stats(apart), sendToFirstRoutedMs: stats(effect), probeErrors: errors };
}

async function main(): Promise<void> {
  const sizes = (process.env.ROUTES ?? '10,1000').split(',').map(Number);
  const updates = Number(process.env.UPDATES ?? 200);
  const twoN = Number(process.env.TWO_PROCESS_ROUTES ?? 1000);
  const { child: upstream, match } = await startChild('upstream', process.execPath, [path.join(__dirname, 'lib', 'upstream.js')], /^(\{.*"ready":true.*\})$/);
  const up = JSON.parse(match[1]!) as { v1: number; v2: number };
  try {
    const inproc = [];
    const caches = (process.env.CACHE ?? '1').split(',').map((x) => x === '1');
    for (const n of sizes) for (const c of caches) inproc.push(await inProcess(n, updates, up, c));
    const two = twoN > 0 ? await twoProcesses(twoN, updates, up) : null;
    const out = { node: process.version, cpus: os.cpus().length, date: new Date().toISOString(), inProcess: inproc, twoProcesses: two };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    process.stdout.write(
      `\ncontrol plane encodes: ${ENCODE_AHEAD ? 'ahead' : 'inline'}; change: ${CHANGE_ONE ? 'one virtual host of many' : 'every route'}; probe gap: ${PROBE_GAP_MS} ms\n| routes | route compile cache | send -> first request routed p50 / p99 / max ms | send -> ACK p50 / p99 ms | send -> swap done p50 / p99 ms | GC pauses (>10 ms) / max ms | loop delay p99 / max ms |\n|---:|---|---|---|---|---|---|\n`,
    );
    for (const r of inproc)
      process.stdout.write(
        `| ${r.routes} | ${r.routeCompileCache ? 'yes' : 'no'} | ${r.sendToFirstRoutedMs.p50} / ${r.sendToFirstRoutedMs.p99} / ${r.sendToFirstRoutedMs.max} | ${r.sendToAckMs.p50} / ${r.sendToAckMs.p99} | ${r.sendToApplyDoneMs.p50} / ${r.sendToApplyDoneMs.p99} | ${r.process.gcPauses} (${r.process.gcOver10Ms}) / ${r.process.gcMaxMs} | ${r.process.loopDelayP99Ms} / ${r.process.loopDelayMaxMs} |\n`,
      );
    if (two)
      process.stdout.write(
        `\ntwo processes, ${two.routes} routes: apart p50 ${two.apartMs.p50} ms, p99 ${two.apartMs.p99} ms, max ${two.apartMs.max} ms; send -> first routed p50 ${two.sendToFirstRoutedMs.p50} ms, p99 ${two.sendToFirstRoutedMs.p99} ms\n`,
      );
  } finally {
    await upstream.stop();
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
