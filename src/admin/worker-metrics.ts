// --concurrency N: every worker keeps its own metrics; the primary's admin endpoint asks each
// worker for its registry's JSON over the node:cluster IPC channel and merges them with
// prom-client's AggregatorRegistry.aggregate (each family's aggregator: counters and histograms
// sum, config gauges take the max). weir's own message types, so prom-client's listeners (which
// weir does not install) and serve.ts's drain messages are not confused with them.

import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricJson } from './metric-family';

const REQUEST = 'weir:metrics-request';
const RESPONSE = 'weir:metrics-response';

interface Request {
  weir: typeof REQUEST;
  id: number;
}
interface Response {
  weir: typeof RESPONSE;
  id: number;
  metrics: MetricJson[];
}

/** In a worker: answer the primary's metric requests from `registry`. Returns a detach function. */
export function serveWorkerMetrics(registry: Registry): () => void {
  const onMessage = (m: Request): void => {
    if (m === null || typeof m !== 'object' || m.weir !== REQUEST) return;
    void registry.getMetricsAsJSON().then((metrics) => {
      process.send?.({ weir: RESPONSE, id: m.id, metrics: metrics as unknown as MetricJson[] } satisfies Response);
    });
  };
  process.on('message', onMessage);
  return () => void process.off('message', onMessage);
}

let nextId = 1;

/** In the primary: every connected worker's metrics, merged. Workers that do not answer in time are left out. */
export function collectWorkerMetrics(timeoutMs = 2000): Promise<{ registry: Registry; workers: number }> {
  const id = nextId++;
  const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined && w.isConnected());
  return new Promise((resolve) => {
    const got: MetricJson[][] = [];
    let pending = workers.length;
    const finish = (): void => {
      clearTimeout(timer);
      cluster.off('message', onMessage);
      resolve({ registry: AggregatorRegistry.aggregate(got as never) as Registry, workers: got.length });
    };
    const onMessage = (_w: unknown, m: Response): void => {
      if (m === null || typeof m !== 'object' || m.weir !== RESPONSE || m.id !== id) return;
      got.push(m.metrics);
      if (--pending === 0) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    cluster.on('message', onMessage);
    if (pending === 0) finish();
    for (const w of workers) w!.send({ weir: REQUEST, id } satisfies Request);
  });
}
