// `weir fidelity` end to end against real local servers: exit codes, table, JSON and SVG.
import t from 'tap';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/fidelity';
import type { FidelityReport } from '../../src/fidelity/analyze';
import { cyclic, NINETY_TEN, randomSplit, startSplitServer } from './split-servers';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[]): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'weir-fidelity-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('a deterministic 90/10 server passes with exit 0', async (t) => {
  const url = await startSplitServer(t, cyclic(NINETY_TEN));
  const r = await run(['fidelity', '--url', url, '--expect', 'v1=90,v2=10', '--classify', 'header:x-version', '--requests', '3000', '--connections', '20']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /^PASS: /m);
  // Every request reached the server, which answers v2 exactly every 10th time.
  t.match(r.stdout, /v1\s+2700\s+90\.00%\s+88\.\d\d% – 91\.\d\d%\s+90\.00%\s+\+0\.00 pp\s+yes/);
  t.match(r.stdout, /v2\s+300\s+10\.00%/);
  t.match(r.stdout, /chi-square goodness of fit: 0\.000 with 1 df, p = 1\.0000/);
  t.match(r.stdout, /9745 requests are needed/, 'explains the sample size at alpha 0.001 and ±1 pp');
  t.match(r.stdout, /warning: only 3000 requests classified; 9745 are needed/);
});

t.test('a 50/50 server fails a 90/10 expectation with exit 1', async (t) => {
  const url = await startSplitServer(t, cyclic(['v1', 'v2']));
  const r = await run(['--url', url, '--expect', 'v1=90,v2=10', '--requests', '2000', '--connections', '20']);
  t.equal(r.code, 1, r.stdout);
  t.match(r.stdout, /^FAIL: split off target over 2000 requests \(chi-square p = 0 < alpha 0\.001\): v1 50\.00% \(95% CI 47\.81%–52\.19%\) vs target 90\.00% ± 1\.00 pp, v2 50\.00%/m);
  t.match(r.stdout, /v1\s+1000\s+50\.00%.*NO \(CI outside\)/);
  t.match(r.stdout, /worst window of 100 \(of 20, in completion order\): v1 -40 requests/);
});

t.test('a random 90/10 server passes: deviations within chance are not failures', async (t) => {
  const url = await startSplitServer(t, randomSplit(0.1, 42));
  const r = await run(['--url', url, '--expect', 'v1=90,v2=10', '--requests', '3000', '--connections', '20', '--json']);
  const report = JSON.parse(r.stdout) as FidelityReport;
  t.equal(r.code, 0, report.verdict.summary);
  t.equal(report.requests.n, 3000);
  t.not(report.requests.versions[1]!.count, 300, 'random, not exact (seeded server)');
  t.ok(report.requests.versions.every((v) => !v.outsideTolerance));
});

