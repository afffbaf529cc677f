// One downstream request through the router: route, pick cluster and host, forward through the
// host's connection pool (an UpstreamPool: ConnPool, or UndiciPool with --upstream-client undici;
// src/upstream/upstream-client.ts), relay the response with backpressure, answer the Envoy way on failure, log.
// The Stream is its own upstream handler (src/upstream/conn-pool.ts, undici's legacy dispatch
// handler shape with string headers; both clients call it alike), so a request allocates this
// object, its header list and the dispatch options.

import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Cluster } from '../upstream/cluster';
import type { UpstreamHandler } from '../upstream/conn-pool';
import type { Host } from '../upstream/host';
import { combineHash, murmur3 } from '../upstream/hash';
import type { AccessLogEntry } from './access-log';
import { type DownstreamRequest, type DownstreamResponse, requestBody } from './downstream';
import { HeaderList } from './header-list';
import type { CompletedStream, ListenerRuntime } from './listener-runtime';
import { authorityPort, ProxyRequestView, stripPort } from './request-view';
import { ResponseFlag } from './response-flags';
import type { CompiledRetry } from './retry';
import { compiledRetry } from './retry';
import type { HashPolicyView, RouteEntryView } from './route-contract';
import { faultHeadersMatch, type CompiledFault } from '../route/route-entry';
import { sendShadow, shadowHost, SHADOW_STATS } from './shadow-writer';

export const kStream = Symbol('weir.stream');

const UPSTREAM_RESET_PREFIX = 'upstream connect error or disconnect/reset before headers. ';
const REASON_CONNECTION_FAILURE = 'remote connection failure, transport failure reason: delayed connect error: Connection refused';
const REASON_CONNECT_TIMEOUT = 'connection timeout';
const REASON_TERMINATION = 'connection termination';
const REASON_OVERFLOW = 'overflow';
const REASON_PROTOCOL = 'protocol error';
/** Envoy's fault filter abort body (FaultFilter::abortWithStatus, RcDetails FaultAbort). */
const FAULT_ABORT_BODY = 'fault filter abort';

const enum Failure {
  None = 0,
  ConnectFailure = 1,
  Reset = 2,
  PerTryTimeout = 3,
  GlobalTimeout = 4,
  Protocol = 5,
  Downstream = 6,
}

function onResClose(this: DownstreamResponse): void {
  const s = (this as unknown as { [kStream]: Stream })[kStream];
  if (!s.done) s.downstreamClosed();
}

function onResDrain(this: DownstreamResponse): void {
  const s = (this as unknown as { [kStream]: Stream })[kStream];
  const r = s.resume;
  if (r !== null) r();
}

/** The request's last byte was read (by the upstream pool): %REQUEST_DURATION%. */
function onBodyEnd(this: Readable): void {
  const s = (this as unknown as { [kStream]: Stream })[kStream];
  s.requestDoneHr = performance.now();
}

function onFaultDelay(s: Stream): void {
  s.faultTimer = null;
  if (!s.done) s.afterDelay();
}

function onRetryTimer(s: Stream): void {
  s.retryTimer = null;
  if (!s.done) s.attempt();
}

