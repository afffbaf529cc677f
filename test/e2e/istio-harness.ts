// End-to-end harness for `weir --istio` (issue 5 sections 3 and 4): an example of config/istio/
// copied into a temp dir with its endpoints pointing at labelled upstreams on 127.0.0.1, a real
// ProxyServer fed by startIstioServe on one listener (127.0.0.1 port 0, routing by Host), a keep-
// alive client, and edits of the file that resolve on the proxy's `live` / `rejected` event.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import * as YAML from 'yaml';
import { startIstioServe, type IstioLive, type IstioRejected, type IstioServe } from '../../src/config/istio-serve';
import type { PickMode, StickyKey } from '../../src/config/istio';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { startVersionUpstreams, type VersionUpstreams } from '../helpers/version-upstreams';
import { REPO_ROOT } from '../helpers/repo-root';

export const EXAMPLES_DIR = join(REPO_ROOT, 'config', 'istio');

/** Upper bound on waiting for one reload (the watch debounce is 75 ms; the brief says < 1 s). */
export const EVENT_TIMEOUT_MS = 5000;

/**
 * A binomial count outside n p +- Z sqrt(n p (1-p)) fails. The e2e files make about 20 such
 * checks per run, so each uses a two-sided 1 - 0.001/20 bound (z = 4.06, Bonferroni): the whole
 * run passes with 99.9% probability when weir splits correctly, and 90/10 vs 40/60 stay far apart.
 */
export const Z_999 = 4.06;

export function binomialBounds(n: number, p: number): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [Math.floor(n * p - Z_999 * sd), Math.ceil(n * p + Z_999 * sd)];
}

export interface Req {
  host: string;
  path?: string;
  headers?: { [k: string]: string };
}

export interface Answer {
  status: number;
  /** `<service>/<version>` of the upstream that answered, '' for the proxy's own answers. */
  label: string;
  /** The `x-version` request header the upstream received. */
  seen: string;
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
}

export interface IstioE2E {
  readonly dir: string;
  readonly file: string;
  /** The example as written to `file` first (endpoint ports rewritten). */
  readonly original: string;
  readonly port: number;
  readonly proxy: ProxyServer;
  readonly serve: IstioServe;
  readonly upstreams: VersionUpstreams;
  readonly logs: LogLine[];
  send(req: Req): Promise<Answer>;
  /** `n` requests, `concurrency` at a time; labels counted, non-200 answers and errors counted as failures. */
  tally(req: Req, n: number, concurrency?: number): Promise<{ counts: Map<string, number>; failures: number }>;
  /** Writes `text` (endpoint ports rewritten) and resolves on the next `live` event (rejects on `rejected`). */
  apply(text: string): Promise<IstioLive>;
  /** Writes `text` and resolves on the next `rejected` event (rejects on `live`). */
  applyInvalid(text: string): Promise<IstioRejected>;
  /** Writes `text` (endpoint ports rewritten) without waiting. */
  write(text: string): Promise<void>;
  nextEvent(): Promise<{ kind: 'live'; ev: IstioLive } | { kind: 'rejected'; ev: IstioRejected }>;
}

interface TapLike {
  teardown(fn: () => unknown): void;
}

