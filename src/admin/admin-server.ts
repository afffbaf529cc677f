// Envoy's admin API (https://www.envoyproxy.io/docs/envoy/latest/operations/admin), the paths and
// response shapes weir can honour, on the bootstrap's `admin.address` (127.0.0.1 unless the
// bootstrap says otherwise). Mutating endpoints need POST, as in Envoy (405 otherwise).
//
// Health checks: Envoy's POST /healthcheck/fail sets the server's "health check failed" flag, which
// the HTTP health check filter answers with 503, `/ready` and `/server_info` report as DRAINING
// (admin server_info_handler serverState()), and the HTTP connection manager turns into
// `connection: close` on every response (DrainManagerImpl::drainClose). weir has no health check
// filter; it does the rest: /ready 503 DRAINING, server_info DRAINING, and (when the proxy offers
// setHealthCheckFailed) `connection: close` on proxied responses. POST /healthcheck/ok undoes it.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { RE2JS } from 're2js';
import type { Snapshot } from '../proxy/snapshot';
import type { Metrics } from './metrics';
import type { MetricJson } from './metric-family';
import { buildConfigDump, selectConfigDump, type ConfigDumpInput } from './config-dump';
import { statLines, statsJson, statsText } from './stats-text';
import { DASHBOARD_HTML, dashboardData } from './dashboard';
import { askWorkers, collectWorkerMetrics, WORKER_TIMEOUT_MS, METRICS_TIMEOUT_MS, type ListenerStatus } from './worker-metrics';
import { clusterStatuses, clustersJson, clustersText, mergeClusterStatuses, type ClusterSource, type ClusterStatus } from './cluster-status';
import { explainOn, formatExplanation, type ExplainRequest } from './explain';

/** Envoy's server states (envoy.admin.v3.ServerInfo.State). */
export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface AdminLogger {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
}

/** What the admin reads of the running proxy (src/proxy ProxyServer). */
export interface AdminProxy {
  readonly snapshot: Snapshot | null;
  readonly clusters: ReadonlyMap<string, AdminCluster>;
  listeners(): { name: string; address: string; port: number }[];
  drain(timeoutMs?: number): Promise<void>;
  setHealthCheckFailed?(failed: boolean): void;
}

export interface AdminCluster {
  readonly name: string;
  readonly config: { readonly raw: { readonly [k: string]: unknown }; readonly circuitBreakers: { maxConnections: number; maxPendingRequests: number; maxRequests: number; maxRetries: number } };
  /** The host shape /clusters reads (cluster-status.ts ClusterSource). */
  readonly hosts: ClusterSource['hosts'];
}

export interface AdminServerOptions {
  address: string;
  port: number;
  state(): ServerState;
  proxy?: AdminProxy | null;
  /** This process's metrics (single process, or a worker). */
  metrics?: Metrics | null;
  /**
   * The primary of --concurrency N: metrics, /clusters and /listeners come from the workers (over
   * IPC, src/admin/worker-metrics.ts), merged. Responses that had to leave a worker out (it did not
   * answer within the time bound) say so in `x-weir-workers: <answered>/<asked>`.
   */
  aggregateWorkers?: boolean;
  /** Bound on waiting for the workers' answers to /clusters and /listeners (ms); metrics get twice it. */
  workerTimeoutMs?: number;
  /** What /config_dump shows (bootstrap, static resources, ADS state, file sources). */
  configDump?: () => ConfigDumpInput;
  node?: object;
  commandLineOptions?: object;
  version?: string;
  /** GET /explain (off by default: --enable-explain). */
  enableExplain?: boolean;
  /** POST /quitquitquit. */
  onQuit?: () => void;
  /** POST /logging?level=: returns false for an unknown level. */
  setLogLevel?: (level: string) => boolean;
  logLevel?: () => string;
  /** Drain time for POST /drain_listeners?graceful (Envoy --drain-time-s). */
  drainTimeMs?: number;
  log?: AdminLogger;
}

/** Envoy's help lines for the endpoints weir serves. */
const ENDPOINTS: readonly [string, string, boolean][] = [
  ['/', 'Admin home page', false],
  ['/clusters', 'upstream cluster status', false],
  ['/config_dump', 'dump current Envoy configs (experimental)', false],
  ['/dashboard', 'weir: live traffic split page (same as /weir)', false],
  ['/drain_listeners', 'drain listeners', true],
  ['/explain', 'weir: explain the route a request would take (needs --enable-explain)', false],
  ['/healthcheck/fail', 'cause the server to fail health checks', true],
  ['/healthcheck/ok', 'cause the server to pass health checks', true],
  ['/help', 'print out list of admin commands', false],
  ['/listeners', 'print listener info', false],
  ['/logging', 'query/change logging levels', true],
  ['/quitquitquit', 'exit the server', true],
  ['/ready', 'print server state, return 200 if LIVE, otherwise return 503', false],
  ['/server_info', 'print server version/status information', false],
  ['/stats', 'print server stats', false],
  ['/stats/prometheus', 'print server stats in prometheus format', false],
  ['/weir', 'weir: live traffic split page', false],
];

