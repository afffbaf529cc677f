// Command-line flags of `weir fidelity`, parsed into FidelityOptions. Every mistake is a UsageError
// (exit 2) naming the flag.

import { UsageError } from '../errors';
import type { Expectation, SplitUnit } from './analyze';
import { DEFAULT_BODY_LIMIT_KIB, parseClassifierSpec } from './classifier';
import { FIDELITY_DEFAULTS } from './run-fidelity';
import type { FidelityOptions } from './run-fidelity';

export interface FidelityCommand {
  readonly help: boolean;
  readonly json: boolean;
  readonly svg: string | null;
  /** Set unless help. */
  readonly options: FidelityOptions | null;
}

export const FIDELITY_HELP = `Usage: weir fidelity --url URL --expect v1=90,v2=10 [options]

Measures how a proxy (any proxy) splits traffic between versions: sends requests, classifies each
response by version, and tests the observed split against the expected one.

Target and traffic:
  --url URL                 where to send requests (http only)
  --expect V=W,V=W,...      expected versions and weights (weights need not sum to 100)
  --classify SPEC           how to tell the version of a response (default header:x-version):
                              header:NAME      value of response header NAME
                              body:REGEX       capture group 1 of a JavaScript RegExp on the first
                                               --body-limit KiB of the body (body:/REGEX/i for flags)
                              status           the status code
  --body-limit KIB          body bytes the body classifier reads (default ${DEFAULT_BODY_LIMIT_KIB}); bodies
                            are discarded unread for header: and status
  --requests N              requests to send (default ${FIDELITY_DEFAULTS.requests}; with --duration only, unlimited)
  --duration D              stop after D (10s, 500ms, 2m); with --requests, whichever comes first
  --connections C           concurrent connections, each with one request in flight (default ${FIDELITY_DEFAULTS.connections})
  --method M                request method (default GET)
  -H, --header 'N: V'       extra request header (repeatable)
  --timeout D               per-request headers/body timeout (default 10s)

Users (stickiness):
  --users K                 send K distinct user keys user-0 .. user-<K-1>
  --user-cookie NAME        ... as cookie NAME=user-<i>
  --user-header NAME        ... or as header NAME: user-<i>
  --user-order ORDER        round-robin (default: request j goes to user j mod K, in send order)
                            or random (uniform, reproducible with --seed N, default 1)
  --expect-sticky           fail when any user saw more than one version
  --split-unit UNIT         what the split test counts: requests, or users (each user once, at
                            its majority version). Default: users with --expect-sticky (sticky
                            routing assigns users, not requests, so users are the independent
                            samples), else requests.

Statistics and verdict:
  --alpha A                 significance level of the chi-square test (default ${FIDELITY_DEFAULTS.alpha})
  --tolerance PP            allowed deviation per version in percentage points (default ${FIDELITY_DEFAULTS.tolerance * 100})
  --window N                window size for the worst windowed deviation (default ${FIDELITY_DEFAULTS.window})
  --max-errors PCT          exit 2 above this % of failed requests (default ${FIDELITY_DEFAULTS.maxErrorRate * 100})
  --max-unclassified PCT    fail above this % of responses without a version (default ${FIDELITY_DEFAULTS.maxUnclassifiedRate * 100})

Output:
  (default)                 a table on stdout
  --json                    the report as JSON on stdout (shares as fractions)
  --svg FILE                also write an SVG chart: target vs observed with 95% intervals,
                            deviation from target, running share over time

Report: per version the count, observed share, 95% Wilson score interval and target; Pearson's
chi-square goodness-of-fit p-value; the worst deviation over consecutive windows of --window
classified responses (completion order); the sample size n = z^2 p(1-p) / tol^2 needed to pin
every share within the tolerance at alpha (p: the target closest to 50%, z = z(1 - alpha/2));
unclassified responses and errors, counted separately; with --users, the share of users who saw
more than one version and the split by users.

Verdict and exit code:
  1 FAIL  the split is off target: the chi-square p-value is below --alpha AND some version's 95%
          Wilson interval lies entirely outside target ± tolerance (the deviation is both
          significant and larger than the tolerance; a version not in --expect has target 0);
          or --expect-sticky and some user saw more than one version;
          or more than --max-unclassified of the responses carried no version.
  2 ERROR usage error, or nothing could be measured: more than --max-errors of the requests failed
          (connect error, reset, timeout), the target looked down (more than half of at least
          100 requests failed), or no response was classified.
  0 PASS  otherwise. A warning says when fewer samples were taken than the tolerance needs.
`;

