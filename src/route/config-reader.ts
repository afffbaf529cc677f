// Typed reads of proto3-JSON fields that record a path-prefixed error instead of throwing, so one
// validation pass reports every problem (grpc-js-xds route-config-resource-type.ts style).

import { camelName, isObject, parseBool, parseDuration, parseUint, type JsonObject } from '../util/proto-json';

const CAMEL: Record<string, string> = Object.create(null) as Record<string, string>;

/**
 * `field()` of util/proto-json (snake_case or lowerCamelCase), tuned for compiling 10,000-route
 * tables: names without `_` are looked up once, and the camel spelling comes from a plain-object cache.
 */
export function field(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  const v = obj[name];
  if (v !== undefined) return v;
  let c = CAMEL[name];
  if (c === undefined) CAMEL[name] = c = camelName(name);
  return c === name ? undefined : obj[c];
}

export class ConfigReader {
  readonly errors: string[] = [];

  error(path: string, message: string): void {
    this.errors.push(path ? `${path}: ${message}` : message);
  }

  object(obj: unknown, name: string, path: string): JsonObject | undefined {
    const v = field(obj, name);
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) {
      this.error(join(path, name), `expected an object, got ${typeName(v)}`);
      return undefined;
    }
    return v;
  }

  array(obj: unknown, name: string, path: string): unknown[] {
    const v = field(obj, name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.error(join(path, name), `expected a list, got ${typeName(v)}`);
      return [];
    }
    return v;
  }

  string(obj: unknown, name: string, path: string): string | undefined {
    const v = field(obj, name);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      this.error(join(path, name), `expected a string, got ${typeName(v)}`);
      return undefined;
    }
    return v;
  }

  bool(obj: unknown, name: string, path: string): boolean | undefined {
    const v = field(obj, name);
    if (v === undefined || v === null) return undefined;
    const b = parseBool(v);
    if (b === undefined) this.error(join(path, name), `expected a boolean, got ${typeName(v)}`);
    return b;
  }

  uint(obj: unknown, name: string, path: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = field(obj, name);
    if (v === undefined || v === null) return undefined;
    const n = parseUint(v);
    if (n === undefined) {
      this.error(join(path, name), `expected a non-negative integer, got ${JSON.stringify(v)}`);
      return undefined;
    }
    if (n > max) {
      this.error(join(path, name), `${n} is out of range (max ${max})`);
      return undefined;
    }
    return n;
  }

  /** int64 (may be negative; JSON strings for big values). */
  int(obj: unknown, name: string, path: string): number | undefined {
    let v = field(obj, name);
    if (v === undefined || v === null) return undefined;
    if (isObject(v) && 'value' in v) v = v.value;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'string' && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
    this.error(join(path, name), `expected an integer, got ${JSON.stringify(v)}`);
    return undefined;
  }

  durationMs(obj: unknown, name: string, path: string): number | undefined {
    const v = field(obj, name);
    if (v === undefined || v === null) return undefined;
    const d = parseDuration(v);
    if ('error' in d) {
      this.error(join(path, name), d.error);
      return undefined;
    }
    return d.ms;
  }

  /** A proto enum given by name or number. */
  enumValue(obj: unknown, name: string, path: string, values: readonly string[]): number | undefined {
    const v = field(obj, name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < values.length) return v;
    if (typeof v === 'string') {
      const i = values.indexOf(v);
      if (i >= 0) return i;
    }
    this.error(join(path, name), `invalid value ${JSON.stringify(v)} (expected one of ${values.join(', ')})`);
    return undefined;
  }

  /** Which of the oneof members `names` are set; reports more than one. */
  oneof(obj: unknown, names: readonly string[], path: string, what: string): string | undefined {
    let found: string | undefined;
    for (const n of names) {
      const v = field(obj, n);
      if (v === undefined || v === null) continue;
      if (found !== undefined) {
        this.error(path, `only one of ${found} and ${n} may be set (${what})`);
        return found;
      }
      found = n;
    }
    return found;
  }
}

export function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
