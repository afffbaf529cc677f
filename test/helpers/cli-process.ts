// The built CLI (`node dist/src/cli/main.js ...`) as a child process: its log (stdout + stderr)
// collected, waits for log lines with a timeout (never a sleep), the exit code collected, and the
// process stopped in teardown so that no test leaves a weir running.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './repo-root';

export interface TeardownLike {
  teardown(fn: () => unknown): void;
}


export { REPO_ROOT };
export const CLI_MAIN = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
/** How long a waitFor waits by default: generous for 2 busy cores, short enough to fail before tap's 30 s. */
export const WAIT_MS = 10_000;

/** `weir: listener <name> listening on <address>:<port>` as logged by every serving process. */
export const LISTENING = /listener (\S+) listening on ([\d.]+):(\d+)/;
export const ADMIN_ADDRESS = /admin address: ([\d.]+):(\d+)/;

/** A fresh directory under the OS temp dir, removed in teardown. */
export function tempDir(t: TeardownLike, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  proc: ChildProcess;
  /** Everything logged so far (stdout and stderr interleaved as received). */
  log(): string;
  /** stdout alone, and stderr alone. */
  stdout(): string;
  stderr(): string;
  /** Every match of `re` once there are at least `count`; rejects on exit or after `timeoutMs`. */
  waitFor(re: RegExp, count?: number, timeoutMs?: number): Promise<RegExpExecArray[]>;
  /** The `count`-th match of `re` (1-based), waiting as waitFor does. */
  nth(re: RegExp, count?: number, timeoutMs?: number): Promise<RegExpExecArray>;
  /** The port of listener `name`, from its `listening on` line. */
  listenerPort(name?: string): Promise<number>;
  /** The admin listener's port, from the `admin address:` line. */
  adminPort(): Promise<number>;
  exited: Promise<CliExit>;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Spawns `node dist/src/cli/main.js ...args`. In teardown a process still running gets SIGINT
 * (weir drains for at most about a second), then SIGKILL if it has not exited 5 s later.
 */
export function startCli(t: TeardownLike, args: string[], opts: { cwd?: string } = {}): CliProcess {
  const proc = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd ?? REPO_ROOT });
  let log = '';
  let stdout = '';
  let stderr = '';
  const listeners: (() => void)[] = [];
  proc.stdout!.on('data', (d: Buffer): void => {
    stdout += d.toString();
    log += d.toString();
    for (const l of listeners.splice(0)) l();
  });
  proc.stderr!.on('data', (d: Buffer): void => {
    stderr += d.toString();
    log += d.toString();
    for (const l of listeners.splice(0)) l();
  });
  const running = (): boolean => proc.exitCode === null && proc.signalCode === null;
  const exited = new Promise<CliExit>((resolve) =>
    proc.once('exit', (code, signal) => {
      for (const l of listeners.splice(0)) l();
      resolve({ code, signal });
    }),
  );
  t.teardown(async () => {
    if (!running()) return;
    proc.kill('SIGINT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  const waitFor = (re: RegExp, count = 1, timeoutMs = WAIT_MS): Promise<RegExpExecArray[]> => {
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = listeners.indexOf(check);
        if (i >= 0) listeners.splice(i, 1);
        reject(new Error(`${re} (x${count}) did not appear within ${timeoutMs} ms:\n${log}`));
      }, timeoutMs);
      function check(): void {
        const all = [...log.matchAll(g)] as RegExpExecArray[];
        if (all.length >= count) {
          clearTimeout(timer);
          return resolve(all);
        }
        if (!running()) {
          clearTimeout(timer);
          return reject(new Error(`weir exited before ${re} (x${count}) appeared:\n${log}`));
        }
        listeners.push(check);
      }
      check();
    });
  };
  return {
    proc,
    log: () => log,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor,
    nth: async (re, count = 1, timeoutMs) => (await waitFor(re, count, timeoutMs))[count - 1]!,
    listenerPort: async (name = 'main') => {
      const [m] = await waitFor(new RegExp(`listener ${escape(name)} listening on [\\d.]+:(\\d+)`));
      return Number(m![1]);
    },
    adminPort: async () => {
      const [m] = await waitFor(ADMIN_ADDRESS);
      return Number(m![2]);
    },
  };
}

/** Runs the CLI to completion (bounded: SIGKILL after `timeoutMs`) and returns its exit and output. */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd ?? REPO_ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
