// RE2 regular expressions as Envoy uses them (`envoy.type.matcher.v3.RegexMatcher`, Google RE2
// engine): full match, linear time on any input, and patterns RE2 rejects (back-references,
// look-around) are configuration errors. re2js is a pure-JS port of RE2 with the same guarantees.
//
// The hottest matcher in canary configs is a regex on the `cookie` header (`.*canary=true.*`,
// Istio's `^(.*?;)?(user=jason)(;.*)?$`). Those are literals in disguise, so they compile to plain
// string operations; anything else goes to re2js. RE2's `.` does not match `\n` (no `s` flag), so
// every fast path also requires the input to hold no `\n`, exactly as the regex would.

import { RE2JS } from 're2js';

type Re2 = ReturnType<typeof RE2JS.compile>;

/** How a compiled pattern is evaluated; shown by explain and asserted by tests. */
export type RegexStrategy = 'exact' | 'prefix' | 'suffix' | 'contains' | 'delimited' | 're2';

const KIND_EXACT = 0;
const KIND_PREFIX = 1;
const KIND_SUFFIX = 2;
const KIND_CONTAINS = 3;
const KIND_DELIMITED = 4;
const KIND_RE2 = 5;

const STRATEGY_NAMES: readonly RegexStrategy[] = ['exact', 'prefix', 'suffix', 'contains', 'delimited', 're2'];

const NEWLINE = 10;

export class RegexMatcher {
  readonly pattern: string;
  readonly #kind: number;
  /** The literal for the string-operation strategies ('' for re2). */
  readonly #literal: string;
  /** `delimited`: the character that must precede (or start) / follow (or end) the literal. */
  readonly #before: number;
  readonly #after: number;
  readonly #re: Re2 | null;

  constructor(pattern: string, kind: number, literal: string, before: number, after: number, re: Re2 | null) {
    this.pattern = pattern;
    this.#kind = kind;
    this.#literal = literal;
    this.#before = before;
    this.#after = after;
    this.#re = re;
  }

