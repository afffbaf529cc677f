// Every runnable example in config/istio/ translates cleanly, and — once the route model
// (src/route/route-table.ts) is there — its route configs compile and route requests the way the
// example says. This is the start of the contract suite: the same expectations will run against the
// equivalent Envoy bootstrap and through the proxy.

import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toStaticBootstrap, translateIstio } from '../../../src/config/istio';
import type { Resource } from '../../../src/config/resources';
import type { RequestView } from '../../../src/route/types';

function findRepoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'config', 'istio', 'bookinfo-reviews.yaml'))) return dir;
    dir = join(dir, '..');
  }
  throw new Error('config/istio not found');
}
const EXAMPLES = join(findRepoRoot(), 'config', 'istio');

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Expect {
  host: string;
  path?: string;
  headers?: { [k: string]: string };
  random?: number;
  /** Expected cluster name. */
  cluster: string;
}

const C = (port: number, subset: string, svc: string): string => `outbound|${port}|${subset}|${svc}.default.svc.cluster.local`;

const EXPECT: { [file: string]: { port: string; weights?: [string, number][]; requests: Expect[] } } = {
  'bookinfo-reviews.yaml': {
    port: '9080',
    weights: [[C(9080, 'v2', 'reviews'), 90], [C(9080, 'v3', 'reviews'), 10]],
    requests: [
      { host: 'reviews:9080', random: 0, cluster: C(9080, 'v2', 'reviews') },
      { host: 'reviews', random: 89, cluster: C(9080, 'v2', 'reviews') },
      { host: 'reviews.default.svc.cluster.local:9080', random: 90, cluster: C(9080, 'v3', 'reviews') },
      { host: 'reviews', random: 199, cluster: C(9080, 'v3', 'reviews') },
    ],
  },
  'user-service-canary.yaml': {
    port: '8080',
    weights: [[C(8080, 'stable', 'user-service'), 90], [C(8080, 'canary', 'user-service'), 10]],
    requests: [
      { host: 'user-service', random: 5, cluster: C(8080, 'stable', 'user-service') },
      { host: 'user-service:8080', random: 95, cluster: C(8080, 'canary', 'user-service') },
    ],
  },
  'tenant-gray-cookie.yaml': {
    port: '8090',
    requests: [
      { host: 'shop', headers: { cookie: 'session=abc; tenantGray=1' }, cluster: C(8090, 'v2', 'shop') },
      { host: 'shop', headers: { cookie: 'tenantGray=1' }, cluster: C(8090, 'v2', 'shop') },
      { host: 'shop', headers: { cookie: 'tenantGray=0' }, cluster: C(8090, 'v1', 'shop') },
      { host: 'shop', cluster: C(8090, 'v1', 'shop') },
    ],
  },
  'user-agent-canary.yaml': {
    port: '8070',
    requests: [
      { host: 'frontend', headers: { 'user-agent': 'canary' }, cluster: C(8070, 'v2', 'frontend') },
      { host: 'frontend', headers: { 'user-agent': 'curl/8.5.0' }, cluster: C(8070, 'v1', 'frontend') },
      { host: 'frontend', cluster: C(8070, 'v1', 'frontend') },
    ],
  },
  'helloworld-80-20.yaml': {
    port: '5000',
    weights: [[C(5000, 'v1', 'helloworld'), 80], [C(5000, 'v2', 'helloworld'), 20]],
    requests: [
      { host: 'helloworld', path: '/hello', random: 79, cluster: C(5000, 'v1', 'helloworld') },
      { host: 'helloworld', path: '/hello', random: 80, cluster: C(5000, 'v2', 'helloworld') },
    ],
  },
  'two-services.yaml': {
    port: '7000',
    requests: [
      { host: 'service-a', headers: { cookie: 'user=alice' }, cluster: C(7000, 'v2', 'service-a') },
      { host: 'service-a', headers: { cookie: 'theme=dark; user=bob; lang=en' }, cluster: C(7000, 'v2', 'service-a') },
      { host: 'service-a', headers: { cookie: 'user=alicex' }, cluster: C(7000, 'v1', 'service-a') },
      { host: 'service-a', cluster: C(7000, 'v1', 'service-a') },
    ],
  },
};
const TWO_SERVICES_B: Expect[] = [
  { host: 'service-b', headers: { 'x-version': 'v2' }, cluster: C(7100, 'v2', 'service-b') },
  { host: 'service-b', headers: { 'x-version': 'v1' }, cluster: C(7100, 'v1', 'service-b') },
  { host: 'service-b', cluster: C(7100, 'v1', 'service-b') },
];

