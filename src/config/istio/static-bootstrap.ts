// A ResourceSet as a complete Envoy v3 bootstrap a real Envoy accepts (`envoy -c`): static
// listeners cannot use RDS or EDS without a config source, so route configs are inlined into their
// HTTP connection managers and EDS clusters become STATIC with their ClusterLoadAssignment inline.

import { TYPE_URL, type Resource, type ResourceSet } from '../resources';
import { isObj, type Obj } from './istio-values';

export interface StaticBootstrapOptions {
  nodeId?: string;
  nodeCluster?: string;
  /** Admin listener port on 127.0.0.1; omitted when undefined. */
  adminPort?: number;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export function toStaticBootstrap(set: ResourceSet, opts: StaticBootstrapOptions = {}): Obj {
  const routes = new Map<string, Resource>();
  for (const rc of set.routeConfigurations) routes.set(String(rc.name), rc);
  const cla = new Map<string, Resource>();
  for (const a of set.clusterLoadAssignments) cla.set(String(a.cluster_name), a);

  const listeners = set.listeners.map((l) => {
    const out = clone(l);
    const chains = Array.isArray(out.filter_chains) ? out.filter_chains : [];
    for (const chain of chains) {
      const filters = isObj(chain) && Array.isArray(chain.filters) ? chain.filters : [];
      for (const f of filters) {
        const tc = isObj(f) ? f.typed_config : undefined;
        if (!isObj(tc) || tc['@type'] !== TYPE_URL.HTTP_CONNECTION_MANAGER || !isObj(tc.rds)) continue;
        const name = String(tc.rds.route_config_name);
        delete tc.rds;
        tc.route_config = clone(routes.get(name) ?? { name, virtual_hosts: [] });
      }
    }
    return out;
  });

  const clusters = set.clusters.map((c) => {
    const out = clone(c);
    if (out.type === 'EDS') {
      const svc = isObj(out.eds_cluster_config) ? String(out.eds_cluster_config.service_name ?? out.name) : String(out.name);
      delete out.eds_cluster_config;
      out.type = 'STATIC';
      const a = cla.get(svc);
      out.load_assignment = a ? { ...clone(a), cluster_name: out.name } : { cluster_name: out.name, endpoints: [] };
    }
    return out;
  });

  const bootstrap: Obj = {
    node: { id: opts.nodeId ?? 'weir~127.0.0.1~weir.default~default.svc.cluster.local', cluster: opts.nodeCluster ?? 'weir' },
    static_resources: { listeners, clusters },
  };
  if (opts.adminPort !== undefined) {
    bootstrap.admin = { address: { socket_address: { address: '127.0.0.1', port_value: opts.adminPort } } };
  }
  return bootstrap;
}
