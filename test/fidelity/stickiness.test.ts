// Per-user stickiness: K user keys, each request carrying one; a sticky upstream (version =
// hash(user key)) must show 0% of users on more than one version, a per-request random one must not.
import t from 'tap';
import { main } from '../../src/cli/fidelity';
import type { FidelityReport } from '../../src/fidelity/analyze';
import { fnv1a, randomSplit, startSplitServer, stickyByCookie } from './split-servers';

async function run(argv: string[]): Promise<{ code: number; report: FidelityReport }> {
  let stdout = '';
  const code = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true } });
  return { code, report: JSON.parse(stdout) as FidelityReport };
}

t.test('a sticky server: every user sees one version, and the user split is the hash split', async (t) => {
  const url = await startSplitServer(t, stickyByCookie('user', 10));
  const K = 200;
  const { code, report } = await run([
    '--url', url, '--expect', 'v1=90,v2=10', '--requests', '2000', '--connections', '20',
    '--users', String(K), '--user-cookie', 'user', '--expect-sticky', '--json',
  ]);
  t.equal(code, 0, report.verdict.summary);
  const users = report.users!;
  t.match(users, { count: K, seen: K, multiVersion: 0, multiVersionShare: 0 });
  t.equal(report.settings.splitUnit, 'users', '--expect-sticky tests the split over users');
  let v2 = 0;
  for (let i = 0; i < K; i++) if (fnv1a('user-' + i) % 100 < 10) v2++;
  t.same(users.split.versions.map((v) => [v.version, v.count]), [['v1', K - v2], ['v2', v2]]);
  // Round-robin: every user sent 2000 / 200 = 10 requests, so the request split mirrors the user split.
  t.equal(report.requests.versions[1]!.count, v2 * 10);
  t.equal(report.sampleSize.unit, 'users');
});

t.test('the user cookie joins a cookie given with -H into one Cookie header', async (t) => {
  const seen: string[] = [];
  const url = await startSplitServer(t, (req) => {
    seen.push(req.headersDistinct['cookie']!.join(' | '));
    return 'v1';
  });
  const { code } = await run(['--url', url, '--expect', 'v1=1', '--requests', '4', '--connections', '1', '--users', '2', '--user-cookie', 'user', '-H', 'Cookie: theme=dark', '--json']);
  t.equal(code, 0);
  t.same(seen, ['theme=dark; user=user-0', 'theme=dark; user=user-1', 'theme=dark; user=user-0', 'theme=dark; user=user-1']);
});

t.test('a sticky server keyed by a header', async (t) => {
  const url = await startSplitServer(t, (req) => (fnv1a(String(req.headers['x-user'] ?? '')) % 2 === 0 ? 'blue' : 'green'));
  const { code, report } = await run([
    '--url', url, '--expect', 'blue=50,green=50', '--requests', '600', '--users', '60', '--user-header', 'x-user',
    '--user-order', 'random', '--seed', '7', '--expect-sticky', '--json',
  ]);
  t.equal(code, 0, report.verdict.summary);
  t.equal(report.users!.multiVersion, 0);
  t.equal(report.target.userKey, 'header x-user');
  t.ok(report.users!.seen > 50, 'random order reaches (almost) every user');
});

t.test('a per-request random server: most users see both versions', async (t) => {
  const url = await startSplitServer(t, randomSplit(0.5, 99));
  const { code, report } = await run([
    '--url', url, '--expect', 'v1=50,v2=50', '--requests', '2000', '--connections', '20',
    '--users', '100', '--user-cookie', 'user', '--json',
  ]);
  // Without --expect-sticky the split is tested over requests, and it is fine.
  t.equal(code, 0, report.verdict.summary);
  t.equal(report.settings.splitUnit, 'requests');
  // 20 requests per user at 50/50: P(one version only) = 2 / 2^20.
  t.ok(report.users!.multiVersionShare > 0.95, String(report.users!.multiVersionShare));
});

t.test('--expect-sticky fails a non-sticky 90/10 server', async (t) => {
  const url = await startSplitServer(t, randomSplit(0.1, 5));
  const { code, report } = await run([
    '--url', url, '--expect', 'v1=90,v2=10', '--requests', '2000', '--connections', '20',
    '--users', '100', '--user-cookie', 'user', '--expect-sticky', '--json',
  ]);
  t.equal(code, 1);
  // 20 requests per user: P(never v2) = 0.9^20 = 12%, so about 88% of users saw both.
  t.ok(report.users!.multiVersionShare > 0.6, String(report.users!.multiVersionShare));
  t.ok(report.verdict.reasons.some((r) => /users \(\d+\.\d+%\) saw more than one version; --expect-sticky wants 0/.test(r)));
});
