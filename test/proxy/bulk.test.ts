// 100 MiB through the proxy both ways with flat memory: bodies are streamed with backpressure,
// never buffered whole.

import t from 'tap';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A real gc() so the sampler measures memory that is still referenced, not garbage awaiting collection.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
import { startBulk } from '../helpers/upstream-servers';
import { routeConfig, setupProxy, staticCluster } from './fixtures';

const SIZE = 100 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 0x62);

/** A bounded stream of `size` bytes made of one reused chunk. */
function source(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) return this.push(null);
      const c = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= c.length;
      this.push(c);
    },
  });
}

t.test('100 MiB upload and download with bounded RSS growth', async (t) => {
  const bulk = await startBulk();
  t.teardown(() => bulk.close());
  const { port } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'bulk', timeout: '60s' } }]), [staticCluster('bulk', [bulk.port])]);
  let peak = 0;
  let peakBuffers = 0;
  const base = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    gc();
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
  }, 100);
  t.teardown(() => clearInterval(sampler));

  const uploaded = await new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/up', method: 'POST', agent: false, headers: { 'content-length': SIZE } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    source(SIZE).pipe(req);
  });
  t.equal(uploaded, String(SIZE), 'upstream received every byte');

  const chunkedUp = await new Promise<string>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/up', method: 'POST', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    source(8 * 1024 * 1024).pipe(req);
  });
  t.equal(chunkedUp, String(8 * 1024 * 1024), 'chunked upload relayed');

  const downloaded = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/bytes/' + SIZE, agent: false }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(downloaded, SIZE, 'client received every byte');
  clearInterval(sampler);
  const growth = (peak - base) / (1024 * 1024);
  // Client, proxy and upstream share this process, so buffering a body whole would hold >= 100 MiB
  // of Buffers at once. Live Buffer memory after a gc (arrayBuffers) is the sharp measure; RSS also
  // counts freed-but-not-returned malloc memory, so its bound is looser.
  const buffers = peakBuffers / (1024 * 1024);
  t.ok(buffers < 50, `peak live Buffer memory ${buffers.toFixed(1)} MiB`);
  t.ok(growth < 80, `RSS grew ${growth.toFixed(1)} MiB`);
});

t.test('a client aborting a large download mid-body does not disturb the proxy', async (t) => {
  const bulk = await startBulk();
  t.teardown(() => bulk.close());
  const { port, proxy, log } = await setupProxy(t, routeConfig([{ match: { prefix: '/' }, route: { cluster: 'bulk' } }]), [staticCluster('bulk', [bulk.port])]);
  await new Promise<void>((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/bytes/' + SIZE, agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => undefined);
    req.end();
  });
  await log.waitFor(1);
  t.match(log.lines[0], /" 200 DC /);
  t.equal(proxy.inflight, 0);
  const small = await new Promise<number>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/bytes/1000', agent: false }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
    })
      .on('error', reject)
      .end();
  });
  t.equal(small, 1000, 'still serving');
});
