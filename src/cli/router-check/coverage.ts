// Route coverage as router_check_tool computes it (test/tools/router_check/coverage.cc).
//
// A "covered route" is created the first time a check on a route passes; its identity is Envoy's
// route object: the route itself, or for weighted_clusters one object per cluster (so
// `num_routes` counts each weighted cluster), and for cluster_header a fresh DynamicRouteEntry on
// every lookup (so each passing check on such a route adds one more). Plain coverage is
// covered routes / num_routes; `--covall` sums, per covered route, the fraction of its fields
// checked (cluster, virtual cluster, virtual host, path rewrite, host rewrite; or redirect path
// and code for redirects and direct responses).

import { isObject } from '../../util/proto-json';
import { printTextProto } from './text-format-printer';

export type CoverageField =
  | 'cluster'
  | 'virtualCluster'
  | 'virtualHost'
  | 'pathRewrite'
  | 'hostRewrite'
  | 'redirectPath'
  | 'redirectCode';

const ROUTE_FIELDS: readonly CoverageField[] = ['cluster', 'virtualCluster', 'virtualHost', 'pathRewrite', 'hostRewrite'];
const DIRECT_RESPONSE_FIELDS: readonly CoverageField[] = ['redirectPath', 'redirectCode'];

export class RouteCoverage {
  readonly routeName: string;
  readonly #fields: readonly CoverageField[];
  readonly #covered = new Set<CoverageField>();

  constructor(routeName: string, directResponse: boolean) {
    this.routeName = routeName;
    this.#fields = directResponse ? DIRECT_RESPONSE_FIELDS : ROUTE_FIELDS;
  }

  mark(field: CoverageField): void {
    this.#covered.add(field);
  }

  /** RouteCoverage::report: the share of this route's fields that some passing check covered. */
  report(): number {
    let n = 0;
    for (const fld of this.#fields) if (this.#covered.has(fld)) n++;
    return this.#fields.length === 0 ? 0 : n / this.#fields.length;
  }
}

/** The route config as given (after the tool's renaming), for counting and for reports. */
export interface CoverageHost {
  readonly name: string;
  readonly routes: ReadonlyArray<{ readonly name: string; readonly match: unknown; readonly weightedClusters: number }>;
}

export class Coverage {
  readonly #hosts: readonly CoverageHost[];
  readonly #covered: RouteCoverage[] = [];
  readonly #byIdentity = new Map<unknown, RouteCoverage>();

  constructor(hosts: readonly CoverageHost[]) {
    this.#hosts = hosts;
  }

  /**
   * Marks `field` covered on the route identified by `identity` (an object compared by
   * reference, like Envoy's `RouteConstSharedPtr`). Pass a fresh object for routes Envoy
   * re-creates per lookup (cluster_header).
   */
  mark(identity: unknown, routeName: string, directResponse: boolean, field: CoverageField): void {
    let rc = this.#byIdentity.get(identity);
    if (rc === undefined) {
      rc = new RouteCoverage(routeName, directResponse);
      this.#byIdentity.set(identity, rc);
      this.#covered.push(rc);
    }
    rc.mark(field);
  }

  #numRoutes(): { num: number; names: Set<string> } {
    let num = 0;
    const names = new Set<string>();
    for (const h of this.#hosts) {
      for (const r of h.routes) {
        num += r.weightedClusters > 0 ? r.weightedClusters : 1;
        names.add(r.name);
      }
    }
    return { num, names };
  }

  #missing(names: Set<string>): Set<string> {
    const covered = new Set(this.#covered.map((c) => c.routeName));
    const missing = new Set<string>();
    for (const n of names) if (!covered.has(n)) missing.add(n);
    return missing;
  }

  /** Coverage::report: covered routes / routes; with `detailed`, lists uncovered routes by name. */
  report(detailed: boolean, out: (line: string) => void): number {
    const { num, names } = this.#numRoutes();
    if (detailed) {
      const missing = this.#missing(names);
      for (const h of this.#hosts) {
        for (const r of h.routes) {
          if (missing.has(r.name)) out(`Missing test for host: ${h.name}, route name: ${r.name}`);
        }
      }
    }
    return (100 * this.#covered.length) / num;
  }

  /** Coverage::comprehensiveReport (`--covall`): field-weighted, lists uncovered routes' matches. */
  comprehensiveReport(out: (line: string) => void): number {
    const { num, names } = this.#numRoutes();
    let cumulative = 0;
    for (const c of this.#covered) cumulative += c.report();
    const missing = this.#missing(names);
    for (const h of this.#hosts) {
      for (const r of h.routes) {
        if (missing.has(r.name)) {
          // Protobuf::TextFormat::PrintToString(route.match()) ends with a newline; the tool then
          // adds std::endl, so the report has a blank line after each entry, as Envoy's does.
          out(`Missing test for host: ${h.name}, route: ${printTextProto(isObject(r.match) ? r.match : {}, 'RouteMatch')}`);
        }
      }
    }
    return (100 * cumulative) / num;
  }
}

/**
 * A double as `std::ostream << double` prints it by default (precision 6, `%g`): `100`, `33.3333`,
 * `7.44863`, `1e-05`.
 */
export function formatCppDouble(x: number): string {
  if (Number.isNaN(x)) return x < 0 ? '-nan' : 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const precision = 6;
  const [mant, expStr] = x.toExponential(precision - 1).split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= precision) {
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const sign = exp < 0 ? '-' : '+';
    const abs = Math.abs(exp);
    return `${m}e${sign}${abs < 10 ? '0' + abs : String(abs)}`;
  }
  const fixed = x.toFixed(Math.max(0, precision - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}
