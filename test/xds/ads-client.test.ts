// The ADS client against the fake control plane: every rule of design.md "xDS rules we follow",
// asserted on the requests the client sends (ACK / NACK / names / versions / nonces) and on what it
// hands to `apply`.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TYPE_URL, type Resource, type ResourceSet } from '../../src/config/resources';
import { AdsClient, edsName, rdsNames, type AdsApiType } from '../../src/xds/ads-client';
import { FakeAdsServer, type RecordedRequest } from '../helpers/fake-ads-server';
import * as istio from './istio-resources';
import { Recorder } from '../helpers/recorder';

const L = TYPE_URL.LISTENER;
const R = TYPE_URL.ROUTE_CONFIGURATION;
const C = TYPE_URL.CLUSTER;
const E = TYPE_URL.CLUSTER_LOAD_ASSIGNMENT;

const NODE = {
  id: 'sidecar~10.0.0.9~weir-0.default~default.svc.cluster.local',
  cluster: 'weir.default',
  metadata: { NAMESPACE: 'default', LABELS: { app: 'weir', version: 'v1' }, ISTIO_VERSION: '1.24.0', CLUSTER_ID: 'Kubernetes' },
  locality: { region: 'r', zone: 'z' },
};

function listener(name: string, route: string): Resource {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TYPE_URL.HTTP_CONNECTION_MANAGER,
              stat_prefix: name,
              rds: { route_config_name: route, config_source: { ads: {}, resource_api_version: 'V3' } },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.ROUTER } }],
            },
          },
        ],
      },
    ],
  };
}

function route(name: string, weights: Record<string, number>): Resource {
  return {
    name,
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          {
            match: { prefix: '/' },
            route: { weighted_clusters: { clusters: Object.entries(weights).map(([n, w]) => ({ name: n, weight: w })) } },
          },
        ],
      },
    ],
  };
}

function cluster(name: string, serviceName?: string): Resource {
  return {
    name,
    type: 'EDS',
    connect_timeout: '1s',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, ...(serviceName ? { service_name: serviceName } : {}) },
  };
}

function cla(name: string, port = 9001): Resource {
  return {
    cluster_name: name,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
  };
}

/** The "snapshot compiler" of these tests: weighted clusters must not sum to 0. */
function validate(set: ResourceSet): string[] {
  const errors: string[] = [];
  for (const rc of set.routeConfigurations) {
    const vhs = (rc.virtual_hosts ?? []) as Resource[];
    vhs.forEach((vh, i) =>
      ((vh.routes ?? []) as Resource[]).forEach((r, j) => {
        const wc = (r.route as Resource | undefined)?.weighted_clusters as Resource | undefined;
        if (!wc) return;
        const sum = ((wc.clusters ?? []) as Resource[]).reduce((s, c) => s + Number(c.weight ?? 0), 0);
        if (sum === 0) errors.push(`route_configurations["${String(rc.name)}"].virtual_hosts[${i}].routes[${j}].route.weighted_clusters: sum of weights is 0`);
      }),
    );
  }
  return errors;
}

/** Every applied set must be complete: no listener without its routes, no EDS cluster without endpoints. */
function assertComplete(set: ResourceSet): string[] {
  const problems: string[] = [];
  const routes = new Set(set.routeConfigurations.map((r) => String(r.name)));
  const clas = new Set(set.clusterLoadAssignments.map((c) => String(c.cluster_name)));
  for (const l of set.listeners) for (const n of rdsNames(l)) if (!routes.has(n)) problems.push(`listener ${String(l.name)} without route ${n}`);
  for (const c of set.clusters) {
    const n = edsName(c);
    if (n && !clas.has(n)) problems.push(`cluster ${String(c.name)} without endpoints ${n}`);
  }
  return problems;
}

interface Harness {
  /** How many times `validate` ran. */
  validations: { count: number };
  server: FakeAdsServer;
  client: AdsClient;
  applied: ResourceSet[];
  incomplete: string[];
  waitForApply(pred: (s: ResourceSet) => boolean, timeoutMs?: number): Promise<ResourceSet>;
}

