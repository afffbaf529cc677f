// Units behind `weir route-check`: the text-format reader, test-file checks, the validation
// header matcher and its report lines, the coverage number format and flag parsing.

import t from 'tap';
import { parseTextProto, toProtoJson } from '../../src/cli/router-check/text-proto';
import { parseTestFile } from '../../src/cli/router-check/test-file';
import { ToolHeaderMatcher } from '../../src/cli/router-check/header-matcher';
import { HeaderMap } from '../../src/cli/router-check/header-map';
import { formatCppDouble, Coverage } from '../../src/cli/router-check/coverage';
import { printTextProto, cEscape } from '../../src/cli/router-check/text-format-printer';
import { parseRouteCheckArgs } from '../../src/cli/route-check';

t.test('text format reader', async (t) => {
  const msg = parseTextProto(`
    # comment
    tests {
      test_name: "a\\"b" 'c'
      input: { authority: "h" random_value: 0x10 ssl: true }
      validate < cluster_name { value: "x" } code_redirect: { value: 302 } >
    }
    tests { test_name: "second"; input { path: "/\\303\\251" } validate {} }
  `);
  const json = toProtoJson(msg, {
    repeated: new Set(['tests']),
    messages: { tests: { messages: { validate: { wrappers: new Set(['cluster_name', 'code_redirect']) } } } },
  });
  t.same(json, {
    tests: [
      { test_name: 'a"bc', input: { authority: 'h', random_value: 16, ssl: true }, validate: { cluster_name: 'x', code_redirect: 302 } },
      { test_name: 'second', input: { path: '/é' }, validate: {} },
    ],
  });
  t.throws(() => parseTextProto('tests { test_name: "x" '), /expected "}"/);
  t.throws(() => parseTextProto('a: "unterminated'), /unterminated string/);
  t.same(toProtoJson(parseTextProto('a: [1, 2] b: E_NUM c: false')), { a: [1, 2], b: 'E_NUM', c: false });
});

t.test('test files in text format: repeated fields, wrappers and Structs', async (t) => {
  const items = parseTestFile(
    `tests {
       test_name: "t"
       input {
         authority: "a" path: "/" method: "GET" random_value: 18446744073709551615
         additional_request_headers { key: "x" value: "1" }
         additional_request_headers { key: "x" value: "2" }
         dynamic_metadata {
           metadata_namespace: "ns"
           value { fields { key: "k" value { struct_value { fields { key: "n" value { number_value: 2 } } } } } }
         }
       }
       validate {
         cluster_name { value: "c" }
         code_redirect {}
         request_header_matches { name: "x" string_match { exact: "1,2" } }
       }
     }`,
    'x.pb_text',
  );
  const it = items[0]!;
  t.equal(it.input.randomValue, 18446744073709551615n);
  t.same(it.input.additionalRequestHeaders, [{ key: 'x', value: '1' }, { key: 'x', value: '2' }]);
  t.same(it.input.dynamicMetadata, [{ metadataNamespace: 'ns', allowOverwrite: false, value: { k: { n: 2 } } }]);
  t.equal(it.validate.clusterName, 'c');
  t.equal(it.validate.codeRedirect, 0, 'an empty wrapper is set to its default');
  t.same(it.validate.requestHeaderMatches, [{ name: 'x', string_match: { exact: '1,2' } }]);
  t.throws(() => parseTestFile('tests { test_name: "t" input { authority: "a" } ', 'x.pb_text'), /as a text protobuf/);
});

