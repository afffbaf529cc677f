// Structural checks of an Envoy v3 Bootstrap that belong to the bootstrap itself (which fields
// exist, where listeners/clusters/addresses live). Route tables, filters and cluster policies are
// validated by the snapshot compiler; this module only guarantees that what it hands over has the
// shape of a Listener/Cluster list, and says where things are wrong with the full field path.

import { field, fieldNames, isObject, parseUint, type JsonObject } from '../util/proto-json';

/** Every field of envoy.config.bootstrap.v3.Bootstrap (bootstrap.proto), by proto name. */
export const BOOTSTRAP_FIELDS: ReadonlySet<string> = new Set([
  'node', 'node_context_params', 'static_resources', 'dynamic_resources', 'cluster_manager',
  'hds_config', 'flags_path', 'stats_sinks', 'deferred_stat_options', 'stats_config',
  'stats_flush_interval', 'stats_flush_on_admin', 'watchdog', 'watchdogs', 'tracing',
  'layered_runtime', 'admin', 'overload_manager', 'enable_dispatcher_stats', 'header_prefix',
  'stats_server_version_override', 'use_tcp_for_dns_lookups', 'dns_resolution_config',
  'typed_dns_resolver_config', 'bootstrap_extensions', 'fatal_actions', 'config_sources',
  'default_config_source', 'default_socket_interface', 'certificate_provider_instances',
  'inline_headers', 'perf_tracing_file_path', 'default_regex_engine', 'xds_delegate_extension',
  'xds_config_tracker_extension', 'listener_manager', 'application_log_config',
  'grpc_async_client_manager_config', 'memory_allocator_manager',
]);

/** The Bootstrap fields weir acts on; the others are accepted (Envoy knows them) and reported as ignored. */
export const BOOTSTRAP_FIELDS_USED: ReadonlySet<string> = new Set([
  'node', 'static_resources', 'dynamic_resources', 'admin',
]);

const STATIC_RESOURCES_FIELDS: ReadonlySet<string> = new Set(['listeners', 'clusters', 'secrets']);
const ADMIN_FIELDS: ReadonlySet<string> = new Set([
  'access_log', 'access_log_path', 'profile_path', 'address', 'socket_options', 'ignore_global_conn_limit',
]);
const NODE_FIELDS: ReadonlySet<string> = new Set([
  'id', 'cluster', 'metadata', 'dynamic_parameters', 'locality', 'user_agent_name',
  'user_agent_version', 'user_agent_build_version', 'extensions', 'client_features', 'listening_addresses',
]);
const LOCALITY_FIELDS: ReadonlySet<string> = new Set(['region', 'zone', 'sub_zone']);

export interface SocketAddress {
  address: string;
  port: number;
}

export interface BootstrapCheck {
  errors: string[];
  /** Problems Envoy rejects but `--allow-unknown-static-fields` turns into warnings. */
  warnings: string[];
  /** Known Bootstrap fields weir does not act on (shown once at start-up). */
  ignored: string[];
}

/** Unknown fields of `obj` (proto names), checked against `known`. */
function unknownFields(obj: JsonObject, known: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const names = fieldNames(obj);
  for (const n of names) if (!known.has(n)) out.push(n);
  return out;
}

/**
 * `core.v3.Address` with a `socket_address` (the only kind weir binds or dials). Returns the
 * address or pushes `<path>: <problem>`; `requirePort` is false for STRICT_DNS/LOGICAL_DNS hosts
 * only in the sense that they still need a port; named ports are not supported.
 */
export function readSocketAddress(v: unknown, path: string, errors: string[]): SocketAddress | undefined {
  if (v === undefined || v === null) {
    errors.push(`${path}: missing (expected { socket_address: { address, port_value } })`);
    return undefined;
  }
  if (!isObject(v)) {
    errors.push(`${path}: expected an object`);
    return undefined;
  }
  const sa = field(v, 'socket_address');
  if (sa === undefined || sa === null) {
    if (field(v, 'pipe') !== undefined) errors.push(`${path}.pipe: unix domain socket addresses are not supported by weir`);
    else if (field(v, 'envoy_internal_address') !== undefined)
      errors.push(`${path}.envoy_internal_address: internal addresses are not supported by weir`);
    else errors.push(`${path}: missing socket_address`);
    return undefined;
  }
  if (!isObject(sa)) {
    errors.push(`${path}.socket_address: expected an object`);
    return undefined;
  }
  const address = field(sa, 'address');
  let ok = true;
  if (typeof address !== 'string' || address === '') {
    errors.push(`${path}.socket_address.address: missing (an IP address or host name)`);
    ok = false;
  }
  const protocol = field(sa, 'protocol');
  if (protocol !== undefined && protocol !== 'TCP' && protocol !== 0) {
    errors.push(`${path}.socket_address.protocol: only TCP is supported (got ${JSON.stringify(protocol)})`);
    ok = false;
  }
  if (field(sa, 'named_port') !== undefined) {
    errors.push(`${path}.socket_address.named_port: not supported; use port_value`);
    return undefined;
  }
  const rawPort = field(sa, 'port_value');
  const port = rawPort === undefined ? 0 : parseUint(rawPort);
  if (port === undefined || port > 65535) {
    errors.push(`${path}.socket_address.port_value: ${JSON.stringify(rawPort)} is not a port (0..65535)`);
    ok = false;
  }
  return ok ? { address: address as string, port: port as number } : undefined;
}

