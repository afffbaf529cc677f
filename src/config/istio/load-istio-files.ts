// Reading the files `weir --istio` names: files as given, directories as their *.yaml / *.yml
// files (not recursive, sorted, so the input order and the version hash are stable).

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../errors';
import type { IstioSource } from './types';

export const YAML_FILE = /\.ya?ml$/i;

/** The files a path list stands for: files as given, directories expanded to their YAML files. */
export async function expandIstioPaths(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const errors: string[] = [];
  for (const path of paths) {
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      errors.push(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
      continue;
    }
    if (st.isDirectory()) {
      const names = (await readdir(path)).filter((n) => YAML_FILE.test(n) && !n.startsWith('.')).sort();
      for (const n of names) out.push(join(path, n));
    } else out.push(path);
  }
  if (errors.length > 0) throw new ConfigError(errors);
  return out;
}

/** Reads every file of `paths` (files or directories of *.yaml|*.yml). Throws ConfigError naming unreadable paths. */
export async function loadIstioFiles(paths: readonly string[]): Promise<IstioSource[]> {
  const files = await expandIstioPaths(paths);
  const out: IstioSource[] = [];
  const errors: string[] = [];
  for (const file of files) {
    try {
      out.push({ file, text: await readFile(file, 'utf8') });
    } catch (e) {
      errors.push(`${file}: ${(e as Error).message}`);
    }
  }
  if (errors.length > 0) throw new ConfigError(errors);
  return out;
}
