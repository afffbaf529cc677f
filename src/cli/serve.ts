// `weir -c <bootstrap>`: load the bootstrap, hand its resources to the ProxyServer, open the admin
// listener, and shut down the Envoy way: SIGTERM stops accepting and lets in-flight requests
// finish within --drain-time-s, then exits 0; SIGINT does the same with the drain capped at
// SIGINT_DRAIN_MS. With --concurrency N > 1 the primary process forks N workers (node:cluster,
// which shares each listening socket between them), owns the admin listener, restarts a worker
// that dies, and on SIGTERM tells every worker to drain.
// A bootstrap with `dynamic_resources` also starts the ADS client (src/xds): static and dynamic
// resources are merged into one snapshot as in Envoy, each accepted xDS update is applied to the
// same ProxyServer, and SIGTERM stops the client before draining. With --concurrency N each worker
// holds its own ADS stream (as N Envoy processes would).
// `--istio <file-or-dir>...` serves Istio YAML (src/config/istio-serve.ts): translated, applied to
// the same ProxyServer, watched, every valid edit one new snapshot; with -c the bootstrap gives the
// admin listener, node and static resources, without it admin listens on 127.0.0.1:15000.

import cluster, { type Worker } from 'node:cluster';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { loadBootstrap, type Bootstrap } from '../config/bootstrap';
import { locateSnapshotError } from '../config/bootstrap-snapshot';
import type { ResourceSet } from '../config/resources';
import type { IstioServeArgs, ServeArgs } from './args';
import { ConsoleLogger, type Logger } from './logger';
import { AdminServer, type ServerState } from '../admin/admin-server';
import { attachAdsClient, Metrics } from '../admin/metrics';
import { serveWorkerAdmin } from '../admin/worker-metrics';
import { clusterStatuses } from '../admin/cluster-status';
import { explainHeaderValue, explainOn } from '../admin/explain';
import { buildConfigDump } from '../admin/config-dump';
import type { RequestView } from '../route/types';
import type { ExplainRequest } from '../admin/explain';
import type { AdsClient } from '../xds/ads-client';
import type { AdminProxy } from '../admin/admin-server';
import type { ConfigSourceState } from '../admin/config-dump';
import { adsConfigFromBootstrap } from '../xds/ads-config';
import type { XdsFromBootstrapOptions } from '../xds/xds-source';
import type { Validated } from '../route/types';
import type { RouteCompiler } from '../proxy/route-contract';

/** SIGINT is the interactive stop (Ctrl-C): drain, but not for long. */
export const SIGINT_DRAIN_MS = 1000;

/** A worker that dies this many times within RESTART_WINDOW_MS is not restarted again. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

/** What serve needs of src/proxy/proxy-server.ts `ProxyServer` (loaded at run time, see below). */
export interface ProxyServerLike {
  apply(set: ResourceSet): Promise<{ errors: string[] }>;
  listeners(): { name: string; address: string; port: number }[];
  drain(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
  /** The downstream HTTP/1.1 server in use after any fallback (--downstream-server). */
  readonly downstreamServer?: 'native' | 'node';
}
type ProxyServerCtor = new (opts: {
  log?: Logger;
  drainTimeMs?: number;
  serverName?: string;
  accessLogStream?: NodeJS.WritableStream;
  /** Metrics (src/admin/metrics.ts) bound to each applied snapshot; rejected updates reported. */
  onSnapshot?: (snap: never, clusters: never) => unknown;
  onRejected?: (set: ResourceSet, errors: readonly string[]) => void;
  explainHeader?: (table: unknown, req: RequestView) => string;
  /** xDS: the route compiler shared with the ADS client's validation (one compile per RouteConfiguration). */
  snapshotOptions?: SnapshotOpts;
  /** --upstream-client. */
  upstreamClient?: 'native' | 'undici';
  downstreamServer?: 'native' | 'node';
}) => ProxyServerLike;

/** What serve passes to src/proxy/snapshot.ts compileSnapshot (SnapshotOptions). */
interface SnapshotOpts {
  compileRoutes?: RouteCompiler;
  /** --allow-unenforced-security-filters */
  allowUnenforcedSecurityFilters?: boolean;
}

/**
 * The data path is required at run time rather than imported, so that the CLI's other commands
 * (validate, route-check, ...) start fast and keep working in a build that lacks it.
 */
function loadProxyServer(): ProxyServerCtor {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(__dirname, '..', 'proxy', 'proxy-server')) as { ProxyServer: ProxyServerCtor };
  return mod.ProxyServer;
}

