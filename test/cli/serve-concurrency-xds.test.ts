// --concurrency 2 with xDS through the built CLI: only the workers hold ADS streams, so the
// primary's admin shows what they got: /ready INITIALIZING until every worker has its first
// configuration, /listeners the LDS listener's bound port, /clusters the EDS endpoint's counters
// summed, /config_dump the ADS resources, /explain (with --enable-explain) answered by a worker.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startCli, tempDir } from '../helpers/cli-process';
import { startHeldUpstream } from '../helpers/held-upstream';
import { FakeAdsServer } from '../helpers/fake-ads-server';
import { writeAdsBootstrap } from '../helpers/static-bootstrap';
import { C, cla, E, edsCluster, L, R, rdsListener, routeConfig, weightedRoute } from '../xds/e2e-harness';
import { get } from '../proxy/fixtures';

const tmp = tempDir(t, 'weir-conc-xds-');

t.test('--concurrency 2 with xDS: the primary shows what the workers got over ADS', async (t) => {
  const up = await startHeldUpstream(t);
  const ads = await FakeAdsServer.start();
  t.teardown(() => ads.close());
  const file = writeAdsBootstrap(tmp, ads.port);
  const weir = startCli(t, ['-c', file, '--concurrency', '2', '--drain-time-s', '1', '--enable-explain']);
  const admin = await weir.adminPort();
  await weir.waitFor(/all 2 workers serving/);
  // Envoy's /ready: INITIALIZING until the first xDS configuration is in, in every worker.
  t.same(await get(admin, '/ready').then((r) => [r.status, r.body]), [503, 'INITIALIZING\n'], 'no configuration yet');
  ads.setResources(C, [edsCluster('v1')]);
  ads.setResources(E, [cla('v1', up.port)]);
  ads.setResources(L, [rdsListener('from-lds', 'r')]);
  ads.setResources(R, [routeConfig('r', [weightedRoute({ v1: 100 })], 'first')]);
  await weir.waitFor(/all 2 workers initialized/);
  t.same(await get(admin, '/ready').then((r) => [r.status, r.body]), [200, 'LIVE\n']);
  const lines = await weir.waitFor(/\[(\d+)\]\[info\]\[main\] listener from-lds listening on 127\.0\.0\.1:(\d+)/, 2);
  const port = Number(lines[0]![2]);
  t.equal(lines[1]![2], lines[0]![2], 'both workers share the LDS listener\'s one port');
  for (let i = 0; i < 4; i++) t.equal((await get(port, '/')).status, 200);

  // The LDS listener exists only in the workers: /listeners names its bound port.
  t.equal((await get(admin, '/listeners')).body, `from-lds::127.0.0.1:${port}\n`);
  // The EDS cluster and its endpoint, with all four requests.
  const clusters = (await get(admin, '/clusters')).body;
  t.match(clusters, `v1::127.0.0.1:${up.port}::rq_total::4\n`);
  t.match(clusters, 'v1::added_via_api::true\n');
  // config_dump from a worker: the ADS resources, not just the bootstrap.
  const dump = JSON.parse((await get(admin, '/config_dump')).body);
  const ls = dump.configs.find((c: Record<string, string>) => c['@type']!.endsWith('ListenersConfigDump'));
  t.same(ls.dynamic_listeners.map((l: { name: string }) => l.name), ['from-lds']);
  const eds = JSON.parse((await get(admin, '/config_dump?include_eds')).body);
  t.ok(eds.configs.some((c: Record<string, string>) => c['@type']!.endsWith('EndpointsConfigDump')), '?include_eds reaches the worker');
  t.equal((await get(admin, '/config_dump?resource=nope')).status, 404);
  // explain, answered by a worker on the snapshot it serves.
  const x = JSON.parse((await get(admin, '/explain?authority=anything&path=/a')).body);
  t.equal(x.cluster, 'v1');
  t.equal(x.listener.name, 'from-lds');
  t.match((await get(admin, '/explain?authority=anything&path=/a&format=text')).body, /cluster: v1/);
  t.equal((await get(admin, '/explain?authority=a&listener=nope')).status, 400, "a worker's error comes back with its status");

  weir.proc.kill('SIGTERM');
  t.equal((await weir.exited).code, 0);
});
