// What the request path (Stream, UpgradeTunnel, ProxyRequestView) uses of a downstream request and
// its response. Two servers provide it: the lean HTTP/1.1 server (h1-server.ts, H1Exchange is both
// the request and the response) and node:http (IncomingMessage / ServerResponse), the fallback.

import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';

export interface DownstreamRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  /** One entry per header line, names in the client's case: [name, value, ...]. */
  readonly rawHeaders: string[];
  readonly httpVersionMinor: number;
  readonly socket: Socket;
}

export interface DownstreamResponse {
  /** True once writeHead ran (no other status may be sent). */
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  /** `headers` is a flat [name, value, ...] list, names lower-case. */
  writeHead(status: number, headers: string[]): unknown;
  /** false: buffered over the high-water mark, wait for 'drain'. */
  write(chunk: Buffer): boolean;
  end(body?: string): unknown;
  /** Aborts the response: the connection closes (the client sees a truncated response). */
  destroy(): unknown;
  /**
   * 'close': the connection went away (node:http also emits it after a finished response);
   * 'drain': writing may continue. The listener runs with `this` = the response.
   */
  on(event: 'close' | 'drain', listener: () => void): unknown;
}

/** The request body stream of `req`: the lean server's body, or node's IncomingMessage itself. */
export function requestBody(req: DownstreamRequest): Readable | null {
  const b = (req as { body?: Readable | null }).body;
  return b === undefined ? (req as unknown as Readable) : b;
}

/** A header value from rawHeaders (first line), `name` lower-case. */
export function rawHeader(raw: readonly string[], name: string): string | undefined {
  const len = name.length;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === len && (n === name || n.toLowerCase() === name)) return raw[i + 1];
  }
  return undefined;
}
