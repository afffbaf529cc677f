// Turns the raw outcomes of a run into the fidelity report: per-version counts with Wilson
// intervals, the chi-square goodness-of-fit test, the worst window, the sample size needed, per-user
// stickiness, and the verdict. Pure: no I/O, so every rule is testable on synthetic outcomes.

import type { LoadResult } from './load-client';
import { chiSquareGoodnessOfFit, requiredSampleSize, wilsonInterval, zForAlpha, Z_95 } from './statistics';

export interface Expectation {
  readonly version: string;
  /** Relative weight; shares are weight / sum of weights. */
  readonly weight: number;
}

export type SplitUnit = 'requests' | 'users';

export interface AnalysisOptions {
  readonly expect: readonly Expectation[];
  /** Significance level of the chi-square test (default 0.001), also the alpha of the sample size. */
  readonly alpha: number;
  /** Allowed deviation of a share from its target, as a fraction (0.01 = 1 percentage point). */
  readonly tolerance: number;
  /** Size of the consecutive windows of classified responses (default 100). */
  readonly window: number;
  /** Fail when any user saw more than one version. */
  readonly expectSticky: boolean;
  /** What the split test counts: requests, or users (each at its majority version). */
  readonly splitUnit: SplitUnit;
  /** Exit 2 when transport errors exceed this fraction of requests sent. */
  readonly maxErrorRate: number;
  /** Fail when unclassified responses exceed this fraction of responses. */
  readonly maxUnclassifiedRate: number;
  /** Context echoed in the report. */
  readonly url: string;
  readonly method: string;
  readonly classify: string;
  readonly connections: number;
  readonly users: number;
  readonly userKey: string | null;
}

export interface VersionRow {
  readonly version: string;
  /** Target share (fraction); 0 for a version that was not expected. */
  readonly target: number;
  readonly count: number;
  readonly share: number;
  /** 95% Wilson score interval of the share. */
  readonly interval: readonly [number, number];
  /** share - target (fraction). */
  readonly deviation: number;
  /** The interval lies entirely outside [target - tolerance, target + tolerance]. */
  readonly outsideTolerance: boolean;
  /** n = z² p(1-p) / tol² for this target (null for target 0). */
  readonly requiredSamples: number | null;
}

export interface SplitTest {
  readonly unit: SplitUnit;
  /** Classified requests, or users with at least one classified response. */
  readonly n: number;
  readonly versions: readonly VersionRow[];
  readonly chiSquare: { readonly statistic: number; readonly degreesOfFreedom: number; readonly pValue: number };
}

export interface WorstWindow {
  /** 0-based window number; the window covers classified responses [first, first + size). */
  readonly index: number;
  readonly first: number;
  readonly version: string;
  readonly observed: number;
  readonly expected: number;
  /** observed - expected, in requests. */
  readonly deviationRequests: number;
  /** (observed - expected) / size, in percentage points. */
  readonly deviationPoints: number;
  /** One standard deviation of the count under a random split: sqrt(size p (1-p)). */
  readonly randomSd: number;
}

