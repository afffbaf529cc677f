// Table-driven tests of the compiled route model: one row per Envoy behaviour.

import t from 'tap';
import { compileRouteConfiguration, type CompileOptions, type RouteTable } from '../../src/route/route-table';
import { req, type RequestInit } from './request';

function compile(raw: unknown, opts?: CompileOptions): RouteTable {
  const res = compileRouteConfiguration(raw, opts);
  if (res.errors !== undefined) throw new Error(res.errors.join('\n'));
  return res.value;
}

/** One catch-all virtual host with `routes`. */
function routesTable(routes: unknown[], opts?: CompileOptions, extra: object = {}): RouteTable {
  return compile({ name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], routes, ...extra }] }, opts);
}

const to = (cluster: string, match: object, route: object = {}) => ({ match, route: { cluster, ...route } });

/** The cluster a request is routed to, or null when no route matches. */
function clusterFor(table: RouteTable, init: RequestInit): string | null | undefined {
  const r = table.route(req(init));
  return r === null ? null : r.selectCluster(req(init));
}

t.test('virtual host selection', async (t) => {
  const table = compile({
    virtual_hosts: [
      { name: 'exact', domains: ['www.foo.com', 'Upper.Example.com', 'foo.com:8080'], routes: [to('exact', { prefix: '/' })] },
      { name: 'suffix', domains: ['*.foo.com'], routes: [to('suffix', { prefix: '/' })] },
      { name: 'suffix-longer', domains: ['*-bar.foo.com'], routes: [to('suffix-longer', { prefix: '/' })] },
      { name: 'prefix', domains: ['foo.*', 'api.foo.*'], routes: [to('prefix', { prefix: '/' })] },
      { name: 'default', domains: ['*'], routes: [to('default', { prefix: '/' })] },
    ],
  });
  const cases: { name: string; authority: string; output: string }[] = [
    { name: 'exact', authority: 'www.foo.com', output: 'exact' },
    { name: 'exact is case-insensitive', authority: 'WWW.FOO.COM', output: 'exact' },
    { name: 'configured domains are lower-cased', authority: 'upper.example.com', output: 'exact' },
    { name: 'suffix wildcard', authority: 'a.foo.com', output: 'suffix' },
    { name: 'longest suffix first', authority: 'x-bar.foo.com', output: 'suffix-longer' },
    { name: 'suffix wildcard needs a strictly longer host', authority: '.foo.com', output: 'default' },
    { name: 'bare domain vs *.domain: bare foo.com is not *.foo.com (prefix foo.* takes it)', authority: 'foo.com', output: 'prefix' },
    { name: 'suffix beats prefix', authority: 'foo.foo.com', output: 'suffix' },
    { name: 'prefix wildcard', authority: 'foo.bar', output: 'prefix' },
    { name: 'longest prefix first', authority: 'api.foo.net', output: 'prefix' },
    { name: 'default', authority: 'other.org', output: 'default' },
    { name: 'port is part of the host by default', authority: 'www.foo.com:8080', output: 'default' },
    { name: 'host:port domain matches as is', authority: 'foo.com:8080', output: 'exact' },
  ];
  for (const c of cases) t.equal(table.findVirtualHost(c.authority)?.name, c.output, c.name);

  const ignoring = compile({
    ignore_port_in_host_matching: true,
    virtual_hosts: [
      { name: 'a', domains: ['www.foo.com'], routes: [] },
      { name: 'v6', domains: ['[::1]'], routes: [] },
    ],
  });
  t.equal(ignoring.findVirtualHost('www.foo.com:8080')?.name, 'a', 'ignore_port_in_host_matching strips the port');
  t.equal(ignoring.findVirtualHost('[::1]:80')?.name, 'v6', 'IPv6 literal port stripped');
  t.equal(ignoring.findVirtualHost('[::1]')?.name, 'v6', 'IPv6 literal without port kept');
  const byOption = compile({ virtual_hosts: [{ name: 'a', domains: ['www.foo.com'], routes: [] }] }, { ignorePortInHostMatching: true });
  t.equal(byOption.findVirtualHost('www.foo.com:80')?.name, 'a', 'CompileOptions.ignorePortInHostMatching');
  const bare = compile({
    virtual_hosts: [
      { name: 'wild', domains: ['*.foo.com'], routes: [] },
      { name: 'other', domains: ['*'], routes: [] },
    ],
  });
  t.equal(bare.findVirtualHost('foo.com')?.name, 'other', 'bare foo.com does not match *.foo.com');
  t.equal(bare.findVirtualHost('a.foo.com')?.name, 'wild');
  const noDefault = compile({ virtual_hosts: [{ name: 'a', domains: ['a.com'], routes: [to('c', { prefix: '/' })] }] });
  t.equal(noDefault.route(req({ authority: 'b.com' })), null, 'no virtual host: null (404 NR)');
});

