// Resources shaped like istiod's output for the bookinfo `reviews` service (Istio 1.2x sidecar,
// outbound side), written as plain proto3 JSON. Typed extensions weir has no proto for (stats,
// Wasm, metadata exchange, TLS) are included on purpose: they must decode to `{ '@type' }` and
// never reject the resource.
import { TYPE_URL } from '../../src/config/resources';

export const ROUTE_NAME = '9080';
export const CLUSTER_V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
export const CLUSTER_V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';
export const CLUSTER_ANY = 'outbound|9080||reviews.default.svc.cluster.local';

const TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const WASM_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';
const TYPED_STRUCT = 'type.googleapis.com/udpa.type.v1.TypedStruct';

export function istioListener(port = 9080, routeName = ROUTE_NAME): Record<string, unknown> {
  return {
    name: `0.0.0.0_${port}`,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    traffic_direction: 'OUTBOUND',
    bind_to_port: false,
    listener_filters: [
      {
        name: 'envoy.filters.listener.tls_inspector',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' },
      },
    ],
    listener_filters_timeout: '0s',
    continue_on_listener_filters_timeout: true,
    filter_chains: [
      {
        filter_chain_match: { transport_protocol: 'raw_buffer', application_protocols: ['http/1.1', 'h2c'] },
        filters: [
          {
            name: 'istio.metadata_exchange',
            typed_config: { '@type': 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange' },
          },
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TYPE_URL.HTTP_CONNECTION_MANAGER,
              stat_prefix: `outbound_0.0.0.0_${port}`,
              rds: {
                config_source: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
                route_config_name: routeName,
              },
              http_filters: [
                { name: 'istio.metadata_exchange', typed_config: { '@type': WASM_TYPE } },
                {
                  name: 'envoy.filters.http.grpc_stats',
                  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig' },
                },
                { name: 'istio.alpn', typed_config: { '@type': 'type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig' } },
                { name: 'envoy.filters.http.fault', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } },
                { name: 'istio.stats', typed_config: { '@type': TYPED_STRUCT } },
                { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } },
              ],
              use_remote_address: false,
              upgrade_configs: [{ upgrade_type: 'websocket' }],
              stream_idle_timeout: '0s',
              normalize_path: true,
              path_with_escaped_slashes_action: 'KEEP_UNCHANGED',
            },
          },
        ],
      },
    ],
  };
}

export function istioRouteConfiguration(weights: [number, number] = [90, 10], name = ROUTE_NAME): Record<string, unknown> {
  return {
    name,
    virtual_hosts: [
      {
        name: 'reviews.default.svc.cluster.local:9080',
        domains: ['reviews.default.svc.cluster.local', 'reviews', 'reviews.default.svc', 'reviews.default', '10.96.12.7'],
        routes: [
          {
            name: 'jason',
            match: {
              prefix: '/',
              case_sensitive: true,
              headers: [{ name: 'end-user', string_match: { exact: 'jason' } }],
            },
            route: {
              cluster: CLUSTER_V2,
              timeout: '0s',
              retry_policy: {
                retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
                num_retries: 2,
                retry_host_predicate: [
                  {
                    name: 'envoy.retry_host_predicates.previous_hosts',
                    typed_config: {
                      '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
                    },
                  },
                ],
                host_selection_retry_max_attempts: 5,
                retriable_status_codes: [503],
              },
              max_grpc_timeout: '0s',
            },
            metadata: { filter_metadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews' } } },
            decorator: { operation: 'reviews.default.svc.cluster.local:9080/*' },
          },
          {
            name: 'default',
            match: { prefix: '/' },
            route: {
              weighted_clusters: {
                clusters: [
                  { name: CLUSTER_V1, weight: weights[0] },
                  { name: CLUSTER_V2, weight: weights[1] },
                ],
              },
              timeout: '0s',
              retry_policy: { retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', num_retries: 2, retriable_status_codes: [503] },
            },
          },
        ],
        include_request_attempt_count: true,
      },
      {
        name: 'allow_any',
        domains: ['*'],
        routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: 'PassthroughCluster', timeout: '0s' } }],
      },
    ],
    validate_clusters: false,
    max_direct_response_body_size_bytes: 1048576,
    ignore_port_in_host_matching: true,
  };
}

