// startIstioServe against a recording proxy: a translation the proxy itself rejects is treated
// like a translator error (logged, the old version stays live, nothing else changes); notes are
// logged once; edits are applied in order, one apply per valid edit; -c static resources ride along
// with every snapshot and win a name clash.

import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceSet } from '../../src/config/resources';
import { ConfigError } from '../../src/errors';
import { startIstioServe, type IstioLive, type IstioRejected } from '../../src/config/istio-serve';
import { EXAMPLES_DIR, setDefaultWeights } from './istio-harness';

const WAIT_MS = 5000;

function recordingProxy(reject: (set: ResourceSet) => string[] = () => []) {
  const applied: ResourceSet[] = [];
  return {
    applied,
    async apply(set: ResourceSet): Promise<{ errors: string[] }> {
      const errors = reject(set);
      if (errors.length === 0) applied.push(set);
      return { errors };
    },
  };
}

function once<T>(em: NodeJS.EventEmitter, name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} event within ${WAIT_MS} ms`)), WAIT_MS);
    em.once(name, (v: T) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

function setup(t: Test) {
  const dir = mkdtempSync(join(tmpdir(), 'weir-istio-serve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'helloworld.yaml');
  const text = readFileSync(join(EXAMPLES_DIR, 'helloworld-80-20.yaml'), 'utf8');
  writeFileSync(file, text);
  const logs: string[] = [];
  const log = { info: (m: string) => void logs.push('info ' + m), warn: (m: string) => void logs.push('warn ' + m), error: (m: string) => void logs.push('error ' + m) };
  return { dir, file, text, logs, log };
}

const weightsOf = (set: ResourceSet): number[] => {
  const rc = set.routeConfigurations[0] as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  return rc.virtual_hosts[0].routes[0].route.weighted_clusters.clusters.map((c: { weight: number }) => c.weight);
};

t.test('a translation the proxy rejects keeps the old version live', async (t) => {
  const s = setup(t);
  // This proxy refuses any config that gives v2 more than half (standing in for a compile error).
  const proxy = recordingProxy((set) => (weightsOf(set)[1]! > 50 ? ['virtual_hosts[0].routes[0].route.weighted_clusters: refused by the test proxy'] : []));
  const serve = await startIstioServe({ paths: [s.dir], istio: { listen: { address: '127.0.0.1', port: 0 } }, proxy, log: s.log });
  t.teardown(() => serve.close());
  const first = serve.liveVersion;
  t.equal(proxy.applied.length, 1);
  t.same(weightsOf(proxy.applied[0]!), [80, 20]);

  const rejected = once<IstioRejected>(serve.events, 'rejected');
  writeFileSync(s.file, setDefaultWeights(s.text, 'helloworld', [['v1', 40], ['v2', 60]]));
  const r = await rejected;
  t.equal(r.live, first, 'the first version stays live');
  t.not(r.version, first);
  t.match(r.errors, [/refused by the test proxy/]);
  t.equal(serve.liveVersion, first);
  t.equal(proxy.applied.length, 1, 'nothing applied');
  t.ok(s.logs.includes(`error config version ${r.version} rejected; ${first} stays live`), 'logged: rejected, which version stays live');
  t.ok(s.logs.some((l) => l.startsWith('error ') && l.includes('refused by the test proxy')), 'logged: the reason');

  const live = once<IstioLive>(serve.events, 'live');
  writeFileSync(s.file, setDefaultWeights(s.text, 'helloworld', [['v1', 70], ['v2', 30]]));
  const l = await live;
  t.equal(l.previous, first);
  t.same(weightsOf(proxy.applied[1]!), [70, 30]);
  t.equal(proxy.applied[1]!.versionInfo, l.version, 'the ResourceSet carries the live version');
});

t.test('notes are logged once; unreadable files keep the version live', async (t) => {
  const s = setup(t);
  const extra = join(s.dir, 'other.yaml');
  writeFileSync(extra, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
  const proxy = recordingProxy();
  const serve = await startIstioServe({ paths: [s.dir], istio: {}, proxy, log: s.log });
  t.teardown(() => serve.close());
  const notes = s.logs.filter((l) => l.includes('istio note:') && l.includes('ConfigMap'));
  t.equal(notes.length, 1, `the ignored kind is noted once: ${notes.join(' | ')}`);
  const live = once<IstioLive>(serve.events, 'live');
  writeFileSync(s.file, setDefaultWeights(s.text, 'helloworld', [['v1', 50], ['v2', 50]]));
  await live;
  t.equal(s.logs.filter((l) => l.includes('istio note:') && l.includes('ConfigMap')).length, 1, 'not again on reload');
});

t.test('static resources (-c) ride along and win a name clash', async (t) => {
  const s = setup(t);
  const stat: ResourceSet = {
    listeners: [],
    routeConfigurations: [],
    clusters: [{ name: 'outbound|5000|v1|helloworld.default.svc.cluster.local', type: 'STATIC', marker: 'static' }, { name: 'admin_sink', type: 'STATIC' }],
    clusterLoadAssignments: [],
    versionInfo: 'static',
  };
  const proxy = recordingProxy();
  const serve = await startIstioServe({ paths: [s.file], istio: {}, proxy, log: s.log, staticResources: stat });
  t.teardown(() => serve.close());
  const set = proxy.applied[0]!;
  const names = set.clusters.map((c) => String(c.name));
  t.ok(names.includes('admin_sink'));
  t.equal(names.filter((n) => n === 'outbound|5000|v1|helloworld.default.svc.cluster.local').length, 1, 'one cluster of that name');
  t.equal(set.clusters.find((c) => c.name === 'outbound|5000|v1|helloworld.default.svc.cluster.local')!.marker, 'static', 'the static one');
  t.equal(set.versionInfo, serve.liveVersion);
});

t.test('an invalid first config does not start', async (t) => {
  const s = setup(t);
  writeFileSync(s.file, setDefaultWeights(s.text, 'helloworld', [['v1', 80], ['v3', 20]]));
  const proxy = recordingProxy();
  await t.rejects(startIstioServe({ paths: [s.dir], istio: {}, proxy, log: s.log }), ConfigError);
  t.equal(proxy.applied.length, 0);
  const refused = recordingProxy(() => ['listeners["0.0.0.0_5000"].address: cannot listen']);
  writeFileSync(s.file, s.text);
  await t.rejects(startIstioServe({ paths: [s.dir], istio: {}, proxy: refused, log: s.log }), { errors: [/cannot listen/] });
});

t.test('listeners an edit adds are announced; a proxy that throws does not stop later edits', async (t) => {
  const s = setup(t);
  let throwNext = false;
  let current: ResourceSet | null = null;
  const proxy = {
    async apply(set: ResourceSet): Promise<{ errors: string[] }> {
      if (throwNext) {
        throwNext = false;
        throw new Error('proxy server is closed');
      }
      current = set;
      return { errors: [] };
    },
    listeners() {
      return (current?.listeners ?? []).map((l: any) => ({ name: String(l.name), address: '127.0.0.1', port: Number(l.address.socket_address.port_value) })); // eslint-disable-line @typescript-eslint/no-explicit-any
    },
  };
  const serve = await startIstioServe({ paths: [s.file], istio: {}, proxy, log: s.log });
  t.teardown(() => serve.close());
  t.notOk(s.logs.some((l) => l.includes('listening on')), 'the first listeners are left to the caller');

  throwNext = true;
  const rejected = once<IstioRejected>(serve.events, 'rejected');
  writeFileSync(s.file, s.text.replace('number: 5000', 'number: 5100'));
  t.match((await rejected).errors, ['proxy server is closed']);

  const live = once<IstioLive>(serve.events, 'live');
  writeFileSync(s.file, s.text.replace('number: 5000', 'number: 5200'));
  await live;
  t.ok(s.logs.includes('info listener 0.0.0.0_5200 listening on 127.0.0.1:5200'), 'the new listener is announced');
  t.notOk(s.logs.some((l) => l.includes('listening on 127.0.0.1:5000')), 'the old one is not re-announced');
});

t.test('a file that vanishes is reported and the version stays live; the next good edit applies', async (t) => {
  const s = setup(t);
  const proxy = recordingProxy();
  const serve = await startIstioServe({ paths: [s.file], istio: {}, proxy, log: s.log });
  t.teardown(() => serve.close());
  const first = serve.liveVersion;
  const unreadable = once<{ error: Error; live: string }>(serve.events, 'unreadable');
  rmSync(s.file);
  const u = await unreadable;
  t.equal(u.live, first);
  t.match(u.error.message, /no such file/);
  t.ok(s.logs.some((l) => l.startsWith('error cannot read the istio config') && l.endsWith(`${first} stays live`)), 'logged with the version that stays live');
  t.equal(proxy.applied.length, 1, 'nothing applied');
  const live = once<IstioLive>(serve.events, 'live');
  writeFileSync(s.file, setDefaultWeights(s.text, 'helloworld', [['v1', 10], ['v2', 90]]));
  t.equal((await live).previous, first);
  t.same(weightsOf(proxy.applied[1]!), [10, 90]);
});
