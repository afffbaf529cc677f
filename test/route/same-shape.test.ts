// Objects on the hot path get every field in their constructor, so V8 gives all RouteEntry objects
// one hidden class whatever the route holds (fastify test/same-shape.test.js style). Checked in a
// child process started with --allow-natives-syntax (%HaveSameMap).

import t from 'tap';
import { spawnSync } from 'node:child_process';

t.test('every RouteEntry and every VirtualHost has one shape', async (t) => {
  const modulePath = require.resolve('../../src/route/route-table');
  const script = `
    const { compileRouteConfiguration } = require(${JSON.stringify(modulePath)});
    const res = compileRouteConfiguration({
      virtual_hosts: [
        { name: 'a', domains: ['a'], require_tls: 'ALL', routes: [
          { match: { prefix: '/' }, route: { cluster: 'c' } },
          { match: { path: '/x', headers: [{ name: 'h', exact_match: 'v' }], query_parameters: [{ name: 'q' }] },
            route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }] }, prefix_rewrite: '/y', retry_policy: { retry_on: '5xx' },
                     hash_policy: [{ header: { header_name: 'u' } }], timeout: '1s' },
            metadata: { filter_metadata: { weir: { pick_mode: 'smooth' } } } },
          { match: { safe_regex: { regex: '/r.*' }, runtime_fraction: { default_value: { numerator: 5 } }, grpc: {} }, redirect: { host_redirect: 'h' } },
          { match: { path_separated_prefix: '/p', case_sensitive: false }, direct_response: { status: 200, body: { inline_string: 'x' } },
            request_headers_to_add: [{ header: { key: 'k', value: '%REQ(x)%' } }] },
        ] },
        { name: 'b', domains: ['b'], virtual_clusters: [{ name: 'v', headers: [{ name: ':path' }] }], routes: [] },
      ],
    });
    if (res.errors) throw new Error(res.errors.join('; '));
    const [a, b] = res.value.virtualHosts;
    const entries = [...a.routes, a.sslRedirect];
    const same = (x, y) => %HaveSameMap(x, y);
    process.stdout.write(JSON.stringify({
      routes: entries.length,
      routeShapes: entries.every((e) => same(e, entries[0])),
      hostShapes: same(a, b),
    }));
  `;
  const child = spawnSync(process.execPath, [...process.execArgv, '--allow-natives-syntax', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  t.equal(child.status, 0, child.stderr);
  t.same(JSON.parse(child.stdout || '{}'), { routes: 5, routeShapes: true, hostShapes: true });
});
