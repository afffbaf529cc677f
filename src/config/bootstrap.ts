// Loads an Envoy v3 bootstrap (YAML or JSON; JSON is YAML) into the one model every config source
// produces (design.md): `static_resources.listeners/clusters` become a ResourceSet (inline
// `route_config` stays in its listener), plus the admin address, the node identity and the
// dynamic_resources block for the xDS client.
//
// Envoy behaviours kept on purpose:
//   - `--config-yaml` is merged over the `-c` file with protobuf MergeFrom (bootstrap-merge.ts);
//   - unknown fields are rejected (Envoy: "Protobuf message ... has unknown fields"), unless
//     `--allow-unknown-static-fields`, which turns them into warnings as in Envoy;
//   - `--service-node` / `--service-cluster` / `--service-zone` override node.id / node.cluster /
//     node.locality.zone (source/common/local_info/local_info_impl.h).
// Every error names the file and the field path, including the errors the snapshot compiler finds
// inside listeners and clusters, so `weir --mode validate` reads like a compiler.

import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as YAML from 'yaml';
import type { Validated } from '../route/types';
import type { ResourceSet, Resource } from './resources';
import { field, isObject, type JsonObject } from '../util/proto-json';
import { mergeFrom } from './bootstrap-merge';
import { checkBootstrap, checkStaticRouteClusters, readSocketAddress } from './bootstrap-validate';
import { locateSnapshotError, tryCompileSnapshot } from './bootstrap-snapshot';

export interface LoadBootstrapOptions {
  /** `-c/--config-path`: a .yaml, .yml or .json file. */
  configPath?: string;
  /** `--config-yaml`: a YAML/JSON bootstrap fragment merged over the file. */
  configYaml?: string;
  /** `--service-node`: overrides node.id. */
  serviceNode?: string;
  /** `--service-cluster`: overrides node.cluster. */
  serviceCluster?: string;
  /** `--service-zone`: overrides node.locality.zone. */
  serviceZone?: string;
  /** `--allow-unknown-static-fields`: unknown fields become warnings instead of errors. */
  allowUnknownFields?: boolean;
  /** Also compile the snapshot so route/cluster errors are reported with file + path (default true). */
  compile?: boolean;
  /** SnapshotOptions for that compile (e.g. `allowUnenforcedSecurityFilters`), as serving uses. */
  snapshotOptions?: object;
}

export interface BootstrapNode {
  id: string;
  cluster: string;
  metadata: JsonObject;
  locality: { region: string; zone: string; sub_zone: string } | null;
}

export interface Bootstrap {
  resources: ResourceSet;
  admin: { address: string; port: number } | null;
  node: BootstrapNode;
  dynamicResources: unknown | null;
  /** The merged bootstrap as an object (after `--config-yaml`, before flag overrides). */
  raw: object;
  /** What errors and logs call the configuration: the file path, or `--config-yaml`. */
  source: string;
  /** Non-fatal findings (unknown fields under `--allow-unknown-static-fields`, ignored secrets). */
  warnings: string[];
  /** Known Bootstrap fields weir accepts but does not act on (tracing, stats_sinks, ...). */
  ignoredFields: string[];
}

/** Parses one YAML/JSON document; errors are `<source>: line L, column C: <problem>`. */
export function parseBootstrapText(text: string, source: string): Validated<JsonObject> {
  // JSON is YAML, but the YAML parser is ~50x slower on a large JSON bootstrap (10,000 routes took
  // 5 s to parse). Try JSON.parse first; anything it rejects goes to the YAML parser, whose errors
  // carry line and column.
  if (/^\s*\{/.test(text)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (isObject(value)) return { value };
  }
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: true, merge: true, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.length > 1) return { errors: [`${source}: expected one YAML document, found ${list.length}`] };
  const doc = list[0];
  if (doc === undefined) return { value: {} };
  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const where = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
        return `${source}: ${where}${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`;
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return { errors: [`${source}: ${(err as Error).message}`] };
  }
  if (value === null || value === undefined) return { value: {} };
  if (!isObject(value)) return { errors: [`${source}: the bootstrap must be a mapping (an Envoy v3 Bootstrap), got ${Array.isArray(value) ? 'a list' : typeof value}`] };
  return { value };
}

