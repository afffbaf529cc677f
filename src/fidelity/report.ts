// The fidelity report as a terminal table and as JSON.

import { formatP } from './analyze';
import type { FidelityReport, SplitTest } from './analyze';

function pct(x: number, digits = 2): string {
  return (x * 100).toFixed(digits) + '%';
}

function signedPoints(x: number): string {
  const v = x * 100;
  return (v >= 0 ? '+' : '') + v.toFixed(2) + ' pp';
}

function pad(s: string, width: number, right = false): string {
  if (s.length >= width) return s;
  return right ? ' '.repeat(width - s.length) + s : s + ' '.repeat(width - s.length);
}

function table(rows: readonly (readonly string[])[], rightAligned: readonly boolean[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => pad(cell, widths[i]!, rightAligned[i] === true)).join('  ').trimEnd());
}

function splitLines(split: SplitTest, tolerance: number, indent: string): string[] {
  const header = ['version', 'count', 'share', '95% CI', 'target', 'deviation', 'within ±' + (tolerance * 100).toFixed(2) + ' pp'];
  const rows: string[][] = [header];
  for (const r of split.versions) {
    const inBand = r.share >= r.target - tolerance && r.share <= r.target + tolerance;
    rows.push([
      r.version,
      String(r.count),
      pct(r.share),
      pct(r.interval[0]) + ' – ' + pct(r.interval[1]),
      pct(r.target),
      signedPoints(r.deviation),
      r.outsideTolerance ? 'NO (CI outside)' : inBand ? 'yes' : 'no (CI overlaps)',
    ]);
  }
  const lines = table(rows, [false, true, true, true, true, true, false]).map((l) => indent + l);
  const chi = split.chiSquare;
  lines.push(
    indent +
      'chi-square goodness of fit: ' +
      (chi.statistic === Infinity ? '∞ (a version with target 0 was seen)' : chi.statistic.toFixed(3)) +
      ' with ' + chi.degreesOfFreedom + ' df, p = ' + formatP(chi.pValue) + ' (over ' + split.n + ' ' + split.unit + ')',
  );
  return lines;
}

function kinds(k: Readonly<Record<string, number>>): string {
  const keys = Object.keys(k).sort((a, b) => k[b]! - k[a]!);
  return keys.length === 0 ? '' : ' (' + keys.map((key) => key + ' ×' + k[key]).join(', ') + ')';
}

/** The human-readable report. */
export function formatTable(report: FidelityReport): string {
  const t = report.traffic;
  const s = report.settings;
  const out: string[] = [];
  out.push('weir fidelity: ' + report.target.method + ' ' + report.target.url + '  classify ' + report.target.classify);
  out.push(
    t.sent + ' requests sent, ' + t.completed + ' completed in ' + t.durationSeconds.toFixed(2) + ' s (' + Math.round(t.requestsPerSecond) + ' req/s) over ' +
      report.target.connections + ' connections' +
      (report.target.users > 0 ? ', ' + report.target.users + ' users by ' + report.target.userKey : ''),
  );
  out.push('classified ' + t.classified + ', unclassified ' + t.unclassified + kinds(t.unclassifiedKinds) + ', errors ' + t.errors + kinds(t.errorKinds));
  out.push('');
  out.push('split by requests:');
  out.push(...splitLines(report.requests, s.tolerance, '  '));
  out.push('');
  const w = report.windows.worst;
  if (w === null) {
    out.push('worst window of ' + report.windows.size + ': fewer than ' + report.windows.size + ' classified responses');
  } else {
    const dev = w.deviationRequests;
    out.push(
      'worst window of ' + report.windows.size + ' (of ' + report.windows.count + ', in completion order): ' + w.version + ' ' +
        (dev >= 0 ? '+' : '') + (Number.isInteger(dev) ? String(dev) : dev.toFixed(1)) + ' requests (' +
        (w.deviationPoints >= 0 ? '+' : '') + w.deviationPoints.toFixed(2) + ' pp: ' + w.observed + ' vs ' + w.expected.toFixed(1) + ' expected) in window ' +
        w.index + ' (responses ' + w.first + '–' + (w.first + report.windows.size - 1) + '); a random split deviates by ±' + w.randomSd.toFixed(1) + ' (1 sd)',
    );
  }
  const u = report.users;
  if (u !== null) {
    out.push('');
    out.push(
      'users: ' + u.seen + ' of ' + u.count + ' seen; ' + u.multiVersion + ' (' + pct(u.multiVersionShare) + ') saw more than one version',
    );
    out.push('split by users (each at its majority version):');
    out.push(...splitLines(u.split, s.tolerance, '  '));
  }
  out.push('');
  out.push('sample size: ' + report.sampleSize.explanation);
  out.push(report.verdict.summary);
  for (const warning of report.verdict.warnings) out.push('  warning: ' + warning);
  return out.join('\n') + '\n';
}

/** The report as JSON (stable field names; shares and tolerances are fractions, not percentages). */
export function formatJson(report: FidelityReport): string {
  return JSON.stringify(report, (_key, value: unknown) => (value === Infinity ? 'Infinity' : value), 2) + '\n';
}