/**
 * The ADS client for the bootstrap's dynamic_resources, or null for a static-only bootstrap. Like
 * the data path, src/xds (gRPC, protos) is required only when a bootstrap asks for it.
 */
function createXdsClient(bootstrap: Bootstrap, proxy: ProxyServerLike, log: Logger, snapshotOptions: SnapshotOpts): AdsClient | null {
  if (bootstrap.dynamicResources === null) return null;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const xds = require(path.join(__dirname, '..', 'xds', 'xds-source')) as {
    adsClientFromBootstrap(o: XdsFromBootstrapOptions): Validated<AdsClient | null>;
  };
  const snap = require(path.join(__dirname, '..', 'proxy', 'snapshot')) as {
    compileSnapshot(set: ResourceSet, opts?: SnapshotOpts): { errors?: string[] };
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  const r = xds.adsClientFromBootstrap({
    bootstrap,
    // The whole (static + dynamic) candidate must compile, else the response is NACKed with these errors.
    compile: (set) => snap.compileSnapshot(set, snapshotOptions).errors ?? [],
    apply: (set) => proxy.apply(set),
    log,
  });
  if (r.errors) throw new ConfigError(r.errors.map((e) => `${bootstrap.source}: ${e}`), bootstrap.source);
  return r.value;
}

/**
 * With xDS, validating a response compiles its route configs and serving them compiles them again:
 * a shared cache makes that one compile (src/xds/route-compile-cache.ts). Static-only: none.
 */
function xdsRouteCompiler(bootstrap: Bootstrap): RouteCompiler | undefined {
  if (bootstrap.dynamicResources === null) return undefined;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const cache = require(path.join(__dirname, '..', 'xds', 'route-compile-cache')) as { cachedRouteCompiler(c: RouteCompiler): RouteCompiler };
  const binding = require(path.join(__dirname, '..', 'proxy', 'route-binding')) as { defaultRouteCompiler(): RouteCompiler };
  /* eslint-enable @typescript-eslint/no-require-imports */
  return cache.cachedRouteCompiler(binding.defaultRouteCompiler());
}

export interface RunningServer {
  /** The data path, for other config sources (xDS, Istio YAML) to `apply()` later snapshots to. */
  readonly proxy: ProxyServerLike;
  listeners(): { name: string; address: string; port: number }[];
  readonly admin: AdminServer | null;
  /** This process's metrics (null with --disable-metrics). */
  readonly metrics: Metrics | null;
  /** The ADS client when the bootstrap has dynamic_resources (config dump, metrics), else null. */
  readonly xds: AdsClient | null;
  state(): ServerState;
  /** Stop accepting, let in-flight requests finish within `drainTimeMs`, close everything. */
  stop(drainTimeMs: number): Promise<void>;
}

/**
 * Starts the proxy (and, unless `admin: false`, the admin listener) on a loaded bootstrap.
 * Throws ConfigError when the ProxyServer rejects the resources (nothing is left listening).
 */
export async function startServer(
  bootstrap: Bootstrap,
  opts: {
    log: ConsoleLogger;
    drainTimeMs: number;
    admin?: boolean;
    accessLogStream?: NodeJS.WritableStream;
    /** false: --disable-metrics. */
    metrics?: boolean;
    enableExplain?: boolean;
    commandLineOptions?: object;
    allowUnenforcedSecurityFilters?: boolean;
    upstreamClient?: 'native' | 'undici';
  downstreamServer?: 'native' | 'node';
  },
): Promise<RunningServer> {
  const ProxyServer = loadProxyServer();
  const compileRoutes = xdsRouteCompiler(bootstrap);
  // The same options for the ADS client's validation and for serving, so they agree on what is rejected.
  const snapshotOptions: SnapshotOpts = {
    ...(compileRoutes ? { compileRoutes } : {}),
    ...(opts.allowUnenforcedSecurityFilters === true ? { allowUnenforcedSecurityFilters: true } : {}),
  };
  let state: ServerState = 'INITIALIZING';
  const metrics = opts.metrics === false ? null : new Metrics({ node: bootstrap.node });
  const proxy = new ProxyServer({
    log: opts.log.child('proxy'),
    drainTimeMs: opts.drainTimeMs,
    ...(opts.upstreamClient ? { upstreamClient: opts.upstreamClient } : {}),
    ...(opts.downstreamServer ? { downstreamServer: opts.downstreamServer } : {}),
    ...(opts.accessLogStream ? { accessLogStream: opts.accessLogStream } : {}),
    snapshotOptions,
    // --enable-explain: the x-weir-explain response header for loopback requests that ask for it.
    ...(opts.enableExplain === true ? { explainHeader: explainHeaderValue } : {}),
    ...(metrics
      ? {
          onSnapshot: (snap: never, clusters: never) => {
            const bound = metrics.bindSnapshot(snap, clusters);
            metrics.configApplied((snap as { versionInfo: string }).versionInfo);
            return bound;
          },
          onRejected: (set: ResourceSet, errors: readonly string[]) => metrics.configRejected(set.versionInfo, errors),
        }
      : {}),
  });
  // node:http downstream (chosen, or the fallback on a node without its parser) costs ~50% more
  // CPU per request: say so once, where an operator reads the start-up log.
  if (proxy.downstreamServer === 'node') opts.log.info('downstream HTTP/1.1 server: node:http (--downstream-server node)');
  let admin: AdminServer | null = null;
  let xds: AdsClient | null = null;
  try {
    if (opts.admin !== false && bootstrap.admin) {
      const loadedAt = new Date();
      admin = await AdminServer.start({
        ...bootstrap.admin,
        state: () => state,
        proxy: proxy as unknown as AdminProxy,
        metrics,
        configDump: () => ({ bootstrap: bootstrap.raw, staticSet: bootstrap.resources, loadedAt, ads: xds?.state() ?? null, dynamic: xds ? null : fileSourceState(proxy, bootstrap.resources) }),
        ...adminCommon(bootstrap, opts.log, opts.drainTimeMs, opts.commandLineOptions, opts.enableExplain === true),
      });
    }
    const r = await proxy.apply(bootstrap.resources);
    if (r.errors.length > 0) {
      const { listeners, clusters } = bootstrap.resources;
      throw new ConfigError(
        r.errors.map((e) => `${bootstrap.source}: ${locateSnapshotError(e, listeners, clusters)}`),
        bootstrap.source,
      );
    }
    xds = createXdsClient(bootstrap, proxy, opts.log.child('xds'), snapshotOptions);
    // xDS per-type stats (accepted / rejected, version, NACKed) from the client's response events.
    if (xds && metrics) attachAdsClient(xds, metrics);
  } catch (err) {
    await proxy.close().catch(() => undefined);
    await admin?.close();
    throw err;
  }
  // Envoy stays INITIALIZING until the first xDS config is in (or initial_fetch_timeout passed).
  state = xds ? 'INITIALIZING' : 'LIVE';
  if (xds) {
    let known = new Set(proxy.listeners().map((l) => l.name + ' ' + l.port));
    xds.events.on('applied', () => {
      if (state === 'INITIALIZING') state = 'LIVE';
      // Listeners opened by LDS get the same machine-readable line as the static ones.
      const now = new Set<string>();
      for (const l of proxy.listeners()) {
        const key = l.name + ' ' + l.port;
        now.add(key);
        if (!known.has(key)) opts.log.info(`listener ${l.name} listening on ${l.address}:${l.port}`);
      }
      known = now;
    });
    xds.start();
  }
  let stopping: Promise<void> | null = null;
  return {
    proxy,
    listeners: () => proxy.listeners(),
    admin,
    metrics,
    xds,
    state: () => state,
    stop(drainTimeMs: number) {
      if (stopping) {
        // A second stop request (second Ctrl-C) cuts the drain short.
        if (drainTimeMs === 0) void proxy.close();
        return stopping;
      }
      state = 'DRAINING';
      stopping = (async () => {
        // No config change during the drain: the control plane sees the stream end.
        await xds?.stop();
        await proxy.drain(drainTimeMs);
        await proxy.close();
        await admin?.close();
      })();
      return stopping;
    },
  };
}

/**
 * Resources a file source (--istio) applied on top of the bootstrap, for /config_dump's dynamic
 * entries: what the ProxyServer last applied (its `resources`, when the data path keeps them)
 * minus the static ones.
 */
function fileSourceState(proxy: ProxyServerLike, statics: ResourceSet): ConfigSourceState | null {
  const p = proxy as ProxyServerLike & { resources?: ResourceSet | null; appliedAt?: Date | null };
  const set = p.resources;
  if (!set || set === statics || set.versionInfo === statics.versionInfo) return null;
  const names = (l: readonly { [k: string]: unknown }[]): Set<unknown> => new Set(l.map((r) => r.name ?? r.cluster_name));
  const notStatic = <T extends { [k: string]: unknown }>(l: readonly T[], st: readonly { [k: string]: unknown }[]): T[] => {
    const n = names(st);
    return l.filter((r) => !n.has(r.name ?? r.cluster_name));
  };
  return {
    set: {
      listeners: notStatic(set.listeners, statics.listeners),
      routeConfigurations: notStatic(set.routeConfigurations, statics.routeConfigurations),
      clusters: notStatic(set.clusters, statics.clusters),
      clusterLoadAssignments: notStatic(set.clusterLoadAssignments, statics.clusterLoadAssignments),
      versionInfo: set.versionInfo,
    },
    version: set.versionInfo,
    lastUpdated: p.appliedAt ?? new Date(),
    rejected: null,
  };
}

/** Admin options shared by the single process and the --concurrency primary. */
function adminCommon(bootstrap: Bootstrap, log: ConsoleLogger, drainTimeMs: number, commandLineOptions: object | undefined, enableExplain: boolean) {
  const l = log as ConsoleLogger & { setLevel?(level: string): boolean };
  return {
    node: bootstrap.node,
    commandLineOptions: commandLineOptions ?? {},
    version: weirVersion(),
    enableExplain,
    drainTimeMs,
    log: log.child('admin'),
    // Envoy's /quitquitquit exits promptly: the SIGINT path (drain capped at SIGINT_DRAIN_MS).
    onQuit: () => void process.kill(process.pid, 'SIGINT'),
    logLevel: () => l.level,
    ...(typeof l.setLevel === 'function' ? { setLogLevel: (level: string) => l.setLevel!(level) } : {}),
  };
}

function weirVersion(): string {
  for (const up of ['../../..', '../..']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pkg = require(path.join(__dirname, up, 'package.json')) as { name?: string; version?: string };
      if (pkg.name === 'weir') return pkg.version ?? 'unknown';
    } catch {
      // not here; try the next candidate
    }
  }
  return 'unknown';
}

