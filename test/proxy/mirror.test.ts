// Route request_mirror_policies: the mirror cluster gets a copy with `-shadow` in the Host (before
// the port, as Envoy's shadowAppendedHost), fire-and-forget: the main response never depends on
// the mirror (down, slow); runtime_fraction against the injected random value and binomially with
// the real one; unknown mirror clusters and requests with a body are skipped; an Istio
// VirtualService `mirror` + `mirrorPercentage` translated by translateIstio works end to end.

import t from 'tap';
import { performance } from 'node:perf_hooks';
import { request as httpRequest } from 'node:http';
import { translateIstio } from '../../src/config/istio';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { SHADOW_STATS, shadowHost } from '../../src/proxy/shadow-writer';
import { startUpstream, startVersioned, waitForSeen, type TestUpstream } from '../helpers/upstream-servers';
import { get, listener, LogCapture, resources, routeConfig, runConcurrent, setupProxy, staticCluster } from './fixtures';

let main: TestUpstream;
t.before(async () => {
  main = await startVersioned('main');
});
t.teardown(async () => {
  await main.close();
});

async function mirrorUpstream(t: { teardown(f: () => unknown): void }): Promise<TestUpstream> {
  const m = await startUpstream((_req, res) => res.end('mirror'));
  t.teardown(() => m.close());
  return m;
}

const mirrored = (policies: object[]) => routeConfig([{ match: { prefix: '/' }, route: { cluster: 'main', request_mirror_policies: policies } }]);

t.test('shadowHost: -shadow before the port, IPv6 literals kept whole', async (t) => {
  t.equal(shadowHost('example.com'), 'example.com-shadow');
  t.equal(shadowHost('example.com:8080'), 'example.com-shadow:8080');
  t.equal(shadowHost('[::1]:80'), '[::1]-shadow:80');
  t.equal(shadowHost('[::1]'), '[::1]-shadow');
});

t.test('the mirror sees a copy with the -shadow host; the main response is the main upstream', async (t) => {
  const m = await mirrorUpstream(t);
  const { port } = await setupProxy(t, mirrored([{ cluster: 'mirror' }]), [staticCluster('main', [main.port]), staticCluster('mirror', [m.port])]);
  const r = await get(port, '/a?q=1', { host: 'reviews:9080', 'x-custom': 'kept' });
  t.equal(r.status, 200);
  t.equal(r.body, 'main');
  await waitForSeen(m, 1);
  const s = m.seen[0]!;
  t.equal(s.headers.host, 'reviews-shadow:9080');
  t.equal(s.url, '/a?q=1');
  t.equal(s.method, 'GET');
  t.equal(s.headers['x-custom'], 'kept');
  t.equal(main.seen[main.seen.length - 1]!.headers.host, 'reviews:9080', 'the main request keeps its host');

  const r2 = await get(port, '/b', { host: 'example.com' });
  t.equal(r2.body, 'main');
  await waitForSeen(m, 2);
  t.equal(m.seen[1]!.headers.host, 'example.com-shadow');
});

t.test('the main response is unaffected when the mirror is down or never answers', async (t) => {
  const dead = await startUpstream((_req, res) => res.end());
  const deadPort = dead.port;
  await dead.close();
  const hang = await startUpstream(() => {
    /* never answers */
  });
  t.teardown(() => hang.close());
  const { port, agent } = await setupProxy(
    t,
    routeConfig([
      { match: { prefix: '/down' }, route: { cluster: 'main', request_mirror_policies: [{ cluster: 'dead' }] } },
      { match: { prefix: '/slow' }, route: { cluster: 'main', request_mirror_policies: [{ cluster: 'hang' }] } },
    ]),
    [staticCluster('main', [main.port]), staticCluster('dead', [deadPort]), staticCluster('hang', [hang.port])],
  );
  const failedBefore = SHADOW_STATS.failed;
  const down = await runConcurrent(20, 5, () => get(port, '/down', {}, agent));
  t.same(down.map((r) => r.status + ' ' + r.body), Array(20).fill('200 main'), 'mirror down: every main request fine');
  const start = performance.now();
  const slow = await runConcurrent(10, 5, () => get(port, '/slow', {}, agent));
  t.same(slow.map((r) => r.body), Array(10).fill('main'), 'mirror hanging: every main request fine');
  t.ok(performance.now() - start < 3000, 'and not held up by the mirror');
  await waitForSeen(hang, 1);
  t.ok(SHADOW_STATS.failed > failedBefore, 'mirror failures are counted');
});