t.test('path matchers', async (t) => {
  const cases: { name: string; match: object; path: string; output: boolean }[] = [
    { name: 'prefix', match: { prefix: '/api' }, path: '/api/v1', output: true },
    { name: 'prefix is not path-separated', match: { prefix: '/api' }, path: '/apis', output: true },
    { name: 'prefix ignores query', match: { prefix: '/api' }, path: '/ap?i', output: false },
    { name: 'empty prefix matches all', match: { prefix: '' }, path: '/x', output: true },
    { name: 'prefix case-sensitive by default', match: { prefix: '/API' }, path: '/api', output: false },
    { name: 'prefix case_sensitive false', match: { prefix: '/API', case_sensitive: false }, path: '/api/x', output: true },
    { name: 'path exact', match: { path: '/exact' }, path: '/exact', output: true },
    { name: '/exact/ is not /exact', match: { path: '/exact' }, path: '/exact/', output: false },
    { name: '/exact is not /exact/', match: { path: '/exact/' }, path: '/exact', output: false },
    { name: 'path ignores the query', match: { path: '/exact' }, path: '/exact?a=1', output: true },
    { name: 'path ignores the fragment', match: { path: '/exact' }, path: '/exact#top', output: true },
    { name: 'path case_sensitive false', match: { path: '/Exact', caseSensitive: false }, path: '/eXACT?q', output: true },
    { name: 'path is case-sensitive', match: { path: '/Exact' }, path: '/exact', output: false },
    { name: 'safe_regex full match', match: { safe_regex: { regex: '/v[0-9]+/.*' } }, path: '/v2/users', output: true },
    { name: 'safe_regex is anchored', match: { safe_regex: { regex: '/v[0-9]+' } }, path: '/v2/users', output: false },
    { name: 'safe_regex ignores the query', match: { safe_regex: { regex: '/users' } }, path: '/users?id=1', output: true },
    { name: 'path_separated_prefix equal', match: { path_separated_prefix: '/api' }, path: '/api', output: true },
    { name: 'path_separated_prefix followed by /', match: { path_separated_prefix: '/api' }, path: '/api/x', output: true },
    { name: 'path_separated_prefix not a segment', match: { path_separated_prefix: '/api' }, path: '/apis', output: false },
    { name: 'path_separated_prefix with query', match: { path_separated_prefix: '/api' }, path: '/api?x=1', output: true },
    { name: 'path_separated_prefix case-insensitive', match: { path_separated_prefix: '/API', case_sensitive: false }, path: '/api/v1', output: true },
    { name: 'prefix holding ? never matches', match: { prefix: '/a?b' }, path: '/a?b', output: false },
  ];
  for (const c of cases) {
    const table = routesTable([to('hit', c.match)]);
    t.equal(clusterFor(table, { path: c.path }) === 'hit', c.output, c.name);
  }
  const params = compile({
    ignore_path_parameters_in_path_matching: true,
    virtual_hosts: [{ name: 'v', domains: ['*'], routes: [to('hit', { path: '/a' })] }],
  });
  t.equal(clusterFor(params, { path: '/a;jsessionid=1?x' }), 'hit', 'ignore_path_parameters_in_path_matching');
});

t.test('first match wins', async (t) => {
  const table = routesTable([to('first', { prefix: '/a' }), to('second', { prefix: '/' }), to('third', { prefix: '/a/b' })]);
  t.equal(clusterFor(table, { path: '/a/b' }), 'first');
  t.equal(clusterFor(table, { path: '/b' }), 'second');
});

