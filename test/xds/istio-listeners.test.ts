// istiod's listener shapes that weir cannot serve as Envoy does, and what weir does with them:
// `bind_to_port: false` listeners (the outbound `0.0.0.0_<port>` and `<ip>_<port>` ones) are
// validated and not bound; the bound `virtualOutbound` (use_original_dst, tcp_proxy chains only) is
// accepted and not bound (no original-destination hand-off); access-enforcing filters (RBAC,
// ext_authz, JWT) reject a served listener unless allowUnenforcedSecurityFilters says otherwise.
import t from 'tap';
import type { ResourceSet } from '../../src/config/resources';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { compileSnapshot, type Snapshot } from '../../src/proxy/snapshot';
import { startVersioned, type TestUpstream } from '../helpers/upstream-servers';
import { get, LogCapture } from '../proxy/fixtures';
import * as istio from './istio-resources';

let v1: TestUpstream;
t.before(async () => {
  v1 = await startVersioned('v1');
});
t.teardown(() => v1.close());

function istioSet(listeners: Record<string, unknown>[], port = 9080): ResourceSet {
  return {
    listeners,
    routeConfigurations: [istio.istioRouteConfiguration([100, 0])],
    clusters: [istio.istioCluster(istio.CLUSTER_V1), istio.istioCluster(istio.CLUSTER_V2)],
    clusterLoadAssignments: [
      istio.istioClusterLoadAssignment(istio.CLUSTER_V1, [{ ip: '127.0.0.1', port, version: 'v1' }]),
      istio.istioClusterLoadAssignment(istio.CLUSTER_V2, [{ ip: '127.0.0.1', port, version: 'v2' }]),
    ],
    versionInfo: '1',
  };
}

/** The istiod listener moved to 127.0.0.1 (tests bind nothing else), bound as a gateway's would be. */
function bound(l: Record<string, unknown>, port = 0): Record<string, unknown> {
  const c = JSON.parse(JSON.stringify(l)) as Record<string, unknown>;
  delete c.bind_to_port;
  c.address = { socket_address: { address: '127.0.0.1', port_value: port } };
  return c;
}

function ok(t: { notOk(v: unknown, m: string): void }, r: ReturnType<typeof compileSnapshot>): Snapshot {
  t.notOk(r.errors, (r.errors ?? []).join('\n'));
  return r.value!;
}

t.test("istiod's sidecar LDS: virtualOutbound, 0.0.0.0_9080 and a TCP service: accepted, nothing bound", async (t) => {
  const set = istioSet([istio.istioVirtualOutbound(), istio.istioListener(), istio.istioListener(9081, '9081'), istio.istioTcpListener('10.96.3.4', 3306, 'outbound|3306||mysql.default.svc.cluster.local')]);
  // 0.0.0.0_9081 references RDS "9081", not sent: it is warming, as in Envoy.
  const s = ok(t, compileSnapshot(set));
  t.same(s.listeners, [], 'no listener is bound');
  t.same(
    s.unboundListeners.map((l) => [l.name, l.address, l.port, l.config !== null]),
    [
      ['virtualOutbound', '0.0.0.0', 15001, false],
      ['0.0.0.0_9080', '0.0.0.0', 9080, true],
      ['0.0.0.0_9081', '0.0.0.0', 9081, false],
      ['10.96.3.4_3306', '10.96.3.4', 3306, false],
    ],
    'every listener listed as not bound; the HTTP one compiled',
  );
  const http = s.unboundListeners.find((l) => l.name === '0.0.0.0_9080')!;
  t.equal(http.config!.hcm.routeConfigName, '9080', 'its HCM and RDS route table are compiled (validated)');
  t.match(http.reason, /bind_to_port: false: not bound/);
  t.match(s.unboundListeners.find((l) => l.name === 'virtualOutbound')!.reason, /use_original_dst: weir does not hand connections over/);
  t.same(s.warmingListeners, ['0.0.0.0_9081']);
  t.ok(s.warnings.includes('listeners["0.0.0.0_9080"]: bind_to_port: false: not bound (weir does not hand connections over from a use_original_dst listener)'));
});

t.test('a bind_to_port: false listener is still validated: a bad route config rejects the update', async (t) => {
  const set = istioSet([istio.istioListener()]);
  (set.routeConfigurations[0] as { virtual_hosts: { routes: object[] }[] }).virtual_hosts[0]!.routes.push({ match: {}, route: { cluster: 'x' } });
  const r = compileSnapshot(set);
  t.ok(r.errors, 'rejected');
  t.match(r.errors!.join('\n'), /^route_configurations\["9080"\]\.virtual_hosts\[0\]\.routes\[2\]/m);
});

t.test('a bound listener without an HTTP chain and without use_original_dst is still an error', async (t) => {
  const l = istio.istioTcpListener('127.0.0.1', 0, 'c');
  delete l.bind_to_port;
  const r = compileSnapshot(istioSet([l]));
  t.match(r.errors?.join('\n') ?? '', /listeners\["127\.0\.0\.1_0"\]\.filter_chains\[0\]\.filters: an envoy\.filters\.network\.http_connection_manager is required/);
});