function checkArray(v: unknown, path: string, errors: string[]): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    errors.push(`${path}: expected a list`);
    return [];
  }
  return v;
}

/** Checks the Bootstrap's own structure. Field paths are relative to the bootstrap root. */
export function checkBootstrap(root: JsonObject, allowUnknownFields: boolean): BootstrapCheck {
  const errors: string[] = [];
  const warnings: string[] = [];
  const ignored: string[] = [];
  const unknown = (path: string, names: string[]): void => {
    for (const n of names) {
      const msg = `${path ? path + '.' : ''}${n}: unknown field (Envoy rejects unknown fields in the bootstrap)`;
      if (allowUnknownFields) warnings.push(msg);
      else errors.push(msg);
    }
  };

  unknown('', unknownFields(root, BOOTSTRAP_FIELDS));
  for (const n of fieldNames(root)) if (BOOTSTRAP_FIELDS.has(n) && !BOOTSTRAP_FIELDS_USED.has(n)) ignored.push(n);

  const node = field(root, 'node');
  if (node !== undefined && node !== null) {
    if (!isObject(node)) errors.push('node: expected an object');
    else {
      unknown('node', unknownFields(node, NODE_FIELDS));
      for (const f of ['id', 'cluster']) {
        const v = field(node, f);
        if (v !== undefined && typeof v !== 'string') errors.push(`node.${f}: expected a string`);
      }
      const md = field(node, 'metadata');
      if (md !== undefined && md !== null && !isObject(md)) errors.push('node.metadata: expected an object (google.protobuf.Struct)');
      const loc = field(node, 'locality');
      if (loc !== undefined && loc !== null) {
        if (!isObject(loc)) errors.push('node.locality: expected an object');
        else unknown('node.locality', unknownFields(loc, LOCALITY_FIELDS));
      }
    }
  }

  const admin = field(root, 'admin');
  if (admin !== undefined && admin !== null) {
    if (!isObject(admin)) errors.push('admin: expected an object');
    else {
      unknown('admin', unknownFields(admin, ADMIN_FIELDS));
      const addr = field(admin, 'address');
      if (addr !== undefined && addr !== null) readSocketAddress(addr, 'admin.address', errors);
    }
  }

  const dyn = field(root, 'dynamic_resources');
  if (dyn !== undefined && dyn !== null && !isObject(dyn)) errors.push('dynamic_resources: expected an object');

  const sr = field(root, 'static_resources');
  if (sr !== undefined && sr !== null) {
    if (!isObject(sr)) errors.push('static_resources: expected an object');
    else {
      unknown('static_resources', unknownFields(sr, STATIC_RESOURCES_FIELDS));
      if (checkArray(field(sr, 'secrets'), 'static_resources.secrets', errors).length > 0)
        warnings.push('static_resources.secrets: TLS secrets are not supported by weir yet and are ignored');
      checkListeners(checkArray(field(sr, 'listeners'), 'static_resources.listeners', errors), errors);
      checkClusters(checkArray(field(sr, 'clusters'), 'static_resources.clusters', errors), errors);
    }
  }
  return { errors, warnings, ignored };
}

function checkListeners(listeners: unknown[], errors: string[]): void {
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  for (let i = 0; i < listeners.length; i++) {
    const path = `static_resources.listeners[${i}]`;
    const l = listeners[i];
    if (!isObject(l)) {
      errors.push(`${path}: expected an object (a Listener)`);
      continue;
    }
    const name = field(l, 'name');
    if (name !== undefined && typeof name !== 'string') errors.push(`${path}.name: expected a string`);
    if (typeof name === 'string' && name !== '') {
      const prev = names.get(name);
      if (prev !== undefined) errors.push(`${path}.name: duplicate listener name '${name}' (also static_resources.listeners[${prev}])`);
      else names.set(name, i);
    }
    const sa = readSocketAddress(field(l, 'address'), `${path}.address`, errors);
    if (sa && sa.port !== 0) {
      const key = `${sa.address}:${sa.port}`;
      const prev = addresses.get(key);
      if (prev !== undefined) errors.push(`${path}.address: duplicate address ${key} (also static_resources.listeners[${prev}])`);
      else addresses.set(key, i);
    }
    const chains = field(l, 'filter_chains');
    if (chains !== undefined && !Array.isArray(chains)) errors.push(`${path}.filter_chains: expected a list`);
  }
}