async function setup(
  t: Test,
  opts: { apiType?: AdsApiType; initialFetchTimeoutMs?: number; seed?: boolean; server?: FakeAdsServer } = {},
): Promise<Harness> {
  const server = opts.server ?? (await FakeAdsServer.start());
  t.teardown(() => server.close());
  if (opts.seed !== false) {
    server.setResources(C, [cluster('c1'), cluster('c2', 'svc-c2')]);
    server.setResources(E, [cla('c1'), cla('svc-c2', 9002)]);
    server.setResources(L, [listener('l1', 'r1')]);
    server.setResources(R, [route('r1', { c1: 90, c2: 10 })]);
  }
  const applied = new Recorder<ResourceSet>();
  const incomplete: string[] = [];
  const validations = { count: 0 };
  const client = new AdsClient({
    target: server.target,
    node: NODE,
    apiType: opts.apiType ?? 'GRPC',
    validate: (set) => {
      validations.count++;
      return validate(set);
    },
    apply: (s) => {
      incomplete.push(...assertComplete(s));
      applied.push(s);
    },
    initialFetchTimeoutMs: opts.initialFetchTimeoutMs ?? 15_000,
    backoff: { baseMs: 40, maxMs: 200 },
  });
  t.teardown(() => client.stop());
  const waitForApply = (pred: (s: ResourceSet) => boolean, timeoutMs = 5000): Promise<ResourceSet> =>
    applied.waitFor(pred, timeoutMs, (vs) => `${vs.length} applies`);
  return { validations, server, client, applied: applied.values, incomplete, waitForApply };
}

const names = (rs: readonly Resource[], key = 'name'): string[] => rs.map((r) => String(r[key])).sort();
const weightsOf = (set: ResourceSet, rc: string): number[] => {
  const r = set.routeConfigurations.find((x) => x.name === rc) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  return r.virtual_hosts[0].routes[0].route.weighted_clusters.clusters.map((c: Resource) => c.weight);
};
const isAckFor = (type: string) => (r: RecordedRequest) => r.type_url === type && r.response_nonce !== '' && !r.error_detail;

t.test('SotW: wildcard LDS/CDS, named RDS/EDS, node on the first request, ACK = version + nonce, complete apply', async (t) => {
  const h = await setup(t);
  h.client.start();
  const set = await h.waitForApply((s) => s.listeners.length === 1 && s.clusters.length === 2);
  t.same(names(set.listeners), ['l1']);
  t.same(names(set.routeConfigurations), ['r1']);
  t.same(names(set.clusters), ['c1', 'c2']);
  t.same(names(set.clusterLoadAssignments, 'cluster_name'), ['c1', 'svc-c2']);
  t.same(h.applied.length, 1, 'one apply for the initial config');
  const reqs = h.server.requests;
  t.same(reqs[0]!.type_url, C, 'CDS first, as Envoy');
  t.same(reqs[0]!.resource_names, [], 'CDS is a wildcard subscription');
  t.same(reqs[0]!.node?.id, NODE.id, 'node identity on the first request');
  t.same(reqs[0]!.node?.metadata, NODE.metadata, 'node metadata (Struct) intact');
  t.equal(reqs.filter((r) => r.node).length, 1, 'node only on the first request of the stream');
  const lds = reqs.find((r) => r.type_url === L)!;
  t.same(lds.resource_names, [], 'LDS is a wildcard subscription');
  const eds = reqs.find((r) => r.type_url === E)!;
  t.same(eds.resource_names, ['c1', 'svc-c2'], 'EDS asks for service_name, else the cluster name');
  const rds = reqs.find((r) => r.type_url === R)!;
  t.same(rds.resource_names, ['r1'], 'RDS asks for what HCM rds references');
  // Every response is answered exactly once, with its version and nonce.
  for (const resp of h.server.responses) {
    const replies = await h.server.waitForReply(resp.nonce);
    t.equal(replies.version_info, resp.version_info, `${resp.type_url.split('.').pop()} ACK carries version ${resp.version_info}`);
    t.notOk(replies.error_detail);
    t.equal(h.server.requests.filter((r) => r.response_nonce === resp.nonce).length, 1, 'answered once');
  }
  const st = h.client.state();
  t.ok(st.connected);
  t.equal(st.perType[L]!.versionInfo, h.server.versionOf(L));
  t.ok(st.perType[R]!.resources.get('r1')?.lastUpdated instanceof Date);
  t.same(h.incomplete, []);
});