t.test('header matchers', async (t) => {
  type Row = { name: string; matcher: object; headers?: [string, string][]; init?: RequestInit; output: boolean; joined?: boolean };
  const rows: Row[] = [
    { name: 'exact_match', matcher: { name: 'x', exact_match: 'a' }, headers: [['x', 'a']], output: true },
    { name: 'exact_match "" matches any value', matcher: { name: 'x', exact_match: '' }, headers: [['x', 'zz']], output: true },
    { name: 'exact_match missing header', matcher: { name: 'x', exact_match: 'a' }, output: false },
    { name: 'header name is case-insensitive', matcher: { name: 'X-User', exact_match: 'a' }, headers: [['x-user', 'a']], output: true },
    { name: 'prefix_match', matcher: { name: 'x', prefix_match: 'ab' }, headers: [['x', 'abc']], output: true },
    { name: 'suffix_match', matcher: { name: 'x', suffix_match: 'bc' }, headers: [['x', 'abc']], output: true },
    { name: 'contains_match', matcher: { name: 'x', contains_match: 'b' }, headers: [['x', 'abc']], output: true },
    { name: 'safe_regex_match', matcher: { name: 'x', safe_regex_match: { regex: 'a.c' } }, headers: [['x', 'abc']], output: true },
    { name: 'safe_regex_match is full', matcher: { name: 'x', safe_regex_match: { regex: 'b' } }, headers: [['x', 'abc']], output: false },
    { name: 'string_match exact', matcher: { name: 'x', string_match: { exact: 'abc' } }, headers: [['x', 'abc']], output: true },
    { name: 'string_match exact ignore_case', matcher: { name: 'x', string_match: { exact: 'ABC', ignore_case: true } }, headers: [['x', 'aBc']], output: true },
    { name: 'string_match prefix ignore_case', matcher: { name: 'x', string_match: { prefix: 'AB', ignore_case: true } }, headers: [['x', 'abc']], output: true },
    { name: 'string_match suffix ignore_case', matcher: { name: 'x', string_match: { suffix: 'BC', ignore_case: true } }, headers: [['x', 'abc']], output: true },
    { name: 'string_match contains ignore_case', matcher: { name: 'x', string_match: { contains: 'B', ignore_case: true } }, headers: [['x', 'abc']], output: true },
    { name: 'string_match suffix is case-sensitive', matcher: { name: 'x', string_match: { suffix: 'BC' } }, headers: [['x', 'abc']], output: false },
    { name: 'string_match safe_regex', matcher: { name: 'cookie', string_match: { safe_regex: { regex: '.*canary=true.*' } } }, headers: [['cookie', 'a=1; canary=true']], output: true },
    { name: 'present_match true', matcher: { name: 'x', present_match: true }, headers: [['x', 'v']], output: true },
    { name: 'present_match true on empty value', matcher: { name: 'x', present_match: true }, headers: [['x', '']], output: true },
    { name: 'present_match true missing', matcher: { name: 'x', present_match: true }, output: false },
    { name: 'present_match false missing', matcher: { name: 'x', present_match: false }, output: true },
    { name: 'present_match false present', matcher: { name: 'x', present_match: false }, headers: [['x', 'v']], output: false },
    { name: 'no specifier = present', matcher: { name: 'x' }, headers: [['x', '']], output: true },
    { name: 'present_match + invert on missing = match', matcher: { name: 'x', present_match: true, invert_match: true }, output: true },
    { name: 'present_match + invert on present', matcher: { name: 'x', present_match: true, invert_match: true }, headers: [['x', 'v']], output: false },
    { name: 'missing header with invert fails a value matcher', matcher: { name: 'x', exact_match: 'a', invert_match: true }, output: false },
    { name: 'invert on a different value matches', matcher: { name: 'x', exact_match: 'a', invert_match: true }, headers: [['x', 'b']], output: true },
    { name: 'invert on the value fails', matcher: { name: 'x', exact_match: 'a', invert_match: true }, headers: [['x', 'a']], output: false },
    { name: 'treat_missing_header_as_empty + invert on missing', matcher: { name: 'x', string_match: { exact: 'a' }, invert_match: true, treat_missing_header_as_empty: true }, output: true },
    { name: 'treat_missing_header_as_empty exact ""', matcher: { name: 'x', string_match: { exact: '' }, treat_missing_header_as_empty: true }, output: true },
    { name: 'range_match inside', matcher: { name: 'x', range_match: { start: 10, end: 20 } }, headers: [['x', '10']], output: true },
    { name: 'range_match end is exclusive', matcher: { name: 'x', range_match: { start: 10, end: 20 } }, headers: [['x', '20']], output: false },
    { name: 'range_match negative', matcher: { name: 'x', range_match: { start: '-10', end: '0' } }, headers: [['x', '-5']], output: true },
    { name: 'range_match non-integer fails', matcher: { name: 'x', range_match: { start: 0, end: 100 } }, headers: [['x', '1.5']], output: false },
    { name: 'range_match non-integer + invert', matcher: { name: 'x', range_match: { start: 0, end: 100 }, invert_match: true }, headers: [['x', 'abc']], output: true },
    { name: 'separate values: any matches', matcher: { name: 'role', exact_match: 'admin' }, headers: [['role', 'user'], ['role', 'admin']], output: true },
    { name: 'separate values are not joined', matcher: { name: 'role', exact_match: 'user,admin' }, headers: [['role', 'user'], ['role', 'admin']], output: false },
    { name: 'one line user,admin is one value', matcher: { name: 'role', exact_match: 'admin' }, headers: [['role', 'user,admin']], output: false },
    { name: 'one line user,admin exact', matcher: { name: 'role', exact_match: 'user,admin' }, headers: [['role', 'user,admin']], output: true },
    { name: 'invert with separate values: matches only when no value does', matcher: { name: 'role', exact_match: 'admin', invert_match: true }, headers: [['role', 'user'], ['role', 'admin']], output: false },
    { name: 'joined option: separate values joined with ,', matcher: { name: 'role', exact_match: 'user,admin' }, headers: [['role', 'user'], ['role', 'admin']], joined: true, output: true },
    { name: 'joined option: single value no longer matches', matcher: { name: 'role', exact_match: 'admin' }, headers: [['role', 'user'], ['role', 'admin']], joined: true, output: false },
    { name: ':method pseudo-header', matcher: { name: ':method', exact_match: 'POST' }, init: { method: 'POST' }, output: true },
    { name: ':authority pseudo-header', matcher: { name: ':authority', string_match: { suffix: '.com' } }, init: { authority: 'a.com' }, output: true },
    { name: ':path pseudo-header includes the query', matcher: { name: ':path', string_match: { exact: '/p?q=1' } }, init: { path: '/p?q=1' }, output: true },
    { name: ':scheme pseudo-header', matcher: { name: ':scheme', exact_match: 'https' }, init: { scheme: 'https' }, output: true },
  ];
  for (const row of rows) {
    const table = routesTable([to('hit', { prefix: '/', headers: [row.matcher] })], { matchHeadersIndividually: row.joined !== true });
    t.equal(clusterFor(table, { ...row.init, headers: row.headers }) === 'hit', row.output, row.name);
  }
  const two = routesTable([to('hit', { prefix: '/', headers: [{ name: 'a', exact_match: '1' }, { name: 'b', exact_match: '2' }] })]);
  t.equal(clusterFor(two, { headers: [['a', '1']] }), null, 'all header matchers must match');
  t.equal(clusterFor(two, { headers: [['a', '1'], ['b', '2']] }), 'hit', 'ANDed');
});

