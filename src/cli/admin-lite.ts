// The admin listener's first endpoint: `GET /ready`, as Envoy answers it (admin docs, "/ready"):
// 200 with the body `LIVE` while the server serves, 503 with the state name otherwise
// (PRE_INITIALIZING, INITIALIZING, DRAINING). The full admin API (config_dump, stats, clusters)
// lives in src/admin/ once it lands; this keeps `admin.address` meaningful until then.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger';

/** Envoy's server states (envoy.admin.v3.ServerInfo.State). */
export type ServerState = 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' | 'INITIALIZING';

export interface AdminLite {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdmin(opts: {
  address: string;
  port: number;
  state: () => ServerState;
  log?: Logger;
}): Promise<AdminLite> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/ready') {
      const state = opts.state();
      res.writeHead(state === 'LIVE' ? 200 : 503, { 'content-type': 'text/plain; charset=UTF-8' });
      res.end(state + '\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=UTF-8' });
    res.end(`invalid path. admin commands are:\n  /ready: print server state, return 200 if LIVE, otherwise return 503\n`);
  });
  // Admin connections must not hold the process open after a drain.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  opts.log?.info(`admin address: ${addr.address}:${addr.port}`);
  return {
    address: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
