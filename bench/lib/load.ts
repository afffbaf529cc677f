// Load generators for the proxy benchmark: wrk when installed (parsed from its text output with
// --latency), else autocannon (its JSON output). Both run as separate processes.

import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors plus non-2xx/3xx responses. */
  errors: number;
}

export type LoadTool = 'wrk' | 'autocannon';

export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited ${code}: ${err || out}`));
    });
  });
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  if (unit === 'us') return v / 1000;
  if (unit === 'ms') return v;
  if (unit === 's') return v * 1000;
  if (unit === 'm') return v * 60_000;
  return NaN;
}

/** Parses `wrk --latency` output. */
export function parseWrk(out: string): LoadResult {
  const req = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
  if (!req || !rps || !p50 || !p99) throw new Error(`cannot parse wrk output:\n${out}`);
  let errors = 0;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (sock) errors += Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) errors += Number(non2xx[1]);
  return {
    requests: Number(req[1]),
    durationS: toMs(req[2] as string, req[3] as string) / 1000,
    rps: Number(rps[1]),
    p50Ms: toMs(p50[1] as string, p50[2] as string),
    p99Ms: toMs(p99[1] as string, p99[2] as string),
    errors,
  };
}

export async function runLoad(tool: LoadTool, port: number, connections: number, durationS: number): Promise<LoadResult> {
  const url = `http://127.0.0.1:${port}/`;
  const timeoutMs = (durationS + 30) * 1000;
  if (tool === 'wrk') {
    return parseWrk(await run('wrk', ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', url], timeoutMs));
  }
  const bin = path.join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'autocannon');
  const out = await run(bin, ['-j', '-c', String(connections), '-d', String(durationS), url], timeoutMs);
  const j = JSON.parse(out) as {
    requests: { total: number; average: number };
    latency: { p50: number; p99: number };
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  return {
    requests: j.requests.total,
    durationS: j.duration,
    rps: j.requests.total / j.duration,
    p50Ms: j.latency.p50,
    p99Ms: j.latency.p99,
    errors: j.errors + j.timeouts + j.non2xx,
  };
}
