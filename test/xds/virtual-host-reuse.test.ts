// Work proportional to what changed (wire-decoder VirtualHostReuse + route-table VIRTUAL_HOST_MEMO):
// for random edits of a 1,000-route RouteConfiguration (weights, matches, added / removed /
// reordered routes and virtual hosts, virtual-host and route-config level fields), decoding with
// reuse and compiling with the memo gives exactly what a fresh decode and a full compile give: the
// same decoded resource (config_dump JSON) and notes, the same routing for a set of requests
// (route, cluster picked, header mutations, compiled view), the same errors for a broken config;
// and unchanged virtual hosts really are reused (same objects).
import t from 'tap';
import { TYPE_URL } from '../../src/config/resources';
import { compileRouteConfiguration, type RouteTable } from '../../src/route/route-table';
import { decodeResource, encodeResource, type VirtualHostReuse } from '../../src/xds/resource-codec';
import { req, TestHeaders } from '../route/request';

const R = TYPE_URL.ROUTE_CONFIGURATION;

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

type Obj = Record<string, unknown>;
let serial = 0;

function route(r: () => number, svc: number): Obj {
  const n = serial++;
  const k = Math.floor(r() * 6);
  const match: Obj =
    k === 0
      ? { path: `/s${svc}/exact${n}` }
      : k === 1
        ? { safe_regex: { regex: `/s${svc}/re${n}/[a-z]+` } }
        : k === 2
          ? { prefix: `/s${svc}/h${n}`, headers: [{ name: 'x-user', string_match: { exact: `u${n % 7}` } }] }
          : { prefix: `/s${svc}/p${n % 40}` };
  if (k === 3) {
    return { match, direct_response: { status: 200 + (n % 3), body: { inline_string: `d${n}` } } };
  }
  const out: Obj = {
    name: r() < 0.5 ? `r${n}` : '',
    match,
    route: {
      weighted_clusters: { clusters: [{ name: `s${svc}-v1`, weight: 1 + Math.floor(r() * 99) }, { name: `s${svc}-v2`, weight: Math.floor(r() * 50) }] },
      ...(r() < 0.3 ? { retry_policy: { retry_on: '5xx', num_retries: 2 } } : {}),
      ...(r() < 0.2 ? { prefix_rewrite: '/rewritten/' } : {}),
    },
  };
  if (r() < 0.2) out.request_headers_to_add = [{ header: { key: 'x-route', value: `r${n}` } }];
  if (r() < 0.1) out.typed_per_filter_config = { 'istio.stats': { '@type': 'type.googleapis.com/istio.stats.v1.Unknown' } };
  return out;
}

function vhost(r: () => number, svc: number, routes: number): Obj {
  const v: Obj = { name: `svc${svc}`, domains: [`svc${svc}`, `svc${svc}.default.svc.cluster.local`], routes: Array.from({ length: routes }, () => route(r, svc)) };
  if (r() < 0.3) v.response_headers_to_add = [{ header: { key: 'x-vh', value: `svc${svc}` } }];
  if (r() < 0.2) v.retry_policy = { retry_on: 'connect-failure', num_retries: 1 };
  return v;
}

function initial(r: () => number): Obj {
  const vhosts: Obj[] = [];
  for (let s = 0; s < 20; s++) vhosts.push(vhost(r, s, 50));
  return { name: '9080', virtual_hosts: vhosts, response_headers_to_add: [{ header: { key: 'x-cfg', value: '0' } }] };
}

