// The stable hash behind sticky weighted picks: every weir process, instance and version must map a
// key to the same value, so the algorithm is fixed here and pinned by test vectors
// (test/route/picker.test.ts). Changing it would re-shuffle every sticky user: don't.
//
// Algorithm: MurmurHash3 x86_32 (Austin Appleby, public domain), seed 0, over the UTF-8 encoding of
// the key (lone UTF-16 surrogates encode as U+FFFD, as TextEncoder and Buffer do). The bytes are
// produced on the fly from `charCodeAt`, so hashing allocates nothing. Any other implementation of
// MurmurHash3_x86_32(utf8(key), seed = 0) (Guava's murmur3_32_fixed, Python's mmh3.hash with
// signed=False, ...) gives the same numbers.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** One 4-byte block of MurmurHash3_x86_32's body: returns the new h. */
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finaliser (fmix32) after xoring in the length in bytes. */
function finish(h: number, k: number, tailBytes: number, length: number): number {
  // Returns an int32; callers that need the unsigned value apply >>> 0.
  if (tailBytes > 0) {
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** MurmurHash3_x86_32 of the UTF-8 bytes of `key`, seed 0, as an unsigned 32-bit integer. */
export function stableHash32(key: string): number {
  return stableHashInt32(key) >>> 0;
}

/**
 * The same hash as a signed int32 (`stableHash32(key) === stableHashInt32(key) >>> 0`). Hot paths use
 * this form: V8 returns an int32 from a call that was not inlined without boxing it, whereas a uint32
 * above 2^31-1 would become a heap number (an allocation per call).
 */
export function stableHashInt32(key: string): number {
  let h = 0;
  let k = 0; // the block being assembled, little-endian
  let shift = 0; // bits already in k
  let length = 0; // bytes hashed
  const n = key.length;
  for (let i = 0; i < n; i++) {
    // Fast path: four ASCII characters starting a block are the block (cookies and user ids).
    while (shift === 0 && i + 4 <= n) {
      const c0 = key.charCodeAt(i);
      const c1 = key.charCodeAt(i + 1);
      const c2 = key.charCodeAt(i + 2);
      const c3 = key.charCodeAt(i + 3);
      if ((c0 | c1 | c2 | c3) >= 0x80) break;
      h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
      i += 4;
      length += 4;
    }
    if (i === n) break;
    let c = key.charCodeAt(i);
    // Pack the code point's UTF-8 bytes into `bytes`, first byte in the low 8 bits.
    let bytes: number;
    let count: number;
    if (c < 0x80) {
      bytes = c;
      count = 1;
    } else if (c < 0x800) {
      bytes = (0xc0 | (c >>> 6)) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? key.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
        } else {
          c = 0xfffd; // lone surrogate
        }
      }
      if (c < 0x10000) {
        bytes = (0xe0 | (c >>> 12)) | ((0x80 | ((c >>> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
        count = 3;
      } else {
        bytes =
          (0xf0 | (c >>> 18)) |
          ((0x80 | ((c >>> 12) & 0x3f)) << 8) |
          ((0x80 | ((c >>> 6) & 0x3f)) << 16) |
          ((0x80 | (c & 0x3f)) << 24);
        count = 4;
      }
    }
    for (let j = 0; j < count; j++) {
      k |= (bytes & 0xff) << shift;
      bytes >>>= 8;
      shift += 8;
      if (shift === 32) {
        h = mixBlock(h, k);
        k = 0;
        shift = 0;
      }
    }
    length += count;
  }
  return finish(h, k, shift, length);
}

/**
 * MurmurHash3_x86_32 of one 32-bit word (4 bytes, little-endian) under `seed`. The sticky picker uses
 * it to give every (bucket, destination) pair an independent, stable pseudo-random score.
 */
export function stableHashWord32(word: number, seed: number): number {
  return finish(mixBlock(seed | 0, word | 0), 0, 0, 4) >>> 0;
}
