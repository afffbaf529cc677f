// `weir demo` (what `npm start` runs): a newcomer's first minute. Starts one tiny upstream per
// destination of the bootstrap's weighted route (each answers `hello from <version>` with an
// `x-version` header), serves config/demo.yaml in this process, sends some requests itself and
// prints the observed split next to the configured one, then keeps serving until Ctrl-C.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { UsageError } from '../errors';
import { loadBootstrap, type Bootstrap } from '../config/bootstrap';
import type { Resource } from '../config/resources';
import { field, isObject, parseUint } from '../util/proto-json';
import { readFlags, type FlagSpec } from './args';
import { ConsoleLogger, parseLogLevel } from './logger';
import { logListeners, startServer, SIGINT_DRAIN_MS, type RunningServer } from './serve';

const DEMO_FLAGS: readonly FlagSpec[] = [
  { names: ['-c', '--config-path'], kind: 'string', key: 'configPath' },
  { names: ['--config-yaml'], kind: 'string', key: 'configYaml' },
  { names: ['--weights'], kind: 'string', key: 'weights' },
  { names: ['--requests'], kind: 'string', key: 'requests' },
  { names: ['-l', '--log-level'], kind: 'string', key: 'logLevel' },
  { names: ['-h', '--help'], kind: 'bool', key: 'help' },
];

const DEMO_HELP = `weir demo: two demo upstreams and weir splitting traffic between them

Usage: weir demo [flags]        (npm start runs this; pass flags with: npm start -- <flags>)
  -c, --config-path <file>   bootstrap to serve (default: config/demo.yaml)
      --config-yaml <yaml>   fragment merged over it, as with 'weir serve'
      --weights <a,b,...>    override the weighted route's weights, e.g. --weights 50,50
      --requests <n>         requests the demo sends itself before serving (default 1000; 0 = none)
  -l, --log-level <level>    weir's log level (default: warning)
`;

const DEFAULT_REQUESTS = 1000;
const DEMO_CONCURRENCY = 16;

/** The package root (where package.json names weir), from dist/src/cli or src/cli. */
function packageRoot(): string {
  for (const up of ['../../..', '../..']) {
    const dir = path.resolve(__dirname, up);
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'weir') return dir;
    } catch {
      // not here; try the next candidate
    }
  }
  return process.cwd();
}

interface Destination {
  cluster: string;
  version: string;
  weight: number;
  address: string;
  port: number;
}

/** The first route with `weighted_clusters` in the first listener's inline route_config. */
function findWeightedClusters(listeners: readonly Resource[]): Resource[] | undefined {
  for (const l of listeners) {
    for (const chain of (field(l, 'filter_chains') as unknown[] | undefined) ?? []) {
      for (const f of (field(chain, 'filters') as unknown[] | undefined) ?? []) {
        const rc = field(field(f, 'typed_config'), 'route_config');
        for (const vh of (field(rc, 'virtual_hosts') as unknown[] | undefined) ?? []) {
          for (const r of (field(vh, 'routes') as unknown[] | undefined) ?? []) {
            const wc = field(field(field(r, 'route'), 'weighted_clusters'), 'clusters');
            if (Array.isArray(wc) && wc.every(isObject)) return wc as Resource[];
          }
        }
      }
    }
  }
  return undefined;
}

function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : undefined;
}