export class Stream implements CompletedStream, UpstreamHandler {
  readonly lr: ListenerRuntime;
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  view: ProxyRequestView;
  entry: RouteEntryView | null = null;
  readonly startTime: number;
  readonly startHr: number;
  /** When the router got the request (after an injected delay): the route timeout counts from here. */
  routerStartHr = 0;
  durationMs = 0;
  readonly protocol: string;
  status = 0;
  flags = 0;
  details = '';
  bytesReceived = 0;
  bytesSent = 0;
  upstreamHost: string | null = null;
  upstreamMetadata: { readonly [k: string]: unknown } | null = null;
  upstreamCluster: string | null = null;
  upstreamServiceTimeMs = -1;
  routeName: string | null = null;
  done = false;
  resume: (() => void) | null = null;
  retryTimer: NodeJS.Timeout | null = null;
  // Fault injection (envoy.filters.http.fault) state.
  faultTimer: NodeJS.Timeout | null = null;
  fault: CompiledFault | null = null;
  faultEntry: RouteEntryView | null = null;
  faultCounted = false;
  // Upstream request state.
  cluster: Cluster | null = null;
  host: Host | null = null;
  lastHost: Host | null = null;
  headers: string[] | null = null;
  resHeaders: string[] | null = null;
  upstreamPath = '';
  hasBody = false;
  retry: CompiledRetry | null = null;
  retriesDone = 0;
  retryCounted = false;
  attemptStart = 0;
  attemptIsPerTry = false;
  timeoutMs = 0;
  idleTimeoutMs = 0;
  hash = 0;
  hasHash = false;
  autoHostRewrite = false;
  discarding = false;
  drainListening = false;
  abortFn: ((err?: Error) => void) | null = null;
  lastReason = '';
  /** The x-weir-explain response header value, when asked for and enabled. */
  explain: string | null = null;

  /** When the request's last byte was received (performance.now()), -1 until then / unknown. */
  requestDoneHr = -1;
  /** The request body stream (null: none). */
  body: Readable | null = null;

  constructor(lr: ListenerRuntime, req: DownstreamRequest, res: DownstreamResponse) {
    this.lr = lr;
    this.req = req;
    this.res = res;
    this.startTime = Date.now();
    this.startHr = performance.now();
    this.protocol = req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
    let authority = hostHeader(req.rawHeaders);
    let path = req.url ?? '/';
    // Absolute-form request targets (`GET http://host/path`): Envoy's HTTP/1 codec takes the
    // authority and path from the URL (http1_protocol_options.allow_absolute_url defaults to true).
    if (path.charCodeAt(0) !== 47 /* / */ && (path.startsWith('http://') || path.startsWith('https://'))) {
      const start = path.indexOf('//') + 2;
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      authority = path.slice(start, end);
      path = end === path.length ? '/' : path.slice(end);
    }
    const hcm = lr.hcm;
    if (hcm.stripAnyHostPort) authority = stripPort(authority);
    else if (hcm.stripMatchingHostPort && authorityPort(authority) === lr.port) authority = stripPort(authority);
    this.view = new ProxyRequestView(authority, path, req.method ?? 'GET', 'http', lr.core.random(), req.rawHeaders, req.socket, this.protocol);
    (res as unknown as { [kStream]: Stream })[kStream] = this;
    res.on('close', onResClose);
  }

  get listenerName(): string {
    return this.lr.config.name;
  }

  get statPrefix(): string {
    return this.lr.hcm.statPrefix;
  }

  get downstreamRemoteAddress(): string {
    const s = this.req.socket;
    return (s.remoteFamily === 'IPv6' ? '[' + s.remoteAddress + ']' : String(s.remoteAddress)) + ':' + s.remotePort;
  }

  get downstreamLocalAddress(): string {
    const s = this.req.socket;
    return (s.localFamily === 'IPv6' ? '[' + s.localAddress + ']' : String(s.localAddress)) + ':' + s.localPort;
  }

  requestHeader(name: string): string | undefined {
    switch (name) {
      case ':method':
        return this.view.method;
      case ':path':
        return this.headers !== null ? this.upstreamPath : this.view.path;
      case ':authority': {
        const h = this.headers;
        if (h !== null) for (let i = 0; i < h.length; i += 2) if (h[i] === 'host') return h[i + 1];
        return this.view.authority;
      }
      case ':scheme':
        return this.view.scheme;
    }
    const h = this.headers;
    if (h !== null) {
      for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
      return undefined;
    }
    return this.view.headerValues(name)?.[0];
  }

  responseHeader(name: string): string | undefined {
    const h = this.resHeaders;
    if (h === null) return undefined;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return undefined;
  }

