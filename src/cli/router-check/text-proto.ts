// A small reader for the protobuf text format (`.pb_text`), enough for router_check test files
// (Envoy's `TestUtility::loadFromFile` accepts `.pb_text` through `Protobuf::TextFormat`).
// It is schema-less: every field becomes a list of its occurrences, and `toProtoJson` turns that
// into the proto3-JSON shape the rest of the tool reads, given which fields are repeated and which
// are wrapper types (`cluster_name: { value: "x" }` in text format is `"cluster_name": "x"` in JSON).

/** One parsed message: each field name maps to its values in the order they appeared. */
export interface TextMessage {
  readonly fields: Map<string, TextValue[]>;
}

/** A scalar keeps its lexical kind: enum names and `true`/`false` are identifiers, not strings. */
export type TextValue =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number; text: string }
  | { kind: 'ident'; value: string }
  | { kind: 'message'; value: TextMessage };

export class TextFormatError extends Error {
  constructor(message: string, line: number, column: number) {
    super(`${line}:${column}: ${message}`);
    this.name = 'TextFormatError';
  }
}

type Token =
  | { t: 'ident'; v: string; line: number; col: number }
  | { t: 'string'; v: string; line: number; col: number }
  | { t: 'number'; v: string; line: number; col: number }
  | { t: 'punct'; v: string; line: number; col: number }
  | { t: 'eof'; v: ''; line: number; col: number };

const SIMPLE_ESCAPES: Record<string, string> = {
  n: '\n', r: '\r', t: '\t', v: '\v', f: '\f', b: '\b', a: '\x07', '\\': '\\', "'": "'", '"': '"', '?': '?',
};

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    const col = i - lineStart + 1;
    if (c === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      // Adjacent string literals concatenate ("a" "b" is "ab"), as in C.
      let bytes: number[] = [];
      let first = true;
      while (first || (i < n && (src[i] === '"' || src[i] === "'"))) {
        first = false;
        const quote = src[i]!;
        i++;
        for (;;) {
          if (i >= n || src[i] === '\n') throw new TextFormatError('unterminated string', line, col);
          const ch = src[i]!;
          if (ch === quote) {
            i++;
            break;
          }
          if (ch === '\\') {
            const e = src[i + 1];
            if (e === undefined) throw new TextFormatError('bad escape', line, col);
            if (SIMPLE_ESCAPES[e] !== undefined) {
              bytes.push(SIMPLE_ESCAPES[e]!.charCodeAt(0));
              i += 2;
            } else if (e === 'x' || e === 'X') {
              const m = /^[0-9a-fA-F]{1,2}/.exec(src.slice(i + 2, i + 4));
              if (!m) throw new TextFormatError('bad \\x escape', line, col);
              bytes.push(parseInt(m[0], 16));
              i += 2 + m[0].length;
            } else if (e >= '0' && e <= '7') {
              const m = /^[0-7]{1,3}/.exec(src.slice(i + 1, i + 4))!;
              bytes.push(parseInt(m[0], 8) & 0xff);
              i += 1 + m[0].length;
            } else if (e === 'u' || e === 'U') {
              const len = e === 'u' ? 4 : 8;
              const hex = src.slice(i + 2, i + 2 + len);
              if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) throw new TextFormatError('bad unicode escape', line, col);
              bytes = bytes.concat([...Buffer.from(String.fromCodePoint(parseInt(hex, 16)), 'utf8')]);
              i += 2 + len;
            } else {
              throw new TextFormatError(`unknown escape \\${e}`, line, col);
            }
            continue;
          }
          const cp = src.codePointAt(i)!;
          const s = String.fromCodePoint(cp);
          bytes = bytes.concat([...Buffer.from(s, 'utf8')]);
          i += s.length;
        }
        // Skip whitespace and comments between adjacent literals.
        let j = i;
        for (;;) {
          while (j < n && /\s/.test(src[j]!)) {
            if (src[j] === '\n') {
              line++;
              lineStart = j + 1;
            }
            j++;
          }
          if (src[j] === '#') {
            while (j < n && src[j] !== '\n') j++;
            continue;
          }
          break;
        }
        if (src[j] === '"' || src[j] === "'") i = j;
      }
      out.push({ t: 'string', v: Buffer.from(bytes).toString('utf8'), line, col });
      continue;
    }
    if (/[0-9.\-+]/.test(c) && /^[-+]?(\.?[0-9])/.test(src.slice(i, i + 3))) {
      const m = /^[-+]?(0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?[fF]?|[0-9]+\.)/.exec(src.slice(i))!;
      out.push({ t: 'number', v: m[0], line, col });
      i += m[0].length;
      continue;
    }
    if (c === '-' && /^-\s*(inf|infinity|nan)\b/i.test(src.slice(i))) {
      const m = /^-\s*(inf|infinity|nan)/i.exec(src.slice(i))!;
      out.push({ t: 'number', v: '-' + m[1]!, line, col });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: 'ident', v: m[0], line, col });
      i += m[0].length;
      continue;
    }
    if ('{}<>[]:,;/.'.includes(c)) {
      out.push({ t: 'punct', v: c, line, col });
      i++;
      continue;
    }
    throw new TextFormatError(`unexpected character '${c}'`, line, col);
  }
  out.push({ t: 'eof', v: '', line, col: i - lineStart + 1 });
  return out;
}

