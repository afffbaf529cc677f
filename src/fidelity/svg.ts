// The fidelity report as one hand-written SVG (no dependencies): three panels,
//  1. target vs observed share per version, with the 95% Wilson interval as whiskers;
//  2. deviation from target in percentage points, with the interval and the ±tolerance band
//     (the 0-100% scale of panel 1 cannot show a 0.5 pp miss; this one can);
//  3. the running (cumulative) share of each version over the classified responses, with the
//     targets dashed and the funnel a fair random split would stay in 95% of the time.

import type { FidelityReport, SplitTest } from './analyze';
import { Z_95 } from './statistics';

const WIDTH = 900;
const MARGIN_LEFT = 80;
const MARGIN_RIGHT = 30;
const PLOT_WIDTH = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'] as const;
const TARGET_COLOR = '#b0b0b0';
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function n(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

function color(i: number): string {
  return COLORS[i % COLORS.length]!;
}

function text(x: number, y: number, s: string, attrs = ''): string {
  const size = attrs.includes('font-size=') ? '' : ' font-size="12"';
  return '<text x="' + n(x) + '" y="' + n(y) + '" ' + FONT + size + (attrs ? ' ' + attrs : '') + '>' + escapeXml(s) + '</text>';
}

function line(x1: number, y1: number, x2: number, y2: number, attrs: string): string {
  return '<line x1="' + n(x1) + '" y1="' + n(y1) + '" x2="' + n(x2) + '" y2="' + n(y2) + '" ' + attrs + '/>';
}

function rect(x: number, y: number, w: number, h: number, attrs: string): string {
  return '<rect x="' + n(x) + '" y="' + n(y) + '" width="' + n(Math.max(0, w)) + '" height="' + n(Math.max(0, h)) + '" ' + attrs + '/>';
}

/** Tick step giving about `count` ticks over `span`: 1, 2 or 5 times a power of ten. */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / power;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
}

function barsPanel(split: SplitTest, top: number, height: number): string[] {
  const out: string[] = [];
  const bottom = top + height;
  const y = (share: number): number => bottom - share * height;
  out.push(text(MARGIN_LEFT, top - 14, 'Target vs observed share by ' + split.unit + ' (whiskers: 95% Wilson interval)', 'font-size="14" font-weight="bold"'));
  for (let p = 0; p <= 100; p += 20) {
    out.push(line(MARGIN_LEFT, y(p / 100), MARGIN_LEFT + PLOT_WIDTH, y(p / 100), 'stroke="#e5e5e5"'));
    out.push(text(MARGIN_LEFT - 8, y(p / 100) + 4, p + '%', 'text-anchor="end" fill="#555"'));
  }
  const groups = Math.max(1, split.versions.length);
  const groupWidth = PLOT_WIDTH / groups;
  const barWidth = Math.min(80, groupWidth * 0.32);
  split.versions.forEach((r, i) => {
    const cx = MARGIN_LEFT + groupWidth * (i + 0.5);
    const tx = cx - barWidth - 2;
    const ox = cx + 2;
    out.push('<g class="version" data-version="' + escapeXml(r.version) + '">');
    out.push(rect(tx, y(r.target), barWidth, r.target * height, 'class="target" fill="' + TARGET_COLOR + '"'));
    out.push(text(tx + barWidth / 2, y(r.target) - 4, (r.target * 100).toFixed(1) + '%', 'text-anchor="middle" fill="#555"'));
    out.push(rect(ox, y(r.share), barWidth, r.share * height, 'class="observed" fill="' + color(i) + '"'));
    const wx = ox + barWidth / 2;
    if (split.n > 0) {
      out.push(line(wx, y(r.interval[1]), wx, y(r.interval[0]), 'class="whisker" stroke="#000" stroke-width="1.5"'));
      out.push(line(wx - 6, y(r.interval[1]), wx + 6, y(r.interval[1]), 'stroke="#000" stroke-width="1.5"'));
      out.push(line(wx - 6, y(r.interval[0]), wx + 6, y(r.interval[0]), 'stroke="#000" stroke-width="1.5"'));
    }
    out.push(text(ox + barWidth / 2 + 10, y(r.share) - 4, (r.share * 100).toFixed(2) + '%', 'text-anchor="start" font-weight="bold"'));
    out.push(text(cx, bottom + 18, r.version, 'text-anchor="middle" font-size="13" font-weight="bold"'));
    out.push(text(cx, bottom + 33, r.count + ' ' + split.unit, 'text-anchor="middle" fill="#555" font-size="11"'));
    out.push('</g>');
  });
  out.push(line(MARGIN_LEFT, bottom, MARGIN_LEFT + PLOT_WIDTH, bottom, 'stroke="#333"'));
  // Legend.
  const lx = MARGIN_LEFT + PLOT_WIDTH - 190;
  out.push(rect(lx, top - 26, 12, 12, 'fill="' + TARGET_COLOR + '"'), text(lx + 16, top - 16, 'target'));
  out.push(rect(lx + 70, top - 26, 12, 12, 'fill="' + color(0) + '"'), text(lx + 86, top - 16, 'observed'));
  return out;
}