/** Envoy's CommandLineOptions (server_info) for the flags weir takes. */
function commandLineOptions(args: ServeArgs): object {
  return {
    concurrency: args.concurrency,
    ...(args.configPath !== undefined ? { config_path: args.configPath } : {}),
    ...(args.configYaml !== undefined ? { config_yaml: args.configYaml } : {}),
    allow_unknown_static_fields: args.allowUnknownStaticFields,
    log_level: args.logLevel,
    ...(args.serviceCluster !== undefined ? { service_cluster: args.serviceCluster } : {}),
    ...(args.serviceNode !== undefined ? { service_node: args.serviceNode } : {}),
    ...(args.serviceZone !== undefined ? { service_zone: args.serviceZone } : {}),
    drain_time: `${args.drainTimeS}s`,
    mode: args.mode === 'init_only' ? 'InitOnly' : args.mode === 'validate' ? 'Validate' : 'Serve',
    disable_hot_restart: true,
    restart_epoch: 0,
  };
}

/** The machine-readable line tests and scripts parse: `listener <name> listening on <addr>:<port>`. */
export function logListeners(log: Logger, server: { listeners(): { name: string; address: string; port: number }[] }): void {
  for (const l of server.listeners()) log.info(`listener ${l.name} listening on ${l.address}:${l.port}`);
}

