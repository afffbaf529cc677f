// `weir explain` on each config source (bootstrap, Istio YAML, a config_dump) for a header match, a
// cookie match, a weighted pick and no route: the virtual host, every condition tried with pass /
// FAIL and why, the pick's value and interval, the cluster and its endpoints' versions.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main, parseExplainArgs, resourcesFromConfigDump } from '../../src/cli/explain';
import { buildConfigDump } from '../../src/admin/config-dump';
import { loadBootstrap } from '../../src/config/bootstrap';

const FIXTURES = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '', 'test', 'fixtures', 'istio');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-explain-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const ISTIO = path.join(dir, 'reviews.yaml');
fs.writeFileSync(
  ISTIO,
  fs.readFileSync(path.join(FIXTURES, 'reviews-base.yaml'), 'utf8') +
    `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - name: gray
    match:
    - headers:
        cookie:
          regex: "^(.*?;)?(tenantGray=1)(;.*)?$"
    route:
    - destination: {host: reviews, subset: v3}
  - name: jason
    match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: reviews, subset: v2}
  - name: split
    route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
`,
);

const BOOT = path.join(dir, 'envoy.yaml');
fs.writeFileSync(
  BOOT,
  `
static_resources:
  listeners:
  - name: main
    address: {socket_address: {address: 127.0.0.1, port_value: 10000}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            name: local
            virtual_hosts:
            - name: shop
              domains: [shop.example.com]
              routes:
              - name: beta
                match: {prefix: /, headers: [{name: x-beta, string_match: {exact: "1"}}]}
                route: {cluster: beta}
              - name: split
                match: {prefix: /}
                route: {weighted_clusters: {clusters: [{name: stable, weight: 80}, {name: beta, weight: 20}]}}
  clusters:
  - name: stable
    type: STATIC
    load_assignment: {cluster_name: stable, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8001}}}, metadata: {filter_metadata: {envoy.lb: {version: "1.4"}}}}]}]}
  - name: beta
    type: STATIC
    load_assignment: {cluster_name: beta, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 8002}}}, metadata: {filter_metadata: {envoy.lb: {version: "1.5-beta"}}}}]}]}
`,
);

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => {
    out += s;
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await main(argv);
    return { code, out };
  } finally {
    process.stdout.write = orig;
  }
}

t.test('Istio: cookie match', async (t) => {
  const { code, out } = await run(['--istio', ISTIO, '--authority', 'reviews', '--path', '/reviews/1', '-H', 'cookie: a=b;tenantGray=1']);
  t.equal(code, 0);
  t.match(out, /virtual host: reviews\.default\.svc\.cluster\.local:9080 \(exact match on "reviews"\)/);
  t.match(out, /route\[0\].*: MATCH/);
  t.match(out, /pass {2}header cookie string_match safe_regex .*tenantGray=1.*\("a=b;tenantGray=1"\)/);
  t.match(out, /cluster: outbound\|9080\|v3\|reviews\.default\.svc\.cluster\.local/);
  t.match(out, /endpoint 127\.0\.0\.1:19083 {2}version v3/);
  t.match(out, /config version: /);
});

t.test('Istio: header match after a failed cookie condition', async (t) => {
  const { out } = await run(['--istio', ISTIO, '--authority', 'reviews', '-H', 'end-user: jason', '--json']);
  const x = JSON.parse(out);
  t.same(x.routes_tried.map((r: { index: number; matched: boolean }) => [r.index, r.matched]), [[0, false], [1, true]]);
  const failed = x.routes_tried[0].conditions.find((c: { pass: boolean }) => !c.pass);
  t.match(failed, { condition: /cookie/, detail: 'absent' }, 'why route 0 failed: no cookie');
  t.equal(x.cluster, 'outbound|9080|v2|reviews.default.svc.cluster.local');
  t.equal(x.endpoints[0].version, 'v2');
});

