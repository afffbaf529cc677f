// One upstream endpoint as the load balancers see it (Envoy `Upstream::Host`): a resolved address,
// its lb weight, priority, locality and metadata (Istio writes workload labels under
// `filter_metadata.istio` / `envoy.lb`; the version label is what later metrics report).

import type { UpstreamPool } from './upstream-client';

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

export class Host {
  readonly address: string;
  readonly port: number;
  /** `address:port`, the key pools and the access log's %UPSTREAM_HOST% use. */
  readonly key: string;
  /** The name it was resolved from (DNS clusters) or the address itself. */
  readonly hostname: string;
  readonly weight: number;
  readonly priority: number;
  readonly locality: Locality | null;
  readonly localityWeight: number;
  readonly metadata: { readonly [k: string]: unknown } | null;
  /** health_status from the ClusterLoadAssignment: UNHEALTHY, DRAINING and TIMEOUT are not used. */
  readonly healthy: boolean;
  /** Requests currently outstanding on this host (LEAST_REQUEST, circuit breaking). */
  active = 0;
  /** Set by the cluster from the pool registry. */
  pool: UpstreamPool | null = null;

  constructor(
    address: string,
    port: number,
    hostname: string,
    weight: number,
    priority: number,
    locality: Locality | null,
    localityWeight: number,
    metadata: { readonly [k: string]: unknown } | null,
    healthy: boolean,
  ) {
    this.address = address;
    this.port = port;
    this.key = address.includes(':') ? '[' + address + ']:' + port : address + ':' + port;
    this.hostname = hostname;
    this.weight = weight;
    this.priority = priority;
    this.locality = locality;
    this.localityWeight = localityWeight;
    this.metadata = metadata;
    this.healthy = healthy;
  }
}
