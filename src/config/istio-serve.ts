// `weir --istio`: the Istio YAML source (istio/istio-source.ts) feeding a running proxy (issue 5
// section 3). Every valid edit of the files becomes one new snapshot through `proxy.apply`; an edit
// the translator or the snapshot compiler rejects changes nothing, and the version that stays live
// is logged with the errors. Saving the old content again is the rollback: each update is a whole
// translation of the files as they are now, so nothing of a rejected or previous version survives.
// The log names versions as the ResourceSet does (`istio:<hash>`), so `config version ... live`
// lines can be matched against config_dump's version_info.

import { EventEmitter } from 'node:events';
import { ConfigError } from '../errors';
import type { ResourceSet } from './resources';
import { startIstioSource, type IstioConfigSource, type IstioOptions, type IstioTranslation } from './istio';

/** What istio-serve needs of src/proxy/proxy-server.ts `ProxyServer`. */
export interface IstioProxy {
  apply(set: ResourceSet): Promise<{ errors: string[] }>;
  /** When present, listeners an edit adds are logged as the CLI logs the first ones. */
  listeners?(): { name: string; address: string; port: number }[];
}

/** The CLI's and the data path's logger shape. */
export interface IstioServeLogger {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

export interface IstioServeOptions {
  /** Files or directories (`--istio`, repeatable). */
  paths: readonly string[];
  istio: IstioOptions;
  proxy: IstioProxy;
  log: IstioServeLogger;
  /**
   * Resources every snapshot also carries (`-c` bootstrap static_resources). Static resources win
   * a name clash, as Envoy keeps a static listener or cluster over a dynamic one of the same name.
   */
  staticResources?: ResourceSet;
}

/**
 * `live`: IstioLive after a snapshot swap. `rejected`: IstioRejected. `unreadable`: { error, live }
 * when the files cannot be read (not `error`: an EventEmitter throws an `error` nobody listens to).
 */
export type IstioServeEvent = 'live' | 'rejected' | 'unreadable';

export interface IstioLive {
  readonly version: string;
  readonly previous: string | null;
}
export interface IstioRejected {
  /** Version of the files that were rejected. */
  readonly version: string;
  readonly errors: readonly string[];
  /** Version that keeps serving. */
  readonly live: string;
}

export interface IstioServe {
  /** `istio:<hash>` of the config the proxy serves now. */
  readonly liveVersion: string;
  readonly events: EventEmitter;
  close(): void;
}

/** The ResourceSet version of a translation (`istio:<hash>`). */
export function istioLabel(version: string): string {
  return 'istio:' + version;
}

function merge(stat: ResourceSet | undefined, dyn: ResourceSet): ResourceSet {
  if (stat === undefined) return dyn;
  const pick = <T extends Record<string, unknown>>(a: readonly T[], b: readonly T[], key: string): T[] => {
    const names = new Set(a.map((r) => String(r[key])));
    return [...a, ...b.filter((r) => !names.has(String(r[key])))];
  };
  return {
    listeners: pick(stat.listeners, dyn.listeners, 'name'),
    routeConfigurations: pick(stat.routeConfigurations, dyn.routeConfigurations, 'name'),
    clusters: pick(stat.clusters, dyn.clusters, 'name'),
    clusterLoadAssignments: pick(stat.clusterLoadAssignments, dyn.clusterLoadAssignments, 'cluster_name'),
    versionInfo: dyn.versionInfo,
  };
}

/**
 * Loads, translates and applies `paths`, then keeps the proxy on the files. Rejects with
 * ConfigError (naming file, document and field path) when the first config is invalid or the proxy
 * refuses it: weir does not start on a half config.
 */
export async function startIstioServe(opts: IstioServeOptions): Promise<IstioServe> {
  const { proxy, log } = opts;
  const events = new EventEmitter();
  // Notes (ignored kinds, defaults taken) are printed once each, not on every reload.
  const noted = new Set<string>();
  const printNotes = (notes: readonly string[]): void => {
    for (const n of notes) {
      if (noted.has(n)) continue;
      noted.add(n);
      log.info('istio note: ' + n);
    }
  };
  let live = '';
  // Updates are applied one at a time in file order, after the first config: a slow apply (DNS
  // clusters) must not let an older translation land after a newer one.
  let started: () => void = () => undefined;
  let chain: Promise<void> = new Promise<void>((resolve) => (started = resolve));
  let closed = false;

  const reject = (version: string, errors: readonly string[]): void => {
    log.error(`config version ${version} rejected; ${live} stays live`, { errors: errors.length });
    for (const e of errors) log.error('  ' + e);
    const ev: IstioRejected = { version, errors, live };
    events.emit('rejected', ev);
  };

  // Listeners already announced (`listener <name> listening on <address>:<port>`, the line scripts parse).
  let known = new Set<string>();
  const listenerKeys = (): Set<string> => new Set((proxy.listeners?.() ?? []).map((l) => l.name + ' ' + l.address + ':' + l.port));
  const announce = (): void => {
    const now = listenerKeys();
    for (const k of now) if (!known.has(k)) log.info('listener ' + k.replace(' ', ' listening on '));
    known = now;
  };

  const update = (t: IstioTranslation): void => {
    chain = chain.then(async () => {
      if (closed) return;
      const version = istioLabel(t.version);
      let r: { errors: string[] };
      try {
        r = await proxy.apply(merge(opts.staticResources, t.resources));
      } catch (e) {
        // A proxy that throws instead of returning errors must not stop later edits from applying.
        r = { errors: [(e as Error).message] };
      }
      if (closed) return;
      if (r.errors.length > 0) {
        reject(version, r.errors);
        return;
      }
      const previous = live;
      live = version;
      printNotes(t.notes);
      log.info(`config version ${version} live (was ${previous})`);
      announce();
      const ev: IstioLive = { version, previous };
      events.emit('live', ev);
    });
  };

  let source: IstioConfigSource;
  try {
    source = await startIstioSource(opts.paths, opts.istio, {
      onUpdate: update,
      onReject: (errors, version) => {
        chain = chain.then(() => {
          if (!closed) reject(istioLabel(version), errors);
        });
      },
      onError: (err) => {
        chain = chain.then(() => {
          if (closed) return;
          log.error(`cannot read the istio config: ${err.message}; ${live} stays live`);
          events.emit('unreadable', { error: err, live });
        });
      },
    });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([(e as Error).message]);
  }
  const first = source.initial;
  printNotes(first.notes);
  let r: { errors: string[] };
  try {
    r = await proxy.apply(merge(opts.staticResources, first.resources));
  } catch (e) {
    r = { errors: [(e as Error).message] };
  }
  if (r.errors.length > 0) {
    closed = true;
    source.close();
    started();
    throw new ConfigError(r.errors);
  }
  live = istioLabel(first.version);
  log.info(`config version ${live} live`);
  // The first listeners are the caller's to print (the CLI prints them with the static ones).
  known = listenerKeys();
  events.emit('live', { version: live, previous: null } satisfies IstioLive);
  started();
  return {
    get liveVersion() {
      return live;
    },
    events,
    close() {
      closed = true;
      source.close();
    },
  };
}
