// One compile per RouteConfiguration the control plane sends. The ADS client validates a candidate
// config by compiling it (compileSnapshot) and, once accepted, the ProxyServer compiles it again to
// serve it; with 1,000 routes each compile costs several ms. The ADS client hands both calls the
// same decoded RouteConfiguration object (a resource that did not change keeps its identity across
// responses), so a compile result can be remembered by that object: the second compile, and every
// update that leaves the route config alone (a CDS or EDS push), reuse the first.
// This is what Envoy does too: an RDS config (Router::ConfigImpl) is built once per RDS update and
// shared by every listener and worker until the next RDS update, whatever else changes.
// A route table is immutable apart from the picker state of weir's smooth / sticky modes, which is
// meant to persist for as long as the route config does.
import type { RouteCompiler, RouteTableView } from '../proxy/route-contract';
import type { Validated } from '../route/types';

/** Wraps `compile` so that compiling the same raw object with the same options twice compiles once. */
export function cachedRouteCompiler(compile: RouteCompiler): RouteCompiler & { readonly stats: { hits: number; misses: number } } {
  const cache = new WeakMap<object, { opts: unknown; result: Validated<RouteTableView> }>();
  const stats = { hits: 0, misses: 0 };
  const cached = (raw: unknown, opts: unknown): Validated<RouteTableView> => {
    if (typeof raw !== 'object' || raw === null) return compile(raw, opts);
    const hit = cache.get(raw);
    if (hit !== undefined && hit.opts === opts) {
      stats.hits++;
      return hit.result;
    }
    stats.misses++;
    const result = compile(raw, opts);
    cache.set(raw, { opts, result });
    return result;
  };
  return Object.assign(cached, { stats });
}