function deviationPanel(split: SplitTest, tolerance: number, top: number, height: number): string[] {
  const out: string[] = [];
  const bottom = top + height;
  let extent = tolerance * 1.5;
  for (const r of split.n === 0 ? [] : split.versions) {
    extent = Math.max(extent, Math.abs(r.interval[0] - r.target), Math.abs(r.interval[1] - r.target));
  }
  extent = Math.min(extent * 1.1, 1);
  const step = niceStep(2 * extent * 100, 6) / 100;
  extent = Math.ceil(extent / step) * step;
  const y = (d: number): number => top + ((extent - d) / (2 * extent)) * height;
  out.push(text(MARGIN_LEFT, top - 14, 'Deviation from target (percentage points; band: ±' + (tolerance * 100).toFixed(2) + ' pp tolerance)', 'font-size="14" font-weight="bold"'));
  out.push(rect(MARGIN_LEFT, y(tolerance), PLOT_WIDTH, y(-tolerance) - y(tolerance), 'class="tolerance" fill="#2ca02c" fill-opacity="0.12"'));
  for (let d = -extent; d <= extent + step / 2; d += step) {
    const v = Math.abs(d) < step / 1000 ? 0 : d;
    out.push(line(MARGIN_LEFT, y(v), MARGIN_LEFT + PLOT_WIDTH, y(v), v === 0 ? 'stroke="#333"' : 'stroke="#e5e5e5"'));
    out.push(text(MARGIN_LEFT - 8, y(v) + 4, (v > 0 ? '+' : '') + (v * 100).toFixed(step * 100 < 1 ? 2 : step * 100 < 10 ? 1 : 0), 'text-anchor="end" fill="#555"'));
  }
  const groups = Math.max(1, split.versions.length);
  const groupWidth = PLOT_WIDTH / groups;
  if (split.n === 0) out.push(text(MARGIN_LEFT + PLOT_WIDTH / 2, top + height / 2 - 8, 'no classified ' + split.unit, 'text-anchor="middle" fill="#c00"'));
  split.versions.forEach((r, i) => {
    const cx = MARGIN_LEFT + groupWidth * (i + 0.5);
    out.push(text(cx, bottom + 18, r.version, 'text-anchor="middle" font-size="13" font-weight="bold"'));
    if (split.n === 0) return;
    const lo = Math.max(-extent, r.interval[0] - r.target);
    const hi = Math.min(extent, r.interval[1] - r.target);
    out.push(line(cx, y(hi), cx, y(lo), 'stroke="' + color(i) + '" stroke-width="2"'));
    out.push(line(cx - 8, y(hi), cx + 8, y(hi), 'stroke="' + color(i) + '" stroke-width="2"'));
    out.push(line(cx - 8, y(lo), cx + 8, y(lo), 'stroke="' + color(i) + '" stroke-width="2"'));
    const d = Math.max(-extent, Math.min(extent, r.deviation));
    out.push('<circle cx="' + n(cx) + '" cy="' + n(y(d)) + '" r="5" fill="' + color(i) + '"/>');
    out.push(
      text(cx + 12, y(d) + 4, (r.deviation >= 0 ? '+' : '') + (r.deviation * 100).toFixed(2) + ' pp' + (r.outsideTolerance ? '  (outside)' : ''),
        'fill="' + (r.outsideTolerance ? '#c00' : '#222') + '"'),
    );
  });
  out.push(line(MARGIN_LEFT, bottom, MARGIN_LEFT + PLOT_WIDTH, bottom, 'stroke="#999"'));
  return out;
}