function request(e: Expect): RequestView {
  const headers = e.headers ?? {};
  return {
    authority: e.host,
    path: e.path ?? '/',
    method: 'GET',
    scheme: 'http',
    random: e.random ?? 0,
    headerValues: (name: string) => (headers[name] === undefined ? undefined : [headers[name] as string]),
  };
}

type Compile = (raw: unknown, opts: unknown) => { value?: { route(req: RequestView): { selectCluster(req: RequestView): string | undefined } | null }; errors?: string[] };
let compileRouteConfiguration: Compile | undefined;
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  compileRouteConfiguration = (require('../../../src/route/route-table') as { compileRouteConfiguration: Compile }).compileRouteConfiguration;
} catch {
  compileRouteConfiguration = undefined;
}

type LoadBootstrap = (opts: { configYaml: string; compile?: boolean }) => { value?: { resources: { listeners: readonly Resource[] } }; errors?: string[] };
let loadBootstrap: LoadBootstrap | undefined;
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loadBootstrap = (require('../../../src/config/bootstrap') as { loadBootstrap: LoadBootstrap }).loadBootstrap;
} catch {
  loadBootstrap = undefined;
}

type CompileSnapshot = (set: unknown) => { value?: { listeners: readonly { name: string; port: number }[]; warmingListeners: readonly string[] }; errors?: string[] };
let compileSnapshot: CompileSnapshot | undefined;
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  compileSnapshot = (require('../../../src/proxy/snapshot') as { compileSnapshot: CompileSnapshot }).compileSnapshot;
} catch {
  compileSnapshot = undefined;
}

const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();

t.test('every example has expectations here', async (t) => {
  t.same(files, Object.keys(EXPECT).sort());
});

for (const file of files) {
  t.test(file, async (t) => {
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    const r = translateIstio([{ file, text }], {});
    t.equal(r.errors, undefined, r.errors?.join('\n') ?? 'no errors');
    if (!r.value) return;
    t.same(r.value.notes, [], 'no notes: the example uses nothing weir ignores');
    const exp = EXPECT[file];
    if (!exp) return;
    const set = r.value.resources;
    const rc = set.routeConfigurations.find((x: Resource) => x.name === exp.port) as Any;
    t.ok(rc, `route config ${exp.port}`);
    if (exp.weights) {
      const route = rc.virtual_hosts[0].routes[0].route;
      t.same(route.weighted_clusters.clusters.map((c: Any) => [c.name, c.weight]), exp.weights);
    }
    // Every referenced cluster exists and has endpoints.
    const clusters = new Set(set.clusters.map((c: Resource) => c.name));
    for (const e of [...exp.requests, ...(file === 'two-services.yaml' ? TWO_SERVICES_B : [])]) t.ok(clusters.has(e.cluster), `cluster ${e.cluster} exists`);
    for (const a of set.clusterLoadAssignments as Any[]) {
      t.ok(a.endpoints.flatMap((l: Any) => l.lb_endpoints).length > 0, `${a.cluster_name} has endpoints`);
    }

    if (compileSnapshot && compileRouteConfiguration) {
      // The data path compiles the whole set: RDS names resolve, EDS clusters find their endpoints.
      const snap = compileSnapshot(set);
      t.equal(snap.errors, undefined, snap.errors?.join('\n') ?? 'snapshot compiles');
      t.same(snap.value?.warmingListeners, [], 'no listener waits for a missing route config');
      t.same(snap.value?.listeners.map((l) => l.name).sort(), set.listeners.map((l: Resource) => l.name).sort());
    }
    if (!compileRouteConfiguration) {
      t.comment('src/route/route-table.ts not available yet: routing expectations not run');
      return;
    }
    const check = (rcName: string, reqs: Expect[]): void => {
      const conf = set.routeConfigurations.find((x: Resource) => x.name === rcName);
      const table = compileRouteConfiguration!(conf, {});
      t.equal(table.errors, undefined, table.errors?.join('\n') ?? 'no errors');
      if (!table.value) return;
      for (const e of reqs) {
        const req = request(e);
        const entry = table.value.route(req);
        t.equal(entry?.selectCluster(req), e.cluster, `${e.host}${e.path ?? '/'} ${JSON.stringify(e.headers ?? {})} random=${e.random ?? 0}`);
      }
    };
    check(exp.port, exp.requests);
    if (file === 'two-services.yaml') check('7100', TWO_SERVICES_B);

    // Contract: the equivalent static Envoy bootstrap (what `weir translate --bootstrap` prints) is
    // accepted by the bootstrap loader and routes the same requests to the same clusters.
    if (!loadBootstrap) return;
    const b = loadBootstrap({ configYaml: JSON.stringify(toStaticBootstrap(set)), compile: false });
    t.equal(b.errors, undefined, b.errors?.join('\n') ?? 'bootstrap accepted');
    if (!b.value) return;
    const inline = (port: string): unknown => {
      const l = b.value!.resources.listeners.find((x: Any) => x.address.socket_address.port_value === Number(port)) as Any;
      return l?.filter_chains[0].filters[0].typed_config.route_config;
    };
    const checkInline = (port: string, reqs: Expect[]): void => {
      const table = compileRouteConfiguration!(inline(port), {});
      t.equal(table.errors, undefined, table.errors?.join('\n') ?? 'no errors');
      for (const e of reqs) {
        const req = request(e);
        t.equal(table.value?.route(req)?.selectCluster(req), e.cluster, `bootstrap: ${e.host} ${JSON.stringify(e.headers ?? {})} random=${e.random ?? 0}`);
      }
    };
    checkInline(exp.port, exp.requests);
    if (file === 'two-services.yaml') checkInline('7100', TWO_SERVICES_B);
  });
}

