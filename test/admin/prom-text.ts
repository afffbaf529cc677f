// A tiny Prometheus text-format (0.0.4) parser for tests: every sample line becomes
// { name, labels, value }; HELP/TYPE lines are checked for shape; anything else fails loudly.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/;

export function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (!name || !type || !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)) throw new Error(`line ${n + 1}: bad TYPE: ${line}`);
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = NAME.exec(line);
    if (!m) throw new Error(`line ${n + 1}: no metric name: ${line}`);
    let rest = line.slice(m[0].length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      while (!rest.startsWith('}')) {
        const l = LABEL.exec(rest);
        if (!l) throw new Error(`line ${n + 1}: bad label at ${JSON.stringify(rest.slice(0, 30))}`);
        labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(l[0].length);
        if (rest.startsWith(',')) rest = rest.slice(1);
        else if (!rest.startsWith('}')) throw new Error(`line ${n + 1}: expected , or }`);
      }
      rest = rest.slice(1);
    }
    if (!rest.startsWith(' ')) throw new Error(`line ${n + 1}: expected a space before the value`);
    const v = rest.trim().split(' ')[0] as string;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') throw new Error(`line ${n + 1}: bad value ${v}`);
    samples.push({ name: m[0], labels, value });
  }
  return { samples, types };
}

/** The samples of `name` whose labels include every label of `want`. */
export function find(samples: readonly Sample[], name: string, want: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
}

/** Sum of the matching samples (0 when none). */
export function sum(samples: readonly Sample[], name: string, want: Record<string, string> = {}): number {
  return find(samples, name, want).reduce((a, s) => a + s.value, 0);
}
