// The live split page in a real headless browser (Debian's chromium driven by playwright-core)
// while traffic flows through the proxy: the page polls /weir/data.json, shows each weighted
// destination's target and observed share with its 95% interval, requests per second and error
// rate per version, and the config version. A screenshot is written to the test output directory
// (its path is logged) so a person can look at it.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProxyServer } from '../../src/proxy/proxy-server';
import { Metrics } from '../../src/admin/metrics';
import { AdminServer } from '../../src/admin/admin-server';
import { DASHBOARD_HTML } from '../../src/admin/dashboard';
import { get, keepAliveAgent, listener, resources, staticCluster } from '../proxy/fixtures';
import { startUpstream } from '../helpers/upstream-servers';

const CHROMIUM = '/usr/bin/chromium';
const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

t.test('the page is self-contained', async (t) => {
  t.notMatch(DASHBOARD_HTML, /<script[^>]+src=|<link[^>]+href=|https?:\/\//, 'no external assets');
  t.match(DASHBOARD_HTML, /fetch\("\/weir\/data\.json"/);
});

t.test('live page in headless chromium while traffic flows', { skip: !fs.existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} not installed (apt-get install -y chromium)` : false }, async (t) => {
  const v1 = await startUpstream((_q, res) => res.end('v1'));
  // v2 fails one request in five: its error rate shows on the page.
  const v2 = await startUpstream((_q, res, n) => {
    res.statusCode = n % 5 === 0 ? 503 : 200;
    res.end('v2');
  });
  t.teardown(() => Promise.all([v1.close(), v2.close()]));
  const metrics = new Metrics();
  const proxy = new ProxyServer({
    accessLogStream: { write: () => true } as unknown as NodeJS.WritableStream,
    onSnapshot: (s, c) => {
      const b = metrics.bindSnapshot(s, c);
      metrics.configApplied(s.versionInfo);
      return b;
    },
  });
  t.teardown(() => proxy.close());
  const md = (v: string) => ({ filter_metadata: { istio: { labels: { app: 'reviews', version: v } } } });
  const rc = { name: '9080', virtual_hosts: [{ name: 'reviews.default.svc.cluster.local:9080', domains: ['*'], routes: [{ name: 'reviews-canary', match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: V1, weight: 90 }, { name: V2, weight: 10 }] } } }] }] };
  const r = await proxy.apply(resources([listener('l', rc)], [staticCluster(V1, [{ port: v1.port, metadata: md('v1') }]), staticCluster(V2, [{ port: v2.port, metadata: md('v2') }])], { versionInfo: 'istio:3f2a9c1d7e44' }));
  t.same(r.errors, []);
  const admin = await AdminServer.start({ address: '127.0.0.1', port: 0, state: () => 'LIVE', proxy, metrics });
  t.teardown(() => admin.close());
  const port = proxy.listeners()[0]!.port;

  // Traffic: bounded in count and time, stopped in teardown.
  let stop = false;
  let sent = 0;
  const agent = keepAliveAgent();
  const deadline = Date.now() + 18_000;
  const traffic = (async () => {
    while (!stop && sent < 20_000 && Date.now() < deadline) {
      await Promise.all([get(port, '/', {}, agent), get(port, '/', {}, agent), get(port, '/', {}, agent), get(port, '/', {}, agent)]);
      sent += 4;
    }
  })();
  t.teardown(async () => {
    stop = true;
    await traffic;
    agent.destroy();
  });

  const { chromium } = await import('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-chromium-'));
  t.teardown(() => fs.rmSync(userDataDir, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1180, height: 640 },
  });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${admin.port}/weir`);
  // Wait for at least three polls with picks in the window (the page differences samples).
  // Browser-side code as strings: the test compiles without the DOM lib.
  await page.waitForFunction(
    `(() => {
      const h = (document.querySelector('#routes th') || {}).textContent || '';
      const m = /(\\d+) picks in window/.exec(h);
      return m !== null && Number(m[1]) >= 200 && /window: last [2-9]/.test(document.getElementById('win').textContent);
    })()`,
    undefined,
    { timeout: 15_000, polling: 250 },
  );
  const text = (await page.evaluate('document.body.innerText')) as string;
  t.match(text, /config version istio:3f2a9c1d7e44 applied \d+ s ago/);
  t.match(text, /last update: accepted/);
  t.match(text, /reviews\.default\.svc\.cluster\.local:9080 · route reviews-canary/);
  const cells = (sel: string): Promise<string[][]> =>
    page.evaluate(`Array.from(document.querySelectorAll(${JSON.stringify(sel)})).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent || '')).filter((c) => c.length > 0)`) as Promise<string[][]>;
  const rows = await cells('#routes tr');
  t.equal(rows.length, 2, 'one row per destination');
  const [r1, r2] = rows as [string[], string[]];
  t.same([r1[1], r1[2], r2[1], r2[2]], ['v1', '90.0%', 'v2', '10.0%'], 'versions and targets');
  const observed = Number(r1[3]!.replace('%', ''));
  t.ok(observed > 80 && observed < 97, `observed v1 share ${observed}% is near 90%`);
  const [lo, hi] = r1[4]!.split(' – ').map((x) => Number(x.replace('%', ''))) as [number, number];
  t.ok(lo <= observed && observed <= hi, `interval ${lo}–${hi} brackets the observed share`);
  const versions = await cells('#versions tr');
  const v2row = versions.find((c) => c[1] === 'v2')!;
  t.ok(Number(v2row[2]) > 0, 'v2 requests per second shown');
  t.match(v2row[3], /%$/, 'v2 error rate shown');
  t.ok(Number(v2row[3]!.replace('%', '')) > 0, 'v2 errors are visible');
  t.equal(versions.find((c) => c[1] === 'v1')![3], '0.0%');
  const outDir = path.resolve(process.env.TAP_SNAPSHOT_DIR ?? path.join(process.cwd(), '.tap'), 'screenshots');
  fs.mkdirSync(outDir, { recursive: true });
  const shot = path.join(outDir, 'weir-dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.comment(`screenshot: ${shot}`);
  t.ok(fs.statSync(shot).size > 5000, 'screenshot written');
  t.same(errors, [], 'no script errors on the page');
});
