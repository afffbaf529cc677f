// compileRouteConfiguration never throws: any input gives a table or a list of path-prefixed errors.
// Mutates a rich config at random (fixed seed, bounded count).

import t from 'tap';
import { compileRouteConfiguration } from '../../src/route/route-table';

const BASE = {
  name: 'fuzz',
  request_headers_to_add: [{ header: { key: 'a', value: '%REQ(b)%' }, append_action: 'ADD_IF_ABSENT' }],
  virtual_hosts: [
    {
      name: 'v',
      domains: ['a.com', '*.b.com', 'c.*', '*'],
      require_tls: 'EXTERNAL_ONLY',
      retry_policy: { retry_on: '5xx', retry_back_off: { base_interval: '0.1s' } },
      virtual_clusters: [{ name: 'vc', headers: [{ name: ':path', string_match: { prefix: '/x' } }] }],
      routes: [
        {
          name: 'r',
          match: {
            prefix: '/',
            headers: [{ name: 'h', range_match: { start: 1, end: 5 } }, { name: 'cookie', safe_regex_match: { regex: '.*a=1.*' } }],
            query_parameters: [{ name: 'q', string_match: { exact: 'v', ignore_case: true } }],
            runtime_fraction: { runtime_key: 'k', default_value: { numerator: 5, denominator: 'MILLION' } },
            dynamic_metadata: [{ filter: 'f', path: [{ key: 'k' }], value: { or_match: { value_matchers: [{ bool_match: true }, { null_match: {} }] } } }],
          },
          route: {
            weighted_clusters: { header_name: 'x', clusters: [{ name: 'a', weight: 1, request_headers_to_add: [{ header: { key: 'c', value: 'd' } }] }, { name: 'b', weight: 2 }] },
            regex_rewrite: { pattern: { regex: '^/(.*)$' }, substitution: '/p/\\1' },
            hash_policy: [{ cookie: { name: 'c', ttl: '1s' } }],
            retry_policy: { retriable_status_codes: [503], num_retries: 2 },
          },
          metadata: { filter_metadata: { weir: { pick_mode: 'sticky', sticky_key: { cookie: 'u' } } } },
        },
        { match: { path: '/r' }, redirect: { regex_rewrite: { pattern: { regex: 'r' }, substitution: 's' }, response_code: 'FOUND' } },
        { match: { path_separated_prefix: '/d' }, direct_response: { status: 200, body: { inline_bytes: 'aGk=' } } },
      ],
    },
  ],
};

const REPLACEMENTS: unknown[] = [null, undefined, 0, -1, 1.5, '', 'x', '(', true, [], [null], {}, { value: 3 }, 4294967296, 'HUNDRED', [{}]];

let seed = 2024;
function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
}

function mutate(v: unknown, depth: number): unknown {
  if (rnd(12) === 0) return REPLACEMENTS[rnd(REPLACEMENTS.length)];
  if (Array.isArray(v)) return v.map((x) => mutate(x, depth + 1));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (rnd(20) === 0) continue;
      out[k] = mutate(x, depth + 1);
    }
    return out;
  }
  return v;
}

t.test('random mutations never throw', async (t) => {
  let errors = 0;
  let ok = 0;
  for (let i = 0; i < 400; i++) {
    const input = mutate(BASE, 0);
    let res;
    try {
      res = compileRouteConfiguration(input);
    } catch (e) {
      t.fail(`threw on ${JSON.stringify(input)}: ${(e as Error).stack}`);
      continue;
    }
    if (res.errors !== undefined) {
      errors++;
      for (const e of res.errors) if (typeof e !== 'string' || e.length === 0) t.fail(`bad error ${String(e)}`);
    } else ok++;
  }
  t.ok(errors > 0 && ok > 0, `both outcomes seen (ok ${ok}, rejected ${errors})`);
  t.same(compileRouteConfiguration(BASE).errors, undefined, 'the base config compiles');
});

t.test('random requests never throw on the data path', async (t) => {
  const { req, TestHeaders } = await import('./request');
  const table = compileRouteConfiguration(BASE).value!;
  const pieces = ['/', 'd', 'r', '?', '#', '&', '=', 'q', 'v', ';', '%', 'é', ':', 'A'];
  const hosts = ['a.com', 'x.b.com', 'c.org', '', ':', '[::1]:80', 'A.COM:443'];
  let routed = 0;
  for (let i = 0; i < 2000; i++) {
    let path = '';
    for (let j = rnd(8); j > 0; j--) path += pieces[rnd(pieces.length)];
    const r = req({
      authority: hosts[rnd(hosts.length)] as string,
      path,
      random: rnd(1 << 30),
      headers: [
        ['h', String(rnd(7) - 1)],
        ['cookie', rnd(2) ? 'a=1; u=x' : 'u'],
        ['x', rnd(2) ? '18446744073709551616' : ' 7 '],
        ['x-forwarded-proto', rnd(2) ? 'https' : 'http'],
      ],
      dynamicMetadata: rnd(2) ? { f: { k: rnd(2) ? true : null } } : undefined,
    });
    const e = table.route(r);
    table.explain(r);
    if (e === null) continue;
    routed++;
    const cluster = e.kind === 'route' ? e.selectCluster(r) : undefined;
    e.rewritePath(r.path, r);
    e.rewriteHost(r, cluster);
    e.virtualClusterName(r);
    if (e.kind !== 'route') e.redirectLocation(r);
    e.applyRequestHeaders(new TestHeaders(), r, cluster);
    e.applyResponseHeaders(new TestHeaders(), r, cluster);
  }
  t.ok(routed > 100, `routed ${routed} of 2000`);
});
