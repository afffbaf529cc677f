// The data path's key behaviour suites again, over node:http as the downstream server (the fallback,
// ProxyServerOptions.downstreamServer 'node') instead of the lean one (src/proxy/h1-server.ts),
// without copying them: WEIR_DOWNSTREAM_SERVER=node makes fixtures.setupProxy (and the suites' own
// ProxyServers) pass `downstreamServer: 'node'`, and the suites are loaded as modules of this file
// (their tests join this file's root):
// - errors.test: every Envoy local reply with its flag, malformed / smuggling / oversized requests;
// - lifecycle.test: apply, swap in flight, drain under load, WebSocket tunnelling;
// - bulk.test: 100 MiB up and down with backpressure in bounded memory;
// - routing.test: routing, header rewriting, observers.
// `WEIR_DOWNSTREAM_SERVER=node npx tap dist/test/proxy/*.test.js` runs every proxy suite over node:http.

import t from 'tap';
import { startUpstream } from '../helpers/upstream-servers';
import { routeConfig, setupProxy, staticCluster } from './fixtures';

process.env.WEIR_DOWNSTREAM_SERVER = 'node';
/* eslint-disable @typescript-eslint/no-require-imports */
require('./errors.test');
require('./lifecycle.test');
require('./bulk.test');
require('./routing.test');
/* eslint-enable @typescript-eslint/no-require-imports */

t.test('the suites above really run over node:http', async (t) => {
  const up = await startUpstream((_req, res) => res.end('ok'));
  t.teardown(() => up.close());
  const { proxy } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'c' } }]), [staticCluster('c', [up.port])]);
  t.equal(proxy.downstreamServer, 'node');
});
