// weir's ADS client: one bidirectional gRPC stream to the control plane carrying LDS, RDS, CDS and
// EDS, in state of the world (StreamAggregatedResources) or incremental (DeltaAggregatedResources)
// form. It turns responses into weir's one model (resource-codec) and hands complete, warmed
// ResourceSets to `apply`. Protocol: Envoy's "xDS REST and gRPC protocol" doc
// (envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol) and design.md "xDS rules we follow":
// - LDS and CDS are wildcard; RDS and EDS ask by name for what listeners (HCM `rds`) and EDS
//   clusters (`eds_cluster_config.service_name`, else the cluster name) reference.
// - versions are per type and survive reconnects; the nonce is per stream and echoed;
//   ACK = new version + nonce; NACK = previous version + nonce + error_detail; each response is
//   answered exactly once.
// - a rejected response changes nothing (design.md: never half-apply).
// - warming: a listener serves once its route configs arrived, a cluster once its endpoints did
//   (or the name is known absent: initial_fetch_timeout / does-not-exist timer, or removed in
//   Delta, and then it serves an empty RouteConfiguration / ClusterLoadAssignment, as Envoy does).
//   While a new version warms, the version already serving keeps serving.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { TYPE_URL, type Resource, type ResourceSet } from '../config/resources';
import { field, isObject } from '../util/proto-json';
import { decodeMessage, decodeResource, encodeMessage, typeNameOf, type AnyMessage, type DecodedVirtualHost, type VirtualHostReuse } from './resource-codec';
import { loadProtos, protoLoadMs } from './protos';
import { XdsError } from '../errors';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug?(msg: string): void;
}

export type AdsApiType = 'GRPC' | 'DELTA_GRPC';

export interface AdsClientOptions {
  /** `host:port`, `[v6]:port` or `unix:///path` (istio's pilot-agent serves xDS on a unix socket). */
  target: string;
  /** envoy.config.core.v3.Node in proto3 JSON (id, cluster, metadata, locality...). */
  node: object;
  apiType: AdsApiType;
  log?: Logger;
  /** The snapshot compiler's errors for a candidate config; non-empty => NACK. */
  validate: (candidate: ResourceSet) => string[];
  /** Called with each accepted, fully warmed config (never half a config), one call at a time. */
  apply: (set: ResourceSet) => Promise<void> | void;
  /**
   * How long a subscribed resource may stay unanswered before it is treated as absent (Envoy's
   * ConfigSource `initial_fetch_timeout`, default 15 s; the xDS does-not-exist timer). 0 disables.
   */
  initialFetchTimeoutMs?: number;
  /** Reconnect backoff: exponential from baseMs to maxMs with jitter, reset after a good response. */
  backoff?: { baseMs: number; maxMs: number };
  /** Extra gRPC channel options. */
  channelOptions?: grpc.ChannelOptions;
}

export interface ResourceEntry {
  resource: Resource;
  version: string;
  lastUpdated: Date;
  /** Typed extensions weir skipped while decoding (shown in the config dump). */
  notes: readonly string[];
}

/** The last response of a type that was NACKed (Envoy's config dump `error_state`). */
export interface RejectedUpdate {
  versionInfo: string;
  details: string;
  lastUpdateAttempt: Date;
  /** The decoded resources of the rejected response, by name (those that decoded). */
  resources: Map<string, Resource>;
}

export interface TypeStateView {
  versionInfo: string;
  lastUpdated: Date | null;
  nonce: string;
  lastError: string | null;
  resources: Map<string, ResourceEntry>;
  /** Names subscribed (RDS/EDS); empty for the wildcard types. */
  subscribed: string[];
  /** Names treated as absent (does-not-exist / initial fetch timeout / Delta removal). */
  absent: string[];
  /** Cleared by the next accepted response of the type. */
  lastRejected: RejectedUpdate | null;
}

export interface AdsState {
  perType: Record<string, TypeStateView>;
  connected: boolean;
  /** Consecutive failed streams since the last good response (drives the backoff). */
  reconnectAttempts: number;
  /** What the last apply served, by name: a listener/cluster in perType but not here (or another version) is warming. */
  served: { listeners: Map<string, Resource>; clusters: Map<string, Resource> };
}

