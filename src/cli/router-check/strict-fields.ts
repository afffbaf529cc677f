// Envoy parses the route config strictly: any field envoy.config.route.v3.RouteConfiguration (or a
// message inside it) does not declare is an error ("Protobuf message (...) has unknown fields"),
// so a typo such as `prefix_rewite` fails the tool instead of being ignored. weir's route model
// reads only what it implements, so route-check checks field names itself against the field
// table in route-configuration-fields.json, generated from the full Envoy API
// (@grpc/grpc-js-xds deps/envoy-api, see test/cli/route-check-schema.test.ts).
//
// Table format: message full name -> field proto name -> '' (scalar, enum or a well-known type
// read from its JSON form: Any, Struct, Value, Duration, wrappers) | message full name |
// 'map:' + value message full name ('map:' alone for maps of scalars).

import { isObject } from '../../util/proto-json';
import FIELDS from './route-configuration-fields.json';

export type FieldTable = Readonly<Record<string, Readonly<Record<string, string>>>>;

/**
 * Fields newer than the Envoy API the table was generated from (grpc-js-xds 1.14 ships an older
 * envoy-api), so current configs using them are not refused. Their types are left undescribed.
 */
const NEWER_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'envoy.config.route.v3.RouteMatch': { filter_state: '' },
};

function withNewer(base: FieldTable): FieldTable {
  const out: Record<string, Readonly<Record<string, string>>> = { ...base };
  for (const [msg, extra] of Object.entries(NEWER_FIELDS)) out[msg] = { ...(base[msg] ?? {}), ...extra };
  return out;
}

export const ROUTE_CONFIGURATION_FIELD_TABLE: FieldTable = withNewer(FIELDS as FieldTable);

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** Field lookup by proto name and lowerCamelCase JSON name, built once per table. */
const LOOKUP = new WeakMap<FieldTable, Map<string, Map<string, string>>>();
function lookup(table: FieldTable, type: string): Map<string, string> | undefined {
  let all = LOOKUP.get(table);
  if (all === undefined) {
    all = new Map();
    for (const [msg, fields] of Object.entries(table)) {
      const m = new Map<string, string>();
      for (const [name, t] of Object.entries(fields)) {
        m.set(name, t);
        m.set(camel(name), t);
      }
      all.set(msg, m);
    }
    LOOKUP.set(table, all);
  }
  return all.get(type);
}

export interface UnknownField {
  /** Where, in proto-JSON path form: `virtual_hosts[0].routes[1].match.bogus`. */
  readonly path: string;
  /** The message type that lacks the field. */
  readonly messageType: string;
  readonly field: string;
}

/** The first field in `obj` (a message of `type`) that Envoy's strict parse would reject, or null. */
export function findUnknownField(
  obj: unknown,
  type = 'envoy.config.route.v3.RouteConfiguration',
  table: FieldTable = ROUTE_CONFIGURATION_FIELD_TABLE,
  path = '',
): UnknownField | null {
  const fields = lookup(table, type);
  if (fields === undefined || !isObject(obj)) return null; // a type the table does not describe: lenient
  for (const key of Object.keys(obj)) {
    const at = path === '' ? key : `${path}.${key}`;
    const t = fields.get(key);
    if (t === undefined) return { path: at, messageType: type, field: key };
    if (t === '') continue;
    const v = obj[key];
    if (t.startsWith('map:')) {
      const valueType = t.slice(4);
      if (valueType === '' || !isObject(v)) continue;
      for (const k of Object.keys(v)) {
        const found = findUnknownField(v[k], valueType, table, `${at}["${k}"]`);
        if (found !== null) return found;
      }
      continue;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = findUnknownField(v[i], t, table, `${at}[${i}]`);
        if (found !== null) return found;
      }
    } else {
      const found = findUnknownField(v, t, table, at);
      if (found !== null) return found;
    }
  }
  return null;
}

/** Well-known types whose JSON form is not an object of their declared fields. */
const OPAQUE_TYPES = new Set([
  'google.protobuf.Any', 'google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue',
  'google.protobuf.Duration', 'google.protobuf.Timestamp', 'google.protobuf.FieldMask', 'google.protobuf.Empty',
  'google.protobuf.BoolValue', 'google.protobuf.StringValue', 'google.protobuf.BytesValue',
  'google.protobuf.UInt32Value', 'google.protobuf.UInt64Value', 'google.protobuf.Int32Value',
  'google.protobuf.Int64Value', 'google.protobuf.DoubleValue', 'google.protobuf.FloatValue',
]);

/** The subset of a proto registry the generator needs (src/xds/protos.ts ProtoRegistry fits). */
export interface FieldSource {
  message(fullName: string): { readonly fields: ReadonlyArray<FieldDescription> } | undefined;
}
export interface FieldDescription {
  readonly name: string;
  readonly kind: 'message' | 'enum' | 'scalar';
  readonly typeName: string;
  readonly mapValue: FieldDescription | undefined;
}

/** Builds the field table of every message reachable from `root` (used to generate the JSON). */
export function buildFieldTable(reg: FieldSource, root = 'envoy.config.route.v3.RouteConfiguration'): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  const queue = [root];
  const typeOf = (f: FieldDescription): string => {
    if (f.kind !== 'message' || OPAQUE_TYPES.has(f.typeName)) return '';
    queue.push(f.typeName);
    return f.typeName;
  };
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (out[name] !== undefined) continue;
    const m = reg.message(name);
    if (m === undefined) continue;
    const fields: Record<string, string> = {};
    out[name] = fields;
    for (const f of m.fields) {
      fields[f.name] = f.mapValue !== undefined ? 'map:' + typeOf(f.mapValue) : typeOf(f);
    }
  }
  const sorted: Record<string, Record<string, string>> = {};
  for (const k of Object.keys(out).sort()) sorted[k] = out[k]!;
  return sorted;
}
