// `weir fidelity` as a library: send the traffic, classify it, analyse it.

import { analyze } from './analyze';
import type { Expectation, FidelityReport, SplitUnit } from './analyze';
import { Classifier, formatClassifierSpec } from './classifier';
import type { ClassifierSpec } from './classifier';
import { runLoad } from './load-client';
import type { UserKeys } from './load-client';

export interface FidelityOptions {
  readonly url: string;
  readonly expect: readonly Expectation[];
  readonly classify: ClassifierSpec;
  readonly method: string;
  readonly headers: readonly (readonly [string, string])[];
  /** Stop after this many requests (null: only the duration bounds the run). */
  readonly requests: number | null;
  readonly durationMs: number | null;
  readonly connections: number;
  readonly users: UserKeys | null;
  readonly alpha: number;
  /** Fraction: 0.01 = 1 percentage point. */
  readonly tolerance: number;
  readonly window: number;
  readonly expectSticky: boolean;
  readonly splitUnit: SplitUnit;
  /** Fractions of requests / responses. */
  readonly maxErrorRate: number;
  readonly maxUnclassifiedRate: number;
  readonly timeoutMs: number;
}

export const FIDELITY_DEFAULTS = Object.freeze({
  method: 'GET',
  requests: 10_000,
  connections: 50,
  alpha: 0.001,
  tolerance: 0.01,
  window: 100,
  maxErrorRate: 0.01,
  maxUnclassifiedRate: 0.01,
  timeoutMs: 10_000,
});

export async function runFidelity(options: FidelityOptions): Promise<FidelityReport> {
  const classifier = new Classifier(options.classify);
  const result = await runLoad({
    url: options.url,
    method: options.method,
    headers: options.headers,
    requests: options.requests,
    durationMs: options.durationMs,
    connections: options.connections,
    classifier,
    users: options.users,
    timeoutMs: options.timeoutMs,
  });
  const users = options.users;
  return analyze(result, {
    expect: options.expect,
    alpha: options.alpha,
    tolerance: options.tolerance,
    window: options.window,
    expectSticky: options.expectSticky,
    splitUnit: options.splitUnit,
    maxErrorRate: options.maxErrorRate,
    maxUnclassifiedRate: options.maxUnclassifiedRate,
    url: options.url,
    method: options.method,
    classify: formatClassifierSpec(options.classify),
    connections: options.connections,
    users: users === null ? 0 : users.count,
    userKey: users === null ? null : users.cookie !== undefined ? 'cookie ' + users.cookie : 'header ' + (users.header ?? ''),
  });
}
