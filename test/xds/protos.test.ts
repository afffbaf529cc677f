// weir's proto subset (proto/) against the full Envoy definitions @grpc/grpc-js-xds ships:
// (1) every message and field weir declares exists upstream with the same number, type and label,
// so type URLs and wire bytes match; (2) resources encoded with the upstream definitions decode with
// weir's to the expected plain objects, and weir's encoding decodes upstream to the same thing.
import t from 'tap';
import * as path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { TYPE_URL } from '../../src/config/resources';
import { buildRegistry, loadProtos, protoLoadMs, PROTO_LOADER_OPTIONS, type ProtoRegistry } from '../../src/xds/protos';
import { decodeResource, encodeResource, typeNameOf } from '../../src/xds/resource-codec';
import { isObject } from '../../src/util/proto-json';
import * as istio from './istio-resources';

const ROOT = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
const DEPS = path.join(ROOT, 'node_modules/@grpc/grpc-js-xds/deps');

function loadUpstream(): ProtoRegistry {
  const pd = protoLoader.loadSync(
    [
      'envoy/service/discovery/v3/ads.proto',
      'envoy/config/listener/v3/listener.proto',
      'envoy/config/route/v3/route.proto',
      'envoy/config/cluster/v3/cluster.proto',
      'envoy/config/endpoint/v3/endpoint.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
      'envoy/extensions/transport_sockets/tls/v3/tls.proto',
      'envoy/admin/v3/config_dump.proto',
      'envoy/config/bootstrap/v3/bootstrap.proto',
      'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
    ],
    {
      ...PROTO_LOADER_OPTIONS,
      includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(DEPS, d)),
    },
  );
  return buildRegistry(pd);
}

const weir = loadProtos();
t.comment(`weir proto subset loaded in ${protoLoadMs().toFixed(1)} ms`);
const t0 = process.hrtime.bigint();
const upstream = loadUpstream();
t.comment(`upstream definitions loaded in ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms`);

const MUST_HAVE = [
  'envoy.service.discovery.v3.DiscoveryRequest',
  'envoy.service.discovery.v3.DiscoveryResponse',
  'envoy.service.discovery.v3.DeltaDiscoveryRequest',
  'envoy.service.discovery.v3.DeltaDiscoveryResponse',
  'envoy.config.core.v3.Node',
  'envoy.config.core.v3.Locality',
  'envoy.config.core.v3.Address',
  'envoy.config.core.v3.SocketAddress',
  'envoy.config.core.v3.Pipe',
  'envoy.config.core.v3.ConfigSource',
  'envoy.config.core.v3.Metadata',
  'envoy.config.core.v3.HeaderValueOption',
  'envoy.config.core.v3.RuntimeFractionalPercent',
  'envoy.config.listener.v3.Listener',
  'envoy.config.listener.v3.FilterChain',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.network.http_connection_manager.v3.Rds',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.route.v3.VirtualHost',
  'envoy.config.route.v3.Route',
  'envoy.config.route.v3.RouteMatch',
  'envoy.config.route.v3.HeaderMatcher',
  'envoy.type.matcher.v3.StringMatcher',
  'envoy.type.matcher.v3.RegexMatcher',
  'envoy.config.route.v3.QueryParameterMatcher',
  'envoy.config.route.v3.RouteAction',
  'envoy.config.route.v3.WeightedCluster',
  'envoy.config.route.v3.RetryPolicy',
  'envoy.config.route.v3.RouteAction.HashPolicy',
  'envoy.config.route.v3.RedirectAction',
  'envoy.config.route.v3.DirectResponseAction',
  'envoy.config.route.v3.VirtualCluster',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.cluster.v3.CircuitBreakers',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.extensions.filters.http.router.v3.Router',
  'envoy.admin.v3.ConfigDump',
  'envoy.admin.v3.ListenersConfigDump',
  'envoy.admin.v3.RoutesConfigDump',
  'envoy.admin.v3.ClustersConfigDump',
  'envoy.admin.v3.EndpointsConfigDump',
  'envoy.admin.v3.BootstrapConfigDump',
  'google.rpc.Status',
];

