// envoy.config.route.v3.HeaderMatcher, with Envoy's semantics (source/common/http/header_utility):
// - a missing header fails every value matcher, even with invert_match, unless
//   treat_missing_header_as_empty (then it is matched as ""); present_match compares presence;
// - headers sent as several separate entries are matched one value at a time and the matcher
//   matches when any value does (Envoy >= 1.39, `match_headers_individually`); `invert_match` then
//   negates that, i.e. an inverted matcher matches when no value does. With
//   `matchHeadersIndividually: false` the values are joined with ',' first (Envoy <= 1.38);
// - pseudo-headers `:authority`, `:path` (with query), `:method`, `:scheme` come from the request.

import type { RequestView } from './types';
import { ConfigReader, field, join } from './config-reader';
import { readRegexMatcher, readStringMatcher, type StringMatcher } from './string-matcher';
import type { RegexMatcher } from './regex';

export const SOURCE_HEADER = 0;
export const SOURCE_AUTHORITY = 1;
export const SOURCE_PATH = 2;
export const SOURCE_METHOD = 3;
export const SOURCE_SCHEME = 4;

export function headerSource(lowerName: string): number {
  switch (lowerName) {
    case ':authority':
      return SOURCE_AUTHORITY;
    case ':path':
      return SOURCE_PATH;
    case ':method':
      return SOURCE_METHOD;
    case ':scheme':
      return SOURCE_SCHEME;
    default:
      return SOURCE_HEADER;
  }
}

/** The pseudo-header's value, or undefined for a regular header. */
export function pseudoHeaderValue(req: RequestView, source: number): string | undefined {
  switch (source) {
    case SOURCE_AUTHORITY:
      return req.authority;
    case SOURCE_PATH:
      return req.path;
    case SOURCE_METHOD:
      return req.method;
    case SOURCE_SCHEME:
      return req.scheme;
    default:
      return undefined;
  }
}

/** First value of a header (pseudo-headers included), as Envoy's `headers.get(name)[0]`. */
export function firstHeaderValue(req: RequestView, lowerName: string, source: number): string | undefined {
  if (source !== SOURCE_HEADER) return pseudoHeaderValue(req, source);
  const values = req.headerValues(lowerName);
  return values === undefined || values.length === 0 ? undefined : values[0];
}

const MATCH_EXACT = 0; // legacy exact_match ("" matches anything)
const MATCH_REGEX = 1;
const MATCH_RANGE = 2;
const MATCH_PRESENT = 3;
const MATCH_PREFIX = 4;
const MATCH_SUFFIX = 5;
const MATCH_CONTAINS = 6;
const MATCH_STRING = 7;

const INT_RE = /^\s*[+-]?\d+\s*$/;

export class HeaderMatcher {
  readonly name: string;
  readonly #source: number;
  readonly #kind: number;
  readonly #value: string;
  readonly #regex: RegexMatcher | null;
  readonly #string: StringMatcher | null;
  readonly #rangeStart: number;
  readonly #rangeEnd: number;
  readonly #present: boolean;
  readonly invertMatch: boolean;
  readonly treatMissingHeaderAsEmpty: boolean;

  constructor(
    name: string,
    kind: number,
    value: string,
    regex: RegexMatcher | null,
    string: StringMatcher | null,
    rangeStart: number,
    rangeEnd: number,
    present: boolean,
    invertMatch: boolean,
    treatMissingHeaderAsEmpty: boolean,
  ) {
    this.name = name;
    this.#source = headerSource(name);
    this.#kind = kind;
    this.#value = value;
    this.#regex = regex;
    this.#string = string;
    this.#rangeStart = rangeStart;
    this.#rangeEnd = rangeEnd;
    this.#present = present;
    this.invertMatch = invertMatch;
    this.treatMissingHeaderAsEmpty = treatMissingHeaderAsEmpty;
  }