function readConfigFile(path: string): Validated<string> {
  if (/\.(pb|pb_text)$/.test(path))
    return { errors: [`${path}: binary and text proto bootstraps are not supported; use YAML or JSON`] };
  try {
    return { value: readFileSync(path, 'utf8') };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    return { errors: [`${path}: unable to read file: ${why}`] };
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * Static listeners may be nameless in Envoy ("If no name is provided, Envoy will allocate an
 * internal UUID for the listener", listener.proto `name`); the snapshot keys listeners by name,
 * so a nameless one gets `listener_<index>` (suffixed if a named listener already uses that).
 */
function nameListeners(listeners: Resource[]): Resource[] {
  const taken = new Set(listeners.map((l) => field(l, 'name')).filter((n) => typeof n === 'string'));
  return listeners.map((l, i) => {
    const n = field(l, 'name');
    if (typeof n === 'string' && n !== '') return l;
    let name = `listener_${i}`;
    while (taken.has(name)) name += '_';
    taken.add(name);
    const copy: Resource = { ...l };
    delete copy.name;
    copy.name = name;
    return copy;
  });
}

export function loadBootstrap(opts: LoadBootstrapOptions): Validated<Bootstrap> {
  if (!opts.configPath && !opts.configYaml)
    return { errors: ['at least one of --config-path (-c) or --config-yaml is required'] };

  // 1. Parse, then merge the overlay as Envoy does.
  let root: JsonObject = {};
  const parseErrors: string[] = [];
  if (opts.configPath) {
    const text = readConfigFile(opts.configPath);
    if (text.errors) return text;
    const parsed = parseBootstrapText(text.value, opts.configPath);
    if (parsed.errors) parseErrors.push(...parsed.errors);
    else root = parsed.value;
  }
  if (opts.configYaml) {
    const parsed = parseBootstrapText(opts.configYaml, '--config-yaml');
    if (parsed.errors) parseErrors.push(...parsed.errors);
    else root = mergeFrom(root, parsed.value) as JsonObject;
  }
  if (parseErrors.length > 0) return { errors: parseErrors };
  const source = opts.configPath
    ? opts.configYaml
      ? `${opts.configPath} (with --config-yaml)`
      : opts.configPath
    : '--config-yaml';
  const prefix = (e: string): string => `${source}: ${e}`;

  // 2. The bootstrap's own structure.
  const check = checkBootstrap(root, opts.allowUnknownFields === true);
  if (check.errors.length > 0) return { errors: check.errors.map(prefix) };

  // 3. What the rest of weir consumes.
  const sr = field(root, 'static_resources');
  const listeners = nameListeners((Array.isArray(field(sr, 'listeners')) ? field(sr, 'listeners') : []) as Resource[]);
  const clusters = (Array.isArray(field(sr, 'clusters')) ? field(sr, 'clusters') : []) as Resource[];
  const resources: ResourceSet = {
    listeners,
    routeConfigurations: [],
    clusters,
    clusterLoadAssignments: [],
    versionInfo: `bootstrap ${source} sha256:${createHash('sha256').update(JSON.stringify(root)).digest('hex').slice(0, 12)}`,
  };

  let admin: Bootstrap['admin'] = null;
  const adminAddr = field(field(root, 'admin'), 'address');
  if (adminAddr !== undefined && adminAddr !== null) {
    const errs: string[] = [];
    const sa = readSocketAddress(adminAddr, 'admin.address', errs);
    if (sa) admin = sa;
  }

  const rawNode = field(root, 'node');
  const rawLocality = field(rawNode, 'locality');
  const md = field(rawNode, 'metadata');
  const node: BootstrapNode = {
    id: opts.serviceNode ?? str(field(rawNode, 'id')),
    cluster: opts.serviceCluster ?? str(field(rawNode, 'cluster')),
    metadata: isObject(md) ? md : {},
    locality: isObject(rawLocality)
      ? { region: str(field(rawLocality, 'region')), zone: str(field(rawLocality, 'zone')), sub_zone: str(field(rawLocality, 'sub_zone')) }
      : null,
  };
  if (opts.serviceZone !== undefined) {
    node.locality = { region: node.locality?.region ?? '', zone: opts.serviceZone, sub_zone: node.locality?.sub_zone ?? '' };
  }
  const dyn = field(root, 'dynamic_resources');

  const routeErrors = checkStaticRouteClusters(listeners, clusters);
  if (routeErrors.length > 0) return { errors: routeErrors.map(prefix) };

  // 4. Route and cluster errors from the snapshot compiler, located in the file.
  if (opts.compile !== false && (listeners.length > 0 || clusters.length > 0)) {
    const errors = tryCompileSnapshot(resources, opts.snapshotOptions);
    if (errors.length > 0) return { errors: errors.map((e) => prefix(locateSnapshotError(e, listeners, clusters))) };
  }

  return {
    value: {
      resources,
      admin,
      node,
      dynamicResources: dyn === undefined ? null : dyn,
      raw: root,
      source,
      warnings: check.warnings.map(prefix),
      ignoredFields: check.ignored,
    },
  };
}
