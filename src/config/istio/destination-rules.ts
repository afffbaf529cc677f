// DestinationRule: subsets by labels and the traffic policy of each (subset, port), merged the way
// istiod's MergeTrafficPolicy does: port-level settings of the rule override its top-level policy,
// then the subset's policy overrides that, then the subset's port-level settings; each of
// loadBalancer, connectionPool, outlierDetection and tls is replaced whole, never field by field.

import type { IstioConfig } from './types';
import { asArray, checkFields, get, isObj, type Obj, Problems, stringMap } from './istio-values';
import { hostMatches, resolveHost } from './service-registry';
import { validateTrafficPolicy } from './traffic-policy';

export interface TrafficPolicy {
  loadBalancer?: Obj;
  connectionPool?: Obj;
  outlierDetection?: Obj;
  tls?: Obj;
  portLevelSettings?: unknown[];
}

export interface SubsetModel {
  readonly name: string;
  readonly labels: { readonly [k: string]: string };
  readonly trafficPolicy: TrafficPolicy | undefined;
}

export interface DestinationRuleModel {
  readonly host: string;
  readonly config: IstioConfig;
  readonly trafficPolicy: TrafficPolicy | undefined;
  readonly subsets: ReadonlyMap<string, SubsetModel>;
}

const DR_FIELDS = ['host', 'trafficPolicy', 'subsets', 'exportTo', 'workloadSelector'];
const TP_FIELDS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'];
const SUBSET_FIELDS = ['name', 'labels', 'trafficPolicy'];
const POLICY_KEYS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const;

export class DestinationRules {
  readonly #exact = new Map<string, DestinationRuleModel>();
  readonly #wildcard: DestinationRuleModel[] = [];

  /** The rule for a service host: exact host first, then the most specific wildcard (istiod's lookup order). */
  lookup(hostname: string): DestinationRuleModel | undefined {
    const exact = this.#exact.get(hostname);
    if (exact) return exact;
    for (const dr of this.#wildcard) if (hostMatches(dr.host, hostname)) return dr;
    return undefined;
  }

  static build(configs: readonly IstioConfig[], p: Problems): DestinationRules {
    const out = new DestinationRules();
    for (const cfg of configs) {
      if (cfg.kind !== 'DestinationRule') continue;
      const dr = readDestinationRule(cfg, p);
      if (!dr) continue;
      if (dr.host.includes('*')) {
        out.#wildcard.push(dr);
        continue;
      }
      const prev = out.#exact.get(dr.host);
      if (prev) {
        p.note(cfg, 'spec.host', `host ${dr.host} already has DestinationRule ${prev.config.where}; this one is ignored`);
        continue;
      }
      out.#exact.set(dr.host, dr);
    }
    // Longest wildcard first: the most specific rule wins.
    out.#wildcard.sort((a, b) => b.host.length - a.host.length);
    return out;
  }
}

function readPolicy(cfg: IstioConfig, path: string, raw: unknown, p: Problems): TrafficPolicy | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObj(raw)) {
    p.error(cfg, path, 'must be a TrafficPolicy');
    return undefined;
  }
  checkFields(p, cfg, path, raw, TP_FIELDS);
  const tp: TrafficPolicy = {};
  for (const k of POLICY_KEYS) {
    const v = get(raw, k);
    if (v === undefined || v === null) continue;
    if (!isObj(v)) p.error(cfg, `${path}.${k}`, 'must be an object');
    else tp[k] = v;
  }
  validateTrafficPolicy(p, cfg, path, tp);
  const pls = get(raw, 'portLevelSettings');
  if (pls !== undefined) {
    tp.portLevelSettings = asArray(p, cfg, `${path}.portLevelSettings`, pls);
    tp.portLevelSettings.forEach((s, i) => {
      const sp = `${path}.portLevelSettings[${i}]`;
      if (!isObj(s) || !isObj(s.port) || typeof s.port.number !== 'number') {
        p.error(cfg, `${sp}.port.number`, 'is required');
        return;
      }
      const one: TrafficPolicy = {};
      for (const k of POLICY_KEYS) if (isObj(get(s, k))) one[k] = get(s, k) as Obj;
      validateTrafficPolicy(p, cfg, sp, one);
    });
  }
  return tp;
}

