// Connection pools per upstream endpoint, shared across snapshots: a config update that keeps an
// endpoint keeps its warm keep-alive connections. Pools are reference counted by the clusters that
// use them; the last release closes the pool gracefully (queued and running requests finish).

import { NATIVE_PARSER_PROBLEM } from './conn-pool';
import { createUpstreamPool, type UpstreamClientKind, type UpstreamPool } from './upstream-client';

export interface PoolOptions {
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
}

interface Entry {
  readonly pool: UpstreamPool;
  refs: number;
}

export class PoolRegistry {
  readonly #pools = new Map<string, Entry>();
  /** The upstream client every pool of this registry uses (see upstream-client.ts). */
  readonly client: UpstreamClientKind;

  /** `client` should come from resolveUpstreamClient; the default is native when this node has it. */
  constructor(client: UpstreamClientKind = NATIVE_PARSER_PROBLEM === null ? 'native' : 'undici') {
    this.client = client;
  }

  static key(hostKey: string, o: PoolOptions): string {
    return hostKey + '|' + o.connectTimeoutMs + '|' + o.idleTimeoutMs + '|' + o.maxConnections;
  }

  acquire(hostKey: string, o: PoolOptions): UpstreamPool {
    const key = PoolRegistry.key(hostKey, o);
    let e = this.#pools.get(key);
    if (e === undefined) {
      e = {
        pool: createUpstreamPool(this.client, hostAddress(hostKey), hostPort(hostKey), {
          connectTimeoutMs: o.connectTimeoutMs,
          // Route timeouts are applied per request (dispatch headersTimeout/bodyTimeout).
          idleTimeoutMs: o.idleTimeoutMs,
          maxConnections: o.maxConnections,
          // Envoy's default limit for upstream response headers (max_response_headers_kb: 60).
          maxHeaderSize: 60 * 1024,
        }),
        refs: 0,
      };
      this.#pools.set(key, e);
    }
    e.refs++;
    return e.pool;
  }

  release(hostKey: string, o: PoolOptions): void {
    const key = PoolRegistry.key(hostKey, o);
    const e = this.#pools.get(key);
    if (e === undefined) return;
    if (--e.refs === 0) {
      this.#pools.delete(key);
      e.pool.close().catch(() => undefined);
    }
  }

  get size(): number {
    return this.#pools.size;
  }

  /** Closes every pool now (shutdown): running requests are aborted. */
  async destroyAll(): Promise<void> {
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((e) => e.pool.destroy().catch(() => undefined)));
  }

  /** Closes every pool gracefully. */
  async closeAll(): Promise<void> {
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((e) => e.pool.close().catch(() => undefined)));
  }
}

/** `10.0.0.1:80` -> `10.0.0.1`; `[::1]:80` -> `::1`. */
function hostAddress(hostKey: string): string {
  const i = hostKey.lastIndexOf(':');
  const a = hostKey.slice(0, i);
  return a.charCodeAt(0) === 91 /* [ */ ? a.slice(1, -1) : a;
}

function hostPort(hostKey: string): number {
  return Number(hostKey.slice(hostKey.lastIndexOf(':') + 1));
}