t.test('query_parameters, runtime_fraction, grpc, tls_context, dynamic_metadata', async (t) => {
  const q = (qp: object) => routesTable([to('hit', { prefix: '/', query_parameters: [qp] })]);
  const rows: { name: string; table: RouteTable; init: RequestInit; output: boolean }[] = [
    { name: 'query exact', table: q({ name: 'debug', string_match: { exact: '1' } }), init: { path: '/?debug=1' }, output: true },
    { name: 'query first value wins', table: q({ name: 'debug', string_match: { exact: '1' } }), init: { path: '/?debug=2&debug=1' }, output: false },
    { name: 'query missing', table: q({ name: 'debug', string_match: { exact: '1' } }), init: { path: '/?other=1' }, output: false },
    { name: 'query name must be whole', table: q({ name: 'debug', present_match: true }), init: { path: '/?debugger=1' }, output: false },
    { name: 'query present', table: q({ name: 'debug', present_match: true }), init: { path: '/?a=b&debug' }, output: true },
    { name: 'query present with empty value', table: q({ name: 'debug', present_match: true }), init: { path: '/?debug=' }, output: true },
    { name: 'query not decoded', table: q({ name: 'q', string_match: { exact: 'a%20b' } }), init: { path: '/?q=a%20b' }, output: true },
    { name: 'query stops at fragment', table: q({ name: 'q', string_match: { exact: 'a' } }), init: { path: '/?q=a#frag' }, output: true },
    { name: 'query regex', table: q({ name: 'id', string_match: { safe_regex: { regex: '[0-9]+' } } }), init: { path: '/x?id=42' }, output: true },
  ];
  const grpc = routesTable([to('hit', { prefix: '/', grpc: {} })]);
  rows.push(
    { name: 'grpc content-type', table: grpc, init: { headers: [['content-type', 'application/grpc']] }, output: true },
    { name: 'grpc+proto', table: grpc, init: { headers: [['content-type', 'application/grpc+proto']] }, output: true },
    { name: 'grpc-web is not grpc', table: grpc, init: { headers: [['content-type', 'application/grpc-web']] }, output: false },
    { name: 'no content-type is not grpc', table: grpc, init: {}, output: false },
  );
  const tls = (m: object) => routesTable([to('hit', { prefix: '/', tls_context: m })]);
  rows.push(
    { name: 'tls_context presented: true without TLS', table: tls({ presented: true }), init: {}, output: false },
    { name: 'tls_context presented: false without TLS', table: tls({ presented: false }), init: {}, output: true },
    { name: 'tls_context presented with a peer cert', table: tls({ presented: true, validated: true }), init: { peerCertificatePresented: true, peerCertificateValidated: true }, output: true },
  );
  const md = routesTable([
    to('hit', { prefix: '/', dynamic_metadata: [{ filter: 'f', path: [{ key: 'a' }, { key: 'b' }], value: { string_match: { exact: 'x' } } }] }),
  ]);
  rows.push(
    { name: 'dynamic_metadata nested', table: md, init: { dynamicMetadata: { f: { a: { b: 'x' } } } }, output: true },
    { name: 'dynamic_metadata other value', table: md, init: { dynamicMetadata: { f: { a: { b: 'y' } } } }, output: false },
    { name: 'dynamic_metadata absent', table: md, init: {}, output: false },
  );
  for (const row of rows) t.equal(clusterFor(row.table, row.init) === 'hit', row.output, row.name);

  const rf = (opts: CompileOptions) =>
    routesTable(
      [
        to('canary', { prefix: '/', runtime_fraction: { runtime_key: 'canary.pct', default_value: { numerator: 30, denominator: 'HUNDRED' } } }),
        to('stable', { prefix: '/' }),
      ],
      opts,
    );
  const byDefault = rf({});
  t.equal(clusterFor(byDefault, { random: 29 }), 'canary', 'runtime_fraction default: 29 % 100 < 30');
  t.equal(clusterFor(byDefault, { random: 30 }), 'stable', 'runtime_fraction default: 30 is out');
  t.equal(clusterFor(byDefault, { random: 129 }), 'canary', 'random % denominator');
  const injected = rf({ runtime: { getInteger: (k) => (k === 'canary.pct' ? 5 : undefined) } });
  t.equal(clusterFor(injected, { random: 4 }), 'canary', 'injected runtime numerator');
  t.equal(clusterFor(injected, { random: 5 }), 'stable', 'injected runtime numerator: 5 is out');
  const zero = rf({ runtime: { getInteger: () => 0 } });
  t.equal(clusterFor(zero, { random: 0 }), 'stable', 'runtime 0 disables');
  const million = routesTable([
    to('hit', { prefix: '/', runtime_fraction: { runtime_key: '', default_value: { numerator: 1, denominator: 'MILLION' } } }),
  ]);
  t.equal(clusterFor(million, { random: 1000000 }), 'hit', 'MILLION denominator');
  t.equal(clusterFor(million, { random: 1 }), null, 'MILLION denominator: 1 is out');
  const tenk = routesTable([to('hit', { prefix: '/', runtime_fraction: { default_value: { numerator: 50, denominator: 1 } } })]);
  t.equal(clusterFor(tenk, { random: 10049 }), 'hit', 'TEN_THOUSAND by number');
  const fractional = rf({ runtime: { getInteger: () => undefined, featureEnabled: (key: string) => key === 'canary.pct' } as never });
  t.equal(clusterFor(fractional, { random: 99 }), 'canary', 'FractionalRuntime decides');
});

t.test('cluster, cluster_header, weighted clusters', async (t) => {
  const ch = routesTable([{ match: { prefix: '/' }, route: { cluster_header: 'X-Cluster' } }]);
  t.equal(clusterFor(ch, { headers: [['x-cluster', 'c1'], ['x-cluster', 'c2']] }), 'c1', 'cluster_header first value');
  t.equal(clusterFor(ch, {}), undefined, 'cluster_header absent: undefined (503 NC)');
  const cha = routesTable([{ match: { prefix: '/' }, route: { cluster_header: ':authority' } }]);
  t.equal(clusterFor(cha, { authority: 'svc' }), 'svc', 'cluster_header :authority');

  const w = routesTable([
    {
      match: { prefix: '/' },
      route: {
        weighted_clusters: {
          total_weight: 999,
          header_name: 'x-pick',
          clusters: [
            { name: 'a', weight: 30 },
            { name: 'zero', weight: 0 },
            { name: 'b', weight: { value: 70 } },
          ],
        },
      },
    },
  ]);
  const route = w.route(req())!;
  t.same(route.weightedClusters?.map((c) => [c.name, c.weight]), [['a', 30], ['zero', 0], ['b', 70]]);
  const counts: Record<string, number> = {};
  for (let v = 0; v < 100; v++) {
    const c = route.selectCluster(req({ random: v }))!;
    counts[c] = (counts[c] ?? 0) + 1;
    t.equal(c, v < 30 ? 'a' : 'b', `value ${v}`);
  }
  t.same(counts, { a: 30, b: 70 }, 'total_weight ignored, weight 0 never picked');
  t.equal(route.selectCluster(req({ random: 129 })), 'a', 'value % total');
  t.equal(route.selectCluster(req({ random: 130 })), 'b', 'value % total: 30 starts b');
  t.equal(route.selectCluster(req({ random: 0, headers: [['x-pick', '95']] })), 'b', 'header_name value');
  t.equal(route.selectCluster(req({ random: 0, headers: [['x-pick', '18446744073709551615']] })), 'a', 'uint64 header value: 2^64-1 % 100 = 15');
  t.equal(route.selectCluster(req({ random: 0, headers: [['x-pick', '95'], ['x-pick', '95']] })), 'a', 'two header lines: random value');
  t.equal(route.selectCluster(req({ random: 0, headers: [['x-pick', 'abc']] })), 'a', 'non-integer: random value');
  t.equal(route.pickMode, 'random');

  const wch = routesTable([
    { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ cluster_header: 'x-dest', weight: 1 }] } } },
  ]);
  t.equal(clusterFor(wch, { headers: [['x-dest', 'dyn']] }), 'dyn', 'weighted cluster_header');
});

