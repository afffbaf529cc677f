// End to end: the built CLI (`node dist/src/cli/main.js -c ...`) as a child process, with an
// upstream in this process. The child binds ephemeral ports and says where in its log.
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
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-serve-'));
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

t.test('serves a bootstrap, /ready is LIVE, SIGTERM under load drains with no failed request', async (t) => {
  const up = await startUpstream(t);
  const weir = startWeir(t, ['-c', bootstrap(up.port), '--drain-time-s', '30']);
  const [[, port]] = await weir.waitFor(LISTENING) as [RegExpExecArray];
  const [[, adminPort]] = await weir.waitFor(ADMIN) as [RegExpExecArray];
  const r = await get(Number(port));
  t.equal(r.status, 200);
  t.equal(r.body, 'ok\n');
  t.equal(r.headers['x-upstream'], 'yes');
  const ready = await get(Number(adminPort), '/ready');
  t.same([ready.status, ready.body], [200, 'LIVE\n']);

  // 20 requests in flight (held by the upstream), then SIGTERM.
  up.hold = true;
  const before = up.received;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
  const inflight = Array.from({ length: 20 }, () => get(Number(port), '/', agent).catch((e: Error) => ({ status: -1, body: e.message, headers: {} })));
  await up.onReceived(before + 20);
  weir.proc.kill('SIGTERM');
  await weir.waitFor(/caught SIGTERM/);
  const draining = await get(Number(adminPort), '/ready');
  t.same([draining.status, draining.body], [503, 'DRAINING\n'], '/ready answers 503 while draining');
  up.release();
  const results = await Promise.all(inflight);
  agent.destroy();
  t.same(results.map((x) => x.status), Array(20).fill(200), 'every request in flight completed');
  const { code } = await weir.exited;
  t.equal(code, 0, 'exit code 0 after the drain');
});

t.test('SIGINT drains for at most about a second', async (t) => {
  const up = await startUpstream(t);
  const weir = startWeir(t, ['-c', bootstrap(up.port), '--drain-time-s', '600']);
  const [[, port]] = await weir.waitFor(LISTENING) as [RegExpExecArray];
  up.hold = true;
  const stuck = get(Number(port)).catch(() => null);
  await up.onReceived(1);
  const started = Date.now();
  weir.proc.kill('SIGINT');
  const { code } = await weir.exited;
  const took = Date.now() - started;
  t.equal(code, 0);
  t.ok(took < 5000, `exited in ${took} ms despite a request that never finishes (drain time 600 s)`);
  up.release();
  await stuck;
});

t.test('a port in use: a clear error and exit code 1', async (t) => {
  const up = await startUpstream(t);
  const file = bootstrap(up.port);
  const taken = fs.readFileSync(file, 'utf8').replace(/port_value: 0 \} \}\n      filter_chains/, `port_value: ${up.port} } }\n      filter_chains`);
  const p = path.join(tmp, 'taken.yaml');
  fs.writeFileSync(p, taken);
  const weir = startWeir(t, ['-c', p]);
  const { code } = await weir.exited;
  t.equal(code, 1);
  t.match(weir.log(), new RegExp(`taken\\.yaml: static_resources\\.listeners\\[0\\]\\.address: cannot listen on 127\\.0\\.0\\.1:${up.port}: .*EADDRINUSE`));
});
