// Envoy's router_check_tool suite (../shared/conformance/envoy-router-check, Apache-2.0): every route
// config compiles, and the route model gives the answers the must-pass test files expect for the
// fields it owns (cluster, virtual host, virtual cluster, path/host rewrite, redirect, status).
// `weir route-check` itself (CLI, output format, header-match reports, coverage) is tested elsewhere.

import t, { type Test } from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { compileRouteConfiguration, type RouteEntry, type RouteTable } from '../../src/route/route-table';
import type { FractionalRuntime } from '../../src/route/types';
import { req, TestHeaders } from './request';
import { REPO_ROOT } from '../helpers/repo-root';

const DIR = join(REPO_ROOT, '..', 'shared', 'conformance', 'envoy-router-check');
const dir = existsSync(DIR) ? DIR : null;

if (dir === null) {
  if (process.env.CI === 'true') t.fail(`conformance folder missing: ${DIR}`);
  else t.test('conformance configs', { skip: 'folder ../shared/conformance/envoy-router-check not found' }, () => {});
} else {
  const folder = dir;
  const configs = readdirSync(folder).filter((f) => f.endsWith('.yaml') && !f.includes('.golden.'));

  t.test('every route configuration compiles', async (t) => {
    t.ok(configs.length >= 14, `found ${configs.length} configs`);
    for (const f of configs) {
      const res = compileRouteConfiguration(parse(readFileSync(join(folder, f), 'utf8')));
      t.same(res.errors, undefined, `${f} compiles`);
    }
  });

  t.test('the golden files used as a route config are rejected (unknown field tests)', async (t) => {
    // Envoy rejects it for its unknown `tests` field; weir ignores unknown fields but there are no
    // virtual hosts, so nothing routes. Recorded here so the difference stays visible.
    const res = compileRouteConfiguration(parse(readFileSync(join(folder, 'Redirect.golden.proto.json'), 'utf8')));
    t.equal(res.value?.virtualHosts.length, 0);
  });

  const pairs = JSON.parse(readFileSync(join(folder, 'pairs.json'), 'utf8')) as {
    must_pass_pairs: { config: string; tests: string; n: number }[];
  };

  for (const pair of pairs.must_pass_pairs) {
    if (pair.tests.endsWith('.pb_text')) continue;
    t.test(`${pair.config} x ${pair.tests}`, async (t) => {
      const raw = parse(readFileSync(join(folder, pair.config), 'utf8'));
      const tests = (parse(readFileSync(join(folder, pair.tests), 'utf8')) as { tests: TestCase[] }).tests;
      t.equal(tests.length, pair.n);
      for (const tc of tests) check(t, raw, tc);
    });
  }
}

interface TestCase {
  test_name: string;
  input: {
    authority: string;
    path: string;
    method: string;
    random_value?: number;
    ssl?: boolean;
    internal?: boolean;
    runtime?: string;
    additional_request_headers?: { key: string; value: string }[];
    dynamic_metadata?: { metadata_namespace: string; value: unknown; allow_overwrite?: boolean }[];
  };
  validate: Record<string, unknown>;
}

/** router_check's runtime mock: only input.runtime is on; a numerator of 0 counts as 1. */
function mockRuntime(active: string | undefined): FractionalRuntime {
  return {
    getInteger: () => undefined,
    featureEnabled: (key, numerator, denominator, random) =>
      active !== undefined && active === key && random % denominator < Math.max(numerator, 1),
  };
}

function check(t: Test, raw: unknown, tc: TestCase): void {
  const table = compileRouteConfiguration(raw, { runtime: mockRuntime(tc.input.runtime) }).value as RouteTable;
  const i = tc.input;
  const proto = i.ssl === true ? 'https' : 'http';
  const headers: [string, string][] = [['x-forwarded-proto', proto]];
  if (i.internal === true) headers.push(['x-envoy-internal', 'true']);
  for (const h of i.additional_request_headers ?? []) headers.push([h.key, h.value]);
  const md: Record<string, unknown> = {};
  for (const d of i.dynamic_metadata ?? []) {
    // The route-check input semantics: a later entry replaces an earlier one only with allow_overwrite.
    if (md[d.metadata_namespace] !== undefined && d.allow_overwrite !== true) continue;
    md[d.metadata_namespace] = { ...(md[d.metadata_namespace] as object | undefined), ...(d.value as object) };
  }
  const r = req({
    authority: i.authority,
    path: i.path,
    method: i.method,
    scheme: proto,
    random: i.random_value ?? 0,
    headers,
    dynamicMetadata: md,
    downstreamRemoteIp: '127.0.0.1',
  });
  const route: RouteEntry | null = table.route(r);
  const isRoute = route !== null && route.kind === 'route';
  const isDirect = route !== null && (route.kind === 'redirect' || route.kind === 'direct_response');
  const cluster = isRoute ? (route.selectCluster(r) ?? '') : '';
  const v = tc.validate;
  const name = tc.test_name;
  if ('cluster_name' in v) t.equal(cluster, v.cluster_name, `${name}: cluster_name`);
  if ('virtual_host_name' in v) t.equal(isRoute ? route.virtualHost.name : '', v.virtual_host_name, `${name}: virtual_host_name`);
  if ('virtual_cluster_name' in v) {
    t.equal(isRoute ? (route.virtualClusterName(r) ?? '') : '', v.virtual_cluster_name, `${name}: virtual_cluster_name`);
  }
  if ('path_rewrite' in v) t.equal(isRoute ? (route.rewritePath(r.path, r) ?? r.path) : '', v.path_rewrite, `${name}: path_rewrite`);
  if ('host_rewrite' in v) {
    t.equal(isRoute ? (route.rewriteHost(r, cluster) ?? r.authority) : '', v.host_rewrite, `${name}: host_rewrite`);
  }
  if ('path_redirect' in v) t.equal(isDirect ? route.redirectLocation(r) : '', v.path_redirect, `${name}: path_redirect`);
  if ('code_redirect' in v) {
    const code = route === null ? 0 : route.kind === 'direct_response' ? (route.directResponse?.status ?? 0) : route.redirectCode;
    t.equal(code, v.code_redirect, `${name}: code_redirect`);
  }
  for (const m of (v.request_header_matches ?? []) as { name: string; string_match?: { exact?: string } }[]) {
    if (!isRoute || m.string_match?.exact === undefined || m.name.startsWith(':')) continue;
    const target = new TestHeaders(headers);
    route.applyRequestHeaders(target, r, cluster);
    t.equal(target.get(m.name.toLowerCase()), m.string_match.exact, `${name}: request header ${m.name}`);
  }
}
