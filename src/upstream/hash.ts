// Hashing for the consistent-hash load balancers (RING_HASH, MAGLEV) and the route's hash_policy.
// Envoy uses xxHash64; weir uses 32-bit MurmurHash3 (x86_32) over the string's UTF-16 code units so
// the whole path stays in small integers (no BigInt). Placement therefore differs from Envoy's,
// but the properties Envoy documents hold: stable across processes, minimal disruption when a
// host is added or removed, weight-proportional shares.

/** MurmurHash3 x86_32 of `s` (code units fed as 16-bit lanes), seeded. Always a uint32. */
export function murmur3(s: string, seed = 0): number {
  let h = seed >>> 0;
  const len = s.length;
  let i = 0;
  // Two UTF-16 code units make one 32-bit block.
  for (; i + 1 < len; i += 2) {
    let k = (s.charCodeAt(i) & 0xffff) | ((s.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = s.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Mixes two uint32 hashes (a policy with several hash_policy entries, Envoy's `hash = (hash << 1 | hash >> 63) ^ new`). */
export function combineHash(a: number, b: number): number {
  return (((a << 1) | (a >>> 31)) ^ b) >>> 0;
}
