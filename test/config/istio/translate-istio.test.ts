// Table-driven translation tests: Istio YAML in, the Envoy fields istiod produces out
// (pilot/pkg/networking/core/route/route.go, httproute.go, route/retry/retry.go).

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { translateIstio, type IstioOptions } from '../../../src/config/istio';
import type { Resource } from '../../../src/config/resources';

const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'istio');
const fixture = (name: string): string => {
  // Runs from test/ (tsx) and from dist/test/ (tap over compiled JS).
  for (const dir of [FIXTURES, join(__dirname, '..', '..', 'fixtures', 'istio')]) {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      /* next */
    }
  }
  throw new Error(`fixture ${name} not found`);
};
const REVIEWS = fixture('reviews-base.yaml');
const RATINGS = fixture('ratings-two-ports.yaml');

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function translate(text: string, opts: IstioOptions = {}): Any {
  const r = translateIstio([{ file: 'test.yaml', text }], opts);
  if (r.errors) throw new Error(r.errors.join('\n'));
  return r.value;
}

function vs(spec: string, extraMeta = ''): string {
  return `${REVIEWS}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\n${extraMeta}spec:\n  hosts: [reviews]\n  http:\n${spec}`;
}

function vhost(v: Any, rc: string, name: string): Any {
  const conf = v.resources.routeConfigurations.find((r: Resource) => r.name === rc);
  if (!conf) throw new Error(`no route config ${rc}`);
  const vh = conf.virtual_hosts.find((h: Resource) => h.name === name);
  if (!vh) throw new Error(`no virtual host ${name} in ${rc}`);
  return vh;
}

const reviewsRoutes = (v: Any): Any[] => vhost(v, '9080', 'reviews.default.svc.cluster.local:9080').routes;

const C = (subset: string, port = 9080, host = 'reviews.default.svc.cluster.local'): string => `outbound|${port}|${subset}|${host}`;

t.test('resource names follow istiod: route config by port, host:port virtual hosts, outbound clusters', async (t) => {
  const v = translate(vs(`  - route:\n    - destination: {host: reviews, subset: v2}\n`));
  const set = v.resources;
  t.same(set.routeConfigurations.map((r: Resource) => r.name), ['9080']);
  t.same(set.listeners.map((l: Resource) => l.name), ['0.0.0.0_9080']);
  const hcm = set.listeners[0].filter_chains[0].filters[0].typed_config;
  t.equal(hcm.rds.route_config_name, '9080');
  t.same(set.listeners[0].address, { socket_address: { address: '127.0.0.1', port_value: 9080 } });
  t.equal(hcm.http_filters.at(-1).name, 'envoy.filters.http.router');
  const vh = vhost(v, '9080', 'reviews.default.svc.cluster.local:9080');
  t.same(vh.domains, [
    'reviews.default.svc.cluster.local',
    'reviews.default.svc.cluster.local:9080',
    'reviews',
    'reviews:9080',
    'reviews.default.svc',
    'reviews.default.svc:9080',
    'reviews.default',
    'reviews.default:9080',
  ]);
  t.same(set.clusters.map((c: Resource) => c.name), [C(''), C('v1'), C('v2'), C('v3')]);
  for (const c of set.clusters) {
    t.equal(c.type, 'EDS');
    t.equal(c.eds_cluster_config.service_name, c.name, 'endpoints are named like their cluster');
  }
  t.same(set.clusterLoadAssignments.map((a: Resource) => a.cluster_name), [C(''), C('v1'), C('v2'), C('v3')]);
  const v2 = set.clusterLoadAssignments.find((a: Resource) => a.cluster_name === C('v2'));
  const eps = v2.endpoints.flatMap((l: Any) => l.lb_endpoints);
  t.equal(eps.length, 1, 'subset labels select the endpoints');
  t.same(eps[0].endpoint.address.socket_address, { address: '127.0.0.1', port_value: 19082 });
  t.equal(eps[0].metadata.filter_metadata.istio.labels.version, 'v2', 'endpoint metadata carries the version label');
  t.equal(set.clusterLoadAssignments[0].endpoints[0].lb_endpoints.length, 3, 'the subset-less cluster has every endpoint');
  t.same(reviewsRoutes(v)[0].route.cluster, C('v2'), 'one destination becomes cluster');
  t.match(v.version, /^[0-9a-f]{12}$/);
  t.equal(set.versionInfo, `istio:${v.version}`);
});

