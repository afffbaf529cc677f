// request_headers_to_add/remove and response_headers_to_add/remove, as Envoy's
// source/common/router/header_parser.cc evaluates them:
//   1. every header in *_headers_to_remove is removed first (remove-before-add);
//   2. every value is formatted against the headers as they are at that point;
//   3. an empty value is skipped unless keep_empty_value;
//   4. append_action: APPEND_IF_EXISTS_OR_ADD adds another entry, ADD_IF_ABSENT adds only when
//      absent, OVERWRITE_IF_EXISTS_OR_ADD sets, OVERWRITE_IF_EXISTS sets only when present;
//      the legacy `append` bool maps true -> APPEND_IF_EXISTS_OR_ADD, false -> OVERWRITE_IF_EXISTS_OR_ADD
//      and may not be combined with a non-default append_action;
//   5. all overwrites are applied, then all adds.
// `:`-prefixed headers and `host` may not be added or removed (config error).
//
// Header values may hold Envoy substitution formatters. Computed here: %DOWNSTREAM_REMOTE_ADDRESS%,
// %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %DOWNSTREAM_DIRECT_REMOTE_ADDRESS[_WITHOUT_PORT]%,
// %DOWNSTREAM_REMOTE_PORT%, %DOWNSTREAM_LOCAL_ADDRESS[_WITHOUT_PORT]%, %DOWNSTREAM_LOCAL_PORT%,
// %REQ(h)% / %REQ(h?alt)% / %REQ(h):N%, %RESP(h)% (response side), %UPSTREAM_CLUSTER%,
// %ROUTE_NAME%, %PROTOCOL%, %%. Any other %COMMAND% is kept literally (TODO: START_TIME,
// HOSTNAME, UPSTREAM_METADATA, ... need data the route model does not have).

import { Buffer } from 'node:buffer';
import type { RequestView, RequestViewExtras } from './types';
import { ConfigReader, field, join } from './config-reader';
import { headerSource, firstHeaderValue, SOURCE_HEADER } from './header-matcher';

/** Characters Envoy's HTTP_HEADER_NAME / HTTP_HEADER_VALUE (strict: false) reject. */
const HEADER_FORBIDDEN = /[\0\r\n]/;

/** Where header mutations are applied: the data path's outgoing headers, or a test's map. */
export interface HeaderMutationTarget {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  remove(name: string): void;
}

export const APPEND_IF_EXISTS_OR_ADD = 0;
export const ADD_IF_ABSENT = 1;
export const OVERWRITE_IF_EXISTS_OR_ADD = 2;
export const OVERWRITE_IF_EXISTS = 3;
export const APPEND_ACTIONS = [
  'APPEND_IF_EXISTS_OR_ADD',
  'ADD_IF_ABSENT',
  'OVERWRITE_IF_EXISTS_OR_ADD',
  'OVERWRITE_IF_EXISTS',
] as const;

// Formatter parts.
const PART_LITERAL = 0;
const PART_REMOTE_ADDRESS = 1;
const PART_REMOTE_ADDRESS_NO_PORT = 2;
const PART_REMOTE_PORT = 3;
const PART_LOCAL_ADDRESS = 4;
const PART_LOCAL_ADDRESS_NO_PORT = 5;
const PART_LOCAL_PORT = 6;
const PART_REQ = 7;
const PART_RESP = 8;
const PART_UPSTREAM_CLUSTER = 9;
const PART_ROUTE_NAME = 10;
const PART_PROTOCOL = 11;

class FormatPart {
  readonly kind: number;
  readonly text: string;
  readonly header: string;
  readonly altHeader: string;
  readonly maxLength: number;
  constructor(kind: number, text: string, header: string, altHeader: string, maxLength: number) {
    this.kind = kind;
    this.text = text;
    this.header = header;
    this.altHeader = altHeader;
    this.maxLength = maxLength;
  }
}

/** What a formatter can see while one parser runs. */
export interface FormatContext {
  readonly req: RequestView;
  readonly target: HeaderMutationTarget;
  readonly response: boolean;
  readonly clusterName: string;
  readonly routeName: string;
}

export class HeaderValueFormatter {
  readonly original: string;
  readonly #parts: readonly FormatPart[];
  /** True when the value is a plain literal (no formatter work per request). */
  readonly literal: boolean;

