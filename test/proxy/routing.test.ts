// Routing through ProxyServer.apply: weighted splits, header and cookie routes, redirect,
// direct response, rewrites as the upstream sees them, request/response header handling.

import t from 'tap';
import { startEcho, startVersioned, type TestUpstream } from '../helpers/upstream-servers';
import { get, routeConfig, setupProxy, staticCluster, tally } from './fixtures';

const setup = setupProxy;

let v1: TestUpstream;
let v2: TestUpstream;
let echo: TestUpstream;

t.before(async () => {
  v1 = await startVersioned('v1');
  v2 = await startVersioned('v2');
  echo = await startEcho();
});
t.teardown(async () => {
  await v1.close();
  await v2.close();
  await echo.close();
});

const split = (mode?: string) =>
  routeConfig([
    {
      match: { prefix: '/' },
      ...(mode ? { metadata: { filter_metadata: { weir: { pick_mode: mode } } } } : {}),
      route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }] } },
    },
  ]);

t.test('injected random value drives the weighted pick', async (t) => {
  let value = 0;
  const { port } = await setup(t, split(), [staticCluster('v1', [v1.port]), staticCluster('v2', [v2.port])], {}, { random: () => value });
  value = 89;
  t.equal((await get(port, '/')).body, 'v1');
  value = 90;
  t.equal((await get(port, '/')).body, 'v2');
  value = 199;
  t.equal((await get(port, '/')).body, 'v2');
});

t.test('header route and cookie route (several cookies in one header)', async (t) => {
  const rc = routeConfig([
    { match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] }, route: { cluster: 'v2' } },
    { match: { prefix: '/', headers: [{ name: 'cookie', string_match: { safe_regex: { regex: '^(.*?; ?)?(user=jason)(;.*)?$' } } }] }, route: { cluster: 'v2' } },
    { match: { prefix: '/' }, route: { cluster: 'v1' } },
  ]);
  const { port } = await setup(t, rc, [staticCluster('v1', [v1.port]), staticCluster('v2', [v2.port])]);
  t.equal((await get(port, '/')).body, 'v1');
  t.equal((await get(port, '/', { 'x-canary': 'yes' })).body, 'v2');
  t.equal((await get(port, '/', { 'x-canary': 'no' })).body, 'v1');
  t.equal((await get(port, '/', { cookie: 'a=1; user=jason; theme=dark' })).body, 'v2');
  t.equal((await get(port, '/', { cookie: 'a=1; user=jasonx' })).body, 'v1');
});

t.test('redirect and direct_response', async (t) => {
  const rc = routeConfig([
    { match: { prefix: '/old' }, redirect: { path_redirect: '/new', response_code: 'FOUND' } },
    { match: { prefix: '/gone' }, redirect: { host_redirect: 'example.com' } },
    { match: { path: '/health' }, direct_response: { status: 200, body: { inline_string: 'healthy' } }, response_headers_to_add: [{ header: { key: 'x-direct', value: 'yes' } }] },
  ]);
  const { port, log } = await setup(t, rc, []);
  const r1 = await get(port, '/old?x=1');
  t.equal(r1.status, 302);
  t.match(r1.headers['location'], /\/new\?x=1$/);
  const r2 = await get(port, '/gone');
  t.equal(r2.status, 301);
  t.equal(r2.headers['location'], 'http://example.com/gone');
  const r3 = await get(port, '/health');
  t.equal(r3.status, 200);
  t.equal(r3.body, 'healthy');
  t.equal(r3.headers['content-type'], 'text/plain');
  t.equal(r3.headers['x-direct'], 'yes');
  await log.waitFor(3);
  t.match(log.last(), /"GET \/health HTTP\/1\.1" 200 - 0 7 /);
});

t.test('rewrites as the upstream sees them; forwarded headers; hop-by-hop removed', async (t) => {
  const rc = routeConfig([
    { match: { prefix: '/api/' }, route: { cluster: 'echo', prefix_rewrite: '/v2/', host_rewrite_literal: 'backend.internal' }, request_headers_to_add: [{ header: { key: 'x-added', value: 'route' } }], response_headers_to_add: [{ header: { key: 'x-resp', value: 'r' } }] },
    { match: { prefix: '/' }, route: { cluster: 'echo' } },
  ]);
  const { port } = await setup(t, rc, [staticCluster('echo', [echo.port])], { use_remote_address: true });
  const r = await get(port, '/api/users?id=7', { 'x-forwarded-for': '10.1.1.1', 'proxy-connection': 'keep-alive', te: 'gzip, trailers', 'x-request-id': 'abc' });
  t.equal(r.status, 200);
  t.equal(r.headers['x-resp'], 'r');
  const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
  t.equal(seen.url, '/v2/users?id=7');
  t.equal(seen.headers['host'], 'backend.internal');
  t.equal(seen.headers['x-envoy-original-path'], '/api/users?id=7');
  t.equal(seen.headers['x-added'], 'route');
  t.equal(seen.headers['x-forwarded-for'], '10.1.1.1, 127.0.0.1');
  t.equal(seen.headers['x-forwarded-proto'], 'http');
  t.equal(seen.headers['x-request-id'], 'abc');
  t.equal(seen.headers['te'], 'trailers');
  t.notOk('proxy-connection' in seen.headers);
  t.equal(seen.headers['x-envoy-expected-rq-timeout-ms'], '15000', 'Envoy default route timeout');
  const r2 = await get(port, '/plain');
  const seen2 = JSON.parse(r2.body) as { url: string; headers: Record<string, string> };
  t.equal(seen2.url, '/plain');
  t.notOk('x-envoy-original-path' in seen2.headers);
  t.match(seen2.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'uuid v4 generated');
});