export async function startExample(
  t: TapLike,
  example: string,
  opts: { pickMode?: PickMode; stickyKey?: StickyKey; text?: string } = {},
): Promise<IstioE2E> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-e2e-istio-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const upstreams = startVersionUpstreams();
  t.teardown(() => upstreams.close());
  const file = join(dir, example);
  const original = await upstreams.rewrite(opts.text ?? readFileSync(join(EXAMPLES_DIR, example), 'utf8'));
  writeFileSync(file, original);

  const logs: LogLine[] = [];
  const log = {
    info: (msg: string) => void logs.push({ level: 'info', msg }),
    warn: (msg: string) => void logs.push({ level: 'warn', msg }),
    error: (msg: string) => void logs.push({ level: 'error', msg }),
  };
  const proxy = new ProxyServer({ drainTimeMs: 1000 });
  t.teardown(() => proxy.close());
  const serve = await startIstioServe({
    paths: [dir],
    istio: {
      listen: { address: '127.0.0.1', port: 0 },
      ...(opts.pickMode ? { defaultPickMode: opts.pickMode } : {}),
      ...(opts.stickyKey ? { defaultStickyKey: opts.stickyKey } : {}),
    },
    proxy,
    log,
  });
  t.teardown(() => serve.close());
  const l = proxy.listeners();
  if (l.length !== 1) throw new Error(`expected one listener, got ${JSON.stringify(l)}`);
  const port = l[0]!.port;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 16 });
  t.teardown(() => pool.close());

  const send = async (req: Req): Promise<Answer> => {
    const r = await pool.request({ method: 'GET', path: req.path ?? '/', headers: { host: req.host, ...req.headers } });
    await r.body.text();
    const h = (n: string): string => {
      const v = r.headers[n];
      return typeof v === 'string' ? v : '';
    };
    const svc = h('x-service');
    return { status: r.statusCode, label: svc === '' ? '' : svc + '/' + h('x-version'), seen: h('x-seen-version') };
  };

  const tally = async (req: Req, n: number, concurrency = 8) => {
    const counts = new Map<string, number>();
    let failures = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        next++;
        try {
          const a = await send(req);
          if (a.status !== 200) failures++;
          counts.set(a.label, (counts.get(a.label) ?? 0) + 1);
        } catch {
          failures++;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { counts, failures };
  };

  const nextEvent = () =>
    new Promise<{ kind: 'live'; ev: IstioLive } | { kind: 'rejected'; ev: IstioRejected }>((resolve, reject) => {
      const onLive = (ev: IstioLive): void => done({ kind: 'live', ev });
      const onRejected = (ev: IstioRejected): void => done({ kind: 'rejected', ev });
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no live/rejected event within ${EVENT_TIMEOUT_MS} ms`));
      }, EVENT_TIMEOUT_MS);
      const off = (): void => {
        clearTimeout(timer);
        serve.events.off('live', onLive);
        serve.events.off('rejected', onRejected);
      };
      const done = (v: { kind: 'live'; ev: IstioLive } | { kind: 'rejected'; ev: IstioRejected }): void => {
        off();
        resolve(v);
      };
      serve.events.on('live', onLive);
      serve.events.on('rejected', onRejected);
    });

  const write = async (text: string): Promise<void> => {
    writeFileSync(file, await upstreams.rewrite(text));
  };

  const apply = async (text: string): Promise<IstioLive> => {
    const rewritten = await upstreams.rewrite(text);
    const ev = nextEvent();
    writeFileSync(file, rewritten);
    const e = await ev;
    if (e.kind !== 'live') throw new Error('edit rejected: ' + e.ev.errors.join('; '));
    return e.ev;
  };

  const applyInvalid = async (text: string): Promise<IstioRejected> => {
    const rewritten = await upstreams.rewrite(text);
    const ev = nextEvent();
    writeFileSync(file, rewritten);
    const e = await ev;
    if (e.kind !== 'rejected') throw new Error('invalid edit went live as ' + e.ev.version);
    return e.ev;
  };

  return { dir, file, original, port, proxy, serve, upstreams, logs, send, tally, apply, applyInvalid, write, nextEvent };
}

// ---- edits of example files (YAML object model; comments are not kept) ----

type Obj = { [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

export function editDocs(text: string, fn: (docs: Obj[]) => void): string {
  const docs = YAML.parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
  fn(docs);
  return docs.map((d) => YAML.stringify(d)).join('---\n');
}

function findDoc(docs: Obj[], kind: string, name: string): Obj {
  const d = docs.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!d) throw new Error(`no ${kind} ${name}`);
  return d;
}

/**
 * The last (default) HTTP route of VirtualService `vs` gets `weights` ([subset, weight]); an
 * existing destination of that subset keeps its other settings (headers), a new one copies the first.
 */
export function setDefaultWeights(text: string, vs: string, weights: readonly (readonly [string, number])[]): string {
  return editDocs(text, (docs) => {
    const http = findDoc(docs, 'VirtualService', vs).spec.http as Obj[];
    const last = http[http.length - 1]!;
    const old = last.route as Obj[];
    last.route = weights.map(([subset, weight]) => {
      const base = old.find((r) => r.destination?.subset === subset) ?? old[0]!;
      const copy = JSON.parse(JSON.stringify(base)) as Obj;
      copy.destination.subset = subset;
      copy.weight = weight;
      return copy;
    });
  });
}

export const ONLY_SUBSET = 'e2e-only';
export const ONLY_HEADER = 'x-e2e-only';

/**
 * Adds what must vanish on rollback: an endpoint labelled `version: e2e-only` in ServiceEntry `se`,
 * a subset of that name in DestinationRule `dr`, and a first route in VirtualService `vs` sending
 * `x-e2e-only: yes` there (so its cluster `outbound|<port>|e2e-only|<fqdn>` exists only in this version).
 */
export function addOnlyRoute(text: string, names: { se: string; dr: string; vs: string }): string {
  return editDocs(text, (docs) => {
    const se = findDoc(docs, 'ServiceEntry', names.se);
    const ep0 = se.spec.endpoints[0] as Obj;
    se.spec.endpoints.push({
      address: '127.0.0.1',
      // A placeholder port the upstream helper maps to a server of its own.
      ports: Object.fromEntries(Object.keys(ep0.ports).map((k) => [k, 1])),
      labels: { ...ep0.labels, version: ONLY_SUBSET },
    });
    findDoc(docs, 'DestinationRule', names.dr).spec.subsets.push({ name: ONLY_SUBSET, labels: { version: ONLY_SUBSET } });
    const vsDoc = findDoc(docs, 'VirtualService', names.vs);
    const host = (vsDoc.spec.http as Obj[])[0]!.route[0].destination.host as string;
    (vsDoc.spec.http as Obj[]).unshift({
      name: 'e2e-only',
      match: [{ headers: { [ONLY_HEADER]: { exact: 'yes' } } }],
      route: [{ destination: { host, subset: ONLY_SUBSET } }],
    });
  });
}

export function onlyClusterName(port: number, fqdn: string): string {
  return `outbound|${port}|${ONLY_SUBSET}|${fqdn}`;
}
