// The one model every config source produces (design.md, "One path for all configuration"):
// Envoy v3 resources as plain objects in proto3 JSON form. Field names may be snake_case or
// lowerCamelCase (read them with util/proto-json `field()`); an Any is `{ "@type": url, ...fields }`;
// a Duration is "1.5s" (or `{seconds, nanos}`); a wrapper (UInt32Value...) is a bare number.
// The bootstrap loader, the xDS client and the Istio translator all produce a ResourceSet; only the
// snapshot compiler (route/ + upstream/) knows how to turn it into something that serves.

export const TYPE_URL = Object.freeze({
  LISTENER: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  ROUTE_CONFIGURATION: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  CLUSTER: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  CLUSTER_LOAD_ASSIGNMENT: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  HTTP_CONNECTION_MANAGER:
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  ROUTER: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
} as const);

export type Resource = { [key: string]: unknown };

export interface ResourceSet {
  readonly listeners: readonly Resource[];
  /** RouteConfigurations referenced by name from HCM `rds` (inline `route_config` stays in its listener). */
  readonly routeConfigurations: readonly Resource[];
  readonly clusters: readonly Resource[];
  /** ClusterLoadAssignments for EDS clusters (STATIC clusters carry `load_assignment` inline). */
  readonly clusterLoadAssignments: readonly Resource[];
  /** Where the set came from and which version it is: shown in logs and config_dump. */
  readonly versionInfo: string;
}