t.test('a VirtualService using every translated feature compiles with the route model', async (t) => {
  const read = (name: string): string => readFileSync(join(findRepoRoot(), 'test', 'fixtures', 'istio', name), 'utf8');
  const r = translateIstio(
    [
      { file: 'reviews-base.yaml', text: read('reviews-base.yaml') },
      { file: 'every-feature.yaml', text: read('every-feature.yaml') },
    ],
    {},
  );
  t.equal(r.errors, undefined, r.errors?.join('\n') ?? 'no errors');
  if (!r.value) return;
  const routes = (r.value.resources.routeConfigurations[0] as Any).virtual_hosts[0].routes;
  t.same(routes[0].metadata.filter_metadata.weir, { pick_mode: 'sticky', sticky_key: { header: 'x-user' } });
  t.ok(routes[0].typed_per_filter_config['envoy.filters.http.cors'], 'CORS policy');
  if (!compileRouteConfiguration) {
    t.comment('src/route/route-table.ts not available yet');
    return;
  }
  const table = compileRouteConfiguration(r.value.resources.routeConfigurations[0], {});
  t.equal(table.errors, undefined, table.errors?.join('\n') ?? 'no errors');
  if (!table.value) return;
  const d = request({ host: 'reviews', path: '/d', cluster: '' });
  t.ok(table.value.route(d), 'direct response route found');
  const last = request({ host: 'reviews', path: '/other', cluster: '' });
  t.equal(table.value.route(last)?.selectCluster(last), C(9080, 'v2', 'reviews'));
});

t.test('one listen port: Host with weir\'s own port still reaches the service (ignore_port_in_host_matching)', async (t) => {
  const text = readFileSync(join(EXAMPLES, 'bookinfo-reviews.yaml'), 'utf8');
  const r = translateIstio([{ file: 'bookinfo-reviews.yaml', text }], { listen: { address: '127.0.0.1', port: 15001 } });
  t.equal(r.errors, undefined, r.errors?.join('\n') ?? 'no errors');
  if (!r.value || !compileRouteConfiguration) return;
  const table = compileRouteConfiguration(r.value.resources.routeConfigurations[0], {});
  for (const host of ['reviews:15001', 'REVIEWS', 'reviews.default:9080']) {
    const req = request({ host, cluster: '' });
    t.equal(table.value?.route(req)?.selectCluster(req), C(9080, 'v2', 'reviews'), host);
  }
  const other = request({ host: 'ratings', cluster: '' });
  t.equal(table.value?.route(other), null, 'unknown hosts get no route (Envoy answers 404 NR)');
});
