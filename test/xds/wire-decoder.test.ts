// The one-pass wire decoder (src/xds/wire-decoder.ts) against the reference path (protobufjs decode,
// toObject, resource-codec's walk): for random messages of every resource type (all field kinds,
// well-known types, Anys weir knows and does not know, maps, 64-bit extremes, unknown enum numbers)
// both give the same object with the same key order and the same notes; for corrupted bytes the
// wire decoder either gives up (the reference decides) or agrees with the reference.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { TYPE_URL } from '../../src/config/resources';
import { loadProtos, type FieldInfo, type ProtoRegistry } from '../../src/xds/protos';
import { decodeReference, decodeResource, encodeMessage, encodeResource, typeNameOf } from '../../src/xds/resource-codec';
import { decodeWire, WIRE_FALLBACK } from '../../src/xds/wire-decoder';

const reg = loadProtos();

/** mulberry32: a seeded generator, so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const STRINGS = ['', 'a', 'reviews', 'outbound|9080|v2|reviews.default.svc.cluster.local', '/svc1/', 'ünïcødé ✓', 'x'.repeat(300)];
const KNOWN_ANY = [
  TYPE_URL.HTTP_CONNECTION_MANAGER,
  TYPE_URL.ROUTER,
  TYPE_URL.ROUTE_CONFIGURATION,
  'type.googleapis.com/envoy.config.core.v3.Address',
];
const UNKNOWN_ANY = ['type.googleapis.com/istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig', 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm'];
const MAP_KEYS = ['istio', 'envoy.filters.http.fault', 'envoy.lb', '', 'a.b', 'x-y'];

class Gen {
  constructor(
    readonly r: () => number,
    readonly reg: ProtoRegistry,
  ) {}
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }
  json(depth: number): unknown {
    const k = Math.floor(this.r() * (depth > 2 ? 4 : 6));
    if (k === 0) return null;
    if (k === 1) return this.pick([0, 1, -2.5, 1e21, 0.1]);
    if (k === 2) return this.pick(STRINGS);
    if (k === 3) return this.r() < 0.5;
    if (k === 4) {
      const o: Record<string, unknown> = {};
      const n = Math.floor(this.r() * 4);
      for (let i = 0; i < n; i++) o[this.pick(['k', 'version', 'app', '10', 'z', 'ü'])] = this.json(depth + 1);
      return o;
    }
    return Array.from({ length: Math.floor(this.r() * 3) }, () => this.json(depth + 1));
  }
  scalar(f: FieldInfo): unknown {
    switch (f.scalar) {
      case 'TYPE_STRING':
        return this.pick(STRINGS);
      case 'TYPE_BYTES':
        return this.pick(['', 'AAEC', 'aGVsbG8=']);
      case 'TYPE_BOOL':
        return this.r() < 0.5;
      case 'TYPE_INT32':
      case 'TYPE_SINT32':
      case 'TYPE_SFIXED32':
        return this.pick([0, 1, -1, 2147483647, -2147483648, 300]);
      case 'TYPE_UINT32':
      case 'TYPE_FIXED32':
        return this.pick([0, 1, 4294967295, 128, 16384]);
      case 'TYPE_INT64':
      case 'TYPE_SINT64':
      case 'TYPE_SFIXED64':
        return this.pick(['0', '1', '-1', '9007199254740991', '9007199254740992', '-9007199254740993', '9223372036854775807', '-9223372036854775808']);
      case 'TYPE_UINT64':
      case 'TYPE_FIXED64':
        return this.pick(['0', '1', '4294967296', '9007199254740991', '9007199254740993', '18446744073709551615']);
      case 'TYPE_FLOAT':
      case 'TYPE_DOUBLE':
        return this.pick([0, 0.1, -1.5, 3.4e38, 1e300, 123456789]);
    }
    return undefined;
  }
  value(f: FieldInfo, depth: number): unknown {
    if (f.kind === 'scalar') return this.scalar(f);
    if (f.kind === 'enum') {
      const names = [...(this.reg.enumNames(f.typeName)?.values() ?? [])];
      return this.r() < 0.15 || names.length === 0 ? 77 : this.pick(names);
    }
    switch (f.typeName) {
      case 'google.protobuf.Duration':
        return this.pick(['0s', '1.5s', '0.000000001s', '3600s', '-2.25s', '315576000000s']);
      case 'google.protobuf.Timestamp':
        return this.pick(['2026-11-22T05:00:00.000Z', '1970-01-01T00:00:00.000Z']);
      case 'google.protobuf.Struct':
        return { a: this.json(1), b: this.json(1) };
      case 'google.protobuf.Value':
        return this.json(1);
      case 'google.protobuf.ListValue':
        return [this.json(1), this.json(1)];
      case 'google.protobuf.Empty':
        return {};
      case 'google.protobuf.BoolValue':
        return this.r() < 0.5;
      case 'google.protobuf.StringValue':
        return this.pick(STRINGS);
      case 'google.protobuf.BytesValue':
        return this.pick(['', 'AAEC']);
      case 'google.protobuf.UInt32Value':
      case 'google.protobuf.Int32Value':
        return this.pick([0, 5, 100]);
      case 'google.protobuf.UInt64Value':
      case 'google.protobuf.Int64Value':
        return this.pick(['0', '7', '18446744073709551615'.slice(0, f.typeName.includes('UInt') ? 20 : 19)]);
      case 'google.protobuf.DoubleValue':
      case 'google.protobuf.FloatValue':
        return this.pick([0, 0.5, 0.1]);
      case 'google.protobuf.Any': {
        if (this.r() < 0.4) return { '@type': this.pick(UNKNOWN_ANY) };
        const url = this.pick(KNOWN_ANY);
        return { '@type': url, ...(depth < 5 ? this.message(typeNameOf(url), depth + 1) : {}) };
      }
    }
    return depth < 6 ? this.message(f.typeName, depth + 1) : {};
  }
  message(typeName: string, depth: number): Record<string, unknown> {
    const info = this.reg.message(typeName);
    const out: Record<string, unknown> = {};
    if (!info) return out;
    const p = depth === 0 ? 0.6 : 0.35 / depth;
    for (const f of info.fields) {
      if (this.r() > p) continue;
      if (f.mapValue) {
        const m: Record<string, unknown> = {};
        const n = 1 + Math.floor(this.r() * 3);
        for (let i = 0; i < n; i++) m[this.pick(MAP_KEYS)] = this.value(f.mapValue, depth);
        out[f.name] = m;
      } else if (f.repeated) out[f.name] = Array.from({ length: Math.floor(this.r() * 4) }, () => this.value(f, depth));
      else out[f.name] = this.value(f, depth);
    }
    return out;
  }
}

/** Deep equality that also requires the same key order (config_dump JSON must not change). */
function sameShape(a: unknown, b: unknown): boolean {
  if (!isDeepStrictEqual(a, b)) return false;
  if (Array.isArray(a)) return (a as unknown[]).every((x, i) => sameShape(x, (b as unknown[])[i]));
  if (typeof a === 'object' && a !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b as object);
    return ka.join('\0') === kb.join('\0') && ka.every((k) => sameShape((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return true;
}

const RESOURCE_TYPES = [
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.listener.v3.Listener',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
];

function wire(typeName: string, bytes: Buffer): { message: Record<string, unknown>; notes: string[] } | 'fallback' | Error {
  try {
    return decodeWire(reg, typeName, bytes);
  } catch (e) {
    return e === WIRE_FALLBACK ? 'fallback' : (e as Error);
  }
}
function reference(typeName: string, bytes: Buffer): { message: Record<string, unknown>; notes: string[] } | Error {
  try {
    return decodeReference(typeName, bytes, reg);
  } catch (e) {
    return e as Error;
  }
}

t.test('random messages of every resource type decode as the reference decodes them', (t) => {
  const r = rng(20261122);
  const g = new Gen(r, reg);
  let compared = 0;
  let fellBack = 0;
  let notes = 0;
  const t0 = Date.now();
  for (let i = 0; i < 1500 && Date.now() - t0 < 8000; i++) {
    const typeName = RESOURCE_TYPES[i % RESOURCE_TYPES.length]!;
    const plain = g.message(typeName, 0);
    let bytes: Buffer;
    try {
      bytes = reg.serialize(typeName, encodeMessage(typeName, plain, reg));
    } catch {
      continue; // a value protobufjs cannot encode (the generator is loose); not what is tested
    }
    const ref = reference(typeName, bytes);
    const got = wire(typeName, bytes);
    if (got === 'fallback') {
      fellBack++;
      continue;
    }
    if (ref instanceof Error || got instanceof Error) {
      t.fail(`seed case ${i} ${typeName}: reference ${ref instanceof Error ? ref.message : 'ok'}, wire ${got instanceof Error ? got.message : 'ok'}`);
      continue;
    }
    compared++;
    notes += ref.notes.length;
    if (!sameShape(got.message, ref.message) || !isDeepStrictEqual(got.notes, ref.notes)) {
      t.fail(`case ${i} ${typeName} differs`, { got: JSON.stringify(got), ref: JSON.stringify(ref) });
      break;
    }
  }
  t.ok(compared > 200, `compared ${compared} messages (${fellBack} fell back to the reference)`);
  // Well-formed input from a field-order encoder never needs the reference, except keys that
  // objects order first (digits) in non-Struct maps.
  t.ok(fellBack < compared / 10, `few fallbacks (${fellBack})`);
  t.ok(notes > 0, `notes for unknown typed configs were compared (${notes})`);
  t.end();
});

t.test('corrupted bytes: the wire decoder gives up or agrees with the reference', (t) => {
  const r = rng(7);
  const g = new Gen(r, reg);
  let agreed = 0;
  let fellBack = 0;
  const t0 = Date.now();
  for (let i = 0; i < 3000 && Date.now() - t0 < 6000; i++) {
    const typeName = RESOURCE_TYPES[i % RESOURCE_TYPES.length]!;
    let bytes: Buffer;
    try {
      bytes = reg.serialize(typeName, encodeMessage(typeName, g.message(typeName, 0), reg));
    } catch {
      continue;
    }
    if (bytes.length === 0) continue;
    const b = Buffer.from(bytes);
    const how = Math.floor(r() * 4);
    const at = Math.floor(r() * b.length);
    if (how === 0) b[at] = Math.floor(r() * 256);
    else if (how === 1) b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
    else if (how === 2) b[at] = b[at]! | 0x80;
    const input = how === 3 ? b.subarray(0, at) : b;
    const got = wire(typeName, input);
    if (got === 'fallback') {
      fellBack++;
      continue;
    }
    const ref = reference(typeName, input);
    if (got instanceof Error || ref instanceof Error || !sameShape(got.message, ref.message) || !isDeepStrictEqual(got.notes, ref.notes)) {
      t.fail(`corruption case ${i} (${typeName}, how ${how} at ${at}): wire and reference differ`, {
        got: got instanceof Error ? got.message : JSON.stringify(got),
        ref: ref instanceof Error ? ref.message : JSON.stringify(ref),
      });
      break;
    }
    agreed++;
  }
  t.ok(agreed > 100 && fellBack > 100, `agreed ${agreed}, fell back ${fellBack}`);
  t.end();
});

t.test('decodeResource: wire decoder and reference give the same resource, notes and errors', (t) => {
  const rc = {
    name: '9080',
    virtual_hosts: [
      {
        name: 'reviews',
        domains: ['reviews', '*.reviews'],
        routes: [
          {
            match: { prefix: '/' },
            route: { weighted_clusters: { clusters: [{ name: 'a', weight: 90 }, { name: 'b', weight: 10 }] }, timeout: '0s' },
            typed_per_filter_config: { 'istio.x': { '@type': UNKNOWN_ANY[0] } },
            metadata: { filter_metadata: { istio: { config: '/apis/x' } } },
          },
        ],
      },
    ],
  };
  const any = encodeResource(TYPE_URL.ROUTE_CONFIGURATION, rc);
  const d = decodeResource(TYPE_URL.ROUTE_CONFIGURATION, any);
  const ref = decodeReference('envoy.config.route.v3.RouteConfiguration', Buffer.from(any.value));
  t.ok(d.value);
  t.ok(sameShape(d.value!.resource, ref.message));
  t.same(d.value!.notes, ['virtual_hosts[0].routes[0].typed_per_filter_config["istio.x"]: skipped typed config ' + UNKNOWN_ANY[0] + ' (no proto in weir)']);
  t.same(d.value!.resource, rc, 'round trip of a typical route config');
  // Truncated: the reference's error is the answer.
  const bad = decodeResource(TYPE_URL.ROUTE_CONFIGURATION, { type_url: any.type_url, value: Buffer.from(any.value).subarray(0, 20) });
  t.match(bad.errors?.[0] ?? '', /^cannot decode envoy.config.route.v3.RouteConfiguration: /);
  t.end();
});

t.test('fields out of field-number order fall back (key order is the reference\'s)', (t) => {
  // RouteConfiguration: name = 1, virtual_hosts = 2. Written as 2 then 1.
  const vh = reg.serialize('envoy.config.route.v3.VirtualHost', encodeMessage('envoy.config.route.v3.VirtualHost', { name: 'v', domains: ['*'] }, reg));
  const bytes = Buffer.concat([Buffer.from([0x12, vh.length]), vh, Buffer.from([0x0a, 1, 0x72])]);
  t.equal(wire('envoy.config.route.v3.RouteConfiguration', bytes), 'fallback');
  const d = decodeResource(TYPE_URL.ROUTE_CONFIGURATION, { type_url: TYPE_URL.ROUTE_CONFIGURATION, value: bytes });
  t.same(Object.keys(d.value!.resource), ['name', 'virtual_hosts']);
  t.equal(d.value!.name, 'r');
  t.end();
});
