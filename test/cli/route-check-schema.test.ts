// route-check's strict field check: the committed field table matches the full Envoy API that
// @grpc/grpc-js-xds ships (regenerate with WEIR_REGEN_ROUTE_FIELDS=1 when it changes), and
// unknown fields anywhere in a RouteConfiguration are found with their path.

import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { buildRegistry, PROTO_LOADER_OPTIONS } from '../../src/xds/protos';
import { buildFieldTable, findUnknownField } from '../../src/cli/router-check/strict-fields';
import { REPO_ROOT } from '../helpers/repo-root';

const ROOT = REPO_ROOT;
const DEPS = path.join(ROOT, 'node_modules/@grpc/grpc-js-xds/deps');
const TABLE = path.join(ROOT, 'src/cli/router-check/route-configuration-fields.json');

t.test('field table is generated from the Envoy API', { skip: existsSync(DEPS) ? false : 'no grpc-js-xds deps' }, async (t) => {
  const pd = protoLoader.loadSync(['envoy/config/route/v3/route.proto'], {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(DEPS, d)),
  });
  const table = buildFieldTable(buildRegistry(pd));
  const text = JSON.stringify(table, null, 1) + '\n';
  if (process.env.WEIR_REGEN_ROUTE_FIELDS === '1') writeFileSync(TABLE, text);
  t.equal(readFileSync(TABLE, 'utf8'), text, 'committed table is current (WEIR_REGEN_ROUTE_FIELDS=1 regenerates)');
  t.ok(Object.keys(table).length > 100, 'every message reachable from RouteConfiguration');
});

t.test('unknown fields are found with their path', async (t) => {
  const ok = {
    name: 'r',
    virtualHosts: [
      {
        name: 'v',
        domains: ['*'],
        typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': 'type.googleapis.com/x.Y', anything: 1 } },
        metadata: { filter_metadata: { weir: { free: { form: true } } } },
        routes: [
          {
            match: { prefix: '/', headers: [{ name: 'a', stringMatch: { exact: 'b' } }], filter_state: [] },
            route: { weighted_clusters: { clusters: [{ name: 'c', weight: 1 }] }, timeout: '1s', prefixRewrite: '/x' },
          },
        ],
      },
    ],
  };
  t.equal(findUnknownField(ok), null, 'valid config, camelCase, Any, Struct, Duration, newer fields');
  t.same(findUnknownField({ tests: [] }), { path: 'tests', messageType: 'envoy.config.route.v3.RouteConfiguration', field: 'tests' });
  t.same(
    findUnknownField({ virtual_hosts: [{ name: 'v', routes: [{ match: { prefix: '/' } }, { match: { prefix: '/' }, route: { prefix_rewite: '/' } }] }] }),
    { path: 'virtual_hosts[0].routes[1].route.prefix_rewite', messageType: 'envoy.config.route.v3.RouteAction', field: 'prefix_rewite' },
  );
  t.same(findUnknownField({ virtual_hosts: [{ routes: [{ match: { headers: [{ name: 'a', exact: 'b' }] } }] }] })?.path, 'virtual_hosts[0].routes[0].match.headers[0].exact');
});
