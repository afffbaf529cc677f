// The statistics `weir fidelity` reports, written out so the tool has no dependencies and every
// number can be checked against a textbook formula:
// - the regularized incomplete gamma functions P(a, x) and Q(a, x) (Numerical Recipes in C, 2nd ed.,
//   section 6.2: `gser` series for x < a + 1, `gcf` modified-Lentz continued fraction otherwise),
//   which give the chi-square survival function Q(df/2, x/2);
// - the Wilson score interval for a binomial proportion (Wilson 1927; Agresti & Coull 1998 show it
//   keeps its coverage near 0 and 1, where the Wald interval p ± z·sqrt(p(1-p)/n) collapses);
// - the normal quantile (Acklam's rational approximation, polished with one Halley step on erfc);
// - the sample size needed to pin a share within ± tolerance: n = z² p(1-p) / tol².

const EPS = 1e-15;
// Both the series and the continued fraction converge in O(sqrt(a)) steps near x ≈ a; this bound
// covers a up to ~1e9 (chi-square df up to 2e9) with room to spare.
const MAX_ITERATIONS = 1_000_000;
const FPMIN = Number.MIN_VALUE / EPS;

// Lanczos approximation, g = 7, n = 9 (the coefficients used by Boost and most numerical libraries);
// relative error below 1e-15 for x > 0.
const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
] as const;

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection: Γ(x) Γ(1-x) = π / sin(πx), keeps the approximation in its accurate range.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const z = x - 1;
  let sum = LANCZOS_COEFFICIENTS[0];
  for (let i = 1; i < LANCZOS_COEFFICIENTS.length; i++) sum += LANCZOS_COEFFICIENTS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

function checkGammaArguments(a: number, x: number): void {
  if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`incomplete gamma: a must be finite and > 0, got ${a}`);
  if (!(x >= 0)) throw new RangeError(`incomplete gamma: x must be >= 0, got ${x}`);
}

/** P(a, x) by its series; accurate for x < a + 1. */
function gammaSeries(a: number, x: number): number {
  let ap = a;
  let sum = 1 / a;
  let del = sum;
  for (let n = 0; n < MAX_ITERATIONS; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Q(a, x) by its continued fraction (modified Lentz); accurate for x >= a + 1. */
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** The regularized lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a). */
export function regularizedGammaP(a: number, x: number): number {
  checkGammaArguments(a, x);
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  if (x < a + 1) return gammaSeries(a, x);
  return 1 - gammaContinuedFraction(a, x);
}

/** The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a) = 1 - P(a, x). */
export function regularizedGammaQ(a: number, x: number): number {
  checkGammaArguments(a, x);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  // Each branch computes the small tail directly, so Q keeps its relative precision far out in
  // the tail (p-values like 1e-300) instead of being 1 - (something close to 1).
  if (x < a + 1) return 1 - gammaSeries(a, x);
  return gammaContinuedFraction(a, x);
}

/** Upper tail of the chi-square distribution: P(X >= statistic) with `df` degrees of freedom. */
export function chiSquarePValue(statistic: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`chi-square: degrees of freedom must be > 0, got ${df}`);
  if (Number.isNaN(statistic)) throw new RangeError('chi-square: statistic is NaN');
  if (statistic <= 0) return 1;
  return regularizedGammaQ(df / 2, statistic / 2);
}

export interface ChiSquareResult {
  /** Σ (observed - expected)² / expected over categories with expected > 0; Infinity when a category with expected 0 was observed. */
  readonly statistic: number;
  /** Categories with a positive expected share, minus one. */
  readonly degreesOfFreedom: number;
  /** 1 when the test has no degrees of freedom (a single expected category and nothing unexpected). */
  readonly pValue: number;
}

/**
 * Pearson's chi-square goodness-of-fit test of observed counts against expected shares (which
 * need not sum to exactly 1; they are normalised). A count in a category whose expected share is 0
 * is impossible under the hypothesis, so the statistic is Infinity and the p-value 0.
 */
