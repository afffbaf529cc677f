// watchIstio: in-place writes and editor-style rename-over both reach the callback once per change,
// identical rewrites do not, files added to a watched directory do.

import t from 'tap';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { istioVersion, loadIstioFiles, watchIstio } from '../../../src/config/istio';
import type { IstioSource } from '../../../src/config/istio';

const WAIT_MS = 5000;

/** Resolves with the next change (or rejects after WAIT_MS: a bounded wait, never a sleep). */
function nextChange(queue: IstioSource[][], waiters: ((d: IstioSource[]) => void)[]): Promise<IstioSource[]> {
  const ready = queue.shift();
  if (ready) return Promise.resolve(ready);
  return new Promise((resolve, reject) => {
    const waiter = (d: IstioSource[]): void => {
      clearTimeout(timer);
      resolve(d);
    };
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(waiter), 1);
      reject(new Error(`no change within ${WAIT_MS} ms`));
    }, WAIT_MS);
    waiters.push(waiter);
  });
}

function setup(t: { teardown(fn: () => void): void }, paths: (dir: string) => string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'weir-watch-'));
  const queue: IstioSource[][] = [];
  const waiters: ((d: IstioSource[]) => void)[] = [];
  const errors: Error[] = [];
  /** `version`: what the caller already applied, so a write racing the watcher's start is not lost. */
  const start = (version?: string): ReturnType<typeof watchIstio> => {
    const w = watchIstio(
      paths(dir),
      (docs) => {
        const waiter = waiters.shift();
        if (waiter) waiter(docs);
        else queue.push(docs);
      },
      { onError: (e) => errors.push(e), version },
    );
    t.teardown(() => w.close());
    return w;
  };
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, start, next: () => nextChange(queue, waiters), queue, errors };
}

const doc = (weight: number): string => `# weight ${weight}\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec: {hosts: [r]}\n`;

t.test('in-place write and rename-over a watched file', async (t) => {
  const s = setup(t, (dir) => [join(dir, 'vs.yaml')]);
  const file = join(s.dir, 'vs.yaml');
  writeFileSync(file, doc(10));
  const version = istioVersion(await loadIstioFiles([file]));
  s.start(version);
  writeFileSync(file, doc(30));
  const changed = await s.next();
  t.ok(changed, 'in-place write reported');
  t.match(changed?.[0]?.text ?? '', /# weight 30/);
  t.not(istioVersion(changed ?? []), version);

  // Editor-style save: write a temp file, rename it over the original (the old inode goes away).
  const tmp = join(s.dir, '.vs.yaml.swp');
  writeFileSync(tmp, doc(100));
  renameSync(tmp, file);
  const renamed = await s.next();
  t.match(renamed[0]?.text ?? '', /# weight 100/);

  // Rewriting the same bytes is no change.
  writeFileSync(file, doc(100));
  writeFileSync(join(s.dir, 'other.txt'), 'unrelated');
  writeFileSync(tmp, doc(10));
  renameSync(tmp, file);
  const back = await s.next();
  t.match(back[0]?.text ?? '', /# weight 10\n/, 'going back to the old file is a change too (the rollback)');
  t.equal(s.queue.length, 0, 'no duplicate callbacks');
});

t.test('a watched directory: new YAML files are picked up', async (t) => {
  const s = setup(t, (dir) => [dir]);
  writeFileSync(join(s.dir, 'a.yaml'), doc(1));
  s.start(istioVersion(await loadIstioFiles([s.dir])));
  writeFileSync(join(s.dir, 'b.yaml'), doc(2));
  writeFileSync(join(s.dir, 'notes.txt'), 'not yaml');
  const got = await s.next();
  t.ok(got, 'new file reported');
  t.same(got.map((d) => d.file.slice(s.dir.length + 1)), ['a.yaml', 'b.yaml']);
});

t.test('a change made before the watch started is delivered when the caller passes its version', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-watch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'vs.yaml');
  writeFileSync(file, doc(10));
  const version = istioVersion(await loadIstioFiles([file]));
  writeFileSync(file, doc(20)); // changed between the caller's load and the watch
  const got = await new Promise<IstioSource[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no change delivered')), WAIT_MS);
    const w = watchIstio([file], (docs) => {
      clearTimeout(timer);
      w.close();
      resolve(docs);
    }, { version });
    t.teardown(() => w.close());
  });
  t.match(got[0]?.text ?? '', /# weight 20/);
});
