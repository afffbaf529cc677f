// Watching Istio files for changes (issue 5 section 3). Editors save in different ways: write in
// place, or write a temp file and rename it over the old one (vim, most IDEs), and Kubernetes
// ConfigMap mounts swap a `..data` symlink. A watch on the file itself dies with the old inode, so
// weir watches the directories that hold the files and re-reads everything after a quiet period.
// The callback runs only when the content really changed (same bytes, same version: no reload).

import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { loadIstioFiles, YAML_FILE } from './load-istio-files';
import { istioVersion } from './translate-istio';
import type { IstioSource } from './types';

/** Quiet period after the last file event before re-reading (editors write in several steps). */
export const WATCH_DEBOUNCE_MS = 75;

export interface WatchIstioOptions {
  /** Called when a re-read fails (a file vanished for good, a directory became unreadable). */
  onError?: (err: Error) => void;
  /** `istioVersion()` of the docs the caller already applied: a change made before the watch started is not lost. */
  version?: string;
}

export interface IstioWatch {
  close(): void;
}

export function watchIstio(
  paths: readonly string[],
  onChange: (docs: IstioSource[]) => void,
  opts: WatchIstioOptions = {},
): IstioWatch {
  const onError = opts.onError;
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let loading = false;
  let again = false;
  let lastVersion: string | undefined = opts.version;
  // Without the version the caller loaded, the first read only sets the baseline.
  let baseline = opts.version === undefined;

  const reload = async (): Promise<void> => {
    if (closed) return;
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const docs = await loadIstioFiles(paths);
      const version = istioVersion(docs);
      if (!closed && version !== lastVersion) {
        lastVersion = version;
        if (!baseline) onChange(docs);
      }
    } catch (e) {
      // A file can be missing for a moment while an editor replaces it: report, wait for the next event.
      if (!closed && !baseline) onError?.(e as Error);
    } finally {
      baseline = false;
      loading = false;
      if (again && !closed) {
        again = false;
        schedule();
      }
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void reload();
    }, WATCH_DEBOUNCE_MS);
    timer.unref?.();
  };

  const watchDir = (dir: string, relevant: (name: string | null) => boolean): void => {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (relevant(name === null ? null : String(name))) schedule();
      });
      w.on('error', (e) => onError?.(e));
      watchers.push(w);
    } catch (e) {
      onError?.(e as Error);
    }
  };

  void (async () => {
    const fileDirs = new Map<string, Set<string>>();
    for (const p of paths) {
      const abs = resolve(p);
      let isDir = false;
      try {
        isDir = (await stat(abs)).isDirectory();
      } catch {
        isDir = false;
      }
      if (closed) return;
      if (isDir) {
        watchDir(abs, (name) => name === null || YAML_FILE.test(name) || name.startsWith('..'));
      } else {
        const dir = dirname(abs);
        const set = fileDirs.get(dir) ?? new Set<string>();
        set.add(basename(abs));
        fileDirs.set(dir, set);
      }
    }
    for (const [dir, names] of fileDirs) {
      watchDir(dir, (name) => name === null || names.has(name) || name.startsWith('..'));
    }
    await reload();
  })();

  return {
    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
      watchers.length = 0;
    },
  };
}
