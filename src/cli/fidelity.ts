// `weir fidelity ...`: measure a proxy's traffic split. Exit 0 pass, 1 fail, 2 usage or
// measurement error (see FIDELITY_HELP for the rule).

import { writeFileSync } from 'node:fs';
import { WeirError } from '../errors';
import { FIDELITY_HELP, parseFidelityArgs } from '../fidelity/options';
import { formatJson, formatTable } from '../fidelity/report';
import { runFidelity } from '../fidelity/run-fidelity';
import { renderSvg } from '../fidelity/svg';

export interface FidelityIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/** Runs `weir fidelity` with `argv` (the arguments after `fidelity`; a leading "fidelity" is skipped) and returns the exit code. */
export async function main(argv: string[], io: FidelityIo = process): Promise<number> {
  const args = argv[0] === 'fidelity' ? argv.slice(1) : argv;
  let command;
  try {
    command = parseFidelityArgs(args);
  } catch (err) {
    if (err instanceof WeirError) {
      io.stderr.write('weir fidelity: ' + err.message + '\n');
      return 2;
    }
    throw err;
  }
  if (command.help || command.options === null) {
    io.stdout.write(FIDELITY_HELP);
    return 0;
  }
  let report;
  try {
    report = await runFidelity(command.options);
  } catch (err) {
    io.stderr.write('weir fidelity: ' + (err as Error).message + '\n');
    return 2;
  }
  io.stdout.write(command.json ? formatJson(report) : formatTable(report));
  if (command.svg !== null) {
    try {
      writeFileSync(command.svg, renderSvg(report));
      io.stderr.write('weir fidelity: wrote ' + command.svg + '\n');
    } catch (err) {
      io.stderr.write('weir fidelity: cannot write ' + command.svg + ': ' + (err as Error).message + '\n');
      return 2;
    }
  }
  return report.verdict.exitCode;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(String((err as Error)?.stack ?? err) + '\n');
      process.exitCode = 2;
    },
  );
}
