// ServiceEntry (+ WorkloadEntry) -> the services and endpoints istiod's registry would hold. For
// local development this is where versions run: `endpoints: [{address: 127.0.0.1, ports: {http: 9081},
// labels: {version: v1}}]`.

import { isIP } from 'node:net';
import { DOMAIN_SUFFIX, type IstioConfig } from './types';
import { asArray, checkFields, get, isObj, labelsMatch, Problems, stringMap } from './istio-values';

export interface ServicePort {
  readonly number: number;
  readonly name: string;
  /** Upper-case Istio protocol; '' when unset (istiod sniffs it, and treats it as HTTP for routing). */
  readonly protocol: string;
  readonly targetPort: number | undefined;
  /** Served through an HTTP listener and route config (HTTP, HTTP2, GRPC, or sniffed). */
  readonly http: boolean;
}

export interface WorkloadEndpoint {
  readonly address: string;
  /** Port name -> port number on the workload. */
  readonly ports: { readonly [name: string]: number };
  readonly labels: { readonly [k: string]: string };
  readonly weight: number | undefined;
  /** Workload name for `filter_metadata.istio.workload` (ServiceEntry endpoints have none: the service name). */
  readonly workload: string;
  readonly locality: string | undefined;
}

export interface ServiceModel {
  readonly hostname: string;
  readonly namespace: string;
  readonly ports: readonly ServicePort[];
  readonly resolution: 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'NONE';
  readonly addresses: readonly string[];
  readonly endpoints: readonly WorkloadEndpoint[];
  readonly config: IstioConfig;
}

/** Protocols istiod routes through HTTP route configs (protocol.IsHTTPOrSniffed). */
const HTTP_PROTOCOLS = new Set(['', 'HTTP', 'HTTP2', 'HTTP_PROXY', 'GRPC', 'GRPC-WEB']);
const KNOWN_PROTOCOLS = new Set([...HTTP_PROTOCOLS, 'HTTPS', 'TCP', 'TLS', 'MONGO', 'REDIS', 'MYSQL', 'UDP']);

const SE_FIELDS = ['hosts', 'addresses', 'ports', 'location', 'resolution', 'endpoints', 'workloadSelector', 'exportTo', 'subjectAltNames'];
const PORT_FIELDS = ['number', 'protocol', 'name', 'targetPort'];
const WE_FIELDS = ['address', 'ports', 'labels', 'network', 'locality', 'weight', 'serviceAccount'];

/** Istio's short-name rule: a host without a dot is `<host>.<namespace>.svc.cluster.local`; anything else is taken as written. */
export function resolveHost(host: string, namespace: string): string {
  if (host === '*' || host.includes('.')) return host.toLowerCase();
  return `${host}.${namespace}.svc.${DOMAIN_SUFFIX}`.toLowerCase();
}

/** Istio host matching: `*` matches all, `*.foo.com` matches any strictly longer name ending in `.foo.com`. */
export function hostMatches(pattern: string, hostname: string): boolean {
  if (pattern === hostname || pattern === '*') return true;
  if (pattern.startsWith('*.')) return hostname.endsWith(pattern.slice(1)) && hostname.length > pattern.length - 1;
  return false;
}

export class ServiceRegistry {
  readonly services: ServiceModel[] = [];
  readonly #byHost = new Map<string, ServiceModel>();

  lookup(hostname: string): ServiceModel | undefined {
    return this.#byHost.get(hostname);
  }

  static build(configs: readonly IstioConfig[], p: Problems): ServiceRegistry {
    const reg = new ServiceRegistry();
    const workloads = configs.filter((c) => c.kind === 'WorkloadEntry').map((c) => readWorkloadEntry(c, p));
    for (const cfg of configs) {
      if (cfg.kind !== 'ServiceEntry') continue;
      for (const svc of readServiceEntry(cfg, workloads, p)) {
        const prev = reg.#byHost.get(svc.hostname);
        if (prev) {
          p.note(cfg, 'spec.hosts', `host ${svc.hostname} is already declared by ${prev.config.where}; this one is ignored`);
          continue;
        }
        reg.#byHost.set(svc.hostname, svc);
        reg.services.push(svc);
      }
    }
    reg.services.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
    return reg;
  }
}

