// A fast seedable PRNG for the data path: the per-stream random value Envoy draws for
// `runtime_fraction` and `weighted_clusters` (Envoy uses its `Random::RandomGenerator`; weir needs
// one that never allocates, so `Math.random()` is not used on the hot path).
//
// Algorithm: sfc32 (Chris Doty-Humphrey's "Small Fast Chaotic" generator, 32-bit variant, from
// PractRand), 128 bits of state, passes PractRand and BigCrush. Seeding follows PractRand's
// `sfc32::seed(Uint64)`: a = 0, b = low 32 bits of the seed, c = high 32 bits, counter = 1, then
// 12 rounds discarded. The state lives in four int32 fields, which V8 keeps as small integers, so
// `nextUint32()` performs no heap allocation (when it is inlined into its caller, as on every hot
// path, the returned uint32 is not boxed either).
import { randomBytes } from 'node:crypto';

const TWO_POW_32 = 4294967296;
const SEED_ROUNDS = 12;

export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #counter: number;

  /**
   * @param seed any finite number; the integer part's low and high 32 bits seed the state (so every
   *   integer up to 2^53 is a distinct seed). Omitted: seeded from the OS CSPRNG, once.
   */
  constructor(seed?: number) {
    let lo: number;
    let hi: number;
    if (seed === undefined) {
      const bytes = randomBytes(8);
      lo = bytes.readUInt32LE(0);
      hi = bytes.readUInt32LE(4);
    } else {
      if (!Number.isFinite(seed)) throw new RangeError(`Prng seed must be a finite number, got ${seed}`);
      const whole = Math.trunc(seed);
      lo = whole >>> 0; // ToUint32: negative seeds wrap like two's complement
      hi = Math.floor(whole / TWO_POW_32) >>> 0;
    }
    this.#a = 0;
    this.#b = lo | 0;
    this.#c = hi | 0;
    this.#counter = 1;
    for (let i = 0; i < SEED_ROUNDS; i++) this.nextUint32();
  }

  /** The next value, uniform over the integers 0..2^32-1. */
  nextUint32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const counter = this.#counter;
    const t = (((a + b) | 0) + counter) | 0;
    this.#counter = (counter + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }
}
