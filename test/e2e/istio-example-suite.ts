// One end-to-end scenario per config/istio example (issue 5 section 4), run by the six
// istio-<example>.test.ts files: the split within binomial bounds (random) and exactly (smooth),
// header and cookie routes exact, a weight change applied under traffic with zero failed requests,
// an invalid edit rejected with the old routing intact, and a rollback that leaves nothing behind.

import type { Test } from 'tap';
import {
  addOnlyRoute,
  binomialBounds,
  ONLY_HEADER,
  ONLY_SUBSET,
  onlyClusterName,
  setDefaultWeights,
  startExample,
  type IstioE2E,
  type Req,
} from './istio-harness';

export interface RouteExpectation {
  name: string;
  req: Req;
  /** `<service>/<version>` of the upstream that must answer (`a|b`: one of them). */
  label: string;
  /** The `x-version` request header that upstream must have seen. */
  seen?: string;
  /** Takes the default route: while the re-weighted version is live, any of its labels will do. */
  viaDefault?: boolean;
}

export interface ExampleSpec {
  file: string;
  /** The service whose VirtualService default route is re-weighted (names of its SE, DR, VS). */
  names: { se: string; dr: string; vs: string };
  /** Its FQDN and port (the e2e-only cluster is `outbound|<port>|e2e-only|<fqdn>`). */
  fqdn: string;
  port: number;
  /** A request that takes the default route. */
  defaultReq: Req;
  /** What the default route does: label -> weight (sum 100). */
  split: { [label: string]: number };
  /** Routes that must match exactly (header, cookie). */
  routes: RouteExpectation[];
  /** The weight change applied under traffic: [subset, weight, label]. */
  reweight: [string, number, string][];
}

// Request counts: a few thousand per file in all (CI runs on 2 busy cores). The first split gets
// the largest sample; the later checks only need to tell one split from another (90/10 vs 40/60).
const SPLIT_N = 1000;
const RECHECK_N = 500;
const SMOOTH_N = 200;
const AFTER_CHANGE_N = 600;
/** Bounds on the under-traffic loop: it stops by count, and a broken reload cannot make it spin. */
const LOAD_MAX_REQUESTS = 8000;
const LOAD_MAX_MS = 15_000;

function checkSplit(t: Test, counts: Map<string, number>, n: number, split: { [label: string]: number }, what: string): void {
  const labels = Object.keys(split);
  let seen = 0;
  for (const [label, c] of counts) {
    seen += c;
    if (!(label in split)) t.fail(`${what}: ${c} requests reached ${label || 'no upstream'}, which the config does not route to`);
  }
  t.equal(seen, n, `${what}: ${n} answers counted`);
  for (const label of labels) {
    const p = split[label]! / 100;
    const c = counts.get(label) ?? 0;
    if (p === 1 || p === 0) {
      t.equal(c, p * n, `${what}: ${label} gets ${p * 100}% exactly`);
      continue;
    }
    const [lo, hi] = binomialBounds(n, p);
    t.ok(c >= lo && c <= hi, `${what}: ${label} ${c}/${n} within [${lo}, ${hi}] (binomial bound, 99.9% over the run, for ${split[label]}%)`);
  }
}

async function checkRoutes(t: Test, h: IstioE2E, routes: readonly RouteExpectation[], what: string, reweighted?: readonly string[]): Promise<void> {
  for (const route of routes) {
    const r = route.viaDefault && reweighted ? { ...route, label: reweighted.join('|'), seen: undefined } : route;
    // Exact: every one of several requests, not most.
    for (let i = 0; i < 5; i++) {
      const a = await h.send(r.req);
      if (a.status !== 200 || !r.label.split('|').includes(a.label) || (r.seen !== undefined && a.seen !== r.seen)) {
        t.fail(`${what}: ${r.name}: got ${a.status} ${a.label} (seen x-version '${a.seen}'), want 200 ${r.label}${r.seen ? ` seen '${r.seen}'` : ''}`);
        return;
      }
    }
    t.pass(`${what}: ${r.name} -> ${r.label}`);
  }
}

