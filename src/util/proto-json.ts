// Reading Envoy v3 resources given as plain objects in proto3 JSON form. Envoy's JSON/YAML parser
// accepts every field under its proto name (snake_case) and its lowerCamelCase json_name, so every
// reader here asks for a field by its proto name and accepts either spelling. Map keys (metadata,
// typed_per_filter_config, header names) are never rewritten: only declared fields are looked up.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: unknown };

const CAMEL_CACHE = new Map<string, string>();

/** `prefix_rewrite` -> `prefixRewrite`. */
export function camelName(snake: string): string {
  let c = CAMEL_CACHE.get(snake);
  if (c === undefined) {
    c = snake.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
    CAMEL_CACHE.set(snake, c);
  }
  return c;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The field `name` (proto name, snake_case) of `obj`, under either spelling; `undefined` if unset. */
export function field(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  const v = obj[name];
  if (v !== undefined) return v;
  return obj[camelName(name)];
}

export function hasField(obj: unknown, name: string): boolean {
  return field(obj, name) !== undefined && field(obj, name) !== null;
}

/**
 * Field names of `obj` in proto (snake_case) spelling, for "unknown field" checks.
 * lowerCamelCase keys are mapped back to snake_case.
 */
export function fieldNames(obj: JsonObject): string[] {
  return Object.keys(obj).map((k) => k.replace(/[A-Z]/g, (ch) => '_' + ch.toLowerCase()));
}

/**
 * A google.protobuf.Duration in JSON form ("1.5s", "0s", "100ms" is NOT proto JSON but Envoy's YAML
 * users write "0.1s") or as `{seconds, nanos}` (what proto-loader decodes). Returns milliseconds,
 * or an error string.
 */
export function parseDuration(v: unknown): { ms: number } | { error: string } {
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d{1,9})?)s$/.exec(v.trim());
    if (!m) return { error: `invalid duration "${v}" (expected e.g. "1.5s")` };
    const ms = Number(m[1]) * 1000;
    if (ms < 0) return { error: `duration "${v}" is negative` };
    return { ms };
  }
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return { ms: v * 1000 };
  if (isObject(v)) {
    const s = Number(field(v, 'seconds') ?? 0);
    const n = Number(field(v, 'nanos') ?? 0);
    if (!Number.isFinite(s) || !Number.isFinite(n) || s < 0 || n < 0) return { error: 'invalid duration' };
    return { ms: s * 1000 + n / 1e6 };
  }
  return { error: `invalid duration ${JSON.stringify(v)}` };
}

/**
 * google.protobuf.UInt32Value / Int64 and friends: proto JSON allows numbers, numeric strings
 * (64-bit ints are strings in JSON) and, from proto-loader, `{ value }` wrappers.
 */
export function parseUint(v: unknown): number | undefined {
  if (isObject(v) && 'value' in v) v = v.value;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) {
    const n = Number(v);
    if (Number.isSafeInteger(n)) return n;
  }
  return undefined;
}

export function parseBool(v: unknown): boolean | undefined {
  if (isObject(v) && 'value' in v) v = v.value;
  if (typeof v === 'boolean') return v;
  return undefined;
}

/** The `@type` of an Any in JSON form, e.g. `type.googleapis.com/envoy...HttpConnectionManager`. */
export function anyType(v: unknown): string | undefined {
  if (!isObject(v)) return undefined;
  const t = v['@type'];
  return typeof t === 'string' ? t : undefined;
}
