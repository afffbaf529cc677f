// design.md "One path for all configuration": a resource that arrives over xDS must become the
// same plain object the bootstrap YAML gives. Every static listener and cluster in config/*.yaml is
// encoded to protobuf (as a control plane would send it) and decoded by weir: the result must equal
// the YAML object (up to proto3 defaults, which protobuf cannot carry: `false`, `0`, `""`, `[]`).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { TYPE_URL } from '../../src/config/resources';
import { decodeResource, encodeResource } from '../../src/xds/resource-codec';
import { isObject } from '../../src/util/proto-json';

const ROOT = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');

function dropDefaults(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropDefaults);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === false || x === 0 || x === '' || (Array.isArray(x) && x.length === 0)) continue;
    out[k] = dropDefaults(x);
  }
  return out;
}

t.test('static resources of every config/*.yaml bootstrap survive the xDS wire unchanged', async (t) => {
  const files = fs.readdirSync(path.join(ROOT, 'config')).filter((f) => f.endsWith('.yaml'));
  let checked = 0;
  for (const f of files) {
    const doc = YAML.parse(fs.readFileSync(path.join(ROOT, 'config', f), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const sr = doc?.static_resources;
    if (!isObject(sr)) continue;
    for (const [key, url] of [
      ['listeners', TYPE_URL.LISTENER],
      ['clusters', TYPE_URL.CLUSTER],
    ] as const) {
      const list = Array.isArray(sr[key]) ? (sr[key] as Record<string, unknown>[]) : [];
      for (const r of list) {
        const d = decodeResource(url, encodeResource(url, r));
        t.notOk(d.errors, `${f} ${key} ${String(r.name)}: decodes`);
        t.strictSame(dropDefaults(d.value?.resource), dropDefaults(r), `${f} ${key} ${String(r.name)}: same object`);
        checked++;
      }
    }
  }
  t.ok(checked >= 3, `${checked} resources checked`);
});
