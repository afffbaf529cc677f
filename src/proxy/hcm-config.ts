// HttpConnectionManager options weir honours, compiled from the listener's typed_config.
// envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager

import type { Resource } from '../config/resources';
import { TYPE_URL } from '../config/resources';
import { anyType, field, isObject, parseBool, parseDuration, parseUint } from '../util/proto-json';
import { AccessLogFormat, DEFAULT_ACCESS_LOG_FORMAT } from './access-log';
import type { RouteCompiler, RouteTableView } from './route-contract';
import { ConfigReader } from '../route/config-reader';
import { FAULT_FILTER_NAME, NO_FAULT, readHttpFault, type CompiledFault } from '../route/route-entry';

const FAULT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

/**
 * The HCM's envoy.filters.http.fault filter: its listener-level config (a route's
 * typed_per_filter_config overrides it) and the active-fault count max_active_faults bounds
 * (Envoy's `active_faults` gauge, per filter).
 */
export class FaultFilter {
  readonly config: CompiledFault;
  active = 0;
  constructor(config: CompiledFault) {
    this.config = config;
  }
}

export type ServerHeaderTransformation = 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';

export interface AccessLogConfig {
  /** `/dev/stdout`, `/dev/stderr` or a file path. */
  readonly path: string;
  readonly format: AccessLogFormat;
}

export interface HttpFilterInfo {
  readonly name: string;
  readonly typeUrl: string | null;
  readonly skipped: boolean;
  readonly reason: string | null;
}

export interface HcmConfig {
  readonly statPrefix: string;
  readonly routeConfigName: string | null;
  readonly routeTable: RouteTableView;
  /** null: use the server default (`envoy`). */
  readonly serverName: string | null;
  readonly serverHeaderTransformation: ServerHeaderTransformation;
  readonly accessLogs: readonly AccessLogConfig[];
  /** Downstream connection idle timeout (common_http_protocol_options.idle_timeout; Envoy default 1 h). */
  readonly idleTimeoutMs: number;
  /** stream_idle_timeout (Envoy default 5 min). */
  readonly streamIdleTimeoutMs: number;
  /** request_timeout (Envoy default 0: disabled). */
  readonly requestTimeoutMs: number;
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly stripMatchingHostPort: boolean;
  readonly stripAnyHostPort: boolean;
  readonly generateRequestId: boolean;
  readonly maxRequestHeadersKb: number;
  /** upgrade_configs[].upgrade_type, lower-cased (`websocket`). */
  readonly upgradeTypes: readonly string[];
  readonly httpFilters: readonly HttpFilterInfo[];
  /** envoy.filters.http.fault when it is in http_filters (and not disabled), else null. */
  readonly fault: FaultFilter | null;
}

const ROUTER_NAMES = new Set(['envoy.filters.http.router', 'envoy.router']);
const STDOUT_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
const STDERR_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog';
const FILE_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

// Filters that enforce access: skipping one (as weir skips filters it does not implement) would
// serve exactly what it exists to deny. Names as Envoy and istiod send them: AuthorizationPolicy
// becomes envoy.filters.{http,network}.rbac (CUSTOM: ext_authz), RequestAuthentication
// envoy.filters.http.jwt_authn, older Istio's PeerAuthentication/Policy istio_authn (type
// istio.envoy.config.filter.http.authn.v2alpha1.FilterConfig) and jwt-auth.
const SECURITY_FILTERS: ReadonlyMap<string, string> = new Map([
  ['envoy.filters.http.rbac', 'RBAC'],
  ['envoy.filters.network.rbac', 'RBAC'],
  ['envoy.filters.http.ext_authz', 'external authorization (ext_authz)'],
  ['envoy.filters.network.ext_authz', 'external authorization (ext_authz)'],
  ['envoy.ext_authz', 'external authorization (ext_authz)'],
  ['envoy.filters.http.jwt_authn', 'JWT authentication (jwt_authn)'],
  ['jwt-auth', 'JWT authentication (jwt_authn)'],
  ['istio_authn', 'Istio authentication (istio_authn)'],
]);
// Any typed_config whose proto package names one of them, whatever the filter is called
// (envoy.extensions.filters.http.rbac.v3.RBAC, ...network.ext_authz.v3.ExtAuthz,
// ...jwt_authn.v3.JwtAuthentication, istio.envoy.config.filter.http.authn.v2alpha1.FilterConfig).
const SECURITY_TYPE_URL = /\.(rbac|ext_authz|jwt_authn|authn)\.v\d/;
const SECURITY_KIND_BY_PACKAGE: { readonly [k: string]: string } = {
  rbac: 'RBAC',
  ext_authz: 'external authorization (ext_authz)',
  jwt_authn: 'JWT authentication (jwt_authn)',
  authn: 'Istio authentication (istio_authn)',
};

