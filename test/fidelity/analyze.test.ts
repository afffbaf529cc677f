// The verdict rule, windows, users and sample size on synthetic outcomes (no network).
import t from 'tap';
import { analyze } from '../../src/fidelity/analyze';
import type { AnalysisOptions } from '../../src/fidelity/analyze';
import { OUTCOME_ERROR, OUTCOME_UNCLASSIFIED } from '../../src/fidelity/load-client';
import type { LoadResult } from '../../src/fidelity/load-client';

const BASE: AnalysisOptions = {
  expect: [
    { version: 'v1', weight: 90 },
    { version: 'v2', weight: 10 },
  ],
  alpha: 0.001,
  tolerance: 0.01,
  window: 100,
  expectSticky: false,
  splitUnit: 'requests',
  maxErrorRate: 0.01,
  maxUnclassifiedRate: 0.01,
  url: 'http://127.0.0.1:1/',
  method: 'GET',
  classify: 'header:x-version',
  connections: 1,
  users: 0,
  userKey: null,
};

/** A LoadResult from version names per response ('!' = error, '?' = unclassified) and optional users. */
function result(sequence: readonly string[], users?: readonly number[]): LoadResult {
  const versions: string[] = [];
  const outcomes = new Int32Array(sequence.length);
  let errors = 0;
  let unclassified = 0;
  sequence.forEach((v, i) => {
    if (v === '!') {
      outcomes[i] = OUTCOME_ERROR;
      errors++;
    } else if (v === '?') {
      outcomes[i] = OUTCOME_UNCLASSIFIED;
      unclassified++;
    } else {
      let k = versions.indexOf(v);
      if (k < 0) k = versions.push(v) - 1;
      outcomes[i] = k;
    }
  });
  return {
    versions,
    outcomes,
    userOfOutcome: users === undefined ? null : Int32Array.from(users),
    sent: sequence.length,
    completed: sequence.length,
    errors,
    unclassified,
    errorKinds: errors > 0 ? { ECONNRESET: errors } : {},
    unclassifiedKinds: unclassified > 0 ? { 'status 503': unclassified } : {},
    elapsedMs: 1000,
    abortedBecause: null,
  };
}

function repeat(counts: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [v, n] of Object.entries(counts)) for (let i = 0; i < n; i++) out.push(v);
  return out;
}

t.test('the verdict needs both significance and a deviation beyond tolerance', async (t) => {
  const fifty: AnalysisOptions = { ...BASE, expect: [{ version: 'a', weight: 1 }, { version: 'b', weight: 1 }] };
  // 62/38 of 100 against 50/50: the Wilson interval [52.2%, 70.9%] excludes 50 ± 1, but chi-square
  // = 5.76, p = 0.016 >= 0.001: not enough evidence to fail; warned.
  const weak = analyze(result(repeat({ a: 62, b: 38 })), fifty);
  t.ok(weak.requests.versions[0]!.outsideTolerance);
  t.ok(Math.abs(weak.requests.chiSquare.pValue - 0.01640) < 1e-4, String(weak.requests.chiSquare.pValue));
  t.equal(weak.verdict.exitCode, 0);
  t.match(weak.verdict.warnings.join('\n'), /a, b outside tolerance but chi-square p = 0\.0164/);
  // 5,180/4,820 of 10,000: chi-square 12.96, p = 0.00032 < 0.001, but the interval [50.82%, 52.78%]
  // overlaps 50 ± 1: significant yet within tolerance.
  const close = analyze(result(repeat({ a: 5180, b: 4820 })), fifty);
  t.ok(Math.abs(close.requests.chiSquare.statistic - 12.96) < 1e-9);
  t.ok(close.requests.chiSquare.pValue < 0.001 && close.requests.chiSquare.pValue > 0.0003, String(close.requests.chiSquare.pValue));
  t.notOk(close.requests.versions[0]!.outsideTolerance);
  t.equal(close.verdict.exitCode, 0);
  t.match(close.verdict.warnings.join('\n'), /differs from the target .* but every version is within ± 1\.00 pp/);
  // 5,300/4,700: both.
  const off = analyze(result(repeat({ a: 5300, b: 4700 })), fifty);
  t.equal(off.verdict.exitCode, 1);
  t.equal(off.verdict.pass, false);
  t.match(off.verdict.summary, /^FAIL: split off target over 10000 requests/);
  // A larger tolerance lets the same split pass.
  t.equal(analyze(result(repeat({ a: 5300, b: 4700 })), { ...fifty, tolerance: 0.05 }).verdict.exitCode, 0);
});

t.test('an expected version that never answers fails', async (t) => {
  const r = analyze(result(repeat({ v1: 2000 })), BASE);
  t.equal(r.verdict.exitCode, 1);
  t.match(r.requests.versions[1], { version: 'v2', count: 0, share: 0, outsideTolerance: true });
});

t.test('worst window: exact counts in completion order', async (t) => {
  // 10 windows of 100; window 3 holds 25 v2 instead of 10.
  const seq: string[] = [];
  for (let w = 0; w < 10; w++) {
    const v2 = w === 3 ? 25 : w === 4 ? 0 : 10;
    for (let i = 0; i < 100; i++) seq.push(i < v2 ? 'v2' : 'v1');
  }
  seq.push('v2', 'v2'); // an incomplete window is ignored
  const r = analyze(result(seq), BASE);
  t.equal(r.windows.count, 10);
  // v1 and v2 are off by the same 15 requests; the first listed is reported.
  t.match(r.windows.worst, { index: 3, first: 300, version: 'v1', observed: 75, expected: 90, deviationRequests: -15, deviationPoints: -15 });
  t.ok(Math.abs(r.windows.worst!.randomSd - 3) < 1e-12, 'sqrt(100 · 0.9 · 0.1) = 3');
  t.equal(analyze(result(seq.slice(0, 99)), BASE).windows.worst, null);
});

