// VirtualService `http` -> Envoy routes for one listener port, following istiod's
// pilot/pkg/networking/core/route/route.go (BuildHTTPRoutesForVirtualService, translateRoute,
// TranslateRouteMatch, applyHTTPRouteDestination) and route/retry/retry.go (ConvertPolicy).

import type { Resource } from '../resources';
import {
  ANNOTATION_PICK_MODE,
  ANNOTATION_STICKY_KEY,
  type IstioConfig,
  type PickMode,
  type StickyKey,
} from './types';
import {
  asArray,
  checkFields,
  checkRegex,
  durationField,
  get,
  isObj,
  type Obj,
  percentField,
  Problems,
  stringMap,
  stringMatch,
} from './istio-values';
import { consistentHashFor, type DestinationRules } from './destination-rules';
import { resolveHost, type ServiceRegistry } from './service-registry';

export interface RouteContext {
  readonly registry: ServiceRegistry;
  readonly rules: DestinationRules;
  readonly problems: Problems;
  readonly defaultPickMode: PickMode | undefined;
  readonly defaultStickyKey: StickyKey | undefined;
}

const HTTP_ROUTE_FIELDS = [
  'name', 'match', 'route', 'redirect', 'directResponse', 'delegate', 'rewrite', 'timeout', 'retries', 'fault',
  'mirror', 'mirrors', 'mirrorPercent', 'mirrorPercentage', 'corsPolicy', 'headers',
];
const MATCH_FIELDS = [
  'name', 'uri', 'scheme', 'method', 'authority', 'headers', 'port', 'sourceLabels', 'gateways', 'queryParams',
  'ignoreUriCase', 'withoutHeaders', 'sourceNamespace', 'statPrefix',
];
const ROUTE_DEST_FIELDS = ['destination', 'weight', 'headers'];
const DEST_FIELDS = ['host', 'subset', 'port'];
const RETRY_FIELDS = ['attempts', 'perTryTimeout', 'retryOn', 'retryRemoteLocalities', 'retryIgnorePreviousHosts', 'backoff'];
const VS_FIELDS = ['hosts', 'gateways', 'http', 'tls', 'tcp', 'exportTo'];

export const VS_SPEC_FIELDS = VS_FIELDS;

/** istiod retry.DefaultPolicy: `envoy.retry_host_predicates.previous_hosts` so retries prefer another host. */
const RETRY_PREVIOUS_HOSTS = Object.freeze({
  name: 'envoy.retry_host_predicates.previous_hosts',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' },
});
const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
const REDIRECT_CODES: { [code: number]: string } = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};
const HTTP_FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const CORS_POLICY = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';

/** `outbound|<port>|<subset>|<host>` (istiod model.BuildSubsetKey). */
export function clusterName(port: number, subset: string, host: string): string {
  return `outbound|${port}|${subset}|${host}`;
}

/**
 * The routes of `vs` on `listenPort` (istiod BuildHTTPRoutesForVirtualService): one route per match
 * block, in order; nothing after a catch-all. Problems are reported into `ctx.problems` (deduplicated,
 * so translating the same VirtualService for several ports reports each problem once).
 */
export function buildHttpRoutes(ctx: RouteContext, vs: IstioConfig, listenPort: number): Resource[] {
  const p = ctx.problems;
  const out: Resource[] = [];
  // Annotations are checked even when no route is weighted; a default sticky mode only matters
  // (and only needs a key) where there is a weighted route.
  let pickDone = false;
  let pickValue: PickMeta | undefined;
  const pick = (): PickMeta | undefined => {
    if (!pickDone) {
      pickDone = true;
      pickValue = pickMetadata(ctx, vs);
    }
    return pickValue;
  };
  if (vs.annotations[ANNOTATION_PICK_MODE] !== undefined || vs.annotations[ANNOTATION_STICKY_KEY] !== undefined) pick();
  const http = asArray(p, vs, 'spec.http', vs.spec.http);
  // Routes after a catch-all can never match and are not emitted, but they are still validated
  // (Istio's webhook checks every http entry).
  let emit = true;
  for (let i = 0; i < http.length; i++) {
    const in_ = http[i];
    const path = `spec.http[${i}]`;
    if (!isObj(in_)) {
      p.error(vs, path, 'must be an HTTPRoute');
      continue;
    }
    checkFields(p, vs, path, in_, HTTP_ROUTE_FIELDS);
    const matches = asArray(p, vs, `${path}.match`, in_.match);
    if (matches.length === 0) {
      const r = translateRoute(ctx, vs, in_, path, undefined, '', listenPort, pick);
      if (r && emit) out.push(r);
      emit = false;
    } else {
      for (let j = 0; j < matches.length; j++) {
        const r = translateRoute(ctx, vs, in_, path, matches[j], `${path}.match[${j}]`, listenPort, pick);
        if (r && emit) {
          out.push(r);
          if (isCatchAll(r)) emit = false;
        }
      }
    }
  }
  return out;
}

/** istiod IsCatchAllRoute: prefix `/` (or regex `.*`) with no header, query or metadata condition. */
function isCatchAll(r: Resource): boolean {
  const m = r.match as Obj;
  const catchall = m.prefix === '/' || (isObj(m.safe_regex) && m.safe_regex.regex === '.*');
  return catchall && !m.headers && !m.query_parameters;
}