function destinations(b: Bootstrap, weights: number[] | undefined): Destination[] {
  const wc = findWeightedClusters(b.resources.listeners);
  if (!wc) throw new UsageError(`${b.source}: no route with weighted_clusters found; the demo needs one`);
  if (weights && weights.length !== wc.length)
    throw new UsageError(`--weights: ${weights.length} weights given, the route has ${wc.length} clusters`);
  const out: Destination[] = [];
  for (let i = 0; i < wc.length; i++) {
    const c = wc[i] as Resource;
    if (weights) {
      // Rewrite under whichever spelling the file used, so the compiler sees exactly one value.
      c.weight = weights[i];
    }
    const name = String(field(c, 'name'));
    const cluster = b.resources.clusters.find((x) => field(x, 'name') === name);
    const locality = first(field(field(cluster, 'load_assignment'), 'endpoints'));
    const sa = field(field(first(field(locality, 'lb_endpoints')), 'endpoint'), 'address');
    const socket = field(sa, 'socket_address');
    const port = parseUint(field(socket, 'port_value'));
    if (!cluster || port === undefined)
      throw new UsageError(`${b.source}: cluster '${name}' needs a STATIC endpoint (socket_address) for the demo upstream`);
    out.push({
      cluster: name,
      version: /_(v\w+)$/.exec(name)?.[1] ?? name,
      weight: parseUint(field(c, 'weight')) ?? 0,
      address: String(field(socket, 'address') ?? '127.0.0.1'),
      port,
    });
  }
  return out;
}

function portTaken(port: number, what: string): UsageError {
  return new UsageError(
    `port ${port} (${what}) is already in use. Is another weir demo (or Envoy) running? ` +
      `Stop it, or find it with: ss -ltnp 'sport = :${port}'`,
  );
}

/** Binds and releases `address:port`, so a taken demo port is reported before anything starts. */
function probePort(address: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? portTaken(port, what) : new UsageError(`cannot bind ${address}:${port} (${what}): ${err.message}`)),
    );
    s.listen(port, address, () => s.close(() => resolve()));
  });
}

function startUpstream(d: Destination): Promise<http.Server> {
  const body = `hello from ${d.version}\n`;
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-version': d.version });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? portTaken(d.port, `demo upstream ${d.version}`) : err),
    );
    server.listen(d.port, d.address, () => resolve(server));
  });
}

