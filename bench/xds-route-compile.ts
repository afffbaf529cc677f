// The CPU an RDS update costs weir before it can swap, step by step, without sockets: decode of
// the RouteConfiguration (protobuf -> proto3 JSON), the route compile (route/ compileRouteConfiguration),
// the whole snapshot compile (compileSnapshot: listener, HCM, route table, clusters) and the
// metrics binding of the new snapshot (admin/metrics bindSnapshot). Each update changes every
// route's weights and a route-config level header, as bench/xds-update-latency.ts does.
// Run: npm run build && node dist/bench/xds-route-compile.js   (ROUTES=1000 ITER=100)
//   Add --cpu-prof to profile it.
import { TYPE_URL, type ResourceSet } from '../src/config/resources';
import { Metrics } from '../src/admin/metrics';
import { compileSnapshot } from '../src/proxy/snapshot';
import { defaultRouteCompiler } from '../src/proxy/route-binding';
import { loadProtos } from '../src/xds/protos';
import { decodeResource, encodeResource } from '../src/xds/resource-codec';
import { rdsListener } from './lib/bootstrap';

function routeConfig(n: number, w: number, tag: string): object {
  const routes = [];
  for (let i = 0; i < n; i++) {
    routes.push({
      match: { prefix: `/svc${i}/` },
      route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 100 - w }, { name: 'v2', weight: w }] } },
    });
  }
  return { name: 'r', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }], response_headers_to_add: [{ header: { key: 'x-cfg', value: tag } }] };
}

const LISTENER = rdsListener('l', 'r');

function stats(xs: number[]): { p50: number; p99: number; mean: number } {
  const s = xs.slice().sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: r(s[Math.floor(s.length / 2)]!), p99: r(s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

function main(): void {
  loadProtos();
  const n = Number(process.env.ROUTES ?? 1000);
  const iter = Number(process.env.ITER ?? 100);
  const compile = defaultRouteCompiler();
  const metrics = new Metrics({ node: { id: 'bench', cluster: 'bench' } } as never);
  const encoded = [];
  for (let i = 0; i < iter + 10; i++) encoded.push(encodeResource(TYPE_URL.ROUTE_CONFIGURATION, routeConfig(n, 1 + (i % 98), String(i))));
  const decodeMs: number[] = [];
  const routeMs: number[] = [];
  const snapshotMs: number[] = [];
  const bindMs: number[] = [];
  let cpu0 = process.cpuUsage();
  for (let i = 0; i < encoded.length; i++) {
    if (i === 10) cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const d = decodeResource(TYPE_URL.ROUTE_CONFIGURATION, encoded[i]!);
    const t1 = process.hrtime.bigint();
    if (d.errors) throw new Error(d.errors.join('\n'));
    const rc = (d.value as { resource: object }).resource;
    const r = compile(rc, undefined);
    const t2 = process.hrtime.bigint();
    if (r.errors) throw new Error(r.errors.join('\n'));
    // A fresh object, so that nothing can reuse the route compile above.
    const set: ResourceSet = { listeners: [LISTENER], routeConfigurations: [{ ...rc }], clusters: [], clusterLoadAssignments: [], versionInfo: String(i) };
    const t3 = process.hrtime.bigint();
    // reuse: false: the virtual-host memo would otherwise hand back the compile above.
    const s = compileSnapshot(set, { routeOptions: { reuse: false } as never });
    const t4 = process.hrtime.bigint();
    if (s.errors) throw new Error(s.errors.join('\n'));
    metrics.bindSnapshot(s.value as never, new Map() as never);
    const t5 = process.hrtime.bigint();
    if (i < 10) continue; // warm-up
    decodeMs.push(Number(t1 - t0) / 1e6);
    routeMs.push(Number(t2 - t1) / 1e6);
    snapshotMs.push(Number(t4 - t3) / 1e6);
    bindMs.push(Number(t5 - t4) / 1e6);
  }
  // CPU time is what a busy machine cannot inflate (wall-clock steps include waiting for a core);
  // it includes the garbage collection each step leaves to the next.
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerUpdate = Math.round(((cpu.user + cpu.system) / 1000 / iter) * 100) / 100;
  process.stdout.write(JSON.stringify({ routes: n, iterations: iter, cpuMsPerUpdate, decodeMs: stats(decodeMs), routeCompileMs: stats(routeMs), compileSnapshotMs: stats(snapshotMs), bindSnapshotMs: stats(bindMs) }, null, 2) + '\n');
}

main();
