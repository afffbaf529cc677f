// One contract, every config source (style.md, after Hono's src/router/common.case.test.ts): the
// six config/istio examples served together must route the same way whether weir reads
//   (a) the Istio YAML itself (startIstioServe, as `weir --istio`),
//   (b) the equivalent static Envoy bootstrap (`weir translate --bootstrap`: toStaticBootstrap,
//       written to a file and read back by loadBootstrap, as `weir -c`),
//   (c) the same resources over ADS from a control plane, state of the world and Delta.
// One table of expectations, one loop over sources: they cannot drift apart. Real upstreams on
// 127.0.0.1; the weighted pick is driven by an injected random value so every row is exact.

import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { loadBootstrap } from '../../src/config/bootstrap';
import { loadIstioFiles, toStaticBootstrap, translateIstio, type IstioOptions } from '../../src/config/istio';
import { startIstioServe } from '../../src/config/istio-serve';
import { TYPE_URL, type ResourceSet } from '../../src/config/resources';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { compileSnapshot } from '../../src/proxy/snapshot';
import { AdsClient, type AdsApiType } from '../../src/xds/ads-client';
import { FakeAdsServer } from '../helpers/fake-ads-server';
import { startVersionUpstreams } from '../helpers/version-upstreams';
import { EXAMPLES_DIR } from './istio-harness';

interface Expectation {
  name: string;
  request: { authority: string; path?: string; headers?: { [k: string]: string } };
  /** The uint32 random value of the weighted pick (Envoy: `value % total` walks the weights in order). */
  random?: number;
  expect: { version: string; seen?: string } | { status: number };
}

// `version` is the answering upstream's `<app>/<version>` labels, i.e. the subset cluster the route chose.
const EXPECTATIONS: Expectation[] = [
  // bookinfo-reviews.yaml: v2 90 / v3 10
  { name: 'reviews: random 0 -> v2', request: { authority: 'reviews' }, random: 0, expect: { version: 'reviews/v2' } },
  { name: 'reviews: random 89 -> v2', request: { authority: 'reviews:9080' }, random: 89, expect: { version: 'reviews/v2' } },
  { name: 'reviews: random 90 -> v3', request: { authority: 'reviews.default.svc.cluster.local' }, random: 90, expect: { version: 'reviews/v3' } },
  { name: 'reviews: random 199 (% 100 = 99) -> v3', request: { authority: 'reviews.default:9080', path: '/reviews/0' }, random: 199, expect: { version: 'reviews/v3' } },
  { name: 'reviews: other namespace is another host', request: { authority: 'reviews.other' }, expect: { status: 404 } },
  // user-service-canary.yaml: stable 90 / canary 10
  { name: 'user-service: random 89 -> stable', request: { authority: 'user-service' }, random: 89, expect: { version: 'user-service/v1' } },
  { name: 'user-service: random 90 -> canary', request: { authority: 'user-service.default.svc:8080' }, random: 90, expect: { version: 'user-service/v2' } },
  // tenant-gray-cookie.yaml
  { name: 'shop: tenantGray=1 among cookies -> v2', request: { authority: 'shop', headers: { cookie: 'session=abc; tenantGray=1' } }, random: 0, expect: { version: 'shop/v2' } },
  { name: 'shop: tenantGray=0 -> v1', request: { authority: 'shop', headers: { cookie: 'tenantGray=0' } }, random: 99, expect: { version: 'shop/v1' } },
  { name: 'shop: no cookie -> v1', request: { authority: 'shop:8090' }, expect: { version: 'shop/v1' } },
  // user-agent-canary.yaml
  { name: 'frontend: user-agent canary -> v2', request: { authority: 'frontend', headers: { 'user-agent': 'canary' } }, expect: { version: 'frontend/v2' } },
  { name: 'frontend: user-agent Canary -> v1', request: { authority: 'frontend', headers: { 'user-agent': 'Canary' } }, expect: { version: 'frontend/v1' } },
  { name: 'frontend: other user-agent -> v1', request: { authority: 'frontend', headers: { 'user-agent': 'curl/8.5.0' } }, expect: { version: 'frontend/v1' } },
  // helloworld-80-20.yaml: v1 80 / v2 20
  { name: 'helloworld: random 79 -> v1', request: { authority: 'helloworld', path: '/hello' }, random: 79, expect: { version: 'helloworld/v1' } },
  { name: 'helloworld: random 80 -> v2', request: { authority: 'helloworld:5000', path: '/hello' }, random: 80, expect: { version: 'helloworld/v2' } },
  { name: 'helloworld: random 4294967295 (% 100 = 95) -> v2', request: { authority: 'helloworld', path: '/hello' }, random: 4294967295, expect: { version: 'helloworld/v2' } },
  // two-services.yaml
  { name: 'service-a: user=alice -> v2, tells B v2', request: { authority: 'service-a', headers: { cookie: 'user=alice' } }, expect: { version: 'service-a/v2', seen: 'v2' } },
  { name: 'service-a: user=bob after another cookie -> v2', request: { authority: 'service-a', headers: { cookie: 'a=1; user=bob' } }, expect: { version: 'service-a/v2', seen: 'v2' } },
  { name: 'service-a: user=carol -> v1, tells B v1', request: { authority: 'service-a:7000', headers: { cookie: 'user=carol' } }, expect: { version: 'service-a/v1', seen: 'v1' } },
  { name: 'service-a: xuser=alice -> v1', request: { authority: 'service-a', headers: { cookie: 'xuser=alice' } }, expect: { version: 'service-a/v1', seen: 'v1' } },
  { name: 'service-b: x-version v2 -> v2', request: { authority: 'service-b', headers: { 'x-version': 'v2' } }, expect: { version: 'service-b/v2', seen: 'v2' } },
  { name: 'service-b: x-version V2 -> v1 (exact)', request: { authority: 'service-b', headers: { 'x-version': 'V2' } }, expect: { version: 'service-b/v1', seen: 'V2' } },
  { name: 'service-b: no x-version -> v1', request: { authority: 'service-b.default.svc.cluster.local:7100' }, expect: { version: 'service-b/v1', seen: '' } },
  // Nobody's host.
  { name: 'unknown host -> 404 (NR)', request: { authority: 'nobody.example.com' }, expect: { status: 404 } },
];

