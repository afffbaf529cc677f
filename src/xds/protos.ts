// Loads weir's Envoy proto subset (proto/, see proto/README.md) once with @grpc/proto-loader and
// indexes every message, enum and field by full name, so the resource codec can walk decoded
// messages by their descriptors (Any, Duration, wrappers and Struct need the field's type).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { XdsError } from '../errors';

/** proto-loader options shared by the codec and the gRPC stream (snake_case names as in the protos). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: false,
});

export type FieldKind = 'message' | 'enum' | 'scalar';

export interface FieldInfo {
  readonly name: string;
  readonly number: number;
  readonly repeated: boolean;
  /** For a map field: the value field of the synthesized entry (key is always a scalar). */
  readonly mapValue: FieldInfo | undefined;
  /** For a map field: the key's scalar type (`TYPE_STRING`, ...); '' otherwise. */
  readonly mapKey: string;
  readonly kind: FieldKind;
  /** `TYPE_STRING`, `TYPE_UINT64`, ... for scalars; `TYPE_MESSAGE` / `TYPE_ENUM` otherwise. */
  readonly scalar: string;
  /** Full name (no leading dot) of the message or enum type. */
  readonly typeName: string;
}

export interface MessageInfo {
  readonly fullName: string;
  readonly fields: readonly FieldInfo[];
  /** Fields by proto name and by lowerCamelCase JSON name. */
  readonly byName: ReadonlyMap<string, FieldInfo>;
}

export interface ProtoRegistry {
  readonly packageDefinition: protoLoader.PackageDefinition;
  message(fullName: string): MessageInfo | undefined;
  isEnum(fullName: string): boolean;
  /**
   * An enum's names by number, as protobufjs names a decoded value (the first name declared for a
   * number wins; weir's subset declares no aliases). Undefined for an unknown enum.
   */
  enumNames(fullName: string): ReadonlyMap<number, string> | undefined;
  /** Top-level messages only (what an Any can carry). */
  serialize(fullName: string, obj: object): Buffer;
  deserialize(fullName: string, buf: Buffer): Record<string, unknown>;
  canSerialize(fullName: string): boolean;
}

/** proto/ next to package.json, whether running from src/ (tsx) or dist/src/ (compiled). */
export function protoDir(): string {
  let d = __dirname;
  for (let i = 0; i < 6; i++) {
    const p = path.join(d, 'proto', 'files.json');
    if (fs.existsSync(p)) return path.join(d, 'proto');
    d = path.dirname(d);
  }
  throw new XdsError('proto/files.json not found above ' + __dirname);
}

interface RawField {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}
interface RawEnum {
  name: string;
  value?: { name: string; number: number }[];
}
interface RawMessage {
  name: string;
  field: RawField[];
  nestedType: RawMessage[];
  enumType: RawEnum[];
  options: { mapEntry?: boolean } | null;
}

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

let REGISTRY: ProtoRegistry | undefined;
let LOAD_MS = 0;

/** How long the one-time load took (milliseconds), for start-up reporting. */
export function protoLoadMs(): number {
  return LOAD_MS;
}

export function loadProtos(): ProtoRegistry {
  if (REGISTRY) return REGISTRY;
  const t0 = process.hrtime.bigint();
  const dir = protoDir();
  const files = JSON.parse(fs.readFileSync(path.join(dir, 'files.json'), 'utf8')) as string[];
  const pd = protoLoader.loadSync(files, { ...PROTO_LOADER_OPTIONS, includeDirs: [dir] });
  REGISTRY = buildRegistry(pd);
  LOAD_MS = Number(process.hrtime.bigint() - t0) / 1e6;
  return REGISTRY;
}

