// `weir translate <files...>`: the Envoy resources weir would serve for Istio YAML, printed the way
// `istioctl proxy-config` groups them (listeners, routes, clusters, endpoints), or with `--bootstrap`
// as a static Envoy bootstrap a real Envoy accepts, so users can diff the two proxies.

import { stringify } from 'yaml';
import { ConfigError, UsageError } from '../errors';
import { loadIstioFiles, toStaticBootstrap, translateIstio, type IstioOptions, type PickMode } from '../config/istio';

export const TRANSLATE_USAGE = `usage: weir translate <file-or-dir>... [--format yaml|json] [--bootstrap]
                      [--listen <address>[:<port>] | <port>] [--namespace <ns>]
                      [--pick-mode random|smooth|sticky] [--sticky-key cookie:<name>|header:<name>]

Translates Istio VirtualService, DestinationRule, ServiceEntry and WorkloadEntry YAML into the
Envoy v3 resources istiod produces (listeners, routes, clusters, endpoints).
  --format      yaml (default) or json
  --bootstrap   print a complete static Envoy bootstrap (routes inline, clusters STATIC)
  --listen      where weir listens: an address (one listener per service port), or address:port /
                port (one listener routing every service by Host). Default 127.0.0.1.
  --namespace   namespace of documents without one, and of the proxy (default "default")
  --pick-mode   weir extension: default pick mode of weighted routes (VirtualService annotation
                weir.io/pick-mode overrides it)
  --sticky-key  key of the sticky pick mode when the VirtualService names none`;

/** Parses `--listen`: `127.0.0.1`, `127.0.0.1:15001`, `15001`, `[::1]:15001`. */
export function parseListen(v: string): { address: string; port?: number } {
  const port = (s: string): number => {
    const n = Number(s);
    if (!/^\d+$/.test(s) || n > 65535) throw new UsageError(`--listen: invalid port "${s}"`);
    return n;
  };
  if (/^\d+$/.test(v)) return { address: '127.0.0.1', port: port(v) };
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(v);
  if (v6) return v6[2] === undefined ? { address: v6[1] as string } : { address: v6[1] as string, port: port(v6[2]) };
  const i = v.lastIndexOf(':');
  if (i > 0 && v.indexOf(':') === i) return { address: v.slice(0, i), port: port(v.slice(i + 1)) };
  if (v === '') throw new UsageError('--listen needs a value');
  return { address: v };
}

interface TranslateArgs {
  files: string[];
  format: 'yaml' | 'json';
  bootstrap: boolean;
  options: IstioOptions;
}

export function parseTranslateArgs(argv: readonly string[]): TranslateArgs {
  const out: TranslateArgs = { files: [], format: 'yaml', bootstrap: false, options: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--format': {
        const f = value();
        if (f !== 'yaml' && f !== 'json') throw new UsageError(`--format must be yaml or json, got "${f}"`);
        out.format = f;
        break;
      }
      case '-o':
      case '--output': {
        const f = value();
        if (f !== 'yaml' && f !== 'json') throw new UsageError(`${flag} must be yaml or json, got "${f}"`);
        out.format = f;
        break;
      }
      case '--bootstrap':
        out.bootstrap = true;
        break;
      case '--listen':
        out.options.listen = parseListen(value());
        break;
      case '--namespace':
      case '-n':
        out.options.namespace = value();
        break;
      case '--pick-mode': {
        const m = value();
        if (m !== 'random' && m !== 'smooth' && m !== 'sticky') throw new UsageError(`--pick-mode must be random, smooth or sticky, got "${m}"`);
        out.options.defaultPickMode = m as PickMode;
        break;
      }
      case '--sticky-key': {
        const k = /^(cookie|header):(.+)$/.exec(value());
        if (!k) throw new UsageError('--sticky-key must be cookie:<name> or header:<name>');
        out.options.defaultStickyKey = k[1] === 'cookie' ? { cookie: k[2] as string } : { header: (k[2] as string).toLowerCase() };
        break;
      }
      case '-h':
      case '--help':
        throw new UsageError(TRANSLATE_USAGE);
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown flag ${a}\n${TRANSLATE_USAGE}`);
        out.files.push(a);
    }
  }
  if (out.files.length === 0) throw new UsageError(`no input files\n${TRANSLATE_USAGE}`);
  return out;
}

export interface TranslateIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const PROCESS_IO: TranslateIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/** Exit codes: 0 translated, 1 invalid config or unreadable files, 2 usage. */
export async function main(argv: string[], io: TranslateIo = PROCESS_IO): Promise<number> {
  let args: TranslateArgs;
  try {
    args = parseTranslateArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (argv.includes('--help') || argv.includes('-h')) {
        io.stdout(e.message + '\n');
        return 0;
      }
      io.stderr(e.message + '\n');
      return 2;
    }
    throw e;
  }
  let docs;
  try {
    docs = await loadIstioFiles(args.files);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.stderr(`weir translate: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const result = translateIstio(docs, args.options);
  if (result.errors) {
    io.stderr(`weir translate: configuration rejected (${result.errors.length} error${result.errors.length === 1 ? '' : 's'}):\n`);
    for (const err of result.errors) io.stderr(`  ${err}\n`);
    return 1;
  }
  const { resources, notes, version } = result.value;
  for (const n of notes) io.stderr(`note: ${n}\n`);
  const doc = args.bootstrap
    ? toStaticBootstrap(resources)
    : {
        version_info: resources.versionInfo,
        listeners: resources.listeners,
        routes: resources.routeConfigurations,
        clusters: resources.clusters,
        endpoints: resources.clusterLoadAssignments,
      };
  io.stdout(args.format === 'json' ? JSON.stringify(doc, null, 2) + '\n' : `# weir translate, config version ${version}\n` + stringify(doc, { aliasDuplicateObjects: false, lineWidth: 0 }));
  return 0;
}