function runningPanel(report: FidelityReport, targets: ReadonlyMap<string, number>, names: readonly string[], top: number, height: number): string[] {
  const out: string[] = [];
  const bottom = top + height;
  const xs = report.running.x;
  const maxX = xs.length === 0 ? 1 : xs[xs.length - 1]!;
  const x = (v: number): number => MARGIN_LEFT + (v / maxX) * PLOT_WIDTH;
  const y = (share: number): number => bottom - share * height;
  out.push(text(MARGIN_LEFT, top - 14, 'Running share (completion order; dashed: target; band: 95% range of a fair random split)', 'font-size="14" font-weight="bold"'));
  for (let p = 0; p <= 100; p += 20) {
    out.push(line(MARGIN_LEFT, y(p / 100), MARGIN_LEFT + PLOT_WIDTH, y(p / 100), 'stroke="#e5e5e5"'));
    out.push(text(MARGIN_LEFT - 8, y(p / 100) + 4, p + '%', 'text-anchor="end" fill="#555"'));
  }
  const xStep = Math.max(1, niceStep(maxX, 6));
  for (let v = 0; v <= maxX + xStep / 1000; v += xStep) {
    out.push(line(x(v), bottom, x(v), bottom + 5, 'stroke="#333"'));
    out.push(text(x(v), bottom + 18, String(Math.round(v)), 'text-anchor="middle" fill="#555"'));
  }
  out.push(text(MARGIN_LEFT + PLOT_WIDTH / 2, bottom + 36, 'classified responses', 'text-anchor="middle" fill="#333"'));
  out.push(line(MARGIN_LEFT, bottom, MARGIN_LEFT + PLOT_WIDTH, bottom, 'stroke="#333"'));
  out.push(line(MARGIN_LEFT, top, MARGIN_LEFT, bottom, 'stroke="#333"'));
  names.forEach((name, i) => {
    const target = targets.get(name) ?? 0;
    out.push(line(MARGIN_LEFT, y(target), MARGIN_LEFT + PLOT_WIDTH, y(target), 'stroke="' + color(i) + '" stroke-dasharray="6 4" stroke-opacity="0.7"'));
    // The funnel a fair random split stays inside 95% of the time: target ± 1.96 sqrt(p(1-p)/n).
    if (target > 0 && target < 1 && xs.length > 1) {
      let upper = '';
      let lower = '';
      for (let k = 0; k < xs.length; k++) {
        const half = Z_95 * Math.sqrt((target * (1 - target)) / xs[k]!);
        upper += (k === 0 ? 'M' : 'L') + n(x(xs[k]!)) + ' ' + n(y(Math.min(1, target + half)));
      }
      for (let k = xs.length - 1; k >= 0; k--) {
        const half = Z_95 * Math.sqrt((target * (1 - target)) / xs[k]!);
        lower += 'L' + n(x(xs[k]!)) + ' ' + n(y(Math.max(0, target - half)));
      }
      out.push('<path class="funnel" d="' + upper + lower + 'Z" fill="' + color(i) + '" fill-opacity="0.12" stroke="none"/>');
    }
    const series = report.running.shares[name] ?? [];
    if (series.length > 0) {
      let d = '';
      for (let k = 0; k < series.length; k++) d += (k === 0 ? 'M' : 'L') + n(x(xs[k]!)) + ' ' + n(y(series[k]!));
      out.push('<path class="running" data-version="' + escapeXml(name) + '" d="' + d + '" fill="none" stroke="' + color(i) + '" stroke-width="2"/>');
    }
    // Legend entry.
    const lx = MARGIN_LEFT + i * 150;
    out.push(line(lx, bottom + 52, lx + 22, bottom + 52, 'stroke="' + color(i) + '" stroke-width="3"'));
    out.push(text(lx + 28, bottom + 56, name + ' (target ' + (target * 100).toFixed(1) + '%)'));
  });
  return out;
}

