// Command-line parsing for `weir`. The serve flags are Envoy's (source/server/options_impl.cc),
// spelled the same and validated the same way, so an Envoy command line runs unchanged where weir
// implements the feature; anything else is a UsageError with a clear message (exit code 1).

import { UsageError } from '../errors';
import type { IstioOptions, PickMode, StickyKey } from '../config/istio/types';
import { parseLogLevel, type LogLevel } from './logger';

/** Subcommands; `serve` is the default when the first argument is a flag. */
export const SUBCOMMANDS = ['serve', 'route-check', 'translate', 'fidelity', 'explain', 'demo'] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

/** Subcommands implemented in their own module (`src/cli/<name>.ts`, exporting `main(argv)`). */
export const MODULE_SUBCOMMANDS: ReadonlySet<string> = new Set(['route-check', 'translate', 'fidelity', 'explain']);

/** Envoy's default `--drain-time-s` (source/server/options_impl.cc). */
export const DEFAULT_DRAIN_TIME_S = 600;

export type Mode = 'serve' | 'validate' | 'init_only';

/** `--istio` and its companions: serve Istio YAML (config/istio/README.md). */
export interface IstioServeArgs {
  /** Files or directories (`--istio`, repeatable). */
  paths: string[];
  options: IstioOptions;
}

export interface ServeArgs {
  configPath: string | undefined;
  configYaml: string | undefined;
  serviceNode: string | undefined;
  serviceCluster: string | undefined;
  serviceZone: string | undefined;
  logLevel: LogLevel;
  concurrency: number;
  drainTimeS: number;
  mode: Mode;
  allowUnknownStaticFields: boolean;
  /** `--disable-metrics`: no metric observation on the request path (admin stats are empty). */
  disableMetrics: boolean;
  /** `--enable-explain`: the admin `/explain` endpoint (off by default). */
  enableExplain: boolean;
  /** `--allow-unenforced-security-filters`: skip RBAC / ext_authz / JWT filters instead of rejecting their listener. */
  allowUnenforcedSecurityFilters: boolean;
  /** `--upstream-client` when given: native (the default, ConnPool) or undici (src/upstream/upstream-client.ts). */
  upstreamClient?: 'native' | 'undici';
  /** `--downstream-server` when given: native (the default, src/proxy/h1-server.ts) or node (node:http). */
  downstreamServer?: 'native' | 'node';
  /** Present only when `--istio` is given. */
  istio?: IstioServeArgs;
}

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'serve'; args: ServeArgs }
  | { kind: 'subcommand'; name: Subcommand; argv: string[] };

/** `list`: repeatable, every value kept in order (`--istio a --istio b`). */
type FlagKind = 'string' | 'bool' | 'list';
export type FlagValue = string | boolean | string[];
export interface FlagSpec {
  names: readonly string[];
  kind: FlagKind;
  key: string;
}

export const SERVE_FLAGS: readonly FlagSpec[] = [
  { names: ['-c', '--config-path'], kind: 'string', key: 'configPath' },
  { names: ['--config-yaml'], kind: 'string', key: 'configYaml' },
  { names: ['--service-node'], kind: 'string', key: 'serviceNode' },
  { names: ['--service-cluster'], kind: 'string', key: 'serviceCluster' },
  { names: ['--service-zone'], kind: 'string', key: 'serviceZone' },
  { names: ['-l', '--log-level'], kind: 'string', key: 'logLevel' },
  { names: ['--concurrency'], kind: 'string', key: 'concurrency' },
  { names: ['--drain-time-s'], kind: 'string', key: 'drainTimeS' },
  { names: ['--mode'], kind: 'string', key: 'mode' },
  { names: ['--allow-unknown-static-fields'], kind: 'bool', key: 'allowUnknownStaticFields' },
  { names: ['--istio'], kind: 'list', key: 'istio' },
  { names: ['--istio-listen'], kind: 'string', key: 'istioListen' },
  { names: ['--istio-namespace'], kind: 'string', key: 'istioNamespace' },
  { names: ['--pick-mode'], kind: 'string', key: 'pickMode' },
  { names: ['--sticky-key'], kind: 'string', key: 'stickyKey' },
  // weir has no hot restart (a new process is a new process), so Envoy's flag to disable it is a no-op.
  { names: ['--disable-hot-restart'], kind: 'bool', key: 'disableHotRestart' },
  { names: ['--disable-metrics'], kind: 'bool', key: 'disableMetrics' },
  { names: ['--enable-explain'], kind: 'bool', key: 'enableExplain' },
  { names: ['--allow-unenforced-security-filters'], kind: 'bool', key: 'allowUnenforcedSecurityFilters' },
  { names: ['--upstream-client'], kind: 'string', key: 'upstreamClient' },
  { names: ['--downstream-server'], kind: 'string', key: 'downstreamServer' },
  { names: ['-h', '--help'], kind: 'bool', key: 'help' },
  { names: ['--version'], kind: 'bool', key: 'version' },
];

/**
 * Generic flag reader: `--flag value`, `--flag=value`, boolean `--flag`. Returns the raw values
 * by key; unknown flags and stray positionals are UsageErrors naming the command.
 */
