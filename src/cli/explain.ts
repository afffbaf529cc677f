// `weir explain`: which virtual host, route, weighted pick, cluster and endpoints a request would
// get, and why, from any config source: an Envoy bootstrap (-c), Istio YAML (--istio), or an Envoy
// /config_dump (--config-dump, from weir or from Envoy itself). Nothing is started: the config is
// compiled exactly as `weir serve` compiles it and the route table's explain trace is printed.

import { readFileSync } from 'node:fs';
import { ConfigError, UsageError } from '../errors';
import { loadBootstrap } from '../config/bootstrap';
import { loadIstioFiles, translateIstio } from '../config/istio';
import type { Resource, ResourceSet } from '../config/resources';
import { compileSnapshot } from '../proxy/snapshot';
import { chooseListener, clusterInfos, explainRequest, formatExplanation, type ExplainRequest } from '../admin/explain';

export const EXPLAIN_USAGE = `usage: weir explain (-c <bootstrap> | --istio <file-or-dir>... | --config-dump <file>)
                    --authority <host> [--path <path>] [--method <m>] [-H 'name: value']...
                    [--random <uint32>] [--listener <name|port>] [--json]

Shows which virtual host and route a request matches (every condition of every route tried, with
pass/fail and why), the weighted pick (mode, value or bucket, interval), the cluster and the
endpoints it leads to with their version label, and the config version.
  -c, --config-path  Envoy v3 bootstrap (static_resources)
  --istio            Istio VirtualService / DestinationRule / ServiceEntry YAML (files or directories)
  --config-dump      an Envoy admin /config_dump JSON (weir's or Envoy's)
  --authority        the Host / :authority (required)
  --path             the :path with query (default /)
  -H, --header       a request header line; repeatable (e.g. -H 'cookie: tenantGray=1')
  --random           the request's random value for random picks and runtime_fraction (default 0)
  --listener         which listener, by name or port (default: the one whose port is in the
                     authority, else the first whose routes know the authority)
  --json             print the explanation as JSON`;

interface ExplainArgs {
  configPath?: string;
  istio: string[];
  configDump?: string;
  request: ExplainRequest;
  listener?: string;
  json: boolean;
}

