// --concurrency N: every worker keeps its own metrics and runtime clusters; the primary's admin
// endpoint asks each worker over the node:cluster IPC channel and merges the answers:
//   - metrics: the registry's JSON, merged with prom-client's AggregatorRegistry.aggregate (each
//     family's aggregator: counters and histograms sum, config gauges take the max);
//   - clusters: /clusters statuses (cluster-status.ts), each endpoint once, counters summed;
//   - listeners: the addresses the workers actually serve (node:cluster shares one socket, so a
//     port 0 listener is one ephemeral port, which only the workers' servers report);
//   - config_dump and explain: one worker's answer (each worker holds the configuration it serves,
//     with xDS its own ADS stream; the first to answer is used).
// weir's own message types, so prom-client's listeners (which weir does not install) and
// serve.ts's drain messages are not confused with them. Every question has a time bound: a worker
// that is busy, stopped or dies is left out of the answer (and counted as missing) rather than
// holding the admin request.

import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricJson } from './metric-family';
import type { ClusterStatus } from './cluster-status';
import type { Explanation, ExplainRequest } from './explain';

const REQUEST = 'weir:admin-request';
const RESPONSE = 'weir:admin-response';

export interface ListenerStatus {
  name: string;
  address: string;
  port: number;
}

/** What a worker answers, per question. */
export interface WorkerAnswers {
  metrics: MetricJson[];
  clusters: ClusterStatus[];
  listeners: ListenerStatus[];
  config_dump: { configs: object[] } | null;
  explain: { explanation: Explanation } | { error: string; status: number };
}
export type WorkerQuestion = keyof WorkerAnswers;

/** What a question carries, per kind. */
export interface WorkerArgs {
  metrics: undefined;
  clusters: undefined;
  listeners: undefined;
  config_dump: { includeEds: boolean };
  explain: { request: ExplainRequest; listener: string | null };
}

interface Request {
  weir: typeof REQUEST;
  id: number;
  kind: WorkerQuestion;
  arg?: unknown;
}
interface Response {
  weir: typeof RESPONSE;
  id: number;
  kind: WorkerQuestion;
  value: unknown;
}

/** Default bound for /clusters and /listeners (cheap to answer); metrics get METRICS_TIMEOUT_MS. */
export const WORKER_TIMEOUT_MS = 1000;
export const METRICS_TIMEOUT_MS = 2000;

/** What a worker offers the primary. Absent parts answer empty. */
export interface WorkerAdminSource {
  registry?: Registry | null;
  clusters?: () => ClusterStatus[];
  listeners?: () => ListenerStatus[];
  configDump?: (includeEds: boolean) => { configs: object[] };
  explain?: (request: ExplainRequest, listener: string | null) => WorkerAnswers['explain'];
}

/** In a worker: answer the primary's admin questions. Returns a detach function. */
export function serveWorkerAdmin(src: WorkerAdminSource): () => void {
  const reply = (m: Request, value: unknown): void => {
    // The primary may be gone (disconnect during a drain): nothing to answer.
    if (process.connected) process.send?.({ weir: RESPONSE, id: m.id, kind: m.kind, value } satisfies Response);
  };
  const onMessage = (m: Request): void => {
    if (m === null || typeof m !== 'object' || m.weir !== REQUEST) return;
    // An admin question must never take a serving worker down: a failure answers "nothing".
    try {
      answer(m);
    } catch (e) {
      try {
        reply(m, m.kind === 'explain' ? { error: `explain failed: ${(e as Error).message}`, status: 500 } : m.kind === 'config_dump' ? null : []);
      } catch {
        // The channel itself failed: the primary's time bound covers the missing answer.
      }
    }
  };
  const answer = (m: Request): void => {
    switch (m.kind) {
      case 'metrics':
        if (!src.registry) return reply(m, []);
        void src.registry.getMetricsAsJSON().then(
          (metrics) => reply(m, metrics),
          () => reply(m, []),
        );
        return;
      case 'clusters':
        return reply(m, src.clusters?.() ?? []);
      case 'listeners':
        return reply(m, src.listeners?.() ?? []);
      case 'config_dump': {
        const a = m.arg as WorkerArgs['config_dump'];
        return reply(m, src.configDump?.(a.includeEds === true) ?? null);
      }
      case 'explain': {
        const a = m.arg as WorkerArgs['explain'];
        return reply(m, src.explain?.(a.request, a.listener) ?? { error: 'this worker does not explain', status: 404 });
      }
    }
  };
  process.on('message', onMessage);
  return () => void process.off('message', onMessage);
}

/** In a worker: answer metric requests only (serveWorkerAdmin with a registry). */
export function serveWorkerMetrics(registry: Registry): () => void {
  return serveWorkerAdmin({ registry });
}

let nextId = 1;

/** A question in flight: the workers that have not answered yet. */
interface Pending {
  readonly waiting: Set<Worker>;
  readonly answers: unknown[];
  readonly finish: () => void;
  readonly first: boolean;
}
const pending = new Map<number, Pending>();
let listening = false;

/**
 * One 'message' and one 'exit' listener on node:cluster for every question (not one pair per
 * admin request: a dashboard polling while a worker is stopped would pile them up).
 */
function listen(): void {
  if (listening) return;
  listening = true;
  cluster.on('message', (w: Worker, m: Response) => {
    if (m === null || typeof m !== 'object' || m.weir !== RESPONSE) return;
    const p = pending.get(m.id);
    if (p === undefined || !p.waiting.delete(w)) return;
    p.answers.push(m.value);
    if (p.waiting.size === 0 || p.first) p.finish();
  });
  // A worker that dies before answering is not waited for.
  cluster.on('exit', (w: Worker) => {
    for (const p of [...pending.values()]) if (p.waiting.delete(w) && p.waiting.size === 0) p.finish();
  });
}

/**
 * In the primary: ask every connected worker `kind`; resolves with the answers received within
 * `timeoutMs` (a worker that exits before answering is not waited for), and how many were asked.
 * `first`: resolve with the first answer (questions any one worker can answer).
 */
export function askWorkers<K extends WorkerQuestion>(
  kind: K,
  timeoutMs: number,
  opts: { arg?: WorkerArgs[K]; first?: boolean } = {},
): Promise<{ answers: WorkerAnswers[K][]; asked: number }> {
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  if (workers.length === 0) return Promise.resolve({ answers: [], asked: 0 });
  listen();
  const id = nextId++;
  return new Promise((resolve) => {
    const answers: WorkerAnswers[K][] = [];
    const finish = (): void => {
      if (!pending.delete(id)) return;
      clearTimeout(timer);
      resolve({ answers, asked: workers.length });
    };
    const timer = setTimeout(finish, timeoutMs);
    const p: Pending = { waiting: new Set(workers), answers, finish, first: opts.first === true };
    pending.set(id, p);
    for (const w of workers) {
      try {
        w.send({ weir: REQUEST, id, kind, ...(opts.arg !== undefined ? { arg: opts.arg } : {}) } satisfies Request);
      } catch {
        // The channel closed between isConnected() and send(): that worker will not answer.
        if (p.waiting.delete(w) && p.waiting.size === 0) finish();
      }
    }
  });
}

/** In the primary: every connected worker's metrics, merged. Workers that do not answer in time are left out. */
export async function collectWorkerMetrics(timeoutMs = METRICS_TIMEOUT_MS): Promise<{ registry: Registry; workers: number; asked: number }> {
  const { answers, asked } = await askWorkers('metrics', timeoutMs);
  return { registry: AggregatorRegistry.aggregate(answers as never) as Registry, workers: answers.length, asked };
}
