// The runtime side of a cluster: hosts (resolved for DNS clusters), the load balancer over the
// priority level in use, pools, and the circuit-breaker counters. One Cluster object per cluster
// per snapshot; pools outlive it through the PoolRegistry.

import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import type { ClusterConfig, EndpointConfig } from './cluster-config';
import { Host } from './host';
import type { LoadBalancer } from './load-balancer';
import { createLoadBalancer } from './load-balancer';
import type { PoolOptions, PoolRegistry } from './pool-registry';
import { LbRandom } from './random';

export interface ClusterLogger {
  warn(msg: string, fields?: object): void;
}

export class Cluster {
  readonly name: string;
  readonly config: ClusterConfig;
  readonly poolOptions: PoolOptions;
  /** Circuit-breaker thresholds, copied flat for the hot path. */
  readonly maxRequests: number;
  readonly maxPendingRequests: number;
  readonly maxRetries: number;
  readonly maxConnections: number;
  activeRequests = 0;
  activeRetries = 0;
  #hosts: Host[] = [];
  #lb: LoadBalancer | null = null;
  readonly #registry: PoolRegistry;
  readonly #random: LbRandom;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #log: ClusterLogger | undefined;

  constructor(config: ClusterConfig, registry: PoolRegistry, random: LbRandom, log?: ClusterLogger) {
    this.name = config.name;
    this.config = config;
    this.#registry = registry;
    this.#random = random;
    this.#log = log;
    this.poolOptions = {
      connectTimeoutMs: config.connectTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      maxConnections: config.circuitBreakers.maxConnections,
    };
    this.maxRequests = config.circuitBreakers.maxRequests;
    this.maxPendingRequests = config.circuitBreakers.maxPendingRequests;
    this.maxRetries = config.circuitBreakers.maxRetries;
    this.maxConnections = config.circuitBreakers.maxConnections;
  }

  /** Every host, all priorities (config_dump, tests). */
  get hosts(): readonly Host[] {
    return this.#hosts;
  }

  /**
   * Resolves names (DNS clusters) and builds the load balancer. Resolves once the first resolution
   * finished (Envoy's cluster warming), then re-resolves every dns_refresh_rate.
   */
  async start(): Promise<void> {
    const c = this.config;
    if (c.type === 'STRICT_DNS' || c.type === 'LOGICAL_DNS') {
      await this.#resolve();
      if (!this.#closed) {
        this.#timer = setInterval(() => void this.#resolve(), Math.max(c.dnsRefreshRateMs, 100));
        this.#timer.unref();
      }
    } else {
      this.#setHosts(c.endpoints.map((e) => makeHost(e, e.address, e.address)));
    }
  }

