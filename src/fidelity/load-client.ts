// The load generator behind `weir fidelity`: an undici Pool with `connections` sockets and no
// pipelining, kept full by `connections` slots. Each slot is one reusable handler object on
// undici's dispatch (callback) API: when its response completes it records the outcome and
// dispatches the next request itself, so there is no promise, closure or header object per
// request. Bodies are discarded as they arrive unless the classifier reads them.
//
// Outcomes are recorded in completion order (the order the proxy's answers came back), which is
// what the windowed deviation and the running share are computed over.

import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { Classifier } from './classifier';

/** Outcome codes stored alongside version indexes (>= 0). */
export const OUTCOME_UNCLASSIFIED = -1;
export const OUTCOME_ERROR = -2;

export interface UserKeys {
  /** K: users `user-0` .. `user-<K-1>`. */
  readonly count: number;
  /** Send the key as cookie `<cookie>=user-<i>` ... */
  readonly cookie?: string | undefined;
  /** ... or as header `<header>: user-<i>`. */
  readonly header?: string | undefined;
  /** round-robin: request j (in send order) is user j mod K; random: uniform, from `seed`. */
  readonly order: 'round-robin' | 'random';
  readonly seed: number;
}

export interface LoadOptions {
  readonly url: string;
  readonly method: string;
  /** Extra request headers, in order. */
  readonly headers: readonly (readonly [string, string])[];
  /** Stop after this many requests were sent ... */
  readonly requests: number | null;
  /** ... or after this long (whichever comes first; at least one must be set). */
  readonly durationMs: number | null;
  readonly connections: number;
  readonly classifier: Classifier;
  readonly users: UserKeys | null;
  /** Per-request headers and body timeout. */
  readonly timeoutMs: number;
}

export interface LoadResult {
  /** Version names by index, in order of first appearance. */
  readonly versions: readonly string[];
  /** Per completed request, in completion order: a version index, OUTCOME_UNCLASSIFIED or OUTCOME_ERROR. */
  readonly outcomes: Int32Array;
  /** Per completed request, the user index; null without users. */
  readonly userOfOutcome: Int32Array | null;
  readonly sent: number;
  readonly completed: number;
  readonly errors: number;
  readonly unclassified: number;
  /** Transport errors by code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, ...). */
  readonly errorKinds: Readonly<Record<string, number>>;
  /** Unclassified responses by status ("status 503"). */
  readonly unclassifiedKinds: Readonly<Record<string, number>>;
  readonly elapsedMs: number;
  /** Why the run stopped early, or null. */
  readonly abortedBecause: string | null;
}

// The target is considered down (and the run stopped) once this many errors outnumber the successes.
const ABORT_MIN_ERRORS = 100;
const INITIAL_CAPACITY = 1 << 16;

class LoadRun {
  readonly pool: Pool;
  readonly classifier: Classifier;
  readonly requestLimit: number;
  readonly userCount: number;
  readonly randomUsers: boolean;
  /** One prebuilt DispatchOptions per user (or a single one): reused for every request. */
  readonly dispatchOptions: Dispatcher.DispatchOptions[];
  versions: string[] = [];
  versionIndex = new Map<string, number>();
  outcomes: Int32Array;
  userOfOutcome: Int32Array | null;
  sent = 0;
  completed = 0;
  inFlight = 0;
  errors = 0;
  unclassified = 0;
  errorKinds: Record<string, number> = Object.create(null) as Record<string, number>;
  unclassifiedKinds: Record<string, number> = Object.create(null) as Record<string, number>;
  stopped = false;
  abortedBecause: string | null = null;
  rng: number;
  timer: NodeJS.Timeout | null = null;
  startedAt = 0;
  finishedAt = 0;
  resolve: (() => void) | null = null;