function formatBootstrapErrors(source: string, errors: readonly string[]): string {
  return `error initializing configuration '${source}':\n` + errors.map((e) => `  ${e}\n`).join('');
}

function logLoaded(log: ConsoleLogger, b: Bootstrap): void {
  for (const w of b.warnings) log.warn(w);
  if (b.ignoredFields.length > 0)
    log.info(`bootstrap fields accepted but not acted on by weir: ${b.ignoredFields.join(', ')}`);
  log.info(`loaded bootstrap ${b.source}`, {
    listeners: b.resources.listeners.length,
    clusters: b.resources.clusters.length,
    node: b.node.id || undefined,
  });
}

/** istio-proxy's admin port (pilot-agent/Envoy `--admin-port` default), for `--istio` without `-c`. */
export const ISTIO_ADMIN_PORT = 15000;

/** The bootstrap `--istio` runs on when no -c/--config-yaml is given: admin on 127.0.0.1:15000, no resources. */
function istioOnlyBootstrap(args: ServeArgs): Bootstrap {
  return {
    resources: { listeners: [], routeConfigurations: [], clusters: [], clusterLoadAssignments: [], versionInfo: '' },
    admin: { address: '127.0.0.1', port: ISTIO_ADMIN_PORT },
    node: { id: args.serviceNode ?? '', cluster: args.serviceCluster ?? '', metadata: {}, locality: null },
    dynamicResources: null,
    raw: {},
    source: '--istio',
    warnings: [],
    ignoredFields: [],
  };
}

