// Builders for small ResourceSets and a client for data-path tests.

import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import { Pool } from 'undici';
import type { ResourceSet } from '../../src/config/resources';
import { ProxyServer, type ProxyServerOptions } from '../../src/proxy/proxy-server';
import { TYPE_URL } from '../../src/config/resources';
import type { UpstreamClientKind } from '../../src/upstream/upstream-client';
import type { DownstreamServerKind } from '../../src/proxy/h1-server';

export interface EndpointSpec {
  port: number;
  weight?: number;
  metadata?: object;
  address?: string;
  priority?: number;
}

export function staticCluster(name: string, endpoints: (number | EndpointSpec)[], extra: object = {}): Record<string, unknown> {
  const byPriority = new Map<number, EndpointSpec[]>();
  for (const e of endpoints) {
    const s = typeof e === 'number' ? { port: e } : e;
    const p = s.priority ?? 0;
    byPriority.set(p, [...(byPriority.get(p) ?? []), s]);
  }
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [...byPriority].map(([priority, eps]) => ({
        priority,
        lb_endpoints: eps.map((s) => ({
          endpoint: { address: { socket_address: { address: s.address ?? '127.0.0.1', port_value: s.port } } },
          ...(s.weight !== undefined ? { load_balancing_weight: s.weight } : {}),
          ...(s.metadata !== undefined ? { metadata: s.metadata } : {}),
        })),
      })),
    },
    ...extra,
  };
}

export function routeConfig(routes: object[], extra: object = {}): Record<string, unknown> {
  return { name: 'local_route', virtual_hosts: [{ name: 'all', domains: ['*'], routes }], ...extra };
}

export function listener(name: string, routeConfiguration: object | { rds: string }, hcmExtra: object = {}, port = 0): Record<string, unknown> {
  const rc = 'rds' in routeConfiguration ? { rds: { route_config_name: (routeConfiguration as { rds: string }).rds } } : { route_config: routeConfiguration };
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TYPE_URL.HTTP_CONNECTION_MANAGER,
              stat_prefix: 'ingress_http',
              ...rc,
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } }],
              access_log: [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog' } }],
              ...hcmExtra,
            },
          },
        ],
      },
    ],
  };
}

export function resources(listeners: object[], clusters: object[], extra: Partial<ResourceSet> = {}): ResourceSet {
  return {
    listeners: listeners as never,
    routeConfigurations: [],
    clusters: clusters as never,
    clusterLoadAssignments: [],
    versionInfo: '1',
    ...extra,
  };
}

/** Collects access log lines. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  #waiters: { n: number; resolve: () => void }[] = [];

  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l !== '') this.lines.push(l);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.lines.length >= w.n) {
        w.resolve();
        return false;
      }
      return true;
    });
    cb();
  }

  /** Resolves once at least `n` lines arrived. */
  waitFor(n: number): Promise<void> {
    if (this.lines.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  last(): string {
    return this.lines[this.lines.length - 1] ?? '';
  }
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export const keepAliveAgent = (): Agent => new Agent({ keepAlive: true, maxSockets: 32 });

export function get(port: number, path: string, headers: Record<string, string | string[]> = {}, agent?: Agent, method = 'GET'): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs `n` calls of `fn` with at most `concurrency` in flight. */
export async function runConcurrent<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

/** Fires `n` GETs over a keep-alive undici pool (faster than node's client) and tallies bodies. */
export async function tally(port: number, n: number, concurrency = 32, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  // Pipelining keeps the client's own cost per request low: the proxy is what is under test.
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: Math.min(concurrency, 8), pipelining: Math.ceil(concurrency / 8) });
  const counts = new Map<string, number>();
  try {
    await runConcurrent(n, concurrency, async () => {
      const r = await pool.request({ path: '/', method: 'GET', headers });
      const body = r.statusCode === 200 ? await r.body.text() : (await r.body.dump(), `status ${r.statusCode}`);
      counts.set(body, (counts.get(body) ?? 0) + 1);
    });
  } finally {
    await pool.close();
  }
  return counts;
}

/** The slice of tap's Test API these tests' helpers use. */
export interface TestLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  teardown(fn: () => any): any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  same(...args: any[]): any;
}

/**
 * The upstream client the suites run against: WEIR_UPSTREAM_CLIENT=native|undici (default: the
 * proxy's own default). test/proxy/undici-client.test.ts sets it to re-run suites over undici.
 */
export function upstreamClientFromEnv(): UpstreamClientKind | undefined {
  const v = process.env.WEIR_UPSTREAM_CLIENT;
  if (v === undefined || v === '') return undefined;
  if (v !== 'native' && v !== 'undici') throw new Error(`WEIR_UPSTREAM_CLIENT must be native or undici, not ${v}`);
  return v;
}

/**
 * The downstream server the suites run against: WEIR_DOWNSTREAM_SERVER=native|node (default: the
 * proxy's own default, the lean server). test/proxy/node-server.test.ts sets it to re-run suites
 * over node:http.
 */
export function downstreamServerFromEnv(): DownstreamServerKind | undefined {
  const v = process.env.WEIR_DOWNSTREAM_SERVER;
  if (v === undefined || v === '') return undefined;
  if (v !== 'native' && v !== 'node') throw new Error(`WEIR_DOWNSTREAM_SERVER must be native or node, not ${v}`);
  return v;
}

/** A ProxyServer with one listener on port 0 serving `rc`, closed at teardown; access log captured. */
export async function setupProxy(t: TestLike, rc: object, clusters: object[], hcmExtra: object = {}, opts: ProxyServerOptions = {}) {
  const log = new LogCapture();
  const proxy = new ProxyServer({ accessLogStream: log, upstreamClient: upstreamClientFromEnv(), downstreamServer: downstreamServerFromEnv(), ...opts });
  t.teardown(() => proxy.close());
  const r = await proxy.apply(resources([listener('l', rc, hcmExtra)], clusters));
  t.same(r.errors, [], 'applied');
  const port = proxy.listeners()[0]!.port;
  const agent = keepAliveAgent();
  t.teardown(() => agent.destroy());
  return { proxy, port, log, agent };
}