interface PickMeta {
  pick_mode: PickMode;
  sticky_key?: StickyKey;
}

/** weir extension: `weir.io/pick-mode` / `weir.io/sticky-key` annotations -> route `metadata.filter_metadata.weir`. */
function pickMetadata(ctx: RouteContext, vs: IstioConfig): PickMeta | undefined {
  const p = ctx.problems;
  const rawMode = vs.annotations[ANNOTATION_PICK_MODE];
  const rawKey = vs.annotations[ANNOTATION_STICKY_KEY];
  let mode = ctx.defaultPickMode;
  let key = ctx.defaultStickyKey;
  const path = `metadata.annotations["${ANNOTATION_PICK_MODE}"]`;
  if (rawMode !== undefined) {
    if (rawMode !== 'sticky' && rawMode !== 'smooth' && rawMode !== 'random') {
      p.error(vs, path, `must be sticky, smooth or random, got "${rawMode}"`);
      return undefined;
    }
    mode = rawMode;
  }
  if (rawKey !== undefined) {
    const m = /^(cookie|header):(.+)$/.exec(rawKey.trim());
    if (!m) {
      p.error(vs, `metadata.annotations["${ANNOTATION_STICKY_KEY}"]`, `must be cookie:<name> or header:<name>, got "${rawKey}"`);
      return undefined;
    }
    key = m[1] === 'cookie' ? { cookie: m[2] as string } : { header: (m[2] as string).toLowerCase() };
  }
  if (mode === undefined) return undefined;
  if (mode === 'sticky') {
    if (!key) {
      if (rawMode === undefined) {
        p.error(vs, 'metadata.annotations', `the default pick mode is sticky but no key is set: add annotation ${ANNOTATION_STICKY_KEY}: cookie:<name> or header:<name>, or a default sticky key`);
      } else p.error(vs, path, `sticky needs a key: add annotation ${ANNOTATION_STICKY_KEY}: cookie:<name> or header:<name>`);
      return undefined;
    }
    return { pick_mode: mode, sticky_key: key };
  }
  return { pick_mode: mode };
}

function translateRoute(
  ctx: RouteContext,
  vs: IstioConfig,
  in_: Obj,
  path: string,
  match: unknown,
  matchPath: string,
  listenPort: number,
  pick: () => PickMeta | undefined,
): Resource | undefined {
  const p = ctx.problems;
  if (match !== undefined && !isObj(match)) {
    p.error(vs, matchPath, 'must be an HTTPMatchRequest');
    return undefined;
  }
  if (match) {
    checkFields(p, vs, matchPath, match, MATCH_FIELDS);
    // Match by the destination port of the listener (istiod translateRoute).
    const port = match.port;
    if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)) {
      p.error(vs, `${matchPath}.port`, `must be a port number, got ${JSON.stringify(port)}`);
    }
    if (typeof port === 'number' && port !== 0 && listenPort !== 0 && port !== listenPort) return undefined;
    // sourceLabels/sourceNamespace select client workloads; weir is no workload, so such a block never applies.
    if (get(match, 'sourceLabels') !== undefined || get(match, 'sourceNamespace') !== undefined) {
      p.note(vs, matchPath, 'sourceLabels/sourceNamespace select client workloads; weir has none, so this match block is skipped');
      return undefined;
    }
  }
  let name = typeof in_.name === 'string' ? in_.name : '';
  if (match && typeof match.name === 'string' && match.name !== '') name = `${name}.${match.name}`;

  const out: Resource = {};
  if (name) out.name = name;
  out.match = translateRouteMatch(p, vs, match, matchPath);
  // istiod util.BuildConfigInfoMetadata: which config produced this route.
  const meta: Obj = { istio: { config: `/apis/${vs.apiVersion}/namespaces/${vs.namespace}/virtual-service/${vs.name}` } };
  out.metadata = { filter_metadata: meta };

  let authority = '';
  const headers = in_.headers;
  if (headers !== undefined) {
    const ops = translateHeadersOperations(p, vs, `${path}.headers`, headers);
    assignHeaderOps(out, ops);
    authority = ops.authority;
  }

  const redirect = in_.redirect;
  const direct = get(in_, 'directResponse');
  const routes = asArray(p, vs, `${path}.route`, in_.route);
  const delegate = in_.delegate;
  if (delegate !== undefined) p.error(vs, `${path}.delegate`, 'delegate VirtualServices are not supported by weir');
  const actions = [routes.length > 0, redirect !== undefined, direct !== undefined].filter(Boolean).length;
  if (actions === 0 && delegate === undefined) p.error(vs, path, 'one of route, redirect or directResponse is required');
  if (actions > 1) p.error(vs, path, 'only one of route, redirect or directResponse may be set');
  if (in_.rewrite !== undefined && redirect !== undefined) p.error(vs, `${path}.rewrite`, 'rewrite may not be used with redirect');

  let operationCluster: string | undefined;
  if (redirect !== undefined) {
    applyRedirect(p, vs, `${path}.redirect`, out, redirect, listenPort);
  } else if (direct !== undefined) {
    applyDirectResponse(p, vs, `${path}.directResponse`, out, direct);
  } else {
    operationCluster = applyRouteDestination(ctx, vs, path, in_, routes, out, authority, listenPort, pick);
  }

  out.decorator = { operation: routeOperation(out, operationCluster, vs.name, listenPort) };

  const perFilter: Obj = {};
  if (in_.fault !== undefined) {
    const f = translateFault(p, vs, `${path}.fault`, in_.fault);
    if (f) perFilter[FAULT_FILTER] = f;
  }
  const cors = get(in_, 'corsPolicy');
  if (cors !== undefined) {
    const c = translateCors(p, vs, `${path}.corsPolicy`, cors);
    if (c) perFilter[CORS_FILTER] = c;
  }
  if (Object.keys(perFilter).length > 0) out.typed_per_filter_config = perFilter;
  return out;
}