/** What an access-enforcing filter enforces (for the error), or null for any other filter. */
export function securityFilterKind(name: string, typeUrl: string | null): string | null {
  const byName = SECURITY_FILTERS.get(name);
  if (byName !== undefined) return byName;
  if (typeUrl === null) return null;
  const m = SECURITY_TYPE_URL.exec(typeUrl);
  return m === null ? null : (SECURITY_KIND_BY_PACKAGE[m[1]!] ?? null);
}

function dur(obj: unknown, name: string, path: string, dflt: number, errors: string[]): number {
  const v = field(obj, name);
  if (v === undefined || v === null) return dflt;
  const d = parseDuration(v);
  if ('error' in d) {
    errors.push(`${path}.${name}: ${d.error}`);
    return dflt;
  }
  return d.ms;
}

function compileLogFormat(lf: unknown, path: string, errors: string[], warnings: string[]): AccessLogFormat {
  if (!isObject(lf)) return AccessLogFormat.text(DEFAULT_ACCESS_LOG_FORMAT, warnings, path);
  const text = field(field(lf, 'text_format_source'), 'inline_string') ?? field(lf, 'text_format');
  if (typeof text === 'string') return AccessLogFormat.text(text, warnings, `${path}.text_format_source`);
  const json = field(lf, 'json_format');
  if (isObject(json)) return AccessLogFormat.json(json, warnings, `${path}.json_format`);
  errors.push(`${path}: only text_format_source.inline_string and json_format are supported`);
  return AccessLogFormat.text(DEFAULT_ACCESS_LOG_FORMAT, warnings, path);
}

function compileAccessLogs(v: unknown, path: string, errors: string[], warnings: string[]): AccessLogConfig[] {
  const out: AccessLogConfig[] = [];
  if (v === undefined || v === null) return out;
  if (!Array.isArray(v)) {
    errors.push(`${path}: expected a list`);
    return out;
  }
  v.forEach((al: unknown, i: number) => {
    const p = `${path}[${i}]`;
    const tc = field(al, 'typed_config');
    const t = anyType(tc);
    if (field(al, 'filter') !== undefined) warnings.push(`${p}.filter: access log filters are not supported: every request is logged`);
    if (t === STDOUT_LOG || t === STDERR_LOG) {
      out.push({ path: t === STDOUT_LOG ? '/dev/stdout' : '/dev/stderr', format: compileLogFormat(field(tc, 'log_format'), `${p}.typed_config.log_format`, errors, warnings) });
    } else if (t === FILE_LOG) {
      const fp = field(tc, 'path');
      if (typeof fp !== 'string' || fp === '') {
        errors.push(`${p}.typed_config.path: required`);
        return;
      }
      let lf = field(tc, 'log_format');
      // Deprecated FileAccessLog.format / json_format fields.
      if (lf === undefined && typeof field(tc, 'format') === 'string') lf = { text_format: field(tc, 'format') };
      if (lf === undefined && isObject(field(tc, 'json_format'))) lf = { json_format: field(tc, 'json_format') };
      out.push({ path: fp, format: compileLogFormat(lf, `${p}.typed_config.log_format`, errors, warnings) });
    } else {
      warnings.push(`${p}: access logger ${t ?? String(field(al, 'name') ?? '?')} is not supported: skipped`);
    }
  });
  return out;
}

/**
 * Compiles an HttpConnectionManager. `routeConfigurations` are the RDS resources by name. Returns
 * `null` (with a warning) when the RDS route config has not arrived: the listener is warming.
 */
