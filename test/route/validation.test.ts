// Validation: every problem is reported, each prefixed with its field path; nothing half-applies.

import t from 'tap';
import { compileRouteConfiguration } from '../../src/route/route-table';

const vh = (routes: unknown[], extra: object = {}) => ({ virtual_hosts: [{ name: 'vh', domains: ['*'], routes, ...extra }] });
const wc = (clusters: unknown[], extra: object = {}) => vh([{ match: { prefix: '/' }, route: { weighted_clusters: { clusters, ...extra } } }]);

const cases: { name: string; input: unknown; error?: RegExp; output?: true }[] = [
  { name: 'minimal config', input: vh([{ match: { prefix: '/' }, route: { cluster: 'c' } }]), output: true },
  { name: 'not an object', input: 'nope', error: /expected a RouteConfiguration object/ },
  { name: 'wrong @type', input: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster' }, error: /^@type: expected .*RouteConfiguration/ },
  {
    name: 'duplicate domains name both virtual hosts',
    input: { name: 'rc', virtual_hosts: [{ name: 'a', domains: ['x.com'], routes: [] }, { name: 'b', domains: ['X.com'], routes: [] }] },
    error: /^virtual_hosts\[1\]\.domains\[0\]: duplicate domain "x\.com": already in virtual host "a" \(virtual_hosts\[0\]\.domains\[0\]\)/,
  },
  {
    name: 'two catch-all virtual hosts',
    input: { virtual_hosts: [{ name: 'a', domains: ['*'], routes: [] }, { name: 'b', domains: ['*'], routes: [] }] },
    error: /^virtual_hosts\[1\]\.domains\[0\]: duplicate domain "\*"/,
  },
  { name: 'no domains', input: { virtual_hosts: [{ name: 'a', domains: [], routes: [] }] }, error: /^virtual_hosts\[0\]\.domains: at least one domain/ },
  { name: 'no vhost name', input: { virtual_hosts: [{ domains: ['a'], routes: [] }] }, error: /^virtual_hosts\[0\]\.name: virtual host name is required/ },
  { name: 'sum of weights is 0', input: wc([{ name: 'a', weight: 0 }, { name: 'b' }]), error: /^virtual_hosts\[0\]\.routes\[0\]\.route\.weighted_clusters: sum of weights is 0$/ },
  { name: 'sum of weights too large', input: wc([{ name: 'a', weight: 4294967295 }, { name: 'b', weight: 1 }]), error: /^virtual_hosts\[0\]\.routes\[0\]\.route\.weighted_clusters: sum of weights 4294967296 exceeds 4294967295/ },
  { name: 'weight above uint32', input: wc([{ name: 'a', weight: 4294967296 }]), error: /clusters\[0\]\.weight: 4294967296 is out of range/ },
  { name: 'negative weight', input: wc([{ name: 'a', weight: -1 }]), error: /clusters\[0\]\.weight: expected a non-negative integer/ },
  { name: 'no clusters', input: wc([]), error: /weighted_clusters\.clusters: at least one cluster/ },
  { name: 'name and cluster_header', input: wc([{ name: 'a', cluster_header: 'h', weight: 1 }]), error: /clusters\[0\]: Only one of name or cluster_header/ },
  { name: 'neither name nor cluster_header', input: wc([{ weight: 1 }]), error: /clusters\[0\]: At least one of name or cluster_header/ },
  {
    name: 'bad regex in a path',
    input: vh([{ match: { safe_regex: { regex: '(unclosed' } }, route: { cluster: 'c' } }]),
    error: /^virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid regex "\(unclosed"/,
  },
  {
    name: 'back-reference in a header regex',
    input: vh([{ match: { prefix: '/', headers: [{ name: 'x', string_match: { safe_regex: { regex: '(a)\\1' } } }] }, route: { cluster: 'c' } }]),
    error: /^virtual_hosts\[0\]\.routes\[0\]\.match\.headers\[0\]\.string_match\.safe_regex\.regex: invalid regex/,
  },
  {
    name: 'look-ahead in a virtual cluster',
    input: vh([], { virtual_clusters: [{ name: 'v', headers: [{ name: ':path', safe_regex_match: { regex: '(?=x)' } }] }] }),
    error: /^virtual_hosts\[0\]\.virtual_clusters\[0\]\.headers\[0\]\.safe_regex_match\.regex: invalid regex/,
  },
  {
    name: 'regex_rewrite group beyond the pattern',
    input: vh([{ match: { prefix: '/' }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: '/(a)' }, substitution: '\\3' } } }]),
    error: /^virtual_hosts\[0\]\.routes\[0\]\.route\.regex_rewrite: invalid substitution/,
  },
  {
    name: 'sticky without a key',
    input: vh([{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }] } }, metadata: { filter_metadata: { weir: { pick_mode: 'sticky' } } } }]),
    error: /^virtual_hosts\[0\]\.routes\[0\]\.metadata\.filter_metadata\.weir\.pick_mode: pick_mode sticky needs sticky_key/,
  },
  {
    name: 'unknown pick mode',
    input: vh([{ match: { prefix: '/' }, route: { cluster: 'c' }, metadata: { filter_metadata: { weir: { pick_mode: 'roundrobin' } } } }]),
    error: /metadata\.filter_metadata\.weir\.pick_mode: unknown pick mode "roundrobin"/,
  },
  {
    name: 'sticky_key with both',
    input: vh([{ match: { prefix: '/' }, route: { cluster: 'c' }, metadata: { filter_metadata: { weir: { sticky_key: { cookie: 'a', header: 'b' } } } } }]),
    error: /weir\.sticky_key: exactly one of cookie or header/,
  },
  { name: 'no action', input: vh([{ match: { prefix: '/' } }]), error: /^virtual_hosts\[0\]\.routes\[0\]: one of route, redirect, direct_response/ },
  { name: 'two actions', input: vh([{ match: { prefix: '/' }, route: { cluster: 'c' }, redirect: { host_redirect: 'x' } }]), error: /routes\[0\]: only one of route and redirect/ },
  { name: 'no match', input: vh([{ route: { cluster: 'c' } }]), error: /routes\[0\]\.match: match is required/ },
  { name: 'no path specifier', input: vh([{ match: {}, route: { cluster: 'c' } }]), error: /routes\[0\]\.match: one of prefix, path, safe_regex/ },
  { name: 'two path specifiers', input: vh([{ match: { prefix: '/', path: '/a' }, route: { cluster: 'c' } }]), error: /match: only one of prefix and path/ },
  { name: 'connect_matcher', input: vh([{ match: { connect_matcher: {} }, route: { cluster: 'c' } }]), error: /match\.connect_matcher: CONNECT routes are not supported/ },
  { name: 'path_separated_prefix ending in /', input: vh([{ match: { path_separated_prefix: '/api/' }, route: { cluster: 'c' } }]), error: /match\.path_separated_prefix: "\/api\/" must not contain/ },
  { name: 'path_separated_prefix with ?', input: vh([{ match: { path_separated_prefix: '/a?b' }, route: { cluster: 'c' } }]), error: /match\.path_separated_prefix/ },
  { name: 'no cluster specifier', input: vh([{ match: { prefix: '/' }, route: {} }]), error: /routes\[0\]\.route: one of cluster, cluster_header or weighted_clusters/ },
  { name: 'prefix_rewrite and regex_rewrite', input: vh([{ match: { prefix: '/' }, route: { cluster: 'c', prefix_rewrite: '/a', regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } } }]), error: /Specify only one of prefix_rewrite, regex_rewrite/ },
  { name: 'bad timeout', input: vh([{ match: { prefix: '/' }, route: { cluster: 'c', timeout: '5 minutes' } }]), error: /route\.timeout: invalid duration/ },
  { name: 'retry max < base', input: vh([{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_back_off: { base_interval: '1s', max_interval: '0.5s' } } } }]), error: /retry_back_off\.max_interval: retry_policy\.max_interval must greater/ },
  { name: 'direct_response status range', input: vh([{ match: { prefix: '/' }, direct_response: { status: 700 } }]), error: /direct_response\.status: status 700 must be in \[200, 600\)/ },
  { name: 'direct_response filename', input: vh([{ match: { prefix: '/' }, direct_response: { status: 200, body: { filename: '/etc/x' } } }]), error: /direct_response\.body\.filename: filename bodies are not supported here/ },
  { name: 'direct_response body too large', input: vh([{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'x'.repeat(4097) } } }]), error: /direct_response\.body: response body size is 4097 bytes; maximum is 4096/ },
  { name: 'bigger body allowed by config', input: { max_direct_response_body_size_bytes: 8192, ...vh([{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'x'.repeat(5000) } } }]) }, output: true },
  { name: 'header add of a pseudo-header', input: vh([{ match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_add: [{ header: { key: ':path', value: '/' } }] }]), error: /request_headers_to_add\[0\]\.header\.key: :-prefixed or host headers may not be modified/ },
  { name: 'header remove of host', input: vh([], { request_headers_to_remove: ['Host'] }), error: /^virtual_hosts\[0\]\.request_headers_to_remove\[0\]: :-prefixed or host headers may not be removed/ },
  { name: 'append and append_action', input: { request_headers_to_add: [{ header: { key: 'a', value: 'b' }, append: true, append_action: 'ADD_IF_ABSENT' }], virtual_hosts: [] }, error: /^request_headers_to_add\[0\]: Both append and append_action are set/ },
  { name: 'bad append_action', input: { response_headers_to_add: [{ header: { key: 'a', value: 'b' }, append_action: 'SOMETIMES' }], virtual_hosts: [] }, error: /^response_headers_to_add\[0\]\.append_action: invalid value "SOMETIMES"/ },
  { name: 'virtual cluster without headers', input: vh([], { virtual_clusters: [{ name: 'v' }] }), error: /virtual_clusters\[0\]\.headers: virtual clusters must define 'headers'/ },
  { name: 'wrong type for routes', input: { virtual_hosts: [{ name: 'a', domains: ['*'], routes: { prefix: '/' } }] }, error: /^virtual_hosts\[0\]\.routes: expected a list, got an object/ },
  { name: 'wrong type for prefix', input: vh([{ match: { prefix: 7 }, route: { cluster: 'c' } }]), error: /match\.prefix: expected a string, got number 7/ },
  { name: 'two header specifiers', input: vh([{ match: { prefix: '/', headers: [{ name: 'x', exact_match: 'a', prefix_match: 'b' }] }, route: { cluster: 'c' } }]), error: /headers\[0\]: only one of exact_match and prefix_match/ },
  { name: 'header matcher without a name', input: vh([{ match: { prefix: '/', headers: [{ exact_match: 'a' }] }, route: { cluster: 'c' } }]), error: /headers\[0\]\.name: header name is required/ },
  { name: 'bad require_tls', input: vh([], { require_tls: 'SOMETIMES' }), error: /virtual_hosts\[0\]\.require_tls: invalid value/ },
  { name: 'bad redirect code', input: vh([{ match: { prefix: '/' }, redirect: { response_code: 'MOVED' } }]), error: /redirect\.response_code: invalid value "MOVED"/ },
  { name: 'unknown fields are ignored', input: vh([{ match: { prefix: '/', whatever: 1 }, route: { cluster: 'c', future_field: true }, decorator: { operation: 'x' } }]), output: true },
];