t.test('test files: strict fields and the schema rules', async (t) => {
  const ok = parseTestFile(
    'tests:\n- test_name: t\n  input: {authority: a, path: /, method: GET, random_value: 18446744073709551615}\n  validate: {cluster_name: ""}\n',
    'x.yaml',
  );
  t.equal(ok[0]!.input.randomValue, 18446744073709551615n, 'uint64 kept exactly');
  t.equal(ok[0]!.validate.clusterName, '', 'empty string is a set expectation');
  t.equal(ok[0]!.validate.virtualHostName, undefined, 'absent is unchecked');
  const camel = parseTestFile('{"tests":[{"testName":"t","input":{"authority":"a","path":"/","method":"GET"},"validate":{"clusterName":"c"}}]}', 'x.json');
  t.equal(camel[0]!.validate.clusterName, 'c', 'lowerCamelCase accepted');
  t.throws(() => parseTestFile('tests: []', 'x.yaml'), /at least 1 item/);
  t.throws(() => parseTestFile('tests:\n- test_name: t\n  input: {authority: a, path: /, method: GE}\n  validate: {}\n', 'x.yaml'), /Method: value length must be at least 3 bytes/);
  t.throws(() => parseTestFile('tests:\n- test_name: t\n  input: {authority: a, path: /, method: GET, bogus: 1}\n  validate: {}\n', 'x.yaml'), /INVALID_ARGUMENT: invalid JSON in envoy\.RouterCheckToolSchema\.Validation @ tests\[0\]\.input\.bogus: message envoy\.RouterCheckToolSchema\.ValidationInput, no such field: 'bogus'/);
  t.throws(() => parseTestFile('tests:\n- test_name: t\n  input: {authority: a, path: /, method: GET}\n', 'x.yaml'), /Validate: value is required/);
  t.throws(() => parseTestFile('tests:\n- test_name: t\n  input: {authority: a, path: /, method: GET, ssl: "yes"}\n  validate: {}\n', 'x.yaml'), /TYPE_BOOL/);
});

function headers(...kv: string[]): HeaderMap {
  const h = new HeaderMap();
  for (let i = 0; i < kv.length; i += 2) h.add(kv[i]!, kv[i + 1]!);
  return h;
}

t.test('validation header matchers (Envoy HeaderUtility::matchHeaders, values joined with ",")', async (t) => {
  const cases: Array<[Record<string, unknown>, HeaderMap, boolean]> = [
    [{ name: 'a', string_match: { exact: 'x' } }, headers('a', 'x'), true],
    [{ name: 'A', string_match: { exact: 'x' } }, headers('a', 'x'), true],
    [{ name: 'a', string_match: { exact: 'x,y' } }, headers('a', 'x', 'a', 'y'), true],
    [{ name: 'a', string_match: { exact: 'x' } }, headers('a', 'x', 'a', 'y'), false],
    [{ name: 'a', string_match: { exact: 'x' }, invert_match: true }, headers(), false],
    [{ name: 'a', string_match: { exact: '' }, treat_missing_header_as_empty: true }, headers(), true],
    [{ name: 'a', string_match: { prefix: 'AB', ignore_case: true } }, headers('a', 'abc'), true],
    [{ name: 'a', string_match: { safe_regex: { regex: '\\d+' } } }, headers('a', '123'), true],
    [{ name: 'a', string_match: { safe_regex: { regex: '\\d+' } } }, headers('a', '123x'), false],
    [{ name: 'a', range_match: { start: 0, end: 100 } }, headers('a', '99'), true],
    [{ name: 'a', range_match: { start: '0', end: '100' } }, headers('a', '100'), false],
    [{ name: 'a', range_match: { start: 0, end: 100 } }, headers('a', '9x'), false],
    [{ name: 'a', present_match: true }, headers('a', ''), true],
    [{ name: 'a', present_match: true, invert_match: true }, headers(), true],
    [{ name: 'a' }, headers(), false],
    [{ name: 'a', invert_match: true }, headers(), true],
    [{ name: 'a', contains_match: 'b' }, headers('a', 'abc'), true],
  ];
  for (const [raw, h, want] of cases) t.equal(new ToolHeaderMatcher(raw).matches(h), want, JSON.stringify(raw));
  t.throws(() => new ToolHeaderMatcher({ name: 'a', string_match: { safe_regex: { regex: '(a)\\1' } } }), /Invalid regex/);

  const h = headers('content-type', 'text/plain', 'content-type', 'application/json');
  t.equal(
    new ToolHeaderMatcher({ name: 'content-type', string_match: { exact: 'x' } }).failureLine(h, 'response_header_matches'),
    'expected: [content-type: x], actual: [content-type: text/plain], test type: response_header_matches.string_match.exact',
    'first value shown',
  );
  t.equal(
    new ToolHeaderMatcher({ name: 'X-Gone', string_match: { exact: 'x' } }).failureLine(h, 'request_header_matches'),
    'expected: [X-Gone: x], actual: [X-Gone: NULL], test type: request_header_matches.string_match.exact',
  );
  t.equal(
    new ToolHeaderMatcher({ name: 'a', string_match: { suffix: 'x' } }).failureLine(headers('a', 'b'), 'request_header_matches'),
    'actual: [a: b], test type: request_header_matches.string_match.suffix',
  );
});