t.test('errors and unclassified responses are counted apart', async (t) => {
  const seq = [...repeat({ v1: 900, v2: 100 }), ...repeat({ '?': 5, '!': 5 })];
  const r = analyze(result(seq), BASE);
  t.match(r.traffic, { sent: 1010, completed: 1010, classified: 1000, unclassified: 5, errors: 5 });
  t.same(r.requests.versions.map((v) => v.count), [900, 100], 'neither counts toward the split');
  t.equal(r.verdict.exitCode, 0, 'both under 1%');
  t.match(r.verdict.warnings.join('\n'), /5 requests failed: ECONNRESET ×5/);
  const many = analyze(result([...repeat({ v1: 900, v2: 100 }), ...repeat({ '!': 20 })]), BASE);
  t.equal(many.verdict.exitCode, 2);
  t.match(many.verdict.summary, /^ERROR: 20 of 1020 requests failed \(1\.96% > --max-errors 1\.00%\)/);
  const none = analyze(result(repeat({ '?': 50 })), BASE);
  t.equal(none.verdict.exitCode, 2);
  t.match(none.verdict.summary, /no response was classified \(status 503 ×50; check --classify\)/);
});

t.test('users: stickiness, majority split, split unit', async (t) => {
  // 4 users, 3 responses each (round-robin).
  const seq = ['v1', 'v1', 'v2', 'v1', 'v1', 'v1', 'v2', 'v1', 'v1', 'v1', 'v2', 'v1'];
  const users = [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3];
  // user 0: v1 v1 v1; user 1: v1 v1 v1; user 2: v2 v2 v2; user 3: v1 v1 v1
  const sticky = analyze(result(seq, users), { ...BASE, users: 4, userKey: 'cookie u', expectSticky: true, splitUnit: 'users' });
  t.match(sticky.users, { count: 4, seen: 4, multiVersion: 0, multiVersionShare: 0 });
  t.same(sticky.users!.split.versions.map((v) => v.count), [3, 1]);
  t.equal(sticky.verdict.exitCode, 0, sticky.verdict.summary);
  t.equal(sticky.sampleSize.unit, 'users');
  t.equal(sticky.sampleSize.have, 4);

  const mixed = ['v1', 'v1', 'v2', 'v1', 'v2', 'v1', 'v2', 'v1', 'v1', 'v1', 'v1', 'v1'];
  // user 0: v1 v2 v1 (majority v1, mixed); user 2: v2 v2 v1 (majority v2, mixed); users 1, 3: v1 only
  const r = analyze(result(mixed, users), { ...BASE, users: 4, userKey: 'cookie u', expectSticky: true, splitUnit: 'users' });
  t.match(r.users, { seen: 4, multiVersion: 2, multiVersionShare: 0.5 });
  t.same(r.users!.split.versions.map((v) => v.count), [3, 1]);
  t.equal(r.verdict.exitCode, 1);
  t.match(r.verdict.reasons.join('\n'), /2 of 4 users \(50\.00%\) saw more than one version/);
  // Ties go to the version listed first in --expect.
  const tie = analyze(result(['v2', 'v1'], [0, 0]), { ...BASE, users: 1, userKey: 'cookie u' });
  t.same(tie.users!.split.versions.map((v) => v.count), [1, 0]);
  // Users who got no classified response are not counted.
  const unseen = analyze(result(['v1', '!'], [0, 1]), { ...BASE, users: 2, userKey: 'cookie u', maxErrorRate: 1 });
  t.equal(unseen.users!.seen, 1);
});

t.test('sample size picks the target closest to 50% and explains itself', async (t) => {
  const r = analyze(result(repeat({ a: 600, b: 300, c: 100 })), { ...BASE, expect: [{ version: 'a', weight: 60 }, { version: 'b', weight: 30 }, { version: 'c', weight: 10 }] });
  t.equal(r.sampleSize.version, 'a');
  t.equal(r.sampleSize.required, Math.ceil((3.2905267314919255 ** 2 * 0.6 * 0.4) / 1e-4));
  t.same(r.requests.versions.map((v) => v.requiredSamples), [0.6, 0.3, 0.1].map((p) => Math.ceil((3.2905267314919255 ** 2 * p * (1 - p)) / 1e-4)));
  t.equal(r.sampleSize.sufficient, false);
  t.equal(r.sampleSize.toConfirmObservedDeviation, null, 'no deviation observed');
  t.match(r.sampleSize.explanation, /n = z²·p\(1−p\)\/tol² = 25987 requests are needed \(p = 60\.00%, a, the target closest to 50%\); this run has 1000\./);
  const dev = analyze(result(repeat({ v1: 880, v2: 120 })), BASE);
  // |deviation| 2 pp at p = 0.9: z² · 0.09 / 0.02² = 2437.
  t.equal(dev.sampleSize.toConfirmObservedDeviation, Math.ceil((3.2905267314919255 ** 2 * 0.09) / 0.0004));
});

t.test('version names are plain keys, even __proto__', async (t) => {
  const r = analyze(result(['__proto__', 'v1']), { ...BASE, maxUnclassifiedRate: 1 });
  t.same(r.running.x, [1, 2]);
  t.same(r.running.shares['__proto__'], [1, 0.5]);
  t.same(r.running.shares['v1'], [0, 0.5]);
  t.equal(Object.getPrototypeOf(r.running.shares), null);
});