export function adminHelp(): string {
  let s = 'admin commands are:\n';
  for (const [p, h, post] of ENDPOINTS) s += `  ${p}${post ? ' (POST)' : ''}: ${h}\n`;
  return s;
}

const TEXT = 'text/plain; charset=UTF-8';
const JSON_TYPE = 'application/json';
const PROM = 'text/plain; version=0.0.4; charset=utf-8';

function send(res: http.ServerResponse, status: number, type: string, body: string, extra?: { [k: string]: string }): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache, max-age=0', 'x-content-type-options': 'nosniff', ...extra });
  res.end(body);
}

/** `x-weir-workers: answered/asked` for a response merged from --concurrency workers. */
function workersHeader(w: { answered: number; asked: number } | null): { [k: string]: string } | undefined {
  return w === null ? undefined : { 'x-weir-workers': `${w.answered}/${w.asked}` };
}

/** proto3 JSON leaves unset fields out (the bootstrap loader keeps `locality: null`). */
function withoutNulls(o: object): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

function durationText(ms: number): string {
  return `${Math.floor(ms / 1000)}s`;
}

export class AdminServer {
  readonly #opts: AdminServerOptions;
  readonly #server: http.Server;
  readonly #started = Date.now();
  #healthCheckFailed = false;
  address = '';
  port = 0;

