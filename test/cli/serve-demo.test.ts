// `weir demo` (what `npm start` runs), on a copy of config/demo.yaml with free ports so it can run
// next to anything else: it starts its upstreams, sends requests, prints the split, serves until
// SIGINT and then stops cleanly.
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { freePort } from '../helpers/free-port';
import { REPO_ROOT as ROOT, startCli, tempDir, type CliProcess } from '../helpers/cli-process';

const tmp = tempDir(t, 'weir-demo-');

const runDemo = (t: Test, args: string[]): CliProcess => startCli(t, ['demo', ...args]);

t.test('weir demo: upstreams, split printed next to the target, clean stop on Ctrl-C', async (t) => {
  const [v1, v2] = [await freePort(), await freePort()];
  const yaml = fs
    .readFileSync(path.join(ROOT, 'config', 'demo.yaml'), 'utf8')
    .replace('port_value: 9081', `port_value: ${v1}`)
    .replace('port_value: 9082', `port_value: ${v2}`)
    .replace('port_value: 10000', 'port_value: 0')
    .replace('port_value: 9901', 'port_value: 0');
  const file = path.join(tmp, 'demo.yaml');
  fs.writeFileSync(file, yaml);
  const demo = runDemo(t, ['-c', file, '--requests', '300', '--weights', '2,1']);
  await demo.waitFor(/Serving until Ctrl-C\./);
  const out = demo.stdout();
  t.match(out, `upstream v1   http://127.0.0.1:${v1}`);
  t.match(out, 'Sent 300 requests through weir');
  const v1Line = /^ {2}v1 +[#.]+ +(\d+) +[\d.]+% +target 66\.7%$/m.exec(out);
  const v2Line = /^ {2}v2 +[#.]+ +(\d+) +[\d.]+% +target 33\.3%$/m.exec(out);
  t.ok(v1Line && v2Line, `split lines printed:\n${out}`);
  t.equal(Number(v1Line?.[1]) + Number(v2Line?.[1]), 300, 'every request answered by v1 or v2');
  t.ok(Number(v2Line?.[1]) > 50 && Number(v1Line?.[1]) > 150, 'both versions get their share (binomial, far from the bounds)');
  t.match(out, 'npm start -- --weights 50,50');
  demo.proc.kill('SIGINT');
  t.equal((await demo.exited).code, 0);
  t.match(demo.stdout(), 'Stopped.');
});

t.test('weir demo: a taken port is named', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as AddressInfo).port;
  // Only v1's port is taken; the others are made free so that nothing else on the machine can
  // collide with demo.yaml's fixed 9082/10000/9901.
  const yaml = fs
    .readFileSync(path.join(ROOT, 'config', 'demo.yaml'), 'utf8')
    .replace('port_value: 9081', `port_value: ${taken}`)
    .replace('port_value: 9082', `port_value: ${await freePort()}`)
    .replace('port_value: 10000', 'port_value: 0')
    .replace('port_value: 9901', 'port_value: 0');
  const file = path.join(tmp, 'taken.yaml');
  fs.writeFileSync(file, yaml);
  const demo = runDemo(t, ['-c', file]);
  t.equal((await demo.exited).code, 1);
  t.match(demo.stderr(), `port ${taken} (demo upstream v1) is already in use`);
});