/** istiod GetRouteOperation: `host:port/path*` for one cluster, else `<vs>:<port>/path*`. */
function routeOperation(r: Resource, cluster: string | undefined, vsName: string, port: number): string {
  const m = r.match as Obj;
  let path = '/*';
  if (typeof m.prefix === 'string') path = m.prefix + '*';
  else if (typeof m.path === 'string') path = m.path;
  else if (isObj(m.safe_regex)) path = String(m.safe_regex.regex);
  if (cluster) {
    const parts = cluster.split('|');
    if (parts.length === 4) return `${parts[3]}:${parts[1]}${path}`;
  }
  return `${vsName}:${port}${path}`;
}

// ---- match ------------------------------------------------------------------------------------

function headerMatcher(p: Problems, vs: IstioConfig, path: string, name: string, sm: unknown): Obj {
  const out: Obj = { name };
  // `regex: "*"` (not RE2) and an empty StringMatch mean "present" (istio/istio#20629).
  if (sm === null || sm === undefined || (isObj(sm) && (Object.keys(sm).length === 0 || sm.regex === '*'))) {
    out.present_match = true;
    return out;
  }
  const m = stringMatch(p, vs, path, sm);
  if (m) out.string_match = m;
  return out;
}

/** istiod TranslateRouteMatch. */
function translateRouteMatch(p: Problems, vs: IstioConfig, in_: Obj | undefined, path: string): Obj {
  const out: Obj = { prefix: '/' };
  if (!in_) return out;
  const headers: Obj[] = [];
  const h = in_.headers;
  if (h !== undefined) {
    if (!isObj(h)) p.error(vs, `${path}.headers`, 'must be a map of header name to StringMatch');
    else {
      for (const [name, sm] of Object.entries(h)) {
        if (name.startsWith('@request.auth.claims')) {
          p.error(vs, `${path}.headers.${name}`, 'JWT claim matching needs RequestAuthentication, which weir does not implement');
          continue;
        }
        headers.push(headerMatcher(p, vs, `${path}.headers.${name}`, name.toLowerCase(), sm));
      }
    }
  }
  const wh = get(in_, 'withoutHeaders');
  if (wh !== undefined) {
    if (!isObj(wh)) p.error(vs, `${path}.withoutHeaders`, 'must be a map of header name to StringMatch');
    else {
      for (const [name, sm] of Object.entries(wh)) {
        const m = headerMatcher(p, vs, `${path}.withoutHeaders.${name}`, name.toLowerCase(), sm);
        m.invert_match = true;
        // treat_missing_header_as_empty conflicts with present_match (istiod).
        if (!m.present_match) m.treat_missing_header_as_empty = true;
        headers.push(m);
      }
    }
  }
  // istiod sorts header matchers by name so the output is stable.
  headers.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));

  const uri = in_.uri;
  if (uri !== undefined) {
    const m = stringMatch(p, vs, `${path}.uri`, uri);
    if (m && 'exact' in m) {
      delete out.prefix;
      out.path = m.exact;
    } else if (m && 'prefix' in m) out.prefix = m.prefix;
    else if (m && 'safe_regex' in m) {
      delete out.prefix;
      out.safe_regex = m.safe_regex;
    }
  }
  const ignoreCase = get(in_, 'ignoreUriCase');
  if (ignoreCase !== undefined && typeof ignoreCase !== 'boolean') p.error(vs, `${path}.ignoreUriCase`, 'must be a boolean');
  out.case_sensitive = ignoreCase !== true;

  if (in_.method !== undefined) headers.push(headerMatcher(p, vs, `${path}.method`, ':method', in_.method));
  if (in_.authority !== undefined) headers.push(headerMatcher(p, vs, `${path}.authority`, ':authority', in_.authority));
  if (in_.scheme !== undefined) headers.push(headerMatcher(p, vs, `${path}.scheme`, ':scheme', in_.scheme));
  if (headers.length > 0) out.headers = headers;

  const qp = get(in_, 'queryParams');
  if (qp !== undefined) {
    if (!isObj(qp)) p.error(vs, `${path}.queryParams`, 'must be a map of parameter name to StringMatch');
    else {
      const qs: Obj[] = [];
      for (const name of Object.keys(qp).sort()) {
        const m = headerMatcher(p, vs, `${path}.queryParams.${name}`, name, qp[name]);
        qs.push(m);
      }
      if (qs.length > 0) out.query_parameters = qs;
    }
  }
  if (get(in_, 'gateways') !== undefined) p.note(vs, `${path}.gateways`, 'ignored: weir applies every VirtualService as the mesh gateway');
  return out;
}

