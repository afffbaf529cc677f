// Envoy's access log format strings (substitution formatter) for the stdout / file access loggers.
// Formats are compiled once per listener config into a list of segments; a request only walks it.
// https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage

import { formatResponseFlags } from './response-flags';

/** Envoy's default format (used when `log_format` is unset). */
export const DEFAULT_ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" ' +
  '%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

/** What a formatter reads of a finished request (the proxy's stream object implements it). */
export interface AccessLogEntry {
  readonly startTime: number;
  readonly durationMs: number;
  readonly protocol: string;
  readonly status: number;
  readonly flags: number;
  readonly details: string;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly upstreamHost: string | null;
  readonly upstreamCluster: string | null;
  readonly upstreamServiceTimeMs: number;
  readonly routeName: string | null;
  readonly downstreamRemoteAddress: string;
  readonly downstreamLocalAddress: string;
  requestHeader(name: string): string | undefined;
  responseHeader(name: string): string | undefined;
  // Optional timing facts the proxy's Stream carries (performance.now() values): Envoy's
  // %REQUEST_DURATION%, %RESPONSE_DURATION%, %RESPONSE_TX_DURATION% derive from them.
  readonly startHr?: number;
  readonly attemptStart?: number;
  readonly hasBody?: boolean;
  /** When the request's last byte was received (performance.now()); -1 or absent: not known. */
  readonly requestDoneHr?: number;
  /** The last upstream failure reason (local reply body detail), for %UPSTREAM_TRANSPORT_FAILURE_REASON%. */
  readonly lastReason?: string;
}

/** One piece of a compiled %START_TIME(...)% format: literal text or a strftime conversion. */
type TimePart = { lit: string } | { conv: string; digits: number };

type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'req' | 'resp'; name: string; alt: string | null; max: number }
  | { kind: 'cmd'; cmd: string; max: number }
  | { kind: 'time'; parts: TimePart[]; max: number; lastMs: number; last: string };

const KNOWN = new Set([
  'START_TIME', 'PROTOCOL', 'RESPONSE_CODE', 'RESPONSE_FLAGS', 'RESPONSE_CODE_DETAILS', 'BYTES_RECEIVED',
  'BYTES_SENT', 'DURATION', 'UPSTREAM_HOST', 'UPSTREAM_CLUSTER', 'ROUTE_NAME', 'DOWNSTREAM_REMOTE_ADDRESS',
  'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_LOCAL_ADDRESS', 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT',
  'HOSTNAME', 'RESPONSE_DURATION', 'REQUEST_DURATION', 'RESPONSE_TX_DURATION',
  // Known to Envoy, no value in weir (printed as "-"): Istio's default format uses several.
  'UPSTREAM_TRANSPORT_FAILURE_REASON', 'UPSTREAM_LOCAL_ADDRESS', 'CONNECTION_TERMINATION_DETAILS',
  'REQUESTED_SERVER_NAME', 'UPSTREAM_REQUEST_ATTEMPT_COUNT', 'CONNECTION_ID', 'STREAM_ID',
]);

const COMMAND = /%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%/g;

/**
 * %START_TIME(<strftime>)%: Envoy's format flags (DateFormatter): the usual strftime conversions in
 * UTC plus %f / %1f..%9f (fractional seconds) and %s (epoch seconds). Compiled once per format.
 */
function compileTime(fmt: string, warnings: string[], path: string): TimePart[] {
  const parts: TimePart[] = [];
  let lit = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%' || i === fmt.length - 1) {
      lit += c;
      continue;
    }
    let n = fmt[++i]!;
    let digits = 9;
    if (n >= '1' && n <= '9' && fmt[i + 1] === 'f') {
      digits = Number(n);
      n = fmt[++i]!;
    }
    if (n === '%') {
      lit += '%';
      continue;
    }
    if (!'YmdHMSjsfzZTFeyabBpuwI'.includes(n)) {
      warnings.push(`${path}: START_TIME conversion %${n} is not supported: printed literally`);
      lit += '%' + n;
      continue;
    }
    if (lit !== '') parts.push({ lit });
    lit = '';
    parts.push({ conv: n, digits });
  }
  if (lit !== '') parts.push({ lit });
  return parts;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => (n < 10 ? '0' + n : String(n));

