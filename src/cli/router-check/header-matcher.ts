// The `request_header_matches` / `response_header_matches` checks of router_check_tool
// (RouterCheckTool::matchHeaderField in test/tools/router_check/router.cc): an
// envoy.config.route.v3.HeaderMatcher evaluated by Http::HeaderUtility::matchHeaders against the
// finalized header map, and on failure the tool's exact report line.
//
// The tool matches against all values of the header joined with "," (getAllOfHeaderAsString), as
// the Envoy the conformance suite comes from does (DirectResponse.golden expects
// `content-type` "text/plain,application/json" when the route appends a second value).

import { RE2JS } from 're2js';
import { isObject } from '../../util/proto-json';
import type { HeaderMap } from './header-map';

type Specifier =
  | 'exact_match'
  | 'safe_regex_match'
  | 'range_match'
  | 'present_match'
  | 'prefix_match'
  | 'suffix_match'
  | 'contains_match'
  | 'string_match';

const SPECIFIERS: readonly Specifier[] = [
  'exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match', 'suffix_match',
  'contains_match', 'string_match',
];
const STRING_PATTERNS = ['exact', 'prefix', 'suffix', 'safe_regex', 'contains', 'custom'] as const;

const CAMEL: Record<string, string> = {
  exact_match: 'exactMatch', safe_regex_match: 'safeRegexMatch', range_match: 'rangeMatch',
  present_match: 'presentMatch', prefix_match: 'prefixMatch', suffix_match: 'suffixMatch',
  contains_match: 'containsMatch', string_match: 'stringMatch', invert_match: 'invertMatch',
  treat_missing_header_as_empty: 'treatMissingHeaderAsEmpty', safe_regex: 'safeRegex', ignore_case: 'ignoreCase',
};

function f(obj: Record<string, unknown>, name: string): unknown {
  const v = obj[name];
  return v !== undefined ? v : obj[CAMEL[name] ?? name];
}

export class HeaderMatcherError extends Error {}

/** A compiled validation matcher. Compile once per test-file entry; throws on a bad regex. */
export class ToolHeaderMatcher {
  readonly name: string;
  readonly key: string;
  readonly specifier: Specifier | undefined;
  readonly invert: boolean;
  readonly treatMissingAsEmpty: boolean;
  readonly stringPattern: (typeof STRING_PATTERNS)[number] | undefined;
  readonly #test: (value: string) => boolean;
  readonly #present: boolean;
  readonly #exact: string;

