// The data path's behaviour suites again, over the undici upstream client (UndiciPool) instead of
// the native one, without copying them: WEIR_UPSTREAM_CLIENT=undici makes fixtures.setupProxy pass
// `upstreamClient: 'undici'`, and the suites are loaded as modules of this file (their tests join
// this file's root):
// - errors.test: every Envoy local reply with its flag (NR, NC, UH, UF, UF,URX, UC, UT, UO, URX,
//   UT,URX), upstream closing mid-body (200 UC, truncated), client gone (DC), malformed requests;
// - bulk.test: 100 MiB up and down streamed with backpressure in bounded memory; a client
//   aborting mid-download.
// Plus keep-alive reuse through the proxy, for both clients. split.test (90/10 random within bounds,
// smooth exact 9000/1000) runs over undici in undici-client-split.test.ts (its 20,000 requests would
// take this file past the ~20 s budget). `WEIR_UPSTREAM_CLIENT=undici npx tap
// dist/test/proxy/*.test.js` runs every proxy suite over undici.

import t from 'tap';
import { startUpstream } from '../helpers/upstream-servers';
import { get, routeConfig, setupProxy, staticCluster } from './fixtures';

process.env.WEIR_UPSTREAM_CLIENT = 'undici';
/* eslint-disable @typescript-eslint/no-require-imports */
require('./errors.test');
require('./bulk.test');
/* eslint-enable @typescript-eslint/no-require-imports */

t.test('the suites above really run over undici', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.teardown(() => up.close());
  const { proxy } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'c' } }]), [staticCluster('c', [up.port])]);
  t.equal(proxy.upstreamClient, 'undici');
  t.equal(proxy.clusters.get('c')!.hosts[0]!.pool!.constructor.name, 'UndiciPool');
});

for (const client of ['native', 'undici'] as const) {
  t.test(`${client}: sequential requests reuse one upstream keep-alive connection`, async (t) => {
    const ports = new Set<number>();
    const up = await startUpstream((req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      res.end('ok');
    });
    t.teardown(() => up.close());
    const { port, agent, proxy } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'c' } }]), [staticCluster('c', [up.port])], {}, { upstreamClient: client });
    t.equal(proxy.upstreamClient, client);
    for (let i = 0; i < 20; i++) t.equal((await get(port, '/k' + i, {}, agent)).body, 'ok');
    t.equal(up.seen.length, 20);
    t.equal(ports.size, 1, 'one upstream connection for 20 sequential requests');
  });
}