t.test('runtime_fraction against the injected random value', async (t) => {
  const m = await mirrorUpstream(t);
  let value = 0;
  const { port } = await setupProxy(
    t,
    mirrored([{ cluster: 'mirror', runtime_fraction: { default_value: { numerator: 50, denominator: 'HUNDRED' } } }]),
    [staticCluster('main', [main.port]), staticCluster('mirror', [m.port])],
    {},
    { random: () => value },
  );
  value = 50;
  t.equal((await get(port, '/not-1')).body, 'main');
  value = 49;
  t.equal((await get(port, '/yes-1')).body, 'main');
  await waitForSeen(m, 1);
  value = 150;
  t.equal((await get(port, '/not-2')).body, 'main');
  value = 100;
  t.equal((await get(port, '/yes-2')).body, 'main');
  await waitForSeen(m, 2);
  t.same(m.seen.map((s) => s.url).sort(), ['/yes-1', '/yes-2'], 'only requests whose random value passes are mirrored');
});

t.test('runtime_fraction with the real random source: binomial bound over 400 requests', async (t) => {
  const m = await mirrorUpstream(t);
  const { port, agent } = await setupProxy(
    t,
    mirrored([{ cluster: 'mirror', runtime_fraction: { default_value: { numerator: 2500, denominator: 'TEN_THOUSAND' } } }]),
    [staticCluster('main', [main.port]), staticCluster('mirror', [m.port])],
  );
  const sentBefore = SHADOW_STATS.sent;
  const N = 400;
  await runConcurrent(N, 8, () => get(port, '/', {}, agent));
  const sent = SHADOW_STATS.sent - sentBefore;
  await waitForSeen(m, sent);
  t.equal(m.seen.length, sent, 'every shadow sent arrived');
  t.ok(Math.abs(sent - N * 0.25) <= 5 * Math.sqrt(N * 0.25 * 0.75), `25%: ${sent} of ${N} mirrored`);
});

t.test('several policies, cluster_header, unknown mirror cluster skipped, bodies not mirrored', async (t) => {
  const a = await mirrorUpstream(t);
  const b = await mirrorUpstream(t);
  const { port } = await setupProxy(
    t,
    mirrored([{ cluster: 'a' }, { cluster: 'nope' }, { cluster_header: 'x-mirror-to' }]),
    [staticCluster('main', [main.port]), staticCluster('a', [a.port]), staticCluster('b', [b.port])],
  );
  const skipped = SHADOW_STATS.skippedNoCluster;
  t.equal((await get(port, '/one', { 'x-mirror-to': 'b' })).body, 'main');
  await waitForSeen(a, 1);
  await waitForSeen(b, 1);
  t.equal(SHADOW_STATS.skippedNoCluster, skipped + 1, 'the unknown cluster is skipped');
  // A request with a body: served, not mirrored (bodies are streamed, never buffered).
  const bodies = SHADOW_STATS.skippedBody;
  const post = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/post', method: 'POST', agent: false, headers: { 'content-length': '5' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end('hello');
  });
  t.equal(post.status, 200);
  t.equal(post.body, 'main');
  t.equal(SHADOW_STATS.skippedBody, bodies + 1);
  t.equal((await get(port, '/two')).body, 'main');
  await waitForSeen(a, 2);
  t.same(a.seen.map((s) => s.url), ['/one', '/two'], 'the POST never reached the mirror');
});

t.test('invalid mirror policy rejected with its path', async (t) => {
  const proxy = new ProxyServer({ accessLogStream: new LogCapture() });
  t.teardown(() => proxy.close());
  const r = await proxy.apply(resources([listener('l', mirrored([{ runtime_fraction: {} }]))], [staticCluster('main', [main.port])]));
  t.match(r.errors.join('\n'), /route\.request_mirror_policies\[0\]: one of cluster or cluster_header is required/);
});

t.test('Istio VirtualService mirror + mirrorPercentage: translated by translateIstio, served end to end', async (t) => {
  const m = await mirrorUpstream(t);
  const yaml = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 8000, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: ${main.port}}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: ${m.port}}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin]
  http:
  - route:
    - destination: {host: httpbin, subset: v1}
      weight: 100
    mirror: {host: httpbin, subset: v2}
    mirrorPercentage: {value: 100.0}
`;
  const tr = translateIstio([{ file: 'httpbin.yaml', text: yaml }], { listen: { address: '127.0.0.1', port: 0 } });
  if (tr.errors) throw new Error(tr.errors.join('\n'));
  const proxy = new ProxyServer({ accessLogStream: new LogCapture() });
  t.teardown(() => proxy.close());
  t.same((await proxy.apply(tr.value.resources)).errors, []);
  const port = proxy.listeners()[0]!.port;
  const r = await get(port, '/headers', { host: 'httpbin:8000' });
  t.equal(r.status, 200);
  t.equal(r.body, 'main', 'served by v1');
  await waitForSeen(m, 1);
  t.equal(m.seen[0]!.headers.host, 'httpbin-shadow:8000', 'v2 sees the mirrored copy');
  t.equal(m.seen[0]!.url, '/headers');
});
