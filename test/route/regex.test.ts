import t from 'tap';
import { RE2JS } from 're2js';
import { compileRegex, compileRewrite, literalShape, type RegexStrategy } from '../../src/route/regex';

t.test('literal shapes compile to string operations', async (t) => {
  const cases: { name: string; input: string; output: RegexStrategy; literal?: string }[] = [
    { name: 'plain literal', input: 'abc', output: 'exact' },
    { name: 'anchored literal', input: '^abc$', output: 'exact' },
    { name: 'escaped dot literal', input: 'a\\.b', output: 'exact', literal: 'a.b' },
    { name: 'contains', input: '.*canary=true.*', output: 'contains', literal: 'canary=true' },
    { name: 'contains anchored', input: '^.*tenantGray=1.*$', output: 'contains' },
    { name: 'prefix', input: 'user=.*', output: 'prefix' },
    { name: 'suffix', input: '.*\\.svc', output: 'suffix', literal: '.svc' },
    { name: 'istio cookie', input: '^(.*?;)?(user=jason)(;.*)?$', output: 'delimited', literal: 'user=jason' },
    { name: 'cookie without inner group', input: '(.*;)?user=jason(;.*)?', output: 'delimited' },
    { name: 'class is not literal', input: '.*[ab].*', output: 're2' },
    { name: '\\d is not literal', input: '^/test/\\d+$', output: 're2' },
    { name: 'alternation', input: 'a|b', output: 're2' },
    { name: 'case-insensitive flag', input: '(?i)abc', output: 're2' },
    { name: 'dot alone', input: '.*', output: 're2' },
    { name: 'inner dot', input: 'a.c', output: 're2' },
    { name: 'escaped trailing dot-star', input: 'a\\.*', output: 're2' },
  ];
  for (const c of cases) {
    const m = compileRegex(c.input).matcher;
    t.ok(m, c.name);
    t.equal(m?.strategy, c.output, c.name);
    if (c.literal !== undefined) t.equal(literalShape(c.input)?.literal, c.literal, `${c.name}: literal`);
  }
});

t.test('fast paths agree with RE2 full match', async (t) => {
  const patterns = [
    'abc',
    '.*canary=true.*',
    'user=.*',
    '.*\\.svc',
    '^(.*?;)?(user=jason)(;.*)?$',
    '(?:.*?;)?(?:a=1)(?:;.*)?',
    '^.*x.*$',
    'a\\.b',
  ];
  const alphabet = ['a', 'b', 'c', '=', ';', ' ', '\n', '.', 'x', 'user=jason', 'canary=true', 'a=1', '.svc', 'abc', 'a.b'];
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (const p of patterns) {
    const m = compileRegex(p).matcher!;
    t.not(m.strategy, 're2', `${p} takes a fast path`);
    const re = RE2JS.compile(p);
    let disagreements = 0;
    for (let i = 0; i < 3000; i++) {
      let s = '';
      const parts = rnd(6);
      for (let j = 0; j < parts; j++) s += alphabet[rnd(alphabet.length)];
      if (m.matches(s) !== re.matches(s)) {
        disagreements++;
        if (disagreements < 3) t.fail(`${p} on ${JSON.stringify(s)}: fast ${m.matches(s)} re2 ${re.matches(s)}`);
      }
    }
    t.equal(disagreements, 0, `${p}: no disagreement over 3000 inputs`);
  }
});

t.test('RE2 rejects back-references and look-around: config errors', async (t) => {
  for (const p of ['(a)\\1', '(?=a)b', 'a(?!b)', '(?<=a)b', 'a{1001}', '(unclosed']) {
    const c = compileRegex(p);
    t.ok(c.error, `${p} rejected`);
    t.match(c.error ?? '', /invalid regex/);
  }
});

t.test('64 KiB header against pathological patterns finishes in bounded time', async (t) => {
  const inputs = ['a'.repeat(65536), 'a'.repeat(65535) + '!', ('x=' + 'a'.repeat(100) + ';').repeat(600).slice(0, 65536)];
  for (const p of ['(a+)+b', '(a|aa)*c', '.*.*.*=.*', '(x+x+)+y', '^(.*?;)?(user=jason)(;.*)?$', '.*canary=true.*']) {
    const m = compileRegex(p).matcher!;
    for (const s of inputs) {
      const start = process.hrtime.bigint();
      m.matches(s);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      t.ok(ms < 1000, `${p} on ${s.length} chars: ${ms.toFixed(1)} ms`);
    }
  }
});

t.test('regex_rewrite: RE2::GlobalReplace with \\N groups', async (t) => {
  const cases: { name: string; pattern: string; sub: string; input: string; output?: string; error?: RegExp }[] = [
    { name: 'Envoy doc example', pattern: '^/service/([^/]+)(/.*)$', sub: '\\2/instance/\\1', input: '/service/foo/v1/api', output: '/v1/api/instance/foo' },
    { name: 'every match', pattern: 'one', sub: 'two', input: '/xxx/one/yyy/one/zzz', output: '/xxx/two/yyy/two/zzz' },
    { name: 'dot-star replaces once', pattern: '.*', sub: 'X', input: 'abc', output: 'X' },
    { name: 'empty pattern between chars', pattern: '', sub: '-', input: 'ab', output: '-a-b-' },
    { name: 'whole match \\0', pattern: 'b+', sub: '[\\0]', input: 'abbc', output: 'a[bb]c' },
    { name: 'escaped backslash', pattern: 'a', sub: '\\\\', input: 'cat', output: 'c\\t' },
    { name: 'group beyond count', pattern: '(a)', sub: '\\2', input: '', error: /capture group/ },
    { name: 'bad escape', pattern: 'a', sub: '\\x', input: '', error: /invalid rewrite/ },
    { name: 'back-reference pattern', pattern: '(a)\\1', sub: '', input: '', error: /invalid regex/ },
  ];
  for (const c of cases) {
    const r = compileRewrite(c.pattern, c.sub);
    if (c.error) {
      t.match(r.error ?? '', c.error, c.name);
      continue;
    }
    t.equal(r.rewrite?.replaceAll(c.input), c.output, c.name);
  }
});
