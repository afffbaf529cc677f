import t from 'tap';
import { UsageError } from '../../src/errors';
import { DEFAULT_DRAIN_TIME_S, parseArgs, readFlags, SERVE_FLAGS } from '../../src/cli/args';

t.test('serve is the default command, with Envoy defaults', async (t) => {
  const c = parseArgs(['-c', 'envoy.yaml']);
  t.equal(c.kind, 'serve');
  if (c.kind !== 'serve') return;
  t.same(c.args, {
    configPath: 'envoy.yaml',
    configYaml: undefined,
    serviceNode: undefined,
    serviceCluster: undefined,
    serviceZone: undefined,
    logLevel: 'info',
    concurrency: 1,
    drainTimeS: DEFAULT_DRAIN_TIME_S,
    mode: 'serve',
    allowUnknownStaticFields: false,
    disableMetrics: false,
    enableExplain: false,
    allowUnenforcedSecurityFilters: false,
  });
  t.equal(DEFAULT_DRAIN_TIME_S, 600, "Envoy's --drain-time-s default");
});

t.test('every serve flag, in both --flag value and --flag=value forms', async (t) => {
  const c = parseArgs([
    'serve',
    '--config-path=a.yaml',
    '--config-yaml',
    'admin: {}',
    '--service-node',
    'n1',
    '--service-cluster=c1',
    '--service-zone',
    'z',
    '-l',
    'warn',
    '--concurrency',
    '2',
    '--drain-time-s',
    '0',
    '--mode',
    'validate',
    '--allow-unknown-static-fields',
    '--disable-hot-restart',
  ]);
  t.equal(c.kind, 'serve');
  if (c.kind !== 'serve') return;
  t.match(c.args, {
    configPath: 'a.yaml',
    configYaml: 'admin: {}',
    serviceNode: 'n1',
    serviceCluster: 'c1',
    serviceZone: 'z',
    logLevel: 'warning',
    concurrency: 2,
    drainTimeS: 0,
    mode: 'validate',
    allowUnknownStaticFields: true,
  });
});

t.test('help, version and subcommands', async (t) => {
  t.same(parseArgs(['--help']), { kind: 'help' });
  t.same(parseArgs(['-h']), { kind: 'help' });
  t.same(parseArgs(['--version']), { kind: 'version' });
  t.same(parseArgs(['route-check', '-c', 'r.yaml', '--details']), { kind: 'subcommand', name: 'route-check', argv: ['-c', 'r.yaml', '--details'] });
  t.same(parseArgs(['demo']), { kind: 'subcommand', name: 'demo', argv: [] });
  for (const name of ['translate', 'fidelity', 'explain']) t.equal(parseArgs([name]).kind, 'subcommand');
});

const BAD: [string[], RegExp][] = [
  [['-c', 'x.yaml', '--bogus'], /unknown flag '--bogus'/],
  [['--bogus=1', '-c', 'x.yaml'], /unknown flag '--bogus'/],
  [['-c'], /flag '-c' needs a value/],
  [['--log-level', 'loud', '-c', 'x'], /invalid level 'loud'/],
  [['--concurrency', '0', '-c', 'x'], /'--concurrency' must be an integer >= 1/],
  [['--concurrency', 'two', '-c', 'x'], /'--concurrency' must be an integer >= 1/],
  [['--drain-time-s', '-1', '-c', 'x'], /'--drain-time-s' must be an integer >= 0/],
  [['--mode', 'fast', '-c', 'x'], /invalid mode 'fast'/],
  [['--log-level', 'info'], /at least one of --config-path \(-c\) or --config-yaml is required/],
  [[], /missing configuration/],
  [['frobnicate'], /unknown command 'frobnicate'/],
  [['-c', 'a.yaml', 'extra'], /unexpected argument 'extra'/],
  [['--allow-unknown-static-fields=yes', '-c', 'x'], /takes no value/],
  [['--downstream-server', 'nginx', '-c', 'x'], /invalid server 'nginx' \(native, node\)/],
  [['--upstream-client', 'curl', '-c', 'x'], /invalid client 'curl' \(native, undici\)/],
];
for (const [argv, re] of BAD) {
  t.test(`usage error: ${argv.join(' ') || '(nothing)'}`, async (t) => {
    let caught: unknown;
    try {
      parseArgs(argv);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof UsageError, 'a UsageError');
    t.equal((caught as UsageError).code, 'WEIR_ERR_USAGE');
    t.match((caught as Error).message, re);
  });
}

t.test('readFlags keeps values that look like flags when they are a value', async (t) => {
  t.same(readFlags(['--config-yaml', '-x: 1'], SERVE_FLAGS, 'weir'), { configYaml: '-x: 1' });
});

t.test('--downstream-server and --upstream-client', async (t) => {
  t.match(parseArgs(['-c', 'e.yaml', '--downstream-server', 'node', '--upstream-client', 'undici']), {
    kind: 'serve',
    args: { downstreamServer: 'node', upstreamClient: 'undici' },
  });
  const c = parseArgs(['-c', 'e.yaml']);
  t.equal(c.kind === 'serve' ? c.args.downstreamServer : 'x', undefined, 'absent: the ProxyServer default (native)');
});

t.test('--disable-metrics and --enable-explain', async (t) => {
  const c = parseArgs(['-c', 'envoy.yaml', '--disable-metrics', '--enable-explain']);
  t.match(c, { kind: 'serve', args: { disableMetrics: true, enableExplain: true } });
  t.throws(() => parseArgs(['-c', 'envoy.yaml', '--disable-metrics=1']), /takes no value/);
});

t.test('--allow-unenforced-security-filters', async (t) => {
  t.match(parseArgs(['-c', 'envoy.yaml', '--allow-unenforced-security-filters']), { kind: 'serve', args: { allowUnenforcedSecurityFilters: true } });
  t.match(parseArgs(['-c', 'envoy.yaml']), { kind: 'serve', args: { allowUnenforcedSecurityFilters: false } });
});
