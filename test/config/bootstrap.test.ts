import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadBootstrap, type LoadBootstrapOptions } from '../../src/config/bootstrap';
import { mergeFrom } from '../../src/config/bootstrap-merge';
import { locateSnapshotError } from '../../src/config/bootstrap-snapshot';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bootstrap-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

const LISTENER = `
    - name: main
      address: { socket_address: { address: 127.0.0.1, port_value: 10000 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: main
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: / }
                          route: { cluster: a }
`;
const CLUSTER_A = `
    - name: a
      type: STATIC
      load_assignment:
        cluster_name: a
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9081 } } }
`;
const GOOD = `
node: { id: node-1, cluster: edge, metadata: { LABELS: { version: v1 } }, locality: { zone: z1 } }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 9901 } }
static_resources:
  listeners:${LISTENER}
  clusters:${CLUSTER_A}
`;

const good = file('envoy.yaml', GOOD);

t.test('a good YAML bootstrap becomes a ResourceSet, admin address and node', async (t) => {
  const r = loadBootstrap({ configPath: good });
  t.notOk(r.errors, String(r.errors));
  const b = r.value!;
  t.equal(b.resources.listeners.length, 1);
  t.equal(b.resources.clusters.length, 1);
  t.same(b.resources.routeConfigurations, [], 'inline route_config stays in its listener');
  t.same(b.admin, { address: '127.0.0.1', port: 9901 });
  t.same(b.node, { id: 'node-1', cluster: 'edge', metadata: { LABELS: { version: 'v1' } }, locality: { region: '', zone: 'z1', sub_zone: '' } });
  t.equal(b.dynamicResources, null);
  t.match(b.resources.versionInfo, /^bootstrap .*envoy\.yaml sha256:[0-9a-f]{12}$/);
  t.equal(b.source, good);
});

t.test('JSON is YAML; lowerCamelCase field names are accepted', async (t) => {
  const json = {
    node: { id: 'n' },
    admin: { address: { socketAddress: { address: '0.0.0.0', portValue: 9902 } } },
    staticResources: {
      clusters: [
        {
          name: 'a',
          loadAssignment: {
            clusterName: 'a',
            endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 1 } } } }] }],
          },
        },
      ],
    },
    dynamicResources: { adsConfig: { apiType: 'GRPC' } },
  };
  const r = loadBootstrap({ configPath: file('envoy.json', JSON.stringify(json)) });
  t.notOk(r.errors, String(r.errors));
  t.same(r.value!.admin, { address: '0.0.0.0', port: 9902 });
  t.equal(r.value!.resources.clusters.length, 1);
  t.same(r.value!.dynamicResources, { adsConfig: { apiType: 'GRPC' } });
});

// Table of bad bootstraps: each error names the file and the field path.
const BAD: { name: string; text: string; error: RegExp; opts?: Partial<LoadBootstrapOptions> }[] = [
  {
    name: 'endpoint without socket_address',
    text: `static_resources:\n  clusters:${CLUSTER_A}\n    - name: b\n      load_assignment:\n        endpoints:\n          - lb_endpoints:\n              - endpoint: { address: {} }\n`,
    error: /bad\.yaml: static_resources\.clusters\[1\]\.load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address: missing socket_address$/,
  },
  {
    name: 'unknown top-level field',
    text: `static_resources: {}\nstatic_resource: {}\n`,
    error: /bad\.yaml: static_resource: unknown field/,
  },
  {
    name: 'unknown field under static_resources',
    text: `static_resources: { routes: [] }\n`,
    error: /bad\.yaml: static_resources\.routes: unknown field/,
  },
  {
    name: 'listener port out of range',
    text: `static_resources:\n  listeners:\n    - name: l\n      address: { socket_address: { address: 0.0.0.0, port_value: 70000 } }\n`,
    error: /static_resources\.listeners\[0\]\.address\.socket_address\.port_value: 70000 is not a port/,
  },
  {
    name: 'listener without address',
    text: `static_resources:\n  listeners:\n    - name: l\n`,
    error: /static_resources\.listeners\[0\]\.address: missing/,
  },
  {
    name: 'duplicate cluster names',
    text: `static_resources:\n  clusters:${CLUSTER_A}${CLUSTER_A}`,
    error: /static_resources\.clusters\[1\]\.name: duplicate cluster name 'a' \(also static_resources\.clusters\[0\]\)/,
  },
  {
    name: 'cluster without name',
    text: `static_resources:\n  clusters:\n    - type: STATIC\n`,
    error: /static_resources\.clusters\[0\]\.name: missing/,
  },
  {
    name: 'two listeners on one address',
    text: `static_resources:\n  listeners:\n    - name: a\n      address: { socket_address: { address: 0.0.0.0, port_value: 80 } }\n    - name: b\n      address: { socket_address: { address: 0.0.0.0, port_value: 80 } }\n`,
    error: /static_resources\.listeners\[1\]\.address: duplicate address 0\.0\.0\.0:80/,
  },
  {
    name: 'listeners is not a list',
    text: `static_resources: { listeners: { name: a } }\n`,
    error: /static_resources\.listeners: expected a list/,
  },
  {
    name: 'admin address without socket_address',
    text: `admin: { address: { pipe: { path: /tmp/admin } } }\n`,
    error: /bad\.yaml: admin\.address\.pipe: unix domain socket addresses are not supported/,
  },
  {
    name: 'YAML syntax error names the line',
    text: `static_resources:\n  listeners: [\n`,
    error: /bad\.yaml: line \d+, column \d+: /,
  },
  {
    name: 'duplicate YAML keys',
    text: `admin: {}\nadmin: {}\n`,
    error: /bad\.yaml: line 2, column 1: .*[Uu]nique/,
  },
  {
    name: 'a list is not a bootstrap',
    text: `- a\n- b\n`,
    error: /bad\.yaml: the bootstrap must be a mapping/,
  },
  {
    name: 'node.id must be a string',
    text: `node: { id: [1] }\n`,
    error: /bad\.yaml: node\.id: expected a string/,
  },
  {
    name: 'errors in --config-yaml name it',
    text: `admin: {}\n`,
    opts: { configYaml: 'admin: [' },
    error: /^--config-yaml: line 1/,
  },
];