  get strategy(): RegexStrategy {
    return STRATEGY_NAMES[this.#kind] as RegexStrategy;
  }

  /** RE2 full match (`RE2::FullMatch`), as Envoy's `CompiledGoogleReMatcher::match`. */
  matches(s: string): boolean {
    switch (this.#kind) {
      case KIND_EXACT:
        return s === this.#literal;
      case KIND_PREFIX:
        return s.startsWith(this.#literal) && s.indexOf('\n', this.#literal.length) === -1;
      case KIND_SUFFIX:
        return s.endsWith(this.#literal) && s.indexOf('\n') === -1;
      case KIND_CONTAINS:
        return s.indexOf('\n') === -1 && s.includes(this.#literal);
      case KIND_DELIMITED:
        return this.#matchDelimited(s);
      default:
        return (this.#re as Re2).testExact(s);
    }
  }

  /**
   * `(.*?B)?X(A.*)?`: some occurrence of X starts the string or follows B, and ends the string or
   * is followed by A; nothing may be `\n`.
   */
  #matchDelimited(s: string): boolean {
    if (s.indexOf('\n') !== -1) return false;
    const lit = this.#literal;
    const len = lit.length;
    let i = s.indexOf(lit);
    while (i !== -1) {
      const end = i + len;
      if ((i === 0 || s.charCodeAt(i - 1) === this.#before) && (end === s.length || s.charCodeAt(end) === this.#after)) {
        return true;
      }
      i = s.indexOf(lit, i + 1);
    }
    return false;
  }

  /** The re2js program, when the pattern needed one (rewrites always do). */
  get re2(): Re2 | null {
    return this.#re;
  }
}

/** Compile an RE2 pattern for full matching; `error` says why RE2 rejects it. */
export function compileRegex(pattern: string): { matcher: RegexMatcher; error?: undefined } | { error: string; matcher?: undefined } {
  let re: Re2;
  try {
    // Always compile with RE2 too: it is the validator (a pattern RE2 rejects is an error even when
    // a fast path would have handled it) and the fallback.
    re = RE2JS.compile(pattern);
  } catch (e) {
    return { error: `invalid regex "${pattern}": ${(e as Error).message}` };
  }
  const fast = literalShape(pattern);
  if (fast === null) return { matcher: new RegexMatcher(pattern, KIND_RE2, '', 0, 0, re) };
  return { matcher: new RegexMatcher(pattern, fast.kind, fast.literal, fast.before, fast.after, re) };
}

/**
 * A regex plus an RE2 rewrite string (`regex_rewrite`, `host_rewrite_path_regex`): Envoy calls
 * `RE2::GlobalReplace`, where `\0`..`\9` insert groups and `\\` a backslash.
 */
export class RegexRewrite {
  readonly pattern: string;
  readonly substitution: string;
  readonly #re: Re2;
  /** Substitution split at group references: literal, group, literal, group, ..., literal. */
  readonly #parts: readonly string[];
  readonly #groups: readonly number[];

  constructor(pattern: string, substitution: string, re: Re2, parts: string[], groups: number[]) {
    this.pattern = pattern;
    this.substitution = substitution;
    this.#re = re;
    this.#parts = parts;
    this.#groups = groups;
  }

  /**
   * RE2::GlobalReplace: every non-overlapping match, left to right; an empty match right after
   * the previous match is skipped (so `.*` on `abc` gives one replacement, not two as in JS).
   */
  replaceAll(s: string): string {
    const m = this.#re.matcher(s);
    let out = '';
    let p = 0;
    let lastEnd = -1;
    while (p <= s.length) {
      if (!m.find(p)) break;
      const start = m.start();
      const end = m.end();
      if (p < start) out += s.slice(p, start);
      if (start === lastEnd && start === end) {
        if (p < s.length) out += s[p];
        p++;
        continue;
      }
      out += this.#parts[0];
      for (let i = 0; i < this.#groups.length; i++) {
        const g = m.group(this.#groups[i] as number);
        if (g !== null && g !== undefined) out += g;
        out += this.#parts[i + 1];
      }
      p = end;
      lastEnd = end;
    }
    if (p < s.length) out += s.slice(p);
    return out;
  }
}

export function compileRewrite(
  pattern: string,
  substitution: string,
): { rewrite: RegexRewrite; error?: undefined } | { error: string; rewrite?: undefined } {
  let re: Re2;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    return { error: `invalid regex "${pattern}": ${(e as Error).message}` };
  }
  const parts: string[] = [];
  const groups: number[] = [];
  let lit = '';
  for (let i = 0; i < substitution.length; i++) {
    const ch = substitution[i] as string;
    if (ch !== '\\') {
      lit += ch;
      continue;
    }
    const next = substitution[i + 1];
    if (next === undefined) return { error: `invalid substitution "${substitution}": trailing \\` };
    i++;
    if (next === '\\') {
      lit += '\\';
    } else if (next >= '0' && next <= '9') {
      const n = next.charCodeAt(0) - 48;
      // RE2::CheckRewriteString: a rewrite may not ask for more groups than the regex has.
      if (n > re.groupCount()) {
        return {
          error: `invalid substitution "${substitution}": \\${n} but the regex has ${re.groupCount()} capture group(s)`,
        };
      }
      parts.push(lit);
      groups.push(n);
      lit = '';
    } else {
      return { error: `invalid substitution "${substitution}": invalid rewrite pattern \\${next}` };
    }
  }
  parts.push(lit);
  return { rewrite: new RegexRewrite(pattern, substitution, re, parts, groups) };
}

// ---- literal shapes ----------------------------------------------------------------------------

const META = new Set(['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$']);

/** Reads a literal starting at `i`; returns the literal and where it stopped, or null if empty. */
function readLiteral(p: string, i: number): { literal: string; end: number } {
  let lit = '';
  while (i < p.length) {
    const ch = p[i] as string;
    if (ch === '\\') {
      const next = p[i + 1];
      // Only escaped punctuation is a literal; \d, \w, \b, \Q, \x.. and friends are not.
      if (next === undefined || /[0-9A-Za-z]/.test(next) || next.charCodeAt(0) > 127) break;
      lit += next;
      i += 2;
      continue;
    }
    if (META.has(ch)) break;
    // Non-ASCII could interact with RE2's UTF-8 handling; keep the fast path to ASCII.
    if (ch.charCodeAt(0) > 127 || ch === '\n') return { literal: '', end: -1 };
    lit += ch;
    i++;
  }
  return { literal: lit, end: i };
}

interface LiteralShape {
  kind: number;
  literal: string;
  before: number;
  after: number;
}

/**
 * Recognises patterns that are string operations in disguise (after dropping a leading `^` and a
 * trailing `$`, which are no-ops under full match without the `m` flag):
 *   `X`, `.*X`, `X.*`, `.*X.*`, and `(.*?B)?X(A.*)?` (also with `.*`, `(?:`, and X in a group).
 * Anything else returns null and is left to RE2.
 */
export function literalShape(pattern: string): LiteralShape | null {
  let p = pattern;
  if (p.startsWith('^')) p = p.slice(1);
  if (p.endsWith('$') && !p.endsWith('\\$')) p = p.slice(0, -1);
  if (p.length === 0) return null;

  // Delimited (cookie) shape.
  const pre = /^\((?:\?:)?\.\*\??(\\?[^\w\s\\])\)\?/.exec(p);
  if (pre !== null) {
    const before = unescapeChar(pre[1] as string);
    let rest = p.slice(pre[0].length);
    const post = /\((?:\?:)?(\\?[^\w\s\\])\.\*\)\?$/.exec(rest);
    if (before === null || post === null) return null;
    const after = unescapeChar(post[1] as string);
    if (after === null) return null;
    rest = rest.slice(0, rest.length - post[0].length);
    const inner = /^\((?:\?:)?(.*)\)$/.exec(rest);
    if (inner !== null) rest = inner[1] as string;
    const lit = readLiteral(rest, 0);
    if (lit.end !== rest.length || lit.literal.length === 0) return null;
    return { kind: KIND_DELIMITED, literal: lit.literal, before: before.charCodeAt(0), after: after.charCodeAt(0) };
  }

  let leading = false;
  let trailing = false;
  if (p.startsWith('.*')) {
    leading = true;
    p = p.slice(2);
    if (p.startsWith('?')) p = p.slice(1); // lazy is the same set of strings under full match
  }
  if (p.endsWith('.*') && !p.endsWith('\\.*')) {
    trailing = true;
    p = p.slice(0, -2);
  } else if (p.endsWith('.*?') && !p.endsWith('\\.*?')) {
    trailing = true;
    p = p.slice(0, -3);
  }
  const lit = readLiteral(p, 0);
  if (lit.end !== p.length || lit.literal.length === 0) return null;
  const kind = leading ? (trailing ? KIND_CONTAINS : KIND_SUFFIX) : trailing ? KIND_PREFIX : KIND_EXACT;
  return { kind, literal: lit.literal, before: 0, after: 0 };
}

function unescapeChar(s: string): string | null {
  if (s.length === 1) return META.has(s) ? null : s;
  if (s.length === 2 && s[0] === '\\') return s[1] as string;
  return null;
}