const OPTIONS: IstioOptions = { listen: { address: '127.0.0.1', port: 0 } };
const NODE = { id: 'sidecar~127.0.0.1~weir.default~default.svc.cluster.local', cluster: 'weir' };
const APPLY_TIMEOUT_MS = 10_000;

interface Source {
  name: string;
  /** Configures `proxy` from the examples in `dir`; resolves once it serves. */
  start(t: Test, proxy: ProxyServer, dir: string): Promise<void>;
}

async function translated(dir: string): Promise<ResourceSet> {
  const r = translateIstio(await loadIstioFiles([dir]), OPTIONS);
  if (r.errors) throw new Error(r.errors.join('\n'));
  return r.value.resources;
}

function adsSource(apiType: AdsApiType): Source {
  return {
    name: `ADS (${apiType === 'GRPC' ? 'state of the world' : 'Delta'}) from a control plane`,
    async start(t, proxy, dir) {
      const set = await translated(dir);
      const server = await FakeAdsServer.start();
      t.teardown(() => server.close());
      server.setResources(TYPE_URL.CLUSTER, [...set.clusters]);
      server.setResources(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, [...set.clusterLoadAssignments]);
      server.setResources(TYPE_URL.LISTENER, [...set.listeners]);
      server.setResources(TYPE_URL.ROUTE_CONFIGURATION, [...set.routeConfigurations]);
      const applied = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no config applied over ADS within ${APPLY_TIMEOUT_MS} ms`)), APPLY_TIMEOUT_MS);
        const client = new AdsClient({
          target: server.target,
          node: NODE,
          apiType,
          validate: (candidate) => compileSnapshot(candidate).errors ?? [],
          apply: async (candidate) => {
            const r = await proxy.apply(candidate);
            if (r.errors.length > 0) reject(new Error(r.errors.join('\n')));
            else if (candidate.listeners.length > 0 && candidate.clusters.length === set.clusters.length) {
              clearTimeout(timer);
              resolve();
            }
          },
          backoff: { baseMs: 50, maxMs: 200 },
        });
        t.teardown(() => client.stop());
        client.start();
      });
      await applied;
    },
  };
}

const SOURCES: Source[] = [
  {
    name: 'Istio YAML (weir --istio)',
    async start(t, proxy, dir) {
      const serve = await startIstioServe({ paths: [dir], istio: OPTIONS, proxy, log: { info() {}, warn() {}, error() {} } });
      t.teardown(() => serve.close());
    },
  },
  {
    name: 'Envoy static bootstrap (weir translate --bootstrap, weir -c)',
    async start(t, proxy, dir) {
      const file = join(dir, '..', 'bootstrap.json');
      writeFileSync(file, JSON.stringify(toStaticBootstrap(await translated(dir))));
      const loaded = loadBootstrap({ configPath: file });
      if (loaded.errors) throw new Error(loaded.errors.join('\n'));
      const r = await proxy.apply(loaded.value.resources);
      if (r.errors.length > 0) throw new Error(r.errors.join('\n'));
    },
  },
  adsSource('GRPC'),
  adsSource('DELTA_GRPC'),
];

t.test('contract: every example routes the same from every config source', async (t) => {
  // All six examples in one directory, endpoints on local labelled upstreams.
  const root = mkdtempSync(join(tmpdir(), 'weir-contract-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'istio');
  const ups = startVersionUpstreams();
  t.teardown(() => ups.close());
  mkdirSync(dir);
  const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.yaml'));
  t.equal(files.length, 6, 'six examples');
  for (const f of files) writeFileSync(join(dir, f), await ups.rewrite(readFileSync(join(EXAMPLES_DIR, f), 'utf8')));

  for (const source of SOURCES) {
    await t.test(source.name, async (t) => {
      let random = 0;
      const proxy = new ProxyServer({ random: () => random, drainTimeMs: 500 });
      t.teardown(() => proxy.close());
      await source.start(t, proxy, dir);
      const listeners = proxy.listeners();
      t.equal(listeners.length, 1, 'one listener routing by Host');
      const pool = new Pool(`http://127.0.0.1:${listeners[0]!.port}`, { connections: 1 });
      t.teardown(() => pool.close());
      for (const e of EXPECTATIONS) {
        random = e.random ?? 0;
        const r = await pool.request({ method: 'GET', path: e.request.path ?? '/', headers: { host: e.request.authority, ...e.request.headers } });
        await r.body.text();
        const got = {
          status: r.statusCode,
          version: r.statusCode === 200 ? String(r.headers['x-service']) + '/' + String(r.headers['x-version']) : undefined,
          seen: r.headers['x-seen-version'],
        };
        if ('status' in e.expect) t.equal(got.status, e.expect.status, e.name);
        else {
          const want = e.expect;
          t.same(
            { status: got.status, version: got.version, ...(want.seen !== undefined ? { seen: got.seen } : {}) },
            { status: 200, version: want.version, ...(want.seen !== undefined ? { seen: want.seen } : {}) },
            e.name,
          );
        }
      }
    });
  }
});
