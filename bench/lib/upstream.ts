// Benchmark upstream: two minimal node:http servers (v1, v2) in their own process, so the load
// generator, the proxy and the upstream never share an event loop. Prints one JSON line with the
// ports once both listen. Each answers a small fixed body with `x-version`.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

function serve(version: string): Promise<number> {
  const body = Buffer.from(`hello from ${version}\n`);
  const headers = { 'content-type': 'text/plain', 'content-length': String(body.length), 'x-version': version };
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, headers);
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

void Promise.all([serve('v1'), serve('v2')]).then(([v1, v2]) => {
  process.stdout.write(JSON.stringify({ ready: true, v1, v2 }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
