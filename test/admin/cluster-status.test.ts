// /clusters data merged over --concurrency workers: each cluster and endpoint once, in the order
// first seen; counters and gauges summed; health the worst reported; configuration taken as is.
// Rendered in Envoy's text and JSON shapes.
import t from 'tap';
import { clustersJson, clustersText, mergeClusterStatuses, type ClusterStatus, type HostStatus } from '../../src/admin/cluster-status';

const CB = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };
function host(key: string, p: Partial<HostStatus> = {}): HostStatus {
  const [address, port] = key.split(':');
  return { key, address: address!, port: Number(port), hostname: address!, weight: 1, priority: 0, healthy: true, locality: null, cxActive: 0, rqActive: 0, rqTotal: 0, rqError: 0, rqSuccess: 0, rqTimeout: 0, ...p };
}

t.test('merge sums per endpoint and keeps each once', async (t) => {
  const w1: ClusterStatus[] = [
    { name: 'a', circuitBreakers: CB, hosts: [host('10.0.0.1:80', { rqTotal: 5, rqSuccess: 4, rqError: 1, cxActive: 2, rqActive: 1 }), host('10.0.0.2:80', { rqTotal: 1, rqSuccess: 1 })] },
    { name: 'b', circuitBreakers: CB, hosts: [host('10.0.1.1:80', { rqTotal: 3, rqSuccess: 3, rqTimeout: 1 })] },
  ];
  const w2: ClusterStatus[] = [
    { name: 'b', circuitBreakers: CB, hosts: [host('10.0.1.1:80', { rqTotal: 2, rqSuccess: 1, rqError: 1, rqTimeout: 1 })] },
    { name: 'a', circuitBreakers: CB, hosts: [host('10.0.0.1:80', { rqTotal: 7, rqSuccess: 7, cxActive: 1 }), host('10.0.0.2:80', { healthy: false })] },
  ];
  const before = JSON.stringify(w1);
  const m = mergeClusterStatuses([w1, w2]);
  t.equal(JSON.stringify(w1), before, 'inputs untouched');
  t.same(m.map((c) => c.name), ['a', 'b']);
  t.same(m[0]!.hosts.map((h) => h.key), ['10.0.0.1:80', '10.0.0.2:80']);
  t.match(m[0]!.hosts[0], { rqTotal: 12, rqSuccess: 11, rqError: 1, cxActive: 3, rqActive: 1, healthy: true });
  t.match(m[0]!.hosts[1], { rqTotal: 1, healthy: false }, 'unhealthy in one worker: unhealthy');
  t.match(m[1]!.hosts[0], { rqTotal: 5, rqSuccess: 4, rqError: 1, rqTimeout: 2 });
  t.same(mergeClusterStatuses([]), []);

  const text = clustersText(m, (n) => n === 'b');
  t.match(text, 'a::10.0.0.1:80::rq_total::12\n');
  t.match(text, 'a::10.0.0.2:80::health_flags::/failed_eds_health\n');
  t.match(text, 'b::added_via_api::true\n');
  t.match(text, 'a::default_priority::max_retries::3\n');
  const json = clustersJson(m, () => false) as { cluster_statuses: { name: string; host_statuses: { stats: { name: string; value: string }[]; health_status: object }[] }[] };
  t.equal(json.cluster_statuses[0]!.host_statuses[0]!.stats.find((s) => s.name === 'rq_total')!.value, '12');
  t.same(json.cluster_statuses[0]!.host_statuses[1]!.health_status, { eds_health_status: 'UNHEALTHY' });
});
