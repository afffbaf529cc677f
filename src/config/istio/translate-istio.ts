// Istio YAML -> the Envoy resources istiod would push to a sidecar (design.md, "How istiod turns a
// VirtualService into Envoy config"): route configs named by port, virtual hosts `host:port` with
// the short-name domains of pilot/pkg/networking/core/httproute.go, outbound clusters and their
// endpoints. The result is a ResourceSet like any other config source; nothing is half-applied:
// any error rejects the whole input.

import { createHash } from 'node:crypto';
import { TYPE_URL, type Resource, type ResourceSet } from '../resources';
import type { Validated } from '../../route/types';
import {
  DEFAULT_LISTEN_ADDRESS,
  DEFAULT_NAMESPACE,
  DOMAIN_SUFFIX,
  type IstioConfig,
  type IstioOptions,
  type IstioSource,
} from './types';
import { asArray, checkFields, type Obj, Problems } from './istio-values';
import { parseIstioDocuments } from './parse-documents';
import { hostMatches, resolveHost, ServiceRegistry, type ServiceModel } from './service-registry';
import { consistentHashFor, DestinationRules } from './destination-rules';
import { buildHttpRoutes, clusterName, CORS_FILTER, defaultRoute, FAULT_FILTER, type RouteContext, VS_SPEC_FIELDS } from './http-route';
import { ADS_CONFIG_SOURCE, buildClusters, sameHost } from './build-clusters';

export interface IstioTranslation {
  resources: ResourceSet;
  /** Things the user should know that are not errors (ignored kinds, unsupported fields, defaults taken). */
  notes: string[];
  /** Short content hash of the inputs: the log says which version is live. */
  version: string;
}

/** A short content hash of the inputs (file names and texts, in file-name order). */
export function istioVersion(docs: readonly IstioSource[]): string {
  const h = createHash('sha256');
  for (const d of [...docs].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    h.update(d.file).update('\0').update(d.text).update('\0');
  }
  return h.digest('hex').slice(0, 12);
}

interface VirtualServiceModel {
  readonly config: IstioConfig;
  /** Resolved hosts (FQDN or wildcard pattern). */
  readonly hosts: readonly string[];
}

const PROXY_DNS = (ns: string): string => `${ns}.svc.${DOMAIN_SUFFIX}`;

/**
 * istiod generateVirtualHostDomains + GenerateAltVirtualHosts for a proxy in namespace `proxyNs`:
 * the FQDN, then for Kubernetes-style names in the same namespace `name`, `name.ns.svc`, `name.ns`
 * (other namespaces: `name.ns`, `name.ns.svc`), then the service addresses; each with and without
 * `:port` (istiod drops the `:port` forms when it sets ignore_port_in_host_matching; weir sets that
 * too and keeps them, so `Host: reviews:9080` reads the same with either setting).
 */
export function virtualHostDomains(svc: ServiceModel, port: number, proxyNs: string): string[] {
  const out: string[] = [];
  const add = (d: string): void => {
    out.push(d, `${d}:${port}`);
  };
  const h = svc.hostname;
  add(h);
  const ih = h.indexOf('.svc.');
  if (h.endsWith(`.svc.${DOMAIN_SUFFIX}`) && ih > 0) {
    const ns = h.indexOf('.');
    if (ns > 0 && ns + 1 <= ih) {
      if (h.slice(ns + 1, ih) === PROXY_DNS(proxyNs).slice(0, PROXY_DNS(proxyNs).indexOf('.svc.'))) {
        add(h.slice(0, ns));
        add(h.slice(0, ih) + '.svc');
        add(h.slice(0, ih));
      } else {
        add(h.slice(0, ih));
        add(h.slice(0, ih) + '.svc');
      }
    }
  }
  // VIPs only: a CIDR range is no Host a client sends.
  for (const a of svc.addresses) if (a !== '0.0.0.0' && !a.includes('/')) add(a);
  return out;
}

function compareByName(a: Resource, b: Resource): number {
  const x = String(a.name);
  const y = String(b.name);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Per-route filter configs used anywhere in a route configuration. */
function perFilterNames(rc: Resource): Set<string> {
  const out = new Set<string>();
  for (const vh of rc.virtual_hosts as Resource[]) {
    for (const r of vh.routes as Resource[]) {
      const tpf = r.typed_per_filter_config;
      if (tpf && typeof tpf === 'object') for (const k of Object.keys(tpf)) out.add(k);
    }
  }
  return out;
}

function httpConnectionManager(statPrefix: string, routeSpecifier: Obj, used: Set<string>): Obj {
  // istiod's sidecar chain always carries fault and CORS before the router (stats and metadata
  // exchange are Istio's own); weir adds them only when a route configures them, so the data path
  // does not report filters nothing uses.
  const filters: Obj[] = [];
  if (used.has(FAULT_FILTER)) {
    filters.push({ name: FAULT_FILTER, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } });
  }
  if (used.has(CORS_FILTER)) {
    filters.push({ name: CORS_FILTER, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } });
  }
  filters.push({ name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } });
  return {
    '@type': TYPE_URL.HTTP_CONNECTION_MANAGER,
    stat_prefix: statPrefix,
    ...routeSpecifier,
    http_filters: filters,
    use_remote_address: false,
    normalize_path: true,
    path_with_escaped_slashes_action: 'KEEP_UNCHANGED',
  };
}

