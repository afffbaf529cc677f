// Through the real data path: a request the downstream server cannot parse (400 DPE), one with
// headers too large (431 DPE), and a WebSocket tunnel (101) reach the metrics bound by the
// ProxyServer's onSnapshot hook like any finished request: Envoy's HCM counters, Istio's
// istio_requests_total with destination_service="unknown" for the protocol errors, and the 101
// under the cluster that served the tunnel.
import t from 'tap';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ProxyServer, type CompletedStream } from '../../src/proxy/proxy-server';
import { Metrics } from '../../src/admin/metrics';
import { listener, resources, staticCluster } from '../proxy/fixtures';
import { startWebSocketEcho, wsFrame, wsParse } from '../helpers/upstream-servers';
import { parsePrometheus, sum } from './prom-text';

/** Resolves with the next finished stream the proxy reports (5 s bound). */
function nextStream(waiters: ((s: CompletedStream) => void)[]): Promise<CompletedStream> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no finished stream reported within 5 s')), 5000);
    waiters.push((s) => {
      clearTimeout(timer);
      resolve(s);
    });
  });
}

/** Writes `bytes` on a fresh connection and collects everything until the proxy closes it (5 s bound). */
function exchange(port: number, bytes: Buffer | string, until?: (data: string) => boolean): Promise<{ data: string; end: () => void }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => (s.destroy(), reject(new Error(`no answer within 5 s: ${JSON.stringify(data)}`))), 5000);
    const done = (): void => {
      clearTimeout(timer);
      resolve({ data, end: () => s.destroy() });
    };
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (until !== undefined && until(data)) done();
    });
    s.on('close', done);
    s.on('error', () => undefined);
    s.write(bytes);
  });
}

t.test('protocol errors and a WebSocket tunnel are counted', async (t) => {
  const ws = await startWebSocketEcho();
  t.teardown(() => ws.close());
  const metrics = new Metrics();
  const waiters: ((s: CompletedStream) => void)[] = [];
  const proxy = new ProxyServer({
    onSnapshot: (s, c) => metrics.bindSnapshot(s, c),
    onStreamComplete: (s) => waiters.shift()?.(s),
  });
  t.teardown(() => proxy.close());
  const rc = { name: 'rc', virtual_hosts: [{ name: 'chat', domains: ['*'], routes: [{ name: 'ws', match: { prefix: '/' }, route: { cluster: 'ws' } }] }] };
  const r = await proxy.apply(resources([listener('l', rc, { upgrade_configs: [{ upgrade_type: 'websocket' }] })], [staticCluster('ws', [ws.port])]));
  t.same(r.errors, []);
  const port = proxy.listeners()[0]!.port;

  let seen = nextStream(waiters);
  const bad = await exchange(port, 'GARBAGE\r\n\r\n');
  t.match(bad.data, /^HTTP\/1\.1 400 /);
  t.equal((await seen).status, 400);

  seen = nextStream(waiters);
  const big = await exchange(port, `GET / HTTP/1.1\r\nHost: chat\r\nx-big: ${'a'.repeat(100_000)}\r\n\r\n`);
  t.match(big.data, /^HTTP\/1\.1 431 /);
  t.equal((await seen).status, 431);

  seen = nextStream(waiters);
  const key = randomBytes(16).toString('base64');
  const upgrade = Buffer.concat([
    Buffer.from(`GET /echo HTTP/1.1\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    wsFrame('hi', randomBytes(4)),
  ]);
  const tunnel = await exchange(port, upgrade, (d) => d.includes('\r\n\r\n') && wsParse(Buffer.from(d.slice(d.indexOf('\r\n\r\n') + 4), 'latin1')) !== null);
  t.match(tunnel.data, /^HTTP\/1\.1 101 /);
  tunnel.end();
  t.equal((await seen).status, 101, 'reported when the tunnel ends');

  const { samples } = parsePrometheus(await metrics.text());
  const hcm = { envoy_http_conn_manager_prefix: 'ingress_http' };
  t.equal(sum(samples, 'envoy_http_downstream_rq_total', hcm), 3);
  t.equal(sum(samples, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '4' }), 2);
  t.equal(sum(samples, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '1' }), 1);
  t.equal(sum(samples, 'envoy_http_downstream_cx_upgrades_total', hcm), 1);
  t.equal(sum(samples, 'istio_requests_total', { response_code: '400', response_flags: 'DPE', destination_service: 'unknown', destination_workload: 'unknown' }), 1);
  t.equal(sum(samples, 'istio_requests_total', { response_code: '431', response_flags: 'DPE', destination_service: 'unknown' }), 1);
  t.equal(sum(samples, 'istio_requests_total', { response_code: '101', destination_service: 'ws' }), 1, 'the tunnel under its cluster');
  t.equal(sum(samples, 'envoy_cluster_upstream_rq', { envoy_cluster_name: 'ws', envoy_response_code: '101' }), 1);
  t.equal(sum(samples, 'envoy_cluster_upstream_rq_total'), 1, 'protocol errors charge no cluster');
  t.equal(metrics.hostCounters('ws', `127.0.0.1:${ws.port}`).rqTotal, 1);
});