t.test('header map keeps Envoy order and set/remove semantics', async (t) => {
  const h = headers('A', '1', 'b', '2', 'a', '3');
  t.same(h.getAll('a'), ['1', '3']);
  h.set('a', '9');
  t.same(h.entries(), [['a', '9'], ['b', '2']]);
  h.remove('B');
  t.equal(h.get('b'), undefined);
});

t.test('coverage numbers print like std::ostream', async (t) => {
  const cases: Array<[number, string]> = [
    [100, '100'], [100 / 3, '33.3333'], [200 / 3, '66.6667'], [7.448632, '7.44863'], [0, '0'], [1.5, '1.5'],
    [0.0000123, '1.23e-05'], [1234567, '1.23457e+06'], [999999.5, '1e+06'], [0.0001, '0.0001'],
  ];
  for (const [x, s] of cases) t.equal(formatCppDouble(x), s, String(x));
});

t.test('coverage counts weighted clusters and fresh cluster_header entries', async (t) => {
  const cov = new Coverage([
    { name: 'h', routes: [{ name: 'w-1', match: { prefix: '/' }, weightedClusters: 3 }, { name: 'c-2', match: { path: '/x' }, weightedClusters: 0 }] },
  ]);
  const w1 = {};
  cov.mark(w1, 'w-1', false, 'cluster');
  cov.mark(w1, 'w-1', false, 'virtualHost');
  const lines: string[] = [];
  t.equal(cov.report(true, (l) => lines.push(l)), 25, '1 of 4 routes');
  t.same(lines, ['Missing test for host: h, route name: c-2']);
  lines.length = 0;
  t.equal(cov.comprehensiveReport((l) => lines.push(l)), 10, '2/5 fields of 1 of 4');
  t.same(lines, ['Missing test for host: h, route: path: "/x"\n']);
});

t.test('text format printer', async (t) => {
  t.equal(
    printTextProto(
      { runtime_fraction: { default_value: { numerator: 1, denominator: 'TEN_THOUSAND' }, runtime_key: 'k' }, prefix: '/a', case_sensitive: false },
      'RouteMatch',
    ),
    'prefix: "/a"\ncase_sensitive {\n}\nruntime_fraction {\n  default_value {\n    numerator: 1\n    denominator: TEN_THOUSAND\n  }\n  runtime_key: "k"\n}\n',
  );
  t.equal(cEscape('a"é\n'), 'a\\"\\303\\251\\n');
});

t.test('flags', async (t) => {
  const f = parseRouteCheckArgs(['-c', 'r.yaml', '--test-path=t.json', '-d', '--covall', '-f', '1.0', '--detailed-coverage', 'extra']);
  t.match(f, { configPath: 'r.yaml', testPath: 't.json', details: true, covall: true, failUnder: 1, detailedCoverage: true });
  t.throws(() => parseRouteCheckArgs(['-c']), /Missing a value/);
  t.throws(() => parseRouteCheckArgs(['-c', 'a', '-c', 'b']), /already set/);
});
