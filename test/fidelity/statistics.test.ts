// Known values: Wilson intervals from the formula (and the textbook 90/100 case), chi-square
// tail probabilities from the tables (cross-checked with scipy.stats.chi2.sf) and from closed
// forms for even degrees of freedom, the normal quantile, and sample sizes.
import t from 'tap';
import {
  chiSquareGoodnessOfFit,
  chiSquarePValue,
  logGamma,
  normalQuantile,
  regularizedGammaP,
  regularizedGammaQ,
  requiredSampleSize,
  wilsonInterval,
  zForAlpha,
  Z_95,
} from '../../src/fidelity/statistics';

function close(t: { ok(value: boolean, message: string): unknown }, actual: number, expected: number, relative: number, msg: string): void {
  const ok = Math.abs(actual - expected) <= relative * Math.abs(expected) || Math.abs(actual - expected) < 1e-300;
  t.ok(ok, msg + ': ' + actual + ' ≈ ' + expected);
}

t.test('Wilson score interval', async (t) => {
  // 90 of 100 at 95%: the worked example [0.8256, 0.9448].
  const w = wilsonInterval(90, 100, Z_95);
  t.equal(w.low.toFixed(4), '0.8256');
  t.equal(w.high.toFixed(4), '0.9448');
  // The same from the formula written out independently.
  const z = 1.959963984540054;
  const p = 0.9;
  const n = 100;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  close(t, w.low, centre - half, 1e-12, 'low');
  close(t, w.high, centre + half, 1e-12, 'high');
  // Edges: 0 and n successes keep one end exactly at 0 or 1; n = 0 knows nothing.
  const zero = wilsonInterval(0, 10);
  t.equal(zero.low, 0);
  close(t, zero.high, 0.2775327998628892, 1e-12, '0/10 high');
  const all = wilsonInterval(10, 10);
  t.equal(all.high, 1);
  close(t, all.low, 0.7224672001371107, 1e-12, '10/10 low');
  const rare = wilsonInterval(1, 1000);
  close(t, rare.low, 0.00017654637062607852, 1e-9, '1/1000 low');
  close(t, rare.high, 0.0056425585979579355, 1e-9, '1/1000 high');
  t.same(wilsonInterval(0, 0), { low: 0, high: 1 });
  // Symmetry: k/n and (n-k)/n mirror each other.
  const a = wilsonInterval(37, 250);
  const b = wilsonInterval(213, 250);
  close(t, a.low, 1 - b.high, 1e-12, 'mirror low');
  close(t, a.high, 1 - b.low, 1e-12, 'mirror high');
  t.throws(() => wilsonInterval(11, 10), RangeError);
});

t.test('chi-square p-values against table values', async (t) => {
  close(t, chiSquarePValue(3.841459, 1), 0.05, 1e-5, 'df 1 critical value at 0.05');
  close(t, chiSquarePValue(3.841, 1), 0.050013683763956804, 1e-9, 'df 1, 3.841');
  close(t, chiSquarePValue(6.634897, 1), 0.01, 1e-5, 'df 1 critical value at 0.01');
  close(t, chiSquarePValue(11.345, 3), 0.009999384083287103, 1e-9, 'df 3, 11.345 -> 0.01');
  close(t, chiSquarePValue(124.342, 100), 0.05000071576997178, 1e-8, 'df 100');
  close(t, chiSquarePValue(1074.679, 1000), 0.05000098659539485, 1e-7, 'df 1000');
  close(t, chiSquarePValue(10500, 10000), 0.00024794736798936033, 1e-6, 'df 10000');
  t.equal(chiSquarePValue(0, 3), 1);
  t.equal(chiSquarePValue(1e6, 1), 0, 'far tail underflows to 0, not NaN');
  t.throws(() => chiSquarePValue(1, 0), RangeError);
});

t.test('chi-square p-values against closed forms for even df', async (t) => {
  // df = 2: Q(1, x/2) = exp(-x/2). df = 6: exp(-x/2) (1 + x/2 + (x/2)²/2).
  for (const x of [0.01, 0.5, 2, 2.9, 3.1, 7, 20, 60, 200]) {
    close(t, chiSquarePValue(x, 2), Math.exp(-x / 2), 1e-12, 'df 2 at ' + x);
    const h = x / 2;
    close(t, chiSquarePValue(x, 6), Math.exp(-h) * (1 + h + (h * h) / 2), 1e-12, 'df 6 at ' + x);
  }
});