/** One random edit, in place (the config is re-encoded after each). Returns what it did. */
function edit(r: () => number, rc: Obj, step: number): string {
  const vhs = rc.virtual_hosts as Obj[];
  const vh = vhs[Math.floor(r() * vhs.length)]!;
  const routes = vh.routes as Obj[];
  const k = Math.floor(r() * 10);
  switch (k) {
    case 0: {
      const rt = routes.find((x) => x.route !== undefined);
      const wc = ((rt?.route as Obj | undefined)?.weighted_clusters as Obj | undefined)?.clusters as Obj[] | undefined;
      if (wc) wc[0]!.weight = 1 + Math.floor(r() * 1000);
      return 'weight';
    }
    case 1:
      if (routes.length) (routes[Math.floor(r() * routes.length)]!.match as Obj) = { prefix: `/edited${step}` };
      return 'match';
    case 2:
      routes.splice(Math.floor(r() * (routes.length + 1)), 0, route(r, 99));
      return 'add route';
    case 3:
      if (routes.length > 1) routes.splice(Math.floor(r() * routes.length), 1);
      return 'remove route';
    case 4:
      routes.reverse();
      return 'reorder routes';
    case 5:
      vhs.push(vhost(r, 100 + step, 5));
      return 'add vhost';
    case 6:
      if (vhs.length > 2) vhs.splice(Math.floor(r() * vhs.length), 1);
      return 'remove vhost';
    case 7:
      vhs.reverse();
      return 'reorder vhosts';
    case 8:
      vh.request_headers_to_add = [{ header: { key: 'x-vh-edit', value: String(step) } }];
      return 'vhost field';
    default:
      rc.response_headers_to_add = [{ header: { key: 'x-cfg', value: String(step) } }];
      return 'route-config field';
  }
}

/** Requests that reach every virtual host and route kind. */
function probes(rc: Obj): ReturnType<typeof req>[] {
  const out: ReturnType<typeof req>[] = [];
  for (const v of rc.virtual_hosts as Obj[]) {
    const host = (v.domains as string[])[0]!;
    for (const rt of (v.routes as Obj[]).slice(0, 8)) {
      const m = rt.match as Obj;
      const path =
        typeof m.path === 'string' ? m.path : typeof m.prefix === 'string' ? m.prefix + 'x' : m.safe_regex ? String((m.safe_regex as Obj).regex).replace('[a-z]+', 'abc') : '/';
      for (const random of [0, 37, 4242]) out.push(req({ authority: host, path, random, headers: [['x-user', 'u3']] }));
    }
    out.push(req({ authority: host, path: '/nothing-matches' }));
  }
  out.push(req({ authority: 'unknown.host', path: '/' }));
  return out;
}

function behaviour(table: RouteTable, requests: ReturnType<typeof req>[]): string {
  const rows: unknown[] = [];
  for (const q of requests) {
    const e = table.route(q);
    if (e === null) {
      rows.push(null);
      continue;
    }
    const cluster = e.selectCluster(q);
    const reqH = new TestHeaders();
    const resH = new TestHeaders();
    e.applyRequestHeaders(reqH, q, cluster);
    e.applyResponseHeaders(resH, q, cluster);
    rows.push([e.virtualHost.name, e.index, e.name, cluster, e.rewritePath(q.path, q), e.retryPolicy, e.directResponse, reqH.entries, resH.entries, e.toJSON()]);
  }
  return JSON.stringify([rows, table.toJSON()]);
}

