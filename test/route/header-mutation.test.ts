// request/response header mutations: Envoy's order across levels, append_action, formatters.

import t from 'tap';
import { compileRouteConfiguration, type RouteTable } from '../../src/route/route-table';
import { req, TestHeaders } from './request';

function compile(raw: unknown): RouteTable {
  const res = compileRouteConfiguration(raw);
  if (res.errors !== undefined) throw new Error(res.errors.join('\n'));
  return res.value;
}

const add = (key: string, value: string, extra: object = {}) => ({ header: { key, value }, ...extra });

function levels(mostSpecificWins: boolean): RouteTable {
  return compile({
    most_specific_header_mutations_wins: mostSpecificWins,
    request_headers_to_add: [add('x-level', 'config', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), add('x-all', 'config')],
    response_headers_to_add: [add('x-level', 'config', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })],
    virtual_hosts: [
      {
        name: 'v',
        domains: ['*'],
        request_headers_to_add: [add('x-level', 'vhost', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), add('x-all', 'vhost')],
        response_headers_to_add: [add('x-level', 'vhost', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })],
        routes: [
          {
            match: { prefix: '/' },
            route: {
              weighted_clusters: {
                clusters: [
                  { name: 'a', weight: 1, request_headers_to_add: [add('x-level', 'cluster', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), add('x-all', 'cluster')] },
                ],
              },
            },
            request_headers_to_add: [add('x-level', 'route', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), add('x-all', 'route')],
            response_headers_to_add: [add('x-level', 'route', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })],
          },
        ],
      },
    ],
  });
}

t.test('levels: weighted cluster, route, virtual host, route configuration; later wins', async (t) => {
  const r = req();
  const h = new TestHeaders();
  const table = levels(false);
  table.route(r)!.applyRequestHeaders(h, r, 'a');
  t.equal(h.get('x-level'), 'config', 'default order: route configuration evaluated last wins');
  t.same(h.all('x-all'), ['cluster', 'route', 'vhost', 'config'], 'appends in evaluation order');
  const resp = new TestHeaders();
  table.route(r)!.applyResponseHeaders(resp, r);
  t.equal(resp.get('x-level'), 'config');

  const specific = levels(true);
  const h2 = new TestHeaders();
  specific.route(r)!.applyRequestHeaders(h2, r, 'a');
  t.equal(h2.get('x-level'), 'route', 'most_specific_header_mutations_wins: route evaluated last');
  t.same(h2.all('x-all'), ['cluster', 'config', 'vhost', 'route']);
  const h3 = new TestHeaders();
  specific.route(r)!.applyRequestHeaders(h3, r);
  t.same(h3.all('x-all'), ['config', 'vhost', 'route'], 'no cluster name: no cluster-level mutations');
});

t.test('append_action, legacy append, keep_empty_value, remove-before-add', async (t) => {
  const rows: { name: string; option: object; before: [string, string][]; output: string[] }[] = [
    { name: 'default appends', option: add('x', 'new'), before: [['x', 'old']], output: ['old', 'new'] },
    { name: 'APPEND_IF_EXISTS_OR_ADD adds', option: add('x', 'new', { append_action: 'APPEND_IF_EXISTS_OR_ADD' }), before: [], output: ['new'] },
    { name: 'ADD_IF_ABSENT present', option: add('x', 'new', { append_action: 'ADD_IF_ABSENT' }), before: [['x', 'old']], output: ['old'] },
    { name: 'ADD_IF_ABSENT absent', option: add('x', 'new', { append_action: 'ADD_IF_ABSENT' }), before: [], output: ['new'] },
    { name: 'OVERWRITE_IF_EXISTS_OR_ADD present', option: add('x', 'new', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), before: [['x', 'a'], ['x', 'b']], output: ['new'] },
    { name: 'OVERWRITE_IF_EXISTS_OR_ADD absent', option: add('x', 'new', { append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }), before: [], output: ['new'] },
    { name: 'OVERWRITE_IF_EXISTS present', option: add('x', 'new', { append_action: 'OVERWRITE_IF_EXISTS' }), before: [['x', 'old']], output: ['new'] },
    { name: 'OVERWRITE_IF_EXISTS absent', option: add('x', 'new', { append_action: 'OVERWRITE_IF_EXISTS' }), before: [], output: [] },
    { name: 'append: false overwrites', option: add('x', 'new', { append: false }), before: [['x', 'old']], output: ['new'] },
    { name: 'append: true appends', option: add('x', 'new', { append: true }), before: [['x', 'old']], output: ['old', 'new'] },
    { name: 'empty value skipped', option: add('x', ''), before: [], output: [] },
    { name: 'keep_empty_value', option: add('x', '', { keep_empty_value: true }), before: [], output: [''] },
    { name: 'missing %REQ% is empty: skipped', option: add('x', '%REQ(x-none)%'), before: [], output: [] },
  ];
  for (const row of rows) {
    const table = compile({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_add: [row.option] }] }] });
    const h = new TestHeaders(row.before);
    table.route(req())!.applyRequestHeaders(h, req());
    t.same(h.all('x'), row.output, row.name);
  }
  const table = compile({
    virtual_hosts: [
      {
        name: 'v',
        domains: ['*'],
        routes: [
          {
            match: { prefix: '/' },
            route: { cluster: 'c' },
            request_headers_to_remove: ['X-Remove', 'x-replace'],
            request_headers_to_add: [add('x-replace', 'added'), add('x-copy', '%REQ(x-replace)%')],
          },
        ],
      },
    ],
  });
  const h = new TestHeaders([['x-remove', '1'], ['x-replace', 'orig'], ['x-keep', 'k']]);
  table.route(req())!.applyRequestHeaders(h, req());
  t.same(h.entries, [['x-keep', 'k'], ['x-replace', 'added']], 'removed first; formatters see the headers before this level adds');
});

