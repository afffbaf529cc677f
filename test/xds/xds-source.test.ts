// Static and dynamic resources mixed as in Envoy: a bootstrap with static_resources and ADS.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { TYPE_URL, type Resource, type ResourceSet } from '../../src/config/resources';
import { adsClientFromBootstrap, mergeResourceSets, xdsNode } from '../../src/xds/xds-source';
import { FakeAdsServer } from '../helpers/fake-ads-server';

const empty: ResourceSet = { listeners: [], routeConfigurations: [], clusters: [], clusterLoadAssignments: [], versionInfo: 'static' };
const staticCluster = (name: string, port: number): Resource => ({
  name,
  type: 'STATIC',
  connect_timeout: '1s',
  load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] },
});

t.test('mergeResourceSets: static first, static wins a name clash', async (t) => {
  const m = mergeResourceSets(
    { ...empty, clusters: [staticCluster('a', 1)] },
    { ...empty, clusters: [{ name: 'a', type: 'EDS' }, { name: 'b', type: 'EDS' }], versionInfo: 'xds 1' },
  );
  t.same(m.set.clusters.map((c) => [c.name, c.type]), [['a', 'STATIC'], ['b', 'EDS']]);
  t.match(m.shadowed, [/cluster "a": a static cluster has this name/]);
  t.equal(m.set.versionInfo, 'xds 1');
});

t.test('xdsNode: bootstrap node as envoy.config.core.v3.Node', async (t) => {
  t.same(xdsNode({ id: 'i', cluster: 'c', metadata: {}, locality: null }), { id: 'i', cluster: 'c', user_agent_name: 'weir' });
  t.same(xdsNode({ id: 'i', cluster: 'c', metadata: { A: 1 }, locality: { region: 'r', zone: '', sub_zone: '' } }), {
    id: 'i', cluster: 'c', user_agent_name: 'weir', metadata: { A: 1 }, locality: { region: 'r' },
  });
});

t.test('adsClientFromBootstrap: a dynamic route using a static cluster; compile and apply see both', async (t) => {
  const server = await FakeAdsServer.start();
  t.teardown(() => server.close());
  t.same(adsClientFromBootstrap({ bootstrap: { resources: empty, node: { id: 'n', cluster: 'c' }, dynamicResources: null }, compile: () => [], apply: () => {} }).value, null);
  const bad = adsClientFromBootstrap({ bootstrap: { resources: empty, node: { id: 'n', cluster: 'c' }, dynamicResources: { ads_config: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'xds' } }] } } }, compile: () => [], apply: () => {} });
  t.match(bad.errors, [/no static cluster named "xds"/]);

  server.setResources(TYPE_URL.CLUSTER, []);
  server.setResources(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, []);
  server.setResources(TYPE_URL.LISTENER, [
    {
      name: 'l',
      address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
      filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': TYPE_URL.HTTP_CONNECTION_MANAGER, stat_prefix: 'l', rds: { route_config_name: 'r', config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } }] } }] }],
    },
  ]);
  server.setResources(TYPE_URL.ROUTE_CONFIGURATION, [{ name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }] }]);
  const staticSet: ResourceSet = { ...empty, clusters: [staticCluster('xds-grpc', server.port), staticCluster('backend', 9)] };
  const compiled: ResourceSet[] = [];
  const ev = new EventEmitter();
  const r = adsClientFromBootstrap({
    bootstrap: {
      resources: staticSet,
      node: { id: 'sidecar~1.2.3.4~p.ns~ns.svc.cluster.local', cluster: 'c', metadata: { NAMESPACE: 'ns' }, locality: null },
      dynamicResources: {
        ads_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] },
        lds_config: { ads: {} },
        cds_config: { ads: {} },
      },
    },
    compile: (set) => {
      compiled.push(set);
      // The route's cluster must exist in the merged set (it is static).
      const clusters = new Set(set.clusters.map((c) => c.name));
      return clusters.has('backend') ? [] : ['route_configurations["r"]: unknown cluster backend'];
    },
    apply: (set) => {
      ev.emit('apply', set);
    },
    backoff: { baseMs: 40, maxMs: 200 },
  });
  const client = r.value!;
  t.teardown(() => client.stop());
  const applied = new Promise<ResourceSet>((resolve) => ev.once('apply', resolve));
  client.start();
  const set = await applied;
  t.same(set.clusters.map((c) => c.name), ['xds-grpc', 'backend']);
  t.same(set.listeners.map((l) => l.name), ['l']);
  t.same(set.routeConfigurations.map((x) => x.name), ['r']);
  t.ok(compiled.length > 0 && compiled.every((s) => s.clusters.some((c) => c.name === 'backend')), 'compile always saw the static clusters');
  const first = server.requests[0]!;
  t.equal(first.node?.id, 'sidecar~1.2.3.4~p.ns~ns.svc.cluster.local');
  t.equal(first.node?.user_agent_name, 'weir');
  t.same(first.node?.metadata, { NAMESPACE: 'ns' });
  t.notOk(server.requests.some((x) => x.error_detail), 'nothing NACKed');
});