/** Envoy's order of subscription on a new ADS stream: CDS, EDS, LDS, RDS. */
const TYPE_ORDER = [TYPE_URL.CLUSTER, TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, TYPE_URL.LISTENER, TYPE_URL.ROUTE_CONFIGURATION] as const;
type XdsType = (typeof TYPE_ORDER)[number];
const WILDCARD = new Set<string>([TYPE_URL.LISTENER, TYPE_URL.CLUSTER]);
const SHORT: Record<string, string> = {
  [TYPE_URL.LISTENER]: 'Listener',
  [TYPE_URL.ROUTE_CONFIGURATION]: 'RouteConfiguration',
  [TYPE_URL.CLUSTER]: 'Cluster',
  [TYPE_URL.CLUSTER_LOAD_ASSIGNMENT]: 'ClusterLoadAssignment',
};
/**
 * google.rpc.Code of a NACK's error_detail: INTERNAL (13), what Envoy sets when it rejects a
 * response (source/extensions/config_subscription/grpc/grpc_mux_impl.cc onDiscoveryResponse and
 * delta_subscription_state.cc handleBadResponse: `set_code(WellKnownGrpcStatus::Internal)`), so a
 * control plane or dashboard that reads the code sees weir's NACKs as it sees Envoy's.
 */
const NACK_CODE = 13;
/**
 * A NACK's message is cut at 4,096 characters plus `...(truncated)`, as Envoy's
 * Config::Utility::truncateGrpcStatusMessage does (a response with a thousand bad routes must not
 * make an oversized request); the config dump keeps the whole text.
 */
export const NACK_MESSAGE_MAX = 4096;
const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;
const DEFAULT_BACKOFF = { baseMs: 500, maxMs: 30_000 };
const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** Route config names a listener's HTTP connection managers ask RDS for. */
export function rdsNames(listener: Resource): string[] {
  const out: string[] = [];
  const chains: unknown[] = [];
  const fc = field(listener, 'filter_chains');
  if (Array.isArray(fc)) chains.push(...fc);
  const dfc = field(listener, 'default_filter_chain');
  if (dfc) chains.push(dfc);
  for (const chain of chains) {
    const filters = field(chain, 'filters');
    if (!Array.isArray(filters)) continue;
    for (const f of filters) {
      const tc = field(f, 'typed_config');
      if (!isObject(tc) || tc['@type'] !== TYPE_URL.HTTP_CONNECTION_MANAGER) continue;
      const name = field(field(tc, 'rds'), 'route_config_name');
      if (typeof name === 'string' && !out.includes(name)) out.push(name);
    }
  }
  return out;
}

/** The ClusterLoadAssignment name an EDS cluster asks for (`service_name`, else the cluster name). */
export function edsName(cluster: Resource): string | undefined {
  if (field(cluster, 'type') !== 'EDS') return undefined;
  const sn = field(field(cluster, 'eds_cluster_config'), 'service_name');
  if (typeof sn === 'string' && sn) return sn;
  const n = field(cluster, 'name');
  return typeof n === 'string' ? n : undefined;
}

interface TypeState {
  readonly typeUrl: XdsType;
  versionInfo: string;
  nonce: string;
  lastError: string | null;
  lastUpdated: Date | null;
  resources: Map<string, ResourceEntry>;
  /** RDS / EDS names we want; unused for the wildcard types. */
  subscribed: Set<string>;
  /** What the current stream has been told we want (null: no request for this type on this stream). */
  sent: Set<string> | null;
  absent: Set<string>;
  timers: Map<string, NodeJS.Timeout>;
  /** A response was accepted, or the initial fetch timed out (wildcard types: initialization). */
  responded: boolean;
  lastRejected: RejectedUpdate | null;
}

/** One decoded resource of a response; `same` when its bytes equal what we already hold. */
interface Update {
  name: string;
  version: string;
  resource: Resource;
  notes: readonly string[];
  bytes: Buffer;
  same: ResourceEntry | undefined;
}

type Stream = grpc.ClientDuplexStream<object, Record<string, unknown>>;

/**
 * What `AdsClient.events` emits (for metrics, logs and tests):
 * - `connected` (): the server answered on a new stream;
 * - `disconnected` ({ reason, attempt, delayMs }): the stream ended; reconnecting after delayMs;
 * - `response` ({ typeUrl, nonce, versionInfo, accepted, errors }): a response was ACKed or NACKed;
 * - `applied` (ResourceSet): `apply` returned for this set.
 */
export type AdsClientEvent = 'connected' | 'disconnected' | 'response' | 'applied';

