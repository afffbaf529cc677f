// Turns xDS resources (protobuf Any) into weir's one model, the plain proto3-JSON objects the
// bootstrap YAML gives (config/resources.ts), and back (the fake ADS server serves plain objects).
//
// proto3 JSON mapping (https://protobuf.dev/programming-guides/json/) with proto field names
// (snake_case, as Envoy's YAML is written): Any -> { '@type': url, ...fields } (unpacked
// recursively when weir knows the type, else `{ '@type': url }` plus a note: Envoy's config dump
// shows such extensions, and an unknown HTTP filter is skipped unless `is_optional` is false and the
// compiler says so), Duration -> "1.5s", Timestamp -> RFC 3339, wrappers -> bare values, enums ->
// names, Struct/Value -> plain JSON, 64-bit integers -> numbers when safe (else strings), bytes ->
// base64, oneofs -> only the member that is set.
import { TYPE_URL, type Resource } from '../config/resources';
import type { Validated } from '../route/types';
import { XdsError } from '../errors';
import { isObject } from '../util/proto-json';
import { loadProtos, type FieldInfo, type ProtoRegistry } from './protos';
import { decodeWire, durationString, int64ToJson, type VirtualHostReuse } from './wire-decoder';

export type { VirtualHostReuse, DecodedVirtualHost } from './wire-decoder';

const TYPE_PREFIX = 'type.googleapis.com/';
const RESOURCE_WRAPPER = 'envoy.service.discovery.v3.Resource';

const WRAPPERS = new Set([
  'google.protobuf.BoolValue',
  'google.protobuf.UInt32Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int64Value',
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);
const INT64_SCALARS = new Set(['TYPE_INT64', 'TYPE_UINT64', 'TYPE_SINT64', 'TYPE_FIXED64', 'TYPE_SFIXED64']);

/** The protobuf Any as it travels in a DiscoveryResponse. */
export interface AnyMessage {
  type_url: string;
  value: Buffer | Uint8Array;
}

export interface DecodedResource {
  /** `name`, or `cluster_name` for a ClusterLoadAssignment: the xDS resource name. */
  readonly name: string;
  /** The resource in weir's model, exactly what the bootstrap loader would produce from YAML. */
  readonly resource: Resource;
  /** Typed extensions weir has no proto for, e.g. `filter_chains[0].filters[1].typed_config: skipped ...`. */
  readonly notes: readonly string[];
}

export function typeNameOf(typeUrl: string): string {
  const i = typeUrl.lastIndexOf('/');
  return i < 0 ? typeUrl : typeUrl.slice(i + 1);
}

/** The xDS resource name of a decoded resource of `typeUrl`. */
export function resourceName(typeUrl: string, resource: Resource): string {
  const n = typeUrl === TYPE_URL.CLUSTER_LOAD_ASSIGNMENT ? resource.cluster_name : resource.name;
  return typeof n === 'string' ? n : '';
}

// ---------------------------------------------------------------- decode (protobuf -> plain JSON)

// google.protobuf.Value as proto-loader decodes it: protobufjs' bundled struct.proto names the
// members in lowerCamelCase (nullValue, numberValue, ...).
function structValueToJson(v: unknown): unknown {
  if (!isObject(v)) return null;
  if (v.nullValue !== undefined) return null;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.structValue !== undefined) return structToJson(v.structValue);
  if (v.listValue !== undefined) {
    const vals = isObject(v.listValue) && Array.isArray(v.listValue.values) ? v.listValue.values : [];
    return vals.map(structValueToJson);
  }
  return null;
}

function structToJson(s: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = isObject(s) && isObject(s.fields) ? s.fields : {};
  for (const k of Object.keys(fields)) out[k] = structValueToJson(fields[k]);
  return out;
}

class Decoder {
  readonly notes: string[] = [];
  constructor(readonly reg: ProtoRegistry) {}

