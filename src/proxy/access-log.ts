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
}

type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'req' | 'resp'; name: string; alt: string | null; max: number }
  | { kind: 'cmd'; cmd: string; max: number };

const KNOWN = new Set([
  'START_TIME', 'PROTOCOL', 'RESPONSE_CODE', 'RESPONSE_FLAGS', 'RESPONSE_CODE_DETAILS', 'BYTES_RECEIVED',
  'BYTES_SENT', 'DURATION', 'UPSTREAM_HOST', 'UPSTREAM_CLUSTER', 'ROUTE_NAME', 'DOWNSTREAM_REMOTE_ADDRESS',
  'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_LOCAL_ADDRESS', 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT',
  'HOSTNAME', 'RESPONSE_DURATION', 'REQUEST_DURATION',
  // Known to Envoy, no value in weir (printed as "-"): Istio's default format uses several.
  'UPSTREAM_LOCAL_ADDRESS', 'UPSTREAM_TRANSPORT_FAILURE_REASON', 'CONNECTION_TERMINATION_DETAILS',
  'REQUESTED_SERVER_NAME', 'UPSTREAM_REQUEST_ATTEMPT_COUNT', 'CONNECTION_ID', 'STREAM_ID',
]);

const COMMAND = /%([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?%/g;

export class AccessLogFormat {
  readonly #segments: Segment[];
  readonly #json: { key: string; segments: Segment[] }[] | null;

  private constructor(segments: Segment[], json: { key: string; segments: Segment[] }[] | null) {
    this.#segments = segments;
    this.#json = json;
  }

  static text(format: string, warnings: string[], path: string): AccessLogFormat {
    return new AccessLogFormat(parse(format, warnings, path), null);
  }

  static json(format: { [k: string]: unknown }, warnings: string[], path: string): AccessLogFormat {
    const entries: { key: string; segments: Segment[] }[] = [];
    for (const key of Object.keys(format)) {
      const v = format[key];
      entries.push({ key, segments: parse(typeof v === 'string' ? v : JSON.stringify(v), warnings, `${path}.${key}`) });
    }
    return new AccessLogFormat([], entries);
  }

  format(e: AccessLogEntry): string {
    if (this.#json !== null) {
      const o: { [k: string]: unknown } = {};
      for (const { key, segments } of this.#json) {
        // A value that is one numeric command keeps its number type, as Envoy's json_format does.
        if (segments.length === 1 && segments[0]!.kind === 'cmd') {
          const v = command(segments[0]!.cmd, e);
          o[key] = v === '-' ? null : /^\d+$/.test(v) ? Number(v) : v;
        } else o[key] = render(segments, e);
      }
      return JSON.stringify(o) + '\n';
    }
    return render(this.#segments, e);
  }
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
    case 'REQUEST_DURATION':
    case 'RESPONSE_DURATION':
      return String(Math.round(e.durationMs));
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
