// The bridge from the data path to the route model's compiler (src/route). The assignment below
// is also the compile-time check that route/'s RouteTable satisfies the narrow RouteTableView the
// proxy reads.

import { compileRouteConfiguration, type CompileOptions } from '../route/route-table';
import type { RouteCompiler } from './route-contract';

const COMPILER: RouteCompiler = (raw, opts) => compileRouteConfiguration(raw, (opts ?? {}) as CompileOptions);

export function defaultRouteCompiler(): RouteCompiler {
  return COMPILER;
}
