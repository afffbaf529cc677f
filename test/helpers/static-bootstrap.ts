// A minimal Envoy v3 bootstrap (YAML) for the CLI tests: admin and listener `main` on
// 127.0.0.1:0 (the child logs the ports it bound), every request routed to cluster `up`
// (STATIC, one endpoint 127.0.0.1:<upstreamPort>) with the route timeout disabled (`timeout: 0s`).
import * as fs from 'node:fs';
import * as path from 'node:path';

export function singleClusterBootstrapYaml(upstreamPort: number): string {
  return `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
    - name: main
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: main
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: / }
                          route: { cluster: up, timeout: 0s }
  clusters:
    - name: up
      type: STATIC
      load_assignment:
        cluster_name: up
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } }
`;
}

/** Writes singleClusterBootstrapYaml(upstreamPort) to `<dir>/envoy-<upstreamPort>.yaml` and returns its path. */
export function writeSingleClusterBootstrap(dir: string, upstreamPort: number): string {
  const p = path.join(dir, `envoy-${upstreamPort}.yaml`);
  fs.writeFileSync(p, singleClusterBootstrapYaml(upstreamPort));
  return p;
}

/**
 * A bootstrap whose listeners and clusters all come over ADS (wildcard LDS and CDS) from a control
 * plane on 127.0.0.1:<adsPort> (static cluster `xds-grpc`), admin on 127.0.0.1:0; written to
 * <dir>/<name>.
 */
export function writeAdsBootstrap(dir: string, adsPort: number, name = 'xds.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    `
admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
node: {id: weir-test, cluster: weir}
dynamic_resources:
  ads_config: {api_type: GRPC, transport_api_version: V3, grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}}]}
  lds_config: {ads: {}, resource_api_version: V3}
  cds_config: {ads: {}, resource_api_version: V3}
static_resources:
  clusters:
  - name: xds-grpc
    type: STATIC
    load_assignment: {cluster_name: xds-grpc, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${adsPort}}}}}]}]}
`,
  );
  return file;
}
