// Choosing the upstream client: the native parser's feature check (with an injected loader standing
// in for a node without `_http_common`'s HTTPParser), the fallback to undici with one warning, and
// the registry / ProxyServer building pools of the chosen kind.

import t from 'tap';
import { ConnPool, NATIVE_PARSER_PROBLEM, probeNativeParser } from '../../src/upstream/conn-pool';
import { PoolRegistry } from '../../src/upstream/pool-registry';
import { UndiciPool } from '../../src/upstream/undici-pool';
import { resolveUpstreamClient } from '../../src/upstream/upstream-client';
import { ProxyServer } from '../../src/proxy/proxy-server';

const REAL = () => require('_http_common') as unknown; // eslint-disable-line @typescript-eslint/no-require-imports

t.test('probeNativeParser: this node has it; a loader without it names what is missing, never throws', async (t) => {
  t.equal(NATIVE_PARSER_PROBLEM, null, 'node 20 has everything ConnPool uses');
  t.equal(probeNativeParser(REAL).problem, null);
  const cases: [string, () => unknown, RegExp][] = [
    ['module missing', () => {
      throw new Error("Cannot find module '_http_common'");
    }, /require\('_http_common'\) failed: Cannot find module/],
    ['no HTTPParser', () => ({}), /has no HTTPParser/],
    ['null module', () => null, /has no HTTPParser/],
    ['no kOnExecute', () => {
      const P = function () {} as unknown as Record<string, unknown>;
      Object.assign(P, { RESPONSE: 2, kOnHeaders: 1, kOnHeadersComplete: 2, kOnBody: 3, kOnMessageComplete: 4 });
      return { HTTPParser: P };
    }, /HTTPParser\.kOnExecute is missing/],
    ['no consume', () => {
      const real = (REAL() as { HTTPParser: { prototype: object } }).HTTPParser;
      function P(): void {}
      Object.assign(P, real);
      P.prototype = { ...Object.fromEntries(['initialize', 'execute', 'finish', 'close', 'unconsume'].map((m) => [m, () => undefined])) };
      return { HTTPParser: P };
    }, /HTTPParser\.prototype\.consume is missing/],
  ];
  for (const [name, load, re] of cases) {
    const r = probeNativeParser(load);
    t.equal(r.parser, null, name);
    t.match(r.problem, re, name);
  }
});

t.test('resolveUpstreamClient: native falls back to undici with one warning; explicit choices stay', async (t) => {
  const warnings: [string, object | undefined][] = [];
  const warn = (m: string, f?: object) => void warnings.push([m, f]);
  const missing = probeNativeParser(() => ({})).problem;
  t.equal(resolveUpstreamClient('native', warn, missing), 'undici');
  t.same(warnings, [['native upstream client unavailable, using undici', { reason: '_http_common has no HTTPParser' }]]);
  warnings.length = 0;
  t.equal(resolveUpstreamClient('undici', warn, missing), 'undici');
  t.equal(resolveUpstreamClient('native', warn, null), 'native');
  t.equal(resolveUpstreamClient('undici', warn, null), 'undici');
  t.equal(resolveUpstreamClient('native', warn), 'native', 'default: this node');
  t.same(warnings, [], 'no warning unless a fallback happened');
});

t.test('the registry and ProxyServer build pools of the chosen client', async (t) => {
  const o = { connectTimeoutMs: 1000, idleTimeoutMs: 1000, maxConnections: 1 };
  const native = new PoolRegistry('native');
  const undici = new PoolRegistry('undici');
  t.teardown(() => Promise.all([native.destroyAll(), undici.destroyAll()]));
  t.ok(native.acquire('127.0.0.1:1', o) instanceof ConnPool);
  t.ok(undici.acquire('127.0.0.1:1', o) instanceof UndiciPool);
  t.equal(new PoolRegistry().client, 'native', 'default');
  const warned: string[] = [];
  const log = { debug() {}, info() {}, warn: (m: string) => void warned.push(m), error() {} };
  const p1 = new ProxyServer({ log });
  const p2 = new ProxyServer({ log, upstreamClient: 'undici' });
  t.teardown(() => Promise.all([p1.close(), p2.close()]));
  t.equal(p1.upstreamClient, 'native');
  t.equal(p2.upstreamClient, 'undici');
  t.same(warned, []);
});