export interface FidelityReport {
  readonly tool: 'weir fidelity';
  readonly schema: 1;
  readonly target: {
    readonly url: string;
    readonly method: string;
    readonly classify: string;
    readonly connections: number;
    readonly users: number;
    readonly userKey: string | null;
  };
  readonly settings: {
    readonly alpha: number;
    readonly tolerance: number;
    readonly confidence: 0.95;
    readonly window: number;
    readonly splitUnit: SplitUnit;
    readonly expectSticky: boolean;
    readonly maxErrorRate: number;
    readonly maxUnclassifiedRate: number;
  };
  readonly traffic: {
    readonly sent: number;
    readonly completed: number;
    readonly classified: number;
    readonly unclassified: number;
    readonly errors: number;
    readonly unclassifiedKinds: Readonly<Record<string, number>>;
    readonly errorKinds: Readonly<Record<string, number>>;
    readonly durationSeconds: number;
    readonly requestsPerSecond: number;
    readonly abortedBecause: string | null;
  };
  /** The split counted over classified requests. */
  readonly requests: SplitTest;
  readonly users: null | {
    readonly count: number;
    /** Users with at least one classified response. */
    readonly seen: number;
    /** Users who saw more than one version. */
    readonly multiVersion: number;
    readonly multiVersionShare: number;
    /** Each user counted once, at its majority version (ties go to the version listed first). */
    readonly split: SplitTest;
  };
  readonly windows: {
    readonly size: number;
    /** Complete windows only. */
    readonly count: number;
    readonly worst: WorstWindow | null;
  };
  readonly sampleSize: {
    readonly unit: SplitUnit;
    readonly alpha: number;
    readonly z: number;
    readonly tolerance: number;
    /** The version whose target needs the most samples (the share closest to 50%). */
    readonly version: string | null;
    readonly required: number;
    readonly have: number;
    readonly sufficient: boolean;
    /** Samples needed to confirm the largest observed deviation at alpha, or null when there is none. */
    readonly toConfirmObservedDeviation: number | null;
    readonly explanation: string;
  };
  readonly verdict: {
    readonly pass: boolean;
    /** 0 pass, 1 fail, 2 could not measure. */
    readonly exitCode: 0 | 1 | 2;
    readonly summary: string;
    readonly reasons: readonly string[];
    readonly warnings: readonly string[];
    readonly rule: string;
  };
  /** Cumulative share per version after `x[i]` classified responses (downsampled for charts). */
  readonly running: { readonly x: readonly number[]; readonly shares: Readonly<Record<string, readonly number[]>> };
}

export const VERDICT_RULE =
  'FAIL (exit 1) when the split is off target, i.e. the chi-square p-value is below --alpha AND some version\'s ' +
  '95% Wilson interval lies entirely outside target ± --tolerance (significant and beyond tolerance); or when ' +
  '--expect-sticky is set and a user saw more than one version; or when more than --max-unclassified of the ' +
  'responses carried no version. Exit 2 when nothing could be measured: more than --max-errors of the requests ' +
  'failed (connect error, reset, timeout) or no response was classified. Otherwise PASS (exit 0).';

const RUNNING_POINTS = 300;

function pct(x: number, digits = 2): string {
  return (x * 100).toFixed(digits) + '%';
}

function shareOf(expect: readonly Expectation[]): Map<string, number> {
  let total = 0;
  for (const e of expect) total += e.weight;
  const m = new Map<string, number>();
  for (const e of expect) m.set(e.version, total > 0 ? e.weight / total : 0);
  return m;
}

/** Builds the split test for `counts` over `names` (expected versions first, then unexpected ones). */
function splitTest(unit: SplitUnit, names: readonly string[], counts: readonly number[], targets: readonly number[], options: AnalysisOptions): SplitTest {
  let n = 0;
  for (const c of counts) n += c;
  const rows: VersionRow[] = [];
  for (let i = 0; i < names.length; i++) {
    const count = counts[i]!;
    const target = targets[i]!;
    const share = n === 0 ? 0 : count / n;
    const w = wilsonInterval(count, n, Z_95);
    const outside = n > 0 && (w.high < target - options.tolerance || w.low > target + options.tolerance);
    rows.push({
      version: names[i]!,
      target,
      count,
      share,
      interval: [w.low, w.high],
      deviation: share - target,
      outsideTolerance: outside,
      requiredSamples: target > 0 ? requiredSampleSize(target, options.tolerance, options.alpha) : null,
    });
  }
  const chi = n === 0 ? { statistic: 0, degreesOfFreedom: Math.max(0, targets.filter((t) => t > 0).length - 1), pValue: 1 } : chiSquareGoodnessOfFit(counts, targets);
  return { unit, n, versions: rows, chiSquare: chi };
}