for (const c of BAD) {
  t.test(`rejects: ${c.name}`, async (t) => {
    const r = loadBootstrap({ configPath: file('bad.yaml', c.text), ...c.opts });
    t.ok(r.errors, 'has errors');
    t.match(r.errors!.join('\n'), c.error);
  });
}

t.test('a nameless static listener gets a name, as Envoy allocates one', async (t) => {
  const r = loadBootstrap({ configPath: file('nameless.yaml', GOOD.replace('- name: main\n      ', '- ')), compile: false });
  t.notOk(r.errors, String(r.errors));
  t.equal(r.value!.resources.listeners[0]!.name, 'listener_0');
});

t.test('static route tables must name defined clusters (validate_clusters), unless disabled', async (t) => {
  const unknown = GOOD.replace('route: { cluster: a }', 'route: { cluster: nope }');
  const r = loadBootstrap({ configPath: file('unknown-cluster.yaml', unknown) });
  t.match(
    r.errors!.join('\n'),
    /unknown-cluster\.yaml: static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.route_config\.virtual_hosts\[0\]\.routes\[0\]\.route\.cluster: route: unknown cluster 'nope'/,
  );
  const weighted = GOOD.replace('route: { cluster: a }', 'route: { weighted_clusters: { clusters: [ { name: a, weight: 1 }, { name: b, weight: 1 } ] } }');
  t.match(loadBootstrap({ configPath: file('unknown-weighted.yaml', weighted) }).errors!.join('\n'), /routes\[0\]\.route\.weighted_clusters\.clusters\[1\]\.name: route: unknown weighted cluster 'b'/);
  const off = unknown.replace('route_config:\n', 'route_config:\n                  validate_clusters: false\n');
  t.notOk(loadBootstrap({ configPath: file('no-validate.yaml', off), compile: false }).errors);
});

t.test('a missing file and no config at all', async (t) => {
  const r = loadBootstrap({ configPath: path.join(dir, 'nope.yaml') });
  t.match(r.errors!.join('\n'), /nope\.yaml: unable to read file: no such file/);
  t.match(loadBootstrap({}).errors!.join('\n'), /at least one of --config-path \(-c\) or --config-yaml is required/);
});

t.test('--allow-unknown-static-fields turns unknown fields into warnings', async (t) => {
  const p = file('unknown.yaml', `${GOOD}\nmystery: 1\n`);
  t.ok(loadBootstrap({ configPath: p }).errors);
  const r = loadBootstrap({ configPath: p, allowUnknownFields: true });
  t.notOk(r.errors);
  t.match(r.value!.warnings.join('\n'), /mystery: unknown field/);
});

t.test('known but unimplemented fields are accepted and listed', async (t) => {
  const r = loadBootstrap({ configPath: file('tracing.yaml', `${GOOD}\nstats_flush_interval: 5s\nlayeredRuntime: {}\n`) });
  t.notOk(r.errors);
  t.same(r.value!.ignoredFields.sort(), ['layered_runtime', 'stats_flush_interval']);
});