/** `--mode validate` for --istio: translate and compile (nothing is started). */
async function validateIstio(istio: IstioServeArgs, bootstrap: Bootstrap): Promise<string[]> {
  const { loadIstioFiles, translateIstio } = await import('../config/istio');
  let docs;
  try {
    docs = await loadIstioFiles(istio.paths);
  } catch (e) {
    return e instanceof ConfigError ? [...e.errors] : [(e as Error).message];
  }
  const r = translateIstio(docs, istio.options);
  if (r.errors) return r.errors;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const snap = require(path.join(__dirname, '..', 'proxy', 'snapshot')) as { compileSnapshot(set: ResourceSet): { errors?: string[] } };
  const { mergeResourceSets } = await import('../xds/xds-source');
  return snap.compileSnapshot(mergeResourceSets(bootstrap.resources, r.value.resources).set).errors ?? [];
}

/** `weir [serve] ...`: returns the exit code once the server has stopped. */
export async function serveMain(args: ServeArgs): Promise<number> {
  const log = new ConsoleLogger(args.logLevel);
  if (args.istio && args.configPath === undefined && args.configYaml === undefined)
    return serveLoaded(args, log, istioOnlyBootstrap(args), `--istio ${args.istio.paths.join(' ')}`);
  const loaded = loadBootstrap({
    ...(args.configPath !== undefined ? { configPath: args.configPath } : {}),
    ...(args.configYaml !== undefined ? { configYaml: args.configYaml } : {}),
    ...(args.serviceNode !== undefined ? { serviceNode: args.serviceNode } : {}),
    ...(args.serviceCluster !== undefined ? { serviceCluster: args.serviceCluster } : {}),
    ...(args.serviceZone !== undefined ? { serviceZone: args.serviceZone } : {}),
    allowUnknownFields: args.allowUnknownStaticFields,
    // Workers were forked after the primary validated everything. The compile takes the same
    // SnapshotOptions serving does, so --mode validate agrees with serve.
    compile: !cluster.isWorker,
    snapshotOptions: { allowUnenforcedSecurityFilters: args.allowUnenforcedSecurityFilters === true },
  });
  const source = args.configPath ?? '--config-yaml';
  if (loaded.errors) {
    process.stderr.write(formatBootstrapErrors(source, loaded.errors));
    return 1;
  }
  return serveLoaded(args, log, loaded.value, source);
}

async function serveLoaded(args: ServeArgs, log: ConsoleLogger, bootstrap: Bootstrap, source: string): Promise<number> {
  // Two sources each applying whole snapshots to one proxy would undo each other's updates.
  if (args.istio && bootstrap.dynamicResources !== null) {
    process.stderr.write(formatBootstrapErrors(source, ['dynamic_resources: cannot be combined with --istio (one source of dynamic config)']));
    return 1;
  }
  // dynamic_resources are checked up front (also by --mode validate): the ADS cluster must exist.
  const ads = adsConfigFromBootstrap(bootstrap.dynamicResources, bootstrap.resources.clusters);
  if (ads.errors) {
    process.stderr.write(formatBootstrapErrors(source, ads.errors.map((e) => `${bootstrap.source}: ${e}`)));
    return 1;
  }
  if (args.mode === 'validate' && args.istio) {
    const errors = await validateIstio(args.istio, bootstrap);
    if (errors.length > 0) {
      process.stderr.write(formatBootstrapErrors(`--istio ${args.istio.paths.join(' ')}`, errors));
      return 1;
    }
  }
  if (args.mode === 'validate') {
    for (const w of bootstrap.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`configuration '${source}' OK\n`);
    return 0;
  }
  if (!cluster.isWorker && bootstrap.source !== '--istio') logLoaded(log, bootstrap);
  const drainTimeMs = args.drainTimeS * 1000;
  const obs: ObservabilityArgs = {
    metrics: !args.disableMetrics,
    enableExplain: args.enableExplain,
    commandLineOptions: commandLineOptions(args),
    allowUnenforcedSecurityFilters: args.allowUnenforcedSecurityFilters,
    ...(args.upstreamClient !== undefined ? { upstreamClient: args.upstreamClient } : {}),
    ...(args.downstreamServer !== undefined ? { downstreamServer: args.downstreamServer } : {}),
  };
  if (cluster.isWorker) return runWorker(bootstrap, log, drainTimeMs, obs);
  if (args.concurrency > 1 && args.mode === 'serve') return runPrimary(bootstrap, log, drainTimeMs, args.concurrency, obs);
  return runSingle(bootstrap, log, drainTimeMs, args.mode, args.istio, obs);
}

