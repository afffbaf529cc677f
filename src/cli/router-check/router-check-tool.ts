// Envoy's router_check_tool (test/tools/router_check/router.cc) on weir's route model.
//
// Per test it builds the request the tool builds (`:authority`, `:path`, `:method`,
// `x-forwarded-proto` and `:scheme` from `ssl`, `x-envoy-internal: true` from `internal`, then the
// additional headers), routes it with the test's random value and runtime, "finalizes" headers
// once (request and response header mutations, host and path rewrite, or the local reply of a
// redirect / direct response), and then runs the checks in the tool's order: cluster, virtual
// cluster, virtual host, path rewrite, host rewrite, redirect path, redirect code, request
// headers, response headers. Failures are reported in the tool's words; coverage is kept as the
// tool keeps it (see coverage.ts).

import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { isMap, isScalar, parseDocument } from 'yaml';
import { compileRouteConfiguration, type RouteTable, type RouteEntry } from '../../route/route-table';
import type { FractionalRuntime, RequestView, RequestViewExtras } from '../../route/types';
import { camelName, field, isObject } from '../../util/proto-json';
import { findUnknownField } from './strict-fields';
import { Coverage, type CoverageField, type CoverageHost } from './coverage';
import { HeaderMap } from './header-map';
import { HeaderMatcherError, ToolHeaderMatcher, reportLine } from './header-matcher';
import { loadTestFile, type DynamicMetadataEntry, type ValidationItem } from './test-file';

/** Something the tool refuses, reported as Envoy reports an EnvoyException: the message on stderr, exit 1. */
export class RouterCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouterCheckError';
  }
}

export interface RouterCheckOptions {
  /** `-d/--details`: print every test name (passing ones on stdout). */
  readonly details?: boolean;
  /** `--only-show-failures`: print failing tests only, and keep only them in the results. */
  readonly onlyShowFailures?: boolean;
  /** `--detailed-coverage`: list uncovered routes by name. */
  readonly detailedCoverage?: boolean;
  /** `--disable-deprecation-check`: accepted; weir has no deprecated-field pass to disable. */
  readonly disableDeprecationCheck?: boolean;
}

/** Where the tool writes; each call is one line (without its newline). */
export interface RouterCheckOutput {
  out(line: string): void;
  err(line: string): void;
}

/** `envoy.RouterCheckToolSchema.HeaderMatchFailure`. */
export interface HeaderMatchFailure {
  readonly header_matcher: Record<string, unknown>;
  readonly actual_header_value: string;
}

/** `envoy.RouterCheckToolSchema.ValidationFailure` (only the checks that failed are set). */
export interface ValidationFailure {
  expected_cluster_name?: string;
  actual_cluster_name?: string;
  expected_virtual_cluster_name?: string;
  actual_virtual_cluster_name?: string;
  expected_virtual_host_name?: string;
  actual_virtual_host_name?: string;
  expected_path_rewrite?: string;
  actual_path_rewrite?: string;
  expected_host_rewrite?: string;
  actual_host_rewrite?: string;
  expected_path_redirect?: string;
  actual_path_redirect?: string;
  expected_code_redirect?: number;
  actual_code_redirect?: number;
  request_header_match_failures?: HeaderMatchFailure[];
  response_header_match_failures?: HeaderMatchFailure[];
}

/** `envoy.RouterCheckToolSchema.ValidationItemResult`. */
export interface ValidationItemResult {
  readonly test_name: string;
  readonly test_passed: boolean;
  readonly failure?: ValidationFailure;
}

const ROUTE_CONFIGURATION_TYPE = 'envoy.config.route.v3.RouteConfiguration';
/** The downstream address the tool's stream info carries (Network::Utility::getCanonicalIpv4LoopbackAddress). */
const REMOTE_IP = '127.0.0.1';
const REMOTE_PORT = 0;