t.test('--config-yaml merges over the file with MergeFrom semantics', async (t) => {
  const overlay = `
admin: { address: { socket_address: { port_value: 9902 } } }
node: { cluster: other, metadata: { EXTRA: x } }
static_resources:
  clusters:
    - name: b
      load_assignment:
        endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9082 } } } } ] } ]
`;
  const r = loadBootstrap({ configPath: good, configYaml: overlay });
  t.notOk(r.errors, String(r.errors));
  const b = r.value!;
  t.same(b.admin, { address: '127.0.0.1', port: 9902 }, 'message fields merge: address kept, port replaced');
  t.equal(b.node.cluster, 'other', 'scalars replace');
  t.equal(b.node.id, 'node-1', 'unset fields stay');
  t.same(b.node.metadata, { LABELS: { version: 'v1' }, EXTRA: 'x' });
  t.same(
    b.resources.clusters.map((c) => c.name),
    ['a', 'b'],
    'repeated fields concatenate',
  );
  t.match(b.source, /envoy\.yaml \(with --config-yaml\)/);
});

t.test('--config-yaml alone is a whole bootstrap', async (t) => {
  const r = loadBootstrap({ configYaml: `admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }` });
  t.notOk(r.errors);
  t.same(r.value!.admin, { address: '127.0.0.1', port: 0 });
  t.equal(r.value!.source, '--config-yaml');
});

t.test('--service-node, --service-cluster and --service-zone override the node', async (t) => {
  const r = loadBootstrap({ configPath: good, serviceNode: 'sidecar~10.0.0.1~p.ns~ns.svc.cluster.local', serviceCluster: 'c2', serviceZone: 'z9' });
  t.equal(r.value!.node.id, 'sidecar~10.0.0.1~p.ns~ns.svc.cluster.local');
  t.equal(r.value!.node.cluster, 'c2');
  t.equal(r.value!.node.locality!.zone, 'z9');
});

t.test('mergeFrom: concatenation, Any replaced whole, either spelling of one field', async (t) => {
  t.same(mergeFrom({ a: [1], b: { c: 1, d: 2 } }, { a: [2], b: { d: 3 } }), { a: [1, 2], b: { c: 1, d: 3 } });
  t.same(
    mergeFrom({ typed_config: { '@type': 'x', a: 1 } }, { typed_config: { '@type': 'y', b: 2 } }),
    { typed_config: { '@type': 'y', b: 2 } },
    'an Any is replaced, never blended',
  );
  t.same(mergeFrom({ port_value: 1, keep: true }, { portValue: 2 }), { portValue: 2, keep: true });
  const base = { a: { b: [1] } };
  mergeFrom(base, { a: { b: [2] } });
  t.same(base, { a: { b: [1] } }, 'inputs are not mutated');
});

t.test('snapshot compiler errors are located in the bootstrap', async (t) => {
  const listeners = [{ name: 'l0' }, { name: 'edge' }];
  const clusters = [{ name: 'a' }, { name: 'b' }];
  t.equal(locateSnapshotError('listeners[1].filter_chains[0]: bad', listeners, clusters), 'static_resources.listeners[1].filter_chains[0]: bad');
  t.equal(locateSnapshotError("listener 'edge': filter_chains[0].filters[0]: bad", listeners, clusters), 'static_resources.listeners[1].filter_chains[0].filters[0]: bad');
  t.equal(locateSnapshotError('cluster "b": lb_policy: unknown', listeners, clusters), 'static_resources.clusters[1].lb_policy: unknown');
  t.equal(locateSnapshotError('listeners["edge"].filter_chains[0].filters: x', listeners, clusters), 'static_resources.listeners[1].filter_chains[0].filters: x');
  t.equal(locateSnapshotError('clusters["b"].load_assignment: x', listeners, clusters), 'static_resources.clusters[1].load_assignment: x');
  t.equal(locateSnapshotError('something odd', listeners, clusters), 'static_resources: something odd');
});

// The route errors come from the snapshot compiler (src/proxy/snapshot.ts); they carry the
// file and the bootstrap path too.
t.test('route errors carry file and bootstrap path', async (t) => {
  const text = GOOD.replace('route: { cluster: a }', 'route: { weighted_clusters: { clusters: [ { name: a, weight: 0 } ] } }');
  const r = loadBootstrap({ configPath: file('route.yaml', text) });
  t.ok(r.errors);
  t.match(r.errors!.join('\n'), /route\.yaml: static_resources\.listeners\[0\]\.\S*weighted_clusters/);
});
