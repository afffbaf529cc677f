// One-pass decoder from protobuf wire bytes to weir's model (proto3 JSON objects, resource-codec's
// header has the mapping). The reference path (protobufjs decode, then its toObject, then
// resource-codec's walk to proto3 JSON) makes three passes and two throw-away object trees per
// resource: at 1,000 routes that was ~9 ms and most of the garbage of an RDS update. This decoder
// walks the bytes once, driven by the same descriptors (protos.ts), and builds the final objects
// directly.
//
// It must produce exactly what the reference path produces: the same keys in the same order, the
// same values and the same notes. Wherever protobufjs does something unusual (a non-canonical
// varint, a singular field sent twice, fields out of field-number order, a wire type that does not
// match the field, truncated input, a map entry without a value, groups, very deep nesting) this
// decoder does not try to imitate it: it throws WIRE_FALLBACK and the caller runs the reference
// path, whose answer (or error) is then the answer. Encoders in the wild (Go, C++, protobufjs) write
// fields in field-number order, so the fallback is for anomalies only. test/xds/wire-decoder.test.ts
// compares both paths on random messages of every resource type and on corrupted bytes.
import type { FieldInfo, ProtoRegistry } from './protos';

/** Thrown (one shared instance, no stack) when the reference decoder must decide. */
export const WIRE_FALLBACK: Error = Object.freeze(new Error('wire decoder: use the reference decoder')) as Error;

/** proto3 JSON of a Duration, shortest exact form ("1.5s", "0.25s"), as people write Envoy YAML. */
export function durationString(seconds: unknown, nanos: unknown): string {
  let s = BigInt(typeof seconds === 'string' || typeof seconds === 'number' ? seconds : 0);
  let n = typeof nanos === 'number' ? nanos : 0;
  const neg = s < 0n || n < 0;
  if (neg) {
    s = -s;
    n = -n;
  }
  let frac = '';
  if (n !== 0) {
    // proto3 JSON parsers accept any number of fractional digits up to 9.
    frac = '.' + String(n).padStart(9, '0').replace(/0+$/, '');
  }
  return (neg ? '-' : '') + s.toString() + frac + 's';
}

/** A 64-bit integer in proto3 JSON as weir keeps it: a number when safe, else its decimal string. */
export function int64ToJson(v: unknown): unknown {
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  return v;
}

// Field kinds (one switch on the hot path instead of string compares).
const STRING = 1;
const BYTES = 2;
const BOOL = 3;
const INT32 = 4;
const UINT32 = 5;
const SINT32 = 6;
const FIXED32 = 7;
const SFIXED32 = 8;
const FLOAT = 9;
const DOUBLE = 10;
const INT64 = 11;
const UINT64 = 12;
const SINT64 = 13;
const FIXED64 = 14;
const SFIXED64 = 15;
const ENUM = 16;
const MESSAGE = 17;
const ANY = 18;
const DURATION = 19;
const TIMESTAMP = 20;
const STRUCT = 21;
const VALUE = 22;
const LIST_VALUE = 23;
const EMPTY = 24;
const WRAPPER = 25;

const SCALAR_KIND: Record<string, number> = {
  TYPE_STRING: STRING,
  TYPE_BYTES: BYTES,
  TYPE_BOOL: BOOL,
  TYPE_INT32: INT32,
  TYPE_UINT32: UINT32,
  TYPE_SINT32: SINT32,
  TYPE_FIXED32: FIXED32,
  TYPE_SFIXED32: SFIXED32,
  TYPE_FLOAT: FLOAT,
  TYPE_DOUBLE: DOUBLE,
  TYPE_INT64: INT64,
  TYPE_UINT64: UINT64,
  TYPE_SINT64: SINT64,
  TYPE_FIXED64: FIXED64,
  TYPE_SFIXED64: SFIXED64,
};

const WELL_KNOWN: Record<string, number> = {
  'google.protobuf.Any': ANY,
  'google.protobuf.Duration': DURATION,
  'google.protobuf.Timestamp': TIMESTAMP,
  'google.protobuf.Struct': STRUCT,
  'google.protobuf.Value': VALUE,
  'google.protobuf.ListValue': LIST_VALUE,
  'google.protobuf.Empty': EMPTY,
};

