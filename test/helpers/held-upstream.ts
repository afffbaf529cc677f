// An HTTP upstream on 127.0.0.1:0 that can hold its responses until released, so a test can have
// a known number of requests in flight (e.g. across SIGTERM) and await their arrival as an event.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TeardownLike } from './cli-process';

export interface HeldUpstream {
  port: number;
  /** While true, responses get their headers (200, x-upstream: yes) but not their end. */
  hold: boolean;
  /** Requests received so far. */
  received: number;
  /** Resolves once `n` requests in total have been received. */
  onReceived(n: number): Promise<void>;
  /** Stops holding and ends every held response with `ok\n`. */
  release(): void;
}

export function startHeldUpstream(t: TeardownLike): Promise<HeldUpstream> {
  let held: http.ServerResponse[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const state: HeldUpstream = {
    port: 0,
    hold: false,
    received: 0,
    onReceived(n: number): Promise<void> {
      if (state.received >= n) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ n, resolve }));
    },
    release() {
      state.hold = false;
      for (const r of held) r.end('ok\n');
      held = [];
    },
  };
  const server = http.createServer((req, res) => {
    req.resume();
    state.received++;
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
    if (state.hold) held.push(res);
    else res.end('ok\n');
    for (const w of waiters.splice(0)) {
      if (state.received >= w.n) w.resolve();
      else waiters.push(w);
    }
  });
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      state.port = (server.address() as AddressInfo).port;
      resolve(state);
    }),
  );
}
