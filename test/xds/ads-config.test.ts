// dynamic_resources -> ADS client settings, and the example istiod bootstrap.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { adsConfigFromBootstrap } from '../../src/xds/ads-config';
import { reconnectDelayMs } from '../../src/xds/ads-client';

const xdsCluster = (address: object) => ({
  name: 'xds-grpc',
  type: 'STATIC',
  load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address } }] }] },
});
const ADS = { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] };
const TCP = xdsCluster({ socket_address: { address: '127.0.0.1', port_value: 15010 } });

const CASES: { name: string; dyn: unknown; clusters?: object[]; output?: object | null; error?: RegExp }[] = [
  { name: 'no dynamic_resources', dyn: undefined, output: null },
  {
    name: 'TCP, SotW, default timeout',
    dyn: { ads_config: ADS, lds_config: { ads: {} }, cds_config: { ads: {}, resource_api_version: 'V3' } },
    output: { target: '127.0.0.1:15010', apiType: 'GRPC', clusterName: 'xds-grpc', initialFetchTimeoutMs: 15000, lds: true, cds: true },
  },
  {
    name: 'Delta, initial_fetch_timeout, IPv6',
    dyn: { adsConfig: { ...ADS, api_type: 'DELTA_GRPC' }, cdsConfig: { ads: {}, initialFetchTimeout: '2.5s' } },
    clusters: [xdsCluster({ socket_address: { address: '::1', port_value: 15010 } })],
    output: { target: '[::1]:15010', apiType: 'DELTA_GRPC', clusterName: 'xds-grpc', initialFetchTimeoutMs: 2500, lds: false, cds: true },
  },
  {
    name: 'unix socket pipe (relative, as istio-agent)',
    dyn: { ads_config: ADS, lds_config: { ads: {} } },
    clusters: [xdsCluster({ pipe: { path: './etc/istio/proxy/XDS' } })],
    output: { target: 'unix:./etc/istio/proxy/XDS', apiType: 'GRPC', clusterName: 'xds-grpc', initialFetchTimeoutMs: 15000, lds: true, cds: false },
  },
  {
    name: 'unix socket pipe (absolute)',
    dyn: { ads_config: ADS },
    clusters: [xdsCluster({ pipe: { path: '/var/run/xds.sock' } })],
    output: { target: 'unix:///var/run/xds.sock', apiType: 'GRPC', clusterName: 'xds-grpc', initialFetchTimeoutMs: 15000, lds: false, cds: false },
  },
  { name: 'REST api_type', dyn: { ads_config: { ...ADS, api_type: 'REST' } }, error: /ads_config\.api_type: must be GRPC or DELTA_GRPC/ },
  { name: 'V2 transport', dyn: { ads_config: { ...ADS, transport_api_version: 'V2' } }, error: /transport_api_version: only V3/ },
  { name: 'google_grpc', dyn: { ads_config: { ...ADS, grpc_services: [{ google_grpc: { target_uri: 'x' } }] } }, error: /google_grpc: not supported/ },
  { name: 'unknown cluster', dyn: { ads_config: ADS }, clusters: [], error: /cluster_name: no static cluster named "xds-grpc"/ },
  { name: 'lds over ads without ads_config', dyn: { lds_config: { ads: {} } }, error: /ads_config: required/ },
  { name: 'lds from a file', dyn: { ads_config: ADS, lds_config: { path: '/x' } }, error: /lds_config: only `ads: \{\}`/ },
  { name: 'bad timeout', dyn: { ads_config: ADS, cds_config: { ads: {}, initial_fetch_timeout: 'soon' } }, error: /cds_config\.initial_fetch_timeout: invalid duration/ },
  { name: 'bad port', dyn: { ads_config: ADS }, clusters: [xdsCluster({ socket_address: { address: 'h', port_value: 0 } })], error: /port_value must be 1\.\.65535/ },
];

t.test('adsConfigFromBootstrap', async (t) => {
  for (const c of CASES) {
    const r = adsConfigFromBootstrap(c.dyn, (c.clusters ?? [TCP]) as never);
    if (c.error) t.match(r.errors?.join('\n'), c.error, c.name);
    else t.strictSame(r.value, c.output, c.name);
  }
});

t.test('config/istiod-bootstrap.yaml points at istiod:15010 with the node istiod needs', async (t) => {
  const root = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
  const doc = YAML.parse(fs.readFileSync(path.join(root, 'config/istiod-bootstrap.yaml'), 'utf8'));
  const r = adsConfigFromBootstrap(doc.dynamic_resources, doc.static_resources.clusters);
  t.strictSame(r.value, { target: 'istiod.istio-system.svc:15010', apiType: 'GRPC', clusterName: 'xds-grpc', initialFetchTimeoutMs: 15000, lds: true, cds: true });
  t.match(doc.node.id, /^sidecar~[0-9.]+~[^.~]+\.[^~]+~[^~]+\.svc\.cluster\.local$/);
  for (const k of ['NAMESPACE', 'LABELS', 'ISTIO_VERSION', 'CLUSTER_ID']) t.ok(doc.node.metadata[k], `metadata ${k}`);
  t.equal(doc.node.id.split('~')[2].split('.')[1], doc.node.metadata.NAMESPACE, 'namespace in the id and in NAMESPACE agree');
});

t.test('reconnectDelayMs: exponential, capped, jittered within [ceiling/2, ceiling]', async (t) => {
  const b = { baseMs: 500, maxMs: 30_000 };
  t.equal(reconnectDelayMs(0, b, 0), 250);
  t.equal(reconnectDelayMs(0, b, 1), 500);
  t.equal(reconnectDelayMs(3, b, 1), 4000);
  t.equal(reconnectDelayMs(10, b, 1), 30_000);
  t.equal(reconnectDelayMs(1000, b, 0), 15_000);
});

t.test('AdsClient: a node with an unknown field is a constructor error (XdsError), not a crash on connect', async (t) => {
  const { AdsClient } = await import('../../src/xds/ads-client');
  t.throws(
    () => new AdsClient({ target: '127.0.0.1:1', node: { id: 'n', no_such: 1 }, apiType: 'GRPC', validate: () => [], apply: () => {} }),
    { code: 'WEIR_ERR_XDS', message: /node: no_such: unknown field/ },
  );
});
