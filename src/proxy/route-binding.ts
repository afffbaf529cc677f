// The bridge from the data path to the route model's compiler (src/route). Resolved lazily so the
// data path can be compiled and tested on its own.

import type { RouteCompiler } from './route-contract';

let cached: RouteCompiler | null = null;

export function defaultRouteCompiler(): RouteCompiler {
  if (cached !== null) return cached;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('../route/route-table') as { compileRouteConfiguration: RouteCompiler };
  cached = mod.compileRouteConfiguration;
  return cached;
}