  any(a: unknown, path: string): Record<string, unknown> {
    if (!isObject(a)) return {};
    const url = typeof a.type_url === 'string' ? a.type_url : '';
    const typeName = typeNameOf(url);
    const bytes = a.value instanceof Uint8Array ? Buffer.from(a.value) : Buffer.alloc(0);
    if (typeName && this.reg.canSerialize(typeName) && this.reg.message(typeName)) {
      const inner = this.message(typeName, this.reg.deserialize(typeName, bytes), path);
      return { '@type': url, ...inner };
    }
    this.notes.push(`${path}: skipped typed config ${url} (no proto in weir)`);
    return { '@type': url };
  }

  message(typeName: string, obj: unknown, path: string): Record<string, unknown> {
    const info = this.reg.message(typeName);
    const out: Record<string, unknown> = {};
    if (!info || !isObject(obj)) return out;
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (v === undefined || v === null) continue;
      const f = info.byName.get(key);
      if (!f) continue;
      // Scalars and enums need no path (only skipped typed configs are noted, with theirs): not
      // building one per field is most of what a 1,000-route RouteConfiguration would allocate here.
      if (f.mapValue) {
        const p = path ? path + '.' + f.name : f.name;
        const m: Record<string, unknown> = {};
        if (isObject(v)) for (const k of Object.keys(v)) m[k] = this.value(f.mapValue, v[k], `${p}["${k}"]`);
        out[f.name] = m;
      } else if (f.kind !== 'message') {
        out[f.name] = f.repeated ? (Array.isArray(v) ? v.map((x) => this.value(f, x, '')) : []) : this.value(f, v, '');
      } else {
        const p = path ? path + '.' + f.name : f.name;
        if (f.repeated) {
          if (!Array.isArray(v)) out[f.name] = [];
          else {
            const list = new Array<unknown>(v.length);
            for (let i = 0; i < v.length; i++) list[i] = this.value(f, v[i], p + '[' + i + ']');
            out[f.name] = list;
          }
        } else {
          out[f.name] = this.value(f, v, p);
        }
      }
    }
    return out;
  }

  value(f: FieldInfo, v: unknown, path: string): unknown {
    if (f.kind === 'scalar') {
      if (INT64_SCALARS.has(f.scalar)) return int64ToJson(v);
      if (f.scalar === 'TYPE_BYTES') return v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v;
      return v;
    }
    if (f.kind === 'enum') return v;
    return this.wellKnown(f.typeName, v, path);
  }

  wellKnown(t: string, v: unknown, path: string): unknown {
    if (!isObject(v)) return v;
    switch (t) {
      case 'google.protobuf.Any':
        return this.any(v, path);
      case 'google.protobuf.Duration':
        return durationString(v.seconds, v.nanos);
      case 'google.protobuf.Timestamp': {
        const ms = Number(v.seconds ?? 0) * 1000 + Math.floor(Number(v.nanos ?? 0) / 1e6);
        return new Date(ms).toISOString();
      }
      case 'google.protobuf.Struct':
        return structToJson(v);
      case 'google.protobuf.Value':
        return structValueToJson(v);
      case 'google.protobuf.ListValue':
        return Array.isArray(v.values) ? v.values.map(structValueToJson) : [];
      case 'google.protobuf.Empty':
        return {};
    }
    if (WRAPPERS.has(t)) {
      const x = v.value;
      if (t === 'google.protobuf.UInt64Value' || t === 'google.protobuf.Int64Value') return int64ToJson(x ?? '0');
      if (t === 'google.protobuf.BytesValue') return x instanceof Uint8Array ? Buffer.from(x).toString('base64') : '';
      // proto3 omits the default inside the wrapper: a present wrapper without `value` is false/0/"".
      if (x !== undefined) return x;
      return t === 'google.protobuf.BoolValue' ? false : t === 'google.protobuf.StringValue' ? '' : 0;
    }
    return this.message(t, v, path);
  }
}

/**
 * Decode one resource of a DiscoveryResponse into weir's model. `typeUrl` is the type the response
 * (or subscription) is for; a resource of another type is an error. Resources wrapped in
 * `envoy.service.discovery.v3.Resource` are unwrapped.
 */