function checkClusters(clusters: unknown[], errors: string[]): void {
  const names = new Map<string, number>();
  for (let i = 0; i < clusters.length; i++) {
    const path = `static_resources.clusters[${i}]`;
    const c = clusters[i];
    if (!isObject(c)) {
      errors.push(`${path}: expected an object (a Cluster)`);
      continue;
    }
    const name = field(c, 'name');
    if (typeof name !== 'string' || name === '') errors.push(`${path}.name: missing (every cluster needs a name)`);
    else {
      const prev = names.get(name);
      if (prev !== undefined) errors.push(`${path}.name: duplicate cluster name '${name}' (also static_resources.clusters[${prev}])`);
      else names.set(name, i);
    }
    const la = field(c, 'load_assignment');
    if (la === undefined || la === null) continue;
    if (!isObject(la)) {
      errors.push(`${path}.load_assignment: expected an object`);
      continue;
    }
    const eps = checkArray(field(la, 'endpoints'), `${path}.load_assignment.endpoints`, errors);
    for (let j = 0; j < eps.length; j++) {
      const ep = eps[j];
      const epPath = `${path}.load_assignment.endpoints[${j}]`;
      if (!isObject(ep)) {
        errors.push(`${epPath}: expected an object (a LocalityLbEndpoints)`);
        continue;
      }
      const lbs = checkArray(field(ep, 'lb_endpoints'), `${epPath}.lb_endpoints`, errors);
      for (let k = 0; k < lbs.length; k++) {
        const lb = lbs[k];
        const lbPath = `${epPath}.lb_endpoints[${k}]`;
        if (!isObject(lb)) {
          errors.push(`${lbPath}: expected an object (an LbEndpoint)`);
          continue;
        }
        const endpoint = field(lb, 'endpoint');
        if (endpoint === undefined || endpoint === null) {
          if (field(lb, 'endpoint_name') !== undefined) errors.push(`${lbPath}.endpoint_name: named endpoints are not supported; use endpoint`);
          else errors.push(`${lbPath}: missing endpoint`);
          continue;
        }
        if (!isObject(endpoint)) {
          errors.push(`${lbPath}.endpoint: expected an object`);
          continue;
        }
        readSocketAddress(field(endpoint, 'address'), `${lbPath}.endpoint.address`, errors);
      }
    }
  }
}

/**
 * Envoy's `RouteConfiguration.validate_clusters`: "By default, validation is true for route tables
 * loaded statically (in bootstrap)": a route naming a cluster that is not defined rejects the
 * configuration (`route: unknown cluster 'x'` / `route: unknown weighted cluster 'x'`,
 * source/common/router/config_impl.cc). Checked here because it is a property of where the route
 * table came from; the same table over RDS is not validated this way.
 */
export function checkStaticRouteClusters(listeners: readonly unknown[], clusters: readonly unknown[]): string[] {
  const errors: string[] = [];
  const known = new Set<string>();
  for (const c of clusters) {
    const n = field(c, 'name');
    if (typeof n === 'string') known.add(n);
  }
  const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  listeners.forEach((l, li) => {
    arr(field(l, 'filter_chains')).forEach((chain, ci) => {
      arr(field(chain, 'filters')).forEach((f, fi) => {
        const rc = field(field(f, 'typed_config'), 'route_config');
        if (!isObject(rc)) return;
        const validate = field(rc, 'validate_clusters');
        const v = isObject(validate) ? validate.value : validate;
        if (v === false) return;
        const rcPath = `static_resources.listeners[${li}].filter_chains[${ci}].filters[${fi}].typed_config.route_config`;
        arr(field(rc, 'virtual_hosts')).forEach((vh, vi) => {
          arr(field(vh, 'routes')).forEach((r, ri) => {
            const action = field(r, 'route');
            if (!isObject(action)) return;
            const path = `${rcPath}.virtual_hosts[${vi}].routes[${ri}].route`;
            const cluster = field(action, 'cluster');
            if (typeof cluster === 'string' && cluster !== '' && !known.has(cluster))
              errors.push(`${path}.cluster: route: unknown cluster '${cluster}' (static route tables are validated against static_resources.clusters, as Envoy does unless route_config.validate_clusters is false)`);
            arr(field(field(action, 'weighted_clusters'), 'clusters')).forEach((wc, wi) => {
              const name = field(wc, 'name');
              if (typeof name === 'string' && name !== '' && !known.has(name))
                errors.push(`${path}.weighted_clusters.clusters[${wi}].name: route: unknown weighted cluster '${name}'`);
            });
          });
        });
      });
    });
  });
  return errors;
}
