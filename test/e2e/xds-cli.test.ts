// The real CLI fed by a control plane: `node dist/src/cli/main.js -c <bootstrap with dynamic_resources>`
// as a child process, the fake ADS server and the upstreams in this process. weir receives LDS, RDS,
// CDS and EDS, opens the listener LDS describes, serves a request, follows a push, logs its
// ACKs, and on SIGTERM stops the ADS stream and drains.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startVersionedEach, type TestUpstream } from '../helpers/upstream-servers';
import { FakeAdsServer } from '../helpers/fake-ads-server';
import { get } from '../proxy/fixtures';
import { startCli, tempDir } from '../helpers/cli-process';
import { C, cla, E, edsCluster, L, R, rdsListener, routeConfig, weightedRoute, RDS_TAG } from '../xds/e2e-harness';

const tmp = tempDir(t, 'weir-xds-cli-');

let v1: TestUpstream;
let v2: TestUpstream;
t.before(async () => {
  [v1, v2] = await startVersionedEach(t, ['v1', 'v2']);
});

t.test('weir -c <dynamic_resources bootstrap>: LDS/RDS/CDS/EDS from the control plane, a request served, a push followed, SIGTERM', async (t) => {
  const server = await FakeAdsServer.start();
  t.teardown(() => server.close());
  server.setResources(C, [edsCluster('v1'), edsCluster('v2')]);
  server.setResources(E, [cla('v1', v1.port), cla('v2', v2.port)]);
  server.setResources(L, [rdsListener('from-lds', 'r')]);
  server.setResources(R, [routeConfig('r', [weightedRoute({ v1: 100, v2: 0 })], 'first')]);
  const file = path.join(tmp, 'bootstrap.yaml');
  fs.writeFileSync(
    file,
    `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
node:
  id: will-be-overridden
  cluster: weir.default
  metadata: { NAMESPACE: default, LABELS: { app: weir, version: v1 } }
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [{ envoy_grpc: { cluster_name: xds-grpc } }]
  lds_config: { ads: {}, resource_api_version: V3 }
  cds_config: { ads: {}, resource_api_version: V3 }
static_resources:
  clusters:
    - name: xds-grpc
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: xds-grpc
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${server.port} } } } }] }]
`,
  );
  const nodeId = 'sidecar~127.0.0.1~weir-cli.default~default.svc.cluster.local';
  const log = startCli(t, ['-c', file, '--service-node', nodeId, '--service-cluster', 'weir-cli.default', '--drain-time-s', '2']);
  const m = await log.nth(/listener from-lds listening on 127\.0\.0\.1:(\d+)/);
  const port = Number(m[1]);
  const first = server.requests[0]!;
  t.equal(first.node?.id, nodeId, '--service-node overrides node.id');
  t.equal(first.node?.cluster, 'weir-cli.default', '--service-cluster overrides node.cluster');
  t.same(first.node?.metadata, { NAMESPACE: 'default', LABELS: { app: 'weir', version: 'v1' } }, 'node metadata from the bootstrap');
  const r1 = await get(port, '/');
  t.equal(r1.status, 200);
  t.equal(r1.body, 'v1', 'routed by RDS to the EDS endpoint of cluster v1');
  t.equal(r1.headers[RDS_TAG], 'first');
  for (const type of [L, R, C, E]) t.ok(server.requests.some((r) => r.type_url === type && r.response_nonce && !r.error_detail), `${type.split('.').pop()} ACKed`);
  await log.nth(/\[xds\] xds: ACK RouteConfiguration version 1 \(nonce/);

  // A push is followed: all traffic to v2.
  const from = server.responses.length;
  const version = server.setResources(R, [routeConfig('r', [weightedRoute({ v1: 0, v2: 100 })], 'second')]);
  const sent = await server.waitForResponse((r) => r.type_url === R && r.version_info === version, { from });
  const ack = await server.waitForReply(sent.nonce);
  t.notOk(ack.error_detail, 'ACK');
  await log.nth(new RegExp(`ACK RouteConfiguration version ${version} `));
  // The ACK goes out before the swap: wait for the data path's own log of it.
  await log.nth(new RegExp(`snapshot applied .*rds=${version} `));
  const r2 = await get(port, '/');
  t.equal(r2.body, 'v2');
  t.equal(r2.headers[RDS_TAG], 'second');

  // An invalid push is NACKed and logged with the reason; the last good config keeps serving.
  const from2 = server.responses.length;
  const bad = server.setResources(R, [routeConfig('r', [weightedRoute({ v1: 0, v2: 0 })], 'bad')]);
  const sent2 = await server.waitForResponse((r) => r.type_url === R && r.version_info === bad, { from: from2 });
  const nack = await server.waitForReply(sent2.nonce);
  t.equal(nack.error_detail?.code, 13);
  t.equal(nack.version_info, version);
  await log.nth(/NACK RouteConfiguration version \d+ \(nonce \d+\), keeping version \d+: .*weighted_clusters/);
  t.equal((await get(port, '/')).headers[RDS_TAG], 'second');

  // The admin /config_dump shows the ADS state: the listener from LDS, the route config serving
  // version 2 with the rejected update as its error_state.
  const adminPort = Number((await log.nth(/admin address: 127\.0\.0\.1:(\d+)/))[1]);
  const dump = JSON.parse((await get(adminPort, '/config_dump')).body) as { configs: Record<string, any>[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
  const of = (s: string) => dump.configs.find((c) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${s}`)!;
  t.same(of('ListenersConfigDump').dynamic_listeners.map((l: { name: string }) => l.name), ['from-lds'], 'LDS listener, once');
  const rcs = of('RoutesConfigDump').dynamic_route_configs;
  t.equal(rcs.length, 1, 'one dynamic route config');
  t.equal(rcs[0].version_info, version, 'serving the last good version');
  t.match(rcs[0].error_state?.details, /sum of weights is 0/, 'the NACKed update as error_state');
  t.equal(rcs[0].client_status, 'NACKED');

  const streamsBefore = server.openStreams;
  t.equal(streamsBefore, 1);
  log.proc.kill('SIGTERM');
  t.equal((await log.exited).code, 0, 'exits 0 after SIGTERM');
  t.match(log.stderr(), /caught SIGTERM: draining/);
  t.notMatch(log.stderr(), /\[(error|critical)\]/, 'no error logged');
});
