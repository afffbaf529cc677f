// envoy.filters.http.fault: abort (status, body `fault filter abort`, flag FI), delay (flag DI,
// then the request proceeds), FractionalPercent with an injected random value, per-route config
// overriding the listener's, the filter absent = no fault, and an Istio VirtualService `fault`
// translated by translateIstio and served through ProxyServer.apply.

import t from 'tap';
import { performance } from 'node:perf_hooks';
import { request as httpRequest } from 'node:http';
import { translateIstio } from '../../src/config/istio';
import { TYPE_URL } from '../../src/config/resources';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { startVersioned, type TestUpstream } from '../helpers/upstream-servers';
import { get, listener, LogCapture, resources, routeConfig, setupProxy, staticCluster, type TestLike } from './fixtures';

const HTTP_FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const FAULT = 'envoy.filters.http.fault';
const LOG = {
  '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  log_format: { text_format_source: { inline_string: '%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\n' } },
};

let v1: TestUpstream;
t.before(async () => {
  v1 = await startVersioned('v1');
});
t.teardown(async () => {
  await v1.close();
});

/** HCM extras: the fault filter (with an optional listener-level config) before the router. */
const withFault = (listenerConfig: object = {}) => ({
  http_filters: [
    { name: FAULT, typed_config: { '@type': HTTP_FAULT, ...listenerConfig } },
    { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } },
  ],
  access_log: [{ name: 'envoy.access_loggers.stdout', typed_config: LOG }],
});

const routeWith = (fault: object | null, prefix = '/') => ({
  match: { prefix },
  route: { cluster: 'v1' },
  ...(fault !== null ? { typed_per_filter_config: { [FAULT]: { '@type': HTTP_FAULT, ...fault } } } : {}),
});

t.test('abort: status, body, flag FI; the upstream is not called', async (t) => {
  const rc = routeConfig([routeWith({ abort: { http_status: 503, percentage: { numerator: 100, denominator: 'HUNDRED' } } })]);
  const { port, log } = await setupProxy(t, rc, [staticCluster('v1', [v1.port])], withFault());
  const before = v1.seen.length;
  const r = await get(port, '/x');
  t.equal(r.status, 503);
  t.equal(r.body, 'fault filter abort');
  t.equal(r.headers['content-type'], 'text/plain');
  await log.waitFor(1);
  t.equal(log.last(), '503 FI fault_filter_abort');
  t.equal(v1.seen.length, before, 'upstream not called');
});

t.test('the fault filter is a known filter in the HCM (not skipped)', async (t) => {
  const { proxy } = await setupProxy(t, routeConfig([routeWith(null)]), [staticCluster('v1', [v1.port])], withFault());
  const hf = proxy.snapshot!.listeners[0]!.hcm.httpFilters;
  t.same(hf.map((f) => [f.name, f.skipped]), [[FAULT, false], ['envoy.filters.http.router', false]]);
});

t.test('percentage: FractionalPercent against the injected random value (HUNDRED, TEN_THOUSAND, MILLION)', async (t) => {
  let value = 0;
  const rc = routeConfig([
    routeWith({ abort: { http_status: 500, percentage: { numerator: 50, denominator: 'HUNDRED' } } }, '/h'),
    routeWith({ abort: { http_status: 500, percentage: { numerator: 2500, denominator: 'TEN_THOUSAND' } } }, '/t'),
    routeWith({ abort: { http_status: 500, percentage: { numerator: 1, denominator: 'MILLION' } } }, '/m'),
    routeWith({ abort: { http_status: 500 } }, '/none'),
  ]);
  const { port } = await setupProxy(t, rc, [staticCluster('v1', [v1.port])], withFault(), { random: () => value });
  const cases: [string, number, number][] = [
    ['/h', 49, 500],
    ['/h', 50, 200],
    ['/h', 149, 500],
    ['/t', 2499, 500],
    ['/t', 2500, 200],
    ['/m', 1_000_000, 500],
    ['/m', 1_000_001, 200],
    // No percentage: the proto default numerator 0 never aborts.
    ['/none', 0, 200],
  ];
  for (const [path, v, status] of cases) {
    value = v;
    t.equal((await get(port, path)).status, status, `${path} random ${v}`);
  }
});