export function readFlags(argv: readonly string[], specs: readonly FlagSpec[], command: string): Record<string, FlagValue> {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const out: Record<string, FlagValue> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    let name = arg;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      name = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    }
    const spec = byName.get(name);
    if (!spec) {
      if (!arg.startsWith('-') || arg === '-')
        throw new UsageError(`${command}: unexpected argument '${arg}' (see 'weir --help')`);
      throw new UsageError(`${command}: unknown flag '${name}' (see 'weir --help')`);
    }
    if (spec.kind === 'bool') {
      if (inline !== undefined) throw new UsageError(`${command}: flag '${name}' takes no value`);
      out[spec.key] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new UsageError(`${command}: flag '${name}' needs a value`);
      i++;
    }
    if (spec.kind === 'list') {
      const prev = out[spec.key];
      out[spec.key] = Array.isArray(prev) ? [...prev, value] : [value];
      continue;
    }
    out[spec.key] = value;
  }
  return out;
}

function intFlag(raw: FlagValue | undefined, name: string, dflt: number, min: number): number {
  if (raw === undefined) return dflt;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min)
    throw new UsageError(`flag '${name}' must be an integer >= ${min} (got '${String(raw)}')`);
  return Number(raw);
}

/** Turns raw serve flags into `ServeArgs` (validating values as Envoy does). */
export function toServeArgs(raw: Record<string, FlagValue>): ServeArgs {
  let logLevel: LogLevel = 'info';
  if (raw.logLevel !== undefined) {
    const l = parseLogLevel(String(raw.logLevel));
    if (!l)
      throw new UsageError(`flag '--log-level': invalid level '${String(raw.logLevel)}' (trace, debug, info, warning, error, critical, off)`);
    logLevel = l;
  }
  const mode = (raw.mode ?? 'serve') as string;
  if (mode !== 'serve' && mode !== 'validate' && mode !== 'init_only')
    throw new UsageError(`flag '--mode': invalid mode '${mode}' (serve, validate, init_only)`);
  const s = (k: string): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const istio = toIstioArgs(raw, s);
  const upstreamClient = s('upstreamClient');
  if (upstreamClient !== undefined && upstreamClient !== 'native' && upstreamClient !== 'undici')
    throw new UsageError(`flag '--upstream-client': invalid client '${upstreamClient}' (native, undici)`);
  const downstreamServer = s('downstreamServer');
  if (downstreamServer !== undefined && downstreamServer !== 'native' && downstreamServer !== 'node')
    throw new UsageError(`flag '--downstream-server': invalid server '${downstreamServer}' (native, node)`);
  const concurrency = intFlag(raw.concurrency, '--concurrency', 1, 1);
  // Each worker would watch and apply on its own; the primary could not say which version is live.
  if (istio && concurrency > 1) throw new UsageError("flag '--istio' works with --concurrency 1 only");
  return {
    configPath: s('configPath'),
    configYaml: s('configYaml'),
    serviceNode: s('serviceNode'),
    serviceCluster: s('serviceCluster'),
    serviceZone: s('serviceZone'),
    logLevel,
    concurrency,
    drainTimeS: intFlag(raw.drainTimeS, '--drain-time-s', DEFAULT_DRAIN_TIME_S, 0),
    mode,
    allowUnknownStaticFields: raw.allowUnknownStaticFields === true,
    disableMetrics: raw.disableMetrics === true,
    enableExplain: raw.enableExplain === true,
    allowUnenforcedSecurityFilters: raw.allowUnenforcedSecurityFilters === true,
    ...(upstreamClient !== undefined ? { upstreamClient } : {}),
    ...(downstreamServer !== undefined ? { downstreamServer } : {}),
    ...(istio ? { istio } : {}),
  };
}

function toIstioArgs(raw: Record<string, FlagValue>, s: (k: string) => string | undefined): IstioServeArgs | undefined {
  const paths = Array.isArray(raw.istio) ? raw.istio : [];
  if (paths.length === 0) {
    for (const [k, f] of [['istioListen', '--istio-listen'], ['istioNamespace', '--istio-namespace'], ['pickMode', '--pick-mode'], ['stickyKey', '--sticky-key']])
      if (raw[k as string] !== undefined) throw new UsageError(`flag '${f}' needs --istio <file-or-dir>`);
    return undefined;
  }
  const options: IstioOptions = {};
  const listen = s('istioListen');
  if (listen !== undefined) {
    // Required here, not imported: `weir --help` must not load the Istio translator.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { parseListen } = require('./translate') as typeof import('./translate');
    options.listen = parseListen(listen);
  }
  const ns = s('istioNamespace');
  if (ns !== undefined) options.namespace = ns;
  const mode = s('pickMode');
  if (mode !== undefined) {
    if (mode !== 'random' && mode !== 'smooth' && mode !== 'sticky')
      throw new UsageError(`flag '--pick-mode': invalid mode '${mode}' (random, smooth, sticky)`);
    options.defaultPickMode = mode as PickMode;
  }
  const key = s('stickyKey');
  if (key !== undefined) {
    const k = /^(cookie|header):(.+)$/.exec(key);
    if (!k) throw new UsageError(`flag '--sticky-key': expected cookie:<name> or header:<name> (got '${key}')`);
    options.defaultStickyKey = (k[1] === 'cookie' ? { cookie: k[2] } : { header: (k[2] as string).toLowerCase() }) as StickyKey;
  }
  return { paths, options };
}