t.test('NACK: previous version + nonce + error_detail with the path-prefixed reason; nothing changes', async (t) => {
  const h = await setup(t);
  h.client.start();
  await h.waitForApply((s) => s.routeConfigurations.length === 1);
  const goodVersion = h.server.versionOf(R);
  const appliesBefore = h.applied.length;
  const from = h.server.responses.length;
  h.server.setResources(R, [route('r1', { c1: 0, c2: 0 })]);
  const resp = await h.server.waitForResponse((r) => r.type_url === R, { from });
  const nack = await h.server.waitForReply(resp.nonce);
  t.equal(nack.version_info, goodVersion, 'NACK carries the previous version');
  t.equal(nack.error_detail?.code, 13, 'INTERNAL, as Envoy sets on a rejected response');
  t.match(nack.error_detail?.message, 'route_configurations["r1"].virtual_hosts[0].routes[0].route.weighted_clusters: sum of weights is 0');
  t.same(nack.resource_names, ['r1']);
  t.equal(h.client.state().perType[R]!.versionInfo, goodVersion);
  t.match(h.client.state().perType[R]!.lastError, /sum of weights is 0/);
  // A fixed config is ACKed and applied.
  const from2 = h.server.responses.length;
  h.server.setResources(R, [route('r1', { c1: 50, c2: 50 })]);
  const resp2 = await h.server.waitForResponse((r) => r.type_url === R, { from: from2 });
  const ack = await h.server.waitForReply(resp2.nonce);
  t.equal(ack.version_info, resp2.version_info);
  t.notOk(ack.error_detail);
  const set = await h.waitForApply((s) => weightsOf(s, 'r1')[0] === 50);
  t.same(weightsOf(set, 'r1'), [50, 50]);
  t.equal(h.applied.length, appliesBefore + 1, 'the rejected config was never applied');
  t.equal(h.client.state().perType[R]!.lastError, null);
  // Undecodable resources are NACKed too, naming the resource.
  const nonce = h.server.sendRaw({ type_url: L, version_info: 'bad', resources: [{ type_url: L, value: Buffer.from([0xff, 0xff, 0xff]) }] });
  const nack2 = await h.server.waitForReply(nonce);
  t.match(nack2.error_detail?.message, /resources\[0\] \(Listener\): cannot decode/);
  t.equal(nack2.version_info, h.server.versionOf(L));
  // A type weir never asked for is NACKed, not ignored (every response is answered).
  const nonce3 = h.server.sendRaw({ type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', version_info: '1' });
  const nack3 = await h.server.waitForReply(nonce3);
  t.match(nack3.error_detail?.message, /unsupported type/);
});

t.test('NACK message is cut at 4,096 characters like Envoy; the config dump state keeps it whole', async (t) => {
  const h = await setup(t);
  h.client.start();
  await h.waitForApply((s) => s.routeConfigurations.length === 1);
  // 300 bad routes: each error line is ~100 characters, well past 4,096.
  const bad = route('r1', { c1: 0 });
  const vh = (bad.virtual_hosts as Resource[])[0]!;
  const one = (vh.routes as Resource[])[0]!;
  vh.routes = Array.from({ length: 300 }, () => one);
  const from = h.server.responses.length;
  h.server.setResources(R, [bad]);
  const resp = await h.server.waitForResponse((r) => r.type_url === R, { from });
  const nack = await h.server.waitForReply(resp.nonce);
  const msg = nack.error_detail?.message ?? '';
  t.equal(msg.length, 4096 + '...(truncated)'.length);
  t.ok(msg.endsWith('...(truncated)'));
  t.ok(msg.startsWith('route_configurations["r1"].virtual_hosts[0].routes[0].route.weighted_clusters: sum of weights is 0'));
  t.ok((h.client.state().perType[R]!.lastError ?? '').length > 20_000, 'whole text kept for the config dump');
});

t.test('named subscriptions follow references and unsubscribe what nothing references', async (t) => {
  const h = await setup(t);
  h.client.start();
  await h.waitForApply((s) => s.listeners.length === 1);
  h.server.upsert(R, [route('r2', { c1: 1 })], { push: false });
  let from = h.server.requests.length;
  h.server.setResources(L, [listener('l1', 'r2')]);
  // While l1 moves to r2, the serving l1 still needs r1: both are asked for, then r1 is dropped.
  await h.server.waitForRequest((r) => r.type_url === R && r.resource_names.join() === 'r1,r2', { from });
  const set = await h.waitForApply((s) => rdsNames(s.listeners[0]!).includes('r2'));
  t.same(names(set.routeConfigurations), ['r2']);
  await h.server.waitForRequest((r) => r.type_url === R && r.resource_names.join() === 'r2', { from });
  t.notOk(h.client.state().perType[R]!.resources.has('r1'), 'r1 forgotten once unsubscribed');
  // Clusters: a removed EDS cluster's endpoints are unsubscribed.
  from = h.server.requests.length;
  h.server.setResources(C, [cluster('c1')]);
  await h.server.waitForRequest((r) => r.type_url === E && r.resource_names.join() === 'c1', { from });
  const set2 = await h.waitForApply((s) => s.clusters.length === 1);
  t.same(names(set2.clusterLoadAssignments, 'cluster_name'), ['c1']);
  t.same(h.incomplete, []);
});

t.test('SotW deletion: listeners and clusters missing from a response are deleted, routes and endpoints are not', async (t) => {
  const h = await setup(t, { seed: false });
  h.server.setResources(C, [cluster('c1'), cluster('c2')]);
  h.server.setResources(E, [cla('c1'), cla('c2')]);
  h.server.setResources(L, [listener('l1', 'r1'), listener('l2', 'r2')]);
  h.server.setResources(R, [route('r1', { c1: 1 }), route('r2', { c2: 1 })]);
  h.client.start();
  await h.waitForApply((s) => s.listeners.length === 2 && s.clusters.length === 2);
  // RDS response without r2 (still referenced by l2): r2 is kept.
  const from = h.server.responses.length;
  h.server.setResources(R, [route('r1', { c1: 2 })]);
  const rr = await h.server.waitForResponse((r) => r.type_url === R, { from });
  t.same(rr.names, ['r1']);
  const s1 = await h.waitForApply((s) => weightsOf(s, 'r1')[0] === 2);
  t.same(names(s1.routeConfigurations), ['r1', 'r2'], 'r2 not deleted by its absence');
  // Same for EDS.
  h.server.setResources(E, [cla('c1', 9009)]);
  const s2 = await h.waitForApply((s) => JSON.stringify(s.clusterLoadAssignments).includes('9009'));
  t.same(names(s2.clusterLoadAssignments, 'cluster_name'), ['c1', 'c2']);
  // LDS / CDS without l2 / c2: deleted.
  h.server.setResources(L, [listener('l1', 'r1')]);
  const s3 = await h.waitForApply((s) => s.listeners.length === 1);
  t.same(names(s3.listeners), ['l1']);
  t.same(names(s3.routeConfigurations), ['r1']);
  h.server.setResources(C, [cluster('c1')]);
  const s4 = await h.waitForApply((s) => s.clusters.length === 1);
  t.same(names(s4.clusters), ['c1']);
  t.same(h.incomplete, []);
});

t.test('warming: a listener serves only with its routes, a cluster only with its endpoints', async (t) => {
  const h = await setup(t, { seed: false });
  h.server.setResources(C, [cluster('c1')]);
  h.server.setResources(E, [cla('c1')]);
  h.server.setResources(L, [listener('l1', 'r1')]);
  h.server.setResources(R, [route('r1', { c1: 1 })]);
  h.client.start();
  await h.waitForApply((s) => s.listeners.length === 1);
  const n = h.applied.length;
  // A new listener whose route config the server does not have yet, and a cluster without endpoints.
  const from = h.server.requests.length;
  h.server.upsert(C, [cluster('c3')]);
  h.server.upsert(L, [listener('l2', 'r-late')]);
  await h.server.waitForRequest((r) => r.type_url === R && r.resource_names.includes('r-late'), { from });
  await h.server.waitForRequest((r) => r.type_url === E && r.resource_names.includes('c3'), { from });
  await h.server.waitForRequest(isAckFor(L), { from });
  for (const s of h.applied.slice(n)) {
    t.notOk(s.listeners.some((l) => l.name === 'l2'), 'l2 not served before r-late');
    t.notOk(s.clusters.some((c) => c.name === 'c3'), 'c3 not served before its endpoints');
  }
  h.server.upsert(R, [route('r-late', { c1: 1 })]);
  const s1 = await h.waitForApply((s) => s.listeners.length === 2);
  t.ok(s1.routeConfigurations.some((r) => r.name === 'r-late'));
  t.notOk(s1.clusters.some((c) => c.name === 'c3'));
  h.server.upsert(E, [cla('c3')]);
  const s2 = await h.waitForApply((s) => s.clusters.length === 2);
  t.same(names(s2.clusterLoadAssignments, 'cluster_name'), ['c1', 'c3']);
  // An updated listener that points at a route not yet sent keeps serving its old version.
  h.server.upsert(L, [listener('l1', 'r-later')]);
  await h.server.waitForRequest((r) => r.type_url === R && r.resource_names.includes('r-later'), { from });
  const last = h.applied[h.applied.length - 1]!;
  t.ok(last.listeners.some((l) => l.name === 'l1' && rdsNames(l)[0] === 'r1'), 'old l1 keeps serving while the new one warms');
  t.same(h.incomplete, [], 'no applied set was ever incomplete');
});

t.test('does-not-exist: a resource asked for and never sent is absent after the (injected) timeout', async (t) => {
  const h = await setup(t, { seed: false, initialFetchTimeoutMs: 300 });
  h.server.setResources(C, [cluster('c1'), cluster('c-ghost')]);
  h.server.setResources(E, [cla('c1')]);
  h.server.setResources(L, [listener('l1', 'r-ghost')]);
  h.server.setResources(R, []);
  const t0 = Date.now();
  h.client.start();
  const set = await h.waitForApply((s) => s.listeners.length === 1, 5000);
  t.ok(Date.now() - t0 >= 250, 'waited for the timer');
  t.same(set.routeConfigurations, [{ name: 'r-ghost' }], 'absent route config served empty (404s), as Envoy after initial_fetch_timeout');
  t.same(names(set.clusters), ['c-ghost', 'c1']);
  t.same(set.clusterLoadAssignments.find((c) => c.cluster_name === 'c-ghost'), { cluster_name: 'c-ghost' }, 'absent endpoints: empty');
  t.same(h.client.state().perType[R]!.absent, ['r-ghost']);
  // Arriving later replaces the placeholder.
  h.server.setResources(R, [route('r-ghost', { c1: 1 })]);
  await h.waitForApply((s) => (s.routeConfigurations[0]!.virtual_hosts as unknown[] | undefined)?.length === 1);
  t.same(h.client.state().perType[R]!.absent, []);
});

t.test('control plane gone: keep serving, reconnect with backoff, resubscribe with the last versions', async (t) => {
  const h = await setup(t);
  h.client.start();
  await h.waitForApply((s) => s.listeners.length === 1);
  await h.server.waitForRequest(isAckFor(R));
  await h.server.waitForRequest(isAckFor(E));
  const versions = { L: h.server.versionOf(L), C: h.server.versionOf(C), R: h.server.versionOf(R), E: h.server.versionOf(E) };
  const applies = h.applied.length;
  const from = h.server.requests.length;
  const down = new Promise((resolve) => h.client.events.once('disconnected', resolve));
  await h.server.kill();
  await down; // the client noticed; restart the control plane
  t.notOk(h.client.state().connected);
  await h.server.restart();
  const cds = await h.server.waitForRequest((r) => r.type_url === C && r.stream === 2, { from, timeoutMs: 8000 });
  t.equal(cds.version_info, versions.C, 'CDS resumes with the last version');
  t.equal(cds.response_nonce, '', 'nonce is per stream');
  t.equal(cds.node?.id, NODE.id, 'node on the first request of the new stream');
  const eds = await h.server.waitForRequest((r) => r.type_url === E && r.stream === 2, { from });
  t.equal(eds.version_info, versions.E);
  t.same(eds.resource_names, ['c1', 'svc-c2'], 'EDS resubscribed by name');
  const lds = await h.server.waitForRequest((r) => r.type_url === L && r.stream === 2, { from });
  t.equal(lds.version_info, versions.L);
  const rds = await h.server.waitForRequest((r) => r.type_url === R && r.stream === 2, { from });
  t.equal(rds.version_info, versions.R);
  t.same(rds.resource_names, ['r1']);
  t.equal(h.server.requests.filter((r) => r.stream === 2 && r.node).length, 1);
  // The server sends everything again: same content, so nothing new is applied; all ACKed.
  await h.server.waitForRequest((r) => r.stream === 2 && isAckFor(R)(r), { from });
  t.equal(h.applied.length, applies, 'identical resources after reconnect: no new apply');
  // And updates flow again.
  h.server.setResources(R, [route('r1', { c1: 70, c2: 30 })]);
  await h.waitForApply((s) => weightsOf(s, 'r1')[0] === 70);
});

t.test('stale nonces and duplicate responses are harmless; each response answered once', async (t) => {
  const h = await setup(t);
  h.client.start();
  await h.waitForApply((s) => s.listeners.length === 1);
  await h.server.waitForRequest(isAckFor(R));
  const applies = h.applied.length;
  const anyL = h.server.encode(L, listener('l1', 'r1'));
  const v = h.server.versionOf(L);
  const n1 = h.server.sendRaw({ type_url: L, version_info: v, resources: [anyL] });
  const n2 = h.server.sendRaw({ type_url: L, version_info: v, resources: [anyL] });
  const validationsBefore = h.validations.count;
  const a1 = await h.server.waitForReply(n1);
  const a2 = await h.server.waitForReply(n2);
  t.equal(h.validations.count, validationsBefore, 'an unchanged resend is not validated (or decoded) again');
  t.equal(a1.version_info, v);
  t.equal(a2.version_info, v);
  t.notOk(a1.error_detail || a2.error_detail);
  // A later update still works and the duplicates caused no apply.
  h.server.setResources(R, [route('r1', { c1: 1, c2: 2 })]);
  await h.waitForApply((s) => weightsOf(s, 'r1')[0] === 1);
  t.equal(h.applied.length, applies + 1);
  for (const nonce of [n1, n2]) t.equal(h.server.requests.filter((r) => r.response_nonce === nonce).length, 1);
});

t.test('Delta: subscribe lists, ACK by nonce, removed_resources, initial_resource_versions on reconnect', async (t) => {
  const h = await setup(t, { apiType: 'DELTA_GRPC' });
  h.client.start();
  const set = await h.waitForApply((s) => s.listeners.length === 1 && s.clusters.length === 2);
  t.same(names(set.clusterLoadAssignments, 'cluster_name'), ['c1', 'svc-c2']);
  const reqs = h.server.requests;
  t.equal(reqs[0]!.kind, 'delta');
  t.equal(reqs[0]!.type_url, C);
  t.same(reqs[0]!.resource_names_subscribe, [], 'CDS: wildcard');
  t.equal(reqs[0]!.node?.id, NODE.id);
  t.equal(reqs.filter((r) => r.node).length, 1);
  const eds = reqs.find((r) => r.type_url === E)!;
  t.same(eds.resource_names_subscribe, ['c1', 'svc-c2']);
  for (const resp of h.server.responses) {
    const ack = await h.server.waitForReply(resp.nonce);
    t.notOk(ack.error_detail);
    t.same(ack.resource_names_subscribe, []);
  }
  t.equal(h.client.state().perType[C]!.versionInfo, h.server.versionOf(C), 'system_version_info kept');
  // Removal of a listener and of a cluster.
  let from = h.server.requests.length;
  h.server.setResources(C, [cluster('c1')]);
  const rc = await h.server.waitForResponse((r) => r.type_url === C && r.removed.length > 0);
  t.same(rc.removed, ['c2']);
  const unsub = await h.server.waitForRequest((r) => r.type_url === E && r.resource_names_unsubscribe.length > 0, { from });
  t.same(unsub.resource_names_unsubscribe, ['svc-c2']);
  await h.waitForApply((s) => s.clusters.length === 1);
  // A NACK in Delta: nonce + error_detail, state unchanged.
  const rfrom = h.server.responses.length;
  h.server.setResources(R, [route('r1', { c1: 0 })]);
  const bad = await h.server.waitForResponse((r) => r.type_url === R, { from: rfrom });
  const nack = await h.server.waitForReply(bad.nonce);
  t.equal(nack.error_detail?.code, 13, 'INTERNAL, as Envoy');
  t.match(nack.error_detail?.message, /sum of weights is 0/);
  h.server.setResources(R, [route('r1', { c1: 5 })]);
  await h.waitForApply((s) => weightsOf(s, 'r1')[0] === 5);
  // Reconnect: initial_resource_versions carry what we hold.
  const held = h.client.state().perType[L]!.resources.get('l1')!.version;
  from = h.server.requests.length;
  await h.server.restart();
  const lds = await h.server.waitForRequest((r) => r.type_url === L && r.stream === 2, { from, timeoutMs: 8000 });
  t.same(lds.initial_resource_versions, { l1: held });
  const rds = await h.server.waitForRequest((r) => r.type_url === R && r.stream === 2, { from });
  t.same(rds.resource_names_subscribe, ['r1']);
  t.ok(rds.initial_resource_versions.r1, 'route version resumed');
  t.equal(h.server.requests.filter((r) => r.stream === 2 && r.node).length, 1, 'node on the first request of the new stream');
  t.same(h.incomplete, []);
});

t.test('istiod-shaped resources are accepted, unknown typed filters skipped and visible', async (t) => {
  const h = await setup(t, { seed: false });
  h.server.setResources(C, [istio.istioCluster(istio.CLUSTER_V1), istio.istioCluster(istio.CLUSTER_V2)]);
  h.server.setResources(E, [
    istio.istioClusterLoadAssignment(istio.CLUSTER_V1, [{ ip: '10.0.0.5', port: 9080, version: 'v1' }]),
    istio.istioClusterLoadAssignment(istio.CLUSTER_V2, [{ ip: '10.0.0.7', port: 9080, version: 'v2' }]),
  ]);
  h.server.setResources(L, [istio.istioListener()]);
  h.server.setResources(R, [istio.istioRouteConfiguration([80, 20])]);
  h.client.start();
  const set = await h.waitForApply((s) => s.listeners.length === 1 && s.clusters.length === 2);
  t.same(names(set.listeners), ['0.0.0.0_9080']);
  t.same(names(set.routeConfigurations), ['9080']);
  t.same(names(set.clusterLoadAssignments, 'cluster_name'), [istio.CLUSTER_V1, istio.CLUSTER_V2]);
  const ep = (set.clusterLoadAssignments[0] as any).endpoints[0].lb_endpoints[0]; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.match(ep.metadata.filter_metadata.istio.workload, /reviews-v\d;default/);
  const eds = h.server.requests.find((r) => r.type_url === E)!;
  t.same(eds.resource_names, [istio.CLUSTER_V1, istio.CLUSTER_V2]);
  const entry = h.client.state().perType[L]!.resources.get('0.0.0.0_9080')!;
  t.ok(entry.notes.some((n) => n.includes('envoy.tcp.metadataexchange')), 'skipped filters are visible');
  const hcm = (set.listeners[0] as any).filter_chains[0].filters[1].typed_config; // eslint-disable-line @typescript-eslint/no-explicit-any
  t.same(hcm.http_filters[0].typed_config, { '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm' });
  t.equal(hcm.http_filters[5].typed_config['@type'], TYPE_URL.ROUTER);
  for (const resp of h.server.responses) t.notOk((await h.server.waitForReply(resp.nonce)).error_detail, 'ACKed');
});

t.test('control plane down: backoff grows with jitter, no apply while down, reset after a good response', async (t) => {
  const h = await setup(t);
  h.client.start();
  await h.waitForApply((s) => s.listeners.length === 1);
  await h.server.waitForRequest(isAckFor(R));
  const applies = h.applied.length;
  const delays: { attempt: number; delayMs: number }[] = [];
  const fourDown = new Promise<void>((resolve) => {
    const on = (d: { attempt: number; delayMs: number }): void => {
      delays.push(d);
      if (delays.length === 4) {
        h.client.events.off('disconnected', on);
        resolve();
      }
    };
    h.client.events.on('disconnected', on);
  });
  await h.server.kill();
  await fourDown;
  // base 40 ms, max 200 ms: ceilings 40, 80, 160, 200; each delay in [ceiling/2, ceiling].
  const ceilings = [40, 80, 160, 200];
  delays.forEach((d, i) => {
    t.equal(d.attempt, i + 1);
    t.ok(d.delayMs >= ceilings[i]! / 2 && d.delayMs <= ceilings[i]!, `attempt ${i + 1}: ${d.delayMs} ms within [${ceilings[i]! / 2}, ${ceilings[i]}]`);
  });
  t.equal(h.applied.length, applies, 'the last config keeps serving: no apply while the control plane is gone');
  t.notOk(h.client.state().connected);
  const accepted = new Promise<void>((resolve) => h.client.events.once('response', () => resolve()));
  await h.server.restart();
  await accepted;
  t.equal(h.client.state().reconnectAttempts, 0, 'a good response resets the backoff');
  t.ok(h.client.state().connected);
});

t.test('a unix socket target (istio-agent serves xDS on ./etc/istio/proxy/XDS)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-xds-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = await FakeAdsServer.start({ unixPath: `${dir}/XDS` });
  t.match(server.target, /^unix:\/\/\//);
  const h = await setup(t, { server });
  h.client.start();
  const set = await h.waitForApply((s) => s.listeners.length === 1);
  t.same(names(set.clusters), ['c1', 'c2']);
});

t.test('Delta: a route config removed by the server is absent (served empty), and comes back when re-sent', async (t) => {
  const h = await setup(t, { apiType: 'DELTA_GRPC' });
  h.client.start();
  await h.waitForApply((s) => s.listeners.length === 1 && s.routeConfigurations.length === 1);
  h.server.remove(R, ['r1']);
  const rm = await h.server.waitForResponse((r) => r.type_url === R && r.removed.includes('r1'));
  t.same(rm.removed, ['r1']);
  const set = await h.waitForApply((s) => s.routeConfigurations.length === 1 && s.routeConfigurations[0]!.virtual_hosts === undefined);
  t.same(set.routeConfigurations, [{ name: 'r1' }], 'listener l1 keeps serving with an empty route config (404s)');
  t.same(h.client.state().perType[R]!.absent, ['r1']);
  h.server.upsert(R, [route('r1', { c1: 3 })]);
  const back = await h.waitForApply((s) => JSON.stringify(s.routeConfigurations).includes('"weight":3'));
  t.same(weightsOf(back, 'r1'), [3]);
  t.same(h.incomplete, []);
});
