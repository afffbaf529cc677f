// envoy.type.matcher.v3.StringMatcher: exact / prefix / suffix / contains (each with ignore_case,
// ASCII case folding as absl::EqualsIgnoreCase) and safe_regex (RE2 full match; ignore_case has
// no effect on it, as Envoy documents).

import { ConfigReader, field, join } from './config-reader';
import { compileRegex, type RegexMatcher } from './regex';

export const STRING_EXACT = 0;
export const STRING_PREFIX = 1;
export const STRING_SUFFIX = 2;
export const STRING_CONTAINS = 3;
export const STRING_REGEX = 4;

const KIND_NAMES = ['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const;

export class StringMatcher {
  readonly kind: number;
  /** Lower-cased when ignoreCase. */
  readonly value: string;
  readonly ignoreCase: boolean;
  readonly regex: RegexMatcher | null;

  constructor(kind: number, value: string, ignoreCase: boolean, regex: RegexMatcher | null) {
    this.kind = kind;
    this.value = ignoreCase ? value.toLowerCase() : value;
    this.ignoreCase = ignoreCase && kind !== STRING_REGEX;
    this.regex = regex;
  }

  matches(s: string): boolean {
    if (this.ignoreCase) {
      switch (this.kind) {
        case STRING_EXACT:
          return s.length === this.value.length && asciiStartsWithLower(s, this.value, 0);
        case STRING_PREFIX:
          return asciiStartsWithLower(s, this.value, 0);
        case STRING_SUFFIX:
          return s.length >= this.value.length && asciiStartsWithLower(s, this.value, s.length - this.value.length);
        case STRING_CONTAINS:
          // Rare (ignore_case contains); a lower-cased copy is fine here.
          return s.toLowerCase().includes(this.value);
      }
    }
    switch (this.kind) {
      case STRING_EXACT:
        return s === this.value;
      case STRING_PREFIX:
        return s.startsWith(this.value);
      case STRING_SUFFIX:
        return s.endsWith(this.value);
      case STRING_CONTAINS:
        return s.includes(this.value);
      default:
        return (this.regex as RegexMatcher).matches(s);
    }
  }

  describe(): string {
    const name = KIND_NAMES[this.kind] ?? '?';
    const v = this.kind === STRING_REGEX ? (this.regex as RegexMatcher).pattern : this.value;
    return `${name} ${JSON.stringify(v)}${this.ignoreCase ? ' (ignore_case)' : ''}${
      this.kind === STRING_REGEX ? ` [${(this.regex as RegexMatcher).strategy}]` : ''
    }`;
  }
}

/**
 * absl::AsciiStrToLower: only A-Z change (hosts and header names are ASCII; Envoy does not fold
 * other characters). Returns `s` itself, without allocating, when it has no upper-case letter.
 */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s;
}

/** Does `s`, from `offset`, start with `lower` (already lower case), folding ASCII case only? */
export function asciiStartsWithLower(s: string, lower: string, offset: number): boolean {
  if (s.length - offset < lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(offset + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** envoy.type.matcher.v3.RegexMatcher `{ regex, google_re2? }`. */
export function readRegexMatcher(r: ConfigReader, obj: unknown, path: string): RegexMatcher | null {
  const regex = r.string(obj, 'regex', path);
  if (regex === undefined) {
    r.error(join(path, 'regex'), 'regex is required');
    return null;
  }
  const c = compileRegex(regex);
  if (c.error !== undefined) {
    r.error(join(path, 'regex'), c.error);
    return null;
  }
  return c.matcher as RegexMatcher;
}

export function readStringMatcher(r: ConfigReader, obj: unknown, path: string): StringMatcher | null {
  const which = r.oneof(obj, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'custom'], path, 'match_pattern');
  const ignoreCase = r.bool(obj, 'ignore_case', path) ?? false;
  switch (which) {
    case 'exact':
      return new StringMatcher(STRING_EXACT, r.string(obj, 'exact', path) ?? '', ignoreCase, null);
    case 'prefix':
    case 'suffix':
    case 'contains': {
      const v = r.string(obj, which, path) ?? '';
      // PGV: prefix / suffix / contains have min_len 1.
      if (v === '') r.error(join(path, which), 'must not be empty');
      const kind = which === 'prefix' ? STRING_PREFIX : which === 'suffix' ? STRING_SUFFIX : STRING_CONTAINS;
      return new StringMatcher(kind, v, ignoreCase, null);
    }
    case 'safe_regex': {
      const re = readRegexMatcher(r, field(obj, 'safe_regex'), join(path, 'safe_regex'));
      return re === null ? null : new StringMatcher(STRING_REGEX, '', false, re);
    }
    case 'custom':
      r.error(join(path, 'custom'), 'custom string matcher extensions are not supported');
      return null;
    default:
      r.error(path, 'one of exact, prefix, suffix, contains or safe_regex is required');
      return null;
  }
}