t.test('pick modes from route metadata', async (t) => {
  const weighted = { weighted_clusters: { clusters: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }] } };
  const sticky = routesTable([
    { match: { prefix: '/' }, route: weighted, metadata: { filter_metadata: { weir: { pick_mode: 'sticky', sticky_key: { cookie: 'uid' } } } } },
  ]);
  const r = sticky.route(req())!;
  t.equal(r.pickMode, 'sticky');
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    seen.add(r.selectCluster(req({ random: i * 7919, headers: [['cookie', 'a=b; uid=user-42']] }))!);
  }
  t.equal(seen.size, 1, 'same key, same pick whatever the random value');
  t.equal(r.stickyKeyValue(req({ headers: [['cookie', 'uid="q"']] })), 'q', 'quoted cookie value');
  t.equal(r.selectCluster(req({ random: 95 })), 'v2', 'sticky without the key falls back to the random value');

  const byHeader = routesTable([
    { match: { prefix: '/' }, route: weighted, metadata: { filter_metadata: { weir: { pick_mode: 'sticky', sticky_key: { header: 'X-User' } } } } },
  ]).route(req())!;
  t.same(byHeader.stickyKey, { header: 'x-user' });

  const smooth = routesTable([{ match: { prefix: '/' }, route: weighted, metadata: { filter_metadata: { weir: { pick_mode: 'smooth' } } } }]);
  const sr = smooth.route(req())!;
  let v2 = 0;
  for (let i = 0; i < 100; i++) if (sr.selectCluster(req()) === 'v2') v2++;
  t.equal(v2, 10, 'smooth: exactly 10 of 100');

  const dflt = routesTable([{ match: { prefix: '/' }, route: weighted }], { defaultPickMode: 'smooth' });
  t.equal(dflt.route(req())!.pickMode, 'smooth', 'CompileOptions.defaultPickMode');
  const explicitRandom = routesTable(
    [{ match: { prefix: '/' }, route: weighted, metadata: { filter_metadata: { weir: { pick_mode: 'random' } } } }],
    { defaultPickMode: 'smooth' },
  );
  t.equal(explicitRandom.route(req())!.pickMode, 'random', 'route metadata beats the default');
});

t.test('rewrites', async (t) => {
  const table = compile({
    virtual_hosts: [
      {
        name: 'v',
        domains: ['*'],
        routes: [
          to('c', { prefix: '/old' }, { prefix_rewrite: '/new' }),
          to('c', { path: '/Exact', case_sensitive: false }, { prefix_rewrite: '/rewrote' }),
          to('c', { prefix: '/slash/' }, { prefix_rewrite: '/' }),
          to('c', { safe_regex: { regex: '/regex/.*' } }, { prefix_rewrite: '/whole' }),
          to('c', { path_separated_prefix: '/sep' }, { prefix_rewrite: '/s' }),
          to('c', { prefix: '/service/' }, { regex_rewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } }),
          to('c', { prefix: '/host' }, { host_rewrite_literal: 'new.host' }),
          to('c', { prefix: '/hdr' }, { host_rewrite_header: 'X-Host' }),
          to('c', { prefix: '/hpr' }, { host_rewrite_path_regex: { pattern: { regex: '^/hpr/([^/]+).*$' }, substitution: '\\1.svc' } }),
          to('c', { prefix: '/auto' }, { auto_host_rewrite: true }),
          to('c', { prefix: '/' }),
        ],
      },
    ],
  });
  const rows: { name: string; path: string; output: string | null }[] = [
    { name: 'prefix_rewrite keeps the rest and the query', path: '/old/x?a=1', output: '/new/x?a=1' },
    { name: 'prefix_rewrite on a case-insensitive path match', path: '/EXACT?q=1', output: '/rewrote?q=1' },
    { name: 'prefix_rewrite to / strips a prefix', path: '/slash/a/b', output: '/a/b' },
    { name: 'prefix_rewrite on a regex route replaces the whole path', path: '/regex/a?x', output: '/whole?x' },
    { name: 'prefix_rewrite on path_separated_prefix', path: '/sep/a', output: '/s/a' },
    { name: 'regex_rewrite keeps the query', path: '/service/foo/v1/api?x=1', output: '/v1/api/instance/foo?x=1' },
    { name: 'no rewrite: null', path: '/other', output: null },
  ];
  for (const row of rows) {
    const r = req({ path: row.path });
    t.equal(table.route(r)!.rewritePath(row.path, r), row.output, row.name);
  }
  const host = (path: string, init: RequestInit = {}) => {
    const r = req({ ...init, path, authority: 'orig' });
    return table.route(r)!.rewriteHost(r);
  };
  t.equal(host('/host'), 'new.host', 'host_rewrite_literal');
  t.equal(host('/hdr', { headers: [['x-host', 'from.header']] }), 'from.header', 'host_rewrite_header');
  t.equal(host('/hdr'), null, 'host_rewrite_header absent: unchanged');
  t.equal(host('/hpr/abc/def?x'), 'abc.svc', 'host_rewrite_path_regex');
  t.equal(host('/other'), null, 'no host rewrite');
  t.equal(table.route(req({ path: '/auto' }))!.autoHostRewrite, true, 'auto_host_rewrite carried');
});