t.test('decode with reuse + compile with memo == fresh decode + full compile, over random edits', (t) => {
  const r = rng(4);
  const rc = initial(r);
  let previous: VirtualHostReuse['next'] | undefined;
  let prevTable: RouteTable | undefined;
  let reusedVhosts = 0;
  let reusedDecodes = 0;
  const done: Record<string, number> = {};
  const t0 = Date.now();
  let steps = 0;
  // Bounded in count and time (a busy CI machine gets fewer edits, each still fully compared).
  for (let step = 1; step <= 50 && Date.now() - t0 < 12_000; step++, steps++) {
    const what = edit(r, rc, step);
    done[what] = (done[what] ?? 0) + 1;
    const any = encodeResource(R, rc);
    const reuse: VirtualHostReuse = { previous: (n) => (n === '9080' ? previous : undefined), next: new Map() };
    const withReuse = decodeResource(R, any, undefined, reuse);
    const fresh = decodeResource(R, any);
    if (!withReuse.value || !fresh.value) throw new Error('decode failed');
    t.equal(JSON.stringify(withReuse.value.resource), JSON.stringify(fresh.value.resource), `step ${step} (${what}): same decoded resource`);
    t.same(withReuse.value.notes, fresh.value.notes, `step ${step}: same notes`);
    const prevVhosts = new Set([...(previous?.values() ?? [])].map((d) => d.value));
    for (const v of withReuse.value.resource.virtual_hosts as object[]) if (prevVhosts.has(v)) reusedDecodes++;
    previous = reuse.next;

    const memo = compileRouteConfiguration(withReuse.value.resource);
    const full = compileRouteConfiguration(fresh.value.resource, { reuse: false });
    if (!memo.value || !full.value) throw new Error(`compile failed: ${(memo.errors ?? full.errors ?? []).join('; ')}`);
    const reqs = probes(rc);
    t.equal(behaviour(memo.value, reqs), behaviour(full.value, reqs), `step ${step} (${what}): same routing, headers and compiled view`);
    if (prevTable) for (const v of memo.value.virtualHosts) if (prevTable.virtualHosts.includes(v)) reusedVhosts++;
    prevTable = memo.value;
  }
  t.ok(steps >= 8, `${steps} edits: ${JSON.stringify(done)}`);
  // Most edits touch one virtual host of 20: the others are decoded and compiled once.
  t.ok(reusedDecodes > steps * 5, `decoded virtual hosts reused: ${reusedDecodes}`);
  t.ok(reusedVhosts > steps * 5, `compiled virtual hosts reused: ${reusedVhosts}`);
  t.end();
});

t.test('errors are the same with reuse: a broken route in a reused config, a duplicate domain', (t) => {
  const r = rng(9);
  const rc = initial(r);
  const first = decodeResource(R, encodeResource(R, rc), undefined, { previous: () => undefined, next: new Map() });
  const prev: VirtualHostReuse['next'] = new Map();
  const reuse1: VirtualHostReuse = { previous: () => undefined, next: prev };
  decodeResource(R, encodeResource(R, rc), undefined, reuse1);
  t.ok(first.value && compileRouteConfiguration(first.value.resource).value, 'clean config compiles');
  // A weight sum of 0 in virtual host 3, and virtual host 5 duplicating virtual host 4's domain.
  const vhs = rc.virtual_hosts as Obj[];
  ((((vhs[3]!.routes as Obj[]).find((x) => x.route) as Obj).route as Obj).weighted_clusters as Obj).clusters = [{ name: 'a', weight: 0 }];
  (vhs[5]!.domains as string[]).push((vhs[4]!.domains as string[])[0]!);
  const any = encodeResource(R, rc);
  const d = decodeResource(R, any, undefined, { previous: () => prev, next: new Map() });
  const memo = compileRouteConfiguration(d.value!.resource);
  const full = compileRouteConfiguration(decodeResource(R, any).value!.resource, { reuse: false });
  t.ok(memo.errors && memo.errors.length >= 2, 'rejected');
  t.same(memo.errors, full.errors, 'same errors, same order, same paths');
  t.end();
});

t.test('a smooth-mode virtual host is never reused (its picker has state a fresh compile resets)', (t) => {
  const rc: Obj = {
    name: 'smooth',
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          {
            match: { prefix: '/' },
            route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }] } },
            metadata: { filter_metadata: { weir: { pick_mode: 'smooth' } } },
          },
        ],
      },
    ],
  };
  const raw = decodeResource(R, encodeResource(R, rc)).value!.resource;
  const a = compileRouteConfiguration(raw).value!;
  const b = compileRouteConfiguration(raw).value!;
  t.not(a.virtualHosts[0], b.virtualHosts[0], 'compiled again');
  const plain = { ...rc, name: 'plain', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] };
  const raw2 = decodeResource(R, encodeResource(R, plain)).value!.resource;
  t.equal(compileRouteConfiguration(raw2).value!.virtualHosts[0], compileRouteConfiguration(raw2).value!.virtualHosts[0], 'a stateless one is reused');
  t.end();
});
