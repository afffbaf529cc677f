// Runs weir's CLI (dist/src/cli/main.js) with ProxyServerOptions.downstreamServer forced to the
// first argument (`native` or `node`), for A/B runs of the two downstream servers in one benchmark
// run (bench/proxy.ts target `weir-node`) independent of the CLI's flags. The other arguments are
// the CLI's: `node dist/bench/lib/weir-downstream.js node -c bootstrap.json`.

import * as proxyServer from '../../src/proxy/proxy-server';
import { main } from '../../src/cli/main';

const kind = process.argv[2];
if (kind !== 'native' && kind !== 'node') throw new Error('first argument: native or node');
const Base = proxyServer.ProxyServer;
class Forced extends Base {
  constructor(opts: proxyServer.ProxyServerOptions = {}) {
    super({ ...opts, downstreamServer: kind as 'native' | 'node' });
  }
}
// The CLI reads `proxy_server_1.ProxyServer` when it builds the proxy (CommonJS), so replacing the
// export before main() runs is enough.
(proxyServer as { ProxyServer: typeof Base }).ProxyServer = Forced;

main(process.argv.slice(3)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`weir: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
