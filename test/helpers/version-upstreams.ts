// Upstreams for the Istio examples: every ServiceEntry endpoint of a config/istio/*.yaml file gets
// a server on 127.0.0.1 port 0 that answers with the endpoint's labels (`x-service` from `app`,
// `x-version` from `version`, body `<app>/<version>`) and echoes the `x-version` request header it
// received as `x-seen-version` (two-services: A's route sets it for B). The file is rewritten so
// each endpoint points at its server; the same mapping rewrites any edited version of the file (original or
// already rewritten), and an endpoint that appears only in an edit gets its own server.

import * as YAML from 'yaml';
import { startUpstream, type TestUpstream } from './upstream-servers';

export interface LabelledUpstream {
  readonly service: string;
  readonly version: string;
  readonly upstream: TestUpstream;
}

export interface VersionUpstreams {
  /** Upstreams by `<original address>:<original port>` of the endpoint. */
  readonly byEndpoint: ReadonlyMap<string, LabelledUpstream>;
  /** `text` (an example file, original or edited) with every endpoint port pointing at its server. */
  rewrite(text: string): Promise<string>;
  /** Requests received by `<service>/<version>`. */
  count(label: string): number;
  close(): Promise<void>;
}

type Obj = { [k: string]: unknown };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function startLabelled(service: string, version: string): Promise<TestUpstream> {
  const body = service + '/' + version;
  return startUpstream((req, res) => {
    req.resume();
    const seen = req.headers['x-version'];
    res.writeHead(200, {
      'x-service': service,
      'x-version': version,
      'x-seen-version': typeof seen === 'string' ? seen : '',
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
}

export function startVersionUpstreams(): VersionUpstreams {
  const byEndpoint = new Map<string, LabelledUpstream>();
  const ownKeys = new Set<string>();
  const rewrite = async (text: string): Promise<string> => {
    const docs = YAML.parseAllDocuments(text);
    const out: string[] = [];
    for (const doc of docs) {
      const js = doc.toJS() as unknown;
      if (isObj(js) && js.kind === 'ServiceEntry' && isObj(js.spec) && Array.isArray(js.spec.endpoints)) {
        const seName = isObj(js.metadata) ? String(js.metadata.name) : 'unknown';
        for (const ep of js.spec.endpoints as unknown[]) {
          if (!isObj(ep) || !isObj(ep.ports)) continue;
          const labels = isObj(ep.labels) ? ep.labels : {};
          const service = typeof labels.app === 'string' ? labels.app : seName;
          const version = typeof labels.version === 'string' ? labels.version : 'unlabelled';
          for (const name of Object.keys(ep.ports)) {
            const key = String(ep.address) + ':' + String(ep.ports[name]);
            // Already rewritten (an edit of a rewritten text): keep it.
            if (ownKeys.has(key)) continue;
            let u = byEndpoint.get(key);
            if (u === undefined) {
              u = { service, version, upstream: await startLabelled(service, version) };
              byEndpoint.set(key, u);
              ownKeys.add('127.0.0.1:' + String(u.upstream.port));
            }
            ep.ports[name] = u.upstream.port;
          }
        }
      }
      if (js !== null && js !== undefined) out.push(YAML.stringify(js));
    }
    return out.join('---\n');
  };
  return {
    byEndpoint,
    rewrite,
    count(label: string): number {
      let n = 0;
      for (const u of byEndpoint.values()) if (u.service + '/' + u.version === label) n += u.upstream.seen.length;
      return n;
    },
    async close(): Promise<void> {
      await Promise.all([...byEndpoint.values()].map((u) => u.upstream.close()));
    },
  };
}