export class AdsClient {
  readonly events = new EventEmitter();
  readonly #opts: AdsClientOptions;
  readonly #log: Logger;
  readonly #delta: boolean;
  readonly #fetchTimeoutMs: number;
  readonly #backoff: { baseMs: number; maxMs: number };
  readonly #types = new Map<string, TypeState>();
  /** The wire bytes each accepted entry came from: an identical resource is not decoded again. */
  readonly #raw = new WeakMap<ResourceEntry, { name: string; bytes: Buffer }>();
  /**
   * RDS: the last decoded version's virtual hosts of each route config, by their bytes, so that a
   * push that changes one virtual host decodes (and compiles) only that one (wire-decoder
   * VirtualHostReuse). Dropped with the route config's subscription.
   */
  readonly #vhostSlices = new Map<string, ReadonlyMap<string, DecodedVirtualHost>>();
  #client: grpc.Client | null = null;
  #stream: Stream | null = null;
  #nodeSent = false;
  /** The node, encoded once (a bad node is a constructor error, not a crash on connect). */
  readonly #node: Record<string, unknown>;
  /** The nonce last ACKed or NACKed (guards the every-response-answered-once rule). */
  #lastAnswered = '';
  #connected = false;
  #started = false;
  #stopped = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | null = null;
  /** What the last apply served (warming keeps it until the new version is complete). */
  #served: { listeners: Map<string, Resource>; clusters: Map<string, Resource>; key: unknown[] } = {
    listeners: new Map(),
    clusters: new Map(),
    key: [],
  };
  #initialized = false;
  #applying: Promise<void> | null = null;
  #applyAgain = false;

  constructor(opts: AdsClientOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? { info() {}, warn() {} };
    this.#delta = opts.apiType === 'DELTA_GRPC';
    this.#fetchTimeoutMs = opts.initialFetchTimeoutMs ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS;
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
    try {
      this.#node = encodeMessage('envoy.config.core.v3.Node', opts.node);
    } catch (e) {
      throw new XdsError(`node: ${(e as Error).message}`);
    }
    for (const t of TYPE_ORDER) {
      this.#types.set(t, {
        typeUrl: t,
        versionInfo: '',
        nonce: '',
        lastError: null,
        lastUpdated: null,
        resources: new Map(),
        subscribed: new Set(),
        sent: null,
        absent: new Set(),
        timers: new Map(),
        responded: false,
        lastRejected: null,
      });
    }
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    loadProtos();
    // Start-up cost of xDS, reported once (proto/README.md: why a generated subset).
    this.#log.info(`xds: Envoy protos loaded in ${Math.round(protoLoadMs())} ms`);
    this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#closeStream();
    if (this.#applying) await this.#applying.catch(() => undefined);
  }

  state(): AdsState {
    const perType: Record<string, TypeStateView> = {};
    for (const [url, st] of this.#types) {
      perType[url] = {
        versionInfo: st.versionInfo,
        lastUpdated: st.lastUpdated,
        nonce: st.nonce,
        lastError: st.lastError,
        resources: new Map(st.resources),
        subscribed: [...st.subscribed].sort(),
        absent: [...st.absent].sort(),
        lastRejected: st.lastRejected,
      };
    }
    return {
      perType,
      connected: this.#connected,
      reconnectAttempts: this.#attempt,
      served: { listeners: new Map(this.#served.listeners), clusters: new Map(this.#served.clusters) },
    };
  }

  // ------------------------------------------------------------------ stream lifecycle

  #connect(): void {
    if (this.#stopped) return;
    const Ctor = adsClientConstructor();
    this.#client = new Ctor(this.#opts.target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': this.#backoff.baseMs,
      'grpc.max_reconnect_backoff_ms': this.#backoff.maxMs,
      ...this.#opts.channelOptions,
    });
    const method = this.#delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources';
    const stream = (this.#client as unknown as Record<string, () => Stream>)[method]!.call(this.#client);
    this.#stream = stream;
    this.#nodeSent = false;
    this.#lastAnswered = '';
    for (const st of this.#types.values()) {
      st.nonce = ''; // nonces are per stream
      st.sent = null;
    }
    stream.on('metadata', () => {
      if (this.#stream === stream) this.#setConnected();
    });
    stream.on('data', (msg: Record<string, unknown>) => {
      if (this.#stream !== stream) return;
      this.#setConnected();
      try {
        if (this.#delta) this.#onDeltaResponse(msg);
        else this.#onResponse(msg);
      } catch (e) {
        // A bug of ours must not leave the response unanswered (the server would wait forever).
        this.#log.warn(`xds: failed to handle a response: ${(e as Error).stack ?? e}`);
        const typeUrl = String(msg.type_url ?? '');
        const st = this.#types.get(typeUrl);
        if (st && st.nonce === String(msg.nonce ?? '') && this.#lastAnswered !== st.nonce) this.#nack(st, st.nonce, [`internal error: ${(e as Error).message}`]);
      }
    });
    stream.on('error', (e: Error) => this.#onStreamClosed(stream, e.message));
    stream.on('end', () => this.#onStreamClosed(stream, 'stream ended'));
    stream.on('status', (s: grpc.StatusObject) => this.#onStreamClosed(stream, `status ${s.code} ${s.details}`));
    this.#log.info(`xds: ${this.#delta ? 'delta ' : ''}ADS stream to ${this.#opts.target} opened`);
    for (const t of TYPE_ORDER) {
      const st = this.#types.get(t)!;
      if (WILDCARD.has(t) || st.subscribed.size > 0) this.#sendSubscription(st, true);
    }
  }

  #setConnected(): void {
    if (this.#connected) return;
    this.#connected = true;
    const versions = TYPE_ORDER.map((t) => `${SHORT[t]}=${this.#types.get(t)!.versionInfo || '-'}`).join(' ');
    this.#log.info(`xds: connected to ${this.#opts.target} (holding ${versions})`);
    this.events.emit('connected');
  }

  #closeStream(): void {
    const s = this.#stream;
    this.#stream = null;
    this.#connected = false;
    for (const st of this.#types.values()) this.#clearTimers(st);
    if (s) {
      s.removeAllListeners('data');
      s.on('error', () => undefined);
      s.cancel();
    }
    this.#client?.close();
    this.#client = null;
  }

  #onStreamClosed(stream: Stream, why: string): void {
    if (this.#stream !== stream) return;
    this.#closeStream();
    if (this.#stopped) return;
    // Exponential backoff with jitter (Envoy's JitteredExponentialBackOffStrategy): keep serving
    // the last config meanwhile; the next stream resubscribes with the last versions.
    const delay = reconnectDelayMs(this.#attempt, this.#backoff, Math.random());
    this.#attempt++;
    this.#log.warn(`xds: disconnected from ${this.#opts.target} (${why}); reconnecting in ${delay} ms (attempt ${this.#attempt}), serving the last config meanwhile`);
    this.events.emit('disconnected', { reason: why, attempt: this.#attempt, delayMs: delay });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect();
    }, delay);
  }

  #write(req: Record<string, unknown>): void {
    const s = this.#stream;
    if (!s) return;
    if (!this.#nodeSent) {
      req.node = this.#node;
      this.#nodeSent = true;
    }
    s.write(req);
  }

  // ------------------------------------------------------------------ requests

  /** The request that tells the server what we want of `st`'s type (initial, or names changed). */
  #sendSubscription(st: TypeState, initial: boolean): void {
    if (!this.#stream) return;
    const names = WILDCARD.has(st.typeUrl) ? new Set<string>() : new Set(st.subscribed);
    if (this.#delta) {
      const req: Record<string, unknown> = { type_url: st.typeUrl };
      if (initial) {
        req.resource_names_subscribe = [...names].sort();
        // Resume: tell the server which versions we already hold so it can skip them.
        const irv: Record<string, string> = {};
        for (const [n, e] of st.resources) irv[n] = e.version;
        if (Object.keys(irv).length) req.initial_resource_versions = irv;
      } else {
        const prev = st.sent ?? new Set<string>();
        req.resource_names_subscribe = [...names].filter((n) => !prev.has(n)).sort();
        req.resource_names_unsubscribe = [...prev].filter((n) => !names.has(n)).sort();
      }
      this.#write(req);
    } else {
      this.#write({
        type_url: st.typeUrl,
        version_info: st.versionInfo,
        response_nonce: st.nonce,
        resource_names: [...names].sort(),
      });
    }
    st.sent = names;
    this.#armTimers(st);
  }

  /** Does-not-exist / initial-fetch timers for what we asked for and do not have. */
  #armTimers(st: TypeState): void {
    if (this.#fetchTimeoutMs <= 0 || !this.#stream) return;
    const wanted = WILDCARD.has(st.typeUrl) ? (st.responded ? [] : ['*']) : [...st.subscribed];
    for (const n of wanted) {
      if (st.timers.has(n) || st.resources.has(n) || st.absent.has(n)) continue;
      const timer = setTimeout(() => {
        st.timers.delete(n);
        if (n === '*') {
          if (!st.responded) this.#log.warn(`xds: no ${SHORT[st.typeUrl]} response within ${this.#fetchTimeoutMs} ms`);
          st.responded = true;
        } else if (!st.resources.has(n)) {
          this.#log.warn(`xds: ${SHORT[st.typeUrl]} "${n}" not sent within ${this.#fetchTimeoutMs} ms: treated as absent`);
          st.absent.add(n);
        }
        this.#maybeApply();
      }, this.#fetchTimeoutMs);
      timer.unref?.();
      st.timers.set(n, timer);
    }
  }

  #clearTimers(st: TypeState): void {
    for (const t of st.timers.values()) clearTimeout(t);
    st.timers.clear();
  }

  #ack(st: TypeState, nonce: string): void {
    this.#lastAnswered = nonce;
    this.#log.info(`xds: ACK ${SHORT[st.typeUrl]} version ${st.versionInfo} (nonce ${nonce}, ${st.resources.size} resources)`);
    if (this.#delta) this.#write({ type_url: st.typeUrl, response_nonce: nonce });
    else
      this.#write({
        type_url: st.typeUrl,
        version_info: st.versionInfo,
        response_nonce: nonce,
        resource_names: WILDCARD.has(st.typeUrl) ? [] : [...st.subscribed].sort(),
      });
  }

  #nack(st: TypeState, nonce: string, errors: string[], version = ''): void {
    this.#lastAnswered = nonce;
    const message = errors.join('\n');
    st.lastError = message;
    this.#log.warn(
      `xds: NACK ${SHORT[st.typeUrl]} version ${version || '-'} (nonce ${nonce}), keeping version ${st.versionInfo || '-'}: ${message}`,
    );
    const error_detail = { code: NACK_CODE, message: truncateNackMessage(message) };
    if (this.#delta) this.#write({ type_url: st.typeUrl, response_nonce: nonce, error_detail });
    else
      this.#write({
        type_url: st.typeUrl,
        version_info: st.versionInfo, // the previous, still-accepted version
        response_nonce: nonce,
        resource_names: WILDCARD.has(st.typeUrl) ? [] : [...st.subscribed].sort(),
        error_detail,
      });
  }

  // ------------------------------------------------------------------ responses

  #onResponse(msg: Record<string, unknown>): void {
    const typeUrl = String(msg.type_url ?? '');
    const nonce = String(msg.nonce ?? '');
    const version = String(msg.version_info ?? '');
    const st = this.#types.get(typeUrl);
    if (!st) {
      this.#log.warn(`xds: response for unknown type ${typeUrl}: NACK`);
      this.#write({ type_url: typeUrl, response_nonce: nonce, error_detail: { code: NACK_CODE, message: `unsupported type ${typeUrl}` } });
      return;
    }
    st.nonce = nonce;
    const anys = Array.isArray(msg.resources) ? (msg.resources as AnyMessage[]) : [];
    const updates: Update[] = [];
    const errors = this.#decodeAll(st, anys.map((a) => ({ any: a, version, name: undefined })), updates);
    // State of the world: for LDS and CDS the response is the whole set (missing = deleted); for
    // RDS and EDS it only carries what changed, others are kept (xds_protocol "Deleting resources").
    this.#process(st, nonce, version, updates, [], WILDCARD.has(typeUrl), errors);
  }

  #onDeltaResponse(msg: Record<string, unknown>): void {
    const typeUrl = String(msg.type_url ?? '');
    const nonce = String(msg.nonce ?? '');
    const st = this.#types.get(typeUrl);
    if (!st) {
      this.#write({ type_url: typeUrl, response_nonce: nonce, error_detail: { code: NACK_CODE, message: `unsupported type ${typeUrl}` } });
      return;
    }
    st.nonce = nonce;
    const items = (Array.isArray(msg.resources) ? msg.resources : []) as Record<string, unknown>[];
    const updates: Update[] = [];
    const errors = this.#decodeAll(
      st,
      items.map((r) => ({ any: r.resource as AnyMessage | undefined, version: String(r.version ?? ''), name: String(r.name ?? '') })),
      updates,
    );
    const removed = Array.isArray(msg.removed_resources) ? (msg.removed_resources as string[]).map(String) : [];
    const sysVersion = typeof msg.system_version_info === 'string' && msg.system_version_info ? msg.system_version_info : st.versionInfo;
    this.#process(st, nonce, sysVersion, updates, removed, false, errors);
  }

  #decodeAll(
    st: TypeState,
    items: { any: AnyMessage | undefined; version: string; name: string | undefined }[],
    out: Update[],
  ): string[] {
    const errors: string[] = [];
    const seen = new Set<string>();
    const short = SHORT[st.typeUrl]!;
    // Index what we hold by byte length: istiod resends every resource on each push, and most are
    // unchanged; comparing bytes is much cheaper than decoding 1,000 routes again.
    const byLen = new Map<number, ResourceEntry[]>();
    for (const e of st.resources.values()) {
      const r = this.#raw.get(e);
      if (!r) continue;
      const l = byLen.get(r.bytes.length);
      if (l) l.push(e);
      else byLen.set(r.bytes.length, [e]);
    }
    items.forEach((item, i) => {
      if (!item.any) {
        errors.push(`resources[${i}] (${short} "${item.name}"): no resource`);
        return;
      }
      const bytes = Buffer.isBuffer(item.any.value) ? item.any.value : Buffer.from(item.any.value ?? []);
      let same: ResourceEntry | undefined;
      for (const e of byLen.get(bytes.length) ?? []) {
        const r = this.#raw.get(e)!;
        if (r.bytes.equals(bytes) && (!item.name || item.name === r.name)) {
          same = e;
          break;
        }
      }
      let name: string;
      let resource: Resource;
      let notes: readonly string[];
      if (same) {
        name = this.#raw.get(same)!.name;
        resource = same.resource;
        notes = same.notes;
      } else {
        const reuse: VirtualHostReuse | undefined =
          st.typeUrl === TYPE_URL.ROUTE_CONFIGURATION ? { previous: (n) => this.#vhostSlices.get(n), next: new Map() } : undefined;
        const d = decodeResource(st.typeUrl, item.any, undefined, reuse);
        if (d.errors) {
          for (const e of d.errors) errors.push(`resources[${i}] (${short}${item.name ? ` "${item.name}"` : ''}): ${e}`);
          return;
        }
        ({ name, resource, notes } = d.value);
        if (reuse !== undefined && st.subscribed.has(name)) this.#vhostSlices.set(name, reuse.next);
      }
      if (item.name !== undefined && item.name !== '' && item.name !== name) {
        errors.push(`resources[${i}] (${short} "${item.name}"): resource is named "${name}"`);
        return;
      }
      if (seen.has(name)) {
        errors.push(`resources[${i}] (${short} "${name}"): duplicate name in one response`);
        return;
      }
      seen.add(name);
      if (!WILDCARD.has(st.typeUrl) && !st.subscribed.has(name)) {
        this.#log.debug?.(`xds: ignoring unrequested ${short} "${name}"`);
        return;
      }
      if (!same) for (const n of notes) this.#log.info(`xds: ${short} "${name}": ${n}`);
      out.push({ name, version: item.version, resource, notes, bytes, same });
    });
    return errors;
  }

  #process(
    st: TypeState,
    nonce: string,
    version: string,
    updates: Update[],
    removed: string[],
    replaceAll: boolean,
    decodeErrors: string[],
  ): void {
    const errors = decodeErrors.slice();
    const now = new Date();
    let next: Map<string, ResourceEntry> | undefined;
    if (errors.length === 0) {
      next = replaceAll ? new Map() : new Map(st.resources);
      for (const n of removed) next.delete(n);
      for (const u of updates) {
        // An unchanged resource keeps its entry (and identity): duplicates cause no new apply.
        if (u.same && st.resources.get(u.name) === u.same) {
          next.set(u.name, u.same);
          continue;
        }
        const e: ResourceEntry = { resource: u.resource, version: u.version || version, lastUpdated: now, notes: u.notes };
        this.#raw.set(e, { name: u.name, bytes: u.bytes });
        next.set(u.name, e);
      }
      // Nothing changed (istiod resends everything on each push): what serves was already validated.
      let unchanged = next.size === st.resources.size;
      if (unchanged) for (const [n, e] of next) if (st.resources.get(n) !== e) unchanged = false;
      if (!unchanged) {
        const candidate = new Map(this.#types);
        candidate.set(st.typeUrl, { ...st, resources: next });
        try {
          errors.push(...this.#opts.validate(this.#view(candidate, true, version)));
        } catch (e) {
          errors.push(`validation failed: ${(e as Error).message}`);
        }
      }
    }
    if (errors.length > 0 || !next) {
      st.lastRejected = {
        versionInfo: version,
        details: errors.join('\n'),
        lastUpdateAttempt: now,
        resources: new Map(updates.map((u) => [u.name, u.resource])),
      };
      this.#nack(st, nonce, errors, version);
      this.events.emit('response', { typeUrl: st.typeUrl, nonce, versionInfo: version, accepted: false, errors });
      return;
    }
    st.resources = next;
    st.versionInfo = version;
    st.lastError = null;
    st.lastRejected = null;
    st.lastUpdated = now;
    st.responded = true;
    for (const u of updates) {
      st.absent.delete(u.name);
      const tm = st.timers.get(u.name);
      if (tm) clearTimeout(tm);
      st.timers.delete(u.name);
    }
    const star = st.timers.get('*');
    if (star) clearTimeout(star);
    st.timers.delete('*');
    // Delta removal of a named resource: it no longer exists (serve empty, as Envoy does).
    if (!WILDCARD.has(st.typeUrl)) for (const n of removed) if (st.subscribed.has(n)) st.absent.add(n);
    this.#ack(st, nonce);
    this.#attempt = 0; // a good response resets the reconnect backoff
    this.events.emit('response', { typeUrl: st.typeUrl, nonce, versionInfo: version, accepted: true, errors: [] });
    this.#updateSubscriptions();
    this.#maybeApply();
  }

  /** RDS / EDS follow what listeners and clusters (accepted or still serving) reference. */
  #updateSubscriptions(): void {
    const routes = new Set<string>();
    for (const e of this.#types.get(TYPE_URL.LISTENER)!.resources.values()) for (const n of rdsNames(e.resource)) routes.add(n);
    for (const l of this.#served.listeners.values()) for (const n of rdsNames(l)) routes.add(n);
    const clas = new Set<string>();
    for (const e of this.#types.get(TYPE_URL.CLUSTER)!.resources.values()) {
      const n = edsName(e.resource);
      if (n) clas.add(n);
    }
    for (const c of this.#served.clusters.values()) {
      const n = edsName(c);
      if (n) clas.add(n);
    }
    this.#resubscribe(this.#types.get(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT)!, clas);
    this.#resubscribe(this.#types.get(TYPE_URL.ROUTE_CONFIGURATION)!, routes);
  }

  #resubscribe(st: TypeState, want: Set<string>): void {
    if (setEq(want, st.subscribed)) return;
    for (const n of st.subscribed) {
      if (want.has(n)) continue;
      // Unsubscribed: forget it (Envoy drops the watch; a later subscription waits for fresh data).
      st.resources.delete(n);
      if (st.typeUrl === TYPE_URL.ROUTE_CONFIGURATION) this.#vhostSlices.delete(n);
      st.absent.delete(n);
      const tm = st.timers.get(n);
      if (tm) clearTimeout(tm);
      st.timers.delete(n);
    }
    st.subscribed = new Set(want);
    if (this.#stream && (st.sent !== null || want.size > 0)) this.#sendSubscription(st, st.sent === null);
  }

  // ------------------------------------------------------------------ warming and apply

  /**
   * The ResourceSet for `types`. For validation every listener and cluster is included, with an
   * empty placeholder for a route config / endpoints not received yet, so each response is judged
   * on its own. For serving, a listener or cluster still warming is left out, or replaced by the
   * version already serving if that one is complete.
   */
  #view(types: Map<string, TypeState>, forValidation: boolean, candidateVersion?: string): ResourceSet {
    const L = types.get(TYPE_URL.LISTENER)!;
    const R = types.get(TYPE_URL.ROUTE_CONFIGURATION)!;
    const C = types.get(TYPE_URL.CLUSTER)!;
    const E = types.get(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT)!;
    const routeFor = (n: string): Resource | undefined =>
      R.resources.get(n)?.resource ?? (forValidation || R.absent.has(n) ? { name: n } : undefined);
    const claFor = (n: string): Resource | undefined =>
      E.resources.get(n)?.resource ?? (forValidation || E.absent.has(n) ? { cluster_name: n } : undefined);
    const listeners: Resource[] = [];
    const routes = new Map<string, Resource>();
    for (const name of [...L.resources.keys()].sort()) {
      const candidates = [L.resources.get(name)!.resource];
      const served = this.#served.listeners.get(name);
      if (!forValidation && served && served !== candidates[0]) candidates.push(served);
      for (const l of candidates) {
        const rs = rdsNames(l).map((n) => [n, routeFor(n)] as const);
        if (rs.every(([, r]) => r !== undefined)) {
          listeners.push(l);
          for (const [n, r] of rs) routes.set(n, r!);
          break;
        }
      }
    }
    const clusters: Resource[] = [];
    const clas = new Map<string, Resource>();
    for (const name of [...C.resources.keys()].sort()) {
      const candidates = [C.resources.get(name)!.resource];
      const served = this.#served.clusters.get(name);
      if (!forValidation && served && served !== candidates[0]) candidates.push(served);
      for (const c of candidates) {
        const en = edsName(c);
        const cla = en === undefined ? null : claFor(en);
        if (cla !== undefined) {
          clusters.push(c);
          if (en !== undefined && cla) clas.set(en, cla);
          break;
        }
      }
    }
    return {
      listeners,
      routeConfigurations: [...routes.values()],
      clusters,
      clusterLoadAssignments: [...clas.values()],
      versionInfo:
        `xds lds=${L.versionInfo} rds=${R.versionInfo} cds=${C.versionInfo} eds=${E.versionInfo}` +
        (forValidation && candidateVersion !== undefined ? ` (candidate ${candidateVersion})` : ''),
    };
  }

  #isInitialized(): boolean {
    if (this.#initialized) return true;
    const L = this.#types.get(TYPE_URL.LISTENER)!;
    const C = this.#types.get(TYPE_URL.CLUSTER)!;
    if (!L.responded || !C.responded) return false;
    // Like Envoy's init manager: the first config waits until every referenced route config and
    // endpoint set arrived (or timed out), so the first apply is complete.
    for (const t of [TYPE_URL.ROUTE_CONFIGURATION, TYPE_URL.CLUSTER_LOAD_ASSIGNMENT]) {
      const st = this.#types.get(t)!;
      for (const n of st.subscribed) if (!st.resources.has(n) && !st.absent.has(n)) return false;
    }
    this.#initialized = true;
    return true;
  }

  #maybeApply(): void {
    if (this.#stopped || !this.#isInitialized()) return;
    if (this.#applying) {
      this.#applyAgain = true;
      return;
    }
    const set = this.#view(this.#types, false);
    const key = [...set.listeners, ...set.routeConfigurations, ...set.clusters, ...set.clusterLoadAssignments];
    if (key.length === this.#served.key.length && key.every((r, i) => r === this.#served.key[i])) return;
    this.#served = {
      listeners: new Map(set.listeners.map((l) => [String(l.name), l])),
      clusters: new Map(set.clusters.map((c) => [String(c.name), c])),
      key,
    };
    this.#applying = (async () => {
      try {
        await this.#opts.apply(set);
        this.events.emit('applied', set);
      } catch (e) {
        this.#log.warn(`xds: apply failed: ${(e as Error).message}`);
      }
    })().finally(() => {
      this.#applying = null;
      // What is served changed: subscriptions held only for the old versions can go.
      this.#updateSubscriptions();
      if (this.#applyAgain) {
        this.#applyAgain = false;
        this.#maybeApply();
      }
    });
  }
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from `baseMs`, capped at `maxMs`,
 * with jitter drawn from [ceiling/2, ceiling) so that many proxies losing one control plane do not
 * come back in lockstep (Envoy's JitteredExponentialBackOffStrategy; gRPC connection backoff).
 */
export function reconnectDelayMs(attempt: number, backoff: { baseMs: number; maxMs: number }, random: number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random * (ceiling / 2));
}

export function truncateNackMessage(message: string): string {
  return message.length > NACK_MESSAGE_MAX ? message.slice(0, NACK_MESSAGE_MAX) + '...(truncated)' : message;
}

function setEq(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}


let ADS_CLIENT: typeof grpc.Client | undefined;
function adsClientConstructor(): typeof grpc.Client {
  if (!ADS_CLIENT) {
    const pkg = grpc.loadPackageDefinition(loadProtos().packageDefinition) as unknown as Record<string, unknown>;
    ADS_CLIENT = lookup(pkg, ADS_SERVICE) as typeof grpc.Client;
  }
  return ADS_CLIENT;
}

function lookup(pkg: Record<string, unknown>, name: string): unknown {
  let o: unknown = pkg;
  for (const part of name.split('.')) o = (o as Record<string, unknown>)[part];
  return o;
}

export { typeNameOf, decodeMessage };
