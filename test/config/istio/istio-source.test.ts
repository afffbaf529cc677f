// startIstioSource: 10% -> 30% arrives as a new translation, an invalid edit is rejected with its
// file/document/path and hands nothing over, the rollback to the first file brings back exactly the
// first translation (no rule of the rejected or intermediate version survives).

import t from 'tap';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIstioSource, type IstioTranslation } from '../../../src/config/istio';
import { REPO_ROOT } from '../../helpers/repo-root';


type Event = { kind: 'update'; t: IstioTranslation } | { kind: 'reject'; errors: readonly string[] };
const WAIT_MS = 5000;

t.test('change, invalid change, rollback', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-istio-source-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'user-service.yaml');
  const original = readFileSync(join(REPO_ROOT, 'config', 'istio', 'user-service-canary.yaml'), 'utf8');
  writeFileSync(file, original);

  const events: Event[] = [];
  const waiters: ((e: Event) => void)[] = [];
  const push = (e: Event): void => {
    const w = waiters.shift();
    if (w) w(e);
    else events.push(e);
  };
  const next = (): Promise<Event> => {
    const e = events.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve, reject) => {
      const w = (ev: Event): void => {
        clearTimeout(timer);
        resolve(ev);
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error('no event'));
      }, WAIT_MS);
      waiters.push(w);
    });
  };
  const src = await startIstioSource([file], {}, {
    onUpdate: (tr) => push({ kind: 'update', t: tr }),
    onReject: (errors) => push({ kind: 'reject', errors }),
  });
  t.teardown(() => src.close());
  const weights = (tr: IstioTranslation): number[] =>
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (tr.resources.routeConfigurations[0] as any).virtual_hosts[0].routes[0].route.weighted_clusters.clusters.map((c: any) => c.weight);
  t.same(weights(src.initial), [90, 10]);
  const v0 = src.liveVersion;

  // 10% -> 30%, saved the way editors do (temp file renamed over the original).
  const save = (text: string): void => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  save(original.replace('weight: 90', 'weight: 70').replace('weight: 10', 'weight: 30'));
  const e1 = await next();
  t.equal(e1.kind, 'update');
  if (e1.kind === 'update') {
    t.same(weights(e1.t), [70, 30]);
    t.not(e1.t.version, v0);
    t.equal(src.liveVersion, e1.t.version);
  }
  const v1 = src.liveVersion;

  // An invalid edit: rejected whole, the live version does not move.
  save(original.replace('weight: 90', 'weight: 80'));
  const e2 = await next();
  t.equal(e2.kind, 'reject');
  if (e2.kind === 'reject') {
    t.match(e2.errors.join('\n'), /user-service\.yaml: document 3 \(VirtualService user-service\): spec\.http\[0\]\.route: weights sum to 90, must be 100/);
  }
  t.equal(src.liveVersion, v1);

  // Rollback: the original file again gives exactly the original translation.
  save(original);
  const e3 = await next();
  t.equal(e3.kind, 'update');
  if (e3.kind === 'update') {
    t.equal(e3.t.version, v0);
    t.same(e3.t.resources, src.initial.resources);
  }
});

t.test('an invalid initial config does not start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-istio-source-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec: {hosts: []}\n');
  await t.rejects(startIstioSource([file], {}, { onUpdate: () => {}, onReject: () => {} }), { code: 'WEIR_ERR_CONFIG', message: /bad\.yaml: document 1 \(VirtualService x\): spec\.hosts: at least one host is required/ });
});