/** Index a proto-loader PackageDefinition (exported so tests can index the upstream definitions too). */
export function buildRegistry(pd: protoLoader.PackageDefinition): ProtoRegistry {
  // proto-loader's descriptors name field types relative to the referring scope; collect every
  // full name first, then resolve with protobuf's scoping rule (innermost scope outwards).
  const rawMessages = new Map<string, RawMessage>();
  const enums = new Set<string>();
  const enumNames = new Map<string, Map<number, string>>();
  const addEnum = (full: string, e: RawEnum): void => {
    enums.add(full);
    const byNumber = new Map<number, string>();
    for (const v of e.value ?? []) if (!byNumber.has(v.number)) byNumber.set(v.number, v.name);
    enumNames.set(full, byNumber);
  };
  const mapEntries = new Map<string, RawMessage>();
  const collect = (scope: string, m: RawMessage): void => {
    const full = scope + '.' + m.name;
    if (m.options?.mapEntry) mapEntries.set(full, m);
    else rawMessages.set(full, m);
    for (const e of m.enumType) addEnum(full + '.' + e.name, e);
    for (const n of m.nestedType) collect(full, n);
  };
  for (const [name, def] of Object.entries(pd)) {
    const d = def as { format?: string; type?: unknown };
    const pkg = name.split('.').slice(0, -1).join('.');
    if (d.format === 'Protocol Buffer 3 DescriptorProto') collect(pkg, d.type as RawMessage);
    else if (d.format === 'Protocol Buffer 3 EnumDescriptorProto') addEnum(name, d.type as RawEnum);
  }
  const known = (n: string): boolean => rawMessages.has(n) || enums.has(n) || mapEntries.has(n);
  const resolve = (scope: string, ref: string): string => {
    if (ref.startsWith('.')) return ref.slice(1);
    let s = scope;
    for (;;) {
      const cand = s ? s + '.' + ref : ref;
      if (known(cand)) return cand;
      if (!s) break;
      const i = s.lastIndexOf('.');
      s = i < 0 ? '' : s.slice(0, i);
    }
    throw new XdsError(`cannot resolve proto type ${ref} from ${scope}`);
  };
  const toField = (scope: string, f: RawField): FieldInfo => {
    const isMsg = f.type === 'TYPE_MESSAGE' || f.type === 'TYPE_GROUP';
    const isEnum = f.type === 'TYPE_ENUM';
    const typeName = isMsg || isEnum ? resolve(scope, f.typeName) : '';
    const entry = isMsg ? mapEntries.get(typeName) : undefined;
    let mapValue: FieldInfo | undefined;
    let mapKey = '';
    if (entry) {
      mapKey = entry.field.find((x) => x.name === 'key')?.type ?? '';
      const v = entry.field.find((x) => x.name === 'value');
      if (!v) throw new XdsError(`map entry ${typeName} without value`);
      mapValue = toField(typeName, v);
    }
    return {
      name: f.name,
      number: f.number,
      repeated: f.label === 'LABEL_REPEATED' && !entry,
      mapValue,
      mapKey,
      kind: isMsg ? 'message' : isEnum ? 'enum' : 'scalar',
      scalar: f.type,
      typeName,
    };
  };
  const messages = new Map<string, MessageInfo>();
  for (const [full, m] of rawMessages) {
    const fields = m.field.map((f) => toField(full, f));
    const byName = new Map<string, FieldInfo>();
    for (const f of fields) {
      byName.set(f.name, f);
      byName.set(camel(f.name), f);
    }
    messages.set(full, { fullName: full, fields, byName });
  }
  const codec = (name: string): protoLoader.MessageTypeDefinition<object, object> => {
    const d = pd[name] as protoLoader.MessageTypeDefinition<object, object> | undefined;
    if (!d || typeof d.serialize !== 'function') throw new XdsError(`no codec for ${name}`);
    return d;
  };
  return {
    packageDefinition: pd,
    message: (n) => messages.get(n),
    isEnum: (n) => enums.has(n),
    enumNames: (n) => enumNames.get(n),
    canSerialize: (n) => {
      const d = pd[n] as { serialize?: unknown } | undefined;
      return !!d && typeof d.serialize === 'function';
    },
    serialize: (n, obj) => codec(n).serialize(obj),
    deserialize: (n, buf) => codec(n).deserialize(buf) as Record<string, unknown>,
  };
}