export function analyze(result: LoadResult, options: AnalysisOptions): FidelityReport {
  const targetShares = shareOf(options.expect);
  // Rows: the expected versions in --expect order, then versions nobody asked for (target 0).
  const names: string[] = options.expect.map((e) => e.version);
  const rowOfName = new Map<string, number>();
  names.forEach((n, i) => rowOfName.set(n, i));
  for (const v of result.versions) {
    if (!rowOfName.has(v)) {
      rowOfName.set(v, names.length);
      names.push(v);
    }
  }
  const targets = names.map((n) => targetShares.get(n) ?? 0);
  // Map the load client's version indexes to row indexes once.
  const rowOfIndex = result.versions.map((v) => rowOfName.get(v)!);
  const V = names.length;

  // Classified sequence in completion order, as row indexes.
  const outcomes = result.outcomes;
  const sequence = new Int32Array(outcomes.length);
  let classified = 0;
  const counts = new Array<number>(V).fill(0);
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i]!;
    if (o < 0) continue;
    const row = rowOfIndex[o]!;
    sequence[classified++] = row;
    counts[row]!++;
  }
  const requests = splitTest('requests', names, counts, targets, options);

  // Users: per-user counts by version, then stickiness and the majority split.
  let users: FidelityReport['users'] = null;
  if (options.users > 0 && result.userOfOutcome !== null) {
    const K = options.users;
    const perUser = new Int32Array(K * V);
    const userOf = result.userOfOutcome;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]!;
      if (o < 0) continue;
      perUser[userOf[i]! * V + rowOfIndex[o]!]!++;
    }
    let seen = 0;
    let multi = 0;
    const userCounts = new Array<number>(V).fill(0);
    for (let u = 0; u < K; u++) {
      let versionsSeen = 0;
      let best = -1;
      let bestCount = 0;
      for (let v = 0; v < V; v++) {
        const c = perUser[u * V + v]!;
        if (c > 0) versionsSeen++;
        if (c > bestCount) {
          best = v;
          bestCount = c;
        }
      }
      if (versionsSeen === 0) continue;
      seen++;
      if (versionsSeen > 1) multi++;
      userCounts[best]!++;
    }
    users = {
      count: K,
      seen,
      multiVersion: multi,
      multiVersionShare: seen === 0 ? 0 : multi / seen,
      split: splitTest('users', names, userCounts, targets, options),
    };
  }

  const windows = worstWindow(sequence, classified, names, targets, options.window);
  const running = runningShares(sequence, classified, names);

  // Sample size on the unit the verdict tests.
  const tested = options.splitUnit === 'users' && users !== null ? users.split : requests;
  const z = zForAlpha(options.alpha);
  let binding: VersionRow | null = null;
  for (const row of tested.versions) {
    if (row.requiredSamples !== null && (binding === null || row.requiredSamples > binding.requiredSamples!)) binding = row;
  }
  const required = binding === null ? 0 : binding.requiredSamples!;
  let largest: VersionRow | null = null;
  for (const row of tested.versions) if (largest === null || Math.abs(row.deviation) > Math.abs(largest.deviation)) largest = row;
  let toConfirm: number | null = null;
  if (largest !== null && largest.deviation !== 0 && tested.n > 0) {
    const p = largest.target > 0 && largest.target < 1 ? largest.target : Math.min(Math.max(largest.share, 1e-9), 1 - 1e-9);
    toConfirm = Math.ceil((z * z * p * (1 - p)) / (largest.deviation * largest.deviation));
  }
  const unitWord = tested.unit;
  const explanation =
    binding === null
      ? 'no expected version with a positive share'
      : 'To tell a share from its target within ±' + (options.tolerance * 100).toFixed(2) + ' pp at alpha ' + options.alpha +
        ' (z = ' + z.toFixed(3) + '), n = z²·p(1−p)/tol² = ' + required + ' ' + unitWord + ' are needed (p = ' + pct(binding.target) +
        ', ' + binding.version + ', the target closest to 50%); this run has ' + tested.n + '.' +
        (toConfirm !== null && largest !== null
          ? ' Confirming the largest observed deviation (' + (largest.deviation * 100 >= 0 ? '+' : '') + (largest.deviation * 100).toFixed(2) + ' pp, ' + largest.version + ') would take ' + toConfirm + ' ' + unitWord + '.'
          : '');

  const traffic = {
    sent: result.sent,
    completed: result.completed,
    classified,
    unclassified: result.unclassified,
    errors: result.errors,
    unclassifiedKinds: result.unclassifiedKinds,
    errorKinds: result.errorKinds,
    durationSeconds: result.elapsedMs / 1000,
    requestsPerSecond: result.elapsedMs > 0 ? result.completed / (result.elapsedMs / 1000) : 0,
    abortedBecause: result.abortedBecause,
  };

  const verdict = decide(options, traffic, tested, users, required);

  return {
    tool: 'weir fidelity',
    schema: 1,
    target: { url: options.url, method: options.method, classify: options.classify, connections: options.connections, users: options.users, userKey: options.userKey },
    settings: {
      alpha: options.alpha,
      tolerance: options.tolerance,
      confidence: 0.95,
      window: options.window,
      splitUnit: tested.unit,
      expectSticky: options.expectSticky,
      maxErrorRate: options.maxErrorRate,
      maxUnclassifiedRate: options.maxUnclassifiedRate,
    },
    traffic,
    requests,
    users,
    windows,
    sampleSize: {
      unit: tested.unit,
      alpha: options.alpha,
      z,
      tolerance: options.tolerance,
      version: binding === null ? null : binding.version,
      required,
      have: tested.n,
      sufficient: tested.n >= required,
      toConfirmObservedDeviation: toConfirm,
      explanation,
    },
    verdict,
    running,
  };
}