function formatTime(parts: readonly TimePart[], ms: number): string {
  const d = new Date(ms);
  let s = '';
  for (const p of parts) {
    if ('lit' in p) {
      s += p.lit;
      continue;
    }
    switch (p.conv) {
      case 'Y': s += d.getUTCFullYear(); break;
      case 'y': s += p2(d.getUTCFullYear() % 100); break;
      case 'm': s += p2(d.getUTCMonth() + 1); break;
      case 'd': s += p2(d.getUTCDate()); break;
      case 'e': s += String(d.getUTCDate()).padStart(2, ' '); break;
      case 'H': s += p2(d.getUTCHours()); break;
      case 'I': s += p2(d.getUTCHours() % 12 || 12); break;
      case 'p': s += d.getUTCHours() < 12 ? 'AM' : 'PM'; break;
      case 'M': s += p2(d.getUTCMinutes()); break;
      case 'S': s += p2(d.getUTCSeconds()); break;
      case 'j': s += String(Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000) + 1).padStart(3, '0'); break;
      case 's': s += Math.floor(ms / 1000); break;
      case 'f': s += String(((ms % 1000) + 1000) % 1000).padStart(3, '0').padEnd(9, '0').slice(0, p.digits); break;
      case 'z': s += '+0000'; break;
      case 'Z': s += 'UTC'; break;
      case 'T': s += p2(d.getUTCHours()) + ':' + p2(d.getUTCMinutes()) + ':' + p2(d.getUTCSeconds()); break;
      case 'F': s += d.getUTCFullYear() + '-' + p2(d.getUTCMonth() + 1) + '-' + p2(d.getUTCDate()); break;
      case 'a': s += DAYS[d.getUTCDay()]; break;
      case 'u': s += d.getUTCDay() || 7; break;
      case 'w': s += d.getUTCDay(); break;
      case 'b': s += MONTHS[d.getUTCMonth()]; break;
      case 'B': s += MONTHS[d.getUTCMonth()]; break;
    }
  }
  return s;
}

export class AccessLogFormat {
  readonly #segments: Segment[];
  readonly #json: JsonEntry[] | null;

  private constructor(segments: Segment[], json: JsonEntry[] | null) {
    this.#segments = segments;
    this.#json = json;
  }

  static text(format: string, warnings: string[], path: string): AccessLogFormat {
    return new AccessLogFormat(parse(format, warnings, path), null);
  }

  static json(format: { [k: string]: unknown }, warnings: string[], path: string): AccessLogFormat {
    return new AccessLogFormat([], compileJson(format, warnings, path));
  }

  format(e: AccessLogEntry): string {
    if (this.#json !== null) return JSON.stringify(renderJson(this.#json, e)) + '\n';
    return render(this.#segments, e);
  }
}

/** json_format entry: a format string, a literal (number, bool, null), or a nested struct (Envoy allows nesting). */
type JsonEntry = { key: string; segments: Segment[]; literal: unknown; nested: JsonEntry[] | null };

function compileJson(format: { [k: string]: unknown }, warnings: string[], path: string): JsonEntry[] {
  const out: JsonEntry[] = [];
  for (const key of Object.keys(format)) {
    const v = format[key];
    if (typeof v === 'string') out.push({ key, segments: parse(v, warnings, `${path}.${key}`), literal: undefined, nested: null });
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push({ key, segments: [], literal: undefined, nested: compileJson(v as { [k: string]: unknown }, warnings, `${path}.${key}`) });
    else out.push({ key, segments: [], literal: v, nested: null });
  }
  return out;
}

function renderJson(entries: readonly JsonEntry[], e: AccessLogEntry): { [k: string]: unknown } {
  const o: { [k: string]: unknown } = {};
  for (const j of entries) {
    if (j.nested !== null) {
      o[j.key] = renderJson(j.nested, e);
      continue;
    }
    if (j.literal !== undefined) {
      o[j.key] = j.literal;
      continue;
    }
    const segments = j.segments;
    // A value that is one numeric command keeps its number type, as Envoy's json_format does.
    if (segments.length === 1 && segments[0]!.kind === 'cmd') {
      const v = truncate(command(segments[0]!.cmd, e), segments[0]!.max);
      o[j.key] = v === '-' ? null : /^\d+$/.test(v) ? Number(v) : v;
    } else o[j.key] = render(segments, e);
  }
  return o;
}

function parse(format: string, warnings: string[], path: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  COMMAND.lastIndex = 0;
  for (let m = COMMAND.exec(format); m !== null; m = COMMAND.exec(format)) {
    if (m.index > last) out.push({ kind: 'text', text: format.slice(last, m.index) });
    last = m.index + m[0].length;
    const cmd = m[1]!;
    const max = m[3] !== undefined ? Number(m[3]) : 0;
    if (cmd === 'REQ' || cmd === 'RESP') {
      const arg = (m[2] ?? '').toLowerCase();
      const q = arg.indexOf('?');
      out.push({
        kind: cmd === 'REQ' ? 'req' : 'resp',
        name: q === -1 ? arg : arg.slice(0, q),
        alt: q === -1 ? null : arg.slice(q + 1),
        max,
      });
    } else if (cmd === 'START_TIME' && m[2] !== undefined && m[2] !== '') {
      out.push({ kind: 'time', parts: compileTime(m[2], warnings, path), max, lastMs: -1, last: '' });
    } else {
      if (!KNOWN.has(cmd)) warnings.push(`${path}: access log command %${cmd}% is not supported: printed as "-"`);
      out.push({ kind: 'cmd', cmd, max });
    }
  }
  if (last < format.length) out.push({ kind: 'text', text: format.slice(last) });
  return out;
}

function truncate(s: string, max: number): string {
  return max > 0 && s.length > max ? s.slice(0, max) : s;
}

function render(segments: Segment[], e: AccessLogEntry): string {
  let s = '';
  for (const seg of segments) {
    switch (seg.kind) {
      case 'text':
        s += seg.text;
        break;
      case 'req': {
        let v = e.requestHeader(seg.name);
        if (v === undefined && seg.alt !== null) v = e.requestHeader(seg.alt);
        s += v === undefined ? '-' : truncate(v, seg.max);
        break;
      }
      case 'resp': {
        let v = e.responseHeader(seg.name);
        if (v === undefined && seg.alt !== null) v = e.responseHeader(seg.alt);
        s += v === undefined ? '-' : truncate(v, seg.max);
        break;
      }
      case 'time':
        // Consecutive requests share milliseconds: format once per distinct start time.
        if (seg.lastMs !== e.startTime) {
          seg.lastMs = e.startTime;
          seg.last = formatTime(seg.parts, e.startTime);
        }
        s += truncate(seg.last, seg.max);
        break;
      case 'cmd':
        s += truncate(command(seg.cmd, e), seg.max);
        break;
    }
  }
  return s;
}

// Formatting a Date is the costliest part of a log line; consecutive requests share milliseconds.
let lastMs = -1;
let lastIso = '';
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

function withoutPort(a: string): string {
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']'));
  const i = a.lastIndexOf(':');
  return i === -1 ? a : a.slice(0, i);
}

