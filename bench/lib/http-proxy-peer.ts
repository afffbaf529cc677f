// The node-http-proxy peer: the minimal proxy most Node users would write with `http-proxy`,
// given the same 90/10 split (random, like Envoy's) and keep-alive to the upstreams so the
// comparison is about the proxy, not about opening connections. Own process; prints its port.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';

const [v1Port, v2Port] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent });
const v1 = `http://127.0.0.1:${v1Port}`;
const v2 = `http://127.0.0.1:${v2Port}`;
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502);
    res.end();
  }
});
const server = http.createServer((req, res) => {
  proxy.web(req, res, { target: Math.random() < 0.9 ? v1 : v2 });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
