// Cluster runtime: STRICT_DNS / LOGICAL_DNS resolution, EDS endpoints, priorities, pool sharing.

import t from 'tap';
import { compileCluster } from '../../src/upstream/cluster-config';
import { Cluster } from '../../src/upstream/cluster';
import { PoolRegistry } from '../../src/upstream/pool-registry';
import { LbRandom } from '../../src/upstream/random';

const ep = (address: string, port: number, extra: object = {}) => ({ endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra });

function build(raw: object, cla: [string, object][] = []) {
  const r = compileCluster(raw as never, new Map(cla as never), []);
  if (r.errors) throw new Error(r.errors.join('\n'));
  return r.value;
}

t.test('STRICT_DNS resolves every address of a name; LOGICAL_DNS keeps the first', async (t) => {
  const reg = new PoolRegistry();
  t.teardown(() => reg.destroyAll());
  const strict = new Cluster(build({ name: 's', type: 'STRICT_DNS', dns_lookup_family: 'V4_ONLY', load_assignment: { endpoints: [{ lb_endpoints: [ep('localhost', 9999)] }] } }), reg, new LbRandom(1));
  await strict.start();
  t.teardown(() => strict.close());
  t.ok(strict.hosts.length >= 1);
  t.equal(strict.hosts[0]!.address, '127.0.0.1');
  t.equal(strict.hosts[0]!.hostname, 'localhost', 'auto_host_rewrite uses the configured name');
  t.equal(strict.chooseHost(0, false)?.key, '127.0.0.1:9999');
  const logical = new Cluster(build({ name: 'l', type: 'LOGICAL_DNS', load_assignment: { endpoints: [{ lb_endpoints: [ep('localhost', 9998)] }] } }), reg, new LbRandom(1));
  await logical.start();
  t.teardown(() => logical.close());
  t.equal(logical.hosts.length, 1);
});

t.test('EDS endpoints; priority 0 unless none healthy; pools shared across clusters and released', async (t) => {
  const reg = new PoolRegistry();
  t.teardown(() => reg.destroyAll());
  const cla = {
    cluster_name: 'svc',
    endpoints: [
      { priority: 0, lb_endpoints: [ep('127.0.0.1', 7001, { health_status: 'UNHEALTHY' })] },
      { priority: 1, lb_endpoints: [ep('127.0.0.1', 7002)] },
    ],
  };
  const a = new Cluster(build({ name: 'a', type: 'EDS', eds_cluster_config: { service_name: 'svc' } }, [['svc', cla]]), reg, new LbRandom(1));
  await a.start();
  t.equal(a.chooseHost(0, false)?.port, 7002, 'failover to priority 1');
  const b = new Cluster(build({ name: 'b', type: 'EDS', eds_cluster_config: { service_name: 'svc' } }, [['svc', cla]]), reg, new LbRandom(1));
  await b.start();
  t.equal(reg.size, 2, 'one pool per endpoint, shared by both clusters');
  a.close();
  t.equal(reg.size, 2, 'still referenced by b');
  b.close();
  t.equal(reg.size, 0, 'released');
});

t.test('locality_weighted_lb_config: localities drawn by weight', async (t) => {
  const reg = new PoolRegistry();
  t.teardown(() => reg.destroyAll());
  const raw = {
    name: 'lw',
    common_lb_config: { locality_weighted_lb_config: {} },
    load_assignment: {
      endpoints: [
        { locality: { zone: 'a' }, load_balancing_weight: 3, lb_endpoints: [ep('127.0.0.1', 7101), ep('127.0.0.1', 7102)] },
        { locality: { zone: 'b' }, load_balancing_weight: 1, lb_endpoints: [ep('127.0.0.1', 7103)] },
      ],
    },
  };
  const c = new Cluster(build(raw), reg, new LbRandom(5));
  await c.start();
  t.teardown(() => c.close());
  let b = 0;
  for (let i = 0; i < 8000; i++) if (c.chooseHost(0, false)!.port === 7103) b++;
  // p = 0.25 (locality b), n = 8000: sd ~ 39.
  t.ok(Math.abs(b - 2000) < 200, `locality b got ${b}`);
  const plain = new Cluster(build({ ...raw, name: 'plain', common_lb_config: undefined }), reg, new LbRandom(5));
  await plain.start();
  t.teardown(() => plain.close());
  let pb = 0;
  for (let i = 0; i < 3000; i++) if (plain.chooseHost(0, false)!.port === 7103) pb++;
  t.equal(pb, 1000, 'without the config, locality weights are ignored (round robin over hosts)');
});