export function istioCluster(name: string): Record<string, unknown> {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' }, service_name: name },
    connect_timeout: '10s',
    lb_policy: 'LEAST_REQUEST',
    circuit_breakers: {
      thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295, track_remaining: true }],
    },
    metadata: {
      filter_metadata: {
        istio: { services: [{ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }], default_original_port: 9080, subset: name.split('|')[2] },
      },
    },
    transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': TLS_TYPE } },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      },
    },
  };
}

export function istioClusterLoadAssignment(name: string, endpoints: { ip: string; port: number; version: string }[]): Record<string, unknown> {
  return {
    cluster_name: name,
    endpoints: [
      {
        locality: { region: 'us-east1', zone: 'us-east1-b' },
        lb_endpoints: endpoints.map((e) => ({
          endpoint: { address: { socket_address: { address: e.ip, port_value: e.port } } },
          health_status: 'HEALTHY',
          metadata: {
            filter_metadata: {
              istio: { workload: `reviews-${e.version};default;reviews;${e.version};Kubernetes` },
              'envoy.transport_socket_match': { tlsMode: 'istio' },
            },
          },
          load_balancing_weight: 1,
        })),
        load_balancing_weight: endpoints.length,
      },
    ],
  };
}

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

/**
 * istiod's `virtualOutbound`: the one outbound listener a sidecar binds (iptables redirects the
 * pod's outbound connections to 15001); `use_original_dst` hands each connection to the
 * `bind_to_port: false` listener of its original destination, else the tcp_proxy chains here
 * (blackhole for 15001 itself, passthrough for the rest) serve it.
 */
export function istioVirtualOutbound(): Record<string, unknown> {
  const tcp = (cluster: string): Record<string, unknown> => ({
    name: 'envoy.filters.network.tcp_proxy',
    // weir has no TcpProxy proto: on the wire its fields are there, decoded it is `{ '@type' }`.
    typed_config: { '@type': TCP_PROXY },
  });
  return {
    name: 'virtualOutbound',
    address: { socket_address: { address: '0.0.0.0', port_value: 15001 } },
    filter_chains: [
      { name: 'virtualOutbound-blackhole', filter_chain_match: { destination_port: 15001 }, filters: [{ name: 'istio.stats', typed_config: { '@type': TYPED_STRUCT } }, tcp('BlackHoleCluster')] },
      { name: 'virtualOutbound-catchall-tcp', filters: [{ name: 'istio.stats', typed_config: { '@type': TYPED_STRUCT } }, tcp('PassthroughCluster')] },
    ],
    use_original_dst: true,
    traffic_direction: 'OUTBOUND',
  };
}

/** istiod's outbound listener for a TCP service (e.g. mysql on 3306): service IP, tcp_proxy only, not bound. */
export function istioTcpListener(ip: string, port: number, cluster: string): Record<string, unknown> {
  return {
    name: `${ip}_${port}`,
    address: { socket_address: { address: ip, port_value: port } },
    traffic_direction: 'OUTBOUND',
    bind_to_port: false,
    // `cluster` (the tcp_proxy's) is in the @type-only typed_config's place: weir has no TcpProxy proto.
    filter_chains: [{ name: cluster, filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY } }] }],
  };
}

/**
 * The HTTP filter istiod puts ahead of the router for an ALLOW/DENY AuthorizationPolicy, as weir
 * decodes it (no RBAC proto in weir: its `rules` decode to nothing but the `@type`).
 */
export const ISTIO_HTTP_RBAC = {
  name: 'envoy.filters.http.rbac',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC' },
};

/** `l` with `filter` inserted in its HCM's http_filters just before the router. */
export function withHttpFilter(l: Record<string, unknown>, filter: object): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(l)) as { filter_chains: { filters: { typed_config: { http_filters: object[] } }[] }[] };
  const chain = copy.filter_chains[0]!;
  const hf = chain.filters[chain.filters.length - 1]!.typed_config.http_filters;
  hf.splice(hf.length - 1, 0, filter);
  return copy as unknown as Record<string, unknown>;
}
