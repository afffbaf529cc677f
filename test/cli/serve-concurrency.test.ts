// End to end, --concurrency N: the built CLI's primary forks worker processes that share the
// listener (node:cluster); each worker logs its listener line with its pid.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
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
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-serve-conc-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An upstream that can hold responses until released (to have requests in flight). */
function startUpstream(t: Test): Promise<{ port: number; hold: boolean; received: number; onReceived: (n: number) => Promise<void>; release: () => void }> {
  let held: http.ServerResponse[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const state = {
    port: 0,
    hold: false,
    received: 0,
    onReceived(n: number): Promise<void> {
      if (state.received >= n) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ n, resolve }));
    },
    release() {
      state.hold = false;
      for (const r of held) r.end('ok\n');
      held = [];
    },
  };
  const server = http.createServer((req, res) => {
    req.resume();
    state.received++;
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
    if (state.hold) held.push(res);
    else res.end('ok\n');
    for (const w of waiters.splice(0)) {
      if (state.received >= w.n) w.resolve();
      else waiters.push(w);
    }
  });
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      state.port = (server.address() as AddressInfo).port;
      resolve(state);
    }),
  );
}

function bootstrap(upstreamPort: number): string {
  const p = path.join(tmp, `envoy-${upstreamPort}.yaml`);
  fs.writeFileSync(
    p,
    `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
    - name: main
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: main
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: / }
                          route: { cluster: up, timeout: 0s }
  clusters:
    - name: up
      type: STATIC
      load_assignment:
        cluster_name: up
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } }
`,
  );
  return p;
}

interface Weir {
  proc: ChildProcess;
  log: () => string;
  /** Resolves with the first match of `re` in the log (stderr + stdout), waiting for it. */
  waitFor(re: RegExp, count?: number): Promise<RegExpExecArray[]>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWeir(t: Test, args: string[]): Weir {
  const proc = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const listeners: (() => void)[] = [];
  const onData = (d: Buffer): void => {
    log += d.toString();
    for (const l of listeners.splice(0)) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      for (const l of listeners.splice(0)) l();
      resolve({ code, signal });
    }),
  );
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return {
    proc,
    log: () => log,
    exited,
    waitFor(re: RegExp, count = 1): Promise<RegExpExecArray[]> {
      const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const all = [...log.matchAll(g)] as RegExpExecArray[];
          if (all.length >= count) return resolve(all);
          if (proc.exitCode !== null || proc.signalCode !== null)
            return reject(new Error(`weir exited before ${re} appeared:\n${log}`));
          listeners.push(check);
        };
        check();
      });
    },
  };
}

const LISTENING = /listener main listening on 127\.0\.0\.1:(\d+)/;
const ADMIN = /admin address: 127\.0\.0\.1:(\d+)/;

function get(port: number, p = '/', agent?: http.Agent): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, agent: agent ?? false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

t.test('--concurrency 2: two worker processes serve the listener; SIGTERM stops both', async (t) => {
  const up = await startUpstream(t);
  const weir = startWeir(t, ['-c', bootstrap(up.port), '--concurrency', '2', '--drain-time-s', '5']);
  const lines = await weir.waitFor(/\[(\d+)\]\[info\]\[main\] listener main listening on 127\.0\.0\.1:(\d+)/, 2);
  const pids = new Set(lines.map((m) => m[1]));
  const ports = new Set(lines.map((m) => m[2]));
  t.equal(pids.size, 2, 'two worker pids');
  t.notOk(pids.has(String(weir.proc.pid)), 'the primary does not serve');
  t.equal(ports.size, 1, 'both share one listening port');
  const port = Number([...ports][0]);
  const [[, adminPort]] = await weir.waitFor(ADMIN) as [RegExpExecArray];
  await weir.waitFor(/all 2 workers serving/);
  t.equal((await get(Number(adminPort), '/ready')).status, 200);
  const answers = await Promise.all(Array.from({ length: 20 }, () => get(port)));
  t.same(answers.map((a) => a.status), Array(20).fill(200));
  weir.proc.kill('SIGTERM');
  const { code } = await weir.exited;
  t.equal(code, 0);
});

t.test('--concurrency 2: a worker that dies is restarted', async (t) => {
  const up = await startUpstream(t);
  const weir = startWeir(t, ['-c', bootstrap(up.port), '--concurrency', '2', '--drain-time-s', '5']);
  const lines = await weir.waitFor(/\[(\d+)\]\[info\]\[main\] listener main listening on 127\.0\.0\.1:(\d+)/, 2);
  process.kill(Number(lines[0]![1]), 'SIGKILL');
  await weir.waitFor(/died \(SIGKILL\); restarting it/);
  const again = await weir.waitFor(/\[(\d+)\]\[info\]\[main\] listener main listening on 127\.0\.0\.1:(\d+)/, 3);
  t.notOk(lines.some((m) => m[1] === again[2]![1]), 'a new pid serves');
  t.equal((await get(Number(again[2]![2]))).status, 200);
  weir.proc.kill('SIGTERM');
  t.equal((await weir.exited).code, 0);
});