t.test('per-route config overrides the listener-level config', async (t) => {
  const listenerAbort = { abort: { http_status: 500, percentage: { numerator: 100 } } };
  const rc = routeConfig([
    routeWith({ abort: { http_status: 418, percentage: { numerator: 100 } } }, '/route'),
    routeWith({}, '/empty'),
    { ...routeWith(null, '/off'), typed_per_filter_config: { [FAULT]: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: true } } },
    routeWith(null, '/'),
  ]);
  const { port } = await setupProxy(t, rc, [staticCluster('v1', [v1.port])], withFault(listenerAbort));
  t.equal((await get(port, '/route')).status, 418, 'route config wins');
  t.equal((await get(port, '/empty')).status, 200, 'an empty per-route HTTPFault injects nothing');
  t.equal((await get(port, '/off')).status, 200, 'FilterConfig disabled: no fault on the route');
  t.equal((await get(port, '/other')).status, 500, 'no per-route config: the listener-level config');
});

t.test('without the fault filter in http_filters, per-route fault config does nothing (as Envoy)', async (t) => {
  const rc = routeConfig([routeWith({ abort: { http_status: 503, percentage: { numerator: 100 } } })]);
  const { port } = await setupProxy(t, rc, [staticCluster('v1', [v1.port])]);
  const r = await get(port, '/');
  t.equal(r.status, 200);
  t.equal(r.body, 'v1');
});

t.test('delay: fixed_delay then the request proceeds, flag DI; delay + abort gives DI,FI', async (t) => {
  const rc = routeConfig([
    routeWith({ delay: { fixed_delay: '0.2s', percentage: { numerator: 100 } } }, '/delay'),
    routeWith(
      { delay: { fixed_delay: '0.1s', percentage: { numerator: 100 } }, abort: { http_status: 429, percentage: { numerator: 100 } } },
      '/both',
    ),
    routeWith({ delay: { fixed_delay: '5s', percentage: { numerator: 0 } } }, '/zero'),
  ]);
  const { port, log } = await setupProxy(t, rc, [staticCluster('v1', [v1.port])], withFault());
  let start = performance.now();
  const r = await get(port, '/delay');
  const took = performance.now() - start;
  t.equal(r.status, 200);
  t.equal(r.body, 'v1');
  t.ok(took >= 190, `delayed ${took.toFixed(0)} ms`);
  await log.waitFor(1);
  t.equal(log.last(), '200 DI via_upstream');
  start = performance.now();
  const b = await get(port, '/both');
  t.equal(b.status, 429);
  t.equal(b.body, 'fault filter abort');
  t.ok(performance.now() - start >= 90, 'the abort comes after the delay');
  await log.waitFor(2);
  t.equal(log.last(), '429 DI,FI fault_filter_abort');
  start = performance.now();
  t.equal((await get(port, '/zero')).status, 200);
  t.ok(performance.now() - start < 2000, '0% delays nothing');
});

t.test('the route timeout counts from the end of the injected delay (the router starts then)', async (t) => {
  const rc = routeConfig([{ ...routeWith({ delay: { fixed_delay: '0.3s', percentage: { numerator: 100 } } }), route: { cluster: 'v1', timeout: '0.2s' } }]);
  const { port } = await setupProxy(t, rc, [staticCluster('v1', [v1.port])], withFault());
  const r = await get(port, '/');
  t.equal(r.status, 200, 'not 504: the delay is not upstream time');
});

t.test('fault headers: the fault applies only to matching requests', async (t) => {
  const rc = routeConfig([
    routeWith({ abort: { http_status: 503, percentage: { numerator: 100 } }, headers: [{ name: 'x-fault', string_match: { exact: 'yes' } }] }),
  ]);
  const { port } = await setupProxy(t, rc, [staticCluster('v1', [v1.port])], withFault());
  t.equal((await get(port, '/')).status, 200);
  t.equal((await get(port, '/', { 'x-fault': 'yes' })).status, 503);
});

t.test('invalid fault config is rejected with its path; nothing applied', async (t) => {
  const proxy = new ProxyServer({ accessLogStream: new LogCapture() });
  t.teardown(() => proxy.close());
  const rc = routeConfig([routeWith({ abort: { http_status: 100, percentage: { numerator: 100 } } })]);
  const r = await proxy.apply(resources([listener('l', rc, withFault())], [staticCluster('v1', [v1.port])]));
  t.match(r.errors.join('\n'), /typed_per_filter_config\["envoy\.filters\.http\.fault"\]\.abort\.http_status: must be in 200\.\.599/);
  t.equal(proxy.listeners().length, 0);
  const bad = await proxy.apply(resources([listener('l', routeConfig([routeWith(null)]), withFault({ delay: { percentage: { numerator: 1 } } }))], [staticCluster('v1', [v1.port])]));
  t.match(bad.errors.join('\n'), /http_filters\[0\]\.typed_config\.delay\.fixed_delay: is required/);
});