/**
 * istiod's outbound HTTP listener for a port. The name stays istiod's (`0.0.0.0_<port>`) so the
 * output diffs cleanly against `istioctl proxy-config listeners`; the bind address is weir's choice
 * (127.0.0.1 by default for local development).
 */
function listener(address: string, port: number, rc: Resource): Resource {
  const routeName = String(rc.name);
  const name = `0.0.0.0_${port}`;
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    traffic_direction: 'OUTBOUND',
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: httpConnectionManager(`outbound_${name}`, {
              rds: { config_source: { ...ADS_CONFIG_SOURCE, ads: {} }, route_config_name: routeName },
            }, perFilterNames(rc)),
          },
        ],
      },
    ],
  };
}

function readVirtualService(cfg: IstioConfig, p: Problems): VirtualServiceModel {
  checkFields(p, cfg, 'spec', cfg.spec, VS_SPEC_FIELDS);
  const hosts: string[] = [];
  const raw = asArray(p, cfg, 'spec.hosts', cfg.spec.hosts);
  if (raw.length === 0) p.error(cfg, 'spec.hosts', 'at least one host is required');
  raw.forEach((h, i) => {
    if (typeof h !== 'string' || h === '') p.error(cfg, `spec.hosts[${i}]`, 'must be a non-empty string');
    else hosts.push(resolveHost(h, cfg.namespace));
  });
  if (cfg.spec.tcp !== undefined || cfg.spec.tls !== undefined) p.note(cfg, 'spec', 'tcp and tls routes are ignored: weir proxies HTTP');
  if (cfg.spec.gateways !== undefined) p.note(cfg, 'spec.gateways', 'ignored: weir applies every VirtualService as the mesh gateway');
  if (cfg.spec.http === undefined) p.note(cfg, 'spec.http', 'no http routes: the hosts keep their default route');
  return { config: cfg, hosts };
}

