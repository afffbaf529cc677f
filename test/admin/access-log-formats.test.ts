// Envoy access log formats beyond the default: %START_TIME(<strftime>)%, %REQ(X?Y):N%, durations,
// %UPSTREAM_TRANSPORT_FAILURE_REASON%, nested json_format with typed values; and a file access
// logger from the HCM's access_log config writing a failed request through the proxy.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createServer } from 'node:http';
import { AccessLogFormat, type AccessLogEntry } from '../../src/proxy/access-log';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { get, listener, resources, staticCluster } from '../proxy/fixtures';

function entry(p: Partial<AccessLogEntry> & { req?: Record<string, string>; resp?: Record<string, string> } = {}): AccessLogEntry {
  const req = p.req ?? {};
  const resp = p.resp ?? {};
  return {
    startTime: Date.UTC(2024, 1, 29, 13, 4, 5, 67),
    durationMs: 12.4,
    protocol: 'HTTP/1.1',
    status: 200,
    flags: 0,
    details: 'via_upstream',
    bytesReceived: 0,
    bytesSent: 42,
    upstreamHost: '127.0.0.1:9081',
    upstreamCluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
    upstreamServiceTimeMs: 7,
    routeName: 'split',
    downstreamRemoteAddress: '127.0.0.1:50000',
    downstreamLocalAddress: '127.0.0.1:10000',
    startHr: 1000,
    attemptStart: 1001,
    hasBody: false,
    requestHeader: (n) => req[n],
    responseHeader: (n) => resp[n],
    ...p,
  };
}

t.test('START_TIME with strftime formats', async (t) => {
  const w: string[] = [];
  const f = (s: string): string => AccessLogFormat.text(s, w, 'x').format(entry());
  t.equal(f('%START_TIME%'), '2024-02-29T13:04:05.067Z');
  t.equal(f('%START_TIME(%Y/%m/%dT%H:%M:%S%z)%'), '2024/02/29T13:04:05+0000');
  t.equal(f('%START_TIME(%s.%3f)%'), '1709211845.067');
  t.equal(f('%START_TIME(%F %T.%6f)%'), '2024-02-29 13:04:05.067000');
  t.equal(f('%START_TIME(%j %a %b %%)%'), '060 Thu Feb %');
  t.same(w, []);
});

t.test('headers, durations, flags, failure reason', async (t) => {
  const w: string[] = [];
  const fmt = AccessLogFormat.text(
    '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %REQ(USER-AGENT):4% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% %DURATION% %REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION% %UPSTREAM_TRANSPORT_FAILURE_REASON% %ROUTE_NAME% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%',
    w,
    'x',
  );
  t.equal(fmt.format(entry({ req: { ':path': '/a', 'user-agent': 'curl/8.0' }, resp: { 'x-envoy-upstream-service-time': '7' } })), '/a curl 7 12 0 8 4 - split 127.0.0.1');
  const failed = entry({
    status: 503,
    flags: 1 << 5,
    upstreamServiceTimeMs: -1,
    hasBody: true,
    lastReason: 'remote connection failure, transport failure reason: delayed connect error: Connection refused',
  });
  t.equal(fmt.format(failed), '- - - 12 - - - delayed connect error: Connection refused split 127.0.0.1');
  t.same(w, []);
});

t.test('json_format: typed values, nesting, literals', async (t) => {
  const w: string[] = [];
  const fmt = AccessLogFormat.json(
    { start: '%START_TIME(%s)%', code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', upstream: { cluster: '%UPSTREAM_CLUSTER%', host: '%UPSTREAM_HOST%' }, path: 'GET %REQ(:PATH)%', v: 1, missing: '%REQ(X-NOPE)%' },
    w,
    'x',
  );
  const line = fmt.format(entry({ req: { ':path': '/p' } }));
  t.ok(line.endsWith('\n'));
  t.same(JSON.parse(line), {
    start: 1709211845,
    code: 200,
    flags: null,
    upstream: { cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local', host: '127.0.0.1:9081' },
    path: 'GET /p',
    v: 1,
    missing: '-',
  });
});

t.test('file access log from the HCM config, through the proxy', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-al-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'access.log');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const dead = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  const proxy = new ProxyServer();
  t.teardown(() => proxy.close());
  const r = await proxy.apply(
    resources(
      [
        listener('l', { name: 'rc', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ name: 'r0', match: { prefix: '/' }, route: { cluster: 'dead' } }] }] }, {
          access_log: [
            {
              name: 'envoy.access_loggers.file',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
                path: file,
                log_format: { json_format: { code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%', route: '%ROUTE_NAME%', day: '%START_TIME(%Y-%m-%d)%' } },
              },
            },
          ],
        }),
      ],
      [staticCluster('dead', [dead])],
    ),
  );
  t.same(r.errors, []);
  // The file stream writes asynchronously: wait for the directory's change events (bounded).
  const read = (): string => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  const watcher = fs.watch(dir);
  let checkNow = (): void => undefined;
  t.teardown(() => watcher.close());
  const written = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no access log line within 5 s')), 5000);
    const check = (): void => {
      const text = read();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text);
      }
    };
    watcher.on('change', check);
    checkNow = check;
  });
  t.equal((await get(proxy.listeners()[0]!.port, '/x')).status, 503);
  checkNow();
  const text = await written;
  const line = JSON.parse(text.split('\n')[0]!);
  t.match(line, { code: 503, flags: 'UF', route: 'r0', reason: /connect error/ });
  t.match(line.day, /^\d{4}-\d{2}-\d{2}$/);
});