const VALUE_FLAGS = new Set([
  '--url', '--expect', '--classify', '--body-limit', '--requests', '--duration', '--connections', '--method', '--header', '-H',
  '--timeout', '--users', '--user-cookie', '--user-header', '--user-order', '--seed', '--split-unit', '--alpha', '--tolerance',
  '--window', '--max-errors', '--max-unclassified', '--svg',
]);
const BOOLEAN_FLAGS = new Set(['--json', '--expect-sticky', '--help', '-h']);

/** "10s", "500ms", "2m", "1.5s"; a bare number is seconds. */
export function parseDurationFlag(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(flag + ': "' + v + '" is not a duration (e.g. 10s, 500ms, 2m)');
  const x = Number(m[1]);
  const ms = m[2] === 'ms' ? x : m[2] === 'm' ? x * 60_000 : x * 1000;
  if (!(ms > 0)) throw new UsageError(flag + ': must be > 0');
  return ms;
}

function positiveInt(flag: string, v: string, min = 1): number {
  if (!/^\d+$/.test(v.trim())) throw new UsageError(flag + ': "' + v + '" is not a whole number');
  const x = Number(v);
  if (!Number.isSafeInteger(x) || x < min) throw new UsageError(flag + ': must be >= ' + min);
  return x;
}

function number(flag: string, v: string, low: number, high: number, lowOpen: boolean): number {
  const x = Number(v.trim().replace(/%$/, ''));
  if (v.trim() === '' || !Number.isFinite(x) || (lowOpen ? x <= low : x < low) || x > high) {
    throw new UsageError(flag + ': "' + v + '" must be a number in ' + (lowOpen ? '(' : '[') + low + ', ' + high + ']');
  }
  return x;
}

/** `v1=90,v2=10` (also `v1:90`). Weights are relative; versions must be distinct. */
export function parseExpect(v: string): Expectation[] {
  const out: Expectation[] = [];
  const seen = new Set<string>();
  for (const part of v.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const m = /^(.+?)[=:]\s*(\d+(?:\.\d+)?)%?$/.exec(item);
    if (!m) throw new UsageError('--expect: "' + item + '" is not VERSION=WEIGHT');
    const version = m[1]!.trim();
    if (seen.has(version)) throw new UsageError('--expect: version "' + version + '" is listed twice');
    seen.add(version);
    out.push({ version, weight: Number(m[2]) });
  }
  if (out.length === 0) throw new UsageError('--expect: no versions');
  if (!(out.reduce((s, e) => s + e.weight, 0) > 0)) throw new UsageError('--expect: the weights sum to 0');
  return out;
}

function headerPair(v: string): [string, string] {
  const colon = v.indexOf(':');
  if (colon <= 0) throw new UsageError('--header: "' + v + '" is not "name: value"');
  const name = v.slice(0, colon).trim();
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new UsageError('--header: "' + name + '" is not a valid header name');
  return [name, v.slice(colon + 1).trim()];
}

