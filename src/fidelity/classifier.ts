// Which version answered a response. Compiled once from the `--classify` spec; the load client
// calls `fromRawHeaders` / `fromBody` per response with undici's raw header buffers, so the hot
// path compares bytes and never builds a header object.
//
//   header:<name>   the value of response header <name> (the first one if repeated), trimmed
//   body:<regex>    capture group 1 of a JavaScript RegExp run on the first --body-limit KiB of the
//                   body decoded as UTF-8 (a JS RegExp, not RE2: the pattern is the operator's own,
//                   and the input is bounded); `body:/<regex>/i` passes flags
//   status          the status code, e.g. "200" or "503"

import { UsageError } from '../errors';

export type ClassifierSpec =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'body'; readonly pattern: string; readonly flags: string; readonly limitBytes: number }
  | { readonly kind: 'status' };

export const DEFAULT_BODY_LIMIT_KIB = 16;

/** Parses `header:x-version`, `body:<regex>`, `status`. Throws UsageError. */
export function parseClassifierSpec(spec: string, bodyLimitKiB: number = DEFAULT_BODY_LIMIT_KIB): ClassifierSpec {
  if (spec === 'status') return { kind: 'status' };
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1);
  if (kind === 'header') {
    const name = arg.trim().toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) throw new UsageError(`--classify header:<name>: "${arg}" is not a valid header name`);
    return { kind: 'header', name };
  }
  if (kind === 'body') {
    if (arg === '') throw new UsageError('--classify body:<regex>: the regex is empty');
    // `body:/pattern/flags` allows flags (i, s, m, u); g and y are dropped: they make exec stateful.
    const literal = /^\/(.*)\/([dgimsuvy]*)$/s.exec(arg);
    const pattern = literal === null ? arg : literal[1]!;
    const flags = literal === null ? '' : literal[2]!.replace(/[gy]/g, '');
    let re: RegExp;
    try {
      re = new RegExp(pattern, flags);
    } catch (err) {
      throw new UsageError(`--classify body:<regex>: ${(err as Error).message}`);
    }
    // Adding an empty alternative makes exec('') succeed, and its result has one slot per capture group.
    const groups = new RegExp(re.source + '|', flags).exec('')!.length - 1;
    if (groups < 1) throw new UsageError(`--classify body:<regex>: "${arg}" has no capture group; group 1 must capture the version`);
    if (!(bodyLimitKiB > 0)) throw new UsageError('--body-limit must be > 0 KiB');
    return { kind: 'body', pattern, flags, limitBytes: Math.floor(bodyLimitKiB * 1024) };
  }
  throw new UsageError(`--classify: "${spec}" is not one of header:<name>, body:<regex>, status`);
}

export function formatClassifierSpec(spec: ClassifierSpec): string {
  switch (spec.kind) {
    case 'header':
      return 'header:' + spec.name;
    case 'body':
      return spec.flags === '' ? 'body:' + spec.pattern : 'body:/' + spec.pattern + '/' + spec.flags;
    case 'status':
      return 'status';
  }
}

/** Something that looks like a response, for `classify` (tests, non-hot callers). */
export interface ResponseLike {
  readonly statusCode: number;
  /** Header names in any case; a value may be a list for a repeated header. */
  readonly headers?: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body?: string;
}

export class Classifier {
  readonly spec: ClassifierSpec;
  /** True when the body must be read (body:<regex>); otherwise the load client discards it. */
  readonly needsBody: boolean;
  /** Bytes of body the classifier looks at; 0 unless needsBody. */
  readonly bodyLimitBytes: number;
  readonly #headerName: string;
  readonly #headerNameBytes: Buffer;
  readonly #regex: RegExp | null;
  // Version strings are interned so that counting downstream keys a Map by the same string.
  readonly #statusNames: string[] = [];

  constructor(spec: ClassifierSpec) {
    this.spec = spec;
    this.needsBody = spec.kind === 'body';
    this.bodyLimitBytes = spec.kind === 'body' ? spec.limitBytes : 0;
    this.#headerName = spec.kind === 'header' ? spec.name : '';
    this.#headerNameBytes = Buffer.from(this.#headerName, 'latin1');
    this.#regex = spec.kind === 'body' ? new RegExp(spec.pattern, spec.flags) : null;
  }

  /**
   * The version from the status line and undici's raw headers ([name, value, name, value, ...]),
   * for `header:` and `status`; null when the header is missing or empty. Returns null for `body:`.
   */
  fromRawHeaders(statusCode: number, rawHeaders: readonly (Buffer | string)[] | null): string | null {
    if (this.spec.kind === 'status') return this.#status(statusCode);
    if (this.spec.kind !== 'header' || rawHeaders === null) return null;
    const want = this.#headerNameBytes;
    const len = want.length;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      if (name.length !== len) continue;
      if (typeof name === 'string' ? name.toLowerCase() === this.#headerName : equalsLowerCase(name, want)) {
        const value = rawHeaders[i + 1]!;
        const text = (typeof value === 'string' ? value : value.toString('latin1')).trim();
        return text === '' ? null : text;
      }
    }
    return null;
  }

  /** The version from the (already truncated) body text, for `body:`; null when the regex does not match or group 1 is empty. */
  fromBody(body: string): string | null {
    const re = this.#regex;
    if (re === null) return null;
    const m = re.exec(body);
    const v = m === null ? undefined : m[1];
    return v === undefined || v === '' ? null : v;
  }

  /** Classifies a whole response (any classifier kind). */
  classify(response: ResponseLike): string | null {
    switch (this.spec.kind) {
      case 'status':
        return this.#status(response.statusCode);
      case 'body': {
        const body = response.body ?? '';
        const bytes = Buffer.from(body, 'utf8');
        return this.fromBody(bytes.length > this.bodyLimitBytes ? bytes.subarray(0, this.bodyLimitBytes).toString('utf8') : body);
      }
      case 'header': {
        const raw: string[] = [];
        const headers = response.headers ?? {};
        for (const name of Object.keys(headers)) {
          const v = headers[name];
          if (v === undefined) continue;
          if (typeof v === 'string') raw.push(name, v);
          else for (const one of v) raw.push(name, one);
        }
        return this.fromRawHeaders(response.statusCode, raw);
      }
    }
  }

  #status(statusCode: number): string {
    let s = this.#statusNames[statusCode];
    if (s === undefined) {
      s = String(statusCode);
      this.#statusNames[statusCode] = s;
    }
    return s;
  }
}

/** `name` (any case, raw bytes) equals `lower` (lower-case ASCII bytes) of the same length. */
function equalsLowerCase(name: Buffer, lower: Buffer): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = name[i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower[i]) return false;
  }
  return true;
}
