// The bootstrap loader asks the snapshot compiler (src/proxy/snapshot.ts) to validate the
// listeners and clusters it found, so `--mode validate` reports route and cluster errors too, and
// then rewrites each error's location into the bootstrap's own field path
// (`listeners[0].filter_chains[0]...` -> `static_resources.listeners[0].filter_chains[0]...`).
// The compiler is loaded at run time: the loader stays usable (structure checks only) in a build
// that lacks the data path, and `route/`/`upstream/` stay the only places that know how to compile.

import * as path from 'node:path';
import type { Resource, ResourceSet } from './resources';
import { field } from '../util/proto-json';

type Compile = (set: ResourceSet, opts: object) => { value?: unknown; errors?: string[] };

let compileSnapshot: Compile | null | undefined;

function loadCompiler(): Compile | null {
  if (compileSnapshot !== undefined) return compileSnapshot;
  const modulePath = path.join(__dirname, '..', 'proxy', 'snapshot');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(modulePath) as { compileSnapshot?: Compile };
    compileSnapshot = typeof mod.compileSnapshot === 'function' ? mod.compileSnapshot : null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(modulePath)) throw err;
    compileSnapshot = null;
  }
  return compileSnapshot;
}

/** The snapshot compiler's errors for `set`, or [] when it accepts it (or is not built in). */
export function tryCompileSnapshot(set: ResourceSet, options: object = {}): string[] {
  const compile = loadCompiler();
  if (!compile) return [];
  const r = compile(set, options);
  return r.errors ?? [];
}

function indexByName(list: readonly Resource[], name: string): number {
  for (let i = 0; i < list.length; i++) if (field(list[i], 'name') === name) return i;
  return -1;
}

/**
 * Rewrites a compiler error so it starts with the bootstrap path of the resource it is about.
 * Understands `listeners[i]...` / `clusters[i]...`, and `listener 'name': ...` /
 * `cluster "name": ...` forms; anything else is returned under `static_resources`.
 */
export function locateSnapshotError(err: string, listeners: readonly Resource[], clusters: readonly Resource[]): string {
  if (/^(listeners|clusters)\[\d+\]/.test(err)) return `static_resources.${err}`;
  // The compiler names resources by name (`listeners["edge"].filter_chains[0]...`).
  const keyed = /^(listeners|clusters)\["((?:[^"\\]|\\.)*)"\]([\s\S]*)$/.exec(err);
  if (keyed) {
    const kind = keyed[1] as 'listeners' | 'clusters';
    const i = indexByName(kind === 'listeners' ? listeners : clusters, keyed[2] as string);
    if (i >= 0) return `static_resources.${kind}[${i}]${keyed[3] as string}`;
  }
  if (/^static_resources[.:]/.test(err)) return err;
  const named = /^(listener|cluster)s?\s*(?:\[\s*)?['"]([^'"]*)['"]\s*\]?\s*(?::\s*|\.)([\s\S]*)$/.exec(err);
  if (named) {
    const kind = named[1] as 'listener' | 'cluster';
    const name = named[2] as string;
    const rest = named[3] as string;
    const i = indexByName(kind === 'listener' ? listeners : clusters, name);
    if (i >= 0) {
      const base = `static_resources.${kind}s[${i}]`;
      // `listener "x": filter_chains[0]...: msg` keeps its inner path; `listener "x": msg` does not have one.
      return /^[a-z_A-Z]+(\[\d+\])?[.[:]/.test(rest) && !rest.startsWith('http') ? `${base}.${rest}` : `${base}: ${rest}`;
    }
  }
  return `static_resources: ${err}`;
}