// ---- headers ----------------------------------------------------------------------------------

interface HeaderOps {
  request_headers_to_add: Obj[];
  request_headers_to_remove: string[];
  response_headers_to_add: Obj[];
  response_headers_to_remove: string[];
  authority: string;
}

function isInternalHeader(k: string): boolean {
  return k.startsWith(':') || k.toLowerCase() === 'host';
}

/** istiod translateAppendHeaders: sorted by key, pseudo-headers and host dropped (authority kept aside). */
function appendHeaders(p: Problems, vs: IstioConfig, path: string, v: unknown, append: boolean): { list: Obj[]; authority: string } {
  const map = stringMap(p, vs, path, v);
  let authority = '';
  const list: Obj[] = [];
  for (const key of Object.keys(map).sort()) {
    const value = map[key] as string;
    if (key.toLowerCase() === ':authority' || key.toLowerCase() === 'host') authority = value;
    if (isInternalHeader(key)) continue;
    list.push({ header: { key, value }, append_action: append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD' });
  }
  return { list, authority };
}

function removeList(p: Problems, vs: IstioConfig, path: string, v: unknown): string[] {
  return asArray(p, vs, path, v)
    .filter((k): k is string => {
      if (typeof k !== 'string') p.error(vs, path, 'header names must be strings');
      return typeof k === 'string';
    })
    .filter((k) => !isInternalHeader(k));
}

/** istiod TranslateHeadersOperations. */
function translateHeadersOperations(p: Problems, vs: IstioConfig, path: string, headers: unknown): HeaderOps {
  const ops: HeaderOps = { request_headers_to_add: [], request_headers_to_remove: [], response_headers_to_add: [], response_headers_to_remove: [], authority: '' };
  if (!isObj(headers)) {
    p.error(vs, path, 'must be {request: {set, add, remove}, response: {...}}');
    return ops;
  }
  checkFields(p, vs, path, headers, ['request', 'response']);
  const req = headers.request;
  const resp = headers.response;
  if (isObj(req)) {
    checkFields(p, vs, `${path}.request`, req, ['set', 'add', 'remove']);
    const set = appendHeaders(p, vs, `${path}.request.set`, req.set, false);
    const add = appendHeaders(p, vs, `${path}.request.add`, req.add, true);
    ops.request_headers_to_add = [...set.list, ...add.list];
    ops.request_headers_to_remove = removeList(p, vs, `${path}.request.remove`, req.remove);
    ops.authority = set.authority || add.authority;
  }
  if (isObj(resp)) {
    checkFields(p, vs, `${path}.response`, resp, ['set', 'add', 'remove']);
    const set = appendHeaders(p, vs, `${path}.response.set`, resp.set, false);
    const add = appendHeaders(p, vs, `${path}.response.add`, resp.add, true);
    ops.response_headers_to_add = [...set.list, ...add.list];
    ops.response_headers_to_remove = removeList(p, vs, `${path}.response.remove`, resp.remove);
  }
  return ops;
}

function assignHeaderOps(target: Obj, ops: HeaderOps, appendTo = false): void {
  for (const k of ['request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add', 'response_headers_to_remove'] as const) {
    const list = ops[k] as unknown[];
    if (list.length === 0) continue;
    const prev = appendTo && Array.isArray(target[k]) ? (target[k] as unknown[]) : [];
    target[k] = [...prev, ...list];
  }
}

// ---- destinations -----------------------------------------------------------------------------

interface DestinationRef {
  cluster: string;
  host: string;
}

/** Validates a Destination and names its cluster (istiod GetDestinationCluster). */
function destinationCluster(ctx: RouteContext, vs: IstioConfig, path: string, dst: unknown, listenPort: number): DestinationRef | undefined {
  const p = ctx.problems;
  if (!isObj(dst)) {
    p.error(vs, path, 'is required');
    return undefined;
  }
  checkFields(p, vs, path, dst, DEST_FIELDS);
  if (typeof dst.host !== 'string' || dst.host === '') {
    p.error(vs, `${path}.host`, 'is required');
    return undefined;
  }
  const host = resolveHost(dst.host, vs.namespace);
  const svc = ctx.registry.lookup(host);
  const subset = dst.subset === undefined ? '' : String(dst.subset);
  if (subset !== '') {
    const dr = ctx.rules.lookup(host);
    if (!dr) p.error(vs, `${path}.subset`, `subset "${subset}" of ${host} is not defined: no DestinationRule for this host`);
    else if (!dr.subsets.has(subset)) {
      p.error(vs, `${path}.subset`, `subset "${subset}" is not defined by DestinationRule ${dr.config.name} (subsets: ${[...dr.subsets.keys()].join(', ') || 'none'})`);
    }
  }
  let port = listenPort;
  const dp = dst.port;
  if (dp !== undefined) {
    const n = isObj(dp) ? dp.number : undefined;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
      p.error(vs, `${path}.port.number`, `must be a port number, got ${JSON.stringify(n)}`);
      return undefined;
    }
    port = n;
  } else if (svc && svc.ports.length === 1) {
    port = (svc.ports[0] as { number: number }).number;
  } else if (svc && svc.ports.length > 1 && !svc.ports.some((sp) => sp.number === listenPort)) {
    p.error(vs, `${path}.port`, `${host} has several ports (${svc.ports.map((sp) => sp.number).join(', ')}): destination.port is required`);
  }
  if (!svc) {
    p.note(vs, `${path}.host`, `no ServiceEntry declares ${host}: requests routed there answer 503 (cluster not found)`);
  } else if (!svc.ports.some((sp) => sp.number === port) && listenPort !== 0) {
    p.error(vs, `${path}.port`, `${host} has no port ${port} (ports: ${svc.ports.map((sp) => sp.number).join(', ')})`);
  }
  return { cluster: clusterName(port, subset, host), host };
}

/** istiod consistentHashToHashPolicy. */
function hashPolicy(ch: Obj | undefined): Obj | undefined {
  if (!ch) return undefined;
  const header = get(ch, 'httpHeaderName');
  if (typeof header === 'string') return { header: { header_name: header } };
  const cookie = get(ch, 'httpCookie');
  if (isObj(cookie)) {
    const c: Obj = { name: cookie.name };
    if (cookie.ttl !== undefined) c.ttl = durationField(new Problems(), 'x', 'ttl', cookie.ttl);
    if (typeof cookie.path === 'string') c.path = cookie.path;
    return { cookie: c };
  }
  if (get(ch, 'useSourceIp') === true) return { connection_properties: { source_ip: true } };
  const q = get(ch, 'httpQueryParameterName');
  if (typeof q === 'string') return { query_parameter: { name: q } };
  return undefined;
}

function destinationHash(ctx: RouteContext, vs: IstioConfig, dst: unknown): Obj | undefined {
  if (!isObj(dst) || typeof dst.host !== 'string') return undefined;
  const host = resolveHost(dst.host, vs.namespace);
  const port = isObj(dst.port) && typeof dst.port.number === 'number' ? dst.port.number : undefined;
  return hashPolicy(consistentHashFor(ctx.rules.lookup(host), dst.subset === undefined ? '' : String(dst.subset), port));
}

/** istiod applyHTTPRouteDestination. Returns the single cluster, if there is one (for the decorator). */
function applyRouteDestination(
  ctx: RouteContext,
  vs: IstioConfig,
  path: string,
  in_: Obj,
  routes: unknown[],
  out: Resource,
  authorityIn: string,
  listenPort: number,
  pick: () => PickMeta | undefined,
): string | undefined {
  const p = ctx.problems;
  let authority = authorityIn;
  const action: Obj = {};
  // Default timeout is disabled ("0s"), and so is the gRPC timeout header (istiod setTimeout).
  const timeout = in_.timeout === undefined ? '0s' : durationField(p, vs, `${path}.timeout`, in_.timeout) ?? '0s';
  action.timeout = timeout;
  action.max_grpc_timeout = timeout;

  const rewrite = in_.rewrite;
  if (rewrite !== undefined) {
    if (!isObj(rewrite)) p.error(vs, `${path}.rewrite`, 'must be {uri, authority, uriRegexRewrite}');
    else {
      checkFields(p, vs, `${path}.rewrite`, rewrite, ['uri', 'authority', 'uriRegexRewrite']);
      const rr = get(rewrite, 'uriRegexRewrite');
      if (rr !== undefined && rewrite.uri !== undefined) p.error(vs, `${path}.rewrite`, 'only one of uri or uriRegexRewrite may be set');
      if (isObj(rr)) {
        if (checkRegex(p, vs, `${path}.rewrite.uriRegexRewrite.match`, rr.match)) {
          action.regex_rewrite = { pattern: { regex: rr.match }, substitution: String(rr.rewrite ?? '') };
        }
      } else if (typeof rewrite.uri === 'string' && rewrite.uri !== '') {
        // For an exact `uri` match the matched prefix is the whole path, so this rewrites the whole path.
        action.prefix_rewrite = rewrite.uri;
      }
      if (typeof rewrite.authority === 'string' && rewrite.authority !== '') authority = rewrite.authority;
    }
  }
  if (authority !== '') action.host_rewrite_literal = authority;

  // Mirrors (istiod MirrorPercent / MirrorPercentByPolicy): 100% unless a percentage says otherwise; 0 disables.
  const mirrors: Obj[] = [];
  if (in_.mirror !== undefined) {
    const ref = destinationCluster(ctx, vs, `${path}.mirror`, in_.mirror, listenPort);
    const mp = mirrorFraction(p, vs, path, get(in_, 'mirrorPercentage'), get(in_, 'mirrorPercent'));
    if (ref && mp) mirrors.push({ cluster: ref.cluster, runtime_fraction: { default_value: mp }, trace_sampled: false });
  }
  asArray(p, vs, `${path}.mirrors`, in_.mirrors).forEach((m, i) => {
    const mpath = `${path}.mirrors[${i}]`;
    if (!isObj(m)) {
      p.error(vs, mpath, 'must be {destination, percentage}');
      return;
    }
    const ref = destinationCluster(ctx, vs, `${mpath}.destination`, m.destination, listenPort);
    const mp = mirrorFraction(p, vs, mpath, m.percentage, undefined);
    if (ref && mp) mirrors.push({ cluster: ref.cluster, runtime_fraction: { default_value: mp }, trace_sampled: false });
  });
  if (mirrors.length > 0) action.request_mirror_policies = mirrors;

  // Weights: Istio's validation requires a total of 100 when there is more than one destination.
  let total = 0;
  routes.forEach((d, j) => {
    if (!isObj(d)) return;
    const w = d.weight;
    if (w !== undefined && (typeof w !== 'number' || !Number.isInteger(w) || w < 0)) {
      p.error(vs, `${path}.route[${j}].weight`, `must be a non-negative integer, got ${JSON.stringify(w)}`);
    } else if (typeof w === 'number') total += w;
  });
  if (routes.length > 1 && total !== 100) p.error(vs, `${path}.route`, `weights sum to ${total}, must be 100`);

  const hashPolicies: Obj[] = [];
  let single: string | undefined;
  let consistentHash = false;
  if (routes.length === 1) {
    const d = routes[0];
    const dpath = `${path}.route[0]`;
    if (!isObj(d)) p.error(vs, dpath, 'must be an HTTPRouteDestination');
    else {
      checkFields(p, vs, dpath, d, ROUTE_DEST_FIELDS);
      const ref = destinationCluster(ctx, vs, `${dpath}.destination`, d.destination, listenPort);
      if (ref) {
        action.cluster = ref.cluster;
        single = ref.cluster;
      }
      if (d.headers !== undefined) {
        const ops = translateHeadersOperations(p, vs, `${dpath}.headers`, d.headers);
        assignHeaderOps(out, ops, true);
        if (ops.authority !== '' && action.host_rewrite_literal === undefined) action.host_rewrite_literal = ops.authority;
      }
      const hp = destinationHash(ctx, vs, d.destination);
      if (hp) {
        hashPolicies.push(hp);
        consistentHash = true;
      }
    }
  } else if (routes.length > 1) {
    const clusters: Obj[] = [];
    routes.forEach((d, j) => {
      const dpath = `${path}.route[${j}]`;
      if (!isObj(d)) {
        p.error(vs, dpath, 'must be an HTTPRouteDestination');
        return;
      }
      checkFields(p, vs, dpath, d, ROUTE_DEST_FIELDS);
      const ref = destinationCluster(ctx, vs, `${dpath}.destination`, d.destination, listenPort);
      // A weight of 0 is dropped when there are other destinations (istiod).
      if (!ref || d.weight === undefined || d.weight === 0) return;
      const cw: Obj = { name: ref.cluster, weight: d.weight };
      if (d.headers !== undefined) {
        const ops = translateHeadersOperations(p, vs, `${dpath}.headers`, d.headers);
        assignHeaderOps(cw, ops);
        if (ops.authority !== '') cw.host_rewrite_literal = ops.authority;
      }
      clusters.push(cw);
      const hp = destinationHash(ctx, vs, d.destination);
      if (hp) hashPolicies.push(hp);
    });
    action.weighted_clusters = { clusters };
    const pm = pick();
    if (pm) (out.metadata as { filter_metadata: Obj }).filter_metadata.weir = { ...pm };
  }
  if (hashPolicies.length > 0) action.hash_policy = hashPolicies;

  const retry = convertRetryPolicy(p, vs, `${path}.retries`, in_.retries, consistentHash);
  if (retry) action.retry_policy = retry;
  out.route = action;
  return single;
}

function mirrorFraction(p: Problems, vs: IstioConfig, path: string, percentage: unknown, legacy: unknown): Obj | undefined {
  if (percentage !== undefined) {
    const f = percentField(p, vs, `${path}.mirrorPercentage`, percentage);
    return f && f.numerator > 0 ? f : undefined;
  }
  if (legacy !== undefined) {
    const n = isObj(legacy) ? legacy.value : legacy;
    if (typeof n !== 'number' || n < 0 || n > 100) {
      p.error(vs, `${path}.mirrorPercent`, 'must be an integer 0..100');
      return undefined;
    }
    return n > 0 ? { numerator: n, denominator: 'HUNDRED' } : undefined;
  }
  return { numerator: 100, denominator: 'HUNDRED' };
}

/** istiod retry.ConvertPolicy: defaults when absent, none when attempts is 0. */
/** istiod retry.DefaultPolicy (mesh default: 2 attempts, 503 retriable). */
function defaultRetryPolicy(consistentHash: boolean): Obj {
  const out: Obj = {
    retry_on: DEFAULT_RETRY_ON,
    num_retries: 2,
    retriable_status_codes: [503],
  };
  // With consistent hashing, retries stay on the same host (istiod DefaultConsistentHashPolicy).
  if (!consistentHash) out.retry_host_predicate = [RETRY_PREVIOUS_HOSTS];
  out.host_selection_retry_max_attempts = '5';
  return out;
}

function convertRetryPolicy(p: Problems, vs: IstioConfig, path: string, in_: unknown, consistentHash: boolean): Obj | undefined {
  const out = defaultRetryPolicy(consistentHash);
  if (in_ === undefined || in_ === null) return out;
  if (!isObj(in_)) {
    p.error(vs, path, 'must be {attempts, perTryTimeout, retryOn}');
    return out;
  }
  checkFields(p, vs, path, in_, RETRY_FIELDS);
  const attempts = in_.attempts ?? 0;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 0) {
    p.error(vs, `${path}.attempts`, `must be a non-negative integer, got ${JSON.stringify(attempts)}`);
    return undefined;
  }
  const perTry = durationField(p, vs, `${path}.perTryTimeout`, get(in_, 'perTryTimeout'), 1e6);
  if (attempts === 0) return undefined;
  out.num_retries = attempts;
  const retryOn = get(in_, 'retryOn');
  if (retryOn !== undefined) {
    if (typeof retryOn !== 'string') p.error(vs, `${path}.retryOn`, 'must be a string');
    else if (retryOn.trim() !== '') {
      const codes: number[] = [];
      const policies: string[] = [];
      for (const part of retryOn.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
        if (/^\d+$/.test(part) && Number(part) >= 100 && Number(part) <= 599) codes.push(Number(part));
        else policies.push(part);
      }
      let on = policies.join(',');
      if (codes.length > 0 && !on.includes('retriable-status-codes')) on += (on ? ',' : '') + 'retriable-status-codes';
      out.retry_on = on;
      if (codes.length > 0) out.retriable_status_codes = codes;
      else delete out.retriable_status_codes;
    }
  }
  if (perTry) out.per_try_timeout = perTry;
  const prev = get(in_, 'retryIgnorePreviousHosts');
  if (prev === false) delete out.retry_host_predicate;
  else if (prev === true) out.retry_host_predicate = [RETRY_PREVIOUS_HOSTS];
  const backoff = durationField(p, vs, `${path}.backoff`, in_.backoff, 1e6);
  if (backoff) out.retry_back_off = { base_interval: backoff };
  return out;
}

