// compileSnapshot: table-driven cases for listeners, HttpConnectionManager options and errors
// with field paths (grpc-js-xds test-confg-parsing style).

import t from 'tap';
import { TYPE_URL } from '../../src/config/resources';
import { compileSnapshot } from '../../src/proxy/snapshot';
import type { Snapshot } from '../../src/proxy/snapshot';
import { listener, resources, routeConfig, staticCluster } from './fixtures';

const rc = routeConfig([{ match: { prefix: '/' }, route: { cluster: 'c' } }]);
const HCM_PATH = 'listeners["l"].filter_chains[0].filters[0].typed_config';

const cases: { name: string; listeners?: object[]; clusters?: object[]; error?: RegExp; check?: (s: Snapshot) => void }[] = [
  {
    name: 'HCM options',
    listeners: [
      listener('l', rc, {
        server_name: 'edge',
        server_header_transformation: 'PASS_THROUGH',
        common_http_protocol_options: { idle_timeout: '30s' },
        stream_idle_timeout: '10s',
        request_timeout: '20s',
        use_remote_address: true,
        xff_num_trusted_hops: 1,
        strip_any_host_port: true,
        upgrade_configs: [{ upgrade_type: 'WebSocket' }],
      }),
    ],
    check: (s) => {
      const h = s.listeners[0]!.hcm;
      t.equal(h.statPrefix, 'ingress_http');
      t.equal(h.routeConfigName, 'local_route');
      t.equal(h.serverName, 'edge');
      t.equal(h.serverHeaderTransformation, 'PASS_THROUGH');
      t.equal(h.idleTimeoutMs, 30_000);
      t.equal(h.streamIdleTimeoutMs, 10_000);
      t.equal(h.requestTimeoutMs, 20_000);
      t.equal(h.useRemoteAddress, true);
      t.equal(h.xffNumTrustedHops, 1);
      t.equal(h.stripAnyHostPort, true);
      t.same(h.upgradeTypes, ['websocket']);
      t.equal(h.accessLogs.length, 1);
      t.equal(h.accessLogs[0]!.path, '/dev/stdout');
    },
  },
  {
    name: 'defaults follow Envoy',
    listeners: [listener('l', rc, { access_log: undefined })],
    check: (s) => {
      const h = s.listeners[0]!.hcm;
      t.equal(h.serverName, null);
      t.equal(h.serverHeaderTransformation, 'OVERWRITE');
      t.equal(h.idleTimeoutMs, 3_600_000);
      t.equal(h.streamIdleTimeoutMs, 300_000);
      t.equal(h.requestTimeoutMs, 0);
      t.equal(h.useRemoteAddress, false);
      t.equal(h.maxRequestHeadersKb, 60);
      t.same(h.accessLogs, []);
    },
  },
  {
    name: 'lowerCamelCase listener and HCM',
    listeners: [
      {
        name: 'l',
        address: { socketAddress: { address: '127.0.0.1', portValue: 0 } },
        filterChains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': TYPE_URL.HTTP_CONNECTION_MANAGER, statPrefix: 'x', routeConfig: rc, stripMatchingHostPort: true } }] }],
      },
    ],
    check: (s) => t.equal(s.listeners[0]!.hcm.stripMatchingHostPort, true),
  },
  { name: 'missing stat_prefix', listeners: [listener('l', rc, { stat_prefix: undefined })], error: new RegExp(`^${HCM_PATH.replace(/[[\]."]/g, '\\$&')}\\.stat_prefix: required`, 'm') },
  { name: 'no route config', listeners: [{ ...listener('l', rc), filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': TYPE_URL.HTTP_CONNECTION_MANAGER, stat_prefix: 's' } }] }] }], error: /typed_config: route_config or rds is required/ },
  { name: 'a chain without an HCM (tcp_proxy only)', listeners: [{ name: 'l', address: { socket_address: { address: '0.0.0.0', port_value: 0 } }, filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy' }] }] }], error: /filter_chains\[0\]\.filters: an envoy\.filters\.network\.http_connection_manager is required/ },
  {
    // istiod puts istio.metadata_exchange (and Wasm stats) ahead of the HCM: skipped, listed, warned.
    name: 'network filters ahead of the HCM are skipped and listed',
    listeners: [
      (() => {
        const l = listener('l', rc) as { filter_chains: { filters: object[] }[] };
        l.filter_chains[0]!.filters.unshift(
          { name: 'istio.metadata_exchange', typed_config: { '@type': 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange' } },
          { name: 'istio.stats', typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct' } },
        );
        return l;
      })(),
    ],
    check: (s) => {
      t.same(s.listeners[0]!.networkFilters.map((f) => [f.name, f.skipped]), [
        ['istio.metadata_exchange', true],
        ['istio.stats', true],
        ['envoy.filters.network.http_connection_manager', false],
      ]);
      t.ok(s.warnings.includes('listeners["l"].filter_chains[0].filters[0]: network filter istio.metadata_exchange (type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange) is not supported by weir: skipped'));
      t.equal(s.listeners[0]!.hcm.statPrefix, 'ingress_http', 'the HCM after them is served');
    },
  },
  {
    name: 'the HCM is terminal: a network filter after it is an error',
    listeners: [
      (() => {
        const l = listener('l', rc) as { filter_chains: { filters: object[] }[] };
        l.filter_chains[0]!.filters.push({ name: 'envoy.filters.network.tcp_proxy' });
        return l;
      })(),
    ],
    error: /filters\[1\]: the http_connection_manager is a terminal filter and must be the last network filter \(found envoy\.filters\.network\.tcp_proxy after it\)/,
  },
  { name: 'pipe address', listeners: [{ name: 'l', address: { pipe: { path: '/tmp/x' } }, filter_chains: [] }], error: /address\.socket_address: required \(pipe addresses are not supported\)/ },
  { name: 'server_name with CR/LF', listeners: [listener('l', rc, { server_name: 'edge\r\nx-evil: 1' })], error: /typed_config\.server_name: contains NUL, CR or LF/ },
  { name: 'duplicate listener names', listeners: [listener('l', rc), listener('l', rc)], error: /listeners\["l"\]: duplicate name/ },
  { name: 'two listeners on one address', listeners: [listener('a', rc, {}, 18080), listener('b', rc, {}, 18080)], error: /listeners\["b"\]\.address: 127\.0\.0\.1:18080 is also the address of listener "a"/ },
  { name: 'route errors carry the listener path', listeners: [listener('l', routeConfig([{ match: {}, route: { cluster: 'c' } }]))], error: new RegExp(`^${HCM_PATH.replace(/[[\]."]/g, '\\$&')}\\.route_config\\.`, 'm') },
  { name: 'cluster errors carry the cluster name', clusters: [staticCluster('c', [80], { lb_policy: 'WHAT' })], error: /^clusters\["c"\]\.lb_policy: WHAT is not supported/m },
  {
    name: 'TLS filter chains are skipped with a warning',
    listeners: [
      (() => {
        const l = listener('l', rc) as { filter_chains: object[] };
        l.filter_chains.unshift({ filter_chain_match: { transport_protocol: 'tls' }, filters: [] });
        return l;
      })(),
    ],
    check: (s) => {
      t.equal(s.listeners.length, 1);
      t.ok(s.warnings.some((w) => w.includes('filter_chains[0]: TLS filter chain not supported')));
    },
  },
  {
    name: 'access log formats: text and json, file path',
    listeners: [
      listener('l', rc, {
        access_log: [
          { name: 'a', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', log_format: { text_format_source: { inline_string: '%RESPONSE_CODE%\n' } } } },
          { name: 'b', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/tmp/x.log', log_format: { json_format: { code: '%RESPONSE_CODE%' } } } },
        ],
      }),
    ],
    check: (s) => t.same(s.listeners[0]!.hcm.accessLogs.map((a) => a.path), ['/dev/stdout', '/tmp/x.log']),
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const r = compileSnapshot(resources(c.listeners ?? [listener('l', rc)], c.clusters ?? [staticCluster('c', [8080])]), {});
    if (c.error) {
      t.ok(r.errors, 'rejected');
      t.match(r.errors?.join('\n') ?? '', c.error);
    } else {
      t.notOk(r.errors, (r.errors ?? []).join('\n'));
      if (r.value) c.check?.(r.value);
    }
  });
}
