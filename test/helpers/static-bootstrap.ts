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
