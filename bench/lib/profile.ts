// Summarises a V8 .cpuprofile (written by `node --cpu-prof`): self time per function, so the
// benchmark can say what stands between weir and nginx without opening a profiler.

import * as fs from 'node:fs';
import * as path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotFunction {
  name: string;
  where: string;
  selfPct: number;
}

/** Where a frame lives, shortened: `dist/src/proxy/stream.js:120`, `node:_http_server`, `undici/lib/...`. */
function shortUrl(url: string, line: number, root: string): string {
  if (url === '') return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) u = u.slice(nm + '/node_modules/'.length);
  else if (u.startsWith(root)) u = path.relative(root, u);
  return `${u}:${line + 1}`;
}

/** The `top` functions by self time, as a share of busy samples (idle excluded; GC and `(program)` kept). */
export function summariseProfile(file: string, root: string, top = 15): HotFunction[] {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const hits = new Map<number, number>();
  if (p.samples && p.samples.length > 0) {
    for (const id of p.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  } else {
    for (const n of p.nodes) hits.set(n.id, n.hitCount ?? 0);
  }
  let total = 0;
  const byFn = new Map<string, { name: string; where: string; hits: number }>();
  for (const [id, h] of hits) {
    const n = byId.get(id);
    if (!n) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    // Share of busy time: an idle event loop is not a cost.
    if (name === '(idle)') continue;
    const where = shortUrl(n.callFrame.url, n.callFrame.lineNumber, root);
    total += h;
    const key = name + '@' + where;
    const e = byFn.get(key);
    if (e) e.hits += h;
    else byFn.set(key, { name, where, hits: h });
  }
  return [...byFn.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, selfPct: (100 * e.hits) / Math.max(1, total) }));
}
