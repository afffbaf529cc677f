// Resources shaped like istiod's (test/xds/istio-resources.ts: listener 0.0.0.0_9080 with
// istio.metadata_exchange ahead of the HCM, Wasm / stats / alpn HTTP filters, RDS "9080", EDS
// clusters outbound|9080|v1|reviews..., endpoints with istio metadata) served over ADS and through
// the data path: accepted (ACKed, nothing NACKed), the unknown extensions skipped and listed, and
// traffic routed the way the VirtualService says.
import t from 'tap';
import { startVersionedEach, type TestUpstream } from '../helpers/upstream-servers';
import { get, keepAliveAgent } from '../proxy/fixtures';
import { C, E, L, R, startXdsProxy } from '../xds/e2e-harness';
import * as istio from '../xds/istio-resources';
import { xdsConfigDump } from '../../src/xds/config-dump';

let v1: TestUpstream;
let v2: TestUpstream;
t.before(async () => {
  [v1, v2] = await startVersionedEach(t, ['v1', 'v2']);
});

/**
 * The istiod listener, moved to 127.0.0.1 port 0 (tests bind nothing else) and bound, as a
 * gateway's listeners are: a sidecar's outbound ones carry bind_to_port: false and weir does not
 * serve those (test/xds/istio-listeners.test.ts).
 */
function listenerOnLoopback(): Record<string, unknown> {
  const l = istio.istioListener();
  delete l.bind_to_port;
  l.address = { socket_address: { address: '127.0.0.1', port_value: 0 } };
  return l;
}

t.test('istiod-shaped LDS/RDS/CDS/EDS: ACKed, unknown extensions skipped and listed, VirtualService routing served', async (t) => {
  const x = await startXdsProxy({
    seed: (s) => {
      s.setResources(C, [istio.istioCluster(istio.CLUSTER_V1), istio.istioCluster(istio.CLUSTER_V2)]);
      s.setResources(E, [
        istio.istioClusterLoadAssignment(istio.CLUSTER_V1, [{ ip: '127.0.0.1', port: v1.port, version: 'v1' }]),
        istio.istioClusterLoadAssignment(istio.CLUSTER_V2, [{ ip: '127.0.0.1', port: v2.port, version: 'v2' }]),
      ]);
      s.setResources(L, [listenerOnLoopback()]);
      s.setResources(R, [istio.istioRouteConfiguration([90, 10])]);
    },
  });
  t.teardown(() => x.close());
  t.same(x.server.requests.filter((r) => r.error_detail).map((r) => r.error_detail!.message), [], 'nothing NACKed');
  const snap = x.proxy.snapshot!;
  const l = snap.listeners.find((y) => y.name === '0.0.0.0_9080')!;
  t.ok(l, 'the listener serves');
  t.same(
    l.networkFilters.map((f) => [f.name, f.skipped]),
    [
      ['istio.metadata_exchange', true],
      ['envoy.filters.network.http_connection_manager', false],
    ],
    'network filters: metadata exchange skipped, the HCM served',
  );
  t.same(
    l.hcm.httpFilters.filter((f) => f.skipped).map((f) => f.name),
    ['istio.metadata_exchange', 'envoy.filters.http.grpc_stats', 'istio.alpn', 'istio.stats'],
    'HTTP filters weir does not implement are skipped and listed',
  );
  t.ok(l.hcm.httpFilters.some((f) => f.name === 'envoy.filters.http.fault' && !f.skipped), 'the fault filter is served');
  t.ok(snap.warnings.some((w) => w.includes('network filter istio.metadata_exchange') && w.includes('skipped')), 'and warned about');
  const port = x.port('0.0.0.0_9080');
  const jason = await get(port, '/reviews/0', { host: 'reviews:9080', 'end-user': 'jason' });
  t.equal(jason.body, 'v2', 'end-user: jason goes to v2 (header match)');
  const agent = keepAliveAgent();
  t.teardown(() => agent.destroy());
  const counts = new Map<string, number>();
  const N = 400;
  for (let i = 0; i < N; i++) {
    const r = await get(port, '/reviews/0', { host: 'reviews.default.svc.cluster.local' }, agent);
    counts.set(r.body, (counts.get(r.body) ?? 0) + 1);
  }
  t.equal((counts.get('v1') ?? 0) + (counts.get('v2') ?? 0), N, 'every request served by a reviews version');
  const got = counts.get('v2') ?? 0;
  t.ok(Math.abs(got - N * 0.1) <= 5 * Math.sqrt(N * 0.1 * 0.9), `90/10 split: ${got} of ${N} to v2`);
});

t.test("istiod's sidecar LDS over ADS: ACKed, bind_to_port: false listeners and virtualOutbound not bound, in the config dump; an RBAC filter is NACKed", async (t) => {
  const gateway = listenerOnLoopback();
  gateway.name = 'gateway';
  const x = await startXdsProxy({
    seed: (s) => {
      s.setResources(C, [istio.istioCluster(istio.CLUSTER_V1), istio.istioCluster(istio.CLUSTER_V2)]);
      s.setResources(E, [
        istio.istioClusterLoadAssignment(istio.CLUSTER_V1, [{ ip: '127.0.0.1', port: v1.port, version: 'v1' }]),
        istio.istioClusterLoadAssignment(istio.CLUSTER_V2, [{ ip: '127.0.0.1', port: v2.port, version: 'v2' }]),
      ]);
      s.setResources(L, [istio.istioVirtualOutbound(), istio.istioListener(), istio.istioTcpListener('10.96.3.4', 3306, 'outbound|3306||mysql.default.svc.cluster.local'), gateway]);
      s.setResources(R, [istio.istioRouteConfiguration([0, 100])]);
    },
  });
  t.teardown(() => x.close());
  await x.waitApplied((s) => s.routeConfigurations.length === 1);
  t.same(x.server.requests.filter((r) => r.error_detail).map((r) => r.error_detail!.message), [], 'nothing NACKed');
  t.same(x.proxy.listeners().map((l) => l.name), ['gateway'], 'only the listener that binds listens');
  t.same(x.proxy.snapshot!.unboundListeners.map((l) => l.name).sort(), ['0.0.0.0_9080', '10.96.3.4_3306', 'virtualOutbound']);
  const dump = xdsConfigDump(x.client.state());
  const ls = dump.configs.find((c) => String(c['@type']).endsWith('ListenersConfigDump'))!.dynamic_listeners as { name: string; client_status: string; active_state?: { listener: { bind_to_port?: unknown } } }[];
  const unbound = ls.find((l) => l.name === '0.0.0.0_9080')!;
  t.equal(unbound.client_status, 'ACKED');
  t.equal(unbound.active_state!.listener.bind_to_port, false, 'in the config dump as sent');
  t.equal((await get(x.port('gateway'), '/', { host: 'reviews' })).body, 'v2', 'the bound listener serves');

  const { reply } = await x.push(L, [istio.istioVirtualOutbound(), istio.istioListener(), istio.withHttpFilter(gateway, istio.ISTIO_HTTP_RBAC)]);
  t.match(reply.error_detail?.message, /listeners\["gateway"\]\.filter_chains\[0\]\.filters\[1\]\.typed_config\.http_filters\[5\]: weir does not implement RBAC \(http filter envoy\.filters\.http\.rbac\); refusing to serve without it/);
  t.equal((await get(x.port('gateway'), '/', { host: 'reviews' })).body, 'v2', 'the last good config keeps serving');
});