t.test('the subset declares what weir needs, and every field matches upstream', async (t) => {
  for (const n of MUST_HAVE) t.ok(weir.message(n), `weir declares ${n}`);
  t.ok(weir.packageDefinition['envoy.service.discovery.v3.AggregatedDiscoveryService'], 'ADS service');
  let checked = 0;
  const mismatches: string[] = [];
  for (const n of MUST_HAVE.concat(collectAll(weir))) {
    const w = weir.message(n);
    const u = upstream.message(n);
    if (!w) continue;
    if (!u) {
      mismatches.push(`${n}: not upstream`);
      continue;
    }
    for (const f of w.fields) {
      const uf = u.byName.get(f.name);
      checked++;
      if (!uf) mismatches.push(`${n}.${f.name}: not upstream`);
      else if (
        uf.number !== f.number ||
        uf.kind !== f.kind ||
        uf.scalar !== f.scalar ||
        uf.typeName !== f.typeName ||
        uf.repeated !== f.repeated ||
        !!uf.mapValue !== !!f.mapValue ||
        (uf.mapValue && f.mapValue && uf.mapValue.typeName !== f.mapValue.typeName)
      )
        mismatches.push(`${n}.${f.name}: ${JSON.stringify(f)} vs upstream ${JSON.stringify(uf)}`);
    }
  }
  t.same(mismatches, [], `all ${checked} fields match upstream`);
  t.ok(checked > 500, `checked ${checked} fields`);
});

function collectAll(reg: ProtoRegistry): string[] {
  const out = new Set<string>();
  const q = ['envoy.service.discovery.v3.DiscoveryRequest', ...MUST_HAVE];
  while (q.length) {
    const n = q.pop()!;
    if (out.has(n)) continue;
    const m = reg.message(n);
    if (!m) continue;
    out.add(n);
    for (const f of m.fields) {
      if (f.kind === 'message') q.push(f.typeName);
      if (f.mapValue?.kind === 'message') q.push(f.mapValue.typeName);
    }
  }
  return [...out];
}

/** What weir should see of `plain`: Any payloads it has no proto for reduced to `{ '@type' }`. */
function weirView(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(weirView);
  if (!isObject(v)) return v;
  const type = v['@type'];
  if (typeof type === 'string' && !weir.canSerialize(typeNameOf(type))) return { '@type': type };
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = weirView(v[k]);
  return out;
}