function readDestinationRule(cfg: IstioConfig, p: Problems): DestinationRuleModel | undefined {
  const spec = cfg.spec;
  checkFields(p, cfg, 'spec', spec, DR_FIELDS);
  if (typeof spec.host !== 'string' || spec.host === '') {
    p.error(cfg, 'spec.host', 'is required');
    return undefined;
  }
  const subsets = new Map<string, SubsetModel>();
  asArray(p, cfg, 'spec.subsets', spec.subsets).forEach((raw, i) => {
    const path = `spec.subsets[${i}]`;
    if (!isObj(raw)) {
      p.error(cfg, path, 'must be a subset ({name, labels})');
      return;
    }
    checkFields(p, cfg, path, raw, SUBSET_FIELDS);
    const name = raw.name;
    if (typeof name !== 'string' || name === '') {
      p.error(cfg, `${path}.name`, 'is required');
      return;
    }
    if (subsets.has(name)) {
      p.error(cfg, `${path}.name`, `duplicate subset name "${name}"`);
      return;
    }
    subsets.set(name, {
      name,
      labels: stringMap(p, cfg, `${path}.labels`, raw.labels),
      trafficPolicy: readPolicy(cfg, `${path}.trafficPolicy`, get(raw, 'trafficPolicy'), p),
    });
  });
  const trafficPolicy = readPolicy(cfg, 'spec.trafficPolicy', get(spec, 'trafficPolicy'), p);
  if (trafficPolicy?.tls) p.note(cfg, 'spec.trafficPolicy.tls', 'ignored: weir speaks plain HTTP to upstreams');
  return { host: resolveHost(spec.host, cfg.namespace), config: cfg, trafficPolicy, subsets };
}

function portLevel(pls: unknown[] | undefined, port: number): Obj | undefined {
  if (!pls) return undefined;
  for (const s of pls) {
    if (isObj(s) && isObj(s.port) && s.port.number === port) return s;
  }
  return undefined;
}

function overlay(into: TrafficPolicy, from: Obj | TrafficPolicy | undefined): void {
  if (!from) return;
  for (const k of POLICY_KEYS) {
    const v = (from as Obj)[k];
    if (isObj(v)) into[k] = v;
  }
}

/** The effective policy of `outbound|port|subset|host` (istiod MergeTrafficPolicy + port-level settings). */
export function effectivePolicy(dr: DestinationRuleModel | undefined, subset: string, port: number): TrafficPolicy {
  const out: TrafficPolicy = {};
  if (!dr) return out;
  overlay(out, dr.trafficPolicy);
  overlay(out, portLevel(dr.trafficPolicy?.portLevelSettings, port));
  if (subset !== '') {
    const s = dr.subsets.get(subset);
    overlay(out, s?.trafficPolicy);
    overlay(out, portLevel(s?.trafficPolicy?.portLevelSettings, port));
  }
  return out;
}

/**
 * The consistent-hash setting that becomes a route `hash_policy` for a destination (istiod
 * hashForHTTPDestination: subset port-level, then subset, then port-level, then top-level).
 */
export function consistentHashFor(dr: DestinationRuleModel | undefined, subset: string, port: number | undefined): Obj | undefined {
  if (!dr) return undefined;
  const ch = (tp: Obj | TrafficPolicy | undefined): Obj | undefined => {
    const lb = tp ? (tp as Obj).loadBalancer : undefined;
    const v = get(lb, 'consistentHash');
    return isObj(v) ? v : undefined;
  };
  const s = subset ? dr.subsets.get(subset) : undefined;
  const p = port === undefined ? undefined : port;
  return (
    (p !== undefined ? ch(portLevel(s?.trafficPolicy?.portLevelSettings, p)) : undefined) ??
    ch(s?.trafficPolicy) ??
    (p !== undefined ? ch(portLevel(dr.trafficPolicy?.portLevelSettings, p)) : undefined) ??
    ch(dr.trafficPolicy)
  );
}
