import t from 'tap';
import { compileCluster } from '../../src/upstream/cluster-config';

const ep = (address: string, port: number, extra: object = {}) => ({ endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra });

const cases: { name: string; input: object; cla?: [string, object]; error?: RegExp; check?: (v: any) => void }[] = [
  {
    name: 'STATIC with weights, metadata, locality and priority',
    input: {
      name: 'c', connect_timeout: '0.25s', lb_policy: 'RING_HASH',
      load_assignment: { cluster_name: 'c', endpoints: [
        { locality: { zone: 'z1' }, priority: 1, lb_endpoints: [ep('127.0.0.1', 80, { load_balancing_weight: 3, metadata: { filter_metadata: { istio: { version: 'v2' } } } })] },
      ] },
      circuit_breakers: { thresholds: [{ max_requests: 5, max_retries: 1 }] },
    },
    check: (v) => {
      t.equal(v.connectTimeoutMs, 250);
      t.equal(v.lbPolicy, 'RING_HASH');
      t.equal(v.endpoints[0].weight, 3);
      t.equal(v.endpoints[0].priority, 1);
      t.equal(v.endpoints[0].locality.zone, 'z1');
      t.same(v.endpoints[0].metadata, { filter_metadata: { istio: { version: 'v2' } } });
      t.equal(v.circuitBreakers.maxRequests, 5);
      t.equal(v.circuitBreakers.maxRetries, 1);
      t.equal(v.circuitBreakers.maxConnections, 1024);
    },
  },
  { name: 'lowerCamelCase fields', input: { name: 'c', connectTimeout: '1s', lbPolicy: 'MAGLEV', loadAssignment: { endpoints: [{ lbEndpoints: [ep('127.0.0.1', 81)] }] } }, check: (v) => t.equal(v.lbPolicy, 'MAGLEV') },
  { name: 'STATIC needs IPs', input: { name: 'c', load_assignment: { endpoints: [{ lb_endpoints: [ep('example.com', 80)] }] } }, error: /load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.address: "example\.com" is not an IP/ },
  { name: 'STRICT_DNS accepts names', input: { name: 'c', type: 'STRICT_DNS', load_assignment: { endpoints: [{ lb_endpoints: [ep('localhost', 80)] }] } }, check: (v) => t.equal(v.endpoints[0].address, 'localhost') },
  { name: 'LOGICAL_DNS takes one endpoint', input: { name: 'c', type: 'LOGICAL_DNS', load_assignment: { endpoints: [{ lb_endpoints: [ep('a', 1), ep('b', 2)] }] } }, error: /exactly one endpoint/ },
  { name: 'unknown lb_policy', input: { name: 'c', lb_policy: 'CLUSTER_PROVIDED' }, error: /^lb_policy: CLUSTER_PROVIDED is not supported/ },
  { name: 'bad duration', input: { name: 'c', connect_timeout: 'soon' }, error: /^connect_timeout: invalid duration/ },
  { name: 'port out of range', input: { name: 'c', load_assignment: { endpoints: [{ lb_endpoints: [ep('127.0.0.1', 70000)] }] } }, error: /port_value/ },
  { name: 'EDS from the assignment named by service_name', input: { name: 'c', type: 'EDS', eds_cluster_config: { service_name: 'svc' } }, cla: ['svc', { cluster_name: 'svc', endpoints: [{ lb_endpoints: [ep('127.0.0.2', 90)] }] }], check: (v) => { t.equal(v.endpoints[0].address, '127.0.0.2'); t.equal(v.warming, false); } },
  { name: 'EDS without assignment is warming', input: { name: 'c', type: 'EDS' }, check: (v) => { t.equal(v.warming, true); t.equal(v.endpoints.length, 0); } },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const warnings: string[] = [];
    const r = compileCluster(c.input as never, new Map(c.cla ? [c.cla as [string, never]] : []), warnings);
    if (c.error) {
      t.ok(r.errors, 'rejected');
      t.match(r.errors?.join('\n') ?? '', c.error);
    } else {
      t.notOk(r.errors, JSON.stringify(r.errors));
      c.check?.(r.value);
    }
  });
}