/** Top-level dispatch: which subcommand, with which arguments. Throws UsageError. */
export function parseArgs(argv: readonly string[]): ParsedCommand {
  const first = argv[0];
  if (first === undefined) throw new UsageError("missing configuration: use 'weir -c <bootstrap.yaml>' (or 'weir --help')");
  if (!first.startsWith('-')) {
    if (!(SUBCOMMANDS as readonly string[]).includes(first))
      throw new UsageError(`unknown command '${first}' (commands: ${SUBCOMMANDS.join(', ')}; see 'weir --help')`);
    if (first !== 'serve') return { kind: 'subcommand', name: first as Subcommand, argv: argv.slice(1) };
    return parseServe(argv.slice(1), 'weir serve');
  }
  return parseServe(argv, 'weir');
}

function parseServe(argv: readonly string[], command: string): ParsedCommand {
  const raw = readFlags(argv, SERVE_FLAGS, command);
  if (raw.help) return { kind: 'help' };
  if (raw.version) return { kind: 'version' };
  const args = toServeArgs(raw);
  if (!args.configPath && !args.configYaml && !args.istio)
    throw new UsageError(`${command}: at least one of --config-path (-c) or --config-yaml is required (or --istio <file-or-dir>)`);
  return { kind: 'serve', args };
}

export const HELP = `weir: an Envoy-compatible traffic-splitting HTTP proxy

Usage:
  weir -c <bootstrap.yaml> [flags]        serve an Envoy v3 bootstrap (same as 'weir serve')
  weir --istio <file-or-dir>... [flags]   serve Istio YAML, reloading it on every change
  weir <command> [args]

Commands:
  serve        run the proxy on an Envoy bootstrap (default)
  demo         start two demo upstreams and weir splitting 90/10 between them (npm start)
  route-check  Envoy router_check_tool: check a route table against test cases
  translate    translate Istio YAML (VirtualService, DestinationRule, ServiceEntry) to Envoy config
  fidelity     measure any proxy's traffic split with statistics (CI verdict)
  explain      show which virtual host, route and cluster a request would get, and why

Serve flags (Envoy's names and defaults):
  -c, --config-path <file>        Envoy v3 bootstrap, YAML or JSON
      --config-yaml <yaml>        bootstrap fragment merged over the file (protobuf MergeFrom:
                                  scalars replace, messages merge, lists concatenate)
      --service-node <id>         overrides node.id
      --service-cluster <name>    overrides node.cluster
      --service-zone <zone>       overrides node.locality.zone
  -l, --log-level <level>         trace, debug, info (default), warning, error, critical, off
      --concurrency <n>           worker processes sharing the listeners (default 1)
      --drain-time-s <s>          how long in-flight requests may take to finish on SIGTERM
                                  (default ${DEFAULT_DRAIN_TIME_S}; SIGINT drains for at most 1 s)
      --mode <mode>               serve (default); validate: check the config, print errors with
                                  file and field path, start nothing; init_only: load, bind, exit
      --allow-unknown-static-fields  unknown bootstrap fields are warnings, not errors
      --disable-hot-restart       accepted for Envoy compatibility (weir has no hot restart)
      --disable-metrics           do not record Istio/Envoy/weir metrics (admin /stats is empty)
      --enable-explain            serve the admin /explain?authority=&path=&header=name:value endpoint
      --allow-unenforced-security-filters  serve listeners whose RBAC / ext_authz / JWT filters weir
                                  cannot enforce, skipping them (default: such a listener is rejected)
      --upstream-client <c>       native (default: node's own HTTP parser, least CPU) or undici;
                                  native falls back to undici, with a warning, on a node without it
      --downstream-server <s>     native (default: a lean HTTP/1.1 server on node's own parser) or
                                  node (node:http); native falls back to node, with a warning

Istio YAML (VirtualService, DestinationRule, ServiceEntry; see config/istio/README.md):
      --istio <file-or-dir>       serve these files (repeatable; a directory means its *.yaml/*.yml);
                                  edits are applied live, an invalid edit is rejected and the last
                                  good config keeps serving; with -c the bootstrap gives admin and
                                  node, without it admin listens on 127.0.0.1:15000 (istio-proxy's)
      --istio-listen <addr>[:<port>]  one listener on <port> routing every service by Host; without a
                                  port, a listener per service port on <addr> (default 127.0.0.1)
      --istio-namespace <ns>      namespace of documents without one, and of weir (default "default")
      --pick-mode <mode>          weighted routes without a weir.io/pick-mode annotation: random
                                  (default, Envoy's), smooth (exact split) or sticky
      --sticky-key <key>          cookie:<name> or header:<name>, for --pick-mode sticky
  -h, --help                      this help
      --version                   print the version

Run 'weir <command> --help' for a command's own flags.
`;
