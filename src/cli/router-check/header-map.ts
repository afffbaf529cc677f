// An ordered, multi-valued header map with Envoy's HeaderMapImpl behaviour where router_check
// observes it: keys lower-cased on insert (`addCopy` takes a LowerCaseString), `get_` answers the
// first value, `setCopy` replaces the first entry in place and drops the rest, `remove` drops all.
// It is the `HeaderMutationTarget` the route model applies request/response header mutations to.

export class HeaderMap {
  readonly #entries: Array<[string, string]> = [];

  /** HeaderMapImpl::addCopy: append, keeping earlier values. */
  add(name: string, value: string): void {
    this.#entries.push([name.toLowerCase(), value]);
  }

  /** The HeaderMutationTarget spelling of `add`. */
  append(name: string, value: string): void {
    this.add(name, value);
  }

  /** HeaderMapImpl::setCopy: overwrite the first entry in place, drop any others. */
  set(name: string, value: string): void {
    const key = name.toLowerCase();
    let found = false;
    for (let i = 0; i < this.#entries.length; ) {
      const e = this.#entries[i]!;
      if (e[0] !== key) {
        i++;
        continue;
      }
      if (!found) {
        e[1] = value;
        found = true;
        i++;
      } else {
        this.#entries.splice(i, 1);
      }
    }
    if (!found) this.#entries.push([key, value]);
  }

  remove(name: string): void {
    const key = name.toLowerCase();
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      if (this.#entries[i]![0] === key) this.#entries.splice(i, 1);
    }
  }

  /** The first value (`TestHeaderMapImpl::get_`), or `undefined` when absent. */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    for (const e of this.#entries) if (e[0] === key) return e[1];
    return undefined;
  }

  /** Every value, in order; `undefined` when absent. */
  getAll(name: string): string[] | undefined {
    const key = name.toLowerCase();
    let out: string[] | undefined;
    for (const e of this.#entries) {
      if (e[0] === key) (out ??= []).push(e[1]);
    }
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  entries(): ReadonlyArray<readonly [string, string]> {
    return this.#entries;
  }
}