t.test('server_name and endpoint weights within a cluster (ROUND_ROBIN exact)', async (t) => {
  const rc = routeConfig([{ match: { prefix: '/' }, route: { cluster: 'both' } }]);
  const { port } = await setup(t, rc, [staticCluster('both', [{ port: v1.port, weight: 3 }, { port: v2.port, weight: 1 }])], { server_name: 'weir-test' });
  const counts = await tally(port, 400, 4);
  t.equal(counts.get('v1'), 300);
  t.equal((await get(port, '/')).headers['server'], 'weir-test');
});

t.test('RING_HASH / MAGLEV with the route hash_policy: same key, same endpoint', async (t) => {
  const hosts = [await startVersioned('a'), await startVersioned('b'), await startVersioned('c')];
  t.teardown(() => Promise.all(hosts.map((h) => h.close())));
  const rc = routeConfig([
    { match: { prefix: '/ring' }, route: { cluster: 'ring', hash_policy: [{ header: { header_name: 'x-user' } }] } },
    { match: { prefix: '/maglev' }, route: { cluster: 'maglev', hash_policy: [{ cookie: { name: 'sid' } }] } },
  ]);
  const ports = hosts.map((h) => h.port);
  const { port } = await setup(t, rc, [staticCluster('ring', ports, { lb_policy: 'RING_HASH' }), staticCluster('maglev', ports, { lb_policy: 'MAGLEV' })]);
  for (const [path, hdr] of [['/ring', (u: string) => ({ 'x-user': u })], ['/maglev', (u: string) => ({ cookie: `a=b; sid=${u}` })]] as const) {
    const seen = new Set<string>();
    for (let u = 0; u < 12; u++) {
      const first = (await get(port, path, hdr('user' + u))).body;
      const again = (await get(port, path, hdr('user' + u))).body;
      t.equal(again, first, `${path} user${u} sticks`);
      seen.add(first);
    }
    t.ok(seen.size >= 2, `${path}: users spread over ${seen.size} hosts`);
  }
});

t.test('absolute-form request target and strip_any_host_port', async (t) => {
  const rc = { name: 'rc', virtual_hosts: [{ name: 'svc', domains: ['svc.local'], routes: [{ match: { prefix: '/' }, route: { cluster: 'echo' } }] }] };
  const { port } = await setup(t, rc, [staticCluster('echo', [echo.port])], { strip_any_host_port: true });
  const r = await get(port, 'http://svc.local:8080/x?y=1');
  t.equal(r.status, 200);
  const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
  t.equal(seen.url, '/x?y=1');
  t.equal(seen.headers['host'], 'svc.local');
  t.equal((await get(port, '/', { host: 'svc.local:1234' })).status, 200, 'port stripped before the virtual host lookup');
  t.equal((await get(port, '/', { host: 'other' })).status, 404);
});

t.test('onStreamComplete sees each finished request with the endpoint metadata', async (t) => {
  const seen: { status: number; cluster: string | null; version: unknown; listener: string; flags: number }[] = [];
  const rc = routeConfig([{ match: { prefix: '/' }, route: { cluster: 'v2' } }]);
  const md = { filter_metadata: { istio: { version: 'v2' } } };
  const { port } = await setup(t, rc, [staticCluster('v2', [{ port: v2.port, metadata: md }])], {}, {
    onStreamComplete: (s) => {
      const istio = (s.upstreamMetadata?.['filter_metadata'] as { istio?: { version?: string } } | undefined)?.istio;
      seen.push({ status: s.status, cluster: s.upstreamCluster, version: istio?.version, listener: s.listenerName, flags: s.flags });
    },
  });
  await get(port, '/');
  t.same(seen, [{ status: 200, cluster: 'v2', version: 'v2', listener: 'l', flags: 0 }]);
});

t.test('onSnapshot binds a per-listener observer once per snapshot', async (t) => {
  const calls: string[] = [];
  let binds = 0;
  const rc = routeConfig([{ match: { prefix: '/' }, route: { cluster: 'v1', retry_policy: { retry_on: '5xx', num_retries: 1 } } }]);
  const { port } = await setup(t, rc, [staticCluster('v1', [v1.port])], {}, {
    onSnapshot: (snap, clusters) => {
      binds++;
      t.ok(clusters.has('v1'));
      return { listener: (name) => (snap.listeners.some((l) => l.name === name) ? { streamDone: (s) => calls.push(`${name} ${s.status} ${s.retriesDone} ${s.entry !== null}`) } : null) };
    },
  });
  await get(port, '/');
  await get(port, '/');
  t.equal(binds, 1);
  t.same(calls, ['l 200 0 true', 'l 200 0 true']);
});