/** Wrapper type -> the kind of its `value` (field 1). */
const WRAPPED: Record<string, number> = {
  'google.protobuf.BoolValue': BOOL,
  'google.protobuf.UInt32Value': UINT32,
  'google.protobuf.Int32Value': INT32,
  'google.protobuf.UInt64Value': UINT64,
  'google.protobuf.Int64Value': INT64,
  'google.protobuf.DoubleValue': DOUBLE,
  'google.protobuf.FloatValue': FLOAT,
  'google.protobuf.StringValue': STRING,
  'google.protobuf.BytesValue': BYTES,
};

/** The wire type each kind is written with (packed repeated scalars also accept 2). */
function wireTypeOf(kind: number): number {
  switch (kind) {
    case BOOL:
    case INT32:
    case UINT32:
    case SINT32:
    case INT64:
    case UINT64:
    case SINT64:
    case ENUM:
      return 0;
    case DOUBLE:
    case FIXED64:
    case SFIXED64:
      return 1;
    case FLOAT:
    case FIXED32:
    case SFIXED32:
      return 5;
    default:
      return 2;
  }
}

interface FieldPlan {
  readonly name: string;
  readonly kind: number;
  readonly wire: number;
  readonly repeated: boolean;
  /** Neither repeated nor a map: a second occurrence on the wire is a fallback (protobufjs replaces). */
  readonly single: boolean;
  /** Repeated scalar that may come packed (wire type 2). */
  readonly packable: boolean;
  readonly typeName: string;
  readonly enumNames: ReadonlyMap<number, string> | null;
  /** For WRAPPER: the kind of the wrapped value. */
  readonly wrapped: number;
  /** For a map field: the value's plan (keys must be strings). */
  readonly mapValue: FieldPlan | null;
  /** For MESSAGE (and a map value of MESSAGE): resolved on first use (types are recursive). */
  msg: MessagePlan | null;
}

interface MessagePlan {
  /** Field plans by field number (dense: Envoy's numbers are small). */
  readonly byNumber: readonly (FieldPlan | undefined)[];
  readonly sparse: ReadonlyMap<number, FieldPlan> | null;
}

const DENSE_MAX = 512;
const MAX_DEPTH = 64;

/** Plans per registry (a registry is built once per process; tests build others). */
const PLANS = new WeakMap<ProtoRegistry, Map<string, MessagePlan>>();

function fieldPlan(reg: ProtoRegistry, f: FieldInfo, forceSingle: boolean): FieldPlan | undefined {
  let kind: number;
  let wrapped = 0;
  let enumNames: ReadonlyMap<number, string> | null = null;
  let mapValue: FieldPlan | null = null;
  if (f.mapValue) {
    // Only string-keyed maps (all of weir's subset): other key types have protobufjs quirks.
    if (f.mapKey !== 'TYPE_STRING') return undefined;
    const v = fieldPlan(reg, f.mapValue, true);
    if (!v) return undefined;
    mapValue = v;
    kind = MESSAGE; // unused for maps
  } else if (f.kind === 'scalar') {
    const k = SCALAR_KIND[f.scalar];
    if (k === undefined) return undefined;
    kind = k;
  } else if (f.kind === 'enum') {
    const names = reg.enumNames(f.typeName);
    if (!names) return undefined;
    kind = ENUM;
    enumNames = names;
  } else {
    const wk = WELL_KNOWN[f.typeName];
    const w = WRAPPED[f.typeName];
    if (wk !== undefined) kind = wk;
    else if (w !== undefined) {
      kind = WRAPPER;
      wrapped = w;
    } else kind = MESSAGE;
  }
  const repeated = !forceSingle && f.repeated;
  return {
    name: f.name,
    kind,
    wire: wireTypeOf(kind),
    repeated,
    single: !repeated && mapValue === null,
    packable: repeated && wireTypeOf(kind) !== 2,
    typeName: f.typeName,
    enumNames,
    wrapped,
    mapValue,
    msg: null,
  };
}