  /** Routes the request and starts the first attempt (or answers locally). */
  run(): void {
    const lr = this.lr;
    const view = this.view;
    const ex = lr.core.explain;
    if (ex !== null && view.headerValues('x-weir-explain') !== undefined && isLoopback(this.req.socket.remoteAddress)) {
      this.explain = ex(lr.hcm.routeTable, view);
    }
    const entry = lr.hcm.routeTable.route(view);
    if (entry !== null) {
      this.entry = entry;
      this.routeName = entry.name;
    }
    // envoy.filters.http.fault runs before the router: the route's typed_per_filter_config
    // overrides the listener-level config. Delay first (flag DI), then abort (flag FI), each drawn
    // with its own random value against its FractionalPercent, as FaultFilter::decodeHeaders does.
    const ff = lr.hcm.fault;
    if (ff !== null) {
      const f = entry !== null && entry.fault !== null ? entry.fault : ff.config;
      if ((f.delayMs > 0 || f.abortStatus > 0) && faultHeadersMatch(f, view)) {
        this.fault = f;
        if (f.delayMs > 0 && lr.core.random() % f.delayDenominator < f.delayNumerator && this.faultSlot(f)) {
          this.flags |= ResponseFlag.DI;
          this.faultEntry = entry;
          this.faultTimer = setTimeout(onFaultDelay, f.delayMs, this);
          return;
        }
        if (this.maybeAbort()) return;
      }
    }
    this.route(entry);
  }

  /** max_active_faults (0 = unlimited): a request over the limit gets no fault (faults_overflow). */
  faultSlot(f: CompiledFault): boolean {
    if (this.faultCounted) return true;
    const ff = this.lr.hcm.fault!;
    if (f.maxActiveFaults > 0 && ff.active >= f.maxActiveFaults) return false;
    ff.active++;
    this.faultCounted = true;
    return true;
  }

  maybeAbort(): boolean {
    const f = this.fault!;
    if (f.abortStatus === 0 || this.lr.core.random() % f.abortDenominator >= f.abortNumerator || !this.faultSlot(f)) return false;
    this.localReply(f.abortStatus, FAULT_ABORT_BODY, ResponseFlag.FI, 'fault_filter_abort');
    return true;
  }

  /** The injected delay is over: maybe abort, else continue to the router. */
  afterDelay(): void {
    if (this.maybeAbort()) return;
    const entry = this.faultEntry;
    this.faultEntry = null;
    this.route(entry);
  }

  /** The router filter: answer locally or pick the cluster and start the first attempt. */
  route(entry: RouteEntryView | null): void {
    const lr = this.lr;
    const view = this.view;
    this.routerStartHr = (this.flags & ResponseFlag.DI) === 0 ? this.startHr : performance.now();
    if (entry === null) {
      this.localReply(404, '', ResponseFlag.NR, 'route_not_found');
      return;
    }
    this.entry = entry;
    this.routeName = entry.name;
    if (entry.kind === 'redirect') {
      this.status = entry.redirectCode;
      this.details = 'direct_response';
      this.sendLocal(entry.redirectCode, '', ['location', entry.redirectLocation(view)], true);
      return;
    }
    if (entry.kind === 'direct_response' || entry.kind === 'filter_action') {
      const d = entry.directResponse;
      this.details = 'direct_response';
      this.sendLocal(d ? d.status : 200, d ? d.body : '', null, true);
      return;
    }
    const clusterName = entry.selectCluster(view);
    if (clusterName === undefined) {
      this.localReply(503, '', ResponseFlag.NC, 'cluster_not_found');
      return;
    }
    this.upstreamCluster = clusterName;
    const cluster = lr.clusters.get(clusterName);
    if (cluster === undefined) {
      this.localReply(503, '', ResponseFlag.NC, 'cluster_not_found');
      return;
    }
    this.cluster = cluster;
    this.buildUpstreamHeaders(entry, clusterName);
    const hp = entry.hashPolicy;
    if (hp.length > 0) this.computeHash(hp);
    this.autoHostRewrite = entry.autoHostRewrite && (cluster.config.type === 'STRICT_DNS' || cluster.config.type === 'LOGICAL_DNS');
    this.timeoutMs = entry.timeoutMs;
    // Route idle_timeout overrides the HCM's stream_idle_timeout (Envoy); enforced on the upstream
    // response body as the pool's bodyTimeout (time between chunks).
    this.idleTimeoutMs = entry.idleTimeoutMs ?? lr.hcm.streamIdleTimeoutMs;
    const rp = entry.retryPolicy;
    if (rp !== null && rp.numRetries > 0 && !this.hasBody) this.retry = compiledRetry(rp);
    // x-envoy-expected-rq-timeout-ms: what the upstream may assume it has (per-try, else global).
    const expected = this.retry !== null && this.retry.perTryTimeoutMs > 0 ? this.retry.perTryTimeoutMs : this.timeoutMs;
    if (expected > 0) this.headers!.push('x-envoy-expected-rq-timeout-ms', String(expected));
    if (entry.mirrorPolicies.length > 0) this.mirror(entry);
    this.attempt();
  }