// ---- redirect, direct response, fault, cors ---------------------------------------------------

/** istiod ApplyRedirect. */
function applyRedirect(p: Problems, vs: IstioConfig, path: string, out: Resource, r: unknown, listenPort: number): void {
  if (!isObj(r)) {
    p.error(vs, path, 'must be {uri, authority, port, scheme, redirectCode}');
    return;
  }
  checkFields(p, vs, path, r, ['uri', 'authority', 'port', 'derivePort', 'scheme', 'redirectCode']);
  const action: Obj = {};
  if (typeof r.authority === 'string' && r.authority !== '') action.host_redirect = r.authority;
  if (typeof r.uri === 'string' && r.uri !== '') action.path_redirect = r.uri;
  if (typeof r.scheme === 'string' && r.scheme !== '') action.scheme_redirect = r.scheme;
  let port: number | undefined;
  if (r.port !== undefined) {
    if (typeof r.port !== 'number' || !Number.isInteger(r.port) || r.port < 1 || r.port > 65535) p.error(vs, `${path}.port`, 'must be a port number');
    else port = r.port;
  }
  const derive = get(r, 'derivePort');
  if (derive === 'FROM_REQUEST_PORT') port = listenPort || undefined;
  else if (derive !== undefined && derive !== 'FROM_PROTOCOL_DEFAULT') p.error(vs, `${path}.derivePort`, 'must be FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT');
  if (port !== undefined) {
    const scheme = typeof r.scheme === 'string' && r.scheme !== '' ? r.scheme : 'http';
    // No explicit :80 for http or :443 for https.
    if (!((port === 80 && scheme === 'http') || (port === 443 && scheme === 'https'))) action.port_redirect = port;
  }
  const code = get(r, 'redirectCode') ?? 301;
  const rc = typeof code === 'number' ? REDIRECT_CODES[code] : undefined;
  if (!rc) p.error(vs, `${path}.redirectCode`, `must be one of 301, 302, 303, 307, 308, got ${JSON.stringify(code)}`);
  else action.response_code = rc;
  out.redirect = action;
}

