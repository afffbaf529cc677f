// A small seedable PRNG (xorshift128) for load-balancer draws. The load balancers must not reuse
// the request's `random` value (it already chose the weighted cluster; reusing it would correlate
// the cluster pick with the endpoint pick), so they draw from their own stream.

export class LbRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed = (Math.random() * 0x100000000) >>> 0) {
    // splitmix32 to spread a small seed over the four words; never all zero.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next() | 1;
  }

  /** A uniformly distributed uint32. */
  nextUint32(): number {
    let t = this.#d;
    const s = this.#a;
    this.#d = this.#c;
    this.#c = this.#b;
    this.#b = s;
    t ^= t << 11;
    t ^= t >>> 8;
    this.#a = (t ^ s ^ (s >>> 19)) >>> 0;
    return this.#a;
  }
}