/**
 * Sends traffic with `concurrency` clients while `change` runs; once `afterLive()` reports the new
 * version live, `afterN` more requests are sent. Requests issued after the live event are tallied apart.
 */
async function underTraffic(
  h: IstioE2E,
  req: Req,
  change: () => Promise<unknown>,
  afterN: number,
  concurrency = 8,
): Promise<{ failures: number; before: number; after: Map<string, number>; afterCount: number; failuresDetail: string[] }> {
  let live = false;
  let afterCount = 0;
  let total = 0;
  let failures = 0;
  const failuresDetail: string[] = [];
  const after = new Map<string, number>();
  const started = Date.now();
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop && total < LOAD_MAX_REQUESTS && Date.now() - started < LOAD_MAX_MS) {
      if (live && afterCount >= afterN) break;
      total++;
      const isAfter = live;
      if (isAfter) afterCount++;
      try {
        const a = await h.send(req);
        if (a.status !== 200) {
          failures++;
          if (failuresDetail.length < 5) failuresDetail.push(`status ${a.status}`);
        }
        if (isAfter) after.set(a.label, (after.get(a.label) ?? 0) + 1);
      } catch (e) {
        failures++;
        if (failuresDetail.length < 5) failuresDetail.push((e as Error).message);
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  // Let the clients get going before the edit lands.
  await h.tally(req, 50, 4);
  try {
    await change();
  } finally {
    live = true;
  }
  await Promise.all(workers).finally(() => (stop = true));
  return { failures, before: total - afterCount, after, afterCount, failuresDetail };
}

function labelsOf(spec: ExampleSpec, weights: [string, number, string][]): { [label: string]: number } {
  const out: { [label: string]: number } = {};
  for (const [, w, label] of weights) out[label] = (out[label] ?? 0) + w;
  return out;
}

export function runExampleSuite(t: Test, spec: ExampleSpec): void {
  t.test(`${spec.file}: routes exact, split within binomial bounds (random)`, async (t) => {
    const h = await startExample(t, spec.file);
    t.match(h.serve.liveVersion, /^istio:[0-9a-f]{12}$/, 'live version is istio:<hash>');
    t.ok(h.logs.some((l) => l.msg === `config version ${h.serve.liveVersion} live`), 'the log says which version is live');
    await checkRoutes(t, h, spec.routes, 'initial');
    const { counts, failures } = await h.tally(spec.defaultReq, SPLIT_N);
    t.equal(failures, 0, 'no failed requests');
    checkSplit(t, counts, SPLIT_N, spec.split, 'default route');
  });

  t.test(`${spec.file}: smooth pick mode gives the split exactly`, async (t) => {
    const h = await startExample(t, spec.file, { pickMode: 'smooth' });
    const { counts, failures } = await h.tally(spec.defaultReq, SMOOTH_N, 4);
    t.equal(failures, 0, 'no failed requests');
    for (const [label, w] of Object.entries(spec.split)) {
      // design.md: after any n picks every destination is within one pick of n x its share; at a
      // multiple of the total weight that is exact.
      t.equal(counts.get(label) ?? 0, (SMOOTH_N * w) / 100, `${label}: exactly ${w}% of ${SMOOTH_N}`);
    }
  });

  t.test(`${spec.file}: change under traffic, invalid edit, rollback`, async (t) => {
    const h = await startExample(t, spec.file);
    const initial = h.serve.liveVersion;
    const onlyCluster = onlyClusterName(spec.port, spec.fqdn);
    const onlyReq: Req = { ...spec.defaultReq, headers: { ...spec.defaultReq.headers, [ONLY_HEADER]: 'yes' } };
    const weights = spec.reweight.map(([s, w]) => [s, w] as const);
    const edited = addOnlyRoute(setDefaultWeights(h.original, spec.names.vs, weights), spec.names);

    // 1. A weight change (plus a route and a cluster of its own) lands while traffic flows.
    let changedTo = '';
    const load = await underTraffic(
      h,
      spec.defaultReq,
      async () => {
        const ev = await h.apply(edited);
        changedTo = ev.version;
        t.equal(ev.previous, initial, 'the live event names the version it replaced');
      },
      AFTER_CHANGE_N,
    );
    t.equal(load.failures, 0, `zero failed requests across the change (${load.before} before, ${load.afterCount} after)${load.failuresDetail.length ? ': ' + load.failuresDetail.join(', ') : ''}`);
    t.not(changedTo, initial, 'a new version is live');
    t.equal(h.serve.liveVersion, changedTo);
    t.ok(h.logs.some((l) => l.msg === `config version ${changedTo} live (was ${initial})`), 'log: config version <new> live (was <old>)');
    checkSplit(t, load.after, load.afterCount, labelsOf(spec, spec.reweight), 'after the change');
    // The added endpoint keeps the `app` label of the service's first endpoint (the SE's name in every example).
    const onlyLabel = `${spec.names.se}/${ONLY_SUBSET}`;
    await checkRoutes(t, h, [{ name: 'route of the edited version only', req: onlyReq, label: onlyLabel }], 'edited');
    t.ok(h.proxy.clusters.has(onlyCluster), `${onlyCluster} exists in the edited version`);
    const reweighted = spec.reweight.map(([, , label]) => label);
    await checkRoutes(t, h, spec.routes, 'edited', reweighted);

    // 2. An invalid edit (weights summing to 110) is rejected whole; the edited version keeps serving.
    const invalid = setDefaultWeights(edited, spec.names.vs, [
      [spec.reweight[0]![0], 60],
      [spec.reweight[spec.reweight.length - 1]![0], 50],
    ]);
    const rej = await h.applyInvalid(invalid);
    t.equal(rej.live, changedTo, 'the rejection names the version that stays live');
    t.equal(h.serve.liveVersion, changedTo, 'live version unchanged');
    t.ok(rej.errors.some((e) => e.includes(spec.file) && /document \d+ \(VirtualService/.test(e) && /weight/i.test(e)), `errors name file, document and field: ${rej.errors.join(' | ')}`);
    t.ok(h.logs.some((l) => l.level === 'error' && l.msg.includes(`rejected; ${changedTo} stays live`)), 'log: rejected, which version stays live');
    await checkRoutes(t, h, [{ name: 'edited route still there', req: onlyReq, label: onlyLabel }, ...spec.routes], 'after the rejected edit', reweighted);
    const still = await h.tally(spec.defaultReq, RECHECK_N);
    t.equal(still.failures, 0);
    checkSplit(t, still.counts, RECHECK_N, labelsOf(spec, spec.reweight), 'after the rejected edit');

    // 3. Rollback: the original file again. The version is the original one; nothing of the edited
    // version survives (its header route, its cluster, its weights).
    const back = await h.apply(h.original);
    t.equal(back.version, initial, 'rolled back to the original version');
    t.equal(back.previous, changedTo);
    t.notOk(h.proxy.clusters.has(onlyCluster), `${onlyCluster} is gone`);
    t.same([...h.proxy.clusters.keys()].filter((n) => n.includes(ONLY_SUBSET)), [], 'no cluster of the edited version left');
    const onlyAfter = await h.tally(onlyReq, 100, 4);
    t.equal(onlyAfter.failures, 0);
    t.equal(onlyAfter.counts.get(onlyLabel) ?? 0, 0, 'the header route of the edited version no longer matches');
    await checkRoutes(t, h, spec.routes, 'after rollback');
    const rolled = await h.tally(spec.defaultReq, RECHECK_N);
    t.equal(rolled.failures, 0);
    checkSplit(t, rolled.counts, RECHECK_N, spec.split, 'after rollback');
  });
}
