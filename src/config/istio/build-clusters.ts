// Services and DestinationRule subsets -> outbound clusters and their ClusterLoadAssignments, in
// istiod's shapes (`outbound|<port>|<subset>|<fqdn>`, EDS with endpoints named like the cluster).

import { isIP } from 'node:net';
import type { Resource } from '../resources';
import type { Obj } from './istio-values';
import { labelsMatch } from './istio-values';
import { effectivePolicy, type DestinationRules } from './destination-rules';
import { clusterName } from './http-route';
import type { ServiceModel, ServicePort, WorkloadEndpoint } from './service-registry';
import { applyTrafficPolicy } from './traffic-policy';

/** How istiod's sidecars fetch EDS: over ADS, no initial-fetch wait. */
export const ADS_CONFIG_SOURCE = Object.freeze({ ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' });

/** istiod's mesh default `connectTimeout`. */
const DEFAULT_CONNECT_TIMEOUT = '10s';

export interface BuiltClusters {
  clusters: Resource[];
  loadAssignments: Resource[];
}

function shortName(hostname: string): string {
  const i = hostname.indexOf('.');
  return i > 0 ? hostname.slice(0, i) : hostname;
}

function endpointPort(ep: WorkloadEndpoint, port: ServicePort): number {
  return ep.ports[port.name] ?? port.targetPort ?? port.number;
}

function socketAddress(address: string, port: number): Obj {
  if (address.startsWith('unix://')) return { pipe: { path: address.slice('unix://'.length) } };
  return { socket_address: { address, port_value: port } };
}

/**
 * The `lb_endpoints` of one cluster: the service's endpoints whose labels carry every subset label.
 * Endpoint metadata `filter_metadata.istio` holds the workload's labels (so metrics and the access
 * log can report `destination_version`) and istiod's `workload` string.
 */
function localityEndpoints(svc: ServiceModel, port: ServicePort, selector: { readonly [k: string]: string }): Obj[] {
  const groups = new Map<string, Obj[]>();
  for (const ep of svc.endpoints) {
    if (!labelsMatch(selector, ep.labels)) continue;
    const app = ep.labels.app ?? shortName(svc.hostname);
    const version = ep.labels.version ?? 'latest';
    const lbEndpoint: Obj = {
      endpoint: { address: socketAddress(ep.address, endpointPort(ep, port)) },
      health_status: 'HEALTHY',
      metadata: {
        filter_metadata: {
          istio: { workload: `${ep.workload};${svc.namespace};${app};${version};Kubernetes`, labels: { ...ep.labels } },
        },
      },
      load_balancing_weight: ep.weight ?? 1,
    };
    const key = ep.locality ?? '';
    const list = groups.get(key);
    if (list) list.push(lbEndpoint);
    else groups.set(key, [lbEndpoint]);
  }
  const out: Obj[] = [];
  for (const [loc, lbEndpoints] of groups) {
    const [region, zone, sub_zone] = loc.split('/');
    const locality: Obj = {};
    if (region) locality.region = region;
    if (zone) locality.zone = zone;
    if (sub_zone) locality.sub_zone = sub_zone;
    const weight = lbEndpoints.reduce((s, e) => s + (e.load_balancing_weight as number), 0);
    out.push({ locality, lb_endpoints: lbEndpoints, load_balancing_weight: weight });
  }
  return out;
}

export function buildClusters(services: readonly ServiceModel[], rules: DestinationRules): BuiltClusters {
  const clusters: Resource[] = [];
  const loadAssignments: Resource[] = [];
  for (const svc of services) {
    const dr = rules.lookup(svc.hostname);
    const subsets: { name: string; labels: { readonly [k: string]: string } }[] = [{ name: '', labels: {} }];
    if (dr) for (const s of dr.subsets.values()) subsets.push({ name: s.name, labels: s.labels });
    for (const port of svc.ports) {
      for (const subset of subsets) {
        const name = clusterName(port.number, subset.name, svc.hostname);
        const istioMeta: Obj = {
          services: [{ host: svc.hostname, name: shortName(svc.hostname), namespace: svc.namespace }],
          default_original_port: port.number,
        };
        if (subset.name) istioMeta.subset = subset.name;
        const cluster: Resource = { name };
        const endpoints = localityEndpoints(svc, port, subset.labels);
        const dns = svc.resolution === 'DNS' || svc.resolution === 'DNS_ROUND_ROBIN';
        if (dns) {
          // istiod: DNS -> STRICT_DNS, DNS_ROUND_ROBIN -> LOGICAL_DNS, endpoints inline; the host itself when none are listed.
          cluster.type = svc.resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS';
          cluster.dns_lookup_family = 'V4_ONLY';
          cluster.respect_dns_ttl = true;
          const eps =
            svc.endpoints.length > 0
              ? endpoints
              : [{ locality: {}, lb_endpoints: [{ endpoint: { address: socketAddress(svc.hostname, port.targetPort ?? port.number) } }] }];
          cluster.load_assignment = { cluster_name: name, endpoints: eps };
        } else {
          cluster.type = 'EDS';
          cluster.eds_cluster_config = { eds_config: { ...ADS_CONFIG_SOURCE, ads: {} }, service_name: name };
          loadAssignments.push({ cluster_name: name, endpoints });
        }
        cluster.connect_timeout = DEFAULT_CONNECT_TIMEOUT;
        applyTrafficPolicy(cluster, effectivePolicy(dr, subset.name, port.number));
        cluster.metadata = { filter_metadata: { istio: istioMeta } };
        clusters.push(cluster);
      }
    }
  }
  return { clusters, loadAssignments };
}

/** Whether `address` is reached by connecting to a listener bound on `bind` (loopback aliasing included). */
export function sameHost(address: string, bind: string): boolean {
  if (address === bind) return true;
  const loop = (a: string): boolean => a === 'localhost' || a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
  if (bind === '0.0.0.0' || bind === '::') return loop(address) || address === bind;
  return loop(address) && loop(bind) && (address === bind || address === 'localhost');
}
