// Envoy's load balancers over one priority level's healthy hosts. Built once per host-set change,
// then `choose()` is allocation-free. `hash` is the route hash_policy's value (consistent-hash
// policies only); without one RING_HASH and MAGLEV fall back to a random host, as Envoy does.
// https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/load_balancers

import type { Host } from './host';
import { murmur3 } from './hash';
import type { LbRandom } from './random';

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

export interface LbOptions {
  readonly minRingSize: number;
  readonly maxRingSize: number;
  readonly choiceCount: number;
  readonly maglevTableSize: number;
}

export const DEFAULT_LB_OPTIONS: LbOptions = Object.freeze({
  minRingSize: 1024,
  maxRingSize: 8 * 1024 * 1024,
  choiceCount: 2,
  maglevTableSize: 65537,
});

export interface LoadBalancer {
  choose(hash: number, hasHash: boolean): Host;
}

function equalWeights(hosts: readonly Host[]): boolean {
  const w = hosts[0]!.weight;
  for (let i = 1; i < hosts.length; i++) if (hosts[i]!.weight !== w) return false;
  return true;
}

/** Weighted random over `hosts` (cumulative weights, binary search). */
class WeightedRandom {
  readonly #hosts: readonly Host[];
  readonly #cumulative: Float64Array;
  readonly #total: number;
  readonly #equal: boolean;
  readonly #random: LbRandom;

  constructor(hosts: readonly Host[], random: LbRandom) {
    this.#hosts = hosts;
    this.#random = random;
    this.#equal = equalWeights(hosts);
    this.#cumulative = new Float64Array(hosts.length);
    let sum = 0;
    for (let i = 0; i < hosts.length; i++) {
      sum += hosts[i]!.weight;
      this.#cumulative[i] = sum;
    }
    this.#total = sum;
  }