function messagePlan(reg: ProtoRegistry, typeName: string): MessagePlan | undefined {
  let plans = PLANS.get(reg);
  if (!plans) PLANS.set(reg, (plans = new Map()));
  const hit = plans.get(typeName);
  if (hit) return hit;
  const info = reg.message(typeName);
  if (!info) return undefined;
  const byNumber: (FieldPlan | undefined)[] = [];
  let sparse: Map<number, FieldPlan> | null = null;
  for (const f of info.fields) {
    const p = fieldPlan(reg, f, false);
    // A field this decoder cannot reproduce: mark it so that meeting it falls back.
    const plan = p ?? UNSUPPORTED;
    if (f.number < DENSE_MAX) byNumber[f.number] = plan;
    else (sparse ??= new Map()).set(f.number, plan);
  }
  const plan: MessagePlan = { byNumber, sparse };
  plans.set(typeName, plan);
  return plan;
}

const UNSUPPORTED: FieldPlan = {
  name: '',
  kind: 0,
  wire: -1,
  repeated: false,
  single: true,
  packable: false,
  typeName: '',
  enumNames: null,
  wrapped: 0,
  mapValue: null,
  msg: null,
};

const TWO_32 = 4294967296;

const ROUTE_CONFIGURATION = 'envoy.config.route.v3.RouteConfiguration';
/** RouteConfiguration.virtual_hosts (envoy/config/route/v3/route.proto). */
const VIRTUAL_HOSTS_FIELD = 2;

/**
 * Reuse of decoded virtual hosts between versions of a RouteConfiguration: a state-of-the-world RDS
 * push resends every virtual host even when one route changed (istiod: one virtual host per service
 * and port). A virtual host whose bytes equal one of the previous version's is not decoded again:
 * its previous object is returned (same content, by construction; the route compiler then reuses
 * its compiled VirtualHost too, route-table VIRTUAL_HOST_MEMO). The notes its decode made (skipped
 * typed configs) are kept without their `virtual_hosts[i]` prefix and given the current index.
 */
export interface VirtualHostReuse {
  /** The previous version's virtual hosts of the route config named `name`, by their bytes (latin1). */
  previous(name: string): ReadonlyMap<string, DecodedVirtualHost> | undefined;
  /** Filled with this decode's virtual hosts by their bytes. */
  readonly next: Map<string, DecodedVirtualHost>;
}

export interface DecodedVirtualHost {
  readonly value: object;
  /** Its notes, each without the leading `virtual_hosts[i]`. */
  readonly notes: readonly string[];
}

/**
 * Decodes one message of `typeName` from `buf`. Returns the proto3-JSON object and the notes
 * (skipped typed configs with their paths), exactly as resource-codec's reference path would, or
 * throws WIRE_FALLBACK (or another error) when the reference path must decide.
 */
export function decodeWire(
  reg: ProtoRegistry,
  typeName: string,
  buf: Buffer,
  reuse?: VirtualHostReuse,
): { message: Record<string, unknown>; notes: string[] } {
  if (typeName.startsWith('google.protobuf.')) throw WIRE_FALLBACK;
  const plan = messagePlan(reg, typeName);
  if (!plan) throw WIRE_FALLBACK;
  const d = new WireReader(reg, buf);
  if (reuse !== undefined && typeName === ROUTE_CONFIGURATION) d.reuse(reuse, plan.byNumber[VIRTUAL_HOSTS_FIELD]);
  const message = d.message(plan, buf.length, {}, 0);
  return { message, notes: d.notes };
}

class WireReader {
  readonly notes: string[] = [];
  readonly #reg: ProtoRegistry;
  readonly #buf: Buffer;
  #pos = 0;
  // The path of the message being decoded, kept as parallel stacks and joined only for a note
  // (`filter_chains[0].filters[1].typed_config`): no string is built per field.
  readonly #segName: string[] = [];
  /** -1: singular field; >= 0: index in a repeated field; -2: map value (key in #segKey). */
  readonly #segIdx: number[] = [];
  readonly #segKey: string[] = [];
  #reuse: VirtualHostReuse | null = null;
  #reuseField: FieldPlan | undefined;
  #reusePrev: ReadonlyMap<string, DecodedVirtualHost> | undefined;