/** Parses a whole text-format message. Throws `TextFormatError` with line and column. */
export function parseTextProto(src: string): TextMessage {
  const toks = tokenize(src);
  let p = 0;
  const peek = (): Token => toks[p]!;
  const next = (): Token => toks[p++]!;
  const fail = (msg: string, tok: Token = peek()): never => {
    throw new TextFormatError(msg, tok.line, tok.col);
  };
  const isPunct = (v: string): boolean => {
    const t = peek();
    return t.t === 'punct' && t.v === v;
  };

  function parseMessage(close: string | null): TextMessage {
    const fields = new Map<string, TextValue[]>();
    for (;;) {
      const t = peek();
      if (close === null ? t.t === 'eof' : t.t === 'punct' && t.v === close) {
        if (close !== null) next();
        return { fields };
      }
      if (t.t === 'eof') fail(`expected "${close}"`);
      let name: string;
      if (t.t === 'ident') {
        name = next().v;
      } else if (isPunct('[')) {
        // Extension or Any type URL: [type.googleapis.com/foo.Bar]
        next();
        let s = '';
        while (!isPunct(']')) {
          const x = next();
          if (x.t === 'eof') fail('unterminated [name]');
          s += x.v;
        }
        next();
        name = `[${s}]`;
      } else {
        return fail(`expected a field name, got "${t.v}"`);
      }
      const values = fields.get(name) ?? [];
      fields.set(name, values);
      let colon = false;
      if (isPunct(':')) {
        next();
        colon = true;
      }
      if (isPunct('{') || isPunct('<')) {
        const open = next().v;
        values.push({ kind: 'message', value: parseMessage(open === '{' ? '}' : '>') });
      } else if (isPunct('[')) {
        next();
        if (!isPunct(']')) {
          for (;;) {
            values.push(parseValue(true));
            if (isPunct(',')) {
              next();
              continue;
            }
            break;
          }
        }
        if (!isPunct(']')) fail('expected "]"');
        next();
      } else {
        if (!colon) fail(`expected ":" after field "${name}"`);
        values.push(parseValue(false));
      }
      if (isPunct(',') || isPunct(';')) next();
    }
  }

  function parseValue(inList: boolean): TextValue {
    const t = peek();
    if (inList && (isPunct('{') || isPunct('<'))) {
      const open = next().v;
      return { kind: 'message', value: parseMessage(open === '{' ? '}' : '>') };
    }
    if (t.t === 'string') {
      next();
      return { kind: 'string', value: t.v };
    }
    if (t.t === 'number') {
      next();
      return { kind: 'number', value: parseNumber(t.v), text: t.v };
    }
    if (t.t === 'ident') {
      next();
      const lower = t.v.toLowerCase();
      if (lower === 'inf' || lower === 'infinity') return { kind: 'number', value: Infinity, text: t.v };
      if (lower === 'nan') return { kind: 'number', value: NaN, text: t.v };
      return { kind: 'ident', value: t.v };
    }
    return fail(`expected a value, got "${t.v}"`);
  }

  return parseMessage(null);
}

