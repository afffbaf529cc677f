#!/usr/bin/env node
// `weir`: the command-line entry point (package.json `bin`). Subcommands implemented in their own
// modules are required lazily by name, so start-up stays fast and a module that is missing from a
// build fails only its own subcommand, with a message that says so.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, WeirError } from '../errors';
import { HELP, MODULE_SUBCOMMANDS, parseArgs } from './args';

function version(): string {
  // dist/src/cli -> package root is three levels up; src/cli (tsx) is two.
  for (const up of ['../../..', '../..']) {
    const p = path.join(__dirname, up, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'weir') return pkg.version ?? 'unknown';
    } catch {
      // not here; try the next candidate
    }
  }
  return 'unknown';
}

type SubcommandModule = { main(argv: string[]): Promise<number> };

function loadSubcommand(name: string): SubcommandModule {
  const modulePath = path.join(__dirname, name);
  let mod: Partial<SubcommandModule>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(modulePath) as Partial<SubcommandModule>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(modulePath))
      throw new WeirError(`'weir ${name}' is not available in this build (module ${modulePath} is missing)`, 'WEIR_ERR_USAGE');
    throw err;
  }
  if (typeof mod.main !== 'function') throw new WeirError(`'weir ${name}': module ${modulePath} has no main()`, 'WEIR_ERR_USAGE');
  return mod as SubcommandModule;
}

export async function main(argv: string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(err.message.startsWith('weir') ? `${err.message}\n` : `weir: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(HELP);
      return 0;
    case 'version':
      process.stdout.write(`weir version: ${version()}\n`);
      return 0;
    case 'serve': {
      const { serveMain } = await import('./serve');
      return serveMain(cmd.args);
    }
    case 'subcommand': {
      try {
        if (cmd.name === 'demo') {
          const { demoMain } = await import('./demo');
          return await demoMain(cmd.argv);
        }
        if (!MODULE_SUBCOMMANDS.has(cmd.name)) throw new UsageError(`unknown command '${cmd.name}'`);
        return await loadSubcommand(cmd.name).main(cmd.argv);
      } catch (err) {
        if (err instanceof WeirError && (err.code === 'WEIR_ERR_USAGE' || err.code === 'WEIR_ERR_CONFIG')) {
          process.stderr.write(`weir ${cmd.name}: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Servers have closed their sockets by now; lingering timers (pool keep-alives) must not hold
      // the exit. Let stdout drain first so piped output is complete.
      process.exitCode = code;
      if (process.stdout.writableLength === 0) process.exit(code);
      else process.stdout.once('drain', () => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(`weir: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
