// Readers for the value types Istio's API uses (google.protobuf.Duration as Go duration strings,
// Percent, StringMatch) and the error sink every stage reports into.

import { RE2JS } from 're2js';
import type { IstioConfig } from './types';

export type Obj = { [key: string]: unknown };

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field under its Istio (lowerCamelCase) name or its proto (snake_case) name, as protojson accepts both. */
export function get(obj: unknown, camel: string): unknown {
  if (!isObj(obj)) return undefined;
  const v = obj[camel];
  if (v !== undefined) return v;
  return obj[camel.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())];
}

/** Collects every problem of a translation, each as `<file>: document <n> (<kind> <name>): <path>: <problem>`. */
export class Problems {
  readonly errors: string[] = [];
  readonly notes: string[] = [];
  error(cfg: IstioConfig | string, path: string, problem: string): void {
    const where = typeof cfg === 'string' ? cfg : cfg.where;
    const line = path ? `${where}: ${path}: ${problem}` : `${where}: ${problem}`;
    if (!this.errors.includes(line)) this.errors.push(line);
  }
  note(cfg: IstioConfig | string, path: string, text: string): void {
    const where = typeof cfg === 'string' ? cfg : cfg.where;
    const line = path ? `${where}: ${path}: ${text}` : `${where}: ${text}`;
    if (!this.notes.includes(line)) this.notes.push(line);
  }
}

/** Fields a message may carry (both spellings accepted); anything else is a typo the API server would reject. */
export function checkFields(p: Problems, cfg: IstioConfig, path: string, obj: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    const camel = k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (!allowed.includes(camel)) p.error(cfg, path, `unknown field "${k}"`);
  }
}

const GO_DURATION = /^(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/;
const GO_UNIT_NS: { [u: string]: number } = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/**
 * An Istio duration: Kubernetes YAML carries Go-style strings ("10s", "0.5s", "100ms", "5m", "1h30m"),
 * protojson also `{seconds, nanos}`. Returns nanoseconds or an error text.
 */
export function parseIstioDuration(v: unknown): { ns: number } | { error: string } {
  if (typeof v === 'string') {
    const s = v.trim();
    if (!GO_DURATION.test(s)) return { error: `invalid duration "${v}" (expected e.g. "10s", "500ms", "1m")` };
    let ns = 0;
    const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) ns += Number(m[1]) * (GO_UNIT_NS[m[2] as string] as number);
    return { ns: Math.round(ns) };
  }
  if (isObj(v)) {
    const sec = Number(v.seconds ?? 0);
    const nanos = Number(v.nanos ?? 0);
    if (!Number.isFinite(sec) || !Number.isFinite(nanos) || sec < 0 || nanos < 0) return { error: 'invalid duration' };
    return { ns: sec * 1e9 + nanos };
  }
  return { error: `invalid duration ${JSON.stringify(v)}` };
}

/** Nanoseconds as a proto3-JSON Duration ("0s", "1.5s", "0.000100s"). */
export function envoyDuration(ns: number): string {
  const sec = Math.floor(ns / 1e9);
  const frac = Math.round(ns - sec * 1e9);
  if (frac === 0) return `${sec}s`;
  return `${sec}.${String(frac).padStart(9, '0').replace(/0+$/, '')}s`;
}

/** Reads a duration field; reports and returns undefined when invalid. */
export function durationField(
  p: Problems,
  cfg: IstioConfig | string,
  path: string,
  v: unknown,
  minNs = 0,
): string | undefined {
  if (v === undefined || v === null) return undefined;
  const d = parseIstioDuration(v);
  if ('error' in d) {
    p.error(cfg, path, d.error);
    return undefined;
  }
  if (d.ns < minNs) {
    p.error(cfg, path, `duration must be at least ${envoyDuration(minNs)}`);
    return undefined;
  }
  return envoyDuration(d.ns);
}

/** Checks a pattern the way Envoy will run it: RE2, which rejects back-references and look-around. */
export function checkRegex(p: Problems, cfg: IstioConfig, path: string, pattern: unknown): boolean {
  if (typeof pattern !== 'string') {
    p.error(cfg, path, 'regex must be a string');
    return false;
  }
  try {
    RE2JS.compile(pattern);
    return true;
  } catch (e) {
    p.error(cfg, path, `invalid RE2 regex "${pattern}": ${(e as Error).message}`);
    return false;
  }
}

/** Istio `Percent {value}` (0..100, fractional) as Envoy FractionalPercent over a million, as istiod does. */
export function percentField(
  p: Problems,
  cfg: IstioConfig,
  path: string,
  v: unknown,
): { numerator: number; denominator: 'MILLION' } | undefined {
  const value = isObj(v) ? v.value ?? 0 : v;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
    p.error(cfg, path, `percentage must be a number between 0 and 100, got ${JSON.stringify(value)}`);
    return undefined;
  }
  return { numerator: Math.round(value * 10000), denominator: 'MILLION' };
}

export type EnvoyStringMatcher = { exact: string } | { prefix: string } | { safe_regex: { regex: string } };

/**
 * Istio StringMatch -> Envoy StringMatcher (istiod util.ConvertToEnvoyMatch). `undefined` with no
 * error means "no match type": istiod turns that into `present_match`.
 */
export function stringMatch(p: Problems, cfg: IstioConfig, path: string, v: unknown): EnvoyStringMatcher | undefined {
  if (v === null || v === undefined) return undefined;
  if (!isObj(v)) {
    p.error(cfg, path, 'must be a StringMatch ({exact|prefix|regex: ...})');
    return undefined;
  }
  const keys = Object.keys(v);
  if (keys.length > 1) p.error(cfg, path, `only one of exact, prefix, regex may be set, got ${keys.join(', ')}`);
  for (const k of keys) {
    if (k !== 'exact' && k !== 'prefix' && k !== 'regex') p.error(cfg, path, `unknown field "${k}"`);
  }
  if ('exact' in v) return { exact: String(v.exact) };
  if ('prefix' in v) return { prefix: String(v.prefix) };
  if ('regex' in v) {
    if (checkRegex(p, cfg, `${path}.regex`, v.regex)) return { safe_regex: { regex: String(v.regex) } };
    return undefined;
  }
  return undefined;
}

/** A `map<string,string>` (labels, headers set/add); reports non-string values. */
export function stringMap(p: Problems, cfg: IstioConfig, path: string, v: unknown): { [k: string]: string } {
  const out: { [k: string]: string } = {};
  if (v === undefined || v === null) return out;
  if (!isObj(v)) {
    p.error(cfg, path, 'must be a map of strings');
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string') out[k] = val;
    else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else p.error(cfg, `${path}.${k}`, 'must be a string');
  }
  return out;
}

export function asArray(p: Problems, cfg: IstioConfig, path: string, v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    p.error(cfg, path, 'must be a list');
    return [];
  }
  return v;
}

export function labelsMatch(selector: { [k: string]: string }, labels: { [k: string]: string }): boolean {
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}