function decide(
  options: AnalysisOptions,
  traffic: FidelityReport['traffic'],
  tested: SplitTest,
  users: FidelityReport['users'],
  required: number,
): FidelityReport['verdict'] {
  const reasons: string[] = [];
  const warnings: string[] = [];
  let exitCode: 0 | 1 | 2 = 0;

  const errorRate = traffic.sent === 0 ? 0 : traffic.errors / traffic.sent;
  if (traffic.abortedBecause !== null) {
    exitCode = 2;
    reasons.push('stopped early: ' + traffic.abortedBecause);
  } else if (errorRate > options.maxErrorRate) {
    exitCode = 2;
    reasons.push(traffic.errors + ' of ' + traffic.sent + ' requests failed (' + pct(errorRate) + ' > --max-errors ' + pct(options.maxErrorRate) + '): ' + kinds(traffic.errorKinds));
  }
  if (traffic.classified === 0) {
    exitCode = 2;
    reasons.push('no response was classified' + (traffic.unclassified > 0 ? ' (' + kinds(traffic.unclassifiedKinds) + '; check --classify)' : ''));
  }

  if (exitCode !== 2) {
    const p = tested.chiSquare.pValue;
    const off = tested.versions.filter((r) => r.outsideTolerance);
    if (p < options.alpha && off.length > 0) {
      exitCode = 1;
      reasons.push(
        'split off target over ' + tested.n + ' ' + tested.unit + ' (chi-square p = ' + formatP(p) + ' < alpha ' + options.alpha + '): ' +
          off
            .map((r) => r.version + ' ' + pct(r.share) + ' (95% CI ' + pct(r.interval[0]) + '–' + pct(r.interval[1]) + ') vs target ' + pct(r.target) + ' ± ' + (options.tolerance * 100).toFixed(2) + ' pp')
            .join(', '),
      );
    } else if (off.length > 0) {
      warnings.push(off.map((r) => r.version).join(', ') + ' outside tolerance but chi-square p = ' + formatP(p) + ' >= alpha ' + options.alpha);
    } else if (p < options.alpha) {
      warnings.push('the split differs from the target (chi-square p = ' + formatP(p) + ') but every version is within ± ' + (options.tolerance * 100).toFixed(2) + ' pp');
    }
    if (options.expectSticky) {
      if (users === null) {
        exitCode = 1;
        reasons.push('--expect-sticky needs --users');
      } else if (users.multiVersion > 0) {
        exitCode = 1;
        reasons.push(users.multiVersion + ' of ' + users.seen + ' users (' + pct(users.multiVersionShare) + ') saw more than one version; --expect-sticky wants 0');
      }
    }
    const unclassifiedRate = traffic.completed - traffic.errors === 0 ? 0 : traffic.unclassified / (traffic.completed - traffic.errors);
    if (unclassifiedRate > options.maxUnclassifiedRate) {
      exitCode = 1;
      reasons.push(traffic.unclassified + ' responses carried no version (' + pct(unclassifiedRate) + ' > --max-unclassified ' + pct(options.maxUnclassifiedRate) + '): ' + kinds(traffic.unclassifiedKinds));
    }
    if (tested.n < required) {
      warnings.push('only ' + tested.n + ' ' + tested.unit + ' classified; ' + required + ' are needed to detect a deviation of ' + (options.tolerance * 100).toFixed(2) + ' pp at alpha ' + options.alpha);
    }
  }
  if (traffic.errors > 0 && exitCode !== 2) warnings.push(traffic.errors + ' requests failed: ' + kinds(traffic.errorKinds));

  const pass = exitCode === 0;
  let summary: string;
  if (exitCode === 2) summary = 'ERROR: ' + reasons.join('; ');
  else if (!pass) summary = 'FAIL: ' + reasons.join('; ');
  else {
    summary =
      'PASS: every version within ' + (options.tolerance * 100).toFixed(2) + ' pp of its target or not significantly off (chi-square p = ' +
      formatP(tested.chiSquare.pValue) + ', ' + tested.n + ' ' + tested.unit + ')' +
      (options.expectSticky && users !== null ? '; every user saw one version' : '');
  }
  return { pass, exitCode, summary, reasons, warnings, rule: VERDICT_RULE };
}