t.test('Istio: weighted pick with the interval the value fell into', async (t) => {
  for (const [random, subset, interval] of [[5, 'v1', [0, 90]], [289, 'v1', [0, 90]], [290, 'v2', [90, 100]], [195, 'v2', [90, 100]]] as const) {
    const x = JSON.parse((await run(['--istio', ISTIO, '--authority', 'reviews:9080', '--random', String(random), '--json'])).out);
    t.equal(x.route.index, 2);
    t.match(x.pick, { mode: 'random', source: 'random', value: random, total: 100, interval });
    t.equal(x.cluster, `outbound|9080|${subset}|reviews.default.svc.cluster.local`, `random ${random} -> ${subset}`);
    t.same(x.pick.destinations.map((d: { weight: number; picked: boolean }) => [d.weight, d.picked]), [[90, subset === 'v1'], [10, subset === 'v2']]);
  }
});

t.test('no route: unknown authority and unmatched route', async (t) => {
  const a = await run(['--istio', ISTIO, '--authority', 'nobody.example', '--path', '/']);
  t.match(a.out, /virtual host: none matches authority "nobody\.example"/);
  t.match(a.out, /outcome: 404 NR/);
  const b = JSON.parse((await run(['-c', BOOT, '--authority', 'elsewhere', '--json'])).out);
  t.equal(b.virtual_host, null);
  t.match(b.outcome, /^404 NR/);
});

t.test('bootstrap: header route and weighted pick, versions from envoy.lb metadata', async (t) => {
  const beta = await run(['-c', BOOT, '--authority', 'shop.example.com', '-H', 'x-beta: 1']);
  t.match(beta.out, /route\[0\] beta: MATCH/);
  t.match(beta.out, /endpoint 127\.0\.0\.1:8002 {2}version 1\.5-beta/);
  t.match(beta.out, /config version: bootstrap /);
  const split = await run(['-c', BOOT, '--authority', 'shop.example.com', '--random', '85']);
  t.match(split.out, /route\[0\] beta: no match\n {4}pass {2}prefix "\/".*\n {4}FAIL {2}header x-beta/);
  t.match(split.out, /random pick by random: value 85 -> 85 of 100/);
  t.match(split.out, / {4}-> beta {2}weight 20 {2}\[80, 100\)/);
  t.match(split.out, /outcome: forwarded to cluster beta/);
});

t.test('config_dump: the same answer from a dump of the bootstrap', async (t) => {
  const b = loadBootstrap({ configPath: BOOT });
  if (b.errors) throw new Error(b.errors.join());
  const dumpFile = path.join(dir, 'dump.json');
  fs.writeFileSync(dumpFile, JSON.stringify(buildConfigDump({ bootstrap: b.value.raw, staticSet: b.value.resources, loadedAt: new Date(), includeEds: true })));
  const fromDump = JSON.parse((await run(['--config-dump', dumpFile, '--authority', 'shop.example.com', '--random', '85', '--json'])).out);
  const fromBoot = JSON.parse((await run(['-c', BOOT, '--authority', 'shop.example.com', '--random', '85', '--json'])).out);
  t.same({ ...fromDump, config_version: '' }, { ...fromBoot, config_version: '' });
  t.equal(resourcesFromConfigDump({ configs: [] }).listeners.length, 0);
});

t.test('usage errors', async (t) => {
  t.throws(() => parseExplainArgs(['--authority', 'x']), /exactly one of -c, --istio, --config-dump/);
  t.throws(() => parseExplainArgs(['-c', 'f']), /--authority is required/);
  t.throws(() => parseExplainArgs(['-c', 'f', '--authority', 'x', '-H', 'novalue']), /name: value/);
  t.throws(() => parseExplainArgs(['-c', 'f', '--authority', 'x', '--random', '-1']), /--random/);
  t.equal(parseExplainArgs(['--help']), 'help');
  await t.rejects(run(['-c', BOOT, '--authority', 'x', '--listener', 'nope']), /no listener "nope"/);
});
