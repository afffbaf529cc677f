// router_check_tool test files: Envoy's `envoy.RouterCheckToolSchema.Validation`
// (test/tools/router_check/validation.proto), read from JSON, YAML or protobuf text format, checked
// the way the tool checks them (unknown fields rejected as by a strict proto parser, then the
// proto's PGV rules: at least one test, non-empty test_name, authority and path, a method of at
// least 3 bytes), and normalised into plain objects the checker reads.

import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { camelName, isObject } from '../../util/proto-json';
import { parseTextProto, toProtoJson, TextFormatError, type TextSchema } from './text-proto';

/** `envoy.config.core.v3.HeaderValue` as used by additional_*_headers and *_header_fields. */
export interface HeaderValue {
  readonly key: string;
  readonly value: string;
}

/** `envoy.extensions.filters.http.set_metadata.v3.Metadata`, the input's dynamic_metadata entries. */
export interface DynamicMetadataEntry {
  readonly metadataNamespace: string;
  readonly allowOverwrite: boolean;
  readonly value: Record<string, unknown> | undefined;
}

export interface ValidationInput {
  readonly authority: string;
  readonly path: string;
  readonly method: string;
  /** uint64 in the schema; the tool narrows it with `static_cast<int>` before routing. */
  readonly randomValue: bigint;
  readonly ssl: boolean;
  readonly internal: boolean;
  readonly additionalRequestHeaders: readonly HeaderValue[];
  readonly additionalResponseHeaders: readonly HeaderValue[];
  /** The one runtime key the tool's runtime mock switches on ('' = none). */
  readonly runtime: string;
  readonly dynamicMetadata: readonly DynamicMetadataEntry[];
}

/** Each string check is a google.protobuf.StringValue: `undefined` = not checked, `''` = expect nothing. */
export interface ValidationAssert {
  readonly clusterName: string | undefined;
  readonly virtualClusterName: string | undefined;
  readonly virtualHostName: string | undefined;
  readonly hostRewrite: string | undefined;
  readonly pathRewrite: string | undefined;
  readonly pathRedirect: string | undefined;
  readonly codeRedirect: number | undefined;
  /** Deprecated `request_header_fields` / `response_header_fields` (first value equals). */
  readonly requestHeaderFields: readonly HeaderValue[];
  readonly responseHeaderFields: readonly HeaderValue[];
  /** `envoy.config.route.v3.HeaderMatcher`s, kept as given (proto JSON objects). */
  readonly requestHeaderMatches: readonly Record<string, unknown>[];
  readonly responseHeaderMatches: readonly Record<string, unknown>[];
}

export interface ValidationItem {
  readonly testName: string;
  readonly input: ValidationInput;
  readonly validate: ValidationAssert;
}

export class TestFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TestFileError';
  }
}

const VALIDATION_TYPE = 'envoy.RouterCheckToolSchema.Validation';

// Field lists per message (proto names), for the strict unknown-field check.
const VALIDATION_FIELDS = ['tests'];
const ITEM_FIELDS = ['test_name', 'input', 'validate'];
const INPUT_FIELDS = [
  'authority', 'path', 'method', 'random_value', 'ssl', 'internal', 'additional_request_headers',
  'additional_response_headers', 'runtime', 'dynamic_metadata',
];
const ASSERT_FIELDS = [
  'cluster_name', 'virtual_cluster_name', 'virtual_host_name', 'host_rewrite', 'path_rewrite',
  'path_redirect', 'code_redirect', 'request_header_fields', 'response_header_fields',
  'request_header_matches', 'response_header_matches',
];
const HEADER_VALUE_FIELDS = ['key', 'value', 'raw_value'];
const METADATA_FIELDS = ['metadata_namespace', 'allow_overwrite', 'value', 'typed_value'];
const HEADER_MATCHER_FIELDS = [
  'name', 'exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match',
  'suffix_match', 'contains_match', 'string_match', 'invert_match', 'treat_missing_header_as_empty',
];

/** How `.pb_text` maps onto the schema (repeated fields, wrapper types, Structs). */
const HEADER_VALUE_TEXT: TextSchema = {};
const TEXT_SCHEMA: TextSchema = {
  repeated: new Set(['tests']),
  messages: {
    tests: {
      messages: {
        input: {
          repeated: new Set(['additional_request_headers', 'additional_response_headers', 'dynamic_metadata']),
          messages: {
            additional_request_headers: HEADER_VALUE_TEXT,
            additional_response_headers: HEADER_VALUE_TEXT,
            dynamic_metadata: { structs: new Set(['value']) },
          },
        },
        validate: {
          repeated: new Set([
            'request_header_fields', 'response_header_fields', 'request_header_matches', 'response_header_matches',
          ]),
          wrappers: new Set([
            'cluster_name', 'virtual_cluster_name', 'virtual_host_name', 'host_rewrite', 'path_rewrite',
            'path_redirect', 'code_redirect',
          ]),
        },
      },
    },
  },
};

