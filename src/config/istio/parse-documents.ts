// Kubernetes-style multi-document YAML -> the Istio documents the translator reads. Kinds of
// networking.istio.io v1, v1beta1 and v1alpha3 are read (the three versions share one schema);
// other kinds are skipped with a note, as `kubectl apply` of a mixed file would leave them to
// other controllers.

import { parseAllDocuments } from 'yaml';
import { DEFAULT_NAMESPACE, type IstioConfig, type IstioSource } from './types';
import { isObj, Problems } from './istio-values';

const ISTIO_GROUP = 'networking.istio.io';
const ISTIO_VERSIONS = new Set(['v1', 'v1beta1', 'v1alpha3']);
const KINDS = new Set(['VirtualService', 'DestinationRule', 'ServiceEntry', 'WorkloadEntry']);

export function parseIstioDocuments(sources: readonly IstioSource[], defaultNamespace: string, p: Problems): IstioConfig[] {
  const out: IstioConfig[] = [];
  for (const src of sources) {
    let docs;
    try {
      docs = parseAllDocuments(src.text);
    } catch (e) {
      p.error(src.file, '', `cannot parse YAML: ${(e as Error).message}`);
      continue;
    }
    if (!Array.isArray(docs)) docs = [docs];
    docs.forEach((doc, i) => {
      const n = i + 1;
      if (doc.errors.length > 0) {
        for (const e of doc.errors) p.error(`${src.file}: document ${n}`, '', `invalid YAML: ${e.message.split('\n')[0]}`);
        return;
      }
      const js: unknown = doc.toJS();
      if (js === null || js === undefined) return; // empty document (`---` at the end)
      // `kubectl get -o yaml` writes `kind: List` with `items`.
      if (isObj(js) && js.kind === 'List' && Array.isArray(js.items)) {
        js.items.forEach((item, j) => readOne(item, `${src.file}: document ${n} item ${j}`, defaultNamespace, p, out));
      } else {
        readOne(js, `${src.file}: document ${n}`, defaultNamespace, p, out);
      }
    });
  }
  return out;
}

function readOne(js: unknown, at: string, defaultNamespace: string, p: Problems, out: IstioConfig[]): void {
  if (!isObj(js)) {
    p.error(at, '', 'is not a Kubernetes object (expected a mapping with apiVersion, kind, metadata, spec)');
    return;
  }
  const kind = typeof js.kind === 'string' ? js.kind : '';
  const apiVersion = typeof js.apiVersion === 'string' ? js.apiVersion : '';
  const meta = isObj(js.metadata) ? js.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const where = `${at} (${kind || '<no kind>'}${name ? ' ' + name : ''})`;
  const [group, version] = apiVersion.split('/');
  if (kind === '' || apiVersion === '') {
    p.error(where, '', 'apiVersion and kind are required');
    return;
  }
  if (group !== ISTIO_GROUP || !KINDS.has(kind)) {
    p.note(where, '', `${apiVersion} ${kind} ignored (weir reads networking.istio.io VirtualService, DestinationRule, ServiceEntry, WorkloadEntry)`);
    return;
  }
  if (!ISTIO_VERSIONS.has(version ?? '')) {
    p.error(where, 'apiVersion', `unsupported version "${apiVersion}" (use networking.istio.io/v1, v1beta1 or v1alpha3)`);
    return;
  }
  if (!name) {
    p.error(where, 'metadata.name', 'is required');
    return;
  }
  const ns = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : defaultNamespace || DEFAULT_NAMESPACE;
  const annotations: { [k: string]: string } = {};
  if (isObj(meta.annotations)) {
    for (const [k, v] of Object.entries(meta.annotations)) if (typeof v === 'string') annotations[k] = v;
  }
  if (!isObj(js.spec)) {
    p.error(where, 'spec', 'is required');
    return;
  }
  out.push({
    kind: kind as IstioConfig['kind'],
    apiVersion,
    name,
    namespace: ns,
    annotations,
    spec: js.spec,
    where,
  });
}
