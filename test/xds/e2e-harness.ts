// weir fed by the fake control plane, end to end: a real ProxyServer whose config comes only from
// an ADS client built by adsClientFromBootstrap (the same wiring `weir -c` uses for a bootstrap
// with dynamic_resources), real upstreams on 127.0.0.1 port 0. Shared by test/e2e/xds-*.test.ts.
import { Recorder } from '../helpers/recorder';
import { Pool } from 'undici';
import { TYPE_URL, type Resource, type ResourceSet } from '../../src/config/resources';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { compileSnapshot } from '../../src/proxy/snapshot';
import { defaultRouteCompiler } from '../../src/proxy/route-binding';
import { cachedRouteCompiler } from '../../src/xds/route-compile-cache';
import type { AdsApiType, AdsClient } from '../../src/xds/ads-client';
import { adsClientFromBootstrap } from '../../src/xds/xds-source';
import { FakeAdsServer, type RecordedRequest, type SentResponse } from '../helpers/fake-ads-server';

export const L = TYPE_URL.LISTENER;
export const R = TYPE_URL.ROUTE_CONFIGURATION;
export const C = TYPE_URL.CLUSTER;
export const E = TYPE_URL.CLUSTER_LOAD_ASSIGNMENT;

/** The header every test route config adds to responses: which RouteConfiguration routed it. */
export const RDS_TAG = 'x-rds-tag';

export function rdsListener(name: string, routeConfig: string, port = 0): Resource {
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
              stat_prefix: name,
              rds: { route_config_name: routeConfig, config_source: { ads: {}, resource_api_version: 'V3' } },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } }],
            },
          },
        ],
      },
    ],
  };
}

export function edsCluster(name: string): Resource {
  return { name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } };
}

export function cla(name: string, port: number): Resource {
  return { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] };
}

/** A weighted route in weir's smooth pick mode (exact shares), or random (Envoy's default). */
export function weightedRoute(weights: Record<string, number>, opts: { smooth?: boolean; match?: object } = {}): Resource {
  return {
    match: opts.match ?? { prefix: '/' },
    route: { weighted_clusters: { clusters: Object.entries(weights).map(([name, weight]) => ({ name, weight })) } },
    ...(opts.smooth ? { metadata: { filter_metadata: { weir: { pick_mode: 'smooth' } } } } : {}),
  };
}

/** A RouteConfiguration whose responses carry `x-rds-tag: <tag>`: each response says which config routed it. */
export function routeConfig(name: string, routes: Resource[], tag: string): Resource {
  return {
    name,
    virtual_hosts: [{ name: 'all', domains: ['*'], routes }],
    response_headers_to_add: [{ header: { key: RDS_TAG, value: tag } }],
  };
}

export interface LogLine {
  level: string;
  msg: string;
}

export interface XdsProxy {
  readonly server: FakeAdsServer;
  readonly proxy: ProxyServer;
  readonly client: AdsClient;
  readonly logs: LogLine[];
  /** Route compiles done / saved by the shared cache. */
  readonly routeCompiles: { hits: number; misses: number };
  /** Resolves once `apply` returned for a set matching `pred` (already applied counts). */
  waitApplied(pred: (s: ResourceSet) => boolean, timeoutMs?: number): Promise<ResourceSet>;
  /** The bound port of listener `name`. */
  port(name: string): number;
  /**
   * Replace the resources of a type on the control plane, wait for the response carrying them and
   * for weir's reply to it (ACK or NACK), and, when ACKed, for the data path to serve it.
   */
  push(typeUrl: string, resources: object[]): Promise<{ sent: SentResponse; reply: RecordedRequest }>;
  close(): Promise<void>;
}

export const versionOfType = (set: ResourceSet, short: 'lds' | 'rds' | 'cds' | 'eds'): string =>
  new RegExp(`\\b${short}=(\\S*)`).exec(set.versionInfo)?.[1] ?? '';

const SHORT: Record<string, 'lds' | 'rds' | 'cds' | 'eds'> = { [L]: 'lds', [R]: 'rds', [C]: 'cds', [E]: 'eds' };

/**
 * Starts a fake control plane seeded by `seed`, a ProxyServer, and an ADS client configured from a
 * bootstrap with `dynamic_resources` (a static `xds-grpc` cluster pointing at the fake server),
 * then waits for the first apply.
 */
