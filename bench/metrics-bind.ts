// What binding the metrics to a new snapshot costs (admin/metrics bindSnapshot), as an RDS update
// sees it: ROUTES weighted routes (v1/v2, every update changes every weight, as
// bench/xds-update-latency.ts does), clusters whose resources did not change (the same objects, as
// the ADS client keeps them) but new runtime Cluster objects (ProxyServer builds them per snapshot),
// HOSTS endpoints per cluster with Istio metadata. Snapshots are compiled up front; only the bind
// is timed (wall and CPU), then a scrape checks that the weights published are the last update's.
//
//   npm run build && node dist/bench/metrics-bind.js          ROUTES=1000 ITER=200 HOSTS=3
import { compileSnapshot, type Snapshot } from '../src/proxy/snapshot';
import { Metrics, type ClusterView } from '../src/admin/metrics';
import type { Resource, ResourceSet } from '../src/config/resources';
import { rdsListener } from './lib/bootstrap';

const ROUTES = Number(process.env.ROUTES ?? 1000);
const ITER = Number(process.env.ITER ?? 200);
const HOSTS = Number(process.env.HOSTS ?? 3);
const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

function cluster(name: string, version: string, basePort: number): Resource {
  const lb = [];
  for (let i = 0; i < HOSTS; i++) {
    lb.push({
      endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: basePort + i } } },
      metadata: { filter_metadata: { istio: { workload: `reviews-${version};default;reviews;${version};Kubernetes`, labels: { app: 'reviews', version } } } },
    });
  }
  return { name, type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: lb }] } };
}

function routeConfig(w: number): Resource {
  const routes = [];
  for (let i = 0; i < ROUTES; i++) {
    routes.push({ name: `r${i}`, match: { prefix: `/svc${i}/` }, route: { weighted_clusters: { clusters: [{ name: V1, weight: 100 - w }, { name: V2, weight: w }] } } });
  }
  return { name: 'r', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] };
}

function stats(xs: number[]): { p50: number; p90: number; mean: number } {
  const s = xs.slice().sort((a, b) => a - b);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { p50: r(s[Math.floor(s.length / 2)]!), p90: r(s[Math.floor(s.length * 0.9)]!), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

/** The runtime clusters ProxyServer would build for `snap`: new objects per snapshot, config shared. */
function runtimeClusters(snap: Snapshot): Map<string, ClusterView> {
  const m = new Map<string, ClusterView>();
  for (const [name, c] of snap.clusters) {
    m.set(name, { name, config: c, activeRequests: 0, hosts: c.endpoints.map((e) => ({ key: `${e.address}:${e.port}`, healthy: true, metadata: e.metadata, active: 0, pool: null })) });
  }
  return m;
}

async function main(): Promise<void> {
  const clusters = [cluster(V1, 'v1', 20000), cluster(V2, 'v2', 21000)];
  const listener = rdsListener('l', 'r');
  const snaps: Snapshot[] = [];
  const warm = 20;
  for (let i = 0; i < ITER + warm; i++) {
    const set: ResourceSet = { listeners: [listener], routeConfigurations: [routeConfig(1 + (i % 98))], clusters, clusterLoadAssignments: [], versionInfo: String(i) };
    const s = compileSnapshot(set);
    if (s.errors) throw new Error(s.errors.join('\n'));
    snaps.push(s.value);
  }
  const views = snaps.map(runtimeClusters);
  const metrics = new Metrics({ node: { id: 'bench', cluster: 'bench' } });
  const wallMs: number[] = [];
  let cpu0 = process.cpuUsage();
  for (let i = 0; i < snaps.length; i++) {
    if (i === warm) cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    metrics.bindSnapshot(snaps[i]!, views[i]!);
    const t1 = process.hrtime.bigint();
    if (i >= warm) wallMs.push(Number(t1 - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  // The weights a scrape shows are the last update's.
  const last = 1 + ((snaps.length - 1) % 98);
  const text = await metrics.text();
  const want = `weir_route_weight{route_config="r",virtual_host="vh",route="r0",cluster="${V2}"} ${last}`;
  const weightLines = text.split('\n').filter((l) => l.startsWith('weir_route_weight{')).length;
  if (!text.includes(want)) throw new Error(`scrape does not show the last weight: ${want}`);
  if (weightLines !== 2 * ROUTES) throw new Error(`scrape shows ${weightLines} weight series, want ${2 * ROUTES}`);
  process.stdout.write(
    JSON.stringify({ routes: ROUTES, hostsPerCluster: HOSTS, iterations: ITER, bindWallMs: stats(wallMs), bindCpuMsPerUpdate: Math.round(((cpu.user + cpu.system) / 1000 / ITER) * 1000) / 1000 }, null, 2) + '\n',
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
