import t from 'tap';
import { UsageError } from '../../src/errors';
import { Classifier, formatClassifierSpec, parseClassifierSpec } from '../../src/fidelity/classifier';

t.test('parsing specs', async (t) => {
  const cases: { name: string; spec: string; output?: unknown; error?: RegExp }[] = [
    { name: 'header, lower-cased', spec: 'header:X-Version', output: { kind: 'header', name: 'x-version' } },
    { name: 'status', spec: 'status', output: { kind: 'status' } },
    { name: 'body', spec: 'body:version (v\\d+)', output: { kind: 'body', pattern: 'version (v\\d+)', flags: '', limitBytes: 16 * 1024 } },
    { name: 'body with flags, g dropped', spec: 'body:/VERSION (v\\d+)/gi', output: { kind: 'body', pattern: 'VERSION (v\\d+)', flags: 'i', limitBytes: 16 * 1024 } },
    { name: 'body without a capture group', spec: 'body:version v\\d+', error: /no capture group/ },
    { name: 'body with only a non-capturing group', spec: 'body:(?:v\\d)', error: /no capture group/ },
    { name: 'body with a bad regex', spec: 'body:(v', error: /--classify body/ },
    { name: 'empty body regex', spec: 'body:', error: /empty/ },
    { name: 'bad header name', spec: 'header:x version', error: /not a valid header name/ },
    { name: 'unknown kind', spec: 'cookie:x', error: /not one of/ },
  ];
  for (const c of cases) {
    if (c.error) {
      t.throws(() => parseClassifierSpec(c.spec), c.error, c.name);
      t.throws(() => parseClassifierSpec(c.spec), UsageError, c.name + ' is a UsageError');
    } else {
      t.same(parseClassifierSpec(c.spec), c.output, c.name);
      t.equal(formatClassifierSpec(parseClassifierSpec(c.spec)), c.spec.replace('X-Version', 'x-version').replace('/gi', '/i'), c.name + ' round-trips');
    }
  }
  t.equal(parseClassifierSpec('body:(v\\d)', 2).kind === 'body' && (parseClassifierSpec('body:(v\\d)', 2) as { limitBytes: number }).limitBytes, 2048);
});

t.test('header classifier', async (t) => {
  const c = new Classifier(parseClassifierSpec('header:x-version'));
  t.equal(c.needsBody, false);
  t.equal(c.classify({ statusCode: 200, headers: { 'x-version': 'v1' } }), 'v1');
  t.equal(c.classify({ statusCode: 200, headers: { 'X-VERSION': '  v2 ' } }), 'v2', 'any case, trimmed');
  t.equal(c.classify({ statusCode: 200, headers: { 'x-versions': 'v2' } }), null, 'a longer name does not match');
  t.equal(c.classify({ statusCode: 200, headers: { 'x-versioN': '' } }), null, 'empty is unclassified');
  t.equal(c.classify({ statusCode: 503, headers: {} }), null, 'missing is unclassified');
  t.equal(c.classify({ statusCode: 200, headers: { 'x-version': ['v3', 'v4'] } }), 'v3', 'first of repeated');
  // The hot path: undici's raw header buffers.
  const raw = [Buffer.from('Content-Type'), Buffer.from('text/plain'), Buffer.from('X-Version'), Buffer.from('canary')];
  t.equal(c.fromRawHeaders(200, raw), 'canary');
  t.equal(c.fromRawHeaders(200, [Buffer.from('X-Verzion'), Buffer.from('v1')]), null);
  t.equal(c.fromRawHeaders(200, null), null);
  t.equal(c.fromBody('<h1>v1</h1>'), null, 'a header classifier ignores bodies');
});

t.test('body classifier uses capture group 1 on the first KiB only', async (t) => {
  const c = new Classifier(parseClassifierSpec('body:<h1>version (\\w+)</h1>', 1));
  t.equal(c.needsBody, true);
  t.equal(c.bodyLimitBytes, 1024);
  t.equal(c.classify({ statusCode: 200, body: '<html><h1>version v2</h1></html>' }), 'v2');
  t.equal(c.classify({ statusCode: 200, body: 'nothing here' }), null);
  t.equal(c.classify({ statusCode: 200, body: 'x'.repeat(1024) + '<h1>version v2</h1>' }), null, 'beyond the limit is not read');
  t.equal(c.classify({ statusCode: 200, body: 'x'.repeat(1010) + '<h1>version v2</h1>' }), null, 'a match crossing the limit is cut');
  t.equal(c.classify({ statusCode: 200, body: 'x'.repeat(990) + '<h1>version v2</h1>' }), 'v2');
  t.equal(c.fromRawHeaders(200, [Buffer.from('x-version'), Buffer.from('v1')]), null, 'a body classifier ignores headers');
  const optional = new Classifier(parseClassifierSpec('body:version(\\s\\w+)?'));
  t.equal(optional.classify({ statusCode: 200, body: 'version' }), null, 'an unmatched group is unclassified');
  const flags = new Classifier(parseClassifierSpec('body:/VERSION=(\\w+)/i'));
  t.equal(flags.classify({ statusCode: 200, body: 'version=blue' }), 'blue');
  t.equal(flags.classify({ statusCode: 200, body: 'version=blue' }), 'blue', 'flag g was dropped: no lastIndex state');
});

t.test('status classifier', async (t) => {
  const c = new Classifier(parseClassifierSpec('status'));
  t.equal(c.classify({ statusCode: 200 }), '200');
  t.equal(c.classify({ statusCode: 503, headers: { 'x-version': 'v1' } }), '503');
  t.equal(c.fromRawHeaders(404, null), '404');
  t.equal(c.fromRawHeaders(404, null), c.fromRawHeaders(404, []), 'interned');
});