async function runSingle(
  bootstrap: Bootstrap,
  log: ConsoleLogger,
  drainTimeMs: number,
  mode: ServeArgs['mode'],
  istio?: IstioServeArgs,
  obs: ObservabilityArgs = { metrics: true, enableExplain: false, commandLineOptions: {} },
): Promise<number> {
  let server: RunningServer;
  try {
    server = await startServer(bootstrap, { log, drainTimeMs, ...obs });
  } catch (err) {
    return reportStartError(log, bootstrap, err);
  }
  if (istio) {
    const source = `--istio ${istio.paths.join(' ')}`;
    try {
      const { startIstioServe } = await import('../config/istio-serve');
      const watch = await startIstioServe({
        paths: istio.paths,
        istio: istio.options,
        proxy: server.proxy,
        log: log.child('istio'),
        staticResources: bootstrap.resources,
      });
      const inner = server;
      // Stop watching before draining: no new snapshot during the drain.
      server = { ...inner, stop: (ms: number) => (watch.close(), inner.stop(ms)) };
    } catch (err) {
      await server.stop(0);
      return reportStartError(log, { ...bootstrap, source }, err);
    }
  }
  logListeners(log, server);
  if (mode === 'init_only') {
    await server.stop(0);
    return 0;
  }
  log.info('starting main dispatch loop');
  return new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      const ms = sig === 'SIGINT' ? Math.min(drainTimeMs, SIGINT_DRAIN_MS) : drainTimeMs;
      log.info(`caught ${sig}: draining (up to ${ms} ms)`);
      server.stop(ms).then(
        () => {
          log.info('exiting');
          resolve(0);
        },
        (err: unknown) => {
          log.error(`error while draining: ${(err as Error).message}`);
          resolve(1);
        },
      );
      // A second signal during the drain stops without waiting.
      process.once(sig, () => void server.stop(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

function reportStartError(log: ConsoleLogger, bootstrap: Bootstrap, err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(formatBootstrapErrors(bootstrap.source, err.errors));
    return 1;
  }
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e.code === 'EADDRINUSE') log.critical(`cannot bind ${e.address ?? ''}:${e.port ?? ''}: address already in use`);
  else log.critical(`cannot start: ${e.message}`);
  return 1;
}

// ---- --concurrency N: node:cluster primary and workers ----

/**
 * The admin's view of the proxy in the --concurrency primary, which serves no traffic: the admin
 * actions (/drain_listeners, /healthcheck/fail|ok) forwarded to every worker. /clusters and
 * /listeners ask the workers (AdminServer aggregateWorkers); the bootstrap's listeners here are
 * only the answer when no worker answers in time.
 */
function primaryProxyView(bootstrap: Bootstrap, workers: () => Iterable<Worker>): AdminProxy {
  const send = (m: WorkerMessage): void => {
    for (const w of workers()) if (w.isConnected()) w.send(m);
  };
  return {
    snapshot: null,
    clusters: new Map(),
    listeners: () =>
      bootstrap.resources.listeners.map((l) => {
        const sa = ((l.address as { socket_address?: { address?: string; port_value?: number } } | undefined)?.socket_address ?? {});
        return { name: String(l.name ?? ''), address: String(sa.address ?? ''), port: Number(sa.port_value ?? 0) };
      }),
    drain: (timeoutMs = 0) => {
      send({ weir: 'drain-listeners', timeoutMs });
      return Promise.resolve();
    },
    setHealthCheckFailed: (failed: boolean) => send({ weir: 'healthcheck', failed }),
  };
}

type WorkerMessage =
  | { weir: 'ready' }
  // The worker's state is LIVE (its first xDS configuration applied; at once without xDS).
  | { weir: 'live' }
  | { weir: 'drain'; timeoutMs: number }
  // Admin actions the primary forwards (/drain_listeners, /healthcheck/fail|ok): workers act, keep running.
  | { weir: 'drain-listeners'; timeoutMs: number }
  | { weir: 'healthcheck'; failed: boolean };

/** --disable-metrics, --enable-explain and the options server_info reports. */
interface ObservabilityArgs {
  metrics: boolean;
  enableExplain: boolean;
  commandLineOptions: object;
  /** Not observability, but per process like the rest: --allow-unenforced-security-filters. */
  allowUnenforcedSecurityFilters?: boolean;
  /** --upstream-client (per process too). */
  upstreamClient?: 'native' | 'undici';
  downstreamServer?: 'native' | 'node';
}

async function runWorker(bootstrap: Bootstrap, log: ConsoleLogger, drainTimeMs: number, obs: ObservabilityArgs): Promise<number> {
  let server: RunningServer;
  try {
    server = await startServer(bootstrap, {
      log,
      drainTimeMs,
      admin: false,
      metrics: obs.metrics,
      enableExplain: obs.enableExplain,
      allowUnenforcedSecurityFilters: obs.allowUnenforcedSecurityFilters === true,
      ...(obs.upstreamClient ? { upstreamClient: obs.upstreamClient } : {}),
      ...(obs.downstreamServer ? { downstreamServer: obs.downstreamServer } : {}),
    });
  } catch (err) {
    return reportStartError(log, bootstrap, err);
  }
  // The primary's admin endpoint merges every worker's metrics, /clusters and /listeners
  // (src/admin/worker-metrics.ts): this worker answers with its own.
  // /config_dump and /explain too: with xDS each worker holds its own ADS stream, so only the
  // workers know the dynamic configuration.
  const metrics = server.metrics;
  const adminProxy = server.proxy as unknown as AdminProxy;
  const loadedAt = new Date();
  serveWorkerAdmin({
    registry: metrics?.registry ?? null,
    clusters: () => clusterStatuses(adminProxy.clusters?.values(), metrics),
    listeners: () => server.listeners(),
    configDump: (includeEds) =>
      buildConfigDump({
        bootstrap: bootstrap.raw,
        staticSet: bootstrap.resources,
        loadedAt,
        ads: server.xds?.state() ?? null,
        dynamic: server.xds ? null : fileSourceState(server.proxy, bootstrap.resources),
        includeEds,
      }),
    ...(obs.enableExplain ? { explain: (r: ExplainRequest, listener: string | null) => explainOn(adminProxy.snapshot, r, listener ?? undefined) } : {}),
  });
  logListeners(log, server);
  process.send?.({ weir: 'ready' } satisfies WorkerMessage);
  // LIVE is Envoy's "initialized": with xDS, once the first configuration is in (the primary's
  // /ready waits for every worker's).
  if (server.state() === 'LIVE') process.send?.({ weir: 'live' } satisfies WorkerMessage);
  else server.xds?.events.once('applied', () => process.send?.({ weir: 'live' } satisfies WorkerMessage));
  return new Promise<number>((resolve) => {
    let draining = false;
    const drain = (ms: number): void => {
      if (draining) return;
      draining = true;
      server.stop(ms).then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.on('message', (m: WorkerMessage) => {
      if (m && m.weir === 'drain') drain(m.timeoutMs);
      else if (m && m.weir === 'drain-listeners') void server.proxy.drain(m.timeoutMs);
      else if (m && m.weir === 'healthcheck') (server.proxy as ProxyServerLike & { setHealthCheckFailed?(f: boolean): void }).setHealthCheckFailed?.(m.failed);
    });
    // Ctrl-C reaches the whole process group; a direct SIGTERM to a worker drains it alone.
    process.once('SIGINT', () => drain(Math.min(drainTimeMs, SIGINT_DRAIN_MS)));
    process.once('SIGTERM', () => drain(drainTimeMs));
    // The primary is gone: nobody will restart or stop us, so drain quickly and leave.
    process.once('disconnect', () => drain(Math.min(drainTimeMs, SIGINT_DRAIN_MS)));
  });
}

async function runPrimary(bootstrap: Bootstrap, log: ConsoleLogger, drainTimeMs: number, concurrency: number, obs: ObservabilityArgs): Promise<number> {
  const ready = new Set<Worker>();
  const workers = new Set<Worker>();
  const restarts: number[] = [];
  let shuttingDown = false;
  let exitCode = 0;
  let done: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (done = resolve));

  const live = new Set<Worker>();
  // Envoy's server goes INITIALIZING -> LIVE once and does not go back: a worker restarting later
  // (or one still waiting for its xDS config then) does not make the server INITIALIZING again.
  let initialized = false;
  const state = (): ServerState => (shuttingDown ? 'DRAINING' : initialized ? 'LIVE' : 'INITIALIZING');
  let admin: AdminServer | null = null;
  if (bootstrap.admin) {
    try {
      const loadedAt = new Date();
      // The primary serves no traffic: stats come from the workers, config from the bootstrap.
      admin = await AdminServer.start({
        ...bootstrap.admin,
        state,
        aggregateWorkers: obs.metrics,
        proxy: primaryProxyView(bootstrap, () => workers),
        // Only when no worker answers: /config_dump and /explain ask a worker first.
        configDump: () => ({ bootstrap: bootstrap.raw, staticSet: bootstrap.resources, loadedAt }),
        ...adminCommon(bootstrap, log, drainTimeMs, obs.commandLineOptions, obs.enableExplain),
      });
    } catch (err) {
      return reportStartError(log, bootstrap, err);
    }
  }

  const shutdown = (ms: number, code: number): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    exitCode = code;
    for (const w of workers) if (w.isConnected()) w.send({ weir: 'drain', timeoutMs: ms } satisfies WorkerMessage);
    // Workers that do not finish in time (plus a margin for closing) are killed.
    setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
    }, ms + 5000).unref();
    if (workers.size === 0) void admin?.close().then(() => done(exitCode));
  };

  const fork = (): void => {
    const w = cluster.fork();
    workers.add(w);
    w.on('message', (m: WorkerMessage) => {
      if (m && m.weir === 'ready') {
        ready.add(w);
        log.debug(`worker ${w.id} ready`, { pid: w.process.pid });
        if (ready.size === concurrency) log.info(`all ${concurrency} workers serving`);
      } else if (m && m.weir === 'live') {
        live.add(w);
        if (!initialized && live.size === concurrency) {
          initialized = true;
          log.info(`all ${concurrency} workers initialized`);
        }
      }
    });
    w.on('exit', (code, signal) => {
      workers.delete(w);
      const wasReady = ready.delete(w);
      live.delete(w);
      if (shuttingDown) {
        if (workers.size === 0) void admin?.close().then(() => done(exitCode));
        return;
      }
      if (!wasReady) {
        log.critical(`worker ${w.id} (pid ${w.process.pid}) failed to start (exit code ${code}); stopping`);
        shutdown(Math.min(drainTimeMs, SIGINT_DRAIN_MS), 1);
        return;
      }
      const now = Date.now();
      while (restarts.length > 0 && (restarts[0] as number) < now - RESTART_WINDOW_MS) restarts.shift();
      if (restarts.length >= MAX_RESTARTS) {
        log.critical(`worker ${w.id} died; ${MAX_RESTARTS} restarts within ${RESTART_WINDOW_MS / 1000} s, giving up`);
        shutdown(drainTimeMs, 1);
        return;
      }
      restarts.push(now);
      log.warn(`worker ${w.id} (pid ${w.process.pid}) died (${signal ?? 'exit code ' + code}); restarting it`);
      fork();
    });
  };

  log.info(`starting ${concurrency} workers`);
  for (let i = 0; i < concurrency; i++) fork();
  const onSignal = (sig: NodeJS.Signals): void => {
    const ms = sig === 'SIGINT' ? Math.min(drainTimeMs, SIGINT_DRAIN_MS) : drainTimeMs;
    log.info(`caught ${sig}: draining ${workers.size} workers (up to ${ms} ms)`);
    shutdown(ms, 0);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const code = await finished;
  log.info('exiting');
  return code;
}
