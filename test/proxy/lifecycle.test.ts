// apply() semantics (reject whole, keep serving; swap while requests are in flight; listeners
// keyed by name), drain under load, WebSocket tunnelling, snapshot contents.

import t from 'tap';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { TYPE_URL } from '../../src/config/resources';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { compileSnapshot } from '../../src/proxy/snapshot';
import { startSlow, startVersionedEach, startWebSocketEcho, websocketAccept, wsFrame, wsParse, type TestUpstream, waitForSeen } from '../helpers/upstream-servers';
import { downstreamServerFromEnv, get, listener, LogCapture, resources, routeConfig, runConcurrent, staticCluster } from './fixtures';

let v1: TestUpstream;
let v2: TestUpstream;
t.before(async () => {
  [v1, v2] = await startVersionedEach(t, ['v1', 'v2']);
});

const to = (cluster: string, extra: object = {}) => routeConfig([{ match: { prefix: '/' }, route: { cluster, ...extra } }]);

t.test('apply with a bad resource returns path errors and keeps serving the last good snapshot', async (t) => {
  const proxy = new ProxyServer({ accessLogStream: new LogCapture(), downstreamServer: downstreamServerFromEnv() });
  t.teardown(() => proxy.close());
  t.same((await proxy.apply(resources([listener('l', to('v1'))], [staticCluster('v1', [v1.port])]))).errors, []);
  const port = proxy.listeners()[0]!.port;
  const before = proxy.snapshot;
  const bad = resources(
    [listener('l', routeConfig([{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 0 }] } } }]))],
    [staticCluster('v1', [v1.port]), { name: 'broken', lb_policy: 'NOPE' }],
  );
  const r = await proxy.apply(bad);
  t.ok(r.errors.length >= 2, r.errors.join('\n'));
  t.ok(r.errors.some((e) => e.startsWith('clusters["broken"].lb_policy: ')), 'cluster error has its path');
  t.ok(r.errors.some((e) => e.startsWith('listeners["l"].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0]')), 'route error has its path');
  t.equal(proxy.snapshot, before, 'snapshot unchanged');
  t.equal((await get(port, '/')).body, 'v1', 'still serving');
});

t.test('snapshot swap while a request is in flight: it completes on its snapshot; new requests see the new one', async (t) => {
  const slow = await startSlow(500);
  t.teardown(() => slow.close());
  const proxy = new ProxyServer({ accessLogStream: new LogCapture(), downstreamServer: downstreamServerFromEnv() });
  t.teardown(() => proxy.close());
  await proxy.apply(resources([listener('l', to('c'))], [staticCluster('c', [slow.port])]));
  const port = proxy.listeners()[0]!.port;
  const inflight = get(port, '/');
  await waitForSeen(slow, 1);
  const r = await proxy.apply({ ...resources([listener('l', to('c'))], [staticCluster('c', [v2.port])]), versionInfo: '2' });
  t.same(r.errors, []);
  t.equal(proxy.listeners()[0]!.port, port, 'same listener socket kept (keyed by name)');
  t.equal(proxy.snapshot!.versionInfo, '2');
  t.equal((await get(port, '/')).body, 'v2', 'new request on the new snapshot');
  const old = await inflight;
  t.equal(old.status, 200);
  t.equal(old.body, 'slow', 'in-flight request finished on the old cluster');
});

t.test('listener address change replaces the socket; removed listener stops accepting', async (t) => {
  const proxy = new ProxyServer({ accessLogStream: new LogCapture(), downstreamServer: downstreamServerFromEnv() });
  t.teardown(() => proxy.close());
  await proxy.apply(resources([listener('a', to('v1')), listener('b', to('v1'))], [staticCluster('v1', [v1.port])]));
  const [a, b] = proxy.listeners();
  t.same((await proxy.apply(resources([listener('a', to('v1'), { max_request_headers_kb: 30 })], [staticCluster('v1', [v1.port])]))).errors, []);
  const now = proxy.listeners();
  t.equal(now.length, 1);
  t.equal(now[0]!.name, 'a');
  t.not(now[0]!.port, a!.port, 'socket replaced');
  t.equal((await get(now[0]!.port, '/')).body, 'v1');
  await t.rejects(get(b!.port, '/'), 'removed listener refuses connections');
});

t.test('RDS route config by name; missing one leaves the listener warming', async (t) => {
  const proxy = new ProxyServer({ accessLogStream: new LogCapture(), downstreamServer: downstreamServerFromEnv() });
  t.teardown(() => proxy.close());
  const set = resources([listener('l', { rds: 'rc1' })], [staticCluster('v2', [v2.port])], { routeConfigurations: [{ ...to('v2'), name: 'rc1' }] });
  t.same((await proxy.apply(set)).errors, []);
  t.equal((await get(proxy.listeners()[0]!.port, '/')).body, 'v2');
  const snap = compileSnapshot(resources([listener('l', { rds: 'other' })], []), {});
  t.same(snap.value?.warmingListeners, ['l']);
});