export function decodeResource(
  typeUrl: string,
  any: AnyMessage,
  reg: ProtoRegistry = loadProtos(),
  reuse?: VirtualHostReuse,
): Validated<DecodedResource> {
  let a = any;
  try {
    if (typeNameOf(a.type_url) === RESOURCE_WRAPPER) {
      const w = reg.deserialize(RESOURCE_WRAPPER, Buffer.from(a.value));
      if (!isObject(w.resource)) return { errors: ['Resource wrapper without resource'] };
      a = w.resource as unknown as AnyMessage;
    }
    if (a.type_url !== typeUrl) return { errors: [`resource of type ${a.type_url} in a response for ${typeUrl}`] };
    const typeName = typeNameOf(typeUrl);
    if (!reg.canSerialize(typeName)) return { errors: [`unsupported resource type ${typeUrl}`] };
    const bytes = Buffer.isBuffer(a.value) ? a.value : Buffer.from(a.value);
    let resource: Resource;
    let notes: readonly string[];
    const fast = decodeFast(reg, typeName, bytes, reuse);
    if (fast !== undefined) ({ message: resource, notes } = fast);
    else {
      const d = new Decoder(reg);
      resource = d.message(typeName, reg.deserialize(typeName, Buffer.from(bytes)), '');
      notes = d.notes;
    }
    const name = resourceName(typeUrl, resource);
    if (!name) return { errors: [`${typeUrl === TYPE_URL.CLUSTER_LOAD_ASSIGNMENT ? 'cluster_name' : 'name'}: required`] };
    return { value: { name, resource, notes } };
  } catch (e) {
    return { errors: [`cannot decode ${typeNameOf(typeUrl)}: ${(e as Error).message}`] };
  }
}

/** Set WEIR_XDS_REFERENCE_DECODER=1 to decode with the reference path only (tests, diagnosis). */
const REFERENCE_ONLY = process.env.WEIR_XDS_REFERENCE_DECODER === '1';

/**
 * The one-pass wire decoder's answer, or undefined when the reference path (protobufjs decode +
 * toObject + the walk above) must decide: on any doubt the wire decoder gives up rather than guess,
 * and the reference's result or error is the answer (wire-decoder.ts).
 */
function decodeFast(reg: ProtoRegistry, typeName: string, bytes: Buffer, reuse: VirtualHostReuse | undefined): { message: Resource; notes: string[] } | undefined {
  if (REFERENCE_ONLY) return undefined;
  const before = reuse?.next.size ?? 0;
  try {
    return decodeWire(reg, typeName, bytes, reuse);
  } catch {
    // The reference path decides; nothing of this attempt may be remembered.
    if (reuse !== undefined && reuse.next.size !== before) reuse.next.clear();
    return undefined;
  }
}

/** The reference decode (protobufjs, then proto3 JSON), for tests that compare it with the wire decoder. */
export function decodeReference(typeName: string, bytes: Buffer, reg: ProtoRegistry = loadProtos()): { message: Resource; notes: string[] } {
  const d = new Decoder(reg);
  return { message: d.message(typeName, reg.deserialize(typeName, Buffer.from(bytes)), ''), notes: d.notes };
}

/** Decode any message (not only resources) to proto3 JSON, e.g. a DiscoveryRequest's `node`. */
export function decodeMessage(typeName: string, obj: unknown, reg: ProtoRegistry = loadProtos()): Record<string, unknown> {
  return new Decoder(reg).message(typeName, obj, '');
}

// ---------------------------------------------------------------- encode (plain JSON -> protobuf)

function parseDurationJson(v: unknown, path: string): { seconds: string; nanos: number } {
  if (isObject(v)) return { seconds: String(v.seconds ?? 0), nanos: Number(v.nanos ?? 0) };
  if (typeof v === 'number') {
    const s = Math.trunc(v);
    return { seconds: String(s), nanos: Math.round((v - s) * 1e9) };
  }
  const m = typeof v === 'string' ? /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(v) : null;
  if (!m) throw new XdsError(`${path}: invalid duration ${JSON.stringify(v)}`);
  const sign = m[1] === '-' ? -1 : 1;
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  return { seconds: (sign < 0 ? '-' : '') + m[2], nanos: sign * nanos };
}

function jsonToStructValue(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToStructValue) } };
  return { structValue: jsonToStruct(v) };
}