t.test('formatters', async (t) => {
  const value = (v: string, init = {}, response = false, before: [string, string][] = []) => {
    const key = response ? 'response_headers_to_add' : 'request_headers_to_add';
    const table = compile({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ name: 'r1', match: { prefix: '/' }, route: { cluster: 'up' }, [key]: [add('x', v)] }] }] });
    const r = req(init);
    const h = new TestHeaders(before);
    if (response) table.route(r)!.applyResponseHeaders(h, r);
    else table.route(r)!.applyRequestHeaders(h, r, 'up');
    return h.get('x');
  };
  const peer = { downstreamRemoteIp: '10.0.0.1', downstreamRemotePort: 5555, downstreamLocalIp: '::1', downstreamLocalPort: 80 };
  t.equal(value('%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', peer), '10.0.0.1');
  t.equal(value('%DOWNSTREAM_REMOTE_ADDRESS%', peer), '10.0.0.1:5555');
  t.equal(value('%DOWNSTREAM_LOCAL_ADDRESS%', peer), '[::1]:80');
  t.equal(value('ip=%DOWNSTREAM_REMOTE_PORT%;', peer), 'ip=5555;');
  t.equal(value('%REQ(:authority)%', { authority: 'h.com' }), 'h.com');
  t.equal(value('%REQ(x-a?x-b)%', {}, false, [['x-b', 'B']]), 'B', 'alternative header');
  t.equal(value('%REQ(x-a):2%', {}, false, [['x-a', 'abcdef']]), 'ab', 'truncation');
  t.equal(value('%UPSTREAM_CLUSTER%/%ROUTE_NAME%'), 'up/r1');
  t.equal(value('%RESP(x-up)%-%REQ(x-in)%', { headers: [['x-in', 'i']] }, true, [['x-up', 'u']]), 'u-i', 'response side');
  t.equal(value('100%% sure'), '100% sure');
  t.equal(value('%START_TIME%'), '%START_TIME%', 'not computable here: kept literally');
});

t.test('NUL, CR or LF in a configured header key or value is an error with its path (Envoy HTTP_HEADER_VALUE)', async (t) => {
  const cases: [object, RegExp][] = [
    [add('x-a', 'one\r\nset-cookie: evil=1'), /response_headers_to_add\[0\]\.header\.value: header value contains NUL, CR or LF/],
    [add('x-a\n', 'v'), /response_headers_to_add\[0\]\.header\.key: header key contains NUL, CR or LF/],
    [{ header: { key: 'x-a', raw_value: Buffer.from('a\0b').toString('base64') } }, /header\.raw_value: header value contains NUL, CR or LF/],
  ];
  for (const [h, re] of cases) {
    const res = compileRouteConfiguration({ response_headers_to_add: [h], virtual_hosts: [{ name: 'v', domains: ['*'], routes: [] }] });
    t.match(res.errors?.join('\n') ?? '', re);
  }
  t.equal(compileRouteConfiguration({ response_headers_to_add: [add('x-a', 'tab\tand spaces ok')], virtual_hosts: [] }).errors, undefined);
});