function parseNumber(text: string): number {
  let s = text.replace(/\s+/g, '');
  if (/^-?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^-?nan$/i.test(s)) return NaN;
  if (/[fF]$/.test(s) && !/^[-+]?0[xX]/.test(s)) s = s.slice(0, -1);
  const neg = s.startsWith('-');
  const body = s.replace(/^[-+]/, '');
  let v: number;
  if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0[0-7]+$/.test(body)) v = parseInt(body, 8);
  else v = Number(body);
  return neg ? -v : v;
}

/**
 * How to turn a text message into proto3 JSON: which fields are repeated, which are
 * google.protobuf wrappers (unwrapped to their `value`), which are `google.protobuf.Struct`, and
 * the schema of nested messages. Fields not described are converted generically (a field seen
 * once is singular, more than once a list).
 */
export interface TextSchema {
  readonly repeated?: ReadonlySet<string>;
  readonly wrappers?: ReadonlySet<string>;
  readonly structs?: ReadonlySet<string>;
  readonly messages?: Readonly<Record<string, TextSchema>>;
}

export function toProtoJson(msg: TextMessage, schema: TextSchema = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, values] of msg.fields) {
    const sub = schema.messages?.[name];
    const conv = (v: TextValue): unknown => {
      if (schema.structs?.has(name)) return v.kind === 'message' ? structToJson(v.value) : scalarToJson(v);
      if (schema.wrappers?.has(name)) {
        if (v.kind !== 'message') return scalarToJson(v);
        const inner = v.value.fields.get('value');
        const last = inner?.[inner.length - 1];
        // An empty wrapper (`code_redirect {}`) is set and holds the default; `{}` says so.
        return last === undefined ? {} : scalarToJson(last);
      }
      return v.kind === 'message' ? toProtoJson(v.value, sub) : scalarToJson(v);
    };
    if (schema.repeated?.has(name)) {
      out[name] = values.map(conv);
    } else if (values.length === 1) {
      out[name] = conv(values[0]!);
    } else if (values.length > 1) {
      if (schema.repeated === undefined && schema.wrappers === undefined) out[name] = values.map(conv);
      else out[name] = conv(values[values.length - 1]!); // a singular field given twice: last wins
    }
  }
  return out;
}

function scalarToJson(v: TextValue): unknown {
  switch (v.kind) {
    case 'string':
      return v.value;
    case 'number':
      // uint64 beyond 2^53 keeps its digits (proto JSON writes 64-bit integers as strings).
      return Number.isSafeInteger(v.value) || !/^[-+]?\d+$/.test(v.text) ? v.value : v.text;
    case 'ident':
      if (v.value === 'true' || v.value === 'True' || v.value === 't') return true;
      if (v.value === 'false' || v.value === 'False' || v.value === 'f') return false;
      return v.value;
    case 'message':
      return toProtoJson(v.value);
  }
}

/** google.protobuf.Struct in text format: `fields { key: "k" value { string_value: "v" } }`. */
function structToJson(msg: TextMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const entry of msg.fields.get('fields') ?? []) {
    if (entry.kind !== 'message') continue;
    const key = entry.value.fields.get('key')?.[0];
    const value = entry.value.fields.get('value')?.[0];
    if (key === undefined || key.kind !== 'string') continue;
    out[key.value] = value === undefined ? null : valueToJson(value);
  }
  return out;
}

function valueToJson(v: TextValue): unknown {
  if (v.kind !== 'message') return scalarToJson(v);
  const f = v.value.fields;
  const one = (k: string): TextValue | undefined => f.get(k)?.[0];
  if (f.has('null_value')) return null;
  const num = one('number_value');
  if (num !== undefined) return scalarToJson(num);
  const str = one('string_value');
  if (str !== undefined) return scalarToJson(str);
  const b = one('bool_value');
  if (b !== undefined) return scalarToJson(b);
  const s = one('struct_value');
  if (s !== undefined) return s.kind === 'message' ? structToJson(s.value) : {};
  const l = one('list_value');
  if (l !== undefined) {
    if (l.kind !== 'message') return [];
    return (l.value.fields.get('values') ?? []).map(valueToJson);
  }
  return null;
}