interface WorkloadEntryModel {
  readonly config: IstioConfig;
  readonly endpoint: WorkloadEndpoint | undefined;
}

function readWorkloadEntry(cfg: IstioConfig, p: Problems): WorkloadEntryModel {
  const spec = cfg.spec;
  checkFields(p, cfg, 'spec', spec, WE_FIELDS);
  const ep = readEndpoint(cfg, 'spec', spec, undefined, p, cfg.name);
  return { config: cfg, endpoint: ep };
}

function readEndpoint(
  cfg: IstioConfig,
  path: string,
  raw: unknown,
  portNames: Set<string> | undefined,
  p: Problems,
  workload: string,
): WorkloadEndpoint | undefined {
  if (!isObj(raw)) {
    p.error(cfg, path, 'must be a WorkloadEntry ({address, ports, labels})');
    return undefined;
  }
  const address = raw.address;
  if (typeof address !== 'string' || address === '') {
    p.error(cfg, `${path}.address`, 'is required');
    return undefined;
  }
  const ports: { [name: string]: number } = {};
  const rawPorts = raw.ports;
  if (rawPorts !== undefined && rawPorts !== null) {
    if (!isObj(rawPorts)) p.error(cfg, `${path}.ports`, 'must be a map of port name to number');
    else {
      for (const [name, n] of Object.entries(rawPorts)) {
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
          p.error(cfg, `${path}.ports.${name}`, `port must be an integer in 1..65535, got ${JSON.stringify(n)}`);
          continue;
        }
        if (portNames && !portNames.has(name)) {
          p.error(cfg, `${path}.ports.${name}`, `endpoint port "${name}" is not defined by the ServiceEntry's ports`);
          continue;
        }
        ports[name] = n;
      }
    }
  }
  const weight = raw.weight;
  if (weight !== undefined && (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0)) {
    p.error(cfg, `${path}.weight`, `must be a non-negative integer, got ${JSON.stringify(weight)}`);
  }
  return {
    address,
    ports,
    labels: stringMap(p, cfg, `${path}.labels`, raw.labels),
    weight: typeof weight === 'number' && weight > 0 ? weight : undefined,
    workload,
    locality: typeof raw.locality === 'string' ? raw.locality : undefined,
  };
}

