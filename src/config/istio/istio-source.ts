// The Istio YAML config source as one object (issue 5 sections 1 and 3): load and translate the
// files, then watch them and translate every change whole. A valid change is handed over as a new
// ResourceSet (to be compiled and swapped in as one snapshot); an invalid one is reported and
// changes nothing, so the last good config keeps serving, and saving the old content again is the
// rollback. Nothing of a rejected or previous version can survive: every update is a complete
// translation of the files as they are now.

import { ConfigError } from '../../errors';
import { loadIstioFiles } from './load-istio-files';
import { istioVersion, translateIstio, type IstioTranslation } from './translate-istio';
import type { IstioOptions } from './types';
import { watchIstio } from './watch-istio';

export interface IstioSourceHandlers {
  /** A valid change: apply `t.resources` as one new snapshot; log `t.version` as the live version. */
  onUpdate(t: IstioTranslation): void;
  /** An invalid change: nothing changes; log the errors (each names file, document, field path). */
  onReject(errors: readonly string[], version: string): void;
  /** Files that cannot be read (deleted, permissions): nothing changes either. */
  onError?(err: Error): void;
}

export interface IstioConfigSource {
  /** The translation the source started with. */
  readonly initial: IstioTranslation;
  /** Version of the config last handed to onUpdate (or the initial one). */
  readonly liveVersion: string;
  close(): void;
}

/**
 * Loads, translates and starts watching `paths`. Rejects with ConfigError when the files cannot be
 * read or the initial config is invalid (weir must not start on a half config).
 */
export async function startIstioSource(
  paths: readonly string[],
  opts: IstioOptions,
  handlers: IstioSourceHandlers,
): Promise<IstioConfigSource> {
  const docs = await loadIstioFiles(paths);
  const first = translateIstio(docs, opts);
  if (first.errors) throw new ConfigError(first.errors);
  let live = first.value.version;
  const watch = watchIstio(
    paths,
    (changed) => {
      const r = translateIstio(changed, opts);
      if (r.errors) {
        handlers.onReject(r.errors, istioVersion(changed));
        return;
      }
      live = r.value.version;
      handlers.onUpdate(r.value);
    },
    { version: first.value.version, onError: (e) => handlers.onError?.(e) },
  );
  return {
    initial: first.value,
    get liveVersion() {
      return live;
    },
    close: () => watch.close(),
  };
}
