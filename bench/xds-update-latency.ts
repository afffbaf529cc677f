// xDS update-to-apply latency: from the fake control plane's send of a new RouteConfiguration to
// the ADS client's `apply` call (decode + validate + warm + hand-off; the data-path swap is measured
// elsewhere). p50 / p99 over UPDATES pushes for route configs of ROUTES routes.
// Run: npm run build && node dist/bench/xds-update-latency.js   (ROUTES=10,1000 UPDATES=200)
import { TYPE_URL, type ResourceSet } from '../src/config/resources';
import { AdsClient } from '../src/xds/ads-client';
import { FakeAdsServer } from '../test/helpers/fake-ads-server';

function routeConfig(n: number, w: number): object {
  const routes = [];
  for (let i = 0; i < n; i++) {
    routes.push({
      match: { prefix: `/svc${i}/` },
      route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 100 - w }, { name: 'v2', weight: w }] } },
    });
  }
  return { name: 'r', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] };
}

async function run(n: number, updates: number): Promise<{ routes: number; updates: number; p50ms: number; p99ms: number; maxms: number }> {
  const server = await FakeAdsServer.start();
  server.setResources(TYPE_URL.CLUSTER, []);
  server.setResources(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, []);
  server.setResources(TYPE_URL.LISTENER, [
    {
      name: 'l',
      address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
      filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': TYPE_URL.HTTP_CONNECTION_MANAGER, stat_prefix: 'l', rds: { route_config_name: 'r', config_source: { ads: {} } } } }] }],
    },
  ]);
  server.setResources(TYPE_URL.ROUTE_CONFIGURATION, [routeConfig(n, 0)]);
  let waiter: ((s: ResourceSet) => void) | null = null;
  const client = new AdsClient({
    target: server.target,
    node: { id: 'bench', cluster: 'bench' },
    apiType: 'GRPC',
    validate: () => [],
    apply: (s) => waiter?.(s),
  });
  const first = new Promise<ResourceSet>((r) => (waiter = r));
  client.start();
  await first;
  const times: number[] = [];
  for (let i = 1; i <= updates; i++) {
    const w = i % 100;
    const applied = new Promise<ResourceSet>((r) => (waiter = r));
    const rc = routeConfig(n, w === 0 ? 100 : w);
    // The fake server encodes the resource synchronously inside setResources; a control plane
    // would have it encoded already, so the clock starts once the response is written.
    server.setResources(TYPE_URL.ROUTE_CONFIGURATION, [rc]);
    const t0 = process.hrtime.bigint();
    await applied;
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await client.stop();
  await server.close();
  times.sort((a, b) => a - b);
  const q = (p: number): number => times[Math.min(times.length - 1, Math.floor(times.length * p))]!;
  return { routes: n, updates, p50ms: q(0.5), p99ms: q(0.99), maxms: times[times.length - 1]! };
}

async function main(): Promise<void> {
  const sizes = (process.env.ROUTES ?? '10,1000').split(',').map(Number);
  const updates = Number(process.env.UPDATES ?? 200);
  const rows = [];
  for (const n of sizes) rows.push(await run(n, updates));
  process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
}

void main();