export function formatP(p: number): string {
  if (p === 0) return '0';
  if (p < 1e-4) return p.toExponential(2);
  return p.toFixed(4);
}

function kinds(k: Readonly<Record<string, number>>): string {
  const parts: string[] = [];
  for (const key of Object.keys(k).sort((a, b) => k[b]! - k[a]!)) parts.push(key + ' ×' + k[key]);
  return parts.join(', ');
}

function worstWindow(sequence: Int32Array, n: number, names: readonly string[], targets: readonly number[], size: number): FidelityReport['windows'] {
  const V = names.length;
  const count = Math.floor(n / size);
  let worst: WorstWindow | null = null;
  let worstAbs = -1;
  const c = new Int32Array(V);
  for (let w = 0; w < count; w++) {
    c.fill(0);
    const first = w * size;
    for (let i = first; i < first + size; i++) c[sequence[i]!]!++;
    for (let v = 0; v < V; v++) {
      const p = targets[v]!;
      const expected = size * p;
      const dev = c[v]! - expected;
      if (Math.abs(dev) > worstAbs + 1e-12) {
        worstAbs = Math.abs(dev);
        worst = {
          index: w,
          first,
          version: names[v]!,
          observed: c[v]!,
          expected,
          deviationRequests: dev,
          deviationPoints: (dev / size) * 100,
          randomSd: Math.sqrt(size * p * (1 - p)),
        };
      }
    }
  }
  return { size, count, worst };
}

function runningShares(sequence: Int32Array, n: number, names: readonly string[]): FidelityReport['running'] {
  const V = names.length;
  const step = Math.max(1, Math.ceil(n / RUNNING_POINTS));
  const x: number[] = [];
  const series: number[][] = names.map(() => []);
  const c = new Float64Array(V);
  for (let i = 0; i < n; i++) {
    c[sequence[i]!]!++;
    const seen = i + 1;
    if (seen % step === 0 || seen === n) {
      x.push(seen);
      for (let v = 0; v < V; v++) series[v]!.push(c[v]! / seen);
    }
  }
  // Version names come from the server: a null-prototype object keeps "__proto__" an ordinary key.
  const shares = Object.create(null) as Record<string, number[]>;
  names.forEach((name, v) => (shares[name] = series[v]!));
  return { x, shares };
}