  matches(req: RequestView, individually: boolean): boolean {
    if (this.#source !== SOURCE_HEADER) {
      return this.#specific(pseudoHeaderValue(req, this.#source) as string) !== this.invertMatch;
    }
    const values = req.headerValues(this.name);
    if (values === undefined || values.length === 0) {
      if (!this.treatMissingHeaderAsEmpty) {
        return this.#kind === MATCH_PRESENT && this.#present === this.invertMatch;
      }
      return this.#specific('') !== this.invertMatch;
    }
    if (values.length === 1) return this.#specific(values[0] as string) !== this.invertMatch;
    if (!individually) return this.#specific(values.join(',')) !== this.invertMatch;
    for (let i = 0; i < values.length; i++) {
      if (this.#specific(values[i] as string)) return !this.invertMatch;
    }
    return this.invertMatch;
  }

  /** The match on one value, before invert_match. */
  #specific(v: string): boolean {
    switch (this.#kind) {
      case MATCH_EXACT:
        return this.#value === '' || v === this.#value;
      case MATCH_REGEX:
        return (this.#regex as RegexMatcher).matches(v);
      case MATCH_RANGE:
        return inRange(v, this.#rangeStart, this.#rangeEnd);
      case MATCH_PRESENT:
        return this.#present;
      case MATCH_PREFIX:
        return v.startsWith(this.#value);
      case MATCH_SUFFIX:
        return v.endsWith(this.#value);
      case MATCH_CONTAINS:
        return v.includes(this.#value);
      default:
        return (this.#string as StringMatcher).matches(v);
    }
  }

  describe(): string {
    let what: string;
    switch (this.#kind) {
      case MATCH_EXACT:
        what = `exact_match ${JSON.stringify(this.#value)}`;
        break;
      case MATCH_REGEX:
        what = `safe_regex_match ${JSON.stringify((this.#regex as RegexMatcher).pattern)} [${(this.#regex as RegexMatcher).strategy}]`;
        break;
      case MATCH_RANGE:
        what = `range_match [${this.#rangeStart}, ${this.#rangeEnd})`;
        break;
      case MATCH_PRESENT:
        what = `present_match ${this.#present}`;
        break;
      case MATCH_PREFIX:
        what = `prefix_match ${JSON.stringify(this.#value)}`;
        break;
      case MATCH_SUFFIX:
        what = `suffix_match ${JSON.stringify(this.#value)}`;
        break;
      case MATCH_CONTAINS:
        what = `contains_match ${JSON.stringify(this.#value)}`;
        break;
      default:
        what = `string_match ${(this.#string as StringMatcher).describe()}`;
    }
    return `header ${this.name} ${what}${this.invertMatch ? ' (invert_match)' : ''}${
      this.treatMissingHeaderAsEmpty ? ' (treat_missing_header_as_empty)' : ''
    }`;
  }

  /** What the request holds for this header, for explain. */
  observed(req: RequestView): string {
    if (this.#source !== SOURCE_HEADER) return JSON.stringify(pseudoHeaderValue(req, this.#source));
    const values = req.headerValues(this.name);
    if (values === undefined || values.length === 0) return 'absent';
    return values.length === 1 ? JSON.stringify(values[0]) : `${values.length} values ${JSON.stringify(values)}`;
  }
}

/** absl::SimpleAtoi into int64, then [start, end). A non-integer never matches. */
function inRange(v: string, start: number, end: number): boolean {
  if (!INT_RE.test(v)) return false;
  const t = v.trim();
  if (t.replace(/^[+-]/, '').length <= 15) {
    const n = Number(t);
    return n >= start && n < end;
  }
  let b: bigint;
  try {
    b = BigInt(t.startsWith('+') ? t.slice(1) : t);
  } catch {
    return false;
  }
  if (b > 9223372036854775807n || b < -9223372036854775808n) return false;
  return b >= BigInt(start) && b < BigInt(end);
}

export function readHeaderMatcher(r: ConfigReader, obj: unknown, path: string): HeaderMatcher | null {
  const name = r.string(obj, 'name', path);
  if (name === undefined || name === '') {
    r.error(join(path, 'name'), 'header name is required');
    return null;
  }
  const lower = name.toLowerCase();
  const invert = r.bool(obj, 'invert_match', path) ?? false;
  const treatMissing = r.bool(obj, 'treat_missing_header_as_empty', path) ?? false;
  const which = r.oneof(
    obj,
    [
      'exact_match',
      'safe_regex_match',
      'range_match',
      'present_match',
      'prefix_match',
      'suffix_match',
      'contains_match',
      'string_match',
    ],
    path,
    'header_match_specifier',
  );
  const before = r.errors.length;
  let m: HeaderMatcher | null;
  switch (which) {
    case 'exact_match':
      m = new HeaderMatcher(lower, MATCH_EXACT, r.string(obj, which, path) ?? '', null, null, 0, 0, false, invert, treatMissing);
      break;
    case 'prefix_match':
    case 'suffix_match':
    case 'contains_match': {
      const v = r.string(obj, which, path) ?? '';
      if (v === '') r.error(join(path, which), 'must not be empty');
      const kind = which === 'prefix_match' ? MATCH_PREFIX : which === 'suffix_match' ? MATCH_SUFFIX : MATCH_CONTAINS;
      m = new HeaderMatcher(lower, kind, v, null, null, 0, 0, false, invert, treatMissing);
      break;
    }
    case 'safe_regex_match': {
      const re = readRegexMatcher(r, field(obj, which), join(path, which));
      m = re === null ? null : new HeaderMatcher(lower, MATCH_REGEX, '', re, null, 0, 0, false, invert, treatMissing);
      break;
    }
    case 'range_match': {
      const rp = join(path, which);
      const range = r.object(obj, which, path);
      const start = r.int(range, 'start', rp) ?? 0;
      const end = r.int(range, 'end', rp) ?? 0;
      m = new HeaderMatcher(lower, MATCH_RANGE, '', null, null, start, end, false, invert, treatMissing);
      break;
    }
    case 'present_match': {
      const present = r.bool(obj, which, path) ?? false;
      m = new HeaderMatcher(lower, MATCH_PRESENT, '', null, null, 0, 0, present, invert, treatMissing);
      break;
    }
    case 'string_match': {
      const sm = readStringMatcher(r, field(obj, which), join(path, which));
      m = sm === null ? null : new HeaderMatcher(lower, MATCH_STRING, '', null, sm, 0, 0, false, invert, treatMissing);
      break;
    }
    default:
      // No specifier: Envoy treats it as present_match: true.
      m = new HeaderMatcher(lower, MATCH_PRESENT, '', null, null, 0, 0, true, invert, treatMissing);
  }
  return r.errors.length === before ? m : null;
}

export function readHeaderMatchers(r: ConfigReader, obj: unknown, name: string, path: string): HeaderMatcher[] {
  const list = r.array(obj, name, path);
  if (list.length === 0) return NO_HEADER_MATCHERS;
  const out: HeaderMatcher[] = [];
  for (let i = 0; i < list.length; i++) {
    const m = readHeaderMatcher(r, list[i], `${join(path, name)}[${i}]`);
    if (m !== null) out.push(m);
  }
  return out;
}

const NO_HEADER_MATCHERS: HeaderMatcher[] = [];

export function matchAllHeaders(matchers: readonly HeaderMatcher[], req: RequestView, individually: boolean): boolean {
  for (let i = 0; i < matchers.length; i++) {
    if (!(matchers[i] as HeaderMatcher).matches(req, individually)) return false;
  }
  return true;
}