  constructor(reg: ProtoRegistry, buf: Buffer) {
    this.#reg = reg;
    this.#buf = buf;
  }

  reuse(r: VirtualHostReuse, vhostField: FieldPlan | undefined): void {
    this.#reuse = r;
    this.#reuseField = vhostField;
  }

  /** One RouteConfiguration.virtual_hosts entry in [#pos, end): the previous object if the bytes match. */
  #virtualHost(f: FieldPlan, out: Record<string, unknown>, end: number, depth: number): unknown {
    const r = this.#reuse!;
    const key = this.#buf.latin1Slice(this.#pos, end);
    if (this.#reusePrev === undefined) {
      const name = out.name;
      this.#reusePrev = (typeof name === 'string' ? r.previous(name) : undefined) ?? EMPTY_SLICES;
    }
    const prev = this.#reusePrev.get(key);
    const prefix = this.#path(depth + 1); // virtual_hosts[i]
    // The same bytes twice in one config (a duplicate, rejected later anyway) decode separately.
    if (prev !== undefined && !r.next.has(key)) {
      this.#pos = end;
      r.next.set(key, prev);
      for (const n of prev.notes) this.notes.push(prefix + n);
      return prev.value;
    }
    const first = this.notes.length;
    const v = this.#messageValue(f, end, depth) as object;
    if (!r.next.has(key)) {
      const notes: string[] = [];
      for (let i = first; i < this.notes.length; i++) notes.push(this.notes[i]!.slice(prefix.length));
      r.next.set(key, { value: v, notes });
    }
    return v;
  }

  #path(depth: number): string {
    let p = '';
    for (let i = 0; i < depth; i++) {
      const name = this.#segName[i]!;
      p = p ? p + '.' + name : name;
      const idx = this.#segIdx[i]!;
      if (idx >= 0) p += '[' + idx + ']';
      else if (idx === -2) p += `["${this.#segKey[i]!}"]`;
    }
    return p;
  }

  // ---------------------------------------------------------------- primitive reads

  /** A varint's low 32 bits, as protobufjs' uint32() reads it (10-byte negative int32s included). */
  #u32(end: number): number {
    const b = this.#buf;
    let pos = this.#pos;
    if (pos >= end) throw WIRE_FALLBACK;
    let c = b[pos++]!;
    let v = c & 127;
    if (c < 128) {
      this.#pos = pos;
      return v;
    }
    for (let shift = 7; shift < 28; shift += 7) {
      if (pos >= end) throw WIRE_FALLBACK;
      c = b[pos++]!;
      v |= (c & 127) << shift;
      if (c < 128) {
        this.#pos = pos;
        return v >>> 0;
      }
    }
    if (pos >= end) throw WIRE_FALLBACK;
    c = b[pos++]!;
    v = (v | ((c & 15) << 28)) >>> 0;
    if (c < 128) {
      this.#pos = pos;
      return v;
    }
    // protobufjs skips 5 more bytes blindly: follow it only for a well-formed 10-byte varint.
    if (pos + 5 > end) throw WIRE_FALLBACK;
    for (let i = 0; i < 4; i++) if (b[pos + i]! < 128) throw WIRE_FALLBACK;
    if (b[pos + 4]! >= 128) throw WIRE_FALLBACK;
    this.#pos = pos + 5;
    return v;
  }

  /** A 64-bit varint as [lo, hi] (unsigned 32-bit halves), in #lo / #hi. */
  #lo = 0;
  #hi = 0;
  #u64(end: number): void {
    const b = this.#buf;
    let pos = this.#pos;
    let lo = 0;
    let hi = 0;
    let c = 0;
    let i = 0;
    for (; i < 4; i++) {
      if (pos >= end) throw WIRE_FALLBACK;
      c = b[pos++]!;
      lo |= (c & 127) << (i * 7);
      if (c < 128) {
        this.#pos = pos;
        this.#lo = lo >>> 0;
        this.#hi = 0;
        return;
      }
    }
    if (pos >= end) throw WIRE_FALLBACK;
    c = b[pos++]!;
    lo |= (c & 127) << 28;
    hi = (c & 127) >> 4;
    if (c >= 128) {
      for (i = 0; ; i++) {
        if (i === 5) throw WIRE_FALLBACK;
        if (pos >= end) throw WIRE_FALLBACK;
        c = b[pos++]!;
        hi |= (c & 127) << (i * 7 + 3);
        if (c < 128) break;
      }
    }
    this.#pos = pos;
    this.#lo = lo >>> 0;
    this.#hi = hi >>> 0;
  }

  /** The 64-bit value in #lo/#hi as proto3 JSON (number when safe, else decimal string). */
  #int64Json(signed: boolean): number | string {
    const lo = this.#lo;
    const hi = this.#hi;
    const h = signed ? hi | 0 : hi;
    const v = h * TWO_32 + lo;
    if (Number.isSafeInteger(v)) return v;
    const big = (BigInt(hi) << 32n) | BigInt(lo);
    return (signed ? BigInt.asIntN(64, big) : big).toString();
  }

  #zigzag64(): void {
    const mask = -(this.#lo & 1);
    this.#lo = (((this.#lo >>> 1) | (this.#hi << 31)) ^ mask) >>> 0;
    this.#hi = ((this.#hi >>> 1) ^ mask) >>> 0;
  }

  #fixed64(end: number): void {
    const pos = this.#pos;
    if (pos + 8 > end) throw WIRE_FALLBACK;
    this.#lo = this.#buf.readUInt32LE(pos);
    this.#hi = this.#buf.readUInt32LE(pos + 4);
    this.#pos = pos + 8;
  }

  /** Start of a length-delimited payload; its end is returned and checked against `end`. */
  #len(end: number): number {
    const n = this.#u32(end);
    const e = this.#pos + n;
    if (e > end) throw WIRE_FALLBACK;
    return e;
  }

  #string(end: number): string {
    const e = this.#len(end);
    const s = this.#buf.utf8Slice(this.#pos, e);
    this.#pos = e;
    return s;
  }

  #skip(wt: number, end: number): void {
    switch (wt) {
      case 0:
        this.#u64(end);
        return;
      case 1:
        if (this.#pos + 8 > end) throw WIRE_FALLBACK;
        this.#pos += 8;
        return;
      case 2:
        this.#pos = this.#len(end);
        return;
      case 5:
        if (this.#pos + 4 > end) throw WIRE_FALLBACK;
        this.#pos += 4;
        return;
      default:
        throw WIRE_FALLBACK; // groups (3, 4) and invalid wire types
    }
  }

  /** One non-message value of `kind` (wire type already checked). */
  #scalar(kind: number, f: FieldPlan | null, end: number): unknown {
    switch (kind) {
      case STRING:
        return this.#string(end);
      case BYTES: {
        const e = this.#len(end);
        const s = this.#buf.base64Slice(this.#pos, e);
        this.#pos = e;
        return s;
      }
      case BOOL:
        return this.#u32(end) !== 0;
      case INT32:
        return this.#u32(end) | 0;
      case UINT32:
        return this.#u32(end);
      case SINT32: {
        const v = this.#u32(end);
        return ((v >>> 1) ^ -(v & 1)) | 0;
      }
      case ENUM: {
        const v = this.#u32(end) | 0;
        const name = f!.enumNames!.get(v);
        return name === undefined ? v : name;
      }
      case FIXED32:
      case SFIXED32:
      case FLOAT:
      case DOUBLE: {
        const pos = this.#pos;
        const size = kind === DOUBLE ? 8 : 4;
        if (pos + size > end) throw WIRE_FALLBACK;
        this.#pos = pos + size;
        const b = this.#buf;
        return kind === FIXED32 ? b.readUInt32LE(pos) : kind === SFIXED32 ? b.readInt32LE(pos) : kind === FLOAT ? b.readFloatLE(pos) : b.readDoubleLE(pos);
      }
      case INT64:
        this.#u64(end);
        return this.#int64Json(true);
      case UINT64:
        this.#u64(end);
        return this.#int64Json(false);
      case SINT64:
        this.#u64(end);
        this.#zigzag64();
        return this.#int64Json(true);
      case FIXED64:
        this.#fixed64(end);
        return this.#int64Json(false);
      case SFIXED64:
        this.#fixed64(end);
        return this.#int64Json(true);
    }
    throw WIRE_FALLBACK;
  }

  // ---------------------------------------------------------------- messages

  /** Fields of one message up to `end`, into `out` (keys in field-number order, as toObject). */
  message(plan: MessagePlan, end: number, out: Record<string, unknown>, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) throw WIRE_FALLBACK;
    const dense = plan.byNumber;
    let last = 0;
    let list: unknown[] | null = null;
    let listName = '';
    let map: Record<string, unknown> | null = null;
    while (this.#pos < end) {
      const tag = this.#u32(end);
      const num = tag >>> 3;
      const wt = tag & 7;
      const f = num < dense.length ? dense[num] : plan.sparse?.get(num);
      if (f === undefined) {
        this.#skip(wt, end);
        continue;
      }
      if (num <= last) {
        // The same repeated field again is fine; anything else out of order is the reference's.
        if (num < last || f.single) throw WIRE_FALLBACK;
      } else {
        last = num;
        if (list !== null) out[listName] = exact(list);
        list = null;
        map = null;
      }
      if (f.mapValue !== null) {
        if (wt !== 2) throw WIRE_FALLBACK;
        if (map === null) out[f.name] = map = {};
        this.#mapEntry(f, map, end, depth);
        continue;
      }
      if (f.wire !== wt) {
        if (!(f.packable && wt === 2)) throw WIRE_FALLBACK;
        // Packed repeated scalars.
        const e = this.#len(end);
        while (this.#pos < e) {
          const v = this.#scalar(f.kind, f, e);
          if (list === null) {
            out[(listName = f.name)] = list = [];
          }
          list.push(v);
        }
        continue;
      }
      let v: unknown;
      if (f.kind < ENUM + 1) v = this.#scalar(f.kind, f, end);
      else {
        const e = this.#len(end);
        this.#segName[depth] = f.name;
        this.#segIdx[depth] = f.repeated ? (list === null ? 0 : list.length) : -1;
        v = f === this.#reuseField && depth === 0 ? this.#virtualHost(f, out, e, depth) : this.#messageValue(f, e, depth);
        if (this.#pos !== e) throw WIRE_FALLBACK;
      }
      if (f.repeated) {
        if (list === null) out[(listName = f.name)] = list = [];
        list.push(v);
      } else out[f.name] = v;
    }
    if (this.#pos !== end) throw WIRE_FALLBACK;
    if (list !== null) out[listName] = exact(list);
    return out;
  }

  /** A message-kind value occupying [#pos, end); the path segment for it is at `depth`. */
  #messageValue(f: FieldPlan, end: number, depth: number): unknown {
    switch (f.kind) {
      case MESSAGE: {
        let m = f.msg;
        if (m === null) {
          const p = messagePlan(this.#reg, f.typeName);
          if (!p) throw WIRE_FALLBACK;
          m = f.msg = p;
        }
        return this.message(m, end, {}, depth + 1);
      }
      case ANY:
        return this.#any(end, depth + 1);
      case DURATION: {
        let seconds: unknown;
        let nanos: unknown;
        while (this.#pos < end) {
          const tag = this.#u32(end);
          const num = tag >>> 3;
          const wt = tag & 7;
          if (num === 1 && wt === 0) {
            this.#u64(end);
            seconds = this.#int64Json(true);
          } else if (num === 2 && wt === 0) nanos = this.#u32(end) | 0;
          else if (num === 1 || num === 2) throw WIRE_FALLBACK;
          else this.#skip(wt, end);
        }
        return durationString(seconds, nanos);
      }
      case TIMESTAMP: {
        let seconds: unknown;
        let nanos: unknown;
        while (this.#pos < end) {
          const tag = this.#u32(end);
          const num = tag >>> 3;
          const wt = tag & 7;
          if (num === 1 && wt === 0) {
            this.#u64(end);
            seconds = this.#int64Json(true);
          } else if (num === 2 && wt === 0) nanos = this.#u32(end) | 0;
          else if (num === 1 || num === 2) throw WIRE_FALLBACK;
          else this.#skip(wt, end);
        }
        const ms = Number(seconds ?? 0) * 1000 + Math.floor(Number(nanos ?? 0) / 1e6);
        return new Date(ms).toISOString();
      }
      case STRUCT:
        return this.#struct(end, depth);
      case VALUE:
        return this.#value(end, depth);
      case LIST_VALUE:
        return this.#list(end, depth);
      case EMPTY:
        while (this.#pos < end) this.#skip(this.#u32(end) & 7, end);
        return {};
      case WRAPPER: {
        const k = f.wrapped;
        const want = wireTypeOf(k);
        let x: unknown;
        while (this.#pos < end) {
          const tag = this.#u32(end);
          const wt = tag & 7;
          if (tag >>> 3 === 1) {
            if (wt !== want) throw WIRE_FALLBACK;
            x = this.#scalar(k, null, end);
          } else this.#skip(wt, end);
        }
        if (x !== undefined) return x;
        // proto3 omits the default inside the wrapper: a present wrapper without `value`.
        return k === BOOL ? false : k === STRING || k === BYTES ? '' : 0;
      }
    }
    throw WIRE_FALLBACK;
  }

  #mapEntry(f: FieldPlan, map: Record<string, unknown>, end: number, depth: number): void {
    const e = this.#len(end);
    const vf = f.mapValue!;
    let key = '';
    let v: unknown;
    let has = false;
    while (this.#pos < e) {
      const tag = this.#u32(e);
      const num = tag >>> 3;
      const wt = tag & 7;
      if (num === 1) {
        if (wt !== 2 || has) throw WIRE_FALLBACK; // the key must come first (the path needs it)
        key = this.#string(e);
      } else if (num === 2) {
        if (wt !== vf.wire || has) throw WIRE_FALLBACK;
        has = true;
        if (vf.kind < ENUM + 1) v = this.#scalar(vf.kind, vf, e);
        else {
          const ve = this.#len(e);
          this.#segName[depth] = f.name;
          this.#segIdx[depth] = -2;
          this.#segKey[depth] = key;
          v = this.#messageValue(vf, ve, depth);
          if (this.#pos !== ve) throw WIRE_FALLBACK;
        }
      } else this.#skip(wt, e);
    }
    if (this.#pos !== e) throw WIRE_FALLBACK;
    // A missing value, a repeated key (notes would be kept for the replaced value), an index-like
    // key (objects order those first) or __proto__: the reference path decides.
    if (!has || key === '__proto__' || Object.prototype.hasOwnProperty.call(map, key)) throw WIRE_FALLBACK;
    const c = key.charCodeAt(0);
    if (c >= 48 && c <= 57) throw WIRE_FALLBACK;
    map[key] = v;
  }

  #any(end: number, depth: number): Record<string, unknown> {
    let url: string | undefined;
    let vStart = -1;
    let vEnd = -1;
    while (this.#pos < end) {
      const tag = this.#u32(end);
      const num = tag >>> 3;
      const wt = tag & 7;
      if (num === 1) {
        if (wt !== 2) throw WIRE_FALLBACK;
        url = this.#string(end);
      } else if (num === 2) {
        if (wt !== 2) throw WIRE_FALLBACK;
        vEnd = this.#len(end);
        vStart = this.#pos;
        this.#pos = vEnd;
      } else this.#skip(wt, end);
    }
    const u = url ?? '';
    const slash = u.lastIndexOf('/');
    const typeName = slash < 0 ? u : u.slice(slash + 1);
    const reg = this.#reg;
    if (typeName && reg.canSerialize(typeName) && reg.message(typeName)) {
      // protobufjs would decode a well-known type packed in an Any by its own field names.
      if (typeName.startsWith('google.protobuf.')) throw WIRE_FALLBACK;
      const plan = messagePlan(reg, typeName);
      if (!plan) throw WIRE_FALLBACK;
      const out: Record<string, unknown> = { '@type': u };
      if (vStart < 0) return out;
      const save = this.#pos;
      this.#pos = vStart;
      this.message(plan, vEnd, out, depth);
      this.#pos = save;
      return out;
    }
    this.notes.push(`${this.#path(depth)}: skipped typed config ${u} (no proto in weir)`);
    return { '@type': u };
  }

  // google.protobuf.Struct / Value / ListValue straight to plain JSON.

  #struct(end: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (this.#pos < end) {
      const tag = this.#u32(end);
      if (tag >>> 3 !== 1) {
        this.#skip(tag & 7, end);
        continue;
      }
      if ((tag & 7) !== 2) throw WIRE_FALLBACK;
      const e = this.#len(end);
      let key = '';
      let v: unknown;
      let has = false;
      while (this.#pos < e) {
        const t2 = this.#u32(e);
        const n2 = t2 >>> 3;
        if (n2 === 1) {
          if ((t2 & 7) !== 2) throw WIRE_FALLBACK;
          key = this.#string(e);
        } else if (n2 === 2) {
          if ((t2 & 7) !== 2) throw WIRE_FALLBACK;
          const ve = this.#len(e);
          v = this.#value(ve, depth + 1);
          if (this.#pos !== ve) throw WIRE_FALLBACK;
          has = true;
        } else this.#skip(t2 & 7, e);
      }
      if (!has || key === '__proto__') throw WIRE_FALLBACK;
      out[key] = v; // a repeated key keeps its first position and takes the last value, as there
    }
    return out;
  }

  #value(end: number, depth: number): unknown {
    if (depth > MAX_DEPTH) throw WIRE_FALLBACK;
    // Every member present is decoded (last wins); the first in this order is the value.
    let isNull = false;
    let num: number | undefined;
    let str: string | undefined;
    let bool: boolean | undefined;
    let struct: Record<string, unknown> | undefined;
    let list: unknown[] | undefined;
    while (this.#pos < end) {
      const tag = this.#u32(end);
      const n = tag >>> 3;
      const wt = tag & 7;
      switch (n) {
        case 1:
          if (wt !== 0) throw WIRE_FALLBACK;
          this.#u32(end);
          isNull = true;
          break;
        case 2:
          if (wt !== 1) throw WIRE_FALLBACK;
          num = this.#scalar(DOUBLE, null, end) as number;
          break;
        case 3:
          if (wt !== 2) throw WIRE_FALLBACK;
          str = this.#string(end);
          break;
        case 4:
          if (wt !== 0) throw WIRE_FALLBACK;
          bool = this.#u32(end) !== 0;
          break;
        case 5: {
          if (wt !== 2) throw WIRE_FALLBACK;
          const e = this.#len(end);
          struct = this.#struct(e, depth + 1);
          if (this.#pos !== e) throw WIRE_FALLBACK;
          break;
        }
        case 6: {
          if (wt !== 2) throw WIRE_FALLBACK;
          const e = this.#len(end);
          list = this.#list(e, depth + 1);
          if (this.#pos !== e) throw WIRE_FALLBACK;
          break;
        }
        default:
          this.#skip(wt, end);
      }
    }
    if (isNull) return null;
    if (num !== undefined) return num;
    if (str !== undefined) return str;
    if (bool !== undefined) return bool;
    if (struct !== undefined) return struct;
    if (list !== undefined) return list;
    return null;
  }

  #list(end: number, depth: number): unknown[] {
    const out: unknown[] = [];
    while (this.#pos < end) {
      const tag = this.#u32(end);
      if (tag >>> 3 !== 1) {
        this.#skip(tag & 7, end);
        continue;
      }
      if ((tag & 7) !== 2) throw WIRE_FALLBACK;
      const e = this.#len(end);
      out.push(this.#value(e, depth + 1));
      if (this.#pos !== e) throw WIRE_FALLBACK;
    }
    return out;
  }
}

const EMPTY_SLICES: ReadonlyMap<string, DecodedVirtualHost> = new Map();

/**
 * A list built by push() has spare capacity (V8 grows an empty array to 17 slots on the first
 * push): ~120 bytes per short list, kept as long as the config is. The decoded config is retained
 * (config_dump, the next update's comparison), so each list is copied once to its exact size.
 */
function exact(list: unknown[]): unknown[] {
  return list.slice();
}

declare global {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    utf8Slice(start: number, end: number): string;
    base64Slice(start: number, end: number): string;
  }
}