  constructor(options: LoadOptions, url: URL) {
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: 1,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: { timeout: options.timeoutMs },
    });
    this.classifier = options.classifier;
    this.requestLimit = options.requests ?? Infinity;
    const users = options.users;
    this.userCount = users === null ? 0 : users.count;
    this.randomUsers = users !== null && users.order === 'random';
    this.rng = (users === null ? 1 : users.seed >>> 0) || 0x9e3779b9;
    const path = url.pathname + url.search;
    const base: string[] = [];
    for (const [name, value] of options.headers) base.push(name, value);
    this.dispatchOptions = [];
    if (users === null) {
      this.dispatchOptions.push({ path, method: options.method, headers: base });
    } else {
      for (let i = 0; i < users.count; i++) {
        const key = 'user-' + i;
        const headers = base.slice();
        if (users.cookie !== undefined) {
          // RFC 6265 5.4: one Cookie header; join a cookie given with -H rather than send two.
          const pair = users.cookie + '=' + key;
          let merged = false;
          for (let h = 0; h < headers.length; h += 2) {
            if (headers[h]!.toLowerCase() === 'cookie') {
              headers[h + 1] = headers[h + 1] + '; ' + pair;
              merged = true;
              break;
            }
          }
          if (!merged) headers.push('cookie', pair);
        } else if (users.header !== undefined) {
          headers.push(users.header, key);
        }
        this.dispatchOptions.push({ path, method: options.method, headers });
      }
    }
    const capacity = Number.isFinite(this.requestLimit) ? this.requestLimit : INITIAL_CAPACITY;
    this.outcomes = new Int32Array(capacity);
    this.userOfOutcome = users === null ? null : new Int32Array(capacity);
  }

  /** The user for the next request (xorshift32 when random, so a seed reproduces a run). */
  nextUser(): number {
    if (this.userCount === 0) return 0;
    if (!this.randomUsers) return this.sent % this.userCount;
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng % this.userCount;
  }

  version(name: string): number {
    let i = this.versionIndex.get(name);
    if (i === undefined) {
      i = this.versions.length;
      this.versions.push(name);
      this.versionIndex.set(name, i);
    }
    return i;
  }

  record(outcome: number, user: number): void {
    const n = this.completed;
    if (n === this.outcomes.length) {
      const grown = new Int32Array(n * 2);
      grown.set(this.outcomes);
      this.outcomes = grown;
      if (this.userOfOutcome !== null) {
        const u = new Int32Array(n * 2);
        u.set(this.userOfOutcome);
        this.userOfOutcome = u;
      }
    }
    this.outcomes[n] = outcome;
    if (this.userOfOutcome !== null) this.userOfOutcome[n] = user;
    this.completed = n + 1;
    this.inFlight--;
  }

  recordUnclassified(statusCode: number, user: number): void {
    this.unclassified++;
    const key = 'status ' + statusCode;
    this.unclassifiedKinds[key] = (this.unclassifiedKinds[key] ?? 0) + 1;
    this.record(OUTCOME_UNCLASSIFIED, user);
  }

  recordError(err: Error, user: number): void {
    this.errors++;
    const key = (err as { code?: string }).code ?? err.name;
    this.errorKinds[key] = (this.errorKinds[key] ?? 0) + 1;
    this.record(OUTCOME_ERROR, user);
    if (this.errors >= ABORT_MIN_ERRORS && this.errors > this.completed - this.errors && !this.stopped) {
      this.abortedBecause = 'more than half of ' + this.completed + ' requests failed (' + key + ')';
      this.stop();
    }
  }

  /** Whether a slot may send another request. */
  mayDispatch(): boolean {
    return !this.stopped && this.sent < this.requestLimit;
  }

  stop(): void {
    this.stopped = true;
    this.maybeFinish();
  }

  maybeFinish(): void {
    if (this.inFlight === 0 && (this.stopped || this.sent >= this.requestLimit) && this.resolve !== null) {
      const resolve = this.resolve;
      this.resolve = null;
      this.finishedAt = performance.now();
      if (this.timer !== null) clearTimeout(this.timer);
      resolve();
    }
  }
}

