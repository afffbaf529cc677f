// The package root, found upwards from this file, so that it is the same from test/ (tsx) and
// from dist/test/ (tap): the nearest directory holding both package.json and tsconfig.json.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findRoot(dir: string): string {
  for (let d = dir, i = 0; i < 6; i++, d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'tsconfig.json'))) return d;
  }
  throw new Error(`package root not found above ${dir}`);
}

export const REPO_ROOT = findRoot(__dirname);