function readServiceEntry(cfg: IstioConfig, workloads: readonly WorkloadEntryModel[], p: Problems): ServiceModel[] {
  const spec = cfg.spec;
  checkFields(p, cfg, 'spec', spec, SE_FIELDS);
  const hosts = asArray(p, cfg, 'spec.hosts', spec.hosts);
  if (hosts.length === 0) p.error(cfg, 'spec.hosts', 'at least one host is required');

  const resolutionRaw = spec.resolution ?? 'NONE';
  let resolution: ServiceModel['resolution'] = 'NONE';
  if (resolutionRaw === 'STATIC' || resolutionRaw === 'DNS' || resolutionRaw === 'DNS_ROUND_ROBIN' || resolutionRaw === 'NONE') {
    resolution = resolutionRaw;
  } else p.error(cfg, 'spec.resolution', `must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, got ${JSON.stringify(resolutionRaw)}`);

  const ports: ServicePort[] = [];
  const portNames = new Set<string>();
  asArray(p, cfg, 'spec.ports', spec.ports).forEach((raw, i) => {
    const path = `spec.ports[${i}]`;
    if (!isObj(raw)) {
      p.error(cfg, path, 'must be a port ({number, name, protocol})');
      return;
    }
    checkFields(p, cfg, path, raw, PORT_FIELDS);
    const number = raw.number;
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > 65535) {
      p.error(cfg, `${path}.number`, `must be an integer in 1..65535, got ${JSON.stringify(number)}`);
      return;
    }
    const name = typeof raw.name === 'string' ? raw.name : '';
    if (name === '') p.error(cfg, `${path}.name`, 'is required');
    else if (portNames.has(name)) p.error(cfg, `${path}.name`, `port name "${name}" is used twice`);
    portNames.add(name);
    if (ports.some((q) => q.number === number)) p.error(cfg, `${path}.number`, `port ${number} is declared twice`);
    const protocol = typeof raw.protocol === 'string' ? raw.protocol.toUpperCase() : '';
    if (!KNOWN_PROTOCOLS.has(protocol)) p.note(cfg, `${path}.protocol`, `unknown protocol "${raw.protocol}", treated as TCP`);
    const tp = get(raw, 'targetPort');
    if (tp !== undefined && (typeof tp !== 'number' || !Number.isInteger(tp) || tp < 1 || tp > 65535)) {
      p.error(cfg, `${path}.targetPort`, `must be an integer in 1..65535, got ${JSON.stringify(tp)}`);
    }
    const http = HTTP_PROTOCOLS.has(protocol);
    if (!http) p.note(cfg, path, `port ${number} (${protocol}) is not HTTP: it gets a cluster but no listener (weir proxies HTTP only)`);
    ports.push({ number, name, protocol, targetPort: typeof tp === 'number' ? tp : undefined, http });
  });
  if (ports.length === 0) p.error(cfg, 'spec.ports', 'at least one port is required');

  const endpoints: WorkloadEndpoint[] = [];
  const rawEndpoints = asArray(p, cfg, 'spec.endpoints', spec.endpoints);
  const selector = get(spec, 'workloadSelector');
  if (rawEndpoints.length > 0 && selector !== undefined) {
    p.error(cfg, 'spec', 'only one of endpoints or workloadSelector can be set');
  }
  rawEndpoints.forEach((raw, i) => {
    const ep = readEndpoint(cfg, `spec.endpoints[${i}]`, raw, portNames, p, cfg.name);
    if (!ep) return;
    if (resolution === 'STATIC' && !isIP(ep.address) && !ep.address.startsWith('unix://')) {
      p.error(cfg, `spec.endpoints[${i}].address`, `"${ep.address}" is not an IP address (resolution STATIC needs IPs; use DNS for hostnames)`);
    }
    endpoints.push(ep);
  });
  if (selector !== undefined) {
    const sel = stringMap(p, cfg, 'spec.workloadSelector.labels', get(selector, 'labels'));
    for (const we of workloads) {
      if (we.endpoint && we.config.namespace === cfg.namespace && labelsMatch(sel, we.endpoint.labels)) endpoints.push(we.endpoint);
    }
    if (endpoints.length === 0) p.note(cfg, 'spec.workloadSelector', 'selects no WorkloadEntry in namespace ' + cfg.namespace);
  }
  if (resolution === 'STATIC' && endpoints.length === 0 && selector === undefined) {
    p.error(cfg, 'spec.endpoints', 'resolution STATIC needs endpoints (or a workloadSelector)');
  }
  if (resolution === 'NONE' && endpoints.length === 0) {
    p.note(cfg, 'spec.resolution', 'NONE without endpoints: weir cannot forward to the original destination, requests answer 503 "no healthy upstream"');
  }

  const addresses = asArray(p, cfg, 'spec.addresses', spec.addresses).filter((a): a is string => typeof a === 'string');
  const out: ServiceModel[] = [];
  hosts.forEach((h, i) => {
    if (typeof h !== 'string' || h === '') {
      p.error(cfg, `spec.hosts[${i}]`, 'must be a non-empty string');
      return;
    }
    if (h.includes('*')) {
      p.note(cfg, `spec.hosts[${i}]`, `wildcard host ${h} has no endpoints weir can route to; ignored`);
      return;
    }
    const hostname = resolveHost(h, cfg.namespace);
    if (hostname !== h.toLowerCase()) {
      // istiod takes ServiceEntry hosts verbatim; weir resolves short names like VirtualService hosts so
      // `hosts: [reviews]` in both documents mean the same service.
      p.note(cfg, `spec.hosts[${i}]`, `short name ${h} read as ${hostname}`);
    }
    out.push({ hostname, namespace: cfg.namespace, ports, resolution, addresses, endpoints, config: cfg });
  });
  return out;
}
