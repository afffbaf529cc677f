// A fake ADS control plane on @grpc/grpc-js for protocol tests (after grpc-js-xds test/xds-server.ts).
// Resources are given as plain proto3-JSON objects (encoded with weir's codec); every request is
// recorded (type, version, nonce, names, error_detail, node; for Delta subscribe / unsubscribe /
// initial_resource_versions) and every response sent too, so tests assert the protocol itself.
// It serves state of the world and Delta, pushes on every change, and can be killed and restarted
// on the same port. Listens on 127.0.0.1 only.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { TYPE_URL } from '../../src/config/resources';
import { loadProtos } from '../../src/xds/protos';
import { decodeMessage, encodeResource, resourceName, type AnyMessage } from '../../src/xds/resource-codec';

export interface RecordedRequest {
  /** Index in `requests`. */
  readonly seq: number;
  /** Which stream (1, 2, ... in connection order) sent it. */
  readonly stream: number;
  readonly kind: 'sotw' | 'delta';
  readonly type_url: string;
  readonly version_info: string;
  readonly response_nonce: string;
  readonly resource_names: string[];
  readonly error_detail: { code: number; message: string } | undefined;
  readonly node: Record<string, unknown> | undefined;
  readonly resource_names_subscribe: string[];
  readonly resource_names_unsubscribe: string[];
  readonly initial_resource_versions: Record<string, string>;
}

export interface SentResponse {
  readonly seq: number;
  readonly stream: number;
  readonly type_url: string;
  readonly version_info: string;
  readonly nonce: string;
  readonly names: string[];
  readonly removed: string[];
}

interface Stored {
  plain: Record<string, unknown>;
  any: AnyMessage;
  version: string;
  json: string;
}

interface StreamState {
  readonly id: number;
  readonly kind: 'sotw' | 'delta';
  readonly call: grpc.ServerDuplexStream<Record<string, unknown>, object>;
  /** SotW: names per type (empty = wildcard for LDS/CDS). Delta: subscribed names, '*' = wildcard. */
  readonly names: Map<string, Set<string>>;
  /** Delta: what the client holds (name -> version). */
  readonly known: Map<string, Map<string, string>>;
  readonly lastNonce: Map<string, string>;
}

const WILDCARD_TYPES = new Set<string>([TYPE_URL.LISTENER, TYPE_URL.CLUSTER]);

export class FakeAdsServer extends EventEmitter {
  readonly requests: RecordedRequest[] = [];
  readonly responses: SentResponse[] = [];
  #server: grpc.Server | null = null;
  #port = 0;
  #streams = new Set<StreamState>();
  #streamCount = 0;
  #nonce = 0;
  #resVersion = 0;
  readonly #store = new Map<string, { version: number; versionOverride?: string; resources: Map<string, Stored> }>();
  /** When false, requests are only recorded; tests call `push` to answer. */
  autoRespond = true;

  #unixPath: string | undefined;

  /** Listen on 127.0.0.1:`port` (0 = any), or on a unix socket (`{ unixPath }`, absolute path). */
  static async start(opts: number | { port?: number; unixPath?: string } = 0): Promise<FakeAdsServer> {
    const s = new FakeAdsServer();
    const o = typeof opts === 'number' ? { port: opts } : opts;
    s.#unixPath = o.unixPath;
    await s.#listen(o.port ?? 0);
    return s;
  }

  get port(): number {
    return this.#port;
  }
  get target(): string {
    return this.#unixPath ? `unix://${this.#unixPath}` : `127.0.0.1:${this.#port}`;
  }
  get streamCount(): number {
    return this.#streamCount;
  }
  get openStreams(): number {
    return this.#streams.size;
  }

