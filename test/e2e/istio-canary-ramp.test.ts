// The canary ramp users run (issue 5 section 3): user-service 10% -> 30% -> 100% while traffic
// flows. Each step is live within a second of the file write, no request fails, and after the last
// step every request reaches the canary.

import t from 'tap';
import { performance } from 'node:perf_hooks';
import { binomialBounds, setDefaultWeights, startExample } from './istio-harness';

const STEP_LIMIT_MS = 1000;

t.test('user-service 10% -> 30% -> 100% under traffic', async (t) => {
  const h = await startExample(t, 'user-service-canary.yaml');
  let stop = false;
  let failures = 0;
  let sent = 0;
  const started = performance.now();
  // Background traffic for the whole ramp (bounded by count and time).
  const worker = async (): Promise<void> => {
    while (!stop && sent < 20_000 && performance.now() - started < 20_000) {
      sent++;
      try {
        const a = await h.send({ host: 'user-service' });
        if (a.status !== 200) failures++;
      } catch {
        failures++;
      }
    }
  };
  const load = Promise.all(Array.from({ length: 4 }, worker));
  try {
    for (const canary of [30, 100]) {
      const text = setDefaultWeights(h.original, 'user-service', [['stable', 100 - canary], ['canary', canary]]);
      const live = h.nextEvent();
      const t0 = performance.now();
      await h.write(text);
      const ev = await live;
      const ms = performance.now() - t0;
      t.equal(ev.kind, 'live', `${canary}%: applied`);
      t.ok(ms < STEP_LIMIT_MS, `${canary}%: live ${ms.toFixed(0)} ms after the write (< ${STEP_LIMIT_MS} ms)`);
      const n = 600;
      const { counts, failures: f } = await h.tally({ host: 'user-service' }, n, 4);
      t.equal(f, 0);
      const c = counts.get('user-service/v2') ?? 0;
      if (canary === 100) t.equal(c, n, '100%: every request on the canary');
      else {
        const [lo, hi] = binomialBounds(n, canary / 100);
        t.ok(c >= lo && c <= hi, `${canary}%: canary ${c}/${n} within [${lo}, ${hi}]`);
      }
    }
  } finally {
    stop = true;
    await load;
  }
  t.equal(failures, 0, `no failed request among ${sent} sent during the ramp`);
});

t.test('sticky ramp (--pick-mode sticky --sticky-key cookie:user): users only move into the canary', async (t) => {
  const h = await startExample(t, 'user-service-canary.yaml', { pickMode: 'sticky', stickyKey: { cookie: 'user' } });
  const USERS = 300;
  const assign = async (): Promise<string[]> => {
    const out: string[] = [];
    let failed = 0;
    for (let u = 0; u < USERS; u++) {
      const a = await h.send({ host: 'user-service', headers: { cookie: `session=x; user=u${u}` } });
      if (a.status !== 200) failed++;
      out.push(a.label);
    }
    t.equal(failed, 0, `${USERS} users answered`);
    return out;
  };
  const canaryOf = (v: string[]): Set<number> => new Set(v.flatMap((l, i) => (l === 'user-service/v2' ? [i] : [])));
  const at10 = await assign();
  t.same(await assign(), at10, '10%: every user gets the same version twice');
  const c10 = canaryOf(at10);
  await h.apply(setDefaultWeights(h.original, 'user-service', [['stable', 70], ['canary', 30]]));
  const c30 = canaryOf(await assign());
  t.same([...c10].filter((u) => !c30.has(u)), [], '30%: nobody on the canary at 10% left it');
  t.ok(c30.size > c10.size, `30%: more users on the canary (${c10.size} -> ${c30.size} of ${USERS})`);
  await h.apply(setDefaultWeights(h.original, 'user-service', [['stable', 0], ['canary', 100]]));
  t.equal(canaryOf(await assign()).size, USERS, '100%: everyone');
  await h.apply(h.original);
  t.same(await assign(), at10, 'rolled back to 10%: the original assignment, user for user');
});
