import t from 'tap';
import { AccessLogFormat, DEFAULT_ACCESS_LOG_FORMAT, type AccessLogEntry } from '../../src/proxy/access-log';
import { ResponseFlag, formatResponseFlags } from '../../src/proxy/response-flags';

const entry: AccessLogEntry = {
  startTime: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
  durationMs: 12.4,
  protocol: 'HTTP/1.1',
  status: 503,
  flags: ResponseFlag.UF | ResponseFlag.URX,
  details: 'upstream_reset_before_response_started{connection_failure}',
  bytesReceived: 0,
  bytesSent: 91,
  upstreamHost: '127.0.0.1:9',
  upstreamCluster: 'v1',
  upstreamServiceTimeMs: -1,
  routeName: 'r1',
  downstreamRemoteAddress: '127.0.0.1:5555',
  downstreamLocalAddress: '127.0.0.1:10000',
  requestHeader: (n) => ({ ':method': 'GET', ':path': '/a?b', ':authority': 'host', 'user-agent': 'curl/8', 'x-request-id': 'rid' } as Record<string, string>)[n],
  responseHeader: (n) => (n === 'x-envoy-upstream-service-time' ? undefined : undefined),
};

t.test("Envoy's default format", async (t) => {
  const line = AccessLogFormat.text(DEFAULT_ACCESS_LOG_FORMAT, [], 'x').format(entry);
  t.equal(line, '[2024-01-02T03:04:05.678Z] "GET /a?b HTTP/1.1" 503 UF,URX 0 91 12 - "-" "curl/8" "rid" "host" "127.0.0.1:9"\n');
});

t.test('custom text format with truncation, alternatives and unknown commands', async (t) => {
  const warnings: string[] = [];
  const f = AccessLogFormat.text('%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %REQ(USER-AGENT):3% %UPSTREAM_CLUSTER% %ROUTE_NAME% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %NOPE%', warnings, 'p');
  t.equal(f.format(entry), '/a?b cur v1 r1 127.0.0.1 -');
  t.match(warnings[0], /%NOPE% is not supported/);
});

t.test('json_format keeps numbers numeric', async (t) => {
  const f = AccessLogFormat.json({ code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', path: '%REQ(:PATH)%', both: '%RESPONSE_CODE%-%BYTES_SENT%' }, [], 'p');
  t.same(JSON.parse(f.format(entry)), { code: 503, flags: 'UF,URX', path: '/a?b', both: '503-91' });
});

t.test('response flags print in Envoy order', async (t) => {
  t.equal(formatResponseFlags(0), '-');
  t.equal(formatResponseFlags(ResponseFlag.NC), 'NC');
  t.equal(formatResponseFlags(ResponseFlag.URX | ResponseFlag.UH | ResponseFlag.DC), 'UH,DC,URX');
});