  async #listen(port: number): Promise<void> {
    const reg = loadProtos();
    const pkg = grpc.loadPackageDefinition(reg.packageDefinition) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const svc = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService.service as grpc.ServiceDefinition;
    const server = new grpc.Server();
    server.addService(svc, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<Record<string, unknown>, object>) => this.#onStream(call, 'sotw'),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<Record<string, unknown>, object>) => this.#onStream(call, 'delta'),
    });
    const address = this.#unixPath ? `unix://${this.#unixPath}` : `127.0.0.1:${port}`;
    this.#port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.#server = server;
  }

  /** Kill the control plane: every stream is cut (as if istiod died). */
  async kill(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    for (const st of this.#streams) st.call.destroy();
    this.#streams.clear();
    if (s) s.forceShutdown();
  }

  /** Start again on the same port, with the same resources and records. */
  async restart(): Promise<void> {
    if (this.#server) await this.kill();
    await this.#listen(this.#port);
  }

  async close(): Promise<void> {
    await this.kill();
    this.removeAllListeners();
  }

  // ---------------------------------------------------------------- resources

  /**
   * Replace every resource of `typeUrl` (plain objects) and push to subscribed streams. The type's
   * version goes up by one unless `version` is given.
   */
  setResources(typeUrl: string, plains: object[], opts: { version?: string; push?: boolean } = {}): string {
    const prev = this.#store.get(typeUrl);
    const resources = new Map<string, Stored>();
    for (const p of plains) {
      const plain = p as Record<string, unknown>;
      const name = resourceName(typeUrl, plain);
      const json = JSON.stringify(plain);
      const old = prev?.resources.get(name);
      const version = old && old.json === json ? old.version : String(++this.#resVersion);
      resources.set(name, { plain, any: encodeResource(typeUrl, plain), version, json });
    }
    const entry = { version: (prev?.version ?? 0) + 1, versionOverride: opts.version, resources };
    this.#store.set(typeUrl, entry);
    if (opts.push !== false) this.push(typeUrl);
    return this.versionOf(typeUrl);
  }

  /** Add or replace some resources of a type (others kept). */
  upsert(typeUrl: string, plains: object[], opts: { version?: string; push?: boolean } = {}): string {
    const cur = this.#store.get(typeUrl)?.resources ?? new Map<string, Stored>();
    const merged = new Map<string, Record<string, unknown>>();
    for (const [n, s] of cur) merged.set(n, s.plain);
    for (const p of plains) merged.set(resourceName(typeUrl, p as Record<string, unknown>), p as Record<string, unknown>);
    return this.setResources(typeUrl, [...merged.values()], opts);
  }

  remove(typeUrl: string, names: string[], opts: { version?: string; push?: boolean } = {}): string {
    const cur = this.#store.get(typeUrl)?.resources ?? new Map<string, Stored>();
    return this.setResources(
      typeUrl,
      [...cur].filter(([n]) => !names.includes(n)).map(([, s]) => s.plain),
      opts,
    );
  }

  versionOf(typeUrl: string): string {
    const e = this.#store.get(typeUrl);
    if (!e) return '';
    return e.versionOverride ?? String(e.version);
  }

  /** Send the current state of `typeUrl` to every stream subscribed to it (or only `stream`). */
  push(typeUrl: string, stream?: number): void {
    for (const st of this.#streams) {
      if (stream !== undefined && st.id !== stream) continue;
      if (!st.names.has(typeUrl)) continue;
      if (st.kind === 'sotw') this.#sendSotw(st, typeUrl);
      else this.#sendDelta(st, typeUrl, false);
    }
  }

  /**
   * Send a hand-made response on stream `stream` (default: the newest): for stale nonces, duplicates,
   * garbage. SotW fields: version_info, resources (Any[]), nonce. Returns the nonce.
   */
  sendRaw(resp: { type_url: string; version_info?: string; resources?: AnyMessage[]; nonce?: string; system_version_info?: string; removed_resources?: string[] }, stream?: number): string {
    const st = this.#pick(stream);
    const nonce = resp.nonce ?? String(++this.#nonce);
    const msg: Record<string, unknown> = { ...resp, nonce, resources: resp.resources ?? [] };
    if (st.kind === 'delta') {
      msg.resources = (resp.resources ?? []).map((a, i) => ({ name: `raw-${i}`, version: 'raw', resource: a }));
      delete msg.version_info;
    }
    this.#record(st, resp.type_url, resp.version_info ?? '', nonce, [], resp.removed_resources ?? []);
    st.lastNonce.set(resp.type_url, nonce);
    st.call.write(msg);
    return nonce;
  }

  /** Encode a plain resource (for sendRaw). */
  encode(typeUrl: string, plain: object): AnyMessage {
    return encodeResource(typeUrl, plain);
  }

  #pick(stream?: number): StreamState {
    let pick: StreamState | undefined;
    for (const st of this.#streams) if (stream === undefined ? !pick || st.id > pick.id : st.id === stream) pick = st;
    if (!pick) throw new Error('no open stream');
    return pick;
  }

  // ---------------------------------------------------------------- waiting

  /** Resolves with the first recorded request (from index `from`) matching `pred`. */
  waitForRequest(pred: (r: RecordedRequest) => boolean, opts: { from?: number; timeoutMs?: number } = {}): Promise<RecordedRequest> {
    return this.#waitFor('request', this.requests, pred, opts);
  }

  /** Resolves with the first sent response (from index `from`) matching `pred`. */
  waitForResponse(pred: (r: SentResponse) => boolean, opts: { from?: number; timeoutMs?: number } = {}): Promise<SentResponse> {
    return this.#waitFor('response', this.responses, pred, opts);
  }

  /** The ACK or NACK answering the response with `nonce`. */
  waitForReply(nonce: string, opts: { timeoutMs?: number } = {}): Promise<RecordedRequest> {
    return this.waitForRequest((r) => r.response_nonce === nonce, opts);
  }

  #waitFor<T extends { seq: number }>(event: string, list: T[], pred: (r: T) => boolean, opts: { from?: number; timeoutMs?: number }): Promise<T> {
    const from = opts.from ?? 0;
    for (let i = from; i < list.length; i++) if (pred(list[i]!)) return Promise.resolve(list[i]!);
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const onItem = (r: T): void => {
        if (r.seq >= from && pred(r)) {
          clearTimeout(timer);
          this.off(event, onItem);
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        this.off(event, onItem);
        reject(new Error(`fake ADS server: no matching ${event} within ${timeoutMs} ms (${list.length} recorded)`));
      }, timeoutMs);
      this.on(event, onItem);
    });
  }

  // ---------------------------------------------------------------- protocol

  #onStream(call: grpc.ServerDuplexStream<Record<string, unknown>, object>, kind: 'sotw' | 'delta'): void {
    const st: StreamState = { id: ++this.#streamCount, kind, call, names: new Map(), known: new Map(), lastNonce: new Map() };
    this.#streams.add(st);
    this.emit('stream', st.id);
    call.on('data', (req: Record<string, unknown>) => this.#onRequest(st, req));
    const done = (): void => {
      this.#streams.delete(st);
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('close', done);
  }

  #onRequest(st: StreamState, req: Record<string, unknown>): void {
    const typeUrl = String(req.type_url ?? '');
    const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
    const ed = req.error_detail as { code?: number; message?: string } | undefined;
    const rec: RecordedRequest = {
      seq: this.requests.length,
      stream: st.id,
      kind: st.kind,
      type_url: typeUrl,
      version_info: String(req.version_info ?? ''),
      response_nonce: String(req.response_nonce ?? ''),
      resource_names: strs(req.resource_names),
      error_detail: ed ? { code: Number(ed.code ?? 0), message: String(ed.message ?? '') } : undefined,
      node: req.node ? decodeMessage('envoy.config.core.v3.Node', req.node) : undefined,
      resource_names_subscribe: strs(req.resource_names_subscribe),
      resource_names_unsubscribe: strs(req.resource_names_unsubscribe),
      initial_resource_versions: { ...((req.initial_resource_versions as Record<string, string>) ?? {}) },
    };
    this.requests.push(rec);
    this.emit('request', rec);
    if (st.kind === 'sotw') this.#onSotwRequest(st, rec);
    else this.#onDeltaRequest(st, rec);
  }

  #onSotwRequest(st: StreamState, r: RecordedRequest): void {
    const prevNames = st.names.get(r.type_url);
    const names = new Set(r.resource_names);
    st.names.set(r.type_url, names);
    const namesChanged = !prevNames || !sameSet(prevNames, names);
    // A request whose nonce is not the latest sent for its type is stale: ignore it (xds_protocol).
    const latest = st.lastNonce.get(r.type_url);
    if (r.response_nonce && latest !== undefined && r.response_nonce !== latest && !namesChanged) return;
    if (!this.autoRespond) return;
    if (r.error_detail && !namesChanged) return; // NACK: wait for a fix
    const have = this.#store.has(r.type_url);
    if (!have) return;
    if (namesChanged || r.version_info !== this.versionOf(r.type_url)) this.#sendSotw(st, r.type_url);
  }

  #onDeltaRequest(st: StreamState, r: RecordedRequest): void {
    let names = st.names.get(r.type_url);
    const first = !names;
    if (!names) {
      names = new Set<string>();
      st.names.set(r.type_url, names);
      // Legacy wildcard: the first request of LDS/CDS without names subscribes to everything.
      if (WILDCARD_TYPES.has(r.type_url) && r.resource_names_subscribe.length === 0) names.add('*');
      const known = new Map<string, string>(Object.entries(r.initial_resource_versions));
      st.known.set(r.type_url, known);
    }
    for (const n of r.resource_names_subscribe) names.add(n);
    for (const n of r.resource_names_unsubscribe) {
      names.delete(n);
      st.known.get(r.type_url)?.delete(n);
    }
    if (!this.autoRespond) return;
    if (r.response_nonce && r.resource_names_subscribe.length === 0 && r.resource_names_unsubscribe.length === 0 && !first) return; // ACK / NACK
    this.#sendDelta(st, r.type_url, first);
  }

  #sendSotw(st: StreamState, typeUrl: string): void {
    const entry = this.#store.get(typeUrl);
    if (!entry) return;
    const names = st.names.get(typeUrl) ?? new Set<string>();
    const wildcard = WILDCARD_TYPES.has(typeUrl) && (names.size === 0 || names.has('*'));
    const out: AnyMessage[] = [];
    const sentNames: string[] = [];
    for (const [n, s] of entry.resources) {
      if (wildcard || names.has(n)) {
        out.push(s.any);
        sentNames.push(n);
      }
    }
    const nonce = String(++this.#nonce);
    const version = this.versionOf(typeUrl);
    st.lastNonce.set(typeUrl, nonce);
    this.#record(st, typeUrl, version, nonce, sentNames, []);
    st.call.write({ type_url: typeUrl, version_info: version, resources: out, nonce });
  }

  #sendDelta(st: StreamState, typeUrl: string, force: boolean): void {
    const entry = this.#store.get(typeUrl);
    const names = st.names.get(typeUrl) ?? new Set<string>();
    const known = st.known.get(typeUrl) ?? new Map<string, string>();
    st.known.set(typeUrl, known);
    const wildcard = names.has('*');
    const resources: Record<string, unknown>[] = [];
    const sent: string[] = [];
    for (const [n, s] of entry?.resources ?? []) {
      if (!wildcard && !names.has(n)) continue;
      if (known.get(n) === s.version) continue;
      resources.push({ name: n, version: s.version, resource: s.any });
      sent.push(n);
      known.set(n, s.version);
    }
    const removed: string[] = [];
    for (const n of [...known.keys()]) {
      if (entry?.resources.has(n)) continue;
      if (!wildcard && !names.has(n)) continue;
      removed.push(n);
      known.delete(n);
    }
    if (!resources.length && !removed.length && !force) return;
    if (!entry && !force) return;
    const nonce = String(++this.#nonce);
    const version = this.versionOf(typeUrl);
    st.lastNonce.set(typeUrl, nonce);
    this.#record(st, typeUrl, version, nonce, sent, removed);
    st.call.write({ type_url: typeUrl, system_version_info: version, resources, removed_resources: removed, nonce });
  }

  #record(st: StreamState, typeUrl: string, version: string, nonce: string, names: string[], removed: string[]): void {
    const r: SentResponse = { seq: this.responses.length, stream: st.id, type_url: typeUrl, version_info: version, nonce, names, removed };
    this.responses.push(r);
    this.emit('response', r);
  }
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