t.test('ProxyServer: an unbound listener on the address of a bound one neither collides nor serves', async (t) => {
  const proxy = new ProxyServer({ accessLogStream: new LogCapture() });
  t.teardown(() => proxy.close());
  const gateway = bound(istio.istioListener(), 0);
  gateway.name = 'gateway';
  t.same((await proxy.apply(istioSet([gateway], v1.port))).errors, []);
  const port = proxy.listeners()[0]!.port;
  // Same address as the bound one: binding it would fail with EADDRINUSE and reject the update.
  const unbound = istio.istioListener();
  unbound.address = { socket_address: { address: '127.0.0.1', port_value: port } };
  const r = await proxy.apply(istioSet([gateway, unbound, istio.istioVirtualOutbound()], v1.port));
  t.same(r.errors, [], 'applied');
  t.same(
    proxy.listeners().map((l) => [l.name, l.port]),
    [['gateway', port]],
    'only the bound listener listens (virtualOutbound on 15001 is not bound either)',
  );
  t.equal(proxy.snapshot!.unboundListeners.length, 2);
  const res = await get(port, '/', { host: 'reviews' });
  t.equal(res.body, 'v1', 'the bound listener keeps serving');
});

// --- access-enforcing filters -----------------------------------------------------------------

const GW = (): Record<string, unknown> => bound(istio.istioListener());
const HF = 'listeners["0.0.0.0_9080"].filter_chains[0].filters[1].typed_config.http_filters';

const securityCases: { name: string; listener: () => Record<string, unknown>; error?: RegExp; skipped?: string }[] = [
  {
    name: 'istiod AuthorizationPolicy: envoy.filters.http.rbac',
    listener: () => istio.withHttpFilter(GW(), istio.ISTIO_HTTP_RBAC),
    error: new RegExp(`^${HF.replace(/[[\]."]/g, '\\$&')}\\[5\\]: weir does not implement RBAC \\(http filter envoy\\.filters\\.http\\.rbac\\); refusing to serve without it`, 'm'),
  },
  {
    name: 'RBAC disabled by default is still refused (a route may enable it)',
    listener: () => istio.withHttpFilter(GW(), { ...istio.ISTIO_HTTP_RBAC, disabled: true }),
    error: /\[5\]: weir does not implement RBAC/,
  },
  {
    name: 'RBAC marked is_optional: true is skipped',
    listener: () => istio.withHttpFilter(GW(), { ...istio.ISTIO_HTTP_RBAC, is_optional: true }),
    skipped: 'envoy.filters.http.rbac',
  },
  {
    name: 'jwt_authn (RequestAuthentication)',
    listener: () => istio.withHttpFilter(GW(), { name: 'envoy.filters.http.jwt_authn', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication' } }),
    error: /weir does not implement JWT authentication \(jwt_authn\) \(http filter envoy\.filters\.http\.jwt_authn\)/,
  },
  {
    name: 'ext_authz under another name: found by its type URL',
    listener: () => istio.withHttpFilter(GW(), { name: 'my-authz', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz' } }),
    error: /weir does not implement external authorization \(ext_authz\) \(http filter my-authz\)/,
  },
  {
    name: 'istio_authn (older Istio PeerAuthentication)',
    listener: () => istio.withHttpFilter(GW(), { name: 'istio_authn', typed_config: { '@type': 'type.googleapis.com/istio.envoy.config.filter.http.authn.v2alpha1.FilterConfig' } }),
    error: /Istio authentication \(istio_authn\)/,
  },
  {
    name: 'network RBAC ahead of the HCM',
    listener: () => {
      const l = GW() as { filter_chains: { filters: object[] }[] };
      l.filter_chains[0]!.filters.unshift({ name: 'envoy.filters.network.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC' } });
      return l as Record<string, unknown>;
    },
    error: /^listeners\["0\.0\.0\.0_9080"\]\.filter_chains\[0\]\.filters\[0\]: weir does not implement RBAC \(network filter envoy\.filters\.network\.rbac\); refusing to serve without it/m,
  },
  {
    name: 'an unbound listener with RBAC is accepted: it serves nothing',
    listener: () => istio.withHttpFilter(istio.istioListener(), istio.ISTIO_HTTP_RBAC),
  },
  {
    name: 'unknown non-security filters are still skipped',
    listener: () => istio.withHttpFilter(GW(), { name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } }),
    skipped: 'envoy.filters.http.cors',
  },
];

for (const c of securityCases) {
  t.test(`security filters: ${c.name}`, async (t) => {
    const r = compileSnapshot(istioSet([c.listener()]));
    if (c.error) {
      t.ok(r.errors, 'rejected');
      t.match(r.errors?.join('\n') ?? '', c.error);
      // The opt-in: accepted, the filter skipped, listed and warned about as NOT enforced.
      const s = ok(t, compileSnapshot(istioSet([c.listener()]), { allowUnenforcedSecurityFilters: true }));
      const l = s.listeners[0] ?? s.unboundListeners[0]!.config!;
      const f = l.hcm.httpFilters.find((x) => x.reason?.includes('NOT enforced'));
      const nf = l.networkFilters.find((x) => x.skipped && x.name.includes('rbac'));
      t.ok(f !== undefined || nf !== undefined, 'listed as skipped');
      t.ok(s.warnings.some((w) => w.includes('is NOT enforced')), 'warned: NOT enforced');
    } else {
      const s = ok(t, compileSnapshot(istioSet([c.listener()])));
      if (c.skipped) {
        const l = s.listeners[0]!;
        t.ok(l.hcm.httpFilters.some((f) => f.name === c.skipped && f.skipped), `${c.skipped} skipped`);
      }
    }
  });
}
