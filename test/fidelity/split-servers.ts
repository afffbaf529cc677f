// Upstreams that split in known ways, for the `weir fidelity` tests. Each listens on 127.0.0.1
// port 0 and is closed (with its keep-alive sockets) in t.teardown.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export type VersionPicker = (req: IncomingMessage) => string;

/** Starts a server answering `x-version: <v>` and body `<h1>version <v></h1>`; resolves to its URL. */
export async function startSplitServer(t: Teardown, pick: VersionPicker): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const v = pick(req);
    res.setHeader('x-version', v);
    res.setHeader('content-type', 'text/html');
    res.end('<html><body><h1>version ' + v + '</h1></body></html>');
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return 'http://127.0.0.1:' + (server.address() as AddressInfo).port + '/';
}

/** v1 nine times, then v2 once, cyclically (in arrival order): exactly 90/10. */
export function cyclic(pattern: readonly string[]): VersionPicker {
  let i = 0;
  return () => pattern[i++ % pattern.length]!;
}

export const NINETY_TEN = ['v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v2'] as const;

/** A seeded xorshift32 so "random" servers are reproducible. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/** Per request, v2 with probability `p2`, else v1. */
export function randomSplit(p2: number, seed: number): VersionPicker {
  const random = seededRandom(seed);
  return () => (random() < p2 ? 'v2' : 'v1');
}

/** FNV-1a 32-bit. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The user key from cookie `name` (or "" when absent). */
export function cookieValue(req: IncomingMessage, name: string): string {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return '';
}

/** Sticky: the version is a function of hash(cookie) only; `v2Percent` of the hash space goes to v2. */
export function stickyByCookie(name: string, v2Percent: number): VersionPicker {
  return (req) => (fnv1a(cookieValue(req, name)) % 100 < v2Percent ? 'v2' : 'v1');
}
