// The route table's view of one downstream request (route/types RequestView). One class, every
// field set in the constructor (one V8 shape). Header values come from rawHeaders, one entry per
// header line: node joins duplicates in `req.headers`, which Envoy's per-value matching must not see.

import type { Socket } from 'node:net';
import type { RequestView, RequestViewExtras } from '../route/types';

export class ProxyRequestView implements RequestView, RequestViewExtras {
  readonly authority: string;
  readonly path: string;
  readonly method: string;
  readonly scheme: string;
  readonly random: number;
  readonly rawHeaders: readonly string[];
  readonly socket: Socket;
  readonly protocol: string;

  constructor(
    authority: string,
    path: string,
    method: string,
    scheme: string,
    random: number,
    rawHeaders: readonly string[],
    socket: Socket,
    protocol: string,
  ) {
    this.socket = socket;
    this.protocol = protocol;
    this.authority = authority;
    this.path = path;
    this.method = method;
    this.scheme = scheme;
    this.random = random;
    this.rawHeaders = rawHeaders;
  }

  // Connection facts for header formatters (%DOWNSTREAM_REMOTE_ADDRESS% ...), read only on demand.
  get downstreamRemoteIp(): string {
    return this.socket.remoteAddress ?? '';
  }
  get downstreamRemotePort(): number {
    return this.socket.remotePort ?? 0;
  }
  get downstreamLocalIp(): string {
    return this.socket.localAddress ?? '';
  }
  get downstreamLocalPort(): number {
    return this.socket.localPort ?? 0;
  }

  headerValues(name: string): readonly string[] | undefined {
    const raw = this.rawHeaders;
    let out: string[] | undefined;
    const len = name.length;
    for (let i = 0; i < raw.length; i += 2) {
      const n = raw[i]!;
      if (n.length === len && (n === name || n.toLowerCase() === name)) {
        if (out === undefined) out = [raw[i + 1]!];
        else out.push(raw[i + 1]!);
      }
    }
    return out;
  }
}

/** `host:port` -> `host` (IPv6 literals keep their brackets). */
export function stripPort(authority: string): string {
  const i = authority.lastIndexOf(':');
  if (i === -1) return authority;
  const close = authority.lastIndexOf(']');
  if (close > i) return authority;
  return authority.slice(0, i);
}

/** The port of `host:port`, or -1. */
export function authorityPort(authority: string): number {
  const i = authority.lastIndexOf(':');
  if (i === -1 || authority.lastIndexOf(']') > i) return -1;
  const p = Number(authority.slice(i + 1));
  return Number.isInteger(p) ? p : -1;
}
