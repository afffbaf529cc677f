// `weir route-check`: Envoy's router_check_tool (test/tools/router_check/router_check.cc) with the
// same flags, test-file formats, report lines, coverage line and exit status.
//
//   weir route-check -c routes.yaml -t tests.json [--details] [--only-show-failures]
//                    [-f <percent>] [--covall] [--detailed-coverage] [-o results.json]
//
// Exit 0 when every test passes (and coverage meets `-f`), 1 otherwise. Passing test names go to
// stdout (with --details), failing tests and their `expected: [X], actual: [Y], test type: T`
// lines to stderr, then `Current route coverage: N%` on stdout.

import { writeFileSync } from 'node:fs';
import { formatCppDouble } from './router-check/coverage';
import {
  RouterCheckError,
  RouterCheckTool,
  type RouterCheckOutput,
  type ValidationItemResult,
} from './router-check/router-check-tool';
import { TestFileError } from './router-check/test-file';

export interface RouteCheckIo {
  /** Writes text to stdout / stderr (text includes its newlines). */
  stdout(text: string): void;
  stderr(text: string): void;
}

const PROCESS_IO: RouteCheckIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

export interface RouteCheckFlags {
  configPath: string;
  testPath: string;
  details: boolean;
  onlyShowFailures: boolean;
  disableDeprecationCheck: boolean;
  failUnder: number;
  covall: boolean;
  detailedCoverage: boolean;
  outputPath: string;
  help: boolean;
}

export const USAGE = `USAGE:

   weir route-check  [-d] [--only-show-failures] [--disable-deprecation-check]
                     [-f <float>] [--covall] [-c <string>] [-t <string>]
                     [-o <string>] [--detailed-coverage] [--] [--version] [-h]
                     <unlabelledConfigStrings> ...

Where:

   -d,  --details
     Show detailed test execution results

   --only-show-failures
     Only display failing tests

   --disable-deprecation-check
     Disable deprecated fields check

   -f <float>,  --fail-under <float>
     Fail if test coverage is under a specified amount

   --covall
     Measure coverage by checking all route fields

   -c <string>,  --config-path <string>
     Path to configuration file.

   -t <string>,  --test-path <string>
     Path to test file.

   -o <string>,  --output-path <string>
     Path to output file to write test results (JSON)

   --detailed-coverage
     Show detailed coverage with routes without tests

   --,  --ignore_rest
     Ignores the rest of the labeled arguments following this flag.

   --version
     Displays version information and exits.

   -h,  --help
     Displays usage information and exits.

   <unlabelledConfigStrings>  (accepted many times)
     unlabelled configs

   router_check_tool (weir)
`;

class FlagError extends Error {}

const SWITCHES: Record<string, keyof RouteCheckFlags> = {
  '-d': 'details',
  '--details': 'details',
  '--only-show-failures': 'onlyShowFailures',
  '--disable-deprecation-check': 'disableDeprecationCheck',
  '--covall': 'covall',
  '--detailed-coverage': 'detailedCoverage',
  '-h': 'help',
  '--help': 'help',
};
const VALUES: Record<string, keyof RouteCheckFlags> = {
  '-c': 'configPath',
  '--config-path': 'configPath',
  '-t': 'testPath',
  '--test-path': 'testPath',
  '-o': 'outputPath',
  '--output-path': 'outputPath',
  '-f': 'failUnder',
  '--fail-under': 'failUnder',
};