/** One in-flight request at a time; reused for every request it sends (undici's legacy handler API avoids parsing headers into an object). */
class Slot implements Dispatcher.DispatchHandler {
  readonly #run: LoadRun;
  #user = 0;
  #statusCode = 0;
  #version: string | null = null;
  #active = false;
  #dispatching = false;
  #chunks: Buffer[] = [];
  #bodyLength = 0;
  readonly #sendLater = (): void => this.send();

  constructor(run: LoadRun) {
    this.#run = run;
  }

  send(): void {
    const run = this.#run;
    if (!run.mayDispatch()) {
      run.maybeFinish();
      return;
    }
    const user = run.nextUser();
    run.sent++;
    run.inFlight++;
    this.#user = user;
    this.#statusCode = 0;
    this.#version = null;
    this.#active = true;
    this.#bodyLength = 0;
    this.#dispatching = true;
    run.pool.dispatch(run.dispatchOptions[user]!, this);
    this.#dispatching = false;
  }

  onConnect(_abort: (err?: Error) => void): void {}

  onHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void, _statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx informational: the final response follows
    this.#statusCode = statusCode;
    this.#version = this.#run.classifier.fromRawHeaders(statusCode, rawHeaders);
    return true;
  }

  onData(chunk: Buffer): boolean {
    const limit = this.#run.classifier.bodyLimitBytes;
    if (this.#bodyLength < limit) {
      this.#chunks.push(chunk);
      this.#bodyLength += chunk.length;
    }
    return true;
  }

  onComplete(_trailers: string[] | null): void {
    if (!this.#active) return;
    this.#active = false;
    const run = this.#run;
    let version = this.#version;
    if (run.classifier.needsBody) {
      const limit = run.classifier.bodyLimitBytes;
      const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#bodyLength);
      this.#chunks.length = 0;
      version = run.classifier.fromBody(body.toString('utf8', 0, Math.min(limit, body.length)));
    }
    if (version === null) run.recordUnclassified(this.#statusCode, this.#user);
    else run.record(run.version(version), this.#user);
    this.send();
  }

  onError(err: Error): void {
    if (!this.#active) return;
    this.#active = false;
    this.#chunks.length = 0;
    const run = this.#run;
    run.recordError(err, this.#user);
    // An error thrown synchronously by dispatch (bad options, closed pool) would recurse; go async.
    if (this.#dispatching) setImmediate(this.#sendLater);
    else this.send();
  }
}

/** Sends the requests, classifies every response, and returns the raw outcomes. Never rejects because of traffic. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.url);
  if (options.requests === null && options.durationMs === null) throw new RangeError('runLoad: requests or durationMs must be set');
  const run = new LoadRun(options, url);
  const done = new Promise<void>((resolve) => {
    run.resolve = resolve;
  });
  run.startedAt = performance.now();
  if (options.durationMs !== null) run.timer = setTimeout(() => run.stop(), options.durationMs);
  const slots = Math.max(1, Math.min(options.connections, Number.isFinite(run.requestLimit) ? run.requestLimit : options.connections));
  for (let i = 0; i < slots; i++) new Slot(run).send();
  run.maybeFinish(); // zero requests
  await done;
  await run.pool.close();
  return {
    versions: run.versions,
    outcomes: run.outcomes.subarray(0, run.completed),
    userOfOutcome: run.userOfOutcome === null ? null : run.userOfOutcome.subarray(0, run.completed),
    sent: run.sent,
    completed: run.completed,
    errors: run.errors,
    unclassified: run.unclassified,
    errorKinds: { ...run.errorKinds },
    unclassifiedKinds: { ...run.unclassifiedKinds },
    elapsedMs: run.finishedAt - run.startedAt,
    abortedBecause: run.abortedBecause,
  };
}
