// Envoy's /stats text (`name: value`, sorted) and /stats?format=json from the metric families.
// Envoy's Prometheus names are tag-extracted stat names; this undoes the extraction for the Envoy
// families (`envoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name="c"}` ->
// `cluster.c.upstream_rq_200`). Istio and weir series have no Envoy stat name: they are printed as
// `name{label="value",...}`. Histograms print Envoy's summary form `P50(v) P95(v) P99(v)` estimated
// from the bucket bounds (upper bound of the bucket holding the quantile).

import type { MetricJson } from './metric-family';

type Value = MetricJson['values'][number];

function labelText(labels: Value['labels']): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return '{' + keys.map((k) => `${k}="${String(labels[k])}"`).join(',') + '}';
}

/** The Envoy stat name of one series of an Envoy family, or null when the family is not Envoy's. */
export function envoyStatName(family: string, labels: Value['labels']): string | null {
  const cluster = labels.envoy_cluster_name;
  if (family.startsWith('envoy_cluster_') && cluster !== undefined) {
    let stat = family.slice('envoy_cluster_'.length);
    if (family === 'envoy_cluster_upstream_rq') stat = `upstream_rq_${String(labels.envoy_response_code)}`;
    else if (family === 'envoy_cluster_upstream_rq_xx') stat = `upstream_rq_${String(labels.envoy_response_code_class)}xx`;
    return `cluster.${String(cluster)}.${stat}`;
  }
  const prefix = labels.envoy_http_conn_manager_prefix;
  if (family.startsWith('envoy_http_') && prefix !== undefined) {
    let stat = family.slice('envoy_http_'.length);
    if (family === 'envoy_http_downstream_rq_xx') stat = `downstream_rq_${String(labels.envoy_response_code_class)}xx`;
    return `http.${String(prefix)}.${stat}`;
  }
  return null;
}

function quantile(buckets: { le: number; count: number }[], total: number, q: number): string {
  if (total === 0) return 'nan';
  const want = q * total;
  for (const b of buckets) if (b.count >= want) return Number.isFinite(b.le) ? String(b.le) : 'inf';
  return 'inf';
}

export interface StatLine {
  name: string;
  value: number | string;
}

export function statLines(metrics: readonly MetricJson[], filter: { test(name: string): boolean } | null, usedOnly: boolean): StatLine[] {
  const out: StatLine[] = [];
  for (const m of metrics) {
    if (m.type === 'histogram') {
      // Group bucket values by series (labels without le).
      const series = new Map<string, { labels: Value['labels']; buckets: { le: number; count: number }[]; count: number }>();
      for (const v of m.values) {
        const { le, ...rest } = v.labels;
        const key = JSON.stringify(rest);
        let s = series.get(key);
        if (s === undefined) series.set(key, (s = { labels: rest, buckets: [], count: 0 }));
        if (v.metricName?.endsWith('_bucket')) s.buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: v.value });
        else if (v.metricName?.endsWith('_count')) s.count = v.value;
      }
      for (const s of series.values()) {
        if (usedOnly && s.count === 0) continue;
        const name = envoyStatName(m.name, s.labels) ?? m.name + labelText(s.labels);
        const value = `P0(${quantile(s.buckets, s.count, 0)}) P50(${quantile(s.buckets, s.count, 0.5)}) P95(${quantile(s.buckets, s.count, 0.95)}) P99(${quantile(s.buckets, s.count, 0.99)}) P100(${quantile(s.buckets, s.count, 1)})`;
        out.push({ name, value });
      }
      continue;
    }
    for (const v of m.values) {
      if (usedOnly && v.value === 0) continue;
      out.push({ name: envoyStatName(m.name, v.labels) ?? m.name + labelText(v.labels), value: v.value });
    }
  }
  const f = filter === null ? out : out.filter((l) => filter.test(l.name));
  return f.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function statsText(lines: readonly StatLine[]): string {
  let s = '';
  for (const l of lines) s += `${l.name}: ${l.value}\n`;
  return s;
}

/** Envoy's /stats?format=json: `{"stats":[{"name","value"}...]}` (histograms as their summary text). */
export function statsJson(lines: readonly StatLine[]): string {
  return JSON.stringify({ stats: lines.map((l) => ({ name: l.name, value: l.value })) }, null, 2);
}
