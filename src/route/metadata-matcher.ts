// envoy.type.matcher.v3.MetadataMatcher for RouteMatch.dynamic_metadata (source/common/common/
// matchers.cc): walk `filter` then `path[].key` through the stream's dynamic metadata (Structs as
// plain JSON objects), match the value with a ValueMatcher, then XOR `invert`. A missing value is
// "kind not set": only present_match: false (or invert) matches it.

import { isObject } from '../util/proto-json';
import { ConfigReader, field, join } from './config-reader';
import { readStringMatcher, type StringMatcher } from './string-matcher';

const V_NULL = 0;
const V_DOUBLE_RANGE = 1;
const V_DOUBLE_EXACT = 2;
const V_STRING = 3;
const V_BOOL = 4;
const V_PRESENT = 5;
const V_LIST = 6;
const V_OR = 7;

export class ValueMatcher {
  readonly kind: number;
  readonly string: StringMatcher | null;
  readonly bool: boolean;
  readonly start: number;
  readonly end: number;
  readonly children: readonly ValueMatcher[];
  constructor(kind: number, string: StringMatcher | null, bool: boolean, start: number, end: number, children: ValueMatcher[]) {
    this.kind = kind;
    this.string = string;
    this.bool = bool;
    this.start = start;
    this.end = end;
    this.children = children;
  }

  matches(v: unknown): boolean {
    switch (this.kind) {
      case V_NULL:
        return v === null;
      case V_DOUBLE_RANGE:
        return typeof v === 'number' && v >= this.start && v < this.end;
      case V_DOUBLE_EXACT:
        return typeof v === 'number' && v === this.start;
      case V_STRING:
        return typeof v === 'string' && (this.string as StringMatcher).matches(v);
      case V_BOOL:
        return typeof v === 'boolean' && v === this.bool;
      case V_PRESENT:
        return this.bool === (v !== undefined);
      case V_LIST:
        if (!Array.isArray(v)) return false;
        for (const e of v) if ((this.children[0] as ValueMatcher).matches(e)) return true;
        return false;
      default:
        for (const c of this.children) if (c.matches(v)) return true;
        return false;
    }
  }
}

export class MetadataMatcher {
  readonly filter: string;
  readonly path: readonly string[];
  readonly value: ValueMatcher;
  readonly invert: boolean;
  constructor(filter: string, path: string[], value: ValueMatcher, invert: boolean) {
    this.filter = filter;
    this.path = path;
    this.value = value;
    this.invert = invert;
  }

  matches(metadata: Readonly<Record<string, unknown>> | undefined): boolean {
    let v: unknown = metadata === undefined ? undefined : metadata[this.filter];
    for (let i = 0; i < this.path.length && v !== undefined; i++) {
      v = isObject(v) ? v[this.path[i] as string] : undefined;
    }
    return this.value.matches(v) !== this.invert;
  }

  describe(): string {
    return `dynamic_metadata ${this.filter}[${this.path.join('.')}]${this.invert ? ' (invert)' : ''}`;
  }
}

function readValueMatcher(r: ConfigReader, obj: unknown, path: string): ValueMatcher | null {
  const which = r.oneof(
    obj,
    ['null_match', 'double_match', 'string_match', 'bool_match', 'present_match', 'list_match', 'or_match'],
    path,
    'match_pattern',
  );
  switch (which) {
    case 'null_match':
      return new ValueMatcher(V_NULL, null, false, 0, 0, []);
    case 'double_match': {
      const dp = join(path, 'double_match');
      const d = r.object(obj, 'double_match', path);
      const range = r.object(d, 'range', dp);
      if (range !== undefined) {
        return new ValueMatcher(V_DOUBLE_RANGE, null, false, Number(field(range, 'start') ?? 0), Number(field(range, 'end') ?? 0), []);
      }
      const exact = field(d, 'exact');
      if (typeof exact !== 'number') {
        r.error(dp, 'one of range or exact is required');
        return null;
      }
      return new ValueMatcher(V_DOUBLE_EXACT, null, false, exact, 0, []);
    }
    case 'string_match': {
      const sm = readStringMatcher(r, field(obj, 'string_match'), join(path, 'string_match'));
      return sm === null ? null : new ValueMatcher(V_STRING, sm, false, 0, 0, []);
    }
    case 'bool_match':
      return new ValueMatcher(V_BOOL, null, r.bool(obj, 'bool_match', path) ?? false, 0, 0, []);
    case 'present_match':
      return new ValueMatcher(V_PRESENT, null, r.bool(obj, 'present_match', path) ?? false, 0, 0, []);
    case 'list_match': {
      const lp = join(path, 'list_match');
      const one = readValueMatcher(r, r.object(r.object(obj, 'list_match', path), 'one_of', lp), join(lp, 'one_of'));
      return one === null ? null : new ValueMatcher(V_LIST, null, false, 0, 0, [one]);
    }
    case 'or_match': {
      const op = join(path, 'or_match');
      const list = r.array(r.object(obj, 'or_match', path), 'value_matchers', op);
      const children: ValueMatcher[] = [];
      for (let i = 0; i < list.length; i++) {
        const c = readValueMatcher(r, list[i], `${join(op, 'value_matchers')}[${i}]`);
        if (c !== null) children.push(c);
      }
      return new ValueMatcher(V_OR, null, false, 0, 0, children);
    }
    default:
      r.error(path, 'a value matcher is required');
      return null;
  }
}

export function readMetadataMatcher(r: ConfigReader, obj: unknown, path: string): MetadataMatcher | null {
  const filter = r.string(obj, 'filter', path) ?? '';
  if (filter === '') r.error(join(path, 'filter'), 'filter is required');
  const keys: string[] = [];
  const list = r.array(obj, 'path', path);
  if (list.length === 0) r.error(join(path, 'path'), 'at least one path segment is required');
  for (let i = 0; i < list.length; i++) {
    const k = r.string(list[i], 'key', `${join(path, 'path')}[${i}]`);
    if (k === undefined || k === '') r.error(`${join(path, 'path')}[${i}].key`, 'key is required');
    else keys.push(k);
  }
  const value = readValueMatcher(r, r.object(obj, 'value', path), join(path, 'value'));
  const invert = r.bool(obj, 'invert', path) ?? false;
  return value === null || filter === '' ? null : new MetadataMatcher(filter, keys, value, invert);
}