  constructor(original: string, parts: FormatPart[]) {
    this.original = original;
    this.#parts = parts;
    this.literal = parts.length === 0 || (parts.length === 1 && (parts[0] as FormatPart).kind === PART_LITERAL);
  }

  format(ctx: FormatContext): string {
    if (this.literal) return this.#parts.length === 0 ? '' : (this.#parts[0] as FormatPart).text;
    let out = '';
    for (let i = 0; i < this.#parts.length; i++) out += formatPart(this.#parts[i] as FormatPart, ctx);
    return out;
  }
}

function formatPart(p: FormatPart, ctx: FormatContext): string {
  const x = ctx.req as RequestView & RequestViewExtras;
  switch (p.kind) {
    case PART_LITERAL:
      return p.text;
    case PART_REMOTE_ADDRESS:
      return addressWithPort(x.downstreamRemoteIp, x.downstreamRemotePort);
    case PART_REMOTE_ADDRESS_NO_PORT:
      return x.downstreamRemoteIp ?? '';
    case PART_REMOTE_PORT:
      return x.downstreamRemotePort === undefined ? '' : String(x.downstreamRemotePort);
    case PART_LOCAL_ADDRESS:
      return addressWithPort(x.downstreamLocalIp, x.downstreamLocalPort);
    case PART_LOCAL_ADDRESS_NO_PORT:
      return x.downstreamLocalIp ?? '';
    case PART_LOCAL_PORT:
      return x.downstreamLocalPort === undefined ? '' : String(x.downstreamLocalPort);
    case PART_REQ: {
      let v = requestHeader(ctx, p.header);
      if (v === undefined && p.altHeader !== '') v = requestHeader(ctx, p.altHeader);
      return truncate(v, p.maxLength);
    }
    case PART_RESP: {
      if (!ctx.response) return '';
      let v = ctx.target.get(p.header);
      if (v === undefined && p.altHeader !== '') v = ctx.target.get(p.altHeader);
      return truncate(v, p.maxLength);
    }
    case PART_UPSTREAM_CLUSTER:
      return ctx.clusterName;
    case PART_ROUTE_NAME:
      return ctx.routeName;
    case PART_PROTOCOL:
      return x.protocol ?? '';
    default:
      return '';
  }
}

function requestHeader(ctx: FormatContext, name: string): string | undefined {
  const source = headerSource(name);
  // While mutating request headers the live headers are the target; pseudo-headers and the
  // response side read the request as received.
  if (!ctx.response && source === SOURCE_HEADER) return ctx.target.get(name);
  return firstHeaderValue(ctx.req, name, source);
}

function truncate(v: string | undefined, max: number): string {
  if (v === undefined) return '';
  return max > 0 && v.length > max ? v.slice(0, max) : v;
}

function addressWithPort(ip: string | undefined, port: number | undefined): string {
  if (ip === undefined) return '';
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

const SIMPLE_COMMANDS: Record<string, number> = {
  DOWNSTREAM_REMOTE_ADDRESS: PART_REMOTE_ADDRESS,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: PART_REMOTE_ADDRESS_NO_PORT,
  DOWNSTREAM_REMOTE_PORT: PART_REMOTE_PORT,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: PART_REMOTE_ADDRESS,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: PART_REMOTE_ADDRESS_NO_PORT,
  DOWNSTREAM_DIRECT_REMOTE_PORT: PART_REMOTE_PORT,
  DOWNSTREAM_LOCAL_ADDRESS: PART_LOCAL_ADDRESS,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: PART_LOCAL_ADDRESS_NO_PORT,
  DOWNSTREAM_LOCAL_PORT: PART_LOCAL_PORT,
  UPSTREAM_CLUSTER: PART_UPSTREAM_CLUSTER,
  ROUTE_NAME: PART_ROUTE_NAME,
  PROTOCOL: PART_PROTOCOL,
};

/** Parses `%COMMAND%`, `%COMMAND(args)%`, `%COMMAND(args):N%` and `%%`. */
export function parseHeaderValueFormat(value: string): { formatter: HeaderValueFormatter } | { error: string } {
  const parts: FormatPart[] = [];
  let lit = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i] as string;
    if (ch !== '%') {
      lit += ch;
      i++;
      continue;
    }
    if (value[i + 1] === '%') {
      lit += '%';
      i += 2;
      continue;
    }
    const m = /^%([A-Z][A-Z0-9_]*)(?:\(([^)]*)\))?(?::(\d+))?%/.exec(value.slice(i));
    if (m === null) {
      // Not a command: Envoy's formatter keeps a lone '%' as text.
      lit += ch;
      i++;
      continue;
    }
    const command = m[1] as string;
    const arg = m[2];
    const max = m[3] === undefined ? 0 : Number(m[3]);
    let part: FormatPart | null = null;
    if (command === 'REQ' || command === 'RESP') {
      if (arg === undefined || arg === '') return { error: `${command} requires a header name in "${value}"` };
      const [h, alt, extra] = arg.split('?');
      if (extra !== undefined) return { error: `more than one alternative header in "${value}"` };
      part = new FormatPart(
        command === 'REQ' ? PART_REQ : PART_RESP,
        '',
        (h as string).toLowerCase(),
        (alt ?? '').toLowerCase(),
        max,
      );
    } else if (arg === undefined && SIMPLE_COMMANDS[command] !== undefined) {
      part = new FormatPart(SIMPLE_COMMANDS[command] as number, '', '', '', max);
    }
    if (part === null) {
      // TODO: formatters that need data the route model does not have stay literal.
      lit += m[0];
    } else {
      if (lit !== '') parts.push(new FormatPart(PART_LITERAL, lit, '', '', 0));
      lit = '';
      parts.push(part);
    }
    i += m[0].length;
  }
  if (lit !== '') parts.push(new FormatPart(PART_LITERAL, lit, '', '', 0));
  return { formatter: new HeaderValueFormatter(value, parts) };
}