/** Reads and checks a test file; throws `TestFileError` with Envoy-style wording. */
export function loadTestFile(path: string): ValidationItem[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new TestFileError(`unable to read file: ${path}`);
  }
  return parseTestFile(text, path);
}

/** Parses test-file text; the format is chosen by extension as Envoy's `loadFromFile` does. */
export function parseTestFile(text: string, path: string): ValidationItem[] {
  let raw: unknown;
  if (/\.pb$/.test(path)) {
    throw new TestFileError(`${path}: binary protobuf test files are not supported; use JSON, YAML or .pb_text`);
  }
  if (/\.pb_text$/.test(path)) {
    try {
      raw = toProtoJson(parseTextProto(text), TEXT_SCHEMA);
    } catch (e) {
      const msg = e instanceof TextFormatError ? e.message : String(e);
      throw new TestFileError(`Unable to parse file "${path}" as a text protobuf (type ${VALIDATION_TYPE}): ${msg}`);
    }
  } else {
    // JSON is parsed as YAML too: Envoy falls back to its YAML reader when strict JSON fails,
    // which is why TestRoutes.golden.proto.json (it has a trailing comma) loads.
    try {
      raw = parseYaml(text, { uniqueKeys: false, intAsBigInt: true });
    } catch (e) {
      throw new TestFileError(`Unable to parse JSON/YAML as proto (${(e as Error).message.split('\n')[0]}): ${path}`);
    }
  }
  return validateTestFile(raw);
}

function unknownFields(obj: Record<string, unknown>, known: readonly string[], at: string, type: string): void {
  for (const k of Object.keys(obj)) {
    if (known.includes(k)) continue;
    if (known.some((f) => camelName(f) === k)) continue;
    throw new TestFileError(
      `Protobuf message (type ${VALIDATION_TYPE} reason INVALID_ARGUMENT: invalid JSON in ${VALIDATION_TYPE} @ ` +
        `${at ? at + '.' : ''}${k}: message ${type}, no such field: '${k}') has unknown fields`,
    );
  }
}

function get(obj: Record<string, unknown>, name: string): unknown {
  const v = obj[name];
  if (v !== undefined) return v;
  return obj[camelName(name)];
}

function typeError(at: string, want: string, got: unknown): TestFileError {
  return new TestFileError(
    `Unable to parse JSON as proto (INVALID_ARGUMENT:${at}: invalid value ${JSON.stringify(toPlain(got))} for type ${want})`,
  );
}

function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(toPlain);
  if (isObject(v)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) o[k] = toPlain(v[k]);
    return o;
  }
  return v;
}

function str(v: unknown, at: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  throw typeError(at, 'TYPE_STRING', v);
}

function bool(v: unknown, at: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  throw typeError(at, 'TYPE_BOOL', v);
}

function uint64(v: unknown, at: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d+$/.test(v) && BigInt(v) < 1n << 64n) return BigInt(v);
  throw typeError(at, 'TYPE_UINT64', v);
}

function uint32(v: unknown, at: string): number {
  if (typeof v === 'bigint' && v >= 0n && v < 1n << 32n) return Number(v);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32) return v;
  if (typeof v === 'string' && /^\d+$/.test(v) && Number(v) < 2 ** 32) return Number(v);
  throw typeError(at, 'TYPE_UINT32', v);
}

/** google.protobuf.StringValue: a bare string in JSON; `{value}` accepted as proto-loader writes it. */
function stringValue(v: unknown, at: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (isObject(v)) return str(v.value, at + '.value');
  return str(v, at);
}

function list(v: unknown, at: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  throw typeError(at, 'TYPE_MESSAGE (repeated)', v);
}

function message(v: unknown, at: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (isObject(v)) return v;
  throw typeError(at, 'TYPE_MESSAGE', v);
}

function headerValues(v: unknown, at: string): HeaderValue[] {
  return list(v, at).map((h, i) => {
    const p = `${at}[${i}]`;
    const o = message(h, p) ?? {};
    unknownFields(o, HEADER_VALUE_FIELDS, p, 'envoy.config.core.v3.HeaderValue');
    const raw = get(o, 'raw_value');
    const value =
      get(o, 'value') !== undefined
        ? str(get(o, 'value'), p + '.value')
        : typeof raw === 'string'
          ? Buffer.from(raw, 'base64').toString('latin1')
          : '';
    return { key: str(get(o, 'key'), p + '.key'), value };
  });
}

function headerMatchers(v: unknown, at: string): Record<string, unknown>[] {
  return list(v, at).map((h, i) => {
    const p = `${at}[${i}]`;
    const o = message(h, p) ?? {};
    unknownFields(o, HEADER_MATCHER_FIELDS, p, 'envoy.config.route.v3.HeaderMatcher');
    return toPlain(o) as Record<string, unknown>;
  });
}

function pgv(type: string, field: string, rule: string, at: string): TestFileError {
  return new TestFileError(`Proto constraint validation failed (${type}ValidationError.${field}: ${rule}): ${at}`);
}