  pick(): Host {
    const hosts = this.#hosts;
    if (this.#equal) return hosts[this.#random.nextUint32() % hosts.length]!;
    const r = Math.floor((this.#random.nextUint32() / 0x100000000) * this.#total);
    const c = this.#cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r < c[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return hosts[lo]!;
  }
}

/**
 * ROUND_ROBIN: plain rotation when weights are equal; otherwise smooth weighted round robin
 * (Envoy uses an EDF scheduler; both give every host its weight share, deterministically).
 */
export class RoundRobinLb implements LoadBalancer {
  readonly #hosts: readonly Host[];
  readonly #equal: boolean;
  readonly #current: Float64Array;
  readonly #total: number;
  #next: number;

  constructor(hosts: readonly Host[], random: LbRandom) {
    this.#hosts = hosts;
    this.#equal = equalWeights(hosts);
    this.#current = new Float64Array(hosts.length);
    let t = 0;
    for (const h of hosts) t += h.weight;
    this.#total = t;
    // Envoy starts each worker's rotation at a random offset so instances do not march in step.
    this.#next = random.nextUint32() % hosts.length;
  }

  choose(): Host {
    const hosts = this.#hosts;
    if (this.#equal) {
      const h = hosts[this.#next]!;
      this.#next = this.#next + 1 === hosts.length ? 0 : this.#next + 1;
      return h;
    }
    const cur = this.#current;
    let best = 0;
    let bestVal = -Infinity;
    for (let i = 0; i < hosts.length; i++) {
      const v = cur[i]! + hosts[i]!.weight;
      cur[i] = v;
      if (v > bestVal) {
        bestVal = v;
        best = i;
      }
    }
    cur[best] = bestVal - this.#total;
    return hosts[best]!;
  }
}

/** RANDOM: weighted random (weights honoured, as the EDF-based policies do). */
export class RandomLb implements LoadBalancer {
  readonly #picker: WeightedRandom;
  constructor(hosts: readonly Host[], random: LbRandom) {
    this.#picker = new WeightedRandom(hosts, random);
  }
  choose(): Host {
    return this.#picker.pick();
  }
}

/** LEAST_REQUEST: power of `choice_count` choices, fewest active requests per unit of weight wins. */
export class LeastRequestLb implements LoadBalancer {
  readonly #picker: WeightedRandom;
  readonly #choices: number;
  readonly #single: Host | null;

  constructor(hosts: readonly Host[], random: LbRandom, choiceCount: number) {
    this.#picker = new WeightedRandom(hosts, random);
    this.#choices = Math.max(1, choiceCount);
    this.#single = hosts.length === 1 ? hosts[0]! : null;
  }

  choose(): Host {
    if (this.#single !== null) return this.#single;
    let best = this.#picker.pick();
    for (let i = 1; i < this.#choices; i++) {
      const c = this.#picker.pick();
      if (c.active / c.weight < best.active / best.weight) best = c;
    }
    return best;
  }
}

/**
 * RING_HASH (ketama-like), Envoy's RingHashLoadBalancer: each host gets ring entries in proportion
 * to its normalised weight, at least `minimum_ring_size` entries in all and at most
 * `maximum_ring_size`; entry i of a host is hash("<address>_<i>"). A request maps to the first
 * entry clockwise of its hash.
 */
export class RingHashLb implements LoadBalancer {
  readonly #hashes: Uint32Array;
  readonly #owners: Uint32Array;
  readonly #hosts: readonly Host[];
  readonly #fallback: WeightedRandom;

  constructor(hosts: readonly Host[], random: LbRandom, opts: LbOptions) {
    this.#hosts = hosts;
    this.#fallback = new WeightedRandom(hosts, random);
    let total = 0;
    for (const h of hosts) total += h.weight;
    let minNorm = 1;
    for (const h of hosts) minNorm = Math.min(minNorm, h.weight / total);
    const scale = Math.min(Math.ceil(minNorm * opts.minRingSize) / minNorm, opts.maxRingSize);
    const entries: { hash: number; owner: number }[] = [];
    let currentHashes = 0;
    let targetHashes = 0;
    for (let i = 0; i < hosts.length; i++) {
      const h = hosts[i]!;
      targetHashes += scale * (h.weight / total);
      let n = 0;
      while (currentHashes < targetHashes) {
        entries.push({ hash: murmur3(h.key + '_' + n), owner: i });
        n++;
        currentHashes++;
      }
    }
    entries.sort((a, b) => a.hash - b.hash);
    this.#hashes = new Uint32Array(entries.length);
    this.#owners = new Uint32Array(entries.length);
    for (let i = 0; i < entries.length; i++) {
      this.#hashes[i] = entries[i]!.hash;
      this.#owners[i] = entries[i]!.owner;
    }
  }

  get ringSize(): number {
    return this.#hashes.length;
  }

  choose(hash: number, hasHash: boolean): Host {
    if (!hasHash) return this.#fallback.pick();
    const hs = this.#hashes;
    let lo = 0;
    let hi = hs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hs[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    if (lo === hs.length) lo = 0;
    return this.#hosts[this.#owners[lo]!]!;
  }
}

/**
 * MAGLEV: Envoy's weighted Maglev table (default 65537 entries, a prime). Each host has an offset
 * and skip from two hashes of its key; hosts take turns filling their next free preferred slot,
 * a host of weight w taking a turn every max_weight/w rounds.
 */
export class MaglevLb implements LoadBalancer {
  readonly #table: Uint32Array;
  readonly #hosts: readonly Host[];
  readonly #fallback: WeightedRandom;

  constructor(hosts: readonly Host[], random: LbRandom, tableSize: number) {
    this.#hosts = hosts;
    this.#fallback = new WeightedRandom(hosts, random);
    const m = tableSize;
    const table = new Uint32Array(m).fill(0xffffffff);
    let total = 0;
    for (const h of hosts) total += h.weight;
    let maxNorm = 0;
    const entries = hosts.map((h, i) => {
      const w = h.weight / total;
      if (w > maxNorm) maxNorm = w;
      return {
        index: i,
        offset: murmur3(h.key, 0) % m,
        skip: (murmur3(h.key, 1) % (m - 1)) + 1,
        weight: w,
        target: 0,
        next: 0,
      };
    });
    for (const e of entries) e.target = maxNorm;
    let filled = 0;
    for (let iteration = 1; filled < m; iteration++) {
      for (let i = 0; i < entries.length && filled < m; i++) {
        const e = entries[i]!;
        if (iteration * e.weight < e.target) continue;
        e.target += maxNorm;
        let c = (e.offset + e.skip * e.next) % m;
        while (table[c] !== 0xffffffff) {
          e.next++;
          c = (e.offset + e.skip * e.next) % m;
        }
        table[c] = e.index;
        e.next++;
        filled++;
      }
    }
    this.#table = table;
  }

  choose(hash: number, hasHash: boolean): Host {
    if (!hasHash) return this.#fallback.pick();
    return this.#hosts[this.#table[hash % this.#table.length]!]!;
  }
}

export function createLoadBalancer(
  policy: LbPolicy,
  hosts: readonly Host[],
  random: LbRandom,
  opts: LbOptions,
): LoadBalancer {
  switch (policy) {
    case 'ROUND_ROBIN':
      return new RoundRobinLb(hosts, random);
    case 'LEAST_REQUEST':
      return new LeastRequestLb(hosts, random, opts.choiceCount);
    case 'RANDOM':
      return new RandomLb(hosts, random);
    case 'RING_HASH':
      return new RingHashLb(hosts, random, opts);
    case 'MAGLEV':
      return new MaglevLb(hosts, random, opts.maglevTableSize);
  }
}
