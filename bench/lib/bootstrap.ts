// The Envoy bootstraps the benches hand to weir: one listener on 127.0.0.1 port 0 (weir prints the
// bound port) with an HTTP connection manager and an inline route config, plus STATIC clusters on
// loopback. Each bench only says what differs: its routes and its clusters.

import type { Resource } from '../../src/config/resources';

export interface StaticEndpoint {
  port: number;
  /** Endpoint metadata (e.g. Istio's `filter_metadata.istio` labels for destination_version). */
  metadata?: object;
}

/** A STATIC cluster with one loopback endpoint. */
export function staticCluster(name: string, endpoint: number | StaticEndpoint): Resource {
  const ep = typeof endpoint === 'number' ? { port: endpoint } : endpoint;
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            {
              endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: ep.port } } },
              ...(ep.metadata ? { metadata: ep.metadata } : {}),
            },
          ],
        },
      ],
    },
  };
}

/** A 90/10 (or any) `weighted_clusters` route action body. */
export function weighted(clusters: ReadonlyArray<readonly [name: string, weight: number]>): object {
  return { weighted_clusters: { clusters: clusters.map(([name, weight]) => ({ name, weight })) } };
}

/** A bootstrap with one listener `name` routing every host with `routes`, and `clusters`. */
export function benchBootstrap(opts: { name: string; routes: readonly object[]; clusters: readonly object[]; node?: object; pretty?: boolean }): string {
  const bootstrap = {
    ...(opts.node ? { node: opts.node } : {}),
    static_resources: {
      listeners: [
        {
          name: opts.name,
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: opts.name,
                    http_filters: [
                      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
                    ],
                    route_config: { virtual_hosts: [{ name: opts.name, domains: ['*'], routes: opts.routes }] },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: opts.clusters,
    },
  };
  return opts.pretty ? JSON.stringify(bootstrap, null, 2) : JSON.stringify(bootstrap);
}

/** A listener on 127.0.0.1 port 0 whose HCM takes route config `routeConfigName` over ADS (RDS). */
export function rdsListener(name: string, routeConfigName: string): Resource {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: name,
              rds: { route_config_name: routeConfigName, config_source: { ads: {} } },
              http_filters: [
                { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
              ],
            },
          },
        ],
      },
    ],
  };
}