/** Checks a parsed test file against the Validation schema and its PGV rules. */
export function validateTestFile(raw: unknown): ValidationItem[] {
  const root = raw === null || raw === undefined ? {} : message(raw, '');
  if (root === undefined) throw typeError('', 'TYPE_MESSAGE', raw);
  unknownFields(root, VALIDATION_FIELDS, '', VALIDATION_TYPE);
  const tests = list(get(root, 'tests'), 'tests');
  if (tests.length < 1) throw pgv('', 'Tests', 'value must contain at least 1 item(s)', 'tests');
  return tests.map((t, i): ValidationItem => {
    const at = `tests[${i}]`;
    const item = message(t, at) ?? {};
    unknownFields(item, ITEM_FIELDS, at, 'envoy.RouterCheckToolSchema.ValidationItem');
    const testName = str(get(item, 'test_name'), at + '.test_name');
    if (Buffer.byteLength(testName) < 1) throw pgv('ValidationItem', 'TestName', 'value length must be at least 1 bytes', at);
    const inRaw = message(get(item, 'input'), at + '.input');
    if (inRaw === undefined) throw pgv('ValidationItem', 'Input', 'value is required', at);
    const vRaw = message(get(item, 'validate'), at + '.validate');
    if (vRaw === undefined) throw pgv('ValidationItem', 'Validate', 'value is required', at);

    const ip = at + '.input';
    unknownFields(inRaw, INPUT_FIELDS, ip, 'envoy.RouterCheckToolSchema.ValidationInput');
    const input: ValidationInput = {
      authority: str(get(inRaw, 'authority'), ip + '.authority'),
      path: str(get(inRaw, 'path'), ip + '.path'),
      method: str(get(inRaw, 'method'), ip + '.method'),
      randomValue: uint64(get(inRaw, 'random_value'), ip + '.random_value'),
      ssl: bool(get(inRaw, 'ssl'), ip + '.ssl'),
      internal: bool(get(inRaw, 'internal'), ip + '.internal'),
      additionalRequestHeaders: headerValues(get(inRaw, 'additional_request_headers'), ip + '.additional_request_headers'),
      additionalResponseHeaders: headerValues(get(inRaw, 'additional_response_headers'), ip + '.additional_response_headers'),
      runtime: str(get(inRaw, 'runtime'), ip + '.runtime'),
      dynamicMetadata: list(get(inRaw, 'dynamic_metadata'), ip + '.dynamic_metadata').map((m, j) => {
        const mp = `${ip}.dynamic_metadata[${j}]`;
        const o = message(m, mp) ?? {};
        unknownFields(o, METADATA_FIELDS, mp, 'envoy.extensions.filters.http.set_metadata.v3.Metadata');
        const value = get(o, 'value');
        if (value !== undefined && value !== null && !isObject(value)) throw typeError(mp + '.value', 'google.protobuf.Struct', value);
        return {
          metadataNamespace: str(get(o, 'metadata_namespace'), mp + '.metadata_namespace'),
          allowOverwrite: bool(get(o, 'allow_overwrite'), mp + '.allow_overwrite'),
          value: value === undefined || value === null ? undefined : (toPlain(value) as Record<string, unknown>),
        };
      }),
    };
    if (Buffer.byteLength(input.authority) < 1) throw pgv('ValidationInput', 'Authority', 'value length must be at least 1 bytes', ip);
    if (Buffer.byteLength(input.path) < 1) throw pgv('ValidationInput', 'Path', 'value length must be at least 1 bytes', ip);
    if (Buffer.byteLength(input.method) < 3) throw pgv('ValidationInput', 'Method', 'value length must be at least 3 bytes', ip);

    const vp = at + '.validate';
    unknownFields(vRaw, ASSERT_FIELDS, vp, 'envoy.RouterCheckToolSchema.ValidationAssert');
    const code = get(vRaw, 'code_redirect');
    const validate: ValidationAssert = {
      clusterName: stringValue(get(vRaw, 'cluster_name'), vp + '.cluster_name'),
      virtualClusterName: stringValue(get(vRaw, 'virtual_cluster_name'), vp + '.virtual_cluster_name'),
      virtualHostName: stringValue(get(vRaw, 'virtual_host_name'), vp + '.virtual_host_name'),
      hostRewrite: stringValue(get(vRaw, 'host_rewrite'), vp + '.host_rewrite'),
      pathRewrite: stringValue(get(vRaw, 'path_rewrite'), vp + '.path_rewrite'),
      pathRedirect: stringValue(get(vRaw, 'path_redirect'), vp + '.path_redirect'),
      codeRedirect:
        code === undefined || code === null
          ? undefined
          : uint32(isObject(code) ? (code.value ?? 0) : code, vp + '.code_redirect'),
      requestHeaderFields: headerValues(get(vRaw, 'request_header_fields'), vp + '.request_header_fields'),
      responseHeaderFields: headerValues(get(vRaw, 'response_header_fields'), vp + '.response_header_fields'),
      requestHeaderMatches: headerMatchers(get(vRaw, 'request_header_matches'), vp + '.request_header_matches'),
      responseHeaderMatches: headerMatchers(get(vRaw, 'response_header_matches'), vp + '.response_header_matches'),
    };
    return { testName, input, validate };
  });
}