export function compileHcm(
  tc: Resource,
  path: string,
  routeConfigurations: ReadonlyMap<string, Resource>,
  compileRoutes: RouteCompiler,
  routeOptions: unknown,
  errors: string[],
  warnings: string[],
  /** Reject access-enforcing HTTP filters (securityFilterKind) unless marked is_optional: true. */
  refuseSecurityFilters = true,
): HcmConfig | null {
  const startErrors = errors.length;
  const statPrefix = field(tc, 'stat_prefix');
  if (typeof statPrefix !== 'string' || statPrefix === '') errors.push(`${path}.stat_prefix: required`);

  // Route table: inline, or by RDS name from the set.
  let routeTable: RouteTableView | null = null;
  let routeConfigName: string | null = null;
  const inline = field(tc, 'route_config');
  const rds = field(tc, 'rds');
  let warming = false;
  if (inline !== undefined && inline !== null) {
    const n = field(inline, 'name');
    routeConfigName = typeof n === 'string' ? n : null;
    const r = compileRoutes(inline, routeOptions);
    if (r.errors) for (const e of r.errors) errors.push(`${path}.route_config.${e}`);
    else routeTable = r.value;
  } else if (rds !== undefined && rds !== null) {
    const n = field(rds, 'route_config_name');
    if (typeof n !== 'string' || n === '') errors.push(`${path}.rds.route_config_name: required`);
    else {
      routeConfigName = n;
      const rc = routeConfigurations.get(n);
      if (rc === undefined) {
        warming = true;
        warnings.push(`${path}.rds.route_config_name: RouteConfiguration "${n}" has not arrived: listener not started yet`);
      } else {
        const r = compileRoutes(rc, routeOptions);
        if (r.errors) for (const e of r.errors) errors.push(`route_configurations["${n}"].${e}`);
        else routeTable = r.value;
      }
    }
  } else if (field(tc, 'scoped_routes') !== undefined) {
    errors.push(`${path}.scoped_routes: not supported (use route_config or rds)`);
  } else {
    errors.push(`${path}: route_config or rds is required`);
  }

  // http_filters: the router must be last; filters weir does not implement are skipped and listed
  // (Istio adds stats / metadata-exchange / Wasm filters). A filter explicitly marked
  // `is_optional: false` is required: weir cannot honour it, so the listener is rejected.
  const httpFilters: HttpFilterInfo[] = [];
  let fault: FaultFilter | null = null;
  const hf = field(tc, 'http_filters');
  if (hf !== undefined && hf !== null) {
    if (!Array.isArray(hf)) errors.push(`${path}.http_filters: expected a list`);
    else {
      hf.forEach((f: unknown, i: number) => {
        const p = `${path}.http_filters[${i}]`;
        const name = field(f, 'name');
        if (typeof name !== 'string' || name === '') {
          errors.push(`${p}.name: required`);
          return;
        }
        const typeUrl = anyType(field(f, 'typed_config')) ?? null;
        const isRouter = ROUTER_NAMES.has(name) || typeUrl === TYPE_URL.ROUTER;
        if (isRouter) {
          if (i !== hf.length - 1) errors.push(`${p}: the router filter must be the last http filter`);
          httpFilters.push({ name, typeUrl, skipped: false, reason: null });
          return;
        }
        if (name === FAULT_FILTER_NAME || typeUrl === FAULT_TYPE_URL) {
          // Fault injection (istiod puts it in every sidecar chain, its config per route). An
          // empty listener-level config injects nothing; routes enable it.
          if (parseBool(field(f, 'disabled')) === true) {
            httpFilters.push({ name, typeUrl, skipped: true, reason: 'disabled' });
            return;
          }
          const r = new ConfigReader();
          const tcf = field(f, 'typed_config');
          const cfg = isObject(tcf) ? readHttpFault(r, tcf, `${p}.typed_config`) : NO_FAULT;
          for (const e of r.errors) errors.push(e);
          if (fault !== null) errors.push(`${p}: envoy.filters.http.fault is configured twice`);
          fault = new FaultFilter(cfg);
          httpFilters.push({ name, typeUrl, skipped: false, reason: null });
          return;
        }
        const optional = field(f, 'is_optional');
        // is_optional: true is Envoy's "skip this filter if it is not supported"; a security filter
        // that is disabled by default is still refused, since a route's typed_per_filter_config
        // can enable it.
        const kind = securityFilterKind(name, typeUrl);
        if (kind !== null && parseBool(optional) !== true) {
          if (refuseSecurityFilters) {
            errors.push(`${p}: weir does not implement ${kind} (http filter ${name}); refusing to serve without it (--allow-unenforced-security-filters skips it)`);
            return;
          }
          warnings.push(`${p}: http filter ${name} is not supported by weir: skipped: ${kind} is NOT enforced`);
          httpFilters.push({ name, typeUrl, skipped: true, reason: `not supported by weir: ${kind} NOT enforced` });
          return;
        }
        if (parseBool(field(f, 'disabled')) === true) {
          httpFilters.push({ name, typeUrl, skipped: true, reason: 'disabled' });
          return;
        }
        if (isObject(f) && (optional === false || (isObject(optional) && optional.value === false))) {
          errors.push(`${p}: http filter ${name} (${typeUrl ?? 'no typed_config'}) is not supported by weir and is marked is_optional: false`);
          return;
        }
        warnings.push(`${p}: http filter ${name} is not supported by weir: skipped`);
        httpFilters.push({ name, typeUrl, skipped: true, reason: 'not supported by weir' });
      });
      if (hf.length > 0 && !httpFilters.some((f) => !f.skipped && (ROUTER_NAMES.has(f.name) || f.typeUrl === TYPE_URL.ROUTER)) && errors.length === startErrors) {
        errors.push(`${path}.http_filters: the last filter must be envoy.filters.http.router`);
      }
    }
  }
  if (httpFilters.length === 0) httpFilters.push({ name: 'envoy.filters.http.router', typeUrl: TYPE_URL.ROUTER, skipped: false, reason: null });

  const sn = field(tc, 'server_name');
  // The `server` response header: Envoy's HTTP_HEADER_VALUE rule (no NUL, CR, LF).
  if (typeof sn === 'string' && /[\0\r\n]/.test(sn)) errors.push(`${path}.server_name: contains NUL, CR or LF`);
  const sht = field(tc, 'server_header_transformation');
  let serverHeaderTransformation: ServerHeaderTransformation = 'OVERWRITE';
  if (sht !== undefined) {
    if (sht === 'OVERWRITE' || sht === 'APPEND_IF_ABSENT' || sht === 'PASS_THROUGH') serverHeaderTransformation = sht;
    else if (sht === 0 || sht === 1 || sht === 2) serverHeaderTransformation = (['OVERWRITE', 'APPEND_IF_ABSENT', 'PASS_THROUGH'] as const)[sht];
    else errors.push(`${path}.server_header_transformation: unknown value ${JSON.stringify(sht)}`);
  }
  const codec = field(tc, 'codec_type');
  if (codec === 'HTTP2' || codec === 'HTTP3') errors.push(`${path}.codec_type: ${codec} is not supported (weir serves HTTP/1.1)`);

  const chpo = field(tc, 'common_http_protocol_options');
  const idleTimeoutMs = dur(chpo, 'idle_timeout', `${path}.common_http_protocol_options`, 3600_000, errors);
  const streamIdleTimeoutMs = dur(tc, 'stream_idle_timeout', path, 300_000, errors);
  const requestTimeoutMs = dur(tc, 'request_timeout', path, 0, errors);
  const xff = field(tc, 'xff_num_trusted_hops');
  const xffNumTrustedHops = xff === undefined ? 0 : parseUint(xff) ?? (errors.push(`${path}.xff_num_trusted_hops: expected an unsigned integer`), 0);
  const mrh = field(tc, 'max_request_headers_kb');
  const maxRequestHeadersKb = mrh === undefined ? 60 : parseUint(mrh) ?? (errors.push(`${path}.max_request_headers_kb: expected an unsigned integer`), 60);
  if (maxRequestHeadersKb === 0 || maxRequestHeadersKb > 8192) errors.push(`${path}.max_request_headers_kb: must be in 1..8192`);

  const upgradeTypes: string[] = [];
  const uc = field(tc, 'upgrade_configs');
  if (Array.isArray(uc)) {
    uc.forEach((u: unknown, i: number) => {
      const t = field(u, 'upgrade_type');
      if (typeof t !== 'string' || t === '') errors.push(`${path}.upgrade_configs[${i}].upgrade_type: required`);
      else if (parseBool(field(u, 'enabled')) !== false) upgradeTypes.push(t.toLowerCase());
    });
  }

  const accessLogs = compileAccessLogs(field(tc, 'access_log'), `${path}.access_log`, errors, warnings);

  if (errors.length > startErrors || warming || routeTable === null) return null;
  return {
    statPrefix: statPrefix as string,
    routeConfigName,
    routeTable,
    serverName: typeof sn === 'string' && sn !== '' ? sn : null,
    serverHeaderTransformation,
    accessLogs,
    idleTimeoutMs,
    streamIdleTimeoutMs,
    requestTimeoutMs,
    useRemoteAddress: parseBool(field(tc, 'use_remote_address')) === true,
    xffNumTrustedHops,
    stripMatchingHostPort: parseBool(field(tc, 'strip_matching_host_port')) === true,
    stripAnyHostPort: parseBool(field(tc, 'strip_any_host_port')) === true,
    generateRequestId: parseBool(field(tc, 'generate_request_id')) !== false,
    maxRequestHeadersKb,
    upgradeTypes,
    httpFilters,
    fault,
  };
}