export class HeaderToAdd {
  readonly key: string;
  readonly formatter: HeaderValueFormatter;
  readonly appendAction: number;
  readonly keepEmptyValue: boolean;
  constructor(key: string, formatter: HeaderValueFormatter, appendAction: number, keepEmptyValue: boolean) {
    this.key = key;
    this.formatter = formatter;
    this.appendAction = appendAction;
    this.keepEmptyValue = keepEmptyValue;
  }
}

export class HeaderParser {
  readonly headersToAdd: readonly HeaderToAdd[];
  readonly headersToRemove: readonly string[];
  readonly empty: boolean;
  /** Scratch arrays reused across evaluations: evaluation is synchronous and never re-entrant. */
  readonly #overwriteKeys: string[] = [];
  readonly #overwriteValues: string[] = [];
  readonly #addKeys: string[] = [];
  readonly #addValues: string[] = [];

  constructor(headersToAdd: HeaderToAdd[], headersToRemove: string[]) {
    this.headersToAdd = headersToAdd;
    this.headersToRemove = headersToRemove;
    this.empty = headersToAdd.length === 0 && headersToRemove.length === 0;
  }

  evaluate(ctx: FormatContext): void {
    if (this.empty) return;
    const target = ctx.target;
    for (let i = 0; i < this.headersToRemove.length; i++) target.remove(this.headersToRemove[i] as string);
    const ok = this.#overwriteKeys;
    const ov = this.#overwriteValues;
    const ak = this.#addKeys;
    const av = this.#addValues;
    ok.length = 0;
    ov.length = 0;
    ak.length = 0;
    av.length = 0;
    for (let i = 0; i < this.headersToAdd.length; i++) {
      const h = this.headersToAdd[i] as HeaderToAdd;
      const value = h.formatter.format(ctx);
      if (value === '' && !h.keepEmptyValue) continue;
      switch (h.appendAction) {
        case APPEND_IF_EXISTS_OR_ADD:
          ak.push(h.key);
          av.push(value);
          break;
        case ADD_IF_ABSENT:
          if (target.get(h.key) === undefined) {
            ak.push(h.key);
            av.push(value);
          }
          break;
        case OVERWRITE_IF_EXISTS:
          if (target.get(h.key) === undefined) break;
          ok.push(h.key);
          ov.push(value);
          break;
        default:
          ok.push(h.key);
          ov.push(value);
      }
    }
    for (let i = 0; i < ok.length; i++) target.set(ok[i] as string, ov[i] as string);
    for (let i = 0; i < ak.length; i++) target.append(ak[i] as string, av[i] as string);
  }
}

export const EMPTY_HEADER_PARSER = new HeaderParser([], []);