const SAMPLES: { name: string; typeUrl: string; plain: Record<string, unknown> }[] = [
  { name: 'istiod listener 0.0.0.0_9080', typeUrl: TYPE_URL.LISTENER, plain: istio.istioListener() },
  { name: 'istiod route config 9080', typeUrl: TYPE_URL.ROUTE_CONFIGURATION, plain: istio.istioRouteConfiguration() },
  { name: 'istiod EDS cluster', typeUrl: TYPE_URL.CLUSTER, plain: istio.istioCluster(istio.CLUSTER_V2) },
  {
    name: 'istiod endpoints',
    typeUrl: TYPE_URL.CLUSTER_LOAD_ASSIGNMENT,
    plain: istio.istioClusterLoadAssignment(istio.CLUSTER_V2, [
      { ip: '10.0.0.7', port: 9080, version: 'v2' },
      { ip: '10.0.0.8', port: 9080, version: 'v2' },
    ]),
  },
  {
    name: 'route config using every route feature weir models',
    typeUrl: TYPE_URL.ROUTE_CONFIGURATION,
    plain: {
      name: 'all',
      request_headers_to_add: [{ header: { key: 'x-a', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      response_headers_to_remove: ['server'],
      virtual_hosts: [
        {
          name: 'vh',
          domains: ['*.example.com', 'foo.*'],
          virtual_clusters: [{ name: 'vc', headers: [{ name: ':path', string_match: { prefix: '/api' } }] }],
          routes: [
            {
              match: {
                safe_regex: { regex: '/v[0-9]+/.*' },
                case_sensitive: false,
                headers: [
                  { name: 'x-r', range_match: { start: -5, end: 9007199254740991 } },
                  { name: 'x-p', present_match: true, invert_match: true },
                  { name: 'cookie', string_match: { safe_regex: { regex: '.*canary=true.*' } }, treat_missing_header_as_empty: true },
                  { name: 'x-c', string_match: { contains: 'ab', ignore_case: true } },
                ],
                query_parameters: [{ name: 'q', string_match: { suffix: 'z' } }, { name: 'p', present_match: true }],
                runtime_fraction: { default_value: { numerator: 25, denominator: 'TEN_THOUSAND' }, runtime_key: 'rk' },
                grpc: {},
              },
              route: {
                weighted_clusters: {
                  clusters: [
                    { name: 'a', weight: 0, request_headers_to_add: [{ header: { key: 'x-v', value: 'a' } }] },
                    { name: 'b', weight: 3, host_rewrite_literal: 'b.internal' },
                  ],
                  header_name: 'x-pick',
                },
                prefix_rewrite: '/new',
                timeout: '1.5s',
                idle_timeout: '0.25s',
                retry_policy: { retry_on: '5xx', num_retries: 0, per_try_timeout: '0.001s', retry_back_off: { base_interval: '0.1s', max_interval: '1s' } },
                hash_policy: [{ header: { header_name: 'x-user' }, terminal: true }, { cookie: { name: 'sid', ttl: '3600s', path: '/' } }],
                auto_host_rewrite: false,
                cluster_not_found_response_code: 'NOT_FOUND',
              },
              metadata: { filter_metadata: { weir: { mode: 'sticky', key: { header: 'x-user' } } } },
              typed_per_filter_config: {
                'envoy.filters.http.fault': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' },
              },
            },
            { match: { path_separated_prefix: '/docs' }, redirect: { https_redirect: true, response_code: 'PERMANENT_REDIRECT', strip_query: true } },
            { match: { path: '/gone' }, direct_response: { status: 410, body: { inline_string: 'gone' } } },
            {
              match: { prefix: '' },
              route: { cluster_header: 'x-cluster', regex_rewrite: { pattern: { regex: '^/x/(.*)$' }, substitution: '/\\1' } },
            },
          ],
        },
      ],
    },
  },
  {
    name: 'static cluster with a pipe and a socket address',
    typeUrl: TYPE_URL.CLUSTER,
    plain: {
      name: 'xds-grpc',
      type: 'STATIC',
      connect_timeout: '1s',
      lb_policy: 'ROUND_ROBIN',
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          common_http_protocol_options: { idle_timeout: '3600s', max_requests_per_connection: 100 },
          explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 1073741824 } },
        },
      },
      load_assignment: {
        cluster_name: 'xds-grpc',
        endpoints: [
          {
            lb_endpoints: [
              { endpoint: { address: { pipe: { path: './etc/istio/proxy/XDS', mode: 438 } } } },
              { endpoint: { address: { socket_address: { address: '::1', port_value: 15010, protocol: 'TCP' } } } },
            ],
          },
        ],
      },
    },
  },
];

t.test('resources encoded with the upstream definitions decode with weir to the plain objects', async (t) => {
  for (const s of SAMPLES) {
    const bytesUp = encodeResource(s.typeUrl, s.plain, upstream);
    const bytesWeir = encodeResource(s.typeUrl, weirView(s.plain) as object, weir);
    const d = decodeResource(s.typeUrl, bytesUp, weir);
    t.notOk(d.errors, `${s.name}: decodes`);
    t.strictSame(d.value?.resource, weirView(s.plain), `${s.name}: upstream bytes -> weir model`);
    const back = decodeResource(s.typeUrl, bytesWeir, upstream);
    t.strictSame(back.value?.resource, weirView(s.plain), `${s.name}: weir bytes -> upstream decode`);
  }
});