/** Greedy word wrap into at most `maxLines` lines of `width` characters (the last one ellipsised). */
function wrap(s: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of s.split(' ')) {
    if (current !== '' && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current === '' ? word : current + ' ' + word;
    }
  }
  if (current !== '') lines.push(current);
  if (lines.length > maxLines) {
    const kept = lines.slice(0, maxLines);
    const last = kept[maxLines - 1]!;
    kept[maxLines - 1] = (last.length > width - 3 ? last.slice(0, width - 3) : last) + '...';
    return kept;
  }
  return lines.map((l) => (l.length > width ? l.slice(0, width - 3) + '...' : l));
}

/** The report as a standalone SVG document. */
export function renderSvg(report: FidelityReport): string {
  const tested = report.settings.splitUnit === 'users' && report.users !== null ? report.users.split : report.requests;
  const names = report.requests.versions.map((r) => r.version);
  const targets = new Map<string, number>();
  for (const r of report.requests.versions) targets.set(r.version, r.target);

  const height = 1020;
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push('<svg xmlns="http://www.w3.org/2000/svg" width="' + WIDTH + '" height="' + height + '" viewBox="0 0 ' + WIDTH + ' ' + height + '">');
  out.push('<title>' + escapeXml('weir fidelity: ' + report.target.url + ' ' + report.verdict.summary) + '</title>');
  out.push(rect(0, 0, WIDTH, height, 'fill="#fff"'));
  out.push(text(MARGIN_LEFT, 28, 'weir fidelity  ' + report.target.method + ' ' + report.target.url + '  (' + report.target.classify + ')', 'font-size="16" font-weight="bold"'));
  const t = report.traffic;
  out.push(
    text(MARGIN_LEFT, 48,
      t.classified + ' classified of ' + t.sent + ' sent, ' + t.unclassified + ' unclassified, ' + t.errors + ' errors; chi-square p = ' +
        (tested.chiSquare.pValue === 0 ? '0' : tested.chiSquare.pValue < 1e-4 ? tested.chiSquare.pValue.toExponential(2) : tested.chiSquare.pValue.toFixed(4)) +
        (report.users !== null ? '; ' + (report.users.multiVersionShare * 100).toFixed(1) + '% of users saw more than one version' : '') +
        (report.windows.worst !== null
          ? '; worst window of ' + report.windows.size + ': ' + report.windows.worst.version + ' ' + (report.windows.worst.deviationRequests >= 0 ? '+' : '') +
            report.windows.worst.deviationRequests.toFixed(1) + ' (random: ±' + report.windows.worst.randomSd.toFixed(1) + ')'
          : ''),
      'fill="#333"'),
  );
  const verdictLines = wrap(report.verdict.summary, 105, 3);
  verdictLines.forEach((l, i) => {
    out.push(text(MARGIN_LEFT, 68 + i * 15, l, (i === 0 ? 'class="verdict" ' : '') + 'font-weight="bold" fill="' + (report.verdict.pass ? '#1a7f37' : '#c00') + '"'));
  });
  out.push(...barsPanel(tested, 140, 250));
  out.push(...deviationPanel(tested, report.settings.tolerance, 490, 170));
  out.push(...runningPanel(report, targets, names, 740, 200));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