export function parseExplainArgs(argv: readonly string[]): ExplainArgs | 'help' {
  const out: ExplainArgs = { istio: [], request: { authority: '', path: '/', headers: [] }, json: false };
  const headers: [string, string][] = [];
  let authority: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`explain: ${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '-c':
      case '--config-path':
        out.configPath = value();
        break;
      case '--istio':
        out.istio.push(value());
        // Further bare arguments are more Istio files (`--istio a.yaml b.yaml`).
        while (i + 1 < argv.length && !(argv[i + 1] as string).startsWith('-')) out.istio.push(argv[++i] as string);
        break;
      case '--config-dump':
        out.configDump = value();
        break;
      case '--authority':
        authority = value();
        break;
      case '--path':
        out.request.path = value();
        break;
      case '--method':
        out.request.method = value();
        break;
      case '-H':
      case '--header': {
        const h = value();
        const c = h.indexOf(':', h.startsWith(':') ? 1 : 0);
        if (c <= 0) throw new UsageError(`explain: header ${JSON.stringify(h)} must be 'name: value'`);
        headers.push([h.slice(0, c).trim(), h.slice(c + 1).trim()]);
        break;
      }
      case '--random': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new UsageError(`explain: --random must be an integer 0..4294967295, got ${JSON.stringify(v)}`);
        out.request.random = Number(v);
        break;
      }
      case '--listener':
        out.listener = value();
        break;
      case '--json':
        out.json = true;
        break;
      default:
        throw new UsageError(`explain: unknown argument ${JSON.stringify(a)}\n${EXPLAIN_USAGE}`);
    }
  }
  const sources = [out.configPath !== undefined, out.istio.length > 0, out.configDump !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new UsageError(`explain: give exactly one of -c, --istio, --config-dump\n${EXPLAIN_USAGE}`);
  if (authority === undefined || authority === '') throw new UsageError(`explain: --authority is required\n${EXPLAIN_USAGE}`);
  out.request.authority = authority;
  out.request.headers = headers;
  return out;
}

/** The resources of an Envoy admin ConfigDump (static and active dynamic), and its version. */
export function resourcesFromConfigDump(dump: unknown): ResourceSet {
  const configs = Array.isArray((dump as { configs?: unknown })?.configs) ? ((dump as { configs: unknown[] }).configs as Record<string, unknown>[]) : [];
  const listeners: Resource[] = [];
  const routes: Resource[] = [];
  const clusters: Resource[] = [];
  const clas: Resource[] = [];
  const versions: string[] = [];
  const list = (c: Record<string, unknown>, k: string): Record<string, unknown>[] => (Array.isArray(c[k]) ? (c[k] as Record<string, unknown>[]) : []);
  for (const c of configs) {
    const t = String(c['@type'] ?? '');
    if (typeof c.version_info === 'string' && c.version_info !== '') versions.push(c.version_info);
    if (t.endsWith('.ListenersConfigDump')) {
      for (const l of list(c, 'static_listeners')) if (l.listener) listeners.push(l.listener as Resource);
      for (const l of list(c, 'dynamic_listeners')) {
        const a = l.active_state as Record<string, unknown> | undefined;
        if (a?.listener) listeners.push(a.listener as Resource);
      }
    } else if (t.endsWith('.RoutesConfigDump')) {
      for (const r of list(c, 'dynamic_route_configs')) if (r.route_config) routes.push(r.route_config as Resource);
    } else if (t.endsWith('.ClustersConfigDump')) {
      for (const k of ['static_clusters', 'dynamic_active_clusters']) for (const x of list(c, k)) if (x.cluster) clusters.push(x.cluster as Resource);
    } else if (t.endsWith('.EndpointsConfigDump')) {
      for (const k of ['static_endpoint_configs', 'dynamic_endpoint_configs']) for (const x of list(c, k)) if (x.endpoint_config) clas.push(x.endpoint_config as Resource);
    }
  }
  return { listeners, routeConfigurations: routes, clusters, clusterLoadAssignments: clas, versionInfo: versions[0] ?? 'config_dump' };
}

async function loadSet(a: ExplainArgs): Promise<ResourceSet> {
  if (a.configPath !== undefined) {
    const b = loadBootstrap({ configPath: a.configPath, compile: false });
    if (b.errors) throw new ConfigError(b.errors);
    return b.value.resources;
  }
  if (a.configDump !== undefined) {
    let dump: unknown;
    try {
      dump = JSON.parse(readFileSync(a.configDump, 'utf8'));
    } catch (e) {
      throw new ConfigError([`${a.configDump}: ${(e as Error).message}`]);
    }
    return resourcesFromConfigDump(dump);
  }
  const docs = await loadIstioFiles(a.istio);
  const tr = translateIstio(docs);
  if (tr.errors) throw new ConfigError(tr.errors);
  return { ...tr.value.resources, versionInfo: tr.value.resources.versionInfo || `istio ${tr.value.version}` };
}

export async function main(argv: string[]): Promise<number> {
  const a = parseExplainArgs(argv);
  if (a === 'help') {
    process.stdout.write(EXPLAIN_USAGE + '\n');
    return 0;
  }
  const set = await loadSet(a);
  const r = compileSnapshot(set);
  if (r.errors) throw new ConfigError(r.errors);
  const lt = chooseListener(r.value, a.request, a.listener);
  const x = explainRequest(lt, clusterInfos(r.value), a.request, set.versionInfo);
  process.stdout.write(a.json ? JSON.stringify(x, null, 2) + '\n' : formatExplanation(x));
  return 0;
}