export function chiSquareGoodnessOfFit(observed: readonly number[], expectedShares: readonly number[]): ChiSquareResult {
  if (observed.length !== expectedShares.length) throw new RangeError('chi-square: observed and expected differ in length');
  let n = 0;
  let shareSum = 0;
  for (let i = 0; i < observed.length; i++) {
    n += observed[i]!;
    shareSum += expectedShares[i]!;
  }
  if (!(shareSum > 0)) throw new RangeError('chi-square: expected shares sum to 0');
  let statistic = 0;
  let categories = 0;
  for (let i = 0; i < observed.length; i++) {
    const share = expectedShares[i]! / shareSum;
    const o = observed[i]!;
    if (share > 0) {
      categories++;
      const e = n * share;
      if (e > 0) statistic += ((o - e) * (o - e)) / e;
    } else if (o > 0) {
      statistic = Infinity;
    }
  }
  const df = Math.max(categories - 1, 0);
  let pValue: number;
  if (statistic === Infinity) pValue = 0;
  else if (df === 0 || n === 0) pValue = 1;
  else pValue = chiSquarePValue(statistic, df);
  return { statistic, degreesOfFreedom: df, pValue };
}

/** erfc(x) = Q(1/2, x²) for x >= 0, and 2 - erfc(-x) below. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 0) return regularizedGammaQ(0.5, x * x);
  return 2 - regularizedGammaQ(0.5, x * x);
}

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

// Acklam's coefficients (relative error 1.15e-9 before refinement).
const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239] as const;
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1] as const;
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416] as const;
const P_LOW = 0.02425;

/** The standard normal quantile Φ⁻¹(p) for 0 < p < 1. */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return -Infinity;
    if (p === 1) return Infinity;
    throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  }
  let x: number;
  if (p < P_LOW) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  } else if (p <= 1 - P_LOW) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q) /
      (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1);
  }
  // One step of Halley's method on Φ(x) - p brings it to full double precision (Acklam's note).
  const e = 0.5 * erfc(-x / Math.SQRT2) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** z such that a two-sided test at level `alpha` rejects beyond ±z: Φ⁻¹(1 - alpha/2). */
export function zForAlpha(alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  return normalQuantile(1 - alpha / 2);
}

export interface Interval {
  readonly low: number;
  readonly high: number;
}

/**
 * The Wilson score interval for `successes` out of `n` at two-sided level `z`
 * (z = 1.959964 for 95%): centre (p + z²/2n) / (1 + z²/n), half-width
 * z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²). With n = 0 nothing is known: [0, 1].
 */
export function wilsonInterval(successes: number, n: number, z: number = Z_95): Interval {
  if (!(n >= 0) || !(successes >= 0) || successes > n) throw new RangeError(`wilsonInterval: need 0 <= successes <= n, got ${successes}/${n}`);
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Clamp rounding noise: at p = 0 or 1 one end is exactly 0 or 1 in exact arithmetic.
  return { low: successes === 0 ? 0 : Math.max(0, centre - half), high: successes === n ? 1 : Math.min(1, centre + half) };
}

/** Φ⁻¹(0.975), the z of a two-sided 95% interval. */
export const Z_95 = 1.959963984540054;

/**
 * Requests needed so that a (1 - alpha) interval around a share near `share` has half-width at
 * most `tolerance` (both as fractions): n = z² p(1-p) / tol², rounded up. A deviation of more than
 * `tolerance` then shows as an interval that excludes the target.
 */
export function requiredSampleSize(share: number, tolerance: number, alpha: number): number {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`share must be in [0, 1], got ${share}`);
  if (!(tolerance > 0)) throw new RangeError(`tolerance must be > 0, got ${tolerance}`);
  const z = zForAlpha(alpha);
  return Math.ceil((z * z * share * (1 - share)) / (tolerance * tolerance));
}