/** Sends `n` GETs (DEMO_CONCURRENCY at a time) and counts them by `x-version` (or status). */
async function sendRequests(port: number, n: number): Promise<Map<string, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: DEMO_CONCURRENCY });
  const counts = new Map<string, number>();
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        const v = res.headers['x-version'];
        const key = res.statusCode === 200 && typeof v === 'string' ? v : `HTTP ${res.statusCode}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        res.resume();
        res.on('end', resolve);
        res.on('error', resolve);
      });
      req.on('error', (err) => {
        counts.set(`error ${err.message}`, (counts.get(`error ${err.message}`) ?? 0) + 1);
        resolve();
      });
    });
  const lane = async (): Promise<void> => {
    while (next < n) {
      next++;
      await one();
    }
  };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < Math.min(DEMO_CONCURRENCY, n); i++) lanes.push(lane());
  await Promise.all(lanes);
  agent.destroy();
  return counts;
}

function bar(share: number): string {
  const width = 30;
  const full = Math.round(share * width);
  return '#'.repeat(full) + '.'.repeat(width - full);
}

export async function demoMain(argv: string[]): Promise<number> {
  const raw = readFlags(argv, DEMO_FLAGS, 'weir demo');
  if (raw.help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  const root = packageRoot();
  const configPath = typeof raw.configPath === 'string' ? raw.configPath : path.relative(process.cwd(), path.join(root, 'config', 'demo.yaml')) || 'config/demo.yaml';
  const level = parseLogLevel(typeof raw.logLevel === 'string' ? raw.logLevel : 'warning');
  if (!level) throw new UsageError(`--log-level: invalid level '${String(raw.logLevel)}'`);
  let weights: number[] | undefined;
  if (typeof raw.weights === 'string') {
    weights = raw.weights.split(',').map((w) => (/^\s*\d+\s*$/.test(w) ? Number(w) : NaN));
    if (weights.some((w) => !Number.isSafeInteger(w)) || weights.every((w) => w === 0))
      throw new UsageError(`--weights: expected non-negative integers such as 90,10 (got '${raw.weights}')`);
  }
  const requests = typeof raw.requests === 'string' ? Number(raw.requests) : DEFAULT_REQUESTS;
  if (!Number.isSafeInteger(requests) || requests < 0) throw new UsageError(`--requests: expected a count (got '${String(raw.requests)}')`);

  const loaded = loadBootstrap({
    configPath,
    ...(typeof raw.configYaml === 'string' ? { configYaml: raw.configYaml } : {}),
    compile: false,
  });
  if (loaded.errors) {
    process.stderr.write(`error initializing configuration '${configPath}':\n` + loaded.errors.map((e) => `  ${e}\n`).join(''));
    return 1;
  }
  const bootstrap = loaded.value;
  const dests = destinations(bootstrap, weights);
  const total = dests.reduce((s, d) => s + d.weight, 0);
  const log = new ConsoleLogger(level);
  const out = (s = ''): boolean => process.stdout.write(s + '\n');

  // Every port first, so a taken one is named before anything starts.
  for (const d of dests) await probePort(d.address, d.port, `demo upstream ${d.version}`);
  for (const l of bootstrap.resources.listeners) {
    const sa = field(field(l, 'address'), 'socket_address');
    const port = parseUint(field(sa, 'port_value'));
    if (port) await probePort(String(field(sa, 'address')), port, `weir listener ${String(field(l, 'name') ?? '')}`);
  }
  if (bootstrap.admin && bootstrap.admin.port) await probePort(bootstrap.admin.address, bootstrap.admin.port, 'weir admin');

  const upstreams: http.Server[] = [];
  let server: RunningServer | undefined;
  const stopAll = async (): Promise<void> => {
    await server?.stop(SIGINT_DRAIN_MS);
    await Promise.all(
      upstreams.map(
        (u) =>
          new Promise<void>((resolve) => {
            u.close(() => resolve());
            u.closeAllConnections();
          }),
      ),
    );
  };
  try {
    for (const d of dests) upstreams.push(await startUpstream(d));
    server = await startServer(bootstrap, { log, drainTimeMs: SIGINT_DRAIN_MS });
  } catch (err) {
    await stopAll();
    throw err;
  }
  logListeners(log, server);
  const listener = server.listeners()[0];
  const port = listener?.port ?? 10000;

  out(`weir demo: serving ${configPath}`);
  out();
  for (const d of dests)
    out(`  upstream ${d.version.padEnd(4)} http://${d.address}:${d.port}   cluster ${d.cluster.padEnd(10)} weight ${d.weight}`);
  out(`  weir          http://127.0.0.1:${port}   (listener '${listener?.name ?? ''}')`);
  if (server.admin) out(`  admin         http://${server.admin.address}:${server.admin.port}/ready`);
  out();

  if (requests > 0) {
    const started = process.hrtime.bigint();
    const counts = await sendRequests(port, requests);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    out(`Sent ${requests} requests through weir in ${ms.toFixed(0)} ms:`);
    for (const d of dests) {
      const n = counts.get(d.version) ?? 0;
      counts.delete(d.version);
      const target = total > 0 ? d.weight / total : 0;
      out(
        `  ${d.version.padEnd(4)} ${bar(n / requests)} ${String(n).padStart(5)}  ${((100 * n) / requests).toFixed(1).padStart(5)}%   target ${(100 * target).toFixed(1)}%`,
      );
    }
    for (const [k, n] of counts) out(`  ${k}: ${n}`);
    out();
  }

  out('Try it yourself:');
  out(`  curl -s localhost:${port}/                          # "hello from v1" about 9 times in 10`);
  out(`  curl -si localhost:${port}/ | grep -i x-version     # which version answered`);
  out(`  curl -s localhost:${port}/ -H 'x-demo-version: v2'  # pin yourself to v2 with a header route`);
  out('Change the split:');
  out(`  edit the weight: values in ${configPath} and run npm start again,`);
  out('  or without editing:  npm start -- --weights 50,50');
  out();
  out('Serving until Ctrl-C.');

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  out('\nStopping: draining weir and closing the demo upstreams.');
  await stopAll();
  out('Stopped.');
  return 0;
}