/** TCLAP-style parsing of the tool's flags (`--flag value`; `--flag=value` is accepted too). */
export function parseRouteCheckArgs(argv: readonly string[]): RouteCheckFlags {
  const flags: RouteCheckFlags = {
    configPath: '',
    testPath: '',
    details: false,
    onlyShowFailures: false,
    disableDeprecationCheck: false,
    failUnder: 0,
    covall: false,
    detailedCoverage: false,
    outputPath: '',
    help: false,
  };
  const seen = new Set<string>();
  let rest = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (rest || !arg.startsWith('-') || arg === '-') continue; // unlabelled configs: accepted, unused
    if (arg === '--' || arg === '--ignore_rest') {
      rest = true;
      continue;
    }
    let name = arg;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      name = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    }
    const sw = SWITCHES[name];
    if (sw !== undefined && inline === undefined) {
      (flags[sw] as boolean) = true;
      continue;
    }
    const key = VALUES[name];
    if (key === undefined) {
      if (name === '--version') throw new FlagError('version');
      throw new FlagError(`Couldn't find match for argument: ${arg}`);
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new FlagError(`Missing a value for this argument!: ${name}`);
      value = argv[++i]!;
    }
    if (seen.has(key)) throw new FlagError(`Argument already set!: ${name}`);
    seen.add(key);
    if (key === 'failUnder') {
      // istringstream >> float: a number with nothing after it.
      if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) {
        throw new FlagError(`Couldn't read argument value from string '${value}': ${name}`);
      }
      flags.failUnder = Number(value);
    } else {
      (flags[key] as string) = value;
    }
  }
  return flags;
}

/** hasFailures in router_check.cc. */
function hasFailures(results: readonly ValidationItemResult[]): boolean {
  return results.some((r) => !r.test_passed);
}

/** The `-o` file: envoy.RouterCheckToolSchema.ValidationResult in proto3 JSON (lowerCamelCase). */
export function resultsToJson(results: readonly ValidationItemResult[]): string {
  const camel = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(camel);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      // header_matcher holds the user's HeaderMatcher as written; keep it.
      out[k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())] = k === 'header_matcher' ? val : camel(val);
    }
    return out;
  };
  return JSON.stringify({ testResults: camel(results) }, null, 2) + '\n';
}

/**
 * Runs `weir route-check` with `argv` (the arguments after `route-check`). Returns the exit code;
 * writes to `io` (process stdout/stderr by default).
 */
export async function main(argv: string[], io: RouteCheckIo = PROCESS_IO): Promise<number> {
  const output: RouterCheckOutput = {
    out: (line) => io.stdout(line + '\n'),
    err: (line) => io.stderr(line + '\n'),
  };
  let flags: RouteCheckFlags;
  try {
    flags = parseRouteCheckArgs(argv);
  } catch (e) {
    if (e instanceof FlagError && e.message === 'version') {
      io.stdout('\nweir route-check  version: none\n\n');
      return 0;
    }
    output.err(`error: ${(e as Error).message}`);
    return 1;
  }
  if (flags.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (flags.configPath === '' || flags.testPath === '') {
    output.err('error: Both --config-path/c and --test-path/t are mandatory');
    return 1;
  }

  const enforceCoverage = flags.failUnder !== 0;
  try {
    const tool = RouterCheckTool.create(
      flags.configPath,
      {
        details: flags.details,
        onlyShowFailures: flags.onlyShowFailures,
        detailedCoverage: flags.detailedCoverage,
        disableDeprecationCheck: flags.disableDeprecationCheck,
      },
      output,
    );
    const results = tool.compareEntries(flags.testPath);
    if (flags.outputPath !== '') {
      try {
        writeFileSync(flags.outputPath, resultsToJson(results));
      } catch (e) {
        throw new RouterCheckError(`Failed to open file for write ${flags.outputPath}`);
      }
    }
    if (hasFailures(results)) return 1;

    const current = tool.coverage(flags.covall);
    output.out(`Current route coverage: ${formatCppDouble(current)}%`);
    if (enforceCoverage && current < flags.failUnder) {
      output.err(`Failed to meet coverage requirement: ${formatCppDouble(flags.failUnder)}%`);
      return 1;
    }
  } catch (e) {
    if (e instanceof RouterCheckError || e instanceof TestFileError) {
      output.err(e.message);
      return 1;
    }
    throw e;
  }
  return 0;
}

// `node dist/src/cli/route-check.js -c ... -t ...` runs the tool on its own as well.
if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
