// Strict proto3-JSON check of an object against the full Envoy protos @grpc/grpc-js-xds ships
// (protobufjs): every key must be a field of its message (proto name or JSON name), every Any's
// @type must resolve and its body check in turn, enums must name a value, well-known types must
// have their JSON form. protobufjs' own fromObject ignores unknown fields, so this walks the
// descriptors itself, as a protobuf JSON parser with ignore_unknown_fields=false does.
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

const ROOT = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
const DEPS = path.join(ROOT, 'node_modules/@grpc/grpc-js-xds/deps');
const INCLUDES = [...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(DEPS, d)), path.join(ROOT, 'node_modules/protobufjs')];

export function loadEnvoyProtos(files: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (path.isAbsolute(target)) return target;
    // protobufjs bundles the common google/protobuf types itself.
    if (target.startsWith('google/protobuf/') && target.slice(16) in (protobuf as unknown as { common: Record<string, unknown> }).common) return target;
    for (const inc of INCLUDES) {
      const p = path.join(inc, target);
      if (require('node:fs').existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

export function checkMessage(root: protobuf.Root, typeName: string, value: unknown, where = ''): string[] {
  const errors: string[] = [];
  walk(root, root.lookupType(typeName), value, where || typeName, errors);
  return errors;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function walk(root: protobuf.Root, type: protobuf.Type, v: unknown, at: string, errors: string[]): void {
  const full = type.fullName.slice(1);
  switch (full) {
    case 'google.protobuf.Duration':
      if (typeof v !== 'string' || !/^-?\d+(\.\d+)?s$/.test(v)) errors.push(`${at}: Duration must be a string like "1.5s", got ${JSON.stringify(v)}`);
      return;
    case 'google.protobuf.Timestamp':
      if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) errors.push(`${at}: Timestamp must be RFC 3339, got ${JSON.stringify(v)}`);
      return;
    case 'google.protobuf.Struct':
      if (!isObj(v)) errors.push(`${at}: Struct must be an object`);
      return;
    case 'google.protobuf.Value':
    case 'google.protobuf.ListValue':
      return;
    case 'google.protobuf.FieldMask':
      if (typeof v !== 'string') errors.push(`${at}: FieldMask must be a string`);
      return;
    case 'google.protobuf.BoolValue':
      if (typeof v !== 'boolean') errors.push(`${at}: expected a bool`);
      return;
    case 'google.protobuf.StringValue':
      if (typeof v !== 'string') errors.push(`${at}: expected a string`);
      return;
    case 'google.protobuf.UInt32Value':
    case 'google.protobuf.Int32Value':
    case 'google.protobuf.UInt64Value':
    case 'google.protobuf.Int64Value':
    case 'google.protobuf.DoubleValue':
    case 'google.protobuf.FloatValue':
      if (typeof v !== 'number' && !(typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v))) errors.push(`${at}: expected a number`);
      return;
    case 'google.protobuf.Any': {
      if (!isObj(v) || typeof v['@type'] !== 'string') {
        errors.push(`${at}: Any needs @type`);
        return;
      }
      const url = v['@type'] as string;
      const name = url.slice(url.lastIndexOf('/') + 1);
      let inner: protobuf.Type;
      try {
        inner = root.lookupType(name);
      } catch {
        errors.push(`${at}: Any @type ${url} is not a known message`);
        return;
      }
      const { '@type': _t, ...rest } = v;
      // Well-known types inside an Any are wrapped as {"@type", "value"}.
      if (inner.fullName.startsWith('.google.protobuf.') && 'value' in rest) walk(root, inner, rest.value, `${at}<${name}>`, errors);
      else walk(root, inner, rest, `${at}<${name}>`, errors);
      return;
    }
  }
  if (!isObj(v)) {
    errors.push(`${at}: expected a ${full} object, got ${JSON.stringify(v)?.slice(0, 40)}`);
    return;
  }
  const byJson = new Map<string, protobuf.Field>();
  for (const f of type.fieldsArray) {
    byJson.set(f.name, f);
    byJson.set(camel(f.name), f);
  }
  for (const [k, fv] of Object.entries(v)) {
    const f = byJson.get(k);
    if (f === undefined) {
      errors.push(`${at}.${k}: no such field in ${full}`);
      continue;
    }
    const p = `${at}.${k}`;
    if (f instanceof protobuf.MapField) {
      if (!isObj(fv)) errors.push(`${p}: map must be an object`);
      else for (const [mk, mv] of Object.entries(fv)) checkValue(root, f, mv, `${p}[${mk}]`, errors);
    } else if (f.repeated) {
      if (!Array.isArray(fv)) errors.push(`${p}: repeated field must be a list`);
      else fv.forEach((x, i) => checkValue(root, f, x, `${p}[${i}]`, errors));
    } else checkValue(root, f, fv, p, errors);
  }
}

function checkValue(root: protobuf.Root, f: protobuf.Field, v: unknown, at: string, errors: string[]): void {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) return walk(root, rt, v, at, errors);
  if (rt instanceof protobuf.Enum) {
    if (typeof v === 'string' ? !(v in rt.values) : typeof v !== 'number') errors.push(`${at}: ${JSON.stringify(v)} is not a value of ${rt.fullName.slice(1)}`);
    return;
  }
  switch (f.type) {
    case 'string':
      if (typeof v !== 'string') errors.push(`${at}: expected a string`);
      return;
    case 'bool':
      if (typeof v !== 'boolean') errors.push(`${at}: expected a bool`);
      return;
    case 'bytes':
      if (typeof v !== 'string') errors.push(`${at}: expected base64 bytes`);
      return;
    default:
      if (typeof v !== 'number' && !(typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v))) errors.push(`${at}: expected a number (${f.type})`);
  }
}
