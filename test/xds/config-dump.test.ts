// /config_dump of xDS state: Envoy's admin.v3 shapes (checked by encoding with the ConfigDump
// proto), active vs warming versions, error_state from a NACK, client_status.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { TYPE_URL, type Resource, type ResourceSet } from '../../src/config/resources';
import { AdsClient } from '../../src/xds/ads-client';
import { xdsConfigDump } from '../../src/xds/config-dump';
import { decodeMessage, encodeResource } from '../../src/xds/resource-codec';
import { loadProtos } from '../../src/xds/protos';
import { FakeAdsServer } from '../helpers/fake-ads-server';

const hcm = (route: string): Resource => ({
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: {
    '@type': TYPE_URL.HTTP_CONNECTION_MANAGER,
    stat_prefix: 'x',
    rds: { route_config_name: route, config_source: { ads: {} } },
    http_filters: [
      { name: 'istio.stats', typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct' } },
      { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } },
    ],
  },
});
const listener = (name: string, route: string): Resource => ({ name, address: { socket_address: { address: '127.0.0.1', port_value: 1 } }, filter_chains: [{ filters: [hcm(route)] }] });
const route = (name: string, w: number): Resource => ({
  name,
  virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'c', weight: w }] } } }] }],
});

t.test('config dump of a client with a serving, a warming and a rejected resource', async (t) => {
  const server = await FakeAdsServer.start();
  t.teardown(() => server.close());
  server.setResources(TYPE_URL.CLUSTER, [{ name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }]);
  server.setResources(TYPE_URL.CLUSTER_LOAD_ASSIGNMENT, [{ cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9 } } } }] }] }]);
  server.setResources(TYPE_URL.LISTENER, [listener('l1', 'r1')]);
  server.setResources(TYPE_URL.ROUTE_CONFIGURATION, [route('r1', 1)]);
  const ev = new EventEmitter();
  const client = new AdsClient({
    target: server.target,
    node: { id: 'n', cluster: 'c' },
    apiType: 'GRPC',
    validate: (set: ResourceSet) =>
      set.routeConfigurations.some((r) => JSON.stringify(r).includes('"weight":0')) ? ['route_configurations["r1"].virtual_hosts[0].routes[0].route.weighted_clusters: sum of weights is 0'] : [],
    apply: (s) => void ev.emit('apply', s),
    backoff: { baseMs: 40, maxMs: 200 },
  });
  t.teardown(() => client.stop());
  const first = new Promise((r) => ev.once('apply', r));
  client.start();
  await first;
  // l2 waits for r2 (never sent): warming. r1 update with weight 0: NACKed.
  let from = server.requests.length;
  server.upsert(TYPE_URL.LISTENER, [listener('l2', 'r2')]);
  await server.waitForRequest((r) => r.type_url === TYPE_URL.ROUTE_CONFIGURATION && r.resource_names.includes('r2'), { from });
  from = server.responses.length;
  server.setResources(TYPE_URL.ROUTE_CONFIGURATION, [route('r1', 0)]);
  const bad = await server.waitForResponse((r) => r.type_url === TYPE_URL.ROUTE_CONFIGURATION, { from });
  await server.waitForReply(bad.nonce);

  const dump = xdsConfigDump(client.state(), { bootstrap: { node: { id: 'n', cluster: 'c' } }, loadedAt: new Date(0), staticSet: { listeners: [], routeConfigurations: [], clusters: [{ name: 'xds-grpc', type: 'STATIC' }], clusterLoadAssignments: [], versionInfo: '' } });
  const byType = (s: string): any => dump.configs.find((c) => c['@type'] === `type.googleapis.com/envoy.admin.v3.${s}`); // eslint-disable-line @typescript-eslint/no-explicit-any
  t.same(dump.configs.map((c) => String(c['@type']).split('.').pop()), ['BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'RoutesConfigDump', 'EndpointsConfigDump']);
  const ls = byType('ListenersConfigDump');
  t.equal(ls.dynamic_listeners[0].name, 'l1');
  t.ok(ls.dynamic_listeners[0].active_state.listener, 'l1 serves');
  t.equal(ls.dynamic_listeners[0].client_status, 'ACKED');
  t.equal(ls.dynamic_listeners[1].name, 'l2');
  t.notOk(ls.dynamic_listeners[1].active_state, 'l2 is not serving');
  t.ok(ls.dynamic_listeners[1].warming_state.listener, 'l2 warming');
  t.same(ls.dynamic_listeners[0].active_state.listener.filter_chains[0].filters[0].typed_config.http_filters[0].typed_config, { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct' }, 'skipped extension visible as its @type');
  const rs = byType('RoutesConfigDump').dynamic_route_configs;
  t.equal(rs[0].route_config.name, 'r1');
  t.equal(rs[0].client_status, 'NACKED');
  t.match(rs[0].error_state.details, /sum of weights is 0/);
  t.equal(rs[0].error_state.version_info, bad.version_info);
  t.equal(rs[0].route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].weight, 1, 'the accepted version is what the dump shows');
  t.equal(rs[0].error_state.failed_configuration.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].weight, 0);
  t.same([rs[1].client_status, rs[1].route_config], ['REQUESTED', undefined], 'r2 asked for, not received');
  const cs = byType('ClustersConfigDump');
  t.equal(cs.static_clusters[0].cluster.name, 'xds-grpc');
  t.equal(cs.dynamic_active_clusters[0].cluster.name, 'c');

  // The dump is valid envoy.admin.v3.ConfigDump: it encodes with the proto and decodes to itself.
  const url = 'type.googleapis.com/envoy.admin.v3.ConfigDump';
  const wire = encodeResource(url, dump);
  const back = decodeMessage('envoy.admin.v3.ConfigDump', loadProtos().deserialize('envoy.admin.v3.ConfigDump', Buffer.from(wire.value)));
  t.strictSame(back, JSON.parse(JSON.stringify(dump)));
});