function jsonToStruct(v: unknown): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (isObject(v)) for (const k of Object.keys(v)) fields[k] = jsonToStructValue(v[k]);
  return { fields };
}

class Encoder {
  constructor(readonly reg: ProtoRegistry) {}

  any(v: unknown, path: string): Record<string, unknown> {
    if (!isObject(v)) throw new XdsError(`${path}: Any must be an object`);
    if (typeof v.type_url === 'string' && !('@type' in v)) return v; // already protobuf-shaped
    const url = v['@type'];
    if (typeof url !== 'string') throw new XdsError(`${path}: Any without @type`);
    const typeName = typeNameOf(url);
    if (!this.reg.canSerialize(typeName) || !this.reg.message(typeName)) {
      // An extension weir has no proto for: only an empty payload can be produced.
      const rest = Object.keys(v).filter((k) => k !== '@type');
      if (rest.length) throw new XdsError(`${path}: cannot encode fields of unknown type ${url}`);
      return { type_url: url, value: Buffer.alloc(0) };
    }
    const inner: Record<string, unknown> = {};
    for (const k of Object.keys(v)) if (k !== '@type') inner[k] = v[k];
    return { type_url: url, value: this.reg.serialize(typeName, this.message(typeName, inner, path)) };
  }

  message(typeName: string, v: unknown, path: string): Record<string, unknown> {
    const info = this.reg.message(typeName);
    if (!info) throw new XdsError(`${path}: unknown message type ${typeName}`);
    if (!isObject(v)) throw new XdsError(`${path || typeName}: expected an object`);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      const x = v[key];
      if (x === undefined) continue;
      const f = info.byName.get(key);
      const p = path ? path + '.' + key : key;
      if (!f) throw new XdsError(`${p}: unknown field of ${typeName}`);
      if (f.mapValue) {
        if (!isObject(x)) throw new XdsError(`${p}: expected a map`);
        const m: Record<string, unknown> = {};
        for (const k of Object.keys(x)) m[k] = this.value(f.mapValue, x[k], `${p}["${k}"]`);
        out[f.name] = m;
      } else if (f.repeated) {
        if (!Array.isArray(x)) throw new XdsError(`${p}: expected a list`);
        out[f.name] = x.map((e, i) => this.value(f, e, `${p}[${i}]`));
      } else {
        out[f.name] = this.value(f, x, p);
      }
    }
    return out;
  }

  value(f: FieldInfo, v: unknown, path: string): unknown {
    if (f.kind !== 'message') return v;
    const t = f.typeName;
    switch (t) {
      case 'google.protobuf.Any':
        return this.any(v, path);
      case 'google.protobuf.Duration':
        return parseDurationJson(v, path);
      case 'google.protobuf.Timestamp': {
        if (isObject(v)) return v;
        const ms = Date.parse(String(v));
        return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
      }
      case 'google.protobuf.Struct':
        return jsonToStruct(v);
      case 'google.protobuf.Value':
        return jsonToStructValue(v);
      case 'google.protobuf.ListValue':
        return { values: (Array.isArray(v) ? v : []).map(jsonToStructValue) };
    }
    if (WRAPPERS.has(t)) return isObject(v) && 'value' in v ? v : { value: v };
    return this.message(t, v, path);
  }
}

/** Encode a message given in proto3 JSON (snake_case or lowerCamelCase) into protobuf-ready form. */
export function encodeMessage(typeName: string, plain: object, reg: ProtoRegistry = loadProtos()): Record<string, unknown> {
  return new Encoder(reg).message(typeName, plain, '');
}

/** Encode a resource written as a plain object (as in a bootstrap YAML) into an Any of `typeUrl`. */
export function encodeResource(typeUrl: string, plain: object, reg: ProtoRegistry = loadProtos()): AnyMessage {
  const typeName = typeNameOf(typeUrl);
  const body: Record<string, unknown> = { ...(plain as Record<string, unknown>) };
  delete body['@type'];
  return { type_url: typeUrl, value: reg.serialize(typeName, new Encoder(reg).message(typeName, body, '')) };
}

export { TYPE_PREFIX };