/**
 * The tool's runtime mock (RouterCheckTool::runtimeMock): a `runtime_fraction` is on only when the
 * test's `input.runtime` names its key and `random % denominator < numerator`; the tool rewrites
 * a default numerator of 0 to 1 (assignRuntimeFraction) so such routes stay testable.
 */
class RuntimeMock implements FractionalRuntime {
  active = '';
  /** The test's random value as the tool passes it to featureEnabled (uint64 of an int). */
  random = 0n;

  getInteger(_key: string): number | undefined {
    // Everything else reads the default (weighted_clusters runtime_key_prefix weights included):
    // the mock snapshot answers getInteger with its default argument.
    return undefined;
  }

  featureEnabled(key: string, numerator: number, denominator: number, _random: number): boolean {
    if (this.active === '' || key !== this.active) return false;
    const n = numerator === 0 ? 1 : numerator;
    return denominator > 0 && this.random % BigInt(denominator) < BigInt(n);
  }
}

/** A live RequestView over the tool's request header map: reads see header changes (as Envoy's do). */
class ToolRequestView implements RequestView, RequestViewExtras {
  readonly #headers: HeaderMap;
  readonly random: number;
  readonly downstreamRemoteIp = REMOTE_IP;
  readonly downstreamRemotePort = REMOTE_PORT;
  readonly protocol = 'HTTP/1.1';
  readonly dynamicMetadata: Readonly<Record<string, unknown>> | undefined;

  constructor(headers: HeaderMap, random: number, dynamicMetadata: Record<string, unknown> | undefined) {
    this.#headers = headers;
    this.random = random;
    this.dynamicMetadata = dynamicMetadata;
  }
  get authority(): string {
    return this.#headers.get(':authority') ?? '';
  }
  get path(): string {
    return this.#headers.get(':path') ?? '';
  }
  get method(): string {
    return this.#headers.get(':method') ?? '';
  }
  get scheme(): string {
    return this.#headers.get(':scheme') ?? '';
  }
  headerValues(name: string): readonly string[] | undefined {
    return this.#headers.getAll(name);
  }
}

/** What the tool needs to know about a configured route beyond the compiled entry. */
interface RouteInfo {
  readonly weighted: boolean;
  readonly clusterHeader: boolean;
}

/** `near L:C (offset N), ` for a top-level key, as protobuf's JSON parser words positions. */
function near(text: string, doc: ReturnType<typeof parseDocument>, key: string): string {
  if (!isMap(doc.contents)) return '';
  for (const item of doc.contents.items) {
    if (!isScalar(item.key) || item.key.value !== key || item.key.range === undefined || item.key.range === null) continue;
    const offset = item.key.range[0];
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const col = offset - before.lastIndexOf('\n');
    return `near ${line}:${col} (offset ${offset}): `;
  }
  return '';
}