  /**
   * request_mirror_policies: each policy whose runtime_fraction passes sends a copy to its cluster,
   * fire-and-forget (shadow-writer.ts). An unknown mirror cluster is skipped (Envoy counts it);
   * requests with a body are not mirrored (see shadow-writer.ts).
   */
  mirror(entry: RouteEntryView): void {
    if (this.hasBody) {
      SHADOW_STATS.skippedBody++;
      return;
    }
    const policies = entry.mirrorPolicies;
    const lr = this.lr;
    const headers = this.headers!;
    let authority = this.view.authority;
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i] === 'host') {
        authority = headers[i + 1]!;
        break;
      }
    }
    for (let i = 0; i < policies.length; i++) {
      const p = policies[i]!;
      if (lr.core.random() % p.denominator >= p.numerator) continue;
      const name = p.clusterHeader !== '' ? this.view.headerValues(p.clusterHeader)?.[0] : p.cluster;
      const cluster = name === undefined ? undefined : lr.clusters.get(name);
      if (cluster === undefined) {
        SHADOW_STATS.skippedNoCluster++;
        continue;
      }
      const host = p.disableShadowHostSuffixAppend ? authority : shadowHost(authority);
      sendShadow(cluster, headers, host, this.view.method, this.upstreamPath, this.timeoutMs, this.idleTimeoutMs, this.hash, this.hasHash);
    }
  }

  /** Forwarded headers: hop-by-hop removed, x-forwarded-*, x-request-id, rewrites, route mutations. */
  buildUpstreamHeaders(entry: RouteEntryView, clusterName: string): void {
    const raw = this.req.rawHeaders;
    const lr = this.lr;
    const hcm = lr.hcm;
    const view = this.view;
    const out: string[] = ['host', view.authority];
    let xff: string | null = null;
    let xfp: string | null = null;
    let requestId = false;
    let te: string | null = null;
    let contentLength = -1;
    let chunked = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const value = raw[i + 1]!;
      switch (name) {
        case 'host':
        case 'connection':
        case 'keep-alive':
        case 'proxy-connection':
        case 'upgrade':
        case 'expect':
          continue;
        case 'transfer-encoding':
          chunked = true;
          continue;
        case 'te':
          // Only `te: trailers` survives (Envoy strips other TE values).
          if (value.toLowerCase().includes('trailers')) te = 'trailers';
          continue;
        case 'x-forwarded-for':
          xff = xff === null ? value : xff + ', ' + value;
          continue;
        case 'x-forwarded-proto':
          if (xfp === null) xfp = value;
          continue;
        case 'x-request-id':
          requestId = true;
          break;
        case 'content-length':
          contentLength = Number(value);
          break;
      }
      out.push(name, value);
    }
    if (te !== null) out.push('te', te);
    // x-forwarded-for: Envoy appends the peer address only with use_remote_address (otherwise it
    // trusts what the downstream sent and passes it on). x-forwarded-proto: set from the
    // connection when Envoy is the edge, else kept if present.
    if (hcm.useRemoteAddress) {
      const peer = this.req.socket.remoteAddress ?? '';
      out.push('x-forwarded-for', xff === null ? peer : xff + ', ' + peer);
      out.push('x-forwarded-proto', 'http');
    } else {
      if (xff !== null) out.push('x-forwarded-for', xff);
      out.push('x-forwarded-proto', xfp ?? 'http');
    }
    if (!requestId && hcm.generateRequestId) out.push('x-request-id', randomUUID());
    this.hasBody = chunked || contentLength > 0;
    this.bytesReceived = contentLength > 0 ? contentLength : 0;
    if (this.hasBody) {
      const b = requestBody(this.req);
      if (b !== null) {
        this.body = b;
        (b as unknown as { [kStream]: Stream })[kStream] = this;
        b.on('end', onBodyEnd);
      }
    } else this.requestDoneHr = this.startHr;

    // Rewrites: prefix/regex path rewrite keeps the original in x-envoy-original-path.
    const path = view.path;
    const rewritten = entry.rewritePath(path, view);
    if (rewritten !== null && rewritten !== path) {
      this.upstreamPath = rewritten;
      out.push('x-envoy-original-path', path);
    } else this.upstreamPath = path;
    const host = entry.rewriteHost(view, clusterName);
    if (host !== null) out[1] = host;
    const list = new HeaderList(out);
    entry.applyRequestHeaders(list, view, clusterName);
    this.headers = list.list;
  }

  computeHash(policies: readonly HashPolicyView[]): void {
    let hash = 0;
    let has = false;
    for (const p of policies) {
      let key: string | undefined;
      switch (p.kind) {
        case 'header':
          key = this.view.headerValues(p.headerName)?.[0];
          break;
        case 'cookie':
          key = cookieValue(this.view.headerValues('cookie'), p.name);
          break;
        case 'source_ip':
          key = this.req.socket.remoteAddress;
          break;
        case 'query_parameter':
          key = queryValue(this.view.path, p.name);
          break;
      }
      if (key === undefined) continue;
      const h = murmur3(key);
      hash = has ? combineHash(hash, h) : h;
      has = true;
      if (p.terminal) break;
    }
    this.hash = hash;
    this.hasHash = has;
  }

  /** One attempt: pick a host, check the circuit breakers, dispatch. */
  attempt(): void {
    const cluster = this.cluster!;
    let host = cluster.chooseHost(this.hash, this.hasHash);
    const rp = this.retry;
    if (rp !== null && this.retriesDone > 0 && rp.hostSelectionAttempts > 1) {
      for (let i = 1; i < rp.hostSelectionAttempts && host !== null && host === this.lastHost; i++) host = cluster.chooseHost(this.hash, this.hasHash);
    }
    if (host === null || host.pool === null) {
      this.localReply(503, 'no healthy upstream', ResponseFlag.UH, 'no_healthy_upstream');
      return;
    }
    if (cluster.activeRequests >= cluster.maxRequests || host.active >= cluster.maxConnections + cluster.maxPendingRequests) {
      this.localReply(503, UPSTREAM_RESET_PREFIX + 'reset reason: ' + REASON_OVERFLOW, ResponseFlag.UO, 'upstream_reset_before_response_started{overflow}');
      return;
    }
    cluster.activeRequests++;
    host.active++;
    this.host = host;
    this.lastHost = host;
    this.upstreamHost = host.key;
    this.upstreamMetadata = host.metadata;
    // auto_host_rewrite: the Host becomes the DNS name the endpoint was resolved from.
    if (this.autoHostRewrite) this.headers![1] = host.hostname;
    this.attemptStart = performance.now();
    // Route timeout (Envoy default 15 s, 0 = none) bounds the wait for response headers across
    // attempts; per_try_timeout bounds each attempt. Both via the pool's headersTimeout.
    let headersTimeout = 0;
    this.attemptIsPerTry = false;
    if (this.timeoutMs > 0) {
      headersTimeout = Math.max(1, Math.ceil(this.timeoutMs - (this.attemptStart - this.routerStartHr)));
    }
    const r = this.retry;
    if (r !== null && r.perTryTimeoutMs > 0 && (headersTimeout === 0 || r.perTryTimeoutMs < headersTimeout)) {
      headersTimeout = r.perTryTimeoutMs;
      this.attemptIsPerTry = true;
    }
    host.pool.dispatch(
      {
        path: this.upstreamPath,
        method: this.view.method,
        headers: this.headers!,
        body: this.body,
        headersTimeout,
        bodyTimeout: this.idleTimeoutMs,
      },
      this,
    );
  }

  endAttempt(): void {
    const h = this.host;
    if (h !== null) {
      h.active--;
      this.cluster!.activeRequests--;
      this.host = null;
    }
    if (this.retryCounted) {
      this.retryCounted = false;
      this.cluster!.activeRetries--;
    }
    this.abortFn = null;
  }

  // --- UpstreamHandler (conn-pool.ts) ---

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.done) abort();
  }

  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, _statusText: string): boolean {
    if (this.done) return false;
    const r = this.retry;
    if (r !== null && r.retriableStatus(statusCode)) {
      if (this.canRetry()) {
        // Read and drop this response so the connection stays reusable; retry on completion.
        this.discarding = true;
        return true;
      }
      // Envoy: the retry limit was hit on a retriable response, which is passed through.
      if (this.retriesDone > 0) this.flags |= ResponseFlag.URX;
    }
    const now = performance.now();
    const lr = this.lr;
    const out: string[] = [];
    let server: string | null = null;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toLowerCase();
      switch (name) {
        case 'connection':
        case 'keep-alive':
        case 'proxy-connection':
        case 'transfer-encoding':
        case 'upgrade':
        case 'x-envoy-upstream-service-time':
          continue;
        case 'server':
          server = rawHeaders[i + 1]!;
          continue;
      }
      out.push(name, rawHeaders[i + 1]!);
    }
    const serviceTime = Math.round(now - this.attemptStart);
    this.upstreamServiceTimeMs = serviceTime;
    out.push('x-envoy-upstream-service-time', String(serviceTime));
    if (this.explain !== null) out.push('x-weir-explain', this.explain + '; upstream_host=' + this.upstreamHost);
    // server_header_transformation: OVERWRITE (default) / APPEND_IF_ABSENT / PASS_THROUGH.
    const sht = lr.hcm.serverHeaderTransformation;
    if (sht === 'OVERWRITE' || (sht === 'APPEND_IF_ABSENT' && server === null)) out.push('server', lr.serverHeader);
    else if (server !== null) out.push('server', server);
    if (lr.core.draining) out.push('connection', 'close');
    const list = new HeaderList(out);
    this.entry!.applyResponseHeaders(list, this.view, this.upstreamCluster ?? undefined);
    this.resHeaders = list.list;
    this.status = statusCode;
    this.details = 'via_upstream';
    this.resume = resume;
    this.res.writeHead(statusCode, list.list);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    this.bytesSent += chunk.length;
    if (this.res.write(chunk)) return true;
    if (!this.drainListening) {
      this.drainListening = true;
      this.res.on('drain', onResDrain);
    }
    return false;
  }

  onComplete(_trailers: string[] | null): void {
    this.endAttempt();
    if (this.done) return;
    if (this.discarding) {
      this.discarding = false;
      this.lastReason = '';
      this.scheduleRetry();
      return;
    }
    this.res.end();
    this.finish();
  }

  onError(err: Error): void {
    this.endAttempt();
    if (this.done) return;
    const res = this.res;
    if (res.headersSent) {
      // Failure after the response started: Envoy resets the downstream stream; on HTTP/1 that is
      // closing the connection so the client sees a truncated response, never a wrong one.
      const code = (err as { code?: string }).code;
      this.flags |= code === 'UND_ERR_BODY_TIMEOUT' ? ResponseFlag.UT : ResponseFlag.UC;
      this.details = 'upstream_reset_after_response_started';
      res.destroy();
      this.finish();
      return;
    }
    const kind = classify(err);
    const r = this.retry;
    if (this.discarding) this.discarding = false;
    switch (kind) {
      case Failure.ConnectFailure:
        this.lastReason = (err as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT' ? REASON_CONNECT_TIMEOUT : REASON_CONNECTION_FAILURE;
        if (r !== null && r.retriableConnectFailure() && this.canRetry()) return this.scheduleRetry();
        return this.upstreamFailure(ResponseFlag.UF, 503);
      case Failure.Reset:
        this.lastReason = REASON_TERMINATION;
        if (r !== null && r.retriableReset() && this.canRetry()) return this.scheduleRetry();
        return this.upstreamFailure(ResponseFlag.UC, 503);
      case Failure.PerTryTimeout:
      case Failure.GlobalTimeout:
        if (this.attemptIsPerTry && r !== null && r.retriableReset() && this.canRetry()) {
          this.lastReason = '';
          return this.scheduleRetry();
        }
        if (this.retriesDone > 0 && this.attemptIsPerTry) this.flags |= ResponseFlag.URX;
        this.localReply(504, 'upstream request timeout', ResponseFlag.UT, this.attemptIsPerTry ? 'upstream_per_try_timeout' : 'upstream_response_timeout');
        return;
      case Failure.Protocol:
        this.lastReason = REASON_PROTOCOL;
        this.localReply(502, UPSTREAM_RESET_PREFIX + 'reset reason: ' + REASON_PROTOCOL, ResponseFlag.UPE, 'upstream_reset_before_response_started{protocol_error}');
        return;
      default:
        // The downstream request body failed (client went away mid-upload).
        this.flags |= ResponseFlag.DC;
        this.details = 'downstream_remote_disconnect';
        res.destroy();
        this.finish();
    }
  }

  // --- retries and replies ---

  canRetry(): boolean {
    const r = this.retry!;
    const c = this.cluster!;
    if (this.retriesDone >= r.numRetries) return false;
    // circuit_breakers max_retries: concurrent retries per cluster.
    if (c.activeRetries >= c.maxRetries) return false;
    if (this.timeoutMs > 0 && performance.now() - this.routerStartHr >= this.timeoutMs) return false;
    return true;
  }

  scheduleRetry(): void {
    const r = this.retry!;
    const delay = r.backoffMs(this.retriesDone, this.lr.core.random());
    this.retriesDone++;
    this.cluster!.activeRetries++;
    this.retryCounted = true;
    this.retryTimer = setTimeout(onRetryTimer, delay, this);
  }

  upstreamFailure(flag: number, status: number): void {
    const retried = this.retriesDone > 0;
    if (retried) this.flags |= ResponseFlag.URX;
    const body = UPSTREAM_RESET_PREFIX + (retried ? 'retried and the latest reset reason: ' : 'reset reason: ') + this.lastReason;
    this.localReply(status, body, flag, 'upstream_reset_before_response_started{' + this.lastReason.replace(/ /g, '_') + '}');
  }

  /** Envoy's local reply: status, text/plain body, response flag, details for the access log. */
  localReply(status: number, body: string, flag: number, details: string): void {
    this.flags |= flag;
    this.details = details;
    this.sendLocal(status, body, null, false);
  }

  sendLocal(status: number, body: string, extra: string[] | null, routeHeaders: boolean): void {
    const res = this.res;
    this.status = status;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      this.finish();
      return;
    }
    const len = Buffer.byteLength(body);
    const out: string[] = ['content-length', String(len)];
    if (len > 0) out.push('content-type', 'text/plain');
    if (extra !== null) for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
    out.push('server', this.lr.serverHeader);
    if (this.explain !== null) out.push('x-weir-explain', this.explain);
    if (this.lr.core.draining) out.push('connection', 'close');
    let list = out;
    if (routeHeaders && this.entry !== null) {
      const hl = new HeaderList(out);
      this.entry.applyResponseHeaders(hl, this.view);
      list = hl.list;
    }
    this.resHeaders = list;
    this.bytesSent = len;
    res.writeHead(status, list);
    res.end(body);
    this.finish();
  }

  downstreamClosed(): void {
    this.flags |= ResponseFlag.DC;
    if (this.faultTimer !== null) {
      clearTimeout(this.faultTimer);
      this.faultTimer = null;
    }
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.endAttempt();
    }
    const a = this.abortFn;
    this.finish();
    if (a !== null) a();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.faultCounted) {
      this.faultCounted = false;
      this.lr.hcm.fault!.active--;
    }
    // A retry that ended before dispatching (503 UH / UO on the retry) still held a retry slot.
    if (this.retryCounted && this.host === null) {
      this.retryCounted = false;
      this.cluster!.activeRetries--;
    }
    this.durationMs = performance.now() - this.startHr;
    const logs = this.lr.accessLogs;
    for (let i = 0; i < logs.length; i++) {
      const l = logs[i]!;
      l.out.write(l.format.format(this));
    }
    const lr = this.lr;
    if (lr.observer !== null) lr.observer.streamDone(this);
    const core = lr.core;
    if (core.observer !== null) core.observer(this);
    core.streamDone();
  }
}