t.test('a sticky default needs a key on every weighted route', async (t) => {
  const res = compileRouteConfiguration(wc([{ name: 'a', weight: 1 }]), { defaultPickMode: 'sticky' });
  t.match(res.errors?.[0] ?? '', /^virtual_hosts\[0\]\.routes\[0\]\.metadata\.filter_metadata\.weir: the default pick mode is sticky/);
  const ok = compileRouteConfiguration(vh([{ match: { prefix: '/' }, route: { cluster: 'c' } }]), { defaultPickMode: 'sticky' });
  t.same(ok.errors, undefined, 'routes without weighted_clusters are unaffected');
});

for (const c of cases) {
  t.test(c.name, async (t) => {
    const res = compileRouteConfiguration(c.input);
    if (c.output) {
      t.same(res.errors, undefined, 'compiles');
      t.ok(res.value);
      return;
    }
    t.ok(res.errors, 'rejected');
    t.equal(res.value, undefined, 'nothing half-applied');
    t.ok(res.errors?.some((e) => c.error!.test(e)), `an error matches ${c.error}: ${JSON.stringify(res.errors)}`);
  });
}

t.test('every problem is reported, not just the first', async (t) => {
  const res = compileRouteConfiguration({
    virtual_hosts: [
      { name: 'a', domains: ['x'], routes: [{ match: { safe_regex: { regex: '(' } }, route: { cluster: 'c' } }] },
      { name: 'b', domains: ['x'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 0 }] } } }] },
    ],
  });
  t.equal(res.errors?.length, 3, JSON.stringify(res.errors));
});
