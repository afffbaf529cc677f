// Child processes for the proxy benchmark: start one, wait for the line that says it is ready,
// sample its CPU time from /proc, and stop it.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** stdout+stderr seen so far (bounded), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const MAX_OUTPUT = 64 * 1024;

/** Spawns `cmd args` with piped output; `stop()` sends SIGTERM, then SIGKILL after 3 s. */
export function spawnChild(name: string, cmd: string, args: string[]): Child & { onLine(fn: (line: string) => void): void } {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exited = false;
  const exitedP = new Promise<void>((resolve) => proc.once('exit', () => ((exited = true), resolve())));
  const lineFns: ((line: string) => void)[] = [];
  let pending = '';
  const onData = (chunk: Buffer): void => {
    const s = chunk.toString();
    if (out.length < MAX_OUTPUT) out += s;
    pending += s;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      for (const fn of lineFns) fn(line);
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  return {
    name,
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    onLine: (fn) => void lineFns.push(fn),
    async stop() {
      if (exited || proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exitedP;
      clearTimeout(t);
    },
  };
}

/**
 * Spawns `cmd args` and resolves once `ready` matches a line of its stdout or stderr, with the
 * match. Rejects (and kills the child) when it exits first or after READY_TIMEOUT_MS.
 */
export function startChild(name: string, cmd: string, args: string[], ready: RegExp): Promise<{ child: Child; match: RegExpExecArray }> {
  const child = spawnChild(name, cmd, args);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void child.stop();
      reject(new Error(`${name}: not ready after ${READY_TIMEOUT_MS} ms\n${child.output()}`));
    }, READY_TIMEOUT_MS);
    child.onLine((line) => {
      const m = ready.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name}: ${err.message}`));
    });
    child.proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready\n${child.output()}`));
    });
  });
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  // USER_HZ is 100 on every Linux this runs on; getconf is not worth a process per sample.
  if (clockTicks === undefined) clockTicks = 100;
  return clockTicks;
}

/** utime + stime of `pid` in microseconds (Linux /proc/<pid>/stat fields 14 and 15), or NaN. */
export function cpuMicros(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after the closing paren are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return ((utime + stime) * 1e6) / ticksPerSecond();
  } catch {
    return NaN;
  }
}

/** A port that was free a moment ago (for servers that cannot report an ephemeral one, nginx). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
}
