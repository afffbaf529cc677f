// `weir demo` (what `npm start` runs), on a copy of config/demo.yaml with free ports so it can run
// next to anything else: it starts its upstreams, sends requests, prints the split, serves until
// SIGINT and then stops cleanly.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';

function findRoot(dir: string): string {
  for (let d = dir, i = 0; i < 6; i++, d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'tsconfig.json'))) return d;
  }
  throw new Error('package root not found');
}
const ROOT = findRoot(__dirname);
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-demo-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function runDemo(t: Test, args: string[]) {
  const proc = spawn(process.execPath, [MAIN, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      for (const w of waiters.splice(0)) w();
      resolve(code);
    }),
  );
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const waitFor = (s: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.includes(s)) return resolve();
        if (proc.exitCode !== null) return reject(new Error(`demo exited before '${s}':\n${out}\n${err}`));
        waiters.push(check);
      };
      check();
    });
  return { proc, out: () => out, err: () => err, exited, waitFor };
}

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
  await demo.waitFor('Serving until Ctrl-C.');
  const out = demo.out();
  t.match(out, `upstream v1   http://127.0.0.1:${v1}`);
  t.match(out, 'Sent 300 requests through weir');
  const v1Line = /^ {2}v1 +[#.]+ +(\d+) +[\d.]+% +target 66\.7%$/m.exec(out);
  const v2Line = /^ {2}v2 +[#.]+ +(\d+) +[\d.]+% +target 33\.3%$/m.exec(out);
  t.ok(v1Line && v2Line, `split lines printed:\n${out}`);
  t.equal(Number(v1Line?.[1]) + Number(v2Line?.[1]), 300, 'every request answered by v1 or v2');
  t.ok(Number(v2Line?.[1]) > 50 && Number(v1Line?.[1]) > 150, 'both versions get their share (binomial, far from the bounds)');
  t.match(out, 'npm start -- --weights 50,50');
  demo.proc.kill('SIGINT');
  t.equal(await demo.exited, 0);
  t.match(demo.out(), 'Stopped.');
});

t.test('weir demo: a taken port is named', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as AddressInfo).port;
  const yaml = fs.readFileSync(path.join(ROOT, 'config', 'demo.yaml'), 'utf8').replace('port_value: 9081', `port_value: ${taken}`);
  const file = path.join(tmp, 'taken.yaml');
  fs.writeFileSync(file, yaml);
  const demo = runDemo(t, ['-c', file]);
  t.equal(await demo.exited, 1);
  t.match(demo.err(), `port ${taken} (demo upstream v1) is already in use`);
});
