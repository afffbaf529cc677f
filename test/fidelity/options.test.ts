import t from 'tap';
import { UsageError } from '../../src/errors';
import { parseDurationFlag, parseExpect, parseFidelityArgs } from '../../src/fidelity/options';

const URL_ARGS = ['--url', 'http://127.0.0.1:10000/', '--expect', 'v1=90,v2=10'];

t.test('defaults', async (t) => {
  const c = parseFidelityArgs(URL_ARGS);
  t.match(c, { help: false, json: false, svg: null });
  t.match(c.options, {
    url: 'http://127.0.0.1:10000/',
    expect: [{ version: 'v1', weight: 90 }, { version: 'v2', weight: 10 }],
    classify: { kind: 'header', name: 'x-version' },
    method: 'GET',
    headers: [],
    requests: 10000,
    durationMs: null,
    connections: 50,
    users: null,
    alpha: 0.001,
    tolerance: 0.01,
    window: 100,
    expectSticky: false,
    splitUnit: 'requests',
    maxErrorRate: 0.01,
    maxUnclassifiedRate: 0.01,
    timeoutMs: 10000,
  });
});

t.test('flags', async (t) => {
  const c = parseFidelityArgs([
    'http://127.0.0.1:8080/reviews?x=1', '--expect=v1:80, v2:20', '--classify', 'body:(v\\d)', '--body-limit', '4',
    '--duration', '2m', '-H', 'host: reviews', '--header', 'x-a:  b ', '--method', 'post', '--connections=8',
    '--users', '500', '--user-cookie', 'session', '--user-order', 'random', '--seed', '9', '--expect-sticky',
    '--alpha', '0.01', '--tolerance', '0.5', '--window', '200', '--max-errors', '5%', '--max-unclassified', '0',
    '--timeout', '1500ms', '--json', '--svg', 'out.svg',
  ]);
  t.match(c, { json: true, svg: 'out.svg' });
  t.match(c.options, {
    url: 'http://127.0.0.1:8080/reviews?x=1',
    expect: [{ version: 'v1', weight: 80 }, { version: 'v2', weight: 20 }],
    classify: { kind: 'body', pattern: '(v\\d)', limitBytes: 4096 },
    durationMs: 120000,
    requests: null,
    headers: [['host', 'reviews'], ['x-a', 'b']],
    method: 'POST',
    connections: 8,
    users: { count: 500, cookie: 'session', header: undefined, order: 'random', seed: 9 },
    expectSticky: true,
    splitUnit: 'users',
    alpha: 0.01,
    tolerance: 0.005,
    window: 200,
    maxErrorRate: 0.05,
    maxUnclassifiedRate: 0,
    timeoutMs: 1500,
  });
  t.equal(parseFidelityArgs([...URL_ARGS, '--duration', '5s', '--requests', '100']).options!.requests, 100, 'both: whichever first');
  t.equal(parseFidelityArgs([...URL_ARGS, '--users', '3', '--user-header', 'x-user', '--split-unit', 'users']).options!.splitUnit, 'users');
  t.equal(parseFidelityArgs(['--help']).help, true);
  t.equal(parseFidelityArgs(['-h', '--url', 'nonsense']).help, true, 'help wins over bad flags that follow');
});

t.test('mistakes are UsageErrors naming the flag', async (t) => {
  const cases: [string[], RegExp][] = [
    [[...URL_ARGS, '--requests', '0'], /--requests: must be >= 1/],
    [[...URL_ARGS, '--requests', '1e3'], /--requests: "1e3" is not a whole number/],
    [[...URL_ARGS, '--duration', 'soon'], /--duration: "soon" is not a duration/],
    [[...URL_ARGS, '--alpha', '0'], /--alpha: "0" must be a number in \(0, 0\.5\]/],
    [[...URL_ARGS, '--tolerance', '-1'], /--tolerance/],
    [[...URL_ARGS, '--connections'], /--connections needs a value/],
    [[...URL_ARGS, '--json=yes'], /--json takes no value/],
    [[...URL_ARGS, '--window', '10', '--window', '20'], /--window given twice/],
    [[...URL_ARGS, '-H', 'novalue'], /--header: "novalue" is not "name: value"/],
    [[...URL_ARGS, '--users', '5', '--user-cookie', 'a', '--user-header', 'b'], /exclusive/],
    [[...URL_ARGS, '--user-cookie', 'a'], /need --users/],
    [[...URL_ARGS, '--expect-sticky'], /--expect-sticky needs --users/],
    [[...URL_ARGS, '--split-unit', 'users'], /--split-unit users needs --users/],
    [[...URL_ARGS, '--split-unit', 'bytes'], /not requests or users/],
    [[...URL_ARGS, '--users', '5', '--user-cookie', 'a', '--user-order', 'zigzag'], /--user-order/],
    [[...URL_ARGS, 'extra'], /unexpected argument "extra"/],
    [['--url', 'not a url', '--expect', 'a=1'], /is not a URL/],
  ];
  for (const [argv, message] of cases) {
    t.throws(() => parseFidelityArgs(argv), message, argv.slice(4).join(' '));
    t.throws(() => parseFidelityArgs(argv), UsageError);
  }
});

t.test('--expect', async (t) => {
  t.same(parseExpect('a=1'), [{ version: 'a', weight: 1 }]);
  t.same(parseExpect('stable=99.5, canary=0.5'), [{ version: 'stable', weight: 99.5 }, { version: 'canary', weight: 0.5 }]);
  t.same(parseExpect('v1=90%,v2=10%,v3=0'), [{ version: 'v1', weight: 90 }, { version: 'v2', weight: 10 }, { version: 'v3', weight: 0 }]);
  t.throws(() => parseExpect('a=1,a=2'), /listed twice/);
  t.throws(() => parseExpect('a=0'), /sum to 0/);
  t.throws(() => parseExpect('a'), /not VERSION=WEIGHT/);
  t.throws(() => parseExpect(''), /no versions/);
  t.throws(() => parseExpect('a=-1'), /not VERSION=WEIGHT/);
});

t.test('durations', async (t) => {
  t.equal(parseDurationFlag('--duration', '10s'), 10000);
  t.equal(parseDurationFlag('--duration', '250ms'), 250);
  t.equal(parseDurationFlag('--duration', '1.5m'), 90000);
  t.equal(parseDurationFlag('--duration', '3'), 3000, 'bare numbers are seconds');
  t.throws(() => parseDurationFlag('--duration', '0s'), /must be > 0/);
});