/** Reads a route config file as Envoy's TestUtility::loadFromFile does (YAML; JSON is YAML). */
export function loadRouteConfigFile(path: string): Record<string, unknown> {
  if (/\.pb(_text)?$/.test(path)) {
    // Envoy also reads binary and text-format protos here; weir's route config readers take the
    // proto3 JSON form only.
    throw new RouterCheckError(`${path}: route configs in protobuf binary or text format are not supported; use YAML or JSON`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new RouterCheckError(`unable to read file: ${path}`);
  }
  let doc: ReturnType<typeof parseDocument>;
  let raw: unknown;
  try {
    doc = parseDocument(text, { uniqueKeys: false });
    if (doc.errors.length > 0) throw doc.errors[0];
    raw = doc.toJS();
  } catch (e) {
    throw new RouterCheckError(
      `Unable to convert YAML as JSON: ${(e as Error).message.split('\n')[0]} (type ${ROUTE_CONFIGURATION_TYPE}): ${path}`,
    );
  }
  if (raw === null || raw === undefined) raw = {};
  if (!isObject(raw)) {
    throw new RouterCheckError(
      `Unable to parse JSON as proto (INVALID_ARGUMENT: invalid JSON in ${ROUTE_CONFIGURATION_TYPE} @ : expected a message): ${path}`,
    );
  }
  // A strict proto parse rejects unknown fields (MessageUtil::loadFromJson, then the strict
  // validation visitor's onUnknownField); the tool's own suite feeds it a test file as a config
  // and expects this complaint about `tests`.
  const unknown = findUnknownField(raw);
  if (unknown !== null) {
    const where = unknown.path.includes('.') || unknown.path.includes('[') ? '' : near(text, doc, unknown.path);
    throw new RouterCheckError(
      `Protobuf message (type ${ROUTE_CONFIGURATION_TYPE} reason INVALID_ARGUMENT: invalid JSON in ${ROUTE_CONFIGURATION_TYPE} @ ${unknown.path}: ` +
        `message ${unknown.messageType}, ${where}no such field: '${unknown.field}') has unknown fields`,
    );
  }
  return raw;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function listOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** StructUtil::update, as the set_metadata filter merges with allow_overwrite. */
function structUpdate(target: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const k of Object.keys(src)) {
    const s = src[k];
    const t = target[k];
    if (isObject(s) && isObject(t)) structUpdate(t, s);
    else if (Array.isArray(s) && Array.isArray(t)) target[k] = t.concat(clone(s));
    else target[k] = clone(s);
  }
}

/** The input's dynamic_metadata applied in order as Envoy's set_metadata filter would. */
function buildDynamicMetadata(entries: readonly DynamicMetadataEntry[]): Record<string, unknown> | undefined {
  if (entries.length === 0) return undefined;
  const md: Record<string, Record<string, unknown>> = {};
  for (const e of entries) {
    const value = e.value ?? {};
    const existing = md[e.metadataNamespace];
    if (existing === undefined) md[e.metadataNamespace] = clone(value);
    else if (e.allowOverwrite) structUpdate(existing, value);
    // else: overwrite denied, the first value stays.
  }
  return md;
}

export class RouterCheckTool {
  readonly #table: RouteTable;
  readonly #runtime: RuntimeMock;
  readonly #coverage: Coverage;
  readonly #routeInfo: Map<string, RouteInfo>;
  readonly #options: RouterCheckOptions;
  readonly #output: RouterCheckOutput;
  /** Per-(route, cluster) identities for weighted routes: Envoy keeps one entry object per cluster. */
  readonly #weightedIdentity = new Map<RouteEntry, Map<string, object>>();
  /** Test name and failure lines, printed by printResults (RouterCheckTool::tests_). */
  readonly #tests: Array<{ name: string; failures: string[] }> = [];

  private constructor(
    table: RouteTable,
    runtime: RuntimeMock,
    coverage: Coverage,
    routeInfo: Map<string, RouteInfo>,
    options: RouterCheckOptions,
    output: RouterCheckOutput,
  ) {
    this.#table = table;
    this.#runtime = runtime;
    this.#coverage = coverage;
    this.#routeInfo = routeInfo;
    this.#options = options;
    this.#output = output;
  }

  /** RouterCheckTool::create from a route config file. */
  static create(configPath: string, options: RouterCheckOptions, output: RouterCheckOutput): RouterCheckTool {
    return RouterCheckTool.fromConfig(loadRouteConfigFile(configPath), options, output);
  }

  /** RouterCheckTool::create from an already parsed RouteConfiguration (proto3 JSON form). */
  static fromConfig(raw: Record<string, unknown>, options: RouterCheckOptions, output: RouterCheckOutput): RouterCheckTool {
    const config = clone(raw);
    const hosts: CoverageHost[] = [];
    const routeInfo = new Map<string, RouteInfo>();
    for (const vh of listOf(field(config, 'virtual_hosts'))) {
      if (!isObject(vh)) continue;
      const routes: Array<{ name: string; match: unknown; weightedClusters: number }> = [];
      for (const route of listOf(field(vh, 'routes'))) {
        if (!isObject(route)) continue;
        // assignUniqueRouteNames: "<name>-<uuid>", so coverage can tell every route apart.
        const name = `${typeof route.name === 'string' ? route.name : ''}-${randomUUID()}`;
        route.name = name;
        // assignRuntimeFraction: a default numerator of 0 becomes 1.
        const match = field(route, 'match');
        const rf = field(match, 'runtime_fraction');
        const dv = field(rf, 'default_value');
        if (isObject(dv)) {
          const num = field(dv, 'numerator');
          if (num === undefined || num === 0 || num === '0') {
            delete dv.numerator;
            delete dv[camelName('numerator')];
            dv.numerator = 1;
          }
        }
        const action = field(route, 'route');
        const wc = field(action, 'weighted_clusters');
        const clusterHeader = field(action, 'cluster_header');
        const weightedClusters = isObject(wc) ? listOf(field(wc, 'clusters')).length : 0;
        routes.push({ name, match: match ?? {}, weightedClusters });
        routeInfo.set(name, {
          weighted: isObject(wc),
          clusterHeader: typeof clusterHeader === 'string' && clusterHeader !== '',
        });
      }
      hosts.push({ name: typeof vh.name === 'string' ? vh.name : '', routes });
    }
    const runtime = new RuntimeMock();
    const compiled = compileRouteConfiguration(config, { runtime });
    if (compiled.errors !== undefined) {
      throw new RouterCheckError(compiled.errors.join('\n'));
    }
    return new RouterCheckTool(compiled.value, runtime, new Coverage(hosts), routeInfo, options, output);
  }

  /** RouterCheckTool::compareEntries: runs every test of the file; returns the results to report. */
  compareEntries(testPath: string): ValidationItemResult[] {
    return this.runTests(loadTestFile(testPath));
  }

  runTests(items: readonly ValidationItem[]): ValidationItemResult[] {
    const results: ValidationItemResult[] = [];
    for (const item of items) {
      const failure: ValidationFailure = {};
      const failed = this.#runOne(item, failure);
      const result: ValidationItemResult = failed
        ? { test_name: item.testName, test_passed: false, failure }
        : { test_name: item.testName, test_passed: true };
      if (failed || !this.#options.onlyShowFailures) results.push(result);
    }
    this.#printResults();
    return results;
  }

  /** RouterCheckTool::coverage: `--covall` is the field-weighted report. */
  coverage(comprehensive: boolean): number {
    const out = (line: string): void => this.#output.out(line);
    return comprehensive ? this.#coverage.comprehensiveReport(out) : this.#coverage.report(!!this.#options.detailedCoverage, out);
  }

  #runOne(item: ValidationItem, failure: ValidationFailure): boolean {
    const input = item.input;
    this.#runtime.active = input.runtime;
    // ToolConfig::create narrows random_value with static_cast<int>; routing then takes it as a
    // uint64 again (sign-extended). The route model's random is a uint32.
    const asInt = BigInt.asIntN(32, input.randomValue);
    this.#runtime.random = BigInt.asUintN(64, asInt);
    const random = Number(BigInt.asUintN(32, asInt));

    const req = new HeaderMap();
    req.add(':authority', input.authority);
    req.add(':path', input.path);
    req.add(':method', input.method);
    req.add('x-forwarded-proto', input.ssl ? 'https' : 'http');
    req.add(':scheme', input.ssl ? 'https' : 'http');
    if (input.internal) req.add('x-envoy-internal', 'true');
    for (const h of input.additionalRequestHeaders) req.add(h.key, h.value);
    const resp = new HeaderMap();
    for (const h of input.additionalResponseHeaders) resp.add(h.key, h.value);

    const view = new ToolRequestView(req, random, buildDynamicMetadata(input.dynamicMetadata));
    const entry = this.#table.route(view);
    const isRoute = entry !== null && entry.kind === 'route';
    const isDirect = entry !== null && entry.kind !== 'route';
    // The cluster is decided when the route is looked up (weighted pick, cluster_header read).
    const clusterName = isRoute ? (entry.selectCluster(view) ?? '') : '';
    const info = entry === null ? undefined : this.#routeInfo.get(entry.name);
    // Coverage identity: Envoy's route object for this lookup (see coverage.ts).
    let identity: object | null = entry;
    if (entry !== null && isRoute && info?.weighted) {
      let perCluster = this.#weightedIdentity.get(entry);
      if (perCluster === undefined) this.#weightedIdentity.set(entry, (perCluster = new Map()));
      identity = perCluster.get(clusterName) ?? null;
      if (identity === null) perCluster.set(clusterName, (identity = {}));
    } else if (entry !== null && isRoute && info?.clusterHeader) {
      identity = {};
    }
    const mark = (fld: CoverageField): void => {
      if (entry !== null && identity !== null) this.#coverage.mark(identity, entry.name, isDirect, fld);
    };

    // finalizeHeaders: once per test, before any check.
    if (entry !== null) {
      if (isDirect) {
        this.#sendLocalReply(entry, resp);
        entry.applyResponseHeaders(resp, view);
      } else {
        const originalPath = req.get(':path') ?? '';
        // RouteEntryImplBase::finalizeRequestHeaders: header mutations (a weighted cluster's own
        // first), then the host rewrite, then the path rewrite keeping x-envoy-original-path.
        entry.applyRequestHeaders(req, view, clusterName);
        const host = entry.rewriteHost(view, clusterName);
        if (host !== null) req.set(':authority', host);
        const rewritten = entry.rewritePath(originalPath, view);
        if (rewritten !== null) {
          req.set('x-envoy-original-path', originalPath);
          req.set(':path', rewritten);
        }
        entry.applyResponseHeaders(resp, view, clusterName);
      }
    }

    const failures: string[] = [];
    this.#tests.push({ name: item.testName, failures });
    const v = item.validate;
    let failed = false;
    const compare = (actual: string, expected: string, type: string): boolean => {
      if (actual === expected) return true;
      failures.push(reportLine(actual, expected, type));
      return false;
    };

    if (v.clusterName !== undefined) {
      const actual = isRoute ? clusterName : '';
      if (compare(actual, v.clusterName, 'cluster_name')) {
        if (isRoute) mark('cluster');
      } else {
        failure.expected_cluster_name = v.clusterName;
        failure.actual_cluster_name = actual;
        failed = true;
      }
    }
    if (v.virtualClusterName !== undefined) {
      // Looked up on the finalized request headers, as the tool does.
      const actual = isRoute ? (entry.virtualClusterName(view) ?? '') : '';
      if (compare(actual, v.virtualClusterName, 'virtual_cluster_name')) {
        if (isRoute) mark('virtualCluster');
      } else {
        failure.expected_virtual_cluster_name = v.virtualClusterName;
        failure.actual_virtual_cluster_name = actual;
        failed = true;
      }
    }
    if (v.virtualHostName !== undefined) {
      const actual = isRoute ? entry.virtualHost.name : '';
      if (compare(actual, v.virtualHostName, 'virtual_host_name')) {
        if (isRoute) mark('virtualHost');
      } else {
        failure.expected_virtual_host_name = v.virtualHostName;
        failure.actual_virtual_host_name = actual;
        failed = true;
      }
    }
    if (v.pathRewrite !== undefined) {
      const actual = isRoute ? (req.get(':path') ?? '') : '';
      if (compare(actual, v.pathRewrite, 'path_rewrite')) {
        if (isRoute) mark('pathRewrite');
      } else {
        failure.expected_path_rewrite = v.pathRewrite;
        failure.actual_path_rewrite = actual;
        failed = true;
      }
    }
    if (v.hostRewrite !== undefined) {
      const actual = isRoute ? (req.get(':authority') ?? '') : '';
      if (compare(actual, v.hostRewrite, 'host_rewrite')) {
        if (isRoute) mark('hostRewrite');
      } else {
        failure.expected_host_rewrite = v.hostRewrite;
        failure.actual_host_rewrite = actual;
        failed = true;
      }
    }
    if (v.pathRedirect !== undefined) {
      // DirectResponseEntry::newUri: the redirect target; for a direct response the request's own URL.
      const actual = isDirect ? entry.redirectLocation(view) : '';
      if (compare(actual, v.pathRedirect, 'path_redirect')) {
        if (isDirect) mark('redirectPath');
      } else {
        failure.expected_path_redirect = v.pathRedirect;
        failure.actual_path_redirect = actual;
        failed = true;
      }
    }
    if (v.codeRedirect !== undefined) {
      const actual = isDirect ? responseCode(entry) : 0;
      if (compare(String(actual), String(v.codeRedirect), 'code_redirect')) {
        if (isDirect) mark('redirectCode');
      } else {
        failure.expected_code_redirect = v.codeRedirect;
        failure.actual_code_redirect = actual;
        failed = true;
      }
    }
    if (!this.#headerChecks(v.requestHeaderMatches, req, 'request_header_matches', failures, failure, 'request_header_match_failures')) failed = true;
    for (const h of v.requestHeaderFields) {
      if (!compare(req.get(h.key) ?? '', h.value, 'request_header_fields')) failed = true;
    }
    if (!this.#headerChecks(v.responseHeaderMatches, resp, 'response_header_matches', failures, failure, 'response_header_match_failures')) failed = true;
    for (const h of v.responseHeaderFields) {
      if (!compare(resp.get(h.key) ?? '', h.value, 'response_header_fields')) failed = true;
    }
    return failed;
  }

  #headerChecks(
    matchers: readonly Record<string, unknown>[],
    headers: HeaderMap,
    type: string,
    failures: string[],
    failure: ValidationFailure,
    key: 'request_header_match_failures' | 'response_header_match_failures',
  ): boolean {
    let ok = true;
    for (const raw of matchers) {
      let m: ToolHeaderMatcher;
      try {
        m = new ToolHeaderMatcher(raw);
      } catch (e) {
        if (e instanceof HeaderMatcherError) throw new RouterCheckError(e.message);
        throw e;
      }
      if (m.matches(headers)) continue;
      ok = false;
      failures.push(m.failureLine(headers, type));
      (failure[key] ??= []).push({ header_matcher: raw, actual_header_value: headers.get(m.key) ?? '' });
    }
    return ok;
  }

  /**
   * Http::Utility::sendLocalReply as the tool captures it: `:status`, and for a non-empty body
   * `content-length` and `content-type: text/plain`, appended after the test's response headers.
   */
  #sendLocalReply(entry: RouteEntry, resp: HeaderMap): void {
    const status = responseCode(entry);
    const body = entry.kind === 'direct_response' ? (entry.directResponse?.body ?? '') : '';
    resp.add(':status', String(status));
    if (body.length > 0) {
      resp.add('content-length', String(Buffer.byteLength(body)));
      resp.add('content-type', 'text/plain');
    }
  }

  /** RouterCheckTool::printResults. */
  #printResults(): void {
    const { details, onlyShowFailures } = this.#options;
    for (const t of this.#tests) {
      if ((details && !onlyShowFailures) || (onlyShowFailures && t.failures.length > 0)) {
        if (t.failures.length === 0) {
          this.#output.out(t.name);
        } else {
          this.#output.err(t.name);
          for (const line of t.failures) this.#output.err(line);
        }
      }
    }
    this.#tests.length = 0;
  }
}

function responseCode(entry: RouteEntry): number {
  if (entry.kind === 'direct_response') return entry.directResponse?.status ?? 0;
  return entry.redirectCode;
}