t.test('redirects', async (t) => {
  const redirect = (rd: object, path = '/foo/bar?x=1', init: RequestInit = {}) => {
    const table = routesTable([{ match: { prefix: '/foo' }, redirect: rd }]);
    const r = req({ authority: 'www.example.com', path, ...init });
    const route = table.route(r)!;
    return [route.redirectLocation(r), route.redirectCode];
  };
  const rows: { name: string; rd: object; path?: string; init?: RequestInit; output: [string, number] }[] = [
    { name: 'host_redirect', rd: { host_redirect: 'new.com' }, output: ['http://new.com/foo/bar?x=1', 301] },
    { name: 'path_redirect keeps the query', rd: { path_redirect: '/new' }, output: ['http://www.example.com/new?x=1', 301] },
    { name: 'path_redirect with its own query', rd: { path_redirect: '/new?y=2', strip_query: true }, output: ['http://www.example.com/new?y=2', 301] },
    { name: 'strip_query', rd: { path_redirect: '/new', strip_query: true }, output: ['http://www.example.com/new', 301] },
    { name: 'prefix_rewrite', rd: { prefix_rewrite: '/baz' }, output: ['http://www.example.com/baz/bar?x=1', 301] },
    { name: 'regex_rewrite', rd: { regex_rewrite: { pattern: { regex: '^/foo/(.*)$' }, substitution: '/r/\\1' } }, output: ['http://www.example.com/r/bar?x=1', 301] },
    { name: 'https_redirect', rd: { https_redirect: true }, output: ['https://www.example.com/foo/bar?x=1', 301] },
    { name: 'scheme_redirect', rd: { scheme_redirect: 'ws' }, output: ['ws://www.example.com/foo/bar?x=1', 301] },
    { name: 'port_redirect', rd: { port_redirect: 8443 }, output: ['http://www.example.com:8443/foo/bar?x=1', 301] },
    { name: 'port_redirect replaces the port', rd: { port_redirect: 8443 }, init: { authority: 'www.example.com:80' }, output: ['http://www.example.com:8443/foo/bar?x=1', 301] },
    { name: 'https_redirect drops :80', rd: { https_redirect: true }, init: { authority: 'a.com:80' }, output: ['https://a.com/foo/bar?x=1', 301] },
    { name: 'FOUND', rd: { host_redirect: 'n', response_code: 'FOUND' }, output: ['http://n/foo/bar?x=1', 302] },
    { name: 'SEE_OTHER', rd: { host_redirect: 'n', response_code: 'SEE_OTHER' }, output: ['http://n/foo/bar?x=1', 303] },
    { name: 'TEMPORARY_REDIRECT', rd: { host_redirect: 'n', response_code: 'TEMPORARY_REDIRECT' }, output: ['http://n/foo/bar?x=1', 307] },
    { name: 'PERMANENT_REDIRECT by number', rd: { host_redirect: 'n', response_code: 4 }, output: ['http://n/foo/bar?x=1', 308] },
    { name: 'path without leading / gets one', rd: { path_redirect: 'rel' }, output: ['http://www.example.com/rel?x=1', 301] },
  ];
  for (const row of rows) t.same(redirect(row.rd, row.path, row.init), row.output, row.name);

  const tlsAll = compile({ virtual_hosts: [{ name: 'v', domains: ['*'], require_tls: 'ALL', routes: [to('c', { prefix: '/' })] }] });
  const plain = req({ authority: 'a.com', path: '/p?q', headers: [['x-forwarded-proto', 'http']] });
  const ssl = tlsAll.route(plain)!;
  t.equal(ssl.kind, 'redirect', 'require_tls ALL redirects http');
  t.equal(ssl.redirectLocation(plain), 'https://a.com/p?q');
  t.equal(ssl.redirectCode, 301);
  t.equal(tlsAll.route(req({ headers: [['x-forwarded-proto', 'https']] }))!.kind, 'route', 'https passes');
  const ext = compile({ virtual_hosts: [{ name: 'v', domains: ['*'], require_tls: 'EXTERNAL_ONLY', routes: [to('c', { prefix: '/' })] }] });
  t.equal(ext.route(req({ headers: [['x-envoy-internal', 'true']] }))!.kind, 'route', 'EXTERNAL_ONLY exempts internal');
  t.equal(ext.route(req())!.kind, 'redirect', 'EXTERNAL_ONLY redirects external http');
});

t.test('direct_response', async (t) => {
  const table = routesTable([
    { match: { path: '/ping' }, direct_response: { status: 200, body: { inline_string: 'pong' } } },
    { match: { path: '/bytes' }, direct_response: { status: 503, body: { inline_bytes: Buffer.from('down').toString('base64') } } },
    { match: { path: '/empty' }, direct_response: { status: 204 } },
  ]);
  t.same(table.route(req({ path: '/ping' }))!.directResponse, { status: 200, body: 'pong' });
  t.same(table.route(req({ path: '/bytes' }))!.directResponse, { status: 503, body: 'down' });
  t.same(table.route(req({ path: '/empty' }))!.directResponse, { status: 204, body: '' });
  const r = req({ authority: 'a.com', path: '/ping?x' });
  t.equal(table.route(r)!.kind, 'direct_response');
  t.equal(table.route(r)!.redirectLocation(r), 'http://a.com/ping?x', "router_check's path_redirect for a direct response");
});