function isModifiableHeader(lower: string): boolean {
  return !lower.startsWith(':') && lower !== 'host';
}

/** HeaderParser::configure(headers_to_add, headers_to_remove). */
export function readHeaderParser(
  r: ConfigReader,
  obj: unknown,
  addName: string,
  removeName: string,
  path: string,
): HeaderParser {
  return readHeaderParserOf(r, field(obj, addName), field(obj, removeName), addName, removeName, path);
}

/** `readHeaderParser` given the two lists already read (`addName` / `removeName` name them in errors). */
export function readHeaderParserOf(
  r: ConfigReader,
  addValue: unknown,
  removeValue: unknown,
  addName: string,
  removeName: string,
  path: string,
): HeaderParser {
  // Most routes have neither list: no work, no garbage.
  if ((addValue === undefined || addValue === null) && (removeValue === undefined || removeValue === null)) return EMPTY_HEADER_PARSER;
  const adds: HeaderToAdd[] = [];
  const removes: string[] = [];
  const addList = r.arrayOf(addValue, path, addName);
  for (let i = 0; i < addList.length; i++) {
    const p = `${join(path, addName)}[${i}]`;
    const option = addList[i];
    const header = r.object(option, 'header', p);
    if (header === undefined) {
      r.error(join(p, 'header'), 'header is required');
      continue;
    }
    const hp = join(p, 'header');
    const key = r.string(header, 'key', hp);
    if (key === undefined || key === '') {
      r.error(join(hp, 'key'), 'header key is required');
      continue;
    }
    // Envoy's HeaderValue rules (well_known_regex HTTP_HEADER_NAME / HTTP_HEADER_VALUE, strict
    // false): no NUL, CR or LF, so no config value can split a header or a response head.
    if (HEADER_FORBIDDEN.test(key)) {
      r.error(join(hp, 'key'), 'header key contains NUL, CR or LF');
      continue;
    }
    const lower = key.toLowerCase();
    if (!isModifiableHeader(lower)) {
      r.error(join(hp, 'key'), `:-prefixed or host headers may not be modified ("${key}")`);
      continue;
    }
    let value = r.string(header, 'value', hp);
    const raw = field(header, 'raw_value');
    if (raw !== undefined && raw !== null) {
      if (value !== undefined && value !== '') {
        r.error(hp, 'only one of value and raw_value may be set');
      }
      if (typeof raw !== 'string') r.error(join(hp, 'raw_value'), 'expected base64 bytes');
      else value = Buffer.from(raw, 'base64').toString('latin1');
    }
    const appendAction = r.enumValue(option, 'append_action', p, APPEND_ACTIONS) ?? APPEND_IF_EXISTS_OR_ADD;
    const append = r.bool(option, 'append', p);
    let action = appendAction;
    if (append !== undefined) {
      if (appendAction !== APPEND_IF_EXISTS_OR_ADD) {
        r.error(p, "Both append and append_action are set and it's not allowed");
      }
      action = append ? APPEND_IF_EXISTS_OR_ADD : OVERWRITE_IF_EXISTS_OR_ADD;
    }
    const keepEmpty = r.bool(option, 'keep_empty_value', p) ?? false;
    if (value !== undefined && HEADER_FORBIDDEN.test(value)) {
      r.error(join(hp, raw !== undefined && raw !== null ? 'raw_value' : 'value'), 'header value contains NUL, CR or LF');
      continue;
    }
    const f = parseHeaderValueFormat(value ?? '');
    if ('error' in f) {
      r.error(join(hp, 'value'), f.error);
      continue;
    }
    adds.push(new HeaderToAdd(lower, f.formatter, action, keepEmpty));
  }
  const removeList = r.arrayOf(removeValue, path, removeName);
  for (let i = 0; i < removeList.length; i++) {
    const p = `${join(path, removeName)}[${i}]`;
    const h = removeList[i];
    if (typeof h !== 'string' || h === '') {
      r.error(p, 'expected a non-empty header name');
      continue;
    }
    const lower = h.toLowerCase();
    if (!isModifiableHeader(lower)) {
      r.error(p, `:-prefixed or host headers may not be removed ("${h}")`);
      continue;
    }
    removes.push(lower);
  }
  return adds.length === 0 && removes.length === 0 ? EMPTY_HEADER_PARSER : new HeaderParser(adds, removes);
}