/** Parses the arguments after `weir fidelity`. Throws UsageError. */
export function parseFidelityArgs(argv: readonly string[]): FidelityCommand {
  const values = new Map<string, string>();
  const headers: [string, string][] = [];
  const booleans = new Set<string>();
  let positional: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (BOOLEAN_FLAGS.has(arg)) {
      if (value !== undefined) throw new UsageError(arg + ' takes no value');
      booleans.add(arg === '-h' ? '--help' : arg);
      continue;
    }
    if (VALUE_FLAGS.has(arg)) {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new UsageError(arg + ' needs a value');
        value = argv[++i]!;
      }
      if (arg === '-H' || arg === '--header') headers.push(headerPair(value));
      else if (values.has(arg)) throw new UsageError(arg + ' given twice');
      else values.set(arg, value);
      continue;
    }
    if (arg.startsWith('-')) throw new UsageError('unknown flag ' + arg + ' (see weir fidelity --help)');
    if (positional !== null) throw new UsageError('unexpected argument "' + arg + '"');
    positional = arg;
  }
  const json = booleans.has('--json');
  const svg = values.get('--svg') ?? null;
  if (booleans.has('--help')) return { help: true, json, svg, options: null };

  const url = values.get('--url') ?? positional;
  if (url === null || url === undefined) throw new UsageError('--url is required (see weir fidelity --help)');
  if (values.has('--url') && positional !== null) throw new UsageError('unexpected argument "' + positional + '"');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError('--url: "' + url + '" is not a URL');
  }
  if (parsed.protocol !== 'http:') throw new UsageError('--url: only http:// is supported, got ' + parsed.protocol);
  const expectFlag = values.get('--expect');
  if (expectFlag === undefined) throw new UsageError('--expect is required, e.g. --expect v1=90,v2=10');
  const expect = parseExpect(expectFlag);

  const bodyLimit = values.has('--body-limit') ? number('--body-limit', values.get('--body-limit')!, 0, 1 << 20, true) : DEFAULT_BODY_LIMIT_KIB;
  const classify = parseClassifierSpec(values.get('--classify') ?? 'header:x-version', bodyLimit);

  const durationMs = values.has('--duration') ? parseDurationFlag('--duration', values.get('--duration')!) : null;
  const requests = values.has('--requests')
    ? positiveInt('--requests', values.get('--requests')!)
    : durationMs !== null ? null : FIDELITY_DEFAULTS.requests;
  const connections = values.has('--connections') ? positiveInt('--connections', values.get('--connections')!) : FIDELITY_DEFAULTS.connections;
  const method = (values.get('--method') ?? FIDELITY_DEFAULTS.method).toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new UsageError('--method: "' + method + '" is not a method');

  const userCount = values.has('--users') ? positiveInt('--users', values.get('--users')!) : 0;
  const cookie = values.get('--user-cookie');
  const userHeader = values.get('--user-header');
  if (cookie !== undefined && userHeader !== undefined) throw new UsageError('--user-cookie and --user-header are exclusive');
  if (userCount > 0 && cookie === undefined && userHeader === undefined) throw new UsageError('--users needs --user-cookie NAME or --user-header NAME');
  if (userCount === 0 && (cookie !== undefined || userHeader !== undefined)) throw new UsageError('--user-cookie / --user-header need --users K');
  if (cookie !== undefined && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie)) throw new UsageError('--user-cookie: "' + cookie + '" is not a cookie name');
  if (userHeader !== undefined) headerPair(userHeader + ': x');
  const order = values.get('--user-order') ?? 'round-robin';
  if (order !== 'round-robin' && order !== 'random') throw new UsageError('--user-order: "' + order + '" is not round-robin or random');
  const seed = values.has('--seed') ? positiveInt('--seed', values.get('--seed')!, 0) : 1;
  const expectSticky = booleans.has('--expect-sticky');
  if (expectSticky && userCount === 0) throw new UsageError('--expect-sticky needs --users K with --user-cookie or --user-header');
  const unitFlag = values.get('--split-unit');
  if (unitFlag !== undefined && unitFlag !== 'requests' && unitFlag !== 'users') throw new UsageError('--split-unit: "' + unitFlag + '" is not requests or users');
  if (unitFlag === 'users' && userCount === 0) throw new UsageError('--split-unit users needs --users K');
  const splitUnit: SplitUnit = (unitFlag as SplitUnit | undefined) ?? (expectSticky ? 'users' : 'requests');

  const alpha = values.has('--alpha') ? number('--alpha', values.get('--alpha')!, 0, 0.5, true) : FIDELITY_DEFAULTS.alpha;
  const tolerance = values.has('--tolerance') ? number('--tolerance', values.get('--tolerance')!, 0, 100, true) / 100 : FIDELITY_DEFAULTS.tolerance;
  const window = values.has('--window') ? positiveInt('--window', values.get('--window')!) : FIDELITY_DEFAULTS.window;
  const maxErrorRate = values.has('--max-errors') ? number('--max-errors', values.get('--max-errors')!, 0, 100, false) / 100 : FIDELITY_DEFAULTS.maxErrorRate;
  const maxUnclassifiedRate = values.has('--max-unclassified')
    ? number('--max-unclassified', values.get('--max-unclassified')!, 0, 100, false) / 100
    : FIDELITY_DEFAULTS.maxUnclassifiedRate;
  const timeoutMs = values.has('--timeout') ? parseDurationFlag('--timeout', values.get('--timeout')!) : FIDELITY_DEFAULTS.timeoutMs;

  return {
    help: false,
    json,
    svg,
    options: {
      url: parsed.href,
      expect,
      classify,
      method,
      headers,
      requests,
      durationMs,
      connections,
      users: userCount === 0 ? null : { count: userCount, cookie, header: userHeader, order, seed },
      alpha,
      tolerance,
      window,
      expectSticky,
      splitUnit,
      maxErrorRate,
      maxUnclassifiedRate,
      timeoutMs,
    },
  };
}
