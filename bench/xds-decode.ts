// How long weir takes to turn an RDS response into its model: encode a RouteConfiguration of N
// routes once, then decode it repeatedly (the part of update-to-effect latency the xDS client owns).
// Run: npm run build && node dist/bench/xds-decode.js   (ROUTES=10,1000 ITER=50)
import { TYPE_URL } from '../src/config/resources';
import { loadProtos, protoLoadMs } from '../src/xds/protos';
import { decodeResource, encodeResource } from '../src/xds/resource-codec';

function routeConfig(n: number): object {
  const routes = [];
  for (let i = 0; i < n; i++) {
    routes.push({
      name: `r${i}`,
      match: { prefix: `/svc${i}/`, headers: [{ name: 'x-user', string_match: { exact: `u${i}` } }] },
      route: {
        weighted_clusters: { clusters: [{ name: `outbound|9080|v1|s${i}.default.svc.cluster.local`, weight: 90 }, { name: `outbound|9080|v2|s${i}.default.svc.cluster.local`, weight: 10 }] },
        timeout: '0s',
        retry_policy: { retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', num_retries: 2, retriable_status_codes: [503] },
      },
      metadata: { filter_metadata: { istio: { config: `/apis/networking.istio.io/v1/namespaces/default/virtual-service/s${i}` } } },
    });
  }
  return { name: '9080', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] };
}

function main(): void {
  loadProtos();
  const sizes = (process.env.ROUTES ?? '10,1000').split(',').map(Number);
  const iter = Number(process.env.ITER ?? 50);
  const rows: { routes: number; bytes: number; p50ms: number; p99ms: number }[] = [];
  for (const n of sizes) {
    const any = encodeResource(TYPE_URL.ROUTE_CONFIGURATION, routeConfig(n));
    const times: number[] = [];
    for (let i = 0; i < iter + 5; i++) {
      const t0 = process.hrtime.bigint();
      const d = decodeResource(TYPE_URL.ROUTE_CONFIGURATION, any);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (d.errors) throw new Error(d.errors.join('\n'));
      if (i >= 5) times.push(ms);
    }
    times.sort((a, b) => a - b);
    rows.push({ routes: n, bytes: any.value.length, p50ms: times[Math.floor(times.length / 2)]!, p99ms: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]! });
  }
  process.stdout.write(JSON.stringify({ protoLoadMs: protoLoadMs(), decode: rows }, null, 2) + '\n');
}

main();