t.test('http filters: unknown ones skipped and recorded; required unknown ones rejected', async (t) => {
  const filters = (extra: object) => ({
    http_filters: [
      { name: 'istio.stats', typed_config: { '@type': 'type.googleapis.com/stats.PluginConfig' } },
      extra,
      { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } },
    ],
  });
  const ok = compileSnapshot(resources([listener('l', to('x'), filters({ name: 'envoy.filters.http.buffer', is_optional: true }))], []), {});
  t.notOk(ok.errors);
  const hf = ok.value!.listeners[0]!.hcm.httpFilters;
  t.same(hf.map((f) => [f.name, f.skipped]), [['istio.stats', true], ['envoy.filters.http.buffer', true], ['envoy.filters.http.router', false]]);
  t.ok(ok.value!.warnings.some((w) => w.includes('istio.stats')));
  const bad = compileSnapshot(resources([listener('l', to('x'), filters({ name: 'envoy.filters.http.lua', is_optional: false }))], []), {});
  t.match(bad.errors?.join('\n'), /http_filters\[1\]: http filter envoy\.filters\.http\.lua .* is_optional: false/);
  // Access-enforcing filters are refused even without is_optional (test/xds/istio-listeners.test.ts).
  const authz = compileSnapshot(resources([listener('l', to('x'), filters({ name: 'envoy.filters.http.ext_authz', is_optional: false }))], []), {});
  t.match(authz.errors?.join('\n'), /http_filters\[1\]: weir does not implement external authorization \(ext_authz\)/);
  const noRouterLast = compileSnapshot(resources([listener('l', to('x'), { http_filters: [{ name: 'envoy.filters.http.router' }, { name: 'x' }] })], []), {});
  t.match(noRouterLast.errors?.join('\n'), /router filter must be the last/);
});

t.test('drain under load: every request in flight completes, new connections are refused', async (t) => {
  const slow = await startSlow(300);
  t.teardown(() => slow.close());
  const proxy = new ProxyServer({ accessLogStream: new LogCapture(), drainTimeMs: 5000, downstreamServer: downstreamServerFromEnv() });
  t.teardown(() => proxy.close());
  await proxy.apply(resources([listener('l', to('s'))], [staticCluster('s', [slow.port])]));
  const port = proxy.listeners()[0]!.port;
  const inflight = runConcurrent(20, 20, () => get(port, '/'));
  await waitForSeen(slow, 20);
  const drained = proxy.drain();
  const results = await inflight;
  t.equal(results.filter((r) => r.status === 200).length, 20, 'no failed request');
  t.ok(results.every((r) => r.headers['connection'] === 'close'), 'connection: close during drain');
  await drained;
  t.equal(proxy.inflight, 0);
  await t.rejects(get(port, '/'), 'listener closed');
});

t.test('WebSocket upgrade is tunnelled to the upstream and echoes frames', async (t) => {
  const ws = await startWebSocketEcho();
  t.teardown(() => ws.close());
  const proxy = new ProxyServer({ accessLogStream: new LogCapture(), downstreamServer: downstreamServerFromEnv() });
  t.teardown(() => proxy.close());
  await proxy.apply(
    resources(
      [
        listener('l', routeConfig([{ match: { prefix: '/ws' }, route: { cluster: 'ws', prefix_rewrite: '/echo' } }]), { upgrade_configs: [{ upgrade_type: 'websocket' }] }),
        listener('noup', to('ws')),
      ],
      [staticCluster('ws', [ws.port])],
    ),
  );
  const port = proxy.listeners().find((l) => l.name === 'l')!.port;
  const key = randomBytes(16).toString('base64');
  const socket = connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.write(`GET /ws HTTP/1.1\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buf = Buffer.alloc(0);
  const next = (pred: (b: Buffer) => boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred(buf)) {
          socket.off('data', onData);
          resolve();
        }
      };
      const onData = (c: Buffer): void => {
        buf = Buffer.concat([buf, c]);
        check();
      };
      socket.on('data', onData);
      socket.once('error', reject);
      check();
    });
  await next((b) => b.includes('\r\n\r\n'));
  const headEnd = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, headEnd).toString();
  t.match(head, /^HTTP\/1\.1 101 /);
  t.match(head, new RegExp(`sec-websocket-accept: ${websocketAccept(key).replace(/[+/]/g, '\\$&')}`, 'i'));
  buf = buf.subarray(headEnd + 4);
  socket.write(wsFrame('hello', randomBytes(4)));
  await next((b) => wsParse(b) !== null);
  t.equal(wsParse(buf)!.text, 'echo:hello');
  t.equal(ws.seen[0]!.url, '/echo', 'upgrade request rewritten like any other');
  // A listener without upgrade_configs refuses the upgrade, as Envoy does.
  const other = proxy.listeners().find((l) => l.name === 'noup')!.port;
  const refused = await new Promise<string>((resolve) => {
    const s = connect(other, '127.0.0.1', () => s.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n\r\n`));
    let out = '';
    s.on('data', (c: Buffer) => (out += c.toString()));
    s.on('close', () => resolve(out));
  });
  t.match(refused, /^HTTP\/1\.1 403 /);
  // An h2c upgrade (curl --http2) is served as plain HTTP/1.1, as Envoy's codec does.
  const plain = await new Promise<string>((resolve) => {
    const s = connect(other, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n'));
    let out = '';
    s.on('data', (c: Buffer) => (out += c.toString()));
    s.on('close', () => resolve(out));
  });
  t.match(plain, /^HTTP\/1\.1 426 /, 'reached the upstream as a plain request (the echo server answers 426 to non-upgrades)');
  t.equal(ws.seen[ws.seen.length - 1]!.headers['upgrade'], undefined, 'upgrade header dropped');
});