/** Only the local machine may ask for x-weir-explain. */
function isLoopback(a: string | undefined): boolean {
  return a === '127.0.0.1' || a === '::1' || a === '::ffff:127.0.0.1';
}

/** The Host header from rawHeaders (building `req.headers` would cost an object per request). */
export function hostHeader(raw: readonly string[]): string {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 4 && (n === 'host' || n === 'Host' || n.toLowerCase() === 'host')) return raw[i + 1]!;
  }
  return '';
}

function classify(err: Error): Failure {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ECONNREFUSED':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return Failure.ConnectFailure;
    case 'UND_ERR_HEADERS_TIMEOUT':
      return Failure.PerTryTimeout;
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      return Failure.Reset;
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_STATUS':
    case 'HPE_INVALID_VERSION':
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return Failure.Protocol;
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_ABORTED':
    case 'ECONNABORTED':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return Failure.Downstream;
  }
  if (err.name === 'HTTPParserError') return Failure.Protocol;
  return Failure.Reset;
}

/** The value of cookie `name` in the request's cookie header lines. */
export function cookieValue(lines: readonly string[] | undefined, name: string): string | undefined {
  if (lines === undefined) return undefined;
  for (const line of lines) {
    let i = 0;
    while (i < line.length) {
      let end = line.indexOf(';', i);
      if (end === -1) end = line.length;
      let s = i;
      while (s < end && line.charCodeAt(s) === 32) s++;
      const eq = line.indexOf('=', s);
      if (eq !== -1 && eq < end && eq - s === name.length && line.startsWith(name, s)) {
        let v = line.slice(eq + 1, end).trim();
        if (v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34) v = v.slice(1, -1);
        return v;
      }
      i = end + 1;
    }
  }
  return undefined;
}

function queryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q === -1) return undefined;
  const params = new URLSearchParams(path.slice(q + 1));
  return params.get(name) ?? undefined;
}