const ISTIO = (upstreamPort: number, fault: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings}
spec:
  hosts: [ratings.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {http: ${upstreamPort}}
    labels: {version: v1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault:
${fault}
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: ratings}}]
`;

async function serveIstio(t: TestLike, yaml: string): Promise<number> {
  const tr = translateIstio([{ file: 'ratings.yaml', text: yaml }], { listen: { address: '127.0.0.1', port: 0 } });
  if (tr.errors) throw new Error(tr.errors.join('\n'));
  const proxy = new ProxyServer({ accessLogStream: new LogCapture() });
  t.teardown(() => proxy.close());
  const r = await proxy.apply(tr.value.resources);
  t.same(r.errors, [], 'applied');
  return proxy.listeners()[0]!.port;
}

t.test('Istio VirtualService fault (bookinfo ratings): translated by translateIstio, served end to end', async (t) => {
  const abort = '      abort: {httpStatus: 500, percentage: {value: 100}}';
  const port = await serveIstio(t, ISTIO(v1.port, abort));
  const hit = await get(port, '/ratings/0', { host: 'ratings:9080', 'end-user': 'jason' });
  t.equal(hit.status, 500);
  t.equal(hit.body, 'fault filter abort');
  const miss = await get(port, '/ratings/0', { host: 'ratings:9080' });
  t.equal(miss.status, 200);
  t.equal(miss.body, 'v1');

  const delay = '      delay: {fixedDelay: 0.2s, percentage: {value: 100.0}}';
  const port2 = await serveIstio(t, ISTIO(v1.port, delay));
  const start = performance.now();
  const d = await get(port2, '/ratings/0', { host: 'ratings:9080', 'end-user': 'jason' });
  t.equal(d.status, 200);
  t.ok(performance.now() - start >= 190, 'delayed by fixedDelay');
});

t.test('max_active_faults: a request over the limit gets no fault; the count drops when a faulted request ends (also by disconnect)', async (t) => {
  // The injected random source doubles as the "request is being handled" signal: it is called
  // synchronously while the request sets up its delay, so once it has been called the delay timer
  // is running.
  let onRandom: (() => void) | null = null;
  const random = (): number => {
    const f = onRandom;
    onRandom = null;
    if (f !== null) queueMicrotask(f);
    return 0;
  };
  const inHandler = (): Promise<void> => new Promise((resolve) => (onRandom = resolve));
  const rc = routeConfig([routeWith({ delay: { fixed_delay: '0.4s', percentage: { numerator: 100 } }, max_active_faults: 1 })]);
  const { port, log, proxy } = await setupProxy(t, rc, [staticCluster('v1', [v1.port])], withFault(), { random });
  const ff = proxy.snapshot!.listeners[0]!.hcm.fault!;
  const handled = inHandler();
  const a = get(port, '/a');
  await handled;
  t.equal(ff.active, 1, 'the first request holds the one fault slot');
  const start = performance.now();
  const b = await get(port, '/b');
  t.equal(b.status, 200);
  t.ok(performance.now() - start < 350, 'the second request is not delayed');
  await log.waitFor(1);
  t.equal(log.last(), '200 - via_upstream');
  t.equal((await a).status, 200);
  await log.waitFor(2);
  t.equal(log.last(), '200 DI via_upstream');
  t.equal(ff.active, 0, 'slot released');

  // A client that goes away during the delay: the timer is cleared, the slot released, no upstream call.
  const seen = v1.seen.length;
  const handled2 = inHandler();
  const req = httpRequest({ host: '127.0.0.1', port, path: '/gone', agent: false });
  req.on('error', () => {});
  req.end();
  await handled2;
  req.destroy();
  await log.waitFor(3);
  t.match(log.last(), / DI,DC /);
  t.equal(ff.active, 0, 'slot released on disconnect');
  t.equal(v1.seen.length, seen, 'the upstream never saw it');
});