t.test('timeouts, retry policy, hash policy, metadata', async (t) => {
  const table = compile({
    virtual_hosts: [
      {
        name: 'v',
        domains: ['*'],
        retry_policy: { retry_on: '5xx', num_retries: 3 },
        routes: [
          to('a', { prefix: '/a' }, {
            timeout: '0s',
            idle_timeout: '30s',
            retry_policy: {
              retry_on: 'connect-failure, refused-stream,unavailable,cancelled,retriable-status-codes',
              num_retries: { value: 2 },
              per_try_timeout: '0.5s',
              retriable_status_codes: [503],
              retry_back_off: { base_interval: '0.1s', max_interval: '1s' },
            },
            hash_policy: [
              { header: { header_name: 'X-User' } },
              { cookie: { name: 'sid', ttl: '10s', path: '/' }, terminal: true },
              { connection_properties: { source_ip: true } },
              { query_parameter: { name: 'u' } },
            ],
          }),
          to('b', { prefix: '/b' }, { timeout: { seconds: 30 }, cluster_not_found_response_code: 'NOT_FOUND', append_x_forwarded_host: true }),
          { match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_on: 'reset' } }, metadata: { filter_metadata: { x: { y: 1 } } } },
        ],
      },
    ],
  });
  const a = table.route(req({ path: '/a' }))!;
  t.equal(a.timeoutMs, 0, 'timeout 0s disables');
  t.equal(a.idleTimeoutMs, 30000);
  t.same(a.retryPolicy, {
    retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
    numRetries: 2,
    perTryTimeoutMs: 500,
    perTryIdleTimeoutMs: 0,
    retriableStatusCodes: [503],
    retryBackOff: { baseIntervalMs: 100, maxIntervalMs: 1000 },
    retriableHeaders: [],
    retriableRequestHeaders: [],
    hostSelectionRetryMaxAttempts: 1,
  });
  t.same(
    a.hashPolicy.map((h) => h.kind),
    ['header', 'cookie', 'source_ip', 'query_parameter'],
  );
  t.match(a.hashPolicy[1], { kind: 'cookie', name: 'sid', ttlMs: 10000, path: '/', terminal: true });
  t.match(a.hashPolicy[0], { kind: 'header', headerName: 'x-user', terminal: false });
  const b = table.route(req({ path: '/b' }))!;
  t.equal(b.timeoutMs, 30000, 'timeout {seconds}');
  t.match(b.retryPolicy, { retryOn: ['5xx'], numRetries: 3 }, 'virtual host retry_policy inherited');
  t.equal(b.clusterNotFoundResponseCode, 404);
  t.equal(b.appendXForwardedHost, true);
  t.equal(a.clusterNotFoundResponseCode, 503, 'default 503');
  const c = table.route(req({ path: '/c' }))!;
  t.equal(c.timeoutMs, 15000, "Envoy's default 15 s");
  t.match(c.retryPolicy, { retryOn: ['reset'], numRetries: 1, retryBackOff: { baseIntervalMs: 25, maxIntervalMs: 250 } }, 'num_retries defaults to 1');
  t.same(c.metadata, { filter_metadata: { x: { y: 1 } } });
  t.equal(c.name, '');
});

t.test('virtual clusters', async (t) => {
  const vcs = [
    { name: 'ride_request', headers: [{ name: ':path', string_match: { safe_regex: { regex: '^/rides$' } } }, { name: ':method', string_match: { exact: 'POST' } }] },
    { name: 'update_ride', headers: [{ name: ':path', string_match: { safe_regex: { regex: '^/rides/\\d+$' } } }, { name: ':method', string_match: { exact: 'PUT' } }] },
  ];
  const table = routesTable([to('c', { prefix: '/' })], {}, { virtual_clusters: vcs });
  const name = (path: string, method: string) => {
    const r = req({ path, method });
    return table.route(r)!.virtualClusterName(r);
  };
  t.equal(name('/rides', 'POST'), 'ride_request');
  t.equal(name('/rides/12', 'PUT'), 'update_ride');
  t.equal(name('/rides', 'GET'), 'other', "Envoy's catch-all");
  const none = routesTable([to('c', { prefix: '/' })]);
  t.equal(none.route(req())!.virtualClusterName(req()), undefined, 'no virtual clusters configured');
});

t.test('field names in lowerCamelCase and the Any wrapper', async (t) => {
  const table = compile({
    '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
    name: 'camel',
    virtualHosts: [
      {
        name: 'v',
        domains: ['*'],
        routes: [
          {
            match: { prefix: '/', headers: [{ name: 'x', stringMatch: { exact: 'y' }, invertMatch: true }] },
            route: { weightedClusters: { clusters: [{ name: 'a', weight: 1 }] }, prefixRewrite: '/p' },
            requestHeadersToAdd: [{ header: { key: 'k', value: 'v' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
          },
        ],
      },
    ],
  });
  t.equal(table.name, 'camel');
  const r = table.route(req({ headers: [['x', 'z']] }))!;
  t.equal(r.selectCluster(req()), 'a');
  t.equal(r.prefixRewrite, '/p');
  t.equal(table.route(req({ headers: [['x', 'y']] })), null, 'invertMatch read');
});

t.test('explain', async (t) => {
  const table = compile({
    virtual_hosts: [
      { name: 'api', domains: ['*.example.com'], routes: [
        to('v1', { prefix: '/v1', headers: [{ name: 'x-env', exact_match: 'prod' }] }),
        { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }] } } },
      ] },
    ],
  });
  const e = table.explain(req({ authority: 'API.example.com', path: '/v1/x', random: 3 }));
  t.equal(e.host, 'api.example.com');
  t.same(e.virtualHostMatch, { kind: 'suffix', domain: '*.example.com' });
  t.equal(e.routes.length, 2);
  t.equal(e.routes[0]!.matched, false);
  t.same(e.routes[0]!.conditions.map((c) => c.pass), [true, false], 'path passed, header failed');
  t.match(e.routes[0]!.conditions[1]!.detail, 'absent');
  t.equal(e.route?.index, 1);
  t.match(e.pick, { mode: 'random', source: 'random', value: 3, total: 4, index: 1, interval: { begin: 3, end: 4 }, cluster: 'b' });
  t.equal(e.cluster, 'b');
  const miss = table.explain(req({ authority: 'other.org' }));
  t.equal(miss.virtualHost, null);
  t.equal(miss.route, null);
});