  private constructor(opts: AdminServerOptions) {
    this.#opts = opts;
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        opts.log?.warn('admin request failed', { error: (e as Error).message });
        if (!res.headersSent) send(res, 500, TEXT, `internal error: ${(e as Error).message}\n`);
        else res.destroy();
      });
    });
    // Admin connections must not hold the process open after a drain.
    this.#server.keepAliveTimeout = 1000;
  }

  static async start(opts: AdminServerOptions): Promise<AdminServer> {
    const a = new AdminServer(opts);
    await new Promise<void>((resolve, reject) => {
      a.#server.once('error', reject);
      a.#server.listen(opts.port, opts.address, () => {
        a.#server.off('error', reject);
        resolve();
      });
    });
    const addr = a.#server.address() as AddressInfo;
    a.address = addr.address;
    a.port = addr.port;
    opts.log?.info(`admin address: ${addr.address}:${addr.port}`);
    return a;
  }

  get healthCheckFailed(): boolean {
    return this.#healthCheckFailed;
  }

  /** Envoy's serverState(): an initialized server whose health check failed reports DRAINING. */
  state(): ServerState {
    const s = this.#opts.state();
    return s === 'LIVE' && this.#healthCheckFailed ? 'DRAINING' : s;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #registry(): Promise<{ registry: Registry | null; workers: { answered: number; asked: number } | null }> {
    if (this.#opts.aggregateWorkers) {
      const w = await collectWorkerMetrics(this.#opts.workerTimeoutMs !== undefined ? 2 * this.#opts.workerTimeoutMs : METRICS_TIMEOUT_MS);
      return { registry: w.registry, workers: { answered: w.workers, asked: w.asked } };
    }
    return { registry: this.#opts.metrics?.registry ?? null, workers: null };
  }

  async #metricsJson(): Promise<{ metrics: MetricJson[]; workers: { answered: number; asked: number } | null }> {
    const { registry, workers } = await this.#registry();
    return { metrics: registry === null ? [] : ((await registry.getMetricsAsJSON()) as unknown as MetricJson[]), workers };
  }

  /** /clusters: this process's clusters, or (primary) every worker's merged. */
  async #clusterStatuses(): Promise<{ statuses: ClusterStatus[]; workers: { answered: number; asked: number } | null }> {
    const o = this.#opts;
    if (o.aggregateWorkers) {
      const { answers, asked } = await askWorkers('clusters', o.workerTimeoutMs ?? WORKER_TIMEOUT_MS);
      return { statuses: mergeClusterStatuses(answers), workers: { answered: answers.length, asked } };
    }
    return { statuses: clusterStatuses(o.proxy?.clusters.values(), o.metrics), workers: null };
  }

  /**
   * /listeners: the addresses bound. The primary asks the workers (they hold the servers; a port 0
   * listener's port is known only there) and falls back to its own view when none answers.
   */
  async #listeners(): Promise<{ listeners: ListenerStatus[]; workers: { answered: number; asked: number } | null }> {
    const o = this.#opts;
    if (o.aggregateWorkers) {
      const { answers, asked } = await askWorkers('listeners', o.workerTimeoutMs ?? WORKER_TIMEOUT_MS);
      // Workers share each socket (node:cluster): the same name and address in every answer.
      const byName = new Map<string, ListenerStatus>();
      for (const a of answers) for (const l of a) if (!byName.has(l.name)) byName.set(l.name, l);
      const listeners = answers.length > 0 ? [...byName.values()] : (o.proxy?.listeners() ?? []);
      return { listeners, workers: { answered: answers.length, asked } };
    }
    return { listeners: o.proxy?.listeners() ?? [], workers: null };
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    const q = url.searchParams;
    const entry = ENDPOINTS.find(([p]) => p === path);
    if (entry === undefined && path !== '/weir/data.json') {
      send(res, 404, TEXT, 'invalid path. ' + adminHelp());
      return;
    }
    if (entry !== undefined && entry[2] && req.method !== 'POST') {
      send(res, 405, TEXT, 'This endpoint requires a POST\n');
      return;
    }
    const o = this.#opts;
    switch (path) {
      case '/':
      case '/help':
        return send(res, 200, TEXT, adminHelp());
      case '/ready': {
        const s = this.state();
        return send(res, s === 'LIVE' ? 200 : 503, TEXT, s + '\n');
      }
      case '/server_info':
        return send(res, 200, JSON_TYPE, JSON.stringify(this.#serverInfo(), null, 2) + '\n');
      case '/healthcheck/fail':
        this.#healthCheckFailed = true;
        o.proxy?.setHealthCheckFailed?.(true);
        return send(res, 200, TEXT, 'OK\n');
      case '/healthcheck/ok':
        this.#healthCheckFailed = false;
        o.proxy?.setHealthCheckFailed?.(false);
        return send(res, 200, TEXT, 'OK\n');
      case '/drain_listeners': {
        // Envoy: stop accepting on the listeners; `graceful` first lets connections finish within
        // the drain time. Requests in flight always finish.
        const p = o.proxy;
        if (p) void p.drain(q.has('graceful') ? o.drainTimeMs : 0);
        return send(res, 200, TEXT, 'OK\n');
      }
      case '/quitquitquit':
        send(res, 200, TEXT, 'OK\n');
        o.log?.info('admin: /quitquitquit: shutting down');
        if (o.onQuit) setImmediate(o.onQuit);
        return;
      case '/logging': {
        const level = q.get('level');
        if (level !== null && (o.setLogLevel === undefined || !o.setLogLevel(level))) {
          return send(res, 404, TEXT, `error: unknown logger level ${JSON.stringify(level)}\nusage: /logging?level=<trace|debug|info|warning|error|critical|off>\n`);
        }
        const cur = o.logLevel?.() ?? 'info';
        return send(res, 200, TEXT, `active loggers:\n${['admin', 'config', 'upstream', 'router', 'main'].map((n) => `  ${n}: ${cur}`).join('\n')}\n`);
      }
      case '/stats': {
        const filter = q.get('filter');
        // Envoy's filter is an RE2 regex (partial match); re2js keeps it linear-time.
        let re: { test(s: string): boolean } | null = null;
        if (filter !== null && filter !== '') {
          try {
            const p = RE2JS.compile(filter);
            re = { test: (name: string) => p.matcher(name).find() };
          } catch {
            return send(res, 400, TEXT, `Invalid re2 regex: ${filter}\n`);
          }
        }
        if (q.get('format') === 'prometheus') return this.#prometheus(res);
        const { metrics, workers } = await this.#metricsJson();
        const lines = statLines(metrics, re, q.has('usedonly'));
        if (q.get('format') === 'json') return send(res, 200, JSON_TYPE, statsJson(lines) + '\n', workersHeader(workers));
        return send(res, 200, TEXT, statsText(lines), workersHeader(workers));
      }
      case '/stats/prometheus':
        return this.#prometheus(res);
      case '/config_dump': {
        const includeEds = q.has('include_eds');
        // The --concurrency primary shows what a worker serves (with xDS, the workers hold the
        // ADS streams); its own bootstrap view when no worker answers in time.
        const fromWorker = o.aggregateWorkers ? (await askWorkers('config_dump', o.workerTimeoutMs ?? WORKER_TIMEOUT_MS, { arg: { includeEds }, first: true })).answers[0] : undefined;
        const dump = (fromWorker as ReturnType<typeof buildConfigDump> | null | undefined) ?? buildConfigDump({ ...(o.configDump?.() ?? {}), includeEds });
        const sel = selectConfigDump(dump, q.get('resource'), q.get('mask'));
        if (sel === null) return send(res, 404, TEXT, `${q.get('resource')} not found in config dump\n`);
        return send(res, 200, JSON_TYPE, JSON.stringify(sel, null, 2) + '\n');
      }
      case '/clusters': {
        const { statuses, workers } = await this.#clusterStatuses();
        const added = (name: string): boolean => this.#addedViaApi(name);
        if (q.get('format') === 'json') return send(res, 200, JSON_TYPE, JSON.stringify(clustersJson(statuses, added), null, 2) + '\n', workersHeader(workers));
        return send(res, 200, TEXT, clustersText(statuses, added), workersHeader(workers));
      }
      case '/listeners': {
        const { listeners: ls, workers } = await this.#listeners();
        if (q.get('format') === 'json') {
          return send(res, 200, JSON_TYPE, JSON.stringify({ listener_statuses: ls.map((l) => ({ name: l.name, local_address: { socket_address: { address: l.address, port_value: l.port } } })) }, null, 2) + '\n', workersHeader(workers));
        }
        return send(res, 200, TEXT, ls.map((l) => `${l.name}::${l.address}:${l.port}\n`).join(''), workersHeader(workers));
      }
      case '/weir':
      case '/dashboard':
        return send(res, 200, 'text/html; charset=UTF-8', DASHBOARD_HTML);
      case '/weir/data.json': {
        const rej = o.metrics?.configState.rejected;
        return send(res, 200, JSON_TYPE, JSON.stringify(dashboardData((await this.#metricsJson()).metrics, rej ? rej.errors : [])));
      }
      case '/explain':
        return this.#explain(res, q);
    }
  }

  async #prometheus(res: http.ServerResponse): Promise<void> {
    const { registry, workers } = await this.#registry();
    send(res, 200, PROM, registry === null ? '' : await registry.metrics(), workersHeader(workers));
  }

  #serverInfo(): object {
    const o = this.#opts;
    const up = durationText(Date.now() - this.#started);
    return {
      version: `weir/${o.version ?? 'unknown'}/Clean/RELEASE/node-${process.versions.node}`,
      state: this.state(),
      hot_restart_version: 'disabled',
      command_line_options: o.commandLineOptions ?? {},
      node: withoutNulls(o.node ?? {}),
      uptime_current_epoch: up,
      uptime_all_epochs: up,
    };
  }

  #addedViaApi(name: string): boolean {
    const st = this.#opts.configDump?.().staticSet;
    return st ? !st.clusters.some((c) => c.name === name) : false;
  }

  async #explain(res: http.ServerResponse, q: URLSearchParams): Promise<void> {
    const o = this.#opts;
    if (!o.enableExplain) return send(res, 404, TEXT, '/explain is disabled: start weir with --enable-explain\n');
    const authority = q.get('authority');
    if (authority === null || authority === '') return send(res, 400, TEXT, 'usage: /explain?authority=<host>&path=<path>&method=<m>&header=<name:value>...&random=<n>&listener=<name|port>[&format=text]\n');
    const headers: [string, string][] = [];
    for (const h of q.getAll('header')) {
      const c = h.indexOf(':', h.startsWith(':') ? 1 : 0);
      if (c <= 0) return send(res, 400, TEXT, `header ${JSON.stringify(h)} must be name:value\n`);
      headers.push([h.slice(0, c).trim(), h.slice(c + 1).trim()]);
    }
    const r: ExplainRequest = { authority, path: q.get('path') ?? '/', method: q.get('method') ?? 'GET', headers };
    const rnd = q.get('random');
    if (rnd !== null) r.random = Number(rnd) >>> 0;
    const listener = q.get('listener');
    let answer;
    if (o.aggregateWorkers) {
      // The --concurrency primary serves no traffic: a worker explains on the snapshot it serves.
      const { answers } = await askWorkers('explain', o.workerTimeoutMs ?? WORKER_TIMEOUT_MS, { arg: { request: r, listener }, first: true });
      answer = answers[0] ?? { error: 'no worker answered', status: 503 };
    } else answer = explainOn(o.proxy?.snapshot ?? null, r, listener ?? undefined);
    if ('error' in answer) return send(res, answer.status, TEXT, answer.error + '\n');
    if (q.get('format') === 'text') return send(res, 200, TEXT, formatExplanation(answer.explanation));
    return send(res, 200, JSON_TYPE, JSON.stringify(answer.explanation, null, 2) + '\n');
  }
}
