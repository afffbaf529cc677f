// HTTP/1.1 Upgrade (WebSocket) tunnelling: the request is routed by the same route table, then
// the connection is spliced to a raw TCP connection to the chosen endpoint with the request head
// replayed; bytes flow both ways untouched. Envoy only upgrades types listed in the HCM's
// `upgrade_configs`; others get 403 as in Envoy (`upgrade_failed`).

import { connect, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { type DownstreamRequest, rawHeader } from './downstream';
import type { CompletedStream, ListenerRuntime } from './listener-runtime';
import { authorityPort, ProxyRequestView, stripPort } from './request-view';
import { hostHeader } from './stream';
import { ResponseFlag } from './response-flags';
import { STATUS_CODES } from 'node:http';

const HOP = new Set(['keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'host']);
/** Dropped when an h2c upgrade is served as plain HTTP/1.1. */
const H2C_HOP = new Set(['keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'host', 'upgrade', 'connection', 'http2-settings']);

function rawReply(socket: Socket, status: number, body: string, server: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    'HTTP/1.1 ' + status + ' ' + (STATUS_CODES[status] ?? '') + '\r\ncontent-length: ' + Buffer.byteLength(body) +
      (body.length > 0 ? '\r\ncontent-type: text/plain' : '') + '\r\nserver: ' + server + '\r\nconnection: close\r\n\r\n' + body,
  );
}

export class UpgradeTunnel {
  readonly lr: ListenerRuntime;
  readonly req: DownstreamRequest;
  readonly socket: Socket;
  /** The matched route entry (metrics count the upgrade against it). */
  entry: object | null = null;
  upstream: Socket | null = null;
  status = 0;
  flags = 0;
  cluster: string | null = null;
  upstreamHostKey: string | null = null;
  readonly startTime = Date.now();
  done = false;

  constructor(lr: ListenerRuntime, req: DownstreamRequest, socket: Socket) {
    this.lr = lr;
    this.req = req;
    this.socket = socket;
  }

  run(head: Buffer, tunnels: Set<UpgradeTunnel>): void {
    const { lr, req, socket } = this;
    socket.on('error', () => this.close());
    let authority = hostHeader(req.rawHeaders);
    if (lr.hcm.stripAnyHostPort) authority = stripPort(authority);
    else if (lr.hcm.stripMatchingHostPort && authorityPort(authority) === lr.port) authority = stripPort(authority);
    const view = new ProxyRequestView(authority, req.url ?? '/', req.method ?? 'GET', 'http', lr.core.random(), req.rawHeaders, socket, 'HTTP/1.1');
    const upgradeType = (view.headerValues('upgrade')?.[0] ?? '').toLowerCase();
    const entry = lr.hcm.routeTable.route(view);
    if (entry === null) return this.reply(404, '', ResponseFlag.NR);
    this.entry = entry;
    // Envoy checks the upgrade type before the route acts (a direct_response route still answers
    // an unconfigured upgrade with 403 upgrade_failed). Route-level RouteAction.upgrade_configs are
    // not read yet: the HCM list decides.
    // `Upgrade: h2c` (curl --http2 on http://) is not an upgrade Envoy performs: its HTTP/1 codec
    // drops the upgrade headers and serves the request. weir does the same through this tunnel, with
    // `connection: close` so the upstream's response ends the exchange.
    const h2c = upgradeType === 'h2c' && !lr.hcm.upgradeTypes.includes('h2c');
    if (!h2c && !lr.hcm.upgradeTypes.includes(upgradeType)) return this.reply(403, '', 0);
    if (entry.kind !== 'route') {
      const loc = entry.kind === 'redirect' ? entry.redirectLocation(view) : null;
      if (loc !== null) {
        this.status = entry.redirectCode;
        socket.end(`HTTP/1.1 ${entry.redirectCode} ${STATUS_CODES[entry.redirectCode] ?? ''}\r\nlocation: ${loc}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        return this.log();
      }
      const d = entry.directResponse;
      return this.reply(d ? d.status : 200, d ? d.body : '', 0);
    }
    const clusterName = entry.selectCluster(view);
    const cluster = clusterName === undefined ? undefined : lr.clusters.get(clusterName);
    this.cluster = clusterName ?? null;
    if (cluster === undefined) return this.reply(503, '', ResponseFlag.NC);
    const host = cluster.chooseHost(0, false);
    if (host === null) return this.reply(503, 'no healthy upstream', ResponseFlag.UH);
    this.upstreamHostKey = host.key;

    // The request head as the upstream sees it: hop-by-hop headers except Connection/Upgrade dropped.
    let path = view.path;
    const rewritten = entry.rewritePath(path, view);
    const extra: string[] = [];
    if (rewritten !== null && rewritten !== path) {
      extra.push('x-envoy-original-path', path);
      path = rewritten;
    }
    let hostValue = entry.rewriteHost(view, clusterName) ?? authority;
    if (entry.autoHostRewrite && cluster.config.type !== 'STATIC' && cluster.config.type !== 'EDS') hostValue = host.hostname;
    let headHead = `${view.method} ${path} HTTP/1.1\r\nhost: ${hostValue}\r\n`;
    const raw = req.rawHeaders;
    let hasRequestId = false;
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!.toLowerCase();
      if ((h2c ? H2C_HOP : HOP).has(n)) continue;
      if (n === 'x-request-id') hasRequestId = true;
      headHead += raw[i] + ': ' + raw[i + 1] + '\r\n';
    }
    if (!hasRequestId && lr.hcm.generateRequestId) extra.push('x-request-id', randomUUID());
    if (lr.hcm.useRemoteAddress) extra.push('x-forwarded-proto', 'http');
    if (h2c) extra.push('connection', 'close');
    for (let i = 0; i < extra.length; i += 2) headHead += extra[i] + ': ' + extra[i + 1] + '\r\n';
    headHead += '\r\n';

    tunnels.add(this);
    const up = connect({ host: host.address, port: host.port });
    this.upstream = up;
    up.setNoDelay(true);
    const timer = setTimeout(() => {
      if (this.status === 0) {
        this.flags |= ResponseFlag.UF;
        up.destroy();
        this.reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection timeout', 0);
      }
    }, cluster.config.connectTimeoutMs);
    up.once('connect', () => {
      clearTimeout(timer);
      up.write(headHead);
      if (head.length > 0) up.write(head);
      up.once('data', (chunk: Buffer) => {
        // "HTTP/1.1 101 ..." : the status for the access log.
        this.status = Number(chunk.toString('latin1', 9, 12)) || 0;
      });
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => {
      clearTimeout(timer);
      if (this.status === 0 && !this.done) {
        this.flags |= ResponseFlag.UF;
        this.reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused', 0);
      } else this.close();
    });
    up.on('close', () => {
      tunnels.delete(this);
      this.close();
    });
    socket.on('close', () => {
      tunnels.delete(this);
      up.destroy();
      this.close();
    });
    // No half-open tunnels (the listener sockets allow half-open so that a request's FIN can be
    // handled): the client's FIN ends the tunnel; the upstream's ends it once its last bytes were
    // written to the client (the pipe ends the downstream socket's writable side).
    socket.on('end', () => this.close());
    socket.on('finish', () => this.close());
  }

  reply(status: number, body: string, flag: number): void {
    this.status = status;
    this.flags |= flag;
    rawReply(this.socket, status, body, this.lr.serverHeader);
    this.log();
  }

  close(): void {
    this.socket.destroy();
    this.upstream?.destroy();
    this.log();
  }

  /**
   * At the tunnel's end (or its local reply): the access log, then the observers (metrics), like a
   * finished request: a WebSocket session counts as one request with status 101.
   */
  log(): void {
    if (this.done) return;
    this.done = true;
    const lr = this.lr;
    const logs = lr.accessLogs;
    if (logs.length === 0 && lr.observer === null && lr.core.observer === null) return;
    const req = this.req;
    const routeEntry = this.entry;
    const entry: CompletedStream = {
      listenerName: lr.config.name,
      statPrefix: lr.hcm.statPrefix,
      upstreamMetadata: null,
      retriesDone: 0,
      entry: routeEntry,
      startTime: this.startTime,
      durationMs: Date.now() - this.startTime,
      protocol: 'HTTP/1.1',
      status: this.status,
      flags: this.flags,
      details: '',
      bytesReceived: this.socket.bytesRead,
      bytesSent: this.socket.bytesWritten,
      upstreamHost: this.upstreamHostKey,
      upstreamCluster: this.cluster,
      upstreamServiceTimeMs: -1,
      routeName: null,
      downstreamRemoteAddress: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      downstreamLocalAddress: `${req.socket.localAddress}:${req.socket.localPort}`,
      requestHeader(name: string): string | undefined {
        if (name === ':method') return req.method;
        if (name === ':path') return req.url;
        if (name === ':authority') return rawHeader(req.rawHeaders, 'host');
        return rawHeader(req.rawHeaders, name);
      },
      responseHeader(): string | undefined {
        return undefined;
      },
    };
    for (const l of logs) l.out.write(l.format.format(entry));
    if (lr.observer !== null) lr.observer.streamDone(entry);
    if (lr.core.observer !== null) lr.core.observer(entry);
  }
}