export function translateIstio(docs: readonly IstioSource[], opts: IstioOptions = {}): Validated<IstioTranslation> {
  const p = new Problems();
  const ns = opts.namespace || DEFAULT_NAMESPACE;
  const address = opts.listen?.address || DEFAULT_LISTEN_ADDRESS;
  const onePort = opts.listen?.port;
  if (onePort !== undefined && (!Number.isInteger(onePort) || onePort < 0 || onePort > 65535)) {
    p.error('options', 'listen.port', `must be a port number, got ${onePort}`);
  }
  const configs = parseIstioDocuments(docs, ns, p);
  const registry = ServiceRegistry.build(configs, p);
  const rules = DestinationRules.build(configs, p);
  const ctx: RouteContext = {
    registry,
    rules,
    problems: p,
    defaultPickMode: opts.defaultPickMode,
    defaultStickyKey: opts.defaultStickyKey,
  };
  for (const r of configs) {
    if (r.kind === 'DestinationRule' && typeof r.spec.host === 'string') {
      const host = resolveHost(r.spec.host, r.namespace);
      if (!host.includes('*') && !registry.lookup(host)) p.note(r, 'spec.host', `no ServiceEntry declares ${host}`);
    }
  }

  // Which VirtualService owns each service: an exact host beats a wildcard, then input order wins.
  const virtualServices = configs.filter((c) => c.kind === 'VirtualService').map((c) => readVirtualService(c, p));
  const owner = new Map<string, VirtualServiceModel>();
  for (const exact of [true, false]) {
    for (const vs of virtualServices) {
      for (const h of vs.hosts) {
        if (h.includes('*') === exact) continue;
        for (const svc of registry.services) {
          if (!hostMatches(h, svc.hostname)) continue;
          const prev = owner.get(svc.hostname);
          if (prev && prev !== vs) {
            p.note(vs.config, 'spec.hosts', `${svc.hostname} is already routed by ${prev.config.where}; this VirtualService is not used for it`);
            continue;
          }
          owner.set(svc.hostname, vs);
        }
      }
    }
  }

  const routeCache = new Map<string, Resource[]>();
  const routesFor = (vs: VirtualServiceModel, port: number): Resource[] => {
    const key = `${vs.config.where}\0${port}`;
    let r = routeCache.get(key);
    if (!r) {
      r = buildHttpRoutes(ctx, vs.config, port);
      routeCache.set(key, r);
    }
    return r;
  };

  // Virtual hosts per service port (istiod BuildSidecarOutboundVirtualHosts).
  const vhostsByPort = new Map<number, Resource[]>();
  const pushVhost = (port: number, vh: Resource): void => {
    const list = vhostsByPort.get(port);
    if (list) list.push(vh);
    else vhostsByPort.set(port, [vh]);
  };
  const servedVs = new Set<VirtualServiceModel>();
  for (const svc of registry.services) {
    for (const port of svc.ports) {
      if (!port.http) continue;
      const vs = owner.get(svc.hostname);
      let routes = vs ? routesFor(vs, port.number) : [];
      if (vs && routes.length > 0) servedVs.add(vs);
      if (routes.length === 0) {
        const cluster = clusterName(port.number, '', svc.hostname);
        const ch = consistentHashFor(rules.lookup(svc.hostname), '', port.number);
        routes = [defaultRoute(cluster, `${svc.hostname}:${port.number}/*`, ch)];
      }
      pushVhost(port.number, {
        name: `${svc.hostname}:${port.number}`,
        domains: virtualHostDomains(svc, port.number, ns),
        routes,
        include_request_attempt_count: true,
      });
    }
  }
  // VirtualService hosts that are no service (istiod's non-registry hosts) ride along on the ports of
  // the VirtualService's services; with a single listen port they are served there.
  for (const vs of virtualServices) {
    const ports = new Set<number>();
    for (const svc of registry.services) if (owner.get(svc.hostname) === vs) for (const sp of svc.ports) if (sp.http) ports.add(sp.number);
    if (ports.size === 0 && onePort !== undefined) ports.add(onePort);
    // istiod separateVSHostsAndServices: a wildcard that matches no service is a plain domain too.
    const extra = vs.hosts.filter((h) =>
      h.includes('*') ? !registry.services.some((svc) => hostMatches(h, svc.hostname)) : !registry.lookup(h),
    );
    if (ports.size === 0) {
      if (vs.hosts.length > 0 && !servedVs.has(vs)) {
        p.note(vs.config, 'spec.hosts', 'no ServiceEntry declares these hosts: not served (add a ServiceEntry with their port, or listen on one port)');
      }
      routesFor(vs, 0); // validate anyway
      continue;
    }
    for (const port of [...ports].sort((a, b) => a - b)) {
      const routes = routesFor(vs, port);
      if (routes.length === 0) continue;
      for (const h of extra) {
        const domains = h === '*' ? ['*'] : [h, `${h}:${port}`];
        pushVhost(port, { name: `${h}:${port}`, domains, routes, include_request_attempt_count: true });
      }
    }
  }

  // Route configurations and listeners.
  const routeConfigurations: Resource[] = [];
  const listeners: Resource[] = [];
  const makeRouteConfig = (name: string, vhosts: Resource[]): Resource => {
    vhosts.sort(compareByName);
    // Envoy rejects a domain used twice in one route config; istiod keeps the first (dedupeDomains).
    const seen = new Set<string>();
    const names = new Set<string>();
    const kept: Resource[] = [];
    for (const vh of vhosts) {
      if (names.has(String(vh.name))) continue;
      names.add(String(vh.name));
      const domains = (vh.domains as string[]).filter((d) => {
        const k = d.toLowerCase();
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
      if (domains.length > 0) kept.push({ ...vh, domains });
    }
    return {
      name,
      virtual_hosts: kept,
      validate_clusters: false,
      max_direct_response_body_size_bytes: 1048576,
      ignore_port_in_host_matching: true,
    };
  };
  const ports = [...vhostsByPort.keys()].sort((a, b) => a - b);
  if (onePort !== undefined) {
    const all: Resource[] = [];
    for (const port of ports) all.push(...(vhostsByPort.get(port) as Resource[]));
    const rc = makeRouteConfig(String(onePort), all);
    routeConfigurations.push(rc);
    listeners.push(listener(address, onePort, rc));
  } else {
    for (const port of ports) {
      const rc = makeRouteConfig(String(port), vhostsByPort.get(port) as Resource[]);
      routeConfigurations.push(rc);
      listeners.push(listener(address, port, rc));
    }
  }

  const { clusters, loadAssignments } = buildClusters(registry.services, rules);

  // Local development trap: an endpoint on weir's own listener would proxy to itself forever.
  const listenPorts = new Set(listeners.map((l) => (l.address as { socket_address: { port_value: number } }).socket_address.port_value));
  for (const svc of registry.services) {
    for (const port of svc.ports) {
      for (const ep of svc.endpoints) {
        const epPort = ep.ports[port.name] ?? port.targetPort ?? port.number;
        if (listenPorts.has(epPort) && sameHost(ep.address, address)) {
          p.error(svc.config, 'spec.endpoints', `endpoint ${ep.address}:${epPort} is weir's own listener ${address}:${epPort}: map the port to where the workload runs (ports: {${port.name}: <port>}) or listen elsewhere`);
        }
      }
    }
  }

  if (configs.length === 0 && p.errors.length === 0) p.note('input', '', 'no Istio documents found');
  if (p.errors.length > 0) return { errors: p.errors };
  const version = istioVersion(docs);
  // Routes are shared between the virtual hosts of one VirtualService while building; the result is
  // one plain tree with no shared or frozen objects, so a consumer may annotate it freely.
  const resources: ResourceSet = structuredClone({
    listeners,
    routeConfigurations,
    clusters,
    clusterLoadAssignments: loadAssignments,
    versionInfo: `istio:${version}`,
  });
  return {
    value: {
      resources,
      notes: p.notes,
      version,
    },
  };
}