interface RouteCase {
  name: string;
  http: string;
  meta?: string;
  opts?: IstioOptions;
  check: (t: Any, routes: Any[], v: Any) => void;
}

const ROUTE_CASES: RouteCase[] = [
  {
    name: 'weights 90/10 become weighted_clusters without total_weight',
    http: `  - route:\n    - destination: {host: reviews, subset: v2}\n      weight: 90\n    - destination: {host: reviews, subset: v3}\n      weight: 10\n`,
    check: (t, r) => {
      t.same(r[0].route.weighted_clusters, { clusters: [{ name: C('v2'), weight: 90 }, { name: C('v3'), weight: 10 }] });
      t.equal(r[0].route.cluster, undefined);
      t.equal(r[0].metadata.filter_metadata.weir, undefined, 'no pick mode unless asked');
    },
  },
  {
    name: 'a weight of 0 is dropped',
    http: `  - route:\n    - destination: {host: reviews, subset: v2}\n      weight: 100\n    - destination: {host: reviews, subset: v3}\n      weight: 0\n`,
    check: (t, r) => t.same(r[0].route.weighted_clusters.clusters, [{ name: C('v2'), weight: 100 }]),
  },
  {
    name: 'uri exact / prefix / regex, ignoreUriCase, one route per match block in order',
    http:
      `  - match:\n    - uri: {exact: /login}\n    - uri: {prefix: /api/}\n      ignoreUriCase: true\n    - uri: {regex: "/v[0-9]+/.*"}\n` +
      `    route:\n    - destination: {host: reviews, subset: v1}\n`,
    check: (t, r) => {
      t.equal(r.length, 3);
      t.same(r[0].match, { path: '/login', case_sensitive: true });
      t.same(r[1].match, { prefix: '/api/', case_sensitive: false });
      t.same(r[2].match, { safe_regex: { regex: '/v[0-9]+/.*' }, case_sensitive: true });
      for (const x of r) t.equal(x.route.cluster, C('v1'));
    },
  },
  {
    name: 'headers exact/prefix/regex, regex "*" is present_match, sorted by name; method, authority, scheme pseudo-headers',
    http:
      `  - match:\n    - headers:\n        user-agent: {exact: canary}\n        cookie: {regex: ".*tenantGray=1.*"}\n        x-any: {regex: "*"}\n        x-team: {prefix: pay}\n` +
      `      method: {exact: GET}\n      authority: {prefix: reviews}\n      scheme: {exact: http}\n    route:\n    - destination: {host: reviews, subset: v2}\n`,
    check: (t, r) => {
      t.same(r[0].match.headers, [
        { name: 'cookie', string_match: { safe_regex: { regex: '.*tenantGray=1.*' } } },
        { name: 'user-agent', string_match: { exact: 'canary' } },
        { name: 'x-any', present_match: true },
        { name: 'x-team', string_match: { prefix: 'pay' } },
        { name: ':method', string_match: { exact: 'GET' } },
        { name: ':authority', string_match: { prefix: 'reviews' } },
        { name: ':scheme', string_match: { exact: 'http' } },
      ]);
      t.equal(r[0].match.prefix, '/');
    },
  },
  {
    name: 'withoutHeaders: invert_match + treat_missing_header_as_empty (not with present_match); queryParams',
    http:
      `  - match:\n    - withoutHeaders:\n        x-canary: {exact: "true"}\n        x-debug: {}\n      queryParams:\n        version: {exact: v2}\n        beta: {regex: "*"}\n` +
      `    route:\n    - destination: {host: reviews, subset: v2}\n`,
    check: (t, r) => {
      t.same(r[0].match.headers, [
        { name: 'x-canary', string_match: { exact: 'true' }, invert_match: true, treat_missing_header_as_empty: true },
        { name: 'x-debug', present_match: true, invert_match: true },
      ]);
      t.same(r[0].match.query_parameters, [
        { name: 'beta', present_match: true },
        { name: 'version', string_match: { exact: 'v2' } },
      ]);
    },
  },
  {
    name: 'routes after a catch-all are not emitted',
    http: `  - route:\n    - destination: {host: reviews, subset: v1}\n  - match:\n    - uri: {prefix: /never}\n    route:\n    - destination: {host: reviews, subset: v2}\n`,
    check: (t, r) => {
      t.equal(r.length, 1);
      t.equal(r[0].route.cluster, C('v1'));
    },
  },
  {
    name: 'rewrite uri -> prefix_rewrite, authority -> host_rewrite_literal; uriRegexRewrite -> regex_rewrite',
    http:
      `  - match:\n    - uri: {prefix: /old}\n    rewrite: {uri: /new, authority: reviews-v2.internal}\n    route:\n    - destination: {host: reviews}\n` +
      `  - match:\n    - uri: {prefix: /re}\n    rewrite:\n      uriRegexRewrite: {match: "^/re/(.*)$", rewrite: "/\\\\1"}\n    route:\n    - destination: {host: reviews}\n`,
    check: (t, r) => {
      t.equal(r[0].route.prefix_rewrite, '/new');
      t.equal(r[0].route.host_rewrite_literal, 'reviews-v2.internal');
      t.equal(r[0].route.cluster, C(''));
      t.same(r[1].route.regex_rewrite, { pattern: { regex: '^/re/(.*)$' }, substitution: '/\\1' });
    },
  },
  {
    name: 'redirect and directResponse',
    http:
      `  - match:\n    - uri: {exact: /old}\n    redirect: {uri: /new, authority: example.com, scheme: https, port: 8443, redirectCode: 308}\n` +
      `  - match:\n    - uri: {exact: /health}\n    directResponse: {status: 200, body: {string: ok}}\n` +
      `  - match:\n    - uri: {exact: /gone}\n    redirect: {uri: /}\n`,
    check: (t, r) => {
      t.same(r[0].redirect, { host_redirect: 'example.com', path_redirect: '/new', scheme_redirect: 'https', port_redirect: 8443, response_code: 'PERMANENT_REDIRECT' });
      t.equal(r[0].route, undefined);
      t.same(r[1].direct_response, { status: 200, body: { inline_string: 'ok' } });
      t.equal(r[2].redirect.response_code, 'MOVED_PERMANENTLY');
    },
  },
  {
    name: 'headers set/add/remove on request and response, per-destination headers on weighted clusters',
    http:
      `  - headers:\n      request:\n        set: {x-b: "2", x-a: "1"}\n        add: {x-c: "3"}\n        remove: [x-secret]\n      response:\n        set: {x-served-by: weir}\n        remove: [server]\n` +
      `    route:\n    - destination: {host: reviews, subset: v2}\n      weight: 50\n      headers:\n        response:\n          add: {x-version: v2}\n` +
      `    - destination: {host: reviews, subset: v3}\n      weight: 50\n`,
    check: (t, r) => {
      t.same(r[0].request_headers_to_add, [
        { header: { key: 'x-a', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'x-b', value: '2' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'x-c', value: '3' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
      ]);
      t.same(r[0].request_headers_to_remove, ['x-secret']);
      t.same(r[0].response_headers_to_add, [{ header: { key: 'x-served-by', value: 'weir' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
      t.same(r[0].response_headers_to_remove, ['server']);
      t.same(r[0].route.weighted_clusters.clusters[0].response_headers_to_add, [
        { header: { key: 'x-version', value: 'v2' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
      ]);
      t.equal(r[0].route.weighted_clusters.clusters[1].response_headers_to_add, undefined);
    },
  },
  {
    name: 'timeout: disabled ("0s") by default, Go-style durations converted',
    http: `  - match:\n    - uri: {prefix: /a}\n    route:\n    - destination: {host: reviews}\n  - timeout: 500ms\n    route:\n    - destination: {host: reviews}\n`,
    check: (t, r) => {
      t.equal(r[0].route.timeout, '0s');
      t.equal(r[0].route.max_grpc_timeout, '0s');
      t.equal(r[1].route.timeout, '0.5s');
    },
  },
  {
    name: "retries: Istio's defaults when absent, overrides, attempts 0 disables",
    http:
      `  - match:\n    - uri: {prefix: /a}\n    route:\n    - destination: {host: reviews}\n` +
      `  - match:\n    - uri: {prefix: /b}\n    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,gateway-error,503"}\n    route:\n    - destination: {host: reviews}\n` +
      `  - retries: {attempts: 0}\n    route:\n    - destination: {host: reviews}\n`,
    check: (t, r) => {
      t.same(r[0].route.retry_policy, {
        retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
        num_retries: 2,
        retriable_status_codes: [503],
        retry_host_predicate: [
          {
            name: 'envoy.retry_host_predicates.previous_hosts',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' },
          },
        ],
        host_selection_retry_max_attempts: '5',
      });
      t.equal(r[1].route.retry_policy.num_retries, 3);
      t.equal(r[1].route.retry_policy.per_try_timeout, '2s');
      t.equal(r[1].route.retry_policy.retry_on, '5xx,gateway-error,retriable-status-codes');
      t.same(r[1].route.retry_policy.retriable_status_codes, [503]);
      t.equal(r[2].route.retry_policy, undefined);
    },
  },
  {
    name: 'fault delay and abort with percentage -> envoy.filters.http.fault per-route config, filter added to the chain',
    http: `  - fault:\n      delay: {fixedDelay: 7s, percentage: {value: 10}}\n      abort: {httpStatus: 500, percentage: {value: 0.5}}\n    route:\n    - destination: {host: reviews, subset: v1}\n`,
    check: (t, r, v) => {
      t.same(r[0].typed_per_filter_config['envoy.filters.http.fault'], {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
        delay: { percentage: { numerator: 100000, denominator: 'MILLION' }, fixed_delay: '7s' },
        abort: { percentage: { numerator: 5000, denominator: 'MILLION' }, http_status: 500 },
      });
      const names = v.resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.map((f: Any) => f.name);
      t.same(names, ['envoy.filters.http.fault', 'envoy.filters.http.router']);
    },
  },
  {
    name: 'mirror with mirrorPercentage, and mirrors[] -> request_mirror_policies',
    http:
      `  - mirror: {host: reviews, subset: v3}\n    mirrorPercentage: {value: 25}\n    mirrors:\n    - destination: {host: reviews, subset: v2}\n` +
      `    route:\n    - destination: {host: reviews, subset: v1}\n`,
    check: (t, r) =>
      t.same(r[0].route.request_mirror_policies, [
        { cluster: C('v3'), runtime_fraction: { default_value: { numerator: 250000, denominator: 'MILLION' } }, trace_sampled: false },
        { cluster: C('v2'), runtime_fraction: { default_value: { numerator: 100, denominator: 'HUNDRED' } }, trace_sampled: false },
      ]),
  },
  {
    name: 'weir.io/pick-mode sticky with a cookie key -> route metadata filter_metadata.weir',
    meta: `  annotations:\n    weir.io/pick-mode: sticky\n    weir.io/sticky-key: cookie:user\n`,
    http: `  - route:\n    - destination: {host: reviews, subset: v2}\n      weight: 70\n    - destination: {host: reviews, subset: v3}\n      weight: 30\n`,
    check: (t, r) => t.same(r[0].metadata.filter_metadata.weir, { pick_mode: 'sticky', sticky_key: { cookie: 'user' } }),
  },
  {
    name: 'defaultPickMode from options applies to weighted routes only',
    opts: { defaultPickMode: 'smooth' },
    http:
      `  - match:\n    - uri: {prefix: /one}\n    route:\n    - destination: {host: reviews, subset: v1}\n` +
      `  - route:\n    - destination: {host: reviews, subset: v2}\n      weight: 50\n    - destination: {host: reviews, subset: v3}\n      weight: 50\n`,
    check: (t, r) => {
      t.equal(r[0].metadata.filter_metadata.weir, undefined);
      t.same(r[1].metadata.filter_metadata.weir, { pick_mode: 'smooth' });
    },
  },
  {
    name: 'route and match names, decorator operation',
    http: `  - name: canary\n    match:\n    - name: ua\n      headers:\n        user-agent: {exact: canary}\n    route:\n    - destination: {host: reviews, subset: v2}\n`,
    check: (t, r) => {
      t.equal(r[0].name, 'canary.ua');
      t.equal(r[0].decorator.operation, 'reviews.default.svc.cluster.local:9080/*');
    },
  },
];

for (const c of ROUTE_CASES) {
  t.test(c.name, async (t) => {
    const v = translate(vs(c.http, c.meta), c.opts);
    c.check(t, reviewsRoutes(v), v);
  });
}

t.test('services without a VirtualService get istiod default route; DestinationRule policies become cluster fields', async (t) => {
  const v = translate(RATINGS);
  t.same(v.resources.routeConfigurations.map((r: Resource) => r.name), ['9080', '9090']);
  t.same(v.resources.listeners.map((l: Resource) => l.name), ['0.0.0.0_9080', '0.0.0.0_9090']);
  const vh = vhost(v, '9080', 'ratings.shop.svc.cluster.local:9080');
  t.same(vh.domains, [
    'ratings.shop.svc.cluster.local',
    'ratings.shop.svc.cluster.local:9080',
    'ratings.shop',
    'ratings.shop:9080',
    'ratings.shop.svc',
    'ratings.shop.svc:9080',
  ], 'another namespace than the proxy: no bare short name');
  t.equal(vh.routes[0].name, 'default');
  t.equal(vh.routes[0].route.cluster, 'outbound|9080||ratings.shop.svc.cluster.local');
  t.equal(vh.routes[0].route.timeout, '0s');
  t.equal(vh.routes[0].route.retry_policy.num_retries, 2);

  const byName = new Map(v.resources.clusters.map((c: Resource) => [c.name, c]));
  const base = byName.get('outbound|9080||ratings.shop.svc.cluster.local') as Any;
  t.equal(base.lb_policy, 'ROUND_ROBIN');
  t.equal(base.connect_timeout, '0.25s');
  t.same(base.circuit_breakers.thresholds[0], {
    max_connections: 100,
    max_pending_requests: 10,
    max_requests: 1000,
    max_retries: 3,
    track_remaining: true,
  });
  t.same(base.outlier_detection, {
    enforcing_success_rate: 0,
    consecutive_5xx: 7,
    enforcing_consecutive_5xx: 100,
    interval: '300s',
    base_ejection_time: '900s',
    max_ejection_percent: 50,
  });
  t.same(base.common_lb_config, { healthy_panic_threshold: { value: 0 } });
  t.equal((byName.get('outbound|9090||ratings.shop.svc.cluster.local') as Any).lb_policy, 'RANDOM', 'portLevelSettings');
  const v2 = byName.get('outbound|9080|v2|ratings.shop.svc.cluster.local') as Any;
  t.equal(v2.lb_policy, 'RING_HASH', 'subset loadBalancer replaces the top-level one');
  t.same(v2.ring_hash_lb_config, { minimum_ring_size: '1024' });
  t.equal(v2.circuit_breakers.thresholds[0].max_connections, 100, 'top-level connectionPool still applies to the subset');
  const cla = v.resources.clusterLoadAssignments.find((a: Resource) => a.cluster_name === 'outbound|9090|v2|ratings.shop.svc.cluster.local');
  t.same(cla.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: '127.0.0.1', port_value: 19192 }, 'endpoint ports map by port name');
  t.equal(cla.endpoints[0].lb_endpoints[0].load_balancing_weight, 3);
});

t.test('consistentHash: route hash_policy per destination, retries stay on the host', async (t) => {
  const text = `${RATINGS}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: shop}\nspec:\n  hosts: [ratings]\n  http:\n  - match:\n    - port: 9080\n    route:\n    - destination: {host: ratings, subset: v2, port: {number: 9080}}\n`;
  const v = translate(text);
  const r = vhost(v, '9080', 'ratings.shop.svc.cluster.local:9080').routes;
  t.same(r[0].route.hash_policy, [{ cookie: { name: 'user', ttl: '0s' } }]);
  t.equal(r[0].route.retry_policy.retry_host_predicate, undefined);
  t.equal(r[0].route.cluster, 'outbound|9080|v2|ratings.shop.svc.cluster.local');
  // The match block is for port 9080: on 9090 the VirtualService has no route and the default applies.
  const r9090 = vhost(v, '9090', 'ratings.shop.svc.cluster.local:9090').routes;
  t.equal(r9090[0].name, 'default');
  t.equal(r9090[0].route.cluster, 'outbound|9090||ratings.shop.svc.cluster.local');
});

t.test('one listen port routes every service by Host', async (t) => {
  const v = translate(`${REVIEWS}\n---\n${RATINGS}`, { listen: { address: '0.0.0.0', port: 15001 } });
  t.same(v.resources.listeners.map((l: Resource) => l.name), ['0.0.0.0_15001']);
  t.same(v.resources.routeConfigurations.map((r: Resource) => r.name), ['15001']);
  const names = v.resources.routeConfigurations[0].virtual_hosts.map((h: Resource) => h.name);
  t.same(names, [
    'ratings.shop.svc.cluster.local:9080',
    'ratings.shop.svc.cluster.local:9090',
    'reviews.default.svc.cluster.local:9080',
  ]);
  const all = v.resources.routeConfigurations[0].virtual_hosts.flatMap((h: Any) => h.domains);
  t.equal(new Set(all).size, all.length, 'no domain twice in one route config (Envoy rejects that)');
  t.ok(vhost(v, '15001', 'ratings.shop.svc.cluster.local:9090').domains.includes('ratings.shop:9090'));
  t.notOk(vhost(v, '15001', 'ratings.shop.svc.cluster.local:9090').domains.includes('ratings.shop'), 'first port keeps the portless name');
});

t.test('ServiceEntry DNS resolution and WorkloadEntry selection', async (t) => {
  const text = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: details}
spec:
  hosts: [details.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP, targetPort: 19300}]
  resolution: STATIC
  workloadSelector:
    labels: {app: details}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: details-v1}
spec:
  address: 127.0.0.1
  labels: {app: details, version: v1}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: other}
spec:
  address: 127.0.0.2
  labels: {app: other}
`;
  const v = translate(text);
  const httpbin = v.resources.clusters.find((c: Resource) => c.name === 'outbound|80||httpbin.org');
  t.equal(httpbin.type, 'STRICT_DNS');
  t.same(httpbin.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: 'httpbin.org', port_value: 80 });
  t.same(vhost(v, '80', 'httpbin.org:80').domains, ['httpbin.org', 'httpbin.org:80'], 'no short names outside the cluster domain');
  const details = v.resources.clusterLoadAssignments.find((a: Resource) => a.cluster_name === 'outbound|9080||details.default.svc.cluster.local');
  const eps = details.endpoints[0].lb_endpoints;
  t.equal(eps.length, 1);
  t.same(eps[0].endpoint.address.socket_address, { address: '127.0.0.1', port_value: 19300 }, 'targetPort');
  t.match(eps[0].metadata.filter_metadata.istio.workload, /^details-v1;default;details;v1;/);
});

t.test('other kinds are ignored with a note; the version is a content hash', async (t) => {
  const text = `apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {}\n---\n${REVIEWS}`;
  const a = translate(text);
  t.match(a.notes.join('\n'), /test\.yaml: document 1 \(Service x\): v1 Service ignored/);
  const b = translate(text);
  t.equal(a.version, b.version);
  const c = translate(text.replace('19081', '19091'));
  t.not(a.version, c.version);
});

t.test('VirtualService hosts that are no service: on the ports of its services, or on the single listen port', async (t) => {
  const text = `${REVIEWS}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: site}\nspec:\n  hosts: [bookinfo.example.com, "*.bookinfo.test"]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n`;
  const perPort = translate(text);
  t.same(perPort.resources.routeConfigurations[0].virtual_hosts.map((h: Resource) => h.name), ['reviews.default.svc.cluster.local:9080']);
  t.match(perPort.notes.join('\n'), /VirtualService site\): spec\.hosts: no ServiceEntry declares these hosts: not served/);
  const one = translate(text, { listen: { address: '127.0.0.1', port: 15001 } });
  const vh = vhost(one, '15001', 'bookinfo.example.com:15001');
  t.same(vh.domains, ['bookinfo.example.com', 'bookinfo.example.com:15001']);
  t.equal(vh.routes[0].route.cluster, C('v1'), 'the destination port comes from the single-port service');
  t.same(vhost(one, '15001', '*.bookinfo.test:15001').domains, ['*.bookinfo.test', '*.bookinfo.test:15001']);

  const mixed = translate(`${REVIEWS}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews, reviews.example.com]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v3}\n`);
  const ext = vhost(mixed, '9080', 'reviews.example.com:9080');
  t.same(ext.domains, ['reviews.example.com', 'reviews.example.com:9080']);
  t.equal(ext.routes[0].route.cluster, C('v3'));
  t.equal(vhost(mixed, '9080', 'reviews.default.svc.cluster.local:9080').routes[0].route.cluster, C('v3'));
});

t.test('kubectl List documents and snake_case field spellings are read too', async (t) => {
  const list = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: echo}
  spec:
    hosts: [echo.default.svc.cluster.local]
    ports: [{number: 8000, name: http, protocol: HTTP}]
    resolution: STATIC
    endpoints: [{address: 127.0.0.1, ports: {http: 18001}, labels: {version: v1}}]
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: echo}
  spec:
    hosts: [echo]
    http:
    - match: [{uri: {prefix: /x}, ignore_uri_case: true}]
      direct_response: {status: 204}
`;
  const v = translate(list);
  const r = vhost(v, '8000', 'echo.default.svc.cluster.local:8000').routes;
  t.same(r[0].match, { prefix: '/x', case_sensitive: false });
  t.same(r[0].direct_response, { status: 204 });
  t.equal(r[0].metadata.filter_metadata.istio.config, '/apis/networking.istio.io/v1/namespaces/default/virtual-service/echo');
});