export async function startXdsProxy(opts: {
  seed: (server: FakeAdsServer) => void;
  apiType?: AdsApiType;
  backoff?: { baseMs: number; maxMs: number };
  server?: FakeAdsServer;
}): Promise<XdsProxy> {
  const server = opts.server ?? (await FakeAdsServer.start());
  opts.seed(server);
  const logs: LogLine[] = [];
  const log = {
    debug: () => undefined,
    info: (msg: string) => void logs.push({ level: 'info', msg }),
    warn: (msg: string) => void logs.push({ level: 'warn', msg }),
    error: (msg: string) => void logs.push({ level: 'error', msg }),
  };
  // As serve.ts wires it: validation and serving share one compile per RouteConfiguration.
  const compileRoutes = cachedRouteCompiler(defaultRouteCompiler());
  const proxy = new ProxyServer({ log, drainTimeMs: 5000, snapshotOptions: { compileRoutes } });
  const staticSet: ResourceSet = {
    listeners: [],
    routeConfigurations: [],
    clusters: [
      {
        name: 'xds-grpc',
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: server.port } } } }] }] },
      },
    ],
    clusterLoadAssignments: [],
    versionInfo: 'static',
  };
  const built = adsClientFromBootstrap({
    bootstrap: {
      resources: staticSet,
      node: { id: 'sidecar~127.0.0.1~weir-e2e.default~default.svc.cluster.local', cluster: 'weir.default', metadata: { NAMESPACE: 'default' } },
      dynamicResources: {
        ads_config: { api_type: opts.apiType ?? 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] },
        lds_config: { ads: {}, resource_api_version: 'V3' },
        cds_config: { ads: {}, resource_api_version: 'V3' },
      },
    },
    compile: (s) => compileSnapshot(s, { compileRoutes }).errors ?? [],
    apply: (s) => proxy.apply(s),
    log,
    backoff: opts.backoff ?? { baseMs: 50, maxMs: 500 },
  });
  if (built.errors) throw new Error(built.errors.join('\n'));
  const client = built.value!;
  const recorded = new Recorder<ResourceSet>();
  const applied = recorded.values;
  client.events.on('applied', (s: ResourceSet) => recorded.push(s));
  const waitApplied = (pred: (s: ResourceSet) => boolean, timeoutMs = 5000): Promise<ResourceSet> =>
    recorded.waitFor(pred, timeoutMs, (vs) => `${vs.length} applies; last ${vs[vs.length - 1]?.versionInfo}`);
  client.start();
  await waitApplied(() => true);
  return {
    server,
    proxy,
    client,
    logs,
    routeCompiles: compileRoutes.stats,
    waitApplied,
    port(name: string): number {
      const l = proxy.listeners().find((x) => x.name === name);
      if (!l) throw new Error(`no listener ${name} (have ${proxy.listeners().map((x) => x.name).join(', ')})`);
      return l.port;
    },
    async push(typeUrl: string, resources: object[]) {
      const from = server.responses.length;
      const version = server.setResources(typeUrl, resources);
      const sent = await server.waitForResponse((r) => r.type_url === typeUrl && r.version_info === version, { from });
      const reply = await server.waitForReply(sent.nonce);
      if (!reply.error_detail) await waitApplied((s) => versionOfType(s, SHORT[typeUrl]!) === version);
      return { sent, reply };
    },
    async close() {
      await client.stop();
      await proxy.close();
      await server.close();
    },
  };
}

export interface Sample {
  status: number;
  body: string;
  tag: string;
  /** The epoch (test-defined) current when the request was sent. */
  epoch: number;
}

/**
 * A client sending requests back to back on `connections` keep-alive connections until stopped
 * (bounded by `maxRequests`). Every response is recorded with the epoch current at its start.
 */
export class ContinuousClient {
  readonly samples: Sample[] = [];
  readonly errors: string[] = [];
  /** Responses per x-rds-tag value. */
  readonly byTag = new Map<string, number>();
  epoch = 0;
  #stopped = false;
  #pool: Pool;
  #done: Promise<void>;
  #waiters: { pred: () => boolean; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];

  constructor(port: number, opts: { connections?: number; maxRequests?: number; path?: string } = {}) {
    const connections = opts.connections ?? 4;
    const max = opts.maxRequests ?? 200_000;
    this.#pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (!this.#stopped && sent < max) {
        sent++;
        const epoch = this.epoch;
        try {
          const r = await this.#pool.request({ path: opts.path ?? '/', method: 'GET' });
          const body = await r.body.text();
          const tag = String(r.headers[RDS_TAG] ?? '');
          this.samples.push({ status: r.statusCode, body, tag, epoch });
          this.byTag.set(tag, (this.byTag.get(tag) ?? 0) + 1);
          if (r.statusCode !== 200) this.errors.push(`status ${r.statusCode}: ${body.slice(0, 200)}`);
        } catch (e) {
          this.errors.push(`request failed: ${(e as Error).message}`);
        }
        this.#check();
      }
    };
    this.#done = Promise.all(Array.from({ length: connections }, worker)).then(() => undefined);
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.pred()) return true;
      clearTimeout(w.timer);
      w.resolve();
      return false;
    });
  }

  count(tag: string): number {
    return this.byTag.get(tag) ?? 0;
  }

  /** Resolves once `pred` holds after some response (checked after each one). */
  until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          reject(new Error(`client condition not met within ${timeoutMs} ms (${this.samples.length} samples)`));
        }, timeoutMs),
      };
      this.#waiters.push(w);
    });
  }

  #stopping: Promise<void> | null = null;

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
    await this.#pool.close();
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('client stopped'));
    }
    this.#waiters = [];
  }
}