t.test('JSON report shape and the SVG chart', async (t) => {
  const url = await startSplitServer(t, cyclic(['v1', 'v1', 'v1', 'canary&<x>']));
  const svgPath = join(dir, 'chart.svg');
  const r = await run(['--url', url, '--expect', 'v1=75,canary&<x>=25', '--requests', '1200', '--connections', '10', '--json', '--svg', svgPath, '--window', '50']);
  t.equal(r.code, 0, r.stdout);
  t.match(r.stderr, /wrote .*chart\.svg/);
  const report = JSON.parse(r.stdout) as FidelityReport;
  t.match(report, {
    tool: 'weir fidelity',
    schema: 1,
    target: { url, method: 'GET', classify: 'header:x-version', connections: 10, users: 0, userKey: null },
    settings: { alpha: 0.001, tolerance: 0.01, confidence: 0.95, window: 50, splitUnit: 'requests', expectSticky: false },
    traffic: { sent: 1200, completed: 1200, classified: 1200, unclassified: 0, errors: 0, abortedBecause: null },
    requests: {
      unit: 'requests',
      n: 1200,
      versions: [
        { version: 'v1', target: 0.75, count: 900, share: 0.75, deviation: 0, outsideTolerance: false, requiredSamples: Number },
        { version: 'canary&<x>', target: 0.25, count: 300, share: 0.25 },
      ],
      chiSquare: { statistic: 0, degreesOfFreedom: 1, pValue: 1 },
    },
    users: null,
    windows: { size: 50, count: 24 },
    sampleSize: { unit: 'requests', alpha: 0.001, tolerance: 0.01, version: 'v1', have: 1200, sufficient: false, explanation: String },
    verdict: { pass: true, exitCode: 0, reasons: [], rule: /Wilson interval lies entirely outside/ },
  });
  const v1 = report.requests.versions[0]!;
  t.ok(v1.interval[0] < 0.75 && v1.interval[1] > 0.75, 'interval around the share');
  t.equal(report.sampleSize.required, Math.ceil((3.2905267314919255 ** 2 * 0.75 * 0.25) / 0.0001));
  t.equal(report.running.x.at(-1), 1200);
  t.equal(report.running.shares['v1']!.at(-1), 0.75);
  t.equal(report.running.shares['canary&<x>']!.length, report.running.x.length);
  t.ok(report.running.x.length <= 300, 'downsampled');

  const svg = readFileSync(svgPath, 'utf8');
  t.match(svg, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
  t.ok(svg.trimEnd().endsWith('</svg>'));
  assertWellFormed(t, svg);
  // The versions appear as labels and as data attributes, escaped.
  t.match(svg, /<g class="version" data-version="v1">/);
  t.match(svg, /<g class="version" data-version="canary&amp;&lt;x&gt;">/);
  t.match(svg, />canary&amp;&lt;x&gt;<\/text>/);
  t.notMatch(svg, /canary&<x>/, 'nothing unescaped');
  t.equal((svg.match(/<rect [^>]*class="observed"/g) ?? []).length, 2, 'one observed bar per version');
  t.equal((svg.match(/<line [^>]*class="whisker"/g) ?? []).length, 2, 'one interval whisker per version');
  const paths = svg.match(/<path class="running" data-version="[^"]*" d="M[^"]+"/g) ?? [];
  t.equal(paths.length, 2, 'a running-share line per version');
  t.match(svg, /class="verdict"[^>]*>PASS/);
});

t.test('body and status classifiers end to end', async (t) => {
  const url = await startSplitServer(t, cyclic(NINETY_TEN));
  const body = await run(['--url', url, '--expect', 'v1=90,v2=10', '--classify', 'body:<h1>version (\\w+)</h1>', '--requests', '1000', '--json']);
  const report = JSON.parse(body.stdout) as FidelityReport;
  t.equal(body.code, 0);
  t.same(report.requests.versions.map((v) => [v.version, v.count]), [['v1', 900], ['v2', 100]]);
  const status = await run(['--url', url, '--expect', '200=1', '--classify', 'status', '--requests', '500', '--json']);
  t.equal(status.code, 0);
  t.same((JSON.parse(status.stdout) as FidelityReport).requests.versions.map((v) => [v.version, v.count]), [['200', 500]]);
});

t.test('responses without a version are counted apart and fail above --max-unclassified', async (t) => {
  const url = await startSplitServer(t, cyclic(['v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v1', '']));
  const r = await run(['--url', url, '--expect', 'v1=100', '--requests', '1000', '--json']);
  const report = JSON.parse(r.stdout) as FidelityReport;
  t.equal(r.code, 1);
  t.match(report.traffic, { classified: 900, unclassified: 100, errors: 0, unclassifiedKinds: { 'status 200': 100 } });
  t.match(report.verdict.reasons[0], /100 responses carried no version \(10\.00% > --max-unclassified 1\.00%\)/);
  const lenient = await run(['--url', url, '--expect', 'v1=100', '--requests', '1000', '--max-unclassified', '20']);
  t.equal(lenient.code, 0, lenient.stdout);
});

t.test('a version nobody expected fails', async (t) => {
  const url = await startSplitServer(t, cyclic(['v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v1', 'v2', 'v3']));
  const r = await run(['--url', url, '--expect', 'v1=90,v2=10', '--requests', '2000', '--json']);
  const report = JSON.parse(r.stdout) as FidelityReport;
  t.equal(r.code, 1);
  t.match(report.requests.versions[2], { version: 'v3', target: 0, count: 200, outsideTolerance: true });
  t.equal(report.requests.chiSquare.statistic, 'Infinity' as unknown as number, 'JSON carries Infinity as a string');
  t.equal(report.requests.chiSquare.pValue, 0);
});

t.test('--duration bounds the run by time', async (t) => {
  const url = await startSplitServer(t, cyclic(NINETY_TEN));
  const started = Date.now();
  const r = await run(['--url', url, '--expect', 'v1=90,v2=10', '--duration', '300ms', '--connections', '4', '--json']);
  const report = JSON.parse(r.stdout) as FidelityReport;
  t.ok(Date.now() - started < 5000);
  t.ok(report.traffic.sent > 0);
  t.equal(report.traffic.completed, report.traffic.sent, 'in-flight requests finish');
  t.ok(report.traffic.durationSeconds >= 0.29 && report.traffic.durationSeconds < 3, String(report.traffic.durationSeconds));
});

t.test('a target that refuses connections exits 2', async (t) => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const r = await run(['--url', 'http://127.0.0.1:' + port + '/', '--expect', 'v1=90,v2=10', '--requests', '100000', '--connections', '4']);
  t.equal(r.code, 2, r.stdout);
  t.match(r.stdout, /^ERROR: stopped early: more than half of \d+ requests failed \(ECONNREFUSED\)/m);
  t.match(r.stdout, /errors \d+ \(ECONNREFUSED ×\d+\)/);
});

t.test('usage errors exit 2 with a message; --help exits 0', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--expect', 'v1=90'], /--url is required/],
    [['--url', 'http://127.0.0.1:1/'], /--expect is required/],
    [['--url', 'http://127.0.0.1:1/', '--expect', 'v1=90', '--bogus'], /unknown flag --bogus/],
    [['--url', 'https://127.0.0.1:1/', '--expect', 'v1=90'], /only http/],
    [['--url', 'http://127.0.0.1:1/', '--expect', 'v1=90', '--classify', 'body:v\\d'], /no capture group/],
    [['--url', 'http://127.0.0.1:1/', '--expect', 'v1=90', '--users', '10'], /--users needs --user-cookie/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(argv);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stdout, '');
  }
  const help = await run(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /Usage: weir fidelity/);
  t.match(help.stdout, /Wilson interval lies entirely outside/);
});

/** A small XML well-formedness check: balanced tags, quoted attributes, no stray '<' or '&'. */
function assertWellFormed(t: { ok(v: boolean, m: string): unknown; same(a: unknown, b: unknown, m: string): unknown }, xml: string): void {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  let ok = true;
  while ((m = tag.exec(body)) !== null) {
    consumed = tag.lastIndex;
    if (m[5] !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(m[5])) ok = false;
      continue;
    }
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(m[3] ?? '')) ok = false;
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) ok = false;
    } else if (m[4] !== '/') {
      stack.push(m[2]!);
    }
  }
  t.ok(ok && consumed === body.length, 'SVG tokenizes as XML (stopped at ' + consumed + ' of ' + body.length + ')');
  t.same(stack, [], 'every tag closed');
}