t.test('large route lists: the segment index gives the same first match as a linear scan', async (t) => {
  const { pathEndOf, queryEndOf } = await import('../../src/route/route-entry');
  const segs = ['/a', '/b', '/ab', '/a/b', '/a/b/c', '/svc1', '/svc12', '/', '//', '/x;y'];
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const routes = [];
  for (let i = 0; i < 80; i++) {
    const s = segs[rnd(segs.length)] as string;
    const kind = rnd(6);
    const match =
      kind === 0 ? { prefix: s + (rnd(2) ? '/' : '') }
      : kind === 1 ? { path: s }
      : kind === 2 && s.length > 1 && !s.endsWith('/') ? { path_separated_prefix: s }
      : kind === 3 ? { safe_regex: { regex: `${s.replace(/[.*+?()[\]{}|\\^$]/g, '\\$&')}.*` } }
      : kind === 4 ? { prefix: s.toUpperCase(), case_sensitive: false }
      : { prefix: s, headers: [{ name: 'x', exact_match: String(rnd(2)) }] };
    routes.push({ name: `r${i}`, match, route: { cluster: `c${i}` } });
  }
  const table = routesTable(routes, {}, {});
  t.equal(table.virtualHosts[0]!.routes.length, 80);
  let checked = 0;
  let matched = 0;
  for (let i = 0; i < 2000; i++) {
    const path = (segs[rnd(segs.length)] as string) + ['', '/', '/q', '?a=1', '/b/c', '1', 'x'][rnd(7)];
    const r = req({ path: rnd(4) === 0 ? path.toUpperCase() : path, headers: [['x', String(rnd(2))]] });
    const linear = table.virtualHosts[0]!.routes.find((e) => e.matches(r, pathEndOf(r.path), queryEndOf(r.path))) ?? null;
    const got = table.route(r);
    if (got !== linear) t.fail(`${r.path}: index ${got?.name} linear ${linear?.name}`);
    if (got !== null) matched++;
    checked++;
  }
  t.equal(checked, 2000);
  t.ok(matched > 1000 && matched < 2000, `a mix of matches (${matched}) and misses`);
});

t.test('route-configuration-level fields carried for the data path', async (t) => {
  const table = compile({ name: 'x', internal_only_headers: ['X-Lyft-User-Id'], virtual_hosts: [] });
  t.same(table.internalOnlyHeaders, ['x-lyft-user-id']);
  t.equal(table.route(req()), null, 'no virtual hosts: nothing routes');
});

t.test('explain: pick sources; config dump', async (t) => {
  const weighted = { weighted_clusters: { header_name: 'x-pick', clusters: [{ name: 'v1', weight: 1 }, { name: 'v2', weight: 1 }] } };
  const table = compile({
    virtual_hosts: [
      {
        name: 'v',
        domains: ['*'],
        routes: [
          { match: { prefix: '/s' }, route: weighted, metadata: { filter_metadata: { weir: { pick_mode: 'sticky', sticky_key: { header: 'x-user' } } } } },
          { match: { prefix: '/m' }, route: weighted, metadata: { filter_metadata: { weir: { pick_mode: 'smooth' } } } },
          { match: { safe_regex: { regex: '/r.*' } }, route: weighted },
        ],
      },
    ],
  });
  const sticky = table.explain(req({ path: '/s', headers: [['x-user', 'alice']] }));
  t.match(sticky.pick, { mode: 'sticky', source: 'sticky_key', key: 'alice', total: 2 });
  t.equal(sticky.pick?.cluster, table.route(req({ path: '/s', headers: [['x-user', 'alice']] }))!.selectCluster(req({ path: '/s', headers: [['x-user', 'alice']] })));
  t.type(sticky.pick?.bucket, 'number');
  const byHeader = table.explain(req({ path: '/r', random: 0, headers: [['x-pick', '3']] }));
  t.match(byHeader.pick, { mode: 'random', source: 'header', value: 3, index: 1, interval: { begin: 1, end: 2 }, cluster: 'v2' });
  t.match(byHeader.routes[2]!.conditions[0], { pass: true, condition: /safe_regex "\/r\.\*" \[prefix\]/ });
  const smooth = table.explain(req({ path: '/m' }));
  t.match(smooth.pick, { mode: 'smooth', source: 'smooth', index: -1 });

  const dump = JSON.parse(JSON.stringify(table)) as { virtual_hosts: { routes: Record<string, unknown>[] }[] };
  t.match(dump.virtual_hosts[0]!.routes[0], {
    kind: 'route',
    match: { prefix: '/s' },
    pick_mode: 'sticky',
    sticky_key: { header: 'x-user' },
    weighted_clusters: [{ name: 'v1', weight: 1 }, { name: 'v2', weight: 1 }],
    timeout_ms: 15000,
  });
  t.match(dump.virtual_hosts[0]!.routes[2], { match: { safe_regex: '/r.*', strategy: 'prefix' }, pick_mode: 'random' });
});

t.test('redirect fields that become the location header refuse NUL, CR and LF', async (t) => {
  const res = compileRouteConfiguration({
    virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, redirect: { host_redirect: 'a.com\r\nset-cookie: x=1' } }] }],
  });
  t.match(res.errors?.join('\n') ?? '', /routes\[0\]\.redirect\.host_redirect: contains NUL, CR or LF/);
});