/** istiod ApplyDirectResponse. */
function applyDirectResponse(p: Problems, vs: IstioConfig, path: string, out: Resource, d: unknown): void {
  if (!isObj(d)) {
    p.error(vs, path, 'must be {status, body}');
    return;
  }
  checkFields(p, vs, path, d, ['status', 'body']);
  const status = d.status;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    p.error(vs, `${path}.status`, `must be an HTTP status 200..599, got ${JSON.stringify(status)}`);
    return;
  }
  const action: Obj = { status };
  const body = d.body;
  if (body !== undefined) {
    if (!isObj(body)) p.error(vs, `${path}.body`, 'must be {string} or {bytes}');
    else if (typeof body.string === 'string') action.body = { inline_string: body.string };
    else if (typeof body.bytes === 'string') action.body = { inline_bytes: body.bytes };
    else p.error(vs, `${path}.body`, 'one of string or bytes is required');
  }
  out.direct_response = action;
}

/** istiod TranslateFault -> `envoy.filters.http.fault` per-route HTTPFault. */
function translateFault(p: Problems, vs: IstioConfig, path: string, f: unknown): Obj | undefined {
  if (!isObj(f)) {
    p.error(vs, path, 'must be {delay, abort}');
    return undefined;
  }
  checkFields(p, vs, path, f, ['delay', 'abort']);
  const out: Obj = { '@type': HTTP_FAULT };
  const delay = f.delay;
  if (isObj(delay)) {
    checkFields(p, vs, `${path}.delay`, delay, ['fixedDelay', 'exponentialDelay', 'percentage', 'percent']);
    const d: Obj = {};
    if (delay.percentage !== undefined) {
      const pct = percentField(p, vs, `${path}.delay.percentage`, delay.percentage);
      if (pct) d.percentage = pct;
    } else {
      const n = delay.percent ?? 0;
      if (typeof n !== 'number' || n < 0 || n > 100) p.error(vs, `${path}.delay.percent`, 'must be 0..100');
      else d.percentage = { numerator: n, denominator: 'HUNDRED' };
    }
    const fixed = durationField(p, vs, `${path}.delay.fixedDelay`, get(delay, 'fixedDelay'), 1e6);
    if (fixed) {
      d.fixed_delay = fixed;
      out.delay = d;
    } else if (get(delay, 'fixedDelay') === undefined) p.error(vs, `${path}.delay.fixedDelay`, 'is required (exponentialDelay is not supported by istiod)');
  } else if (delay !== undefined) p.error(vs, `${path}.delay`, 'must be {fixedDelay, percentage}');
  const abort = f.abort;
  if (isObj(abort)) {
    checkFields(p, vs, `${path}.abort`, abort, ['httpStatus', 'grpcStatus', 'http2Error', 'percentage']);
    const a: Obj = {};
    if (abort.percentage !== undefined) {
      const pct = percentField(p, vs, `${path}.abort.percentage`, abort.percentage);
      if (pct) a.percentage = pct;
    }
    const status = get(abort, 'httpStatus');
    const grpc = get(abort, 'grpcStatus');
    if (typeof status === 'number' && Number.isInteger(status) && status >= 200 && status < 600) {
      a.http_status = status;
      out.abort = a;
    } else if (status !== undefined) p.error(vs, `${path}.abort.httpStatus`, `must be an HTTP status 200..599, got ${JSON.stringify(status)}`);
    else if (grpc !== undefined) p.error(vs, `${path}.abort.grpcStatus`, 'gRPC aborts are not supported by weir');
    else p.error(vs, `${path}.abort.httpStatus`, 'is required');
  } else if (abort !== undefined) p.error(vs, `${path}.abort`, 'must be {httpStatus, percentage}');
  if (!out.delay && !out.abort) return undefined;
  return out;
}