const TRANSPORT_FAILURE = 'transport failure reason: ';

/** ms from the request's start to the upstream response headers, or -1 (no upstream response). */
function responseStartMs(e: AccessLogEntry): number {
  if (e.upstreamServiceTimeMs < 0 || e.startHr === undefined || e.attemptStart === undefined) return -1;
  return e.attemptStart - e.startHr + e.upstreamServiceTimeMs;
}

function command(cmd: string, e: AccessLogEntry): string {
  switch (cmd) {
    case 'START_TIME':
      return isoTime(e.startTime);
    case 'PROTOCOL':
      return e.protocol;
    case 'RESPONSE_CODE':
      return String(e.status);
    case 'RESPONSE_FLAGS':
      return formatResponseFlags(e.flags);
    case 'RESPONSE_CODE_DETAILS':
      return e.details === '' ? '-' : e.details;
    case 'BYTES_RECEIVED':
      return String(e.bytesReceived);
    case 'BYTES_SENT':
      return String(e.bytesSent);
    case 'DURATION':
      return String(Math.round(e.durationMs));
    case 'REQUEST_DURATION':
      // Start to the last byte of the request: a request without a body is complete when its
      // headers are; a body's end is when the upstream pool read its last byte.
      if (e.hasBody === false) return '0';
      if (e.requestDoneHr === undefined || e.requestDoneHr < 0 || e.startHr === undefined) return '-';
      return String(Math.max(0, Math.round(e.requestDoneHr - e.startHr)));
    case 'RESPONSE_DURATION': {
      // Start to the first byte from the upstream (Envoy); '-' for local replies.
      const r = responseStartMs(e);
      return r < 0 ? '-' : String(Math.round(r));
    }
    case 'RESPONSE_TX_DURATION': {
      const r = responseStartMs(e);
      return r < 0 ? '-' : String(Math.max(0, Math.round(e.durationMs - r)));
    }
    case 'UPSTREAM_TRANSPORT_FAILURE_REASON': {
      const why = e.lastReason ?? '';
      const i = why.indexOf(TRANSPORT_FAILURE);
      return i === -1 ? '-' : why.slice(i + TRANSPORT_FAILURE.length);
    }
    case 'UPSTREAM_HOST':
      return e.upstreamHost ?? '-';
    case 'UPSTREAM_CLUSTER':
      return e.upstreamCluster ?? '-';
    case 'ROUTE_NAME':
      return e.routeName === null || e.routeName === '' ? '-' : e.routeName;
    case 'DOWNSTREAM_REMOTE_ADDRESS':
      return e.downstreamRemoteAddress;
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
      return withoutPort(e.downstreamRemoteAddress);
    case 'DOWNSTREAM_LOCAL_ADDRESS':
      return e.downstreamLocalAddress;
    case 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT':
      return withoutPort(e.downstreamLocalAddress);
    case 'HOSTNAME':
      return HOSTNAME;
    default:
      return '-';
  }
}

const HOSTNAME = require('node:os').hostname() as string;