  constructor(raw: Record<string, unknown>) {
    this.name = String(f(raw, 'name') ?? '');
    this.key = this.name.toLowerCase();
    this.invert = f(raw, 'invert_match') === true;
    this.treatMissingAsEmpty = f(raw, 'treat_missing_header_as_empty') === true;
    this.specifier = SPECIFIERS.find((s) => f(raw, s) !== undefined && f(raw, s) !== null);
    this.#present = true;
    this.#exact = '';
    this.stringPattern = undefined;
    const spec = this.specifier === undefined ? undefined : f(raw, this.specifier);
    switch (this.specifier) {
      case undefined:
        this.#test = () => true;
        break;
      case 'present_match':
        this.#present = spec === true;
        this.#test = () => this.#present;
        break;
      case 'exact_match': {
        const want = String(spec);
        this.#exact = want;
        // Deprecated exact_match: an empty value matches any present header (HeaderMatchType::Value).
        this.#test = (v) => want === '' || v === want;
        break;
      }
      case 'prefix_match': {
        const want = String(spec);
        this.#test = (v) => v.startsWith(want);
        break;
      }
      case 'suffix_match': {
        const want = String(spec);
        this.#test = (v) => v.endsWith(want);
        break;
      }
      case 'contains_match': {
        const want = String(spec);
        this.#test = (v) => v.includes(want);
        break;
      }
      case 'safe_regex_match': {
        const re = compileRegex(isObject(spec) ? spec.regex : undefined);
        this.#test = (v) => re.matches(v);
        break;
      }
      case 'range_match': {
        const r = isObject(spec) ? spec : {};
        const start = toBigInt(r.start);
        const end = toBigInt(r.end);
        this.#test = (v) => {
          const n = simpleAtoi(v);
          return n !== undefined && n >= start && n < end;
        };
        break;
      }
      case 'string_match': {
        const sm = isObject(spec) ? spec : {};
        const ignoreCase = f(sm, 'ignore_case') === true;
        const pattern = STRING_PATTERNS.find((p) => f(sm, p) !== undefined && f(sm, p) !== null);
        this.stringPattern = pattern;
        const fold = (s: string): string => (ignoreCase ? asciiLower(s) : s);
        const val = pattern === undefined ? undefined : f(sm, pattern);
        switch (pattern) {
          case 'exact': {
            const want = String(val);
            this.#exact = want;
            this.#test = (v) => fold(v) === fold(want);
            break;
          }
          case 'prefix': {
            const want = fold(String(val));
            this.#test = (v) => fold(v).startsWith(want);
            break;
          }
          case 'suffix': {
            const want = fold(String(val));
            this.#test = (v) => fold(v).endsWith(want);
            break;
          }
          case 'contains': {
            const want = fold(String(val));
            this.#test = (v) => fold(v).includes(want);
            break;
          }
          case 'safe_regex': {
            const re = compileRegex(isObject(val) ? val.regex : undefined);
            this.#test = (v) => re.matches(v);
            break;
          }
          default:
            throw new HeaderMatcherError(`header matcher "${this.name}": string_match has no supported pattern`);
        }
        break;
      }
    }
  }

  /** Http::HeaderUtility::matchHeaders for one matcher. */
  matches(headers: HeaderMap): boolean {
    const values = headers.getAll(this.key);
    if (this.specifier === 'present_match' || this.specifier === undefined) {
      return (values !== undefined) === this.#present !== this.invert;
    }
    if (values === undefined && !this.treatMissingAsEmpty) return false;
    const value = values === undefined ? '' : values.join(',');
    return this.#test(value) !== this.invert;
  }

  /** The `test type` of a failure: `<prefix>.string_match.exact`, `<prefix>.range_match`, ... */
  testType(prefix: string): string {
    if (this.specifier === undefined) return `${prefix}.present_match`;
    if (this.specifier === 'string_match') return `${prefix}.string_match.${this.stringPattern ?? 'match_pattern_not_set'}`;
    return `${prefix}.${this.specifier}`;
  }

  /**
   * The line router_check prints when the matcher fails (RouterCheckTool::matchHeaderField):
   * present -> `expected: [has(n):true], actual: [has(n):false]`; string_match.exact ->
   * `expected: [n: want], actual: [NOT ][n: first-value]`; others -> `actual: [n: first-value]`.
   */
  failureLine(headers: HeaderMap, prefix: string): string {
    const type = this.testType(prefix);
    const first = headers.get(this.key);
    const shown = first === undefined ? 'NULL' : first;
    if (this.specifier === undefined || this.specifier === 'present_match') {
      const actual = `has(${this.name}):${this.invert ? 'true' : 'false'}`;
      const expected = `has(${this.name}):${this.invert ? 'false' : 'true'}`;
      return reportLine(actual, expected, type, true);
    }
    if (this.specifier === 'string_match' && this.stringPattern === 'exact') {
      return reportLine(`${this.name}: ${shown}`, `${this.name}: ${this.#exact}`, type, !this.invert);
    }
    return `actual: [${this.name}: ${shown}], test type: ${type}`;
  }
}

/** RouterCheckTool::reportFailure. */
export function reportLine(actual: string, expected: string, type: string, expectMatch = true): string {
  return `expected: [${expected}], actual: ${expectMatch ? '' : 'NOT '}[${actual}], test type: ${type}`;
}

function compileRegex(regex: unknown): RE2JS {
  if (typeof regex !== 'string') throw new HeaderMatcherError('safe_regex: regex is required');
  try {
    return RE2JS.compile(regex);
  } catch (e) {
    throw new HeaderMatcherError(`Invalid regex '${regex}': ${(e as Error).message}`);
  }
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^[-+]?\d+$/.test(v.trim())) return BigInt(v.trim());
  return 0n;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** absl::SimpleAtoi<int64_t>: optional surrounding ASCII whitespace and sign, decimal digits, in range. */
function simpleAtoi(s: string): bigint | undefined {
  const m = /^[ \t\n\v\f\r]*([-+]?\d+)[ \t\n\v\f\r]*$/.exec(s);
  if (!m) return undefined;
  const n = BigInt(m[1]!);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}