/** istiod TranslateCORSPolicy -> `envoy.filters.http.cors` per-route CorsPolicy. */
function translateCors(p: Problems, vs: IstioConfig, path: string, c: unknown): Obj | undefined {
  if (!isObj(c)) {
    p.error(vs, path, 'must be a CorsPolicy');
    return undefined;
  }
  checkFields(p, vs, path, c, ['allowOrigin', 'allowOrigins', 'allowMethods', 'allowHeaders', 'exposeHeaders', 'maxAge', 'allowCredentials', 'unmatchedPreflights']);
  const out: Obj = { '@type': CORS_POLICY };
  out.forward_not_matching_preflights = get(c, 'unmatchedPreflights') !== 'IGNORE';
  const origins = asArray(p, vs, `${path}.allowOrigins`, get(c, 'allowOrigins'));
  if (origins.length > 0) {
    out.allow_origin_string_match = origins
      .map((o, i) => stringMatch(p, vs, `${path}.allowOrigins[${i}]`, o))
      .filter((m) => m !== undefined);
  } else {
    const legacy = asArray(p, vs, `${path}.allowOrigin`, get(c, 'allowOrigin'));
    if (legacy.length > 0) out.allow_origin_string_match = legacy.map((o) => ({ exact: String(o) }));
  }
  out.filter_enabled = { default_value: { numerator: 100, denominator: 'HUNDRED' } };
  const cred = get(c, 'allowCredentials');
  if (typeof cred === 'boolean') out.allow_credentials = cred;
  const join = (k: string): string => asArray(p, vs, `${path}.${k}`, get(c, k)).map(String).join(',');
  const ah = join('allowHeaders');
  if (ah) out.allow_headers = ah;
  const am = join('allowMethods');
  if (am) out.allow_methods = am;
  const eh = join('exposeHeaders');
  if (eh) out.expose_headers = eh;
  const maxAge = durationField(p, vs, `${path}.maxAge`, get(c, 'maxAge'));
  if (maxAge) out.max_age = String(Math.floor(Number(maxAge.slice(0, -1))));
  return out;
}

/** istiod BuildDefaultHTTPOutboundRoute: the route of a service without a VirtualService. */
export function defaultRoute(cluster: string, operation: string, hash: Obj | undefined): Resource {
  const action: Obj = {
    cluster,
    timeout: '0s',
    retry_policy: defaultRetryPolicy(false),
    max_grpc_timeout: '0s',
  };
  const hp = hashPolicy(hash);
  if (hp) action.hash_policy = [hp];
  return { name: 'default', match: { prefix: '/' }, route: action, decorator: { operation } };
}
