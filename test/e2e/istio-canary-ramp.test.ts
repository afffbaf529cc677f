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
