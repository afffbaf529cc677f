// Protobuf::TextFormat::PrintToString for the messages router_check prints (a route's `match`
// in the `--covall` "Missing test for host" report): fields in field-number order, proto3 scalars
// at their default value omitted unless they are oneof members, two-space indentation, strings
// C-escaped byte-wise, enums by name, wrappers as `{ value: ... }`.

import { camelName, isObject } from '../../util/proto-json';

type Kind =
  | { k: 'string'; oneof?: boolean }
  | { k: 'bool'; oneof?: boolean }
  | { k: 'int'; oneof?: boolean }
  | { k: 'double'; oneof?: boolean }
  | { k: 'enum'; values: readonly string[] }
  | { k: 'message'; type: string; repeated?: boolean };

type Schema = ReadonlyArray<readonly [string, Kind]>;

const S = (oneof = false): Kind => ({ k: 'string', oneof });
const B = (oneof = false): Kind => ({ k: 'bool', oneof });
const M = (type: string, repeated = false): Kind => ({ k: 'message', type, repeated });

const SCHEMAS: Record<string, Schema> = {
  RouteMatch: [
    ['prefix', S(true)], ['path', S(true)], ['case_sensitive', M('BoolValue')], ['headers', M('HeaderMatcher', true)],
    ['query_parameters', M('QueryParameterMatcher', true)], ['grpc', M('Empty')], ['runtime_fraction', M('RuntimeFractionalPercent')],
    ['safe_regex', M('RegexMatcher')], ['tls_context', M('TlsContextMatchOptions')], ['connect_matcher', M('Empty')],
    ['dynamic_metadata', M('MetadataMatcher', true)], ['path_separated_prefix', S(true)], ['path_match_policy', M('TypedExtensionConfig')],
  ],
  HeaderMatcher: [
    ['name', S()], ['exact_match', S(true)], ['range_match', M('Int64Range')], ['present_match', B(true)], ['invert_match', B()],
    ['prefix_match', S(true)], ['suffix_match', S(true)], ['safe_regex_match', M('RegexMatcher')], ['contains_match', S(true)],
    ['string_match', M('StringMatcher')], ['treat_missing_header_as_empty', B()],
  ],
  StringMatcher: [
    ['exact', S(true)], ['prefix', S(true)], ['suffix', S(true)], ['safe_regex', M('RegexMatcher')], ['ignore_case', B()],
    ['contains', S(true)], ['custom', M('TypedExtensionConfig')],
  ],
  RegexMatcher: [['google_re2', M('Empty')], ['regex', S()]],
  Int64Range: [['start', { k: 'int' }], ['end', { k: 'int' }]],
  RuntimeFractionalPercent: [['default_value', M('FractionalPercent')], ['runtime_key', S()]],
  FractionalPercent: [['numerator', { k: 'int' }], ['denominator', { k: 'enum', values: ['HUNDRED', 'TEN_THOUSAND', 'MILLION'] }]],
  QueryParameterMatcher: [['name', S()], ['string_match', M('StringMatcher')], ['present_match', B(true)]],
  TlsContextMatchOptions: [['presented', M('BoolValue')], ['validated', M('BoolValue')]],
  MetadataMatcher: [['filter', S()], ['path', M('PathSegment', true)], ['value', M('ValueMatcher')], ['invert', B()]],
  PathSegment: [['key', S(true)]],
  ValueMatcher: [
    ['null_match', M('Empty')], ['double_match', M('DoubleMatcher')], ['string_match', M('StringMatcher')], ['bool_match', B(true)],
    ['present_match', B(true)], ['list_match', M('ListMatcher')], ['or_match', M('OrMatcher')],
  ],
  DoubleMatcher: [['range', M('DoubleRange')], ['exact', { k: 'double', oneof: true }]],
  DoubleRange: [['start', { k: 'double' }], ['end', { k: 'double' }]],
  ListMatcher: [['one_of', M('ValueMatcher')]],
  OrMatcher: [['value_matchers', M('ValueMatcher', true)]],
  TypedExtensionConfig: [['name', S()]],
  BoolValue: [['value', B()]],
  Empty: [],
};

function get(obj: Record<string, unknown>, name: string): unknown {
  const v = obj[name];
  return v !== undefined ? v : obj[camelName(name)];
}

/** C-escapes a string byte-wise as protobuf's CEscape does (non-printable and non-ASCII as octal). */
export function cEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    switch (b) {
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x22: out += '\\"'; break;
      case 0x27: out += "\\'"; break;
      case 0x5c: out += '\\\\'; break;
      default:
        if (b < 0x20 || b >= 0x7f) out += '\\' + b.toString(8).padStart(3, '0');
        else out += String.fromCharCode(b);
    }
  }
  return out;
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return `"${cEscape(v)}"`;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

function printMessage(obj: Record<string, unknown>, type: string, indent: string): string {
  const schema = SCHEMAS[type];
  let out = '';
  const seen = new Set<string>();
  const emit = (name: string, v: unknown, kind: Kind | undefined): void => {
    if (v === undefined || v === null) return;
    if (kind?.k === 'message' || (kind === undefined && isObject(v))) {
      const subType = kind?.k === 'message' ? kind.type : '';
      const items = kind?.k === 'message' && kind.repeated && Array.isArray(v) ? v : [v];
      for (const item of items) {
        if (subType === 'BoolValue' && typeof item === 'boolean') {
          // A wrapper written as a bare JSON value.
          out += `${indent}${name} {\n${item ? `${indent}  value: true\n` : ''}${indent}}\n`;
          continue;
        }
        out += `${indent}${name} {\n${printMessage(isObject(item) ? item : {}, subType, indent + '  ')}${indent}}\n`;
      }
      return;
    }
    if (Array.isArray(v)) {
      for (const item of v) out += `${indent}${name}: ${scalar(item)}\n`;
      return;
    }
    switch (kind?.k) {
      case 'string':
        if (v === '' && !kind.oneof) return;
        out += `${indent}${name}: ${scalar(String(v))}\n`;
        return;
      case 'bool':
        if (v !== true && !kind.oneof) return;
        out += `${indent}${name}: ${v === true ? 'true' : 'false'}\n`;
        return;
      case 'int':
      case 'double': {
        const n = typeof v === 'bigint' ? v : Number(v);
        if ((n === 0 || n === 0n) && !kind.oneof) return;
        out += `${indent}${name}: ${String(n)}\n`;
        return;
      }
      case 'enum': {
        const name0 = typeof v === 'number' ? kind.values[v] ?? String(v) : String(v);
        if (name0 === kind.values[0]) return;
        out += `${indent}${name}: ${name0}\n`;
        return;
      }
      default:
        out += `${indent}${name}: ${scalar(v)}\n`;
    }
  };
  for (const [name, kind] of schema ?? []) {
    seen.add(name);
    seen.add(camelName(name));
    emit(name, get(obj, name), kind);
  }
  for (const key of Object.keys(obj)) {
    if (seen.has(key)) continue;
    emit(key, obj[key], undefined);
  }
  return out;
}

/** TextFormat::PrintToString of `obj` (proto3 JSON form) as a message of `type` (e.g. 'RouteMatch'). */
export function printTextProto(obj: Record<string, unknown>, type: string): string {
  return printMessage(obj, type, '');
}