  async #resolve(): Promise<void> {
    const c = this.config;
    const logical = c.type === 'LOGICAL_DNS';
    const lists = await Promise.all(
      c.endpoints.map(
        (e) =>
          new Promise<Host[]>((resolve) => {
            if (isIP(e.address) !== 0) return resolve([makeHost(e, e.address, e.address)]);
            lookup(e.address, { family: c.dnsFamily, all: true }, (err, addrs) => {
              if (err || addrs.length === 0) {
                this.#log?.warn('dns resolution failed', { cluster: c.name, host: e.address, error: err?.message });
                return resolve([]);
              }
              // LOGICAL_DNS uses only the first address (Envoy: one logical host).
              const use = logical ? addrs.slice(0, 1) : addrs;
              resolve(use.map((a) => makeHost(e, a.address, e.address)));
            });
          }),
      ),
    );
    if (this.#closed) return;
    const fresh = lists.flat();
    // Keep Host objects (and their active counts) for addresses that did not change.
    const old = new Map(this.#hosts.map((h) => [h.key + '|' + h.weight + '|' + h.priority, h]));
    const next = fresh.map((h) => old.get(h.key + '|' + h.weight + '|' + h.priority) ?? h);
    const same = next.length === this.#hosts.length && next.every((h, i) => h === this.#hosts[i]);
    // A failed resolution keeps the last good host set (Envoy keeps serving the previous hosts).
    if (!same && (fresh.length > 0 || this.#hosts.length === 0)) this.#setHosts(next);
  }

  #setHosts(hosts: Host[]): void {
    const prev = this.#hosts;
    for (const h of hosts) if (h.pool === null) h.pool = this.#registry.acquire(h.key, this.poolOptions);
    const keep = new Set(hosts);
    for (const h of prev) {
      if (!keep.has(h)) {
        this.#registry.release(h.key, this.poolOptions);
        h.pool = null;
      }
    }
    this.#hosts = hosts;
    this.#lb = this.#buildLb();
  }

  /** Priority 0 unless it has no healthy host, then the next level (Envoy's priority failover). */
  #buildLb(): LoadBalancer | null {
    const byPriority = new Map<number, Host[]>();
    for (const h of this.#hosts) {
      if (!h.healthy) continue;
      let l = byPriority.get(h.priority);
      if (l === undefined) byPriority.set(h.priority, (l = []));
      l.push(h);
    }
    if (byPriority.size === 0) return null;
    const lowest = Math.min(...byPriority.keys());
    const hosts = byPriority.get(lowest)!;
    const c = this.config;
    // Locality-weighted load balancing (Envoy: only with locality_weighted_lb_config, and not for
    // the consistent-hash policies): a locality is drawn by its load_balancing_weight, then the
    // policy runs over that locality's hosts.
    if (c.localityWeighted && c.lbPolicy !== 'RING_HASH' && c.lbPolicy !== 'MAGLEV') {
      const byLocality = new Map<string, Host[]>();
      for (const h of hosts) {
        const l = h.locality;
        const k = l === null ? '' : l.region + '/' + l.zone + '/' + l.subZone;
        let list = byLocality.get(k);
        if (list === undefined) byLocality.set(k, (list = []));
        list.push(h);
      }
      if (byLocality.size > 1) {
        const groups = [...byLocality.values()].filter((g) => g[0]!.localityWeight > 0);
        if (groups.length === 0) return null;
        return new LocalityLb(
          groups.map((g) => createLoadBalancer(c.lbPolicy, g, this.#random, c.lbOptions)),
          groups.map((g) => g[0]!.localityWeight),
          this.#random,
        );
      }
    }
    return createLoadBalancer(c.lbPolicy, hosts, this.#random, c.lbOptions);
  }

  /** The host for one request attempt, or null when none is healthy (503 UH). */
  chooseHost(hash: number, hasHash: boolean): Host | null {
    const lb = this.#lb;
    return lb === null ? null : lb.choose(hash, hasHash);
  }

  /** Releases this cluster's pools (gracefully: requests in flight finish) and stops DNS refresh. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    for (const h of this.#hosts) {
      if (h.pool !== null) {
        this.#registry.release(h.key, this.poolOptions);
        h.pool = null;
      }
    }
  }
}

/** Draws a locality by weight, then defers to that locality's load balancer. */
class LocalityLb implements LoadBalancer {
  readonly #lbs: readonly LoadBalancer[];
  readonly #cumulative: Float64Array;
  readonly #total: number;
  readonly #random: LbRandom;

  constructor(lbs: LoadBalancer[], weights: number[], random: LbRandom) {
    this.#lbs = lbs;
    this.#random = random;
    this.#cumulative = new Float64Array(weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) {
      sum += weights[i]!;
      this.#cumulative[i] = sum;
    }
    this.#total = sum;
  }

  choose(hash: number, hasHash: boolean): Host {
    const r = (this.#random.nextUint32() / 0x100000000) * this.#total;
    const c = this.#cumulative;
    let i = 0;
    while (i < c.length - 1 && r >= c[i]!) i++;
    return this.#lbs[i]!.choose(hash, hasHash);
  }
}

function makeHost(e: EndpointConfig, address: string, hostname: string): Host {
  return new Host(address, e.port, hostname, e.weight, e.priority, e.locality, e.localityWeight, e.metadata, e.healthy);
}