t.test('regularized incomplete gamma edge cases', async (t) => {
  t.equal(regularizedGammaQ(2.5, 0), 1);
  t.equal(regularizedGammaP(2.5, 0), 0);
  t.equal(regularizedGammaQ(2.5, Infinity), 0);
  t.equal(regularizedGammaP(2.5, Infinity), 1);
  t.throws(() => regularizedGammaQ(0, 1), RangeError);
  t.throws(() => regularizedGammaQ(-1, 1), RangeError);
  t.throws(() => regularizedGammaQ(1, -1), RangeError);
  t.throws(() => regularizedGammaQ(1, NaN), RangeError);
  // P + Q = 1 on both sides of the series / continued-fraction switch at x = a + 1.
  for (const a of [0.5, 1, 3, 10, 100]) {
    for (const x of [a + 1 - 1e-9, a + 1, a + 1 + 1e-9, a / 3, a * 3]) {
      close(t, regularizedGammaP(a, x) + regularizedGammaQ(a, x), 1, 1e-13, 'P+Q at a=' + a + ' x=' + x);
    }
    // Continuous across the switch.
    close(t, regularizedGammaQ(a, a + 1 - 1e-9), regularizedGammaQ(a, a + 1 + 1e-9), 1e-8, 'continuous at a=' + a);
  }
  // The far tail keeps relative precision (computed directly, not as 1 - P).
  close(t, regularizedGammaQ(3, 50), 2.509303552201055e-19, 1e-10, 'Q(3, 50)');
  close(t, regularizedGammaP(0.5, 2), 0.9544997361036415, 1e-12, 'P(1/2, 2) = erf(sqrt 2)');
  close(t, regularizedGammaQ(0.5, 0.001), 0.9643294082703201, 1e-12, 'Q(1/2, 0.001)');
  close(t, regularizedGammaQ(100, 100), 0.48670120172085135, 1e-10, 'Q(100, 100)');
  close(t, regularizedGammaQ(1e4, 1e4), 0.4986701916600448, 1e-9, 'Q(1e4, 1e4), large a');
  t.equal(regularizedGammaQ(10, 1e-8), 1);
  close(t, logGamma(5), Math.log(24), 1e-14, 'ln Γ(5)');
  close(t, logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14, 'ln Γ(1/2)');
  close(t, logGamma(0.1), Math.log(9.513507698668732), 1e-13, 'ln Γ(0.1), reflection');
});

t.test('normal quantile', async (t) => {
  close(t, normalQuantile(0.975), 1.959963984540054, 1e-13, 'z 0.975');
  close(t, normalQuantile(0.9995), 3.2905267314919255, 1e-12, 'z 0.9995');
  close(t, normalQuantile(1e-10), -6.361340902404056, 1e-12, 'low tail');
  close(t, normalQuantile(0.3), -normalQuantile(0.7), 1e-13, 'symmetric');
  t.equal(normalQuantile(0.5), 0);
  close(t, zForAlpha(0.05), Z_95, 1e-13, 'zForAlpha(0.05)');
  t.throws(() => zForAlpha(0), RangeError);
});

t.test('sample size n = z² p(1-p) / tol²', async (t) => {
  // The survey-statistics classic: ±1 pp at 95% for p = 0.5 needs 9604.
  t.equal(requiredSampleSize(0.5, 0.01, 0.05), 9604);
  t.equal(requiredSampleSize(0.1, 0.01, 0.05), 3458);
  // The default: alpha 0.001 (z = 3.2905), 90/10, ±1 pp.
  t.equal(requiredSampleSize(0.1, 0.01, 0.001), 9745);
  t.equal(requiredSampleSize(0.1, 0.01, 0.001), requiredSampleSize(0.9, 0.01, 0.001), 'p and 1-p need the same');
  t.equal(requiredSampleSize(0.005, 0.001, 0.05), Math.ceil((Z_95 * Z_95 * 0.005 * 0.995) / 1e-6));
  t.throws(() => requiredSampleSize(0.5, 0, 0.05), RangeError);
});

t.test('goodness of fit', async (t) => {
  const exact = chiSquareGoodnessOfFit([9000, 1000], [90, 10]);
  t.same(exact, { statistic: 0, degreesOfFreedom: 1, pValue: 1 });
  const half = chiSquareGoodnessOfFit([5000, 5000], [0.9, 0.1]);
  close(t, half.statistic, 4000 ** 2 / 9000 + 4000 ** 2 / 1000, 1e-12, 'statistic');
  t.ok(half.pValue < 1e-300 || half.pValue === 0);
  // 3 categories, one off: (o-e)²/e summed.
  const three = chiSquareGoodnessOfFit([520, 300, 180], [50, 30, 20]);
  close(t, three.statistic, 400 / 500 + 0 + 400 / 200, 1e-12, '3 categories');
  t.equal(three.degreesOfFreedom, 2);
  close(t, three.pValue, Math.exp(-three.statistic / 2), 1e-12, 'df 2 closed form');
  // A version with target 0 that shows up is impossible under the hypothesis.
  const unexpected = chiSquareGoodnessOfFit([900, 99, 1], [90, 10, 0]);
  t.equal(unexpected.statistic, Infinity);
  t.equal(unexpected.pValue, 0);
  t.equal(unexpected.degreesOfFreedom, 1);
  // A single expected category has nothing to test.
  t.same(chiSquareGoodnessOfFit([10], [1]), { statistic: 0, degreesOfFreedom: 0, pValue: 1 });
});
