// Values recorded as they arrive (applied snapshots, log lines, ...), with a bounded wait for the
// first one that matches: the event to await instead of a sleep, and a clear failure instead of
// tap's whole-file timeout.
export class Recorder<T> {
  /** Everything recorded so far, in order (tests read it directly). */
  readonly values: T[] = [];
  #waiters = new Set<(v: T) => void>();

  push(v: T): void {
    this.values.push(v);
    for (const w of [...this.#waiters]) w(v);
  }

  /** The first recorded value matching `pred` (already recorded or yet to come); rejects after `timeoutMs`. */
  waitFor(pred: (v: T) => boolean, timeoutMs = 5000, what: (values: readonly T[]) => string = (vs) => `${vs.length} recorded`): Promise<T> {
    const hit = this.values.find(pred);
    if (hit !== undefined) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const on = (v: T): void => {
        if (!pred(v)) return;
        clearTimeout(timer);
        this.#waiters.delete(on);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(on);
        reject(new Error(`no match within ${timeoutMs} ms (${what(this.values)})`));
      }, timeoutMs);
      this.#waiters.add(on);
    });
  }
}
