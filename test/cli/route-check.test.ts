// `weir route-check` against Envoy's own router_check_tool suite
// (../shared/conformance/envoy-router-check, with pairs.json saying what must pass and what must
// fail and how), plus weir's fixtures for weighted picks, cookie regexes, header matches and the
// `--details` report format.

import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main, type RouteCheckIo } from '../../src/cli/route-check';
import { REPO_ROOT } from '../helpers/repo-root';


const ROOT = REPO_ROOT;
const SUITE = path.resolve(ROOT, '../shared/conformance/envoy-router-check');
const FIXTURES = path.join(ROOT, 'test/fixtures/route-check');
const TMP = mkdtempSync(path.join(tmpdir(), 'weir-route-check-'));
t.teardown(() => rmSync(TMP, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in write order, as `2>&1` shows them. */
  all: string;
}

async function run(...argv: string[]): Promise<Run> {
  const r = { stdout: '', stderr: '', all: '' };
  const io: RouteCheckIo = {
    stdout: (s) => {
      r.stdout += s;
      r.all += s;
    },
    stderr: (s) => {
      r.stderr += s;
      r.all += s;
    },
  };
  const code = await main(argv, io);
  return { code, ...r };
}

const lines = (s: string): string[] => s.split('\n');

let outputCounter = 0;
function outputPath(): string {
  return path.join(TMP, `results-${outputCounter++}.json`);
}

interface Pair {
  config: string;
  tests: string;
  n?: number;
  flags?: string;
  expect?: string;
  note?: string;
}

const suiteMissing = !existsSync(path.join(SUITE, 'pairs.json'));

t.test('conformance suite is present', { skip: suiteMissing && process.env.CI !== 'true' ? `no ${SUITE}` : false }, async (t) => {
  t.ok(!suiteMissing, `${SUITE}/pairs.json exists (required under CI=true)`);
});

t.test('Envoy router_check suite', { skip: suiteMissing ? `no ${SUITE}` : false }, async (t) => {
  const pairs = JSON.parse(readFileSync(path.join(SUITE, 'pairs.json'), 'utf8')) as {
    must_pass_pairs: Pair[];
    expected_failure_pairs: Pair[];
  };
  const p = (f: string): string => path.join(SUITE, f);

  t.test('every must-pass pair passes with the stated number of tests', async (t) => {
    t.ok(pairs.must_pass_pairs.length >= 16, 'pairs.json lists the must-pass pairs');
    for (const pair of pairs.must_pass_pairs) {
      const out = outputPath();
      const r = await run('-c', p(pair.config), '-t', p(pair.tests), '--details', '-o', out);
      t.equal(r.code, 0, `${pair.config} + ${pair.tests} exits 0\n${r.all}`);
      t.equal(r.stderr, '', `${pair.tests}: nothing on stderr`);
      const results = JSON.parse(readFileSync(out, 'utf8')).testResults as Array<{ testName: string; testPassed: boolean }>;
      t.equal(results.length, pair.n, `${pair.tests}: ${pair.n} tests`);
      t.ok(results.every((x) => x.testPassed), `${pair.tests}: all passed`);
      // --details prints each passing test's name on stdout, then the coverage line.
      const printed = lines(r.stdout).filter((l) => l !== '' && !l.startsWith('Current route coverage: '));
      t.same(printed, results.map((x) => x.testName), `${pair.tests}: test names printed in order`);
      t.match(r.stdout, /\nCurrent route coverage: [0-9.e+-]+%\n$|^Current route coverage: [0-9.e+-]+%\n$/, 'coverage line last');
    }
  });

  t.test('route_tests.sh coverage checks', async (t) => {
    let r = await run('-c', p('ComprehensiveRoutes.yaml'), '-t', p('ComprehensiveRoutes.golden.proto.json'), '--details', '-f', '100', '--covall');
    t.equal(r.code, 0, r.all);
    t.ok(lines(r.stdout).includes('Current route coverage: 100%'), 'ComprehensiveRoutes --covall: 100%');

    r = await run('-c', p('DirectResponse.yaml'), '-t', p('DirectResponse.golden.proto.json'), '--details', '-f', '100', '--covall');
    t.equal(r.code, 0, r.all);
    t.ok(lines(r.stdout).includes('Current route coverage: 100%'), 'DirectResponse --covall: 100%');

    r = await run('-c', p('Runtime.yaml'), '-t', p('Runtime.golden.proto.json'), '--details', '--covall');
    t.equal(r.code, 0, r.all);
    t.ok(lines(r.stdout).includes('Current route coverage: 100%'), 'Runtime --covall: 100%');

    r = await run('-c', p('Weighted.yaml'), '-t', p('Weighted.golden.proto.json'), '--details');
    t.ok(lines(r.stdout).includes('Current route coverage: 100%'), 'weighted clusters each count as a route');

    r = await run('-c', p('Redirect.yaml'), '-t', p('Redirect.golden.proto.json'), '--details', '-f', '1.0');
    t.equal(r.code, 0, r.all);
    t.match(r.stdout, /Current route coverage: /);

    r = await run('-c', p('TestRoutes.yaml'), '-t', p('TestRoutes.golden.proto.json'), '--details', '--covall');
    t.equal(r.code, 0, r.all);
    const a = r.stdout.indexOf('Missing test for host: www2_staging, route: prefix: "/"');
    const b = r.stdout.indexOf('Missing test for host: default, route: prefix: "/api/application_data"');
    t.ok(a >= 0 && b > a, `--covall lists untested routes by match, in config order\n${r.stdout}`);

    r = await run('-c', p('DetailedCoverage.yaml'), '-t', p('DetailedCoverage.golden.proto.json'), '--detailed-coverage');
    t.equal(r.code, 0, r.all);
    t.ok(lines(r.stdout).some((l) => /^Missing test for host: localhost, route name: new_endpoint2-.+/.test(l)), r.stdout);
    t.ok(lines(r.stdout).some((l) => /^Missing test for host: localhost, route name: -.+/.test(l)), r.stdout);
    t.notOk(lines(r.stdout).some((l) => /^Missing test for host: localhost, route name: new_endpoint-/.test(l)), 'tested routes not listed');

    r = await run('-c', p('DetailedCoverage.yaml'), '-t', p('DetailedCoverage.golden.proto.json'));
    t.equal(r.code, 0);
    t.notMatch(r.all, /Missing test for host:/, 'no missing-test report without --detailed-coverage');
  });

  t.test('every expected-failure pair fails as stated', async (t) => {
    t.equal(pairs.expected_failure_pairs.length, 4, 'the four expected failures below');
    const byTests = (tests: string, config: string): Pair | undefined =>
      pairs.expected_failure_pairs.find((x) => x.tests === tests && x.config.startsWith(config));

    // 1. TestRoutes.yaml with Weighted's tests.
    t.ok(byTests('Weighted.golden.proto.json', 'TestRoutes.yaml'));
    let r = await run('-c', p('TestRoutes.yaml'), '-t', p('Weighted.golden.proto.json'), '--details');
    t.not(r.code, 0);
    const seq = [
      'Test_1',
      'Test_2',
      'expected: [cluster1], actual: [instant-server], test type: cluster_name',
      'expected: [test_virtual_cluster], actual: [other], test type: virtual_cluster_name',
      'Test_3',
    ];
    let at = -1;
    for (const s of seq) {
      const i = r.all.indexOf(s, at + 1);
      t.ok(i > at, `"${s}" in order\n${r.all}`);
      at = i;
    }
    t.ok(lines(r.stderr).includes('Test_2'), 'failing test name on stderr');
    t.notMatch(r.all, /Current route coverage/, 'no coverage after failures');
    for (const extra of [['--details', '--only-show-failures'], ['--only-show-failures']]) {
      r = await run('-c', p('TestRoutes.yaml'), '-t', p('Weighted.golden.proto.json'), ...extra);
      t.not(r.code, 0);
      t.match(r.all, /Test_2[\s\S]*expected: \[cluster1\], actual: \[instant-server\], test type: cluster_name/);
      t.notMatch(r.all, /Test_1/, `${extra.join(' ')}: passing Test_1 not printed`);
    }

    // 2. Response header matcher failure wording.
    t.ok(byTests('TestRoutesFailures.golden.proto.json', 'TestRoutes.yaml'));
    const out = outputPath();
    r = await run('-c', p('TestRoutes.yaml'), '-t', p('TestRoutesFailures.golden.proto.json'), '--only-show-failures', '-o', out);
    t.not(r.code, 0);
    t.same(lines(r.stderr), [
      'ResponseHeaderMatches Failures',
      'expected: [content-type: text/plain], actual: NOT [content-type: text/plain], test type: response_header_matches.string_match.exact',
      'actual: [content-length: 25], test type: response_header_matches.range_match',
      'expected: [x-ping-response: pong], actual: [x-ping-response: yes], test type: response_header_matches.string_match.exact',
      'expected: [has(x-ping-response):false], actual: [has(x-ping-response):true], test type: response_header_matches.present_match',
      'expected: [has(x-pong-response):true], actual: [has(x-pong-response):false], test type: response_header_matches.present_match',
      '',
    ]);
    t.equal(r.stdout, '');
    const results = JSON.parse(readFileSync(out, 'utf8')).testResults;
    t.equal(results.length, 1, 'one failing test in the results');
    t.same(
      results[0].failure.responseHeaderMatchFailures.map((f: { actualHeaderValue: string }) => f.actualHeaderValue),
      ['text/plain', '25', 'yes', 'yes', ''],
      'actual header values recorded as router_test.cc expects',
    );

    // 3. A test file given as the route config.
    t.ok(byTests('TestRoutes.yaml', 'Redirect.golden.proto.json'));
    r = await run('-c', p('Redirect.golden.proto.json'), '-t', p('TestRoutes.yaml'));
    t.not(r.code, 0);
    t.match(r.all, /INVALID_ARGUMENT.*envoy\.config\.route\.v3\.RouteConfiguration.*tests/);

    // 4. Coverage under -f.
    t.ok(byTests('Redirect.golden.proto.json', 'Redirect.yaml'));
    r = await run('-c', p('Redirect.yaml'), '-t', p('Redirect.golden.proto.json'), '--details', '-f', '100');
    t.not(r.code, 0);
    t.ok(lines(r.stderr).includes('Failed to meet coverage requirement: 100%'), r.all);
    t.match(r.stdout, /Current route coverage: /);
  });
});

t.test('weir fixtures: weighted random_value, cookie regex, header matches', async (t) => {
  const out = outputPath();
  const r = await run('-c', path.join(FIXTURES, 'canary.yaml'), '-t', path.join(FIXTURES, 'canary.tests.yaml'), '--details', '-o', out);
  t.equal(r.code, 0, r.all);
  const results = JSON.parse(readFileSync(out, 'utf8')).testResults as Array<{ testPassed: boolean }>;
  t.equal(results.length, 13);
  t.ok(results.every((x) => x.testPassed));
});

t.test('--details report format', async (t) => {
  const r = await run('-c', path.join(FIXTURES, 'canary.yaml'), '-t', path.join(FIXTURES, 'canary.failing.tests.json'), '--details');
  t.equal(r.code, 1);
  t.equal(r.stdout, 'passes\n', 'passing test names on stdout, no coverage line after a failure');
  t.equal(
    r.stderr,
    [
      'wrong split expectation',
      'expected: [reviews-v1], actual: [reviews-v2], test type: cluster_name',
      'expected: [ratings], actual: [reviews], test type: virtual_host_name',
      'expected: [x-split: no], actual: [x-split: yes], test type: response_header_matches.string_match.exact',
      'expected: [has(x-missing):true], actual: [has(x-missing):false], test type: response_header_matches.present_match',
      'redirect code',
      'expected: [301], actual: [307], test type: code_redirect',
      '',
    ].join('\n'),
  );
  // Without --details or --only-show-failures the tool prints nothing per test; the exit code says it.
  const quiet = await run('-c', path.join(FIXTURES, 'canary.yaml'), '-t', path.join(FIXTURES, 'canary.failing.tests.json'));
  t.equal(quiet.code, 1);
  t.equal(quiet.all, '');
});

t.test('usage errors', async (t) => {
  let r = await run('-c', path.join(FIXTURES, 'canary.yaml'));
  t.equal(r.code, 1);
  t.equal(r.stderr, 'error: Both --config-path/c and --test-path/t are mandatory\n');
  r = await run('--bogus');
  t.equal(r.code, 1);
  t.match(r.stderr, /^error: /);
  r = await run('-c', 'x.yaml', '-t', 'y.json', '-f', 'lots');
  t.equal(r.code, 1);
  t.match(r.stderr, /Couldn't read argument value/);
  r = await run('-c', path.join(TMP, 'does-not-exist.yaml'), '-t', path.join(FIXTURES, 'canary.tests.yaml'));
  t.equal(r.code, 1);
  t.match(r.stderr, /unable to read file/);
  const typo = path.join(TMP, 'typo.yaml');
  writeFileSync(typo, 'virtual_hosts:\n- name: v\n  domains: ["*"]\n  routes:\n  - match: {prefix: /}\n    route: {cluster: c, prefix_rewite: /x}\n');
  r = await run('-c', typo, '-t', path.join(FIXTURES, 'canary.tests.yaml'));
  t.equal(r.code, 1, 'a misspelt field fails the config as Envoy does');
  t.equal(
    r.stderr,
    "Protobuf message (type envoy.config.route.v3.RouteConfiguration reason INVALID_ARGUMENT: invalid JSON in envoy.config.route.v3.RouteConfiguration @ virtual_hosts[0].routes[0].route.prefix_rewite: message envoy.config.route.v3.RouteAction, no such field: 'prefix_rewite') has unknown fields\n",
  );
  r = await run('--help');
  t.equal(r.code, 0);
  t.match(r.stdout, /--config-path/);
});

t.test('end to end: a separate process with real stdout, stderr and exit status', async (t) => {
  const { execFile } = await import('node:child_process');
  const compiled = __filename.endsWith('.js');
  const entry = compiled ? path.join(__dirname, '../../src/cli/route-check.js') : path.join(ROOT, 'src/cli/route-check.ts');
  const pre = compiled ? [] : ['--import', 'tsx'];
  const spawnRun = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [...pre, entry, ...args], { timeout: 20_000, cwd: ROOT }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      });
    });
  const cfg = path.join(FIXTURES, 'canary.yaml');
  let r = await spawnRun(['-c', cfg, '-t', path.join(FIXTURES, 'canary.tests.yaml')]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'Current route coverage: 100%\n', 'quiet run prints only the coverage line');
  r = await spawnRun(['-c', cfg, '-t', path.join(FIXTURES, 'canary.failing.tests.json'), '--only-show-failures']);
  t.equal(r.code, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /^wrong split expectation\nexpected: \[reviews-v1\], actual: \[reviews-v2\], test type: cluster_name\n/);
  t.notMatch(r.stderr, /^passes$/m);
});