t.test('unknown typed extensions decode to their @type with a note, and are not errors', async (t) => {
  const d = decodeResource(TYPE_URL.LISTENER, encodeResource(TYPE_URL.LISTENER, istio.istioListener(), upstream));
  t.notOk(d.errors);
  t.match(d.value?.notes, [/filter_chains\[0\]\.filters\[0\]\.typed_config: skipped typed config type\.googleapis\.com\/envoy\.tcp\.metadataexchange/]);
  t.ok(d.value!.notes.some((n) => n.includes('http_filters[4].typed_config') && n.includes('TypedStruct')));
  t.equal(d.value!.name, '0.0.0.0_9080');
  const c = decodeResource(TYPE_URL.CLUSTER, encodeResource(TYPE_URL.CLUSTER, istio.istioCluster(istio.CLUSTER_V1), upstream));
  t.same((c.value!.resource.transport_socket as Record<string, unknown>).typed_config, {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  });
});

t.test('decode errors', async (t) => {
  const a = encodeResource(TYPE_URL.CLUSTER, { name: 'c' });
  t.match(decodeResource(TYPE_URL.LISTENER, a).errors, [/resource of type .*Cluster in a response for .*Listener/]);
  t.match(decodeResource(TYPE_URL.CLUSTER, { type_url: TYPE_URL.CLUSTER, value: Buffer.from([0xff, 0xff, 0xff]) }).errors, [/cannot decode/]);
  t.match(decodeResource(TYPE_URL.CLUSTER, encodeResource(TYPE_URL.CLUSTER, { type: 'EDS' })).errors, ['name: required']);
  t.match(decodeResource(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, encodeResource(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, {})).errors, ['cluster_name: required']);
  t.throws(() => encodeResource(TYPE_URL.CLUSTER, { name: 'c', no_such_field: 1 }), /no_such_field: unknown field/);
});

t.test('Resource-wrapped resources are unwrapped; lowerCamelCase input is accepted', async (t) => {
  const inner = encodeResource(TYPE_URL.CLUSTER, { name: 'c', connectTimeout: '2s', edsClusterConfig: { serviceName: 's' } });
  const wrapped = weir.serialize('envoy.service.discovery.v3.Resource', { name: 'c', version: '1', resource: inner });
  const d = decodeResource(TYPE_URL.CLUSTER, { type_url: 'type.googleapis.com/envoy.service.discovery.v3.Resource', value: wrapped });
  t.strictSame(d.value?.resource, { name: 'c', connect_timeout: '2s', eds_cluster_config: { service_name: 's' } });
});

t.test('the admin ConfigDump messages round-trip', async (t) => {
  const dump = {
    configs: [
      { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: { node: { id: 'n', cluster: 'c', metadata: { LABELS: { version: 'v1' } } } }, last_updated: '2026-01-02T03:04:05.678Z' },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        version_info: '7',
        dynamic_listeners: [
          {
            name: 'l',
            active_state: { version_info: '7', listener: { '@type': TYPE_URL.LISTENER, name: 'l' }, last_updated: '2026-01-02T03:04:05.678Z' },
            error_state: { details: 'bad', version_info: '8', failed_configuration: { '@type': TYPE_URL.LISTENER, name: 'l' } },
          },
        ],
      },
      { '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump', dynamic_route_configs: [{ version_info: '3', route_config: { '@type': TYPE_URL.ROUTE_CONFIGURATION, name: '9080' } }] },
      { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', version_info: '2', dynamic_active_clusters: [{ version_info: '2', cluster: { '@type': TYPE_URL.CLUSTER, name: 'c' } }] },
      { '@type': 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump', dynamic_endpoint_configs: [{ version_info: '1', endpoint_config: { '@type': TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, cluster_name: 'c' } }] },
    ],
  };
  const url = 'type.googleapis.com/envoy.admin.v3.ConfigDump';
  const up = encodeResource(url, dump, upstream);
  const reg = weir;
  const decoded = reg.deserialize('envoy.admin.v3.ConfigDump', Buffer.from(up.value));
  const { decodeMessage } = await import('../../src/xds/resource-codec');
  t.strictSame(decodeMessage('envoy.admin.v3.ConfigDump', decoded), dump);
});
