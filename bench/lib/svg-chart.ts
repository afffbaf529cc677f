// Hand-written SVG charts for the benchmark suite (no dependencies), in the style of
// src/fidelity/svg.ts: a document made of stacked panels, each a grouped bar chart (optional
// whiskers for an interval, optional log scale, optional reference band) or a line chart.
// Values are plain numbers; labels are escaped; every number written is rounded to 0.1 px so the
// files stay small and diff well between runs.

import { escapeXml } from '../../src/fidelity/svg';

export const CHART_WIDTH = 900;
const MARGIN_LEFT = 90;
const MARGIN_RIGHT = 30;
const PLOT_WIDTH = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
export const SERIES_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'] as const;
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function r1(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

export function seriesColor(i: number): string {
  return SERIES_COLORS[i % SERIES_COLORS.length]!;
}

export function svgText(x: number, y: number, s: string, attrs = ''): string {
  const size = attrs.includes('font-size=') ? '' : ' font-size="12"';
  return '<text x="' + r1(x) + '" y="' + r1(y) + '" ' + FONT + size + (attrs ? ' ' + attrs : '') + '>' + escapeXml(s) + '</text>';
}

export function svgLine(x1: number, y1: number, x2: number, y2: number, attrs: string): string {
  return '<line x1="' + r1(x1) + '" y1="' + r1(y1) + '" x2="' + r1(x2) + '" y2="' + r1(y2) + '" ' + attrs + '/>';
}

export function svgRect(x: number, y: number, w: number, h: number, attrs: string): string {
  return '<rect x="' + r1(x) + '" y="' + r1(y) + '" width="' + r1(Math.max(0, w)) + '" height="' + r1(Math.max(0, h)) + '" ' + attrs + '/>';
}

/** 1, 2 or 5 times a power of ten, giving about `count` steps over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / power;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
}

/** A short human number: 12345 -> "12.3k", 0.0123 -> "0.0123". */
export function shortNumber(x: number): string {
  if (!Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a >= 1e6) return (x / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
  if (a >= 1e4) return (x / 1e3).toFixed(a >= 1e5 ? 0 : 1) + 'k';
  if (a >= 100 || Number.isInteger(x)) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(2);
}

interface Scale {
  y(v: number): number;
  ticks: { value: number; label: string }[];
}

function linearScale(min: number, max: number, top: number, height: number, format: (v: number) => string): Scale {
  const step = niceStep(max - min, 5);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step || step;
  const ticks: { value: number; label: string }[] = [];
  for (let v = lo, k = 0; v <= hi + step / 1000 && k < 50; v += step, k++) ticks.push({ value: Math.abs(v) < step / 1e6 ? 0 : v, label: format(Math.abs(v) < step / 1e6 ? 0 : v) });
  return { y: (v) => top + height - ((v - lo) / (hi - lo)) * height, ticks };
}

function logScale(min: number, max: number, top: number, height: number, format: (v: number) => string): Scale {
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(min, 1e-12))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(max, lo * 10))));
  const span = Math.log10(hi) - Math.log10(lo);
  const ticks: { value: number; label: string }[] = [];
  for (let v = lo, k = 0; v <= hi * 1.0001 && k < 30; v *= 10, k++) ticks.push({ value: v, label: format(v) });
  return { y: (v) => top + height - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * height, ticks };
}

export interface Bar {
  /** Index into the panel's `series` (colour and legend). */
  readonly series: number;
  readonly value: number;
  /** Whisker (e.g. a 95% interval, or p50..p99). */
  readonly low?: number;
  readonly high?: number;
  /** Text above the bar (default: the value). */
  readonly label?: string;
  /** A second, smaller line of text under the group's axis label for this bar. */
  readonly note?: string;
}

export interface BarPanel {
  readonly kind: 'bars';
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly string[];
  readonly groups: readonly { readonly label: string; readonly bars: readonly Bar[] }[];
  readonly log?: boolean;
  /** Draw the bars from this value instead of the axis (deviation charts: 0). */
  readonly baseline?: number;
  /** A shaded horizontal band, e.g. a tolerance. */
  readonly band?: { readonly low: number; readonly high: number; readonly label: string };
  /** Horizontal reference lines. */
  readonly refs?: readonly { readonly value: number; readonly label: string }[];
  readonly format?: (v: number) => string;
  readonly height?: number;
}

export interface LinePanel {
  readonly kind: 'lines';
  readonly title: string;
  readonly yLabel: string;
  readonly xLabel: string;
  readonly series: readonly { readonly name: string; readonly points: readonly (readonly [number, number])[]; readonly dashed?: boolean }[];
  /** Category labels at x = 0, 1, 2, ... instead of a numeric x axis. */
  readonly xCategories?: readonly string[];
  readonly log?: boolean;
  /** Include 0 in the y range. */
  readonly zero?: boolean;
  readonly format?: (v: number) => string;
  readonly height?: number;
}

export type Panel = BarPanel | LinePanel;

function yAxis(out: string[], scale: Scale, top: number, height: number, yLabel: string): void {
  for (const t of scale.ticks) {
    const y = scale.y(t.value);
    if (y < top - 0.5 || y > top + height + 0.5) continue;
    out.push(svgLine(MARGIN_LEFT, y, MARGIN_LEFT + PLOT_WIDTH, y, t.value === 0 ? 'stroke="#999"' : 'stroke="#e5e5e5"'));
    out.push(svgText(MARGIN_LEFT - 8, y + 4, t.label, 'text-anchor="end" fill="#555"'));
  }
  const cy = top + height / 2;
  out.push(svgText(18, cy, yLabel, 'text-anchor="middle" fill="#333" transform="rotate(-90 18 ' + r1(cy) + ')"'));
}

/** Draws the legend from `y`, wrapping onto more rows as needed; returns the number of rows. */
function legend(out: string[], names: readonly string[], y: number, dashed: readonly boolean[] = []): number {
  let x = MARGIN_LEFT;
  let rows = 1;
  names.forEach((name, i) => {
    const w = 34 + name.length * 7;
    if (x > MARGIN_LEFT && x + w > CHART_WIDTH - MARGIN_RIGHT) {
      x = MARGIN_LEFT;
      y += 20;
      rows++;
    }
    if (dashed[i]) out.push(svgLine(x, y - 4, x + 18, y - 4, 'stroke="' + seriesColor(i) + '" stroke-width="3" stroke-dasharray="5 3"'));
    else out.push(svgRect(x, y - 10, 12, 12, 'fill="' + seriesColor(i) + '"'));
    out.push(svgText(x + 22, y, name));
    x += w;
  });
  return rows;
}

function barPanel(p: BarPanel, top: number): { parts: string[]; height: number } {
  const height = p.height ?? 240;
  const out: string[] = [];
  const fmt = p.format ?? shortNumber;
  out.push(svgText(MARGIN_LEFT, top, p.title, 'font-size="14" font-weight="bold"'));
  const legendRows = legend(out, p.series, top + 20);
  const head = 24 + legendRows * 20;
  const plotTop = top + head;
  const values: number[] = [];
  for (const g of p.groups) for (const b of g.bars) for (const v of [b.value, b.low, b.high]) if (v !== undefined && Number.isFinite(v)) values.push(v);
  if (p.band) values.push(p.band.low, p.band.high);
  for (const r of p.refs ?? []) values.push(r.value);
  const base = p.baseline ?? 0;
  let min = p.log ? Math.min(...values.filter((v) => v > 0)) : Math.min(base, ...values);
  let max = Math.max(base, ...values);
  if (!Number.isFinite(min)) min = p.log ? 1 : 0;
  if (!Number.isFinite(max) || max <= min) max = min + 1;
  const scale = p.log ? logScale(min, max, plotTop, height, fmt) : linearScale(min, max * (max > 0 ? 1.12 : 1), plotTop, height, fmt);
  if (p.band) {
    out.push(svgRect(MARGIN_LEFT, scale.y(p.band.high), PLOT_WIDTH, scale.y(p.band.low) - scale.y(p.band.high), 'fill="#2ca02c" fill-opacity="0.12"'));
    out.push(svgText(MARGIN_LEFT + PLOT_WIDTH - 4, scale.y(p.band.high) - 4, p.band.label, 'text-anchor="end" fill="#2a7a2a" font-size="11"'));
  }
  yAxis(out, scale, plotTop, height, p.yLabel);
  const groups = Math.max(1, p.groups.length);
  const gw = PLOT_WIDTH / groups;
  const maxBars = Math.max(1, ...p.groups.map((g) => g.bars.length));
  const bw = Math.min(70, (gw * 0.8) / maxBars);
  const y0 = p.log ? plotTop + height : scale.y(base);
  p.groups.forEach((g, gi) => {
    const cx = MARGIN_LEFT + gw * (gi + 0.5);
    const left = cx - (bw * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const x = left + bi * bw;
      const y = Number.isFinite(b.value) ? scale.y(b.value) : y0;
      out.push(svgRect(x + 2, Math.min(y, y0), bw - 4, Math.abs(y0 - y), 'fill="' + seriesColor(b.series) + '"'));
      const wx = x + bw / 2;
      let labelY = Math.min(y, y0) - 4;
      if (b.low !== undefined && b.high !== undefined && Number.isFinite(b.low) && Number.isFinite(b.high)) {
        const yl = scale.y(b.low);
        const yh = scale.y(b.high);
        out.push(svgLine(wx, yh, wx, yl, 'stroke="#000" stroke-width="1.5"'));
        out.push(svgLine(wx - 5, yh, wx + 5, yh, 'stroke="#000" stroke-width="1.5"'));
        out.push(svgLine(wx - 5, yl, wx + 5, yl, 'stroke="#000" stroke-width="1.5"'));
        labelY = Math.min(labelY, yh - 4);
      }
      out.push(svgText(wx, labelY, b.label ?? fmt(b.value), 'text-anchor="middle" font-size="10" fill="#222"'));
      if (b.note) out.push(svgText(wx, plotTop + height + 32, b.note, 'text-anchor="middle" font-size="9" fill="#555"'));
    });
    out.push(svgText(cx, plotTop + height + 17, g.label, 'text-anchor="middle" font-size="12" font-weight="bold"'));
  });
  for (const r of p.refs ?? []) {
    const y = scale.y(r.value);
    out.push(svgLine(MARGIN_LEFT, y, MARGIN_LEFT + PLOT_WIDTH, y, 'stroke="#c00" stroke-dasharray="6 4"'));
    out.push(svgText(MARGIN_LEFT + 4, y - 4, r.label, 'fill="#c00" font-size="11"'));
  }
  out.push(svgLine(MARGIN_LEFT, plotTop + height, MARGIN_LEFT + PLOT_WIDTH, plotTop + height, 'stroke="#333"'));
  return { parts: out, height: head + height + 44 };
}

function linePanel(p: LinePanel, top: number): { parts: string[]; height: number } {
  const height = p.height ?? 240;
  const out: string[] = [];
  const fmt = p.format ?? shortNumber;
  out.push(svgText(MARGIN_LEFT, top, p.title, 'font-size="14" font-weight="bold"'));
  const legendRows = legend(out, p.series.map((s) => s.name), top + 20, p.series.map((s) => s.dashed === true));
  const head = 24 + legendRows * 20;
  const plotTop = top + head;
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of p.series) for (const [x, y] of s.points) if (Number.isFinite(x) && Number.isFinite(y)) (xs.push(x), ys.push(y));
  const minY = p.log ? Math.min(...ys.filter((v) => v > 0)) : Math.min(p.zero ? 0 : Infinity, ...ys);
  const maxY = Math.max(...ys);
  const scale = p.log ? logScale(Number.isFinite(minY) ? minY : 1, Number.isFinite(maxY) ? maxY : 10, plotTop, height, fmt) : linearScale(Number.isFinite(minY) ? minY : 0, Number.isFinite(maxY) && maxY > minY ? maxY : minY + 1, plotTop, height, fmt);
  yAxis(out, scale, plotTop, height, p.yLabel);
  const cats = p.xCategories;
  const minX = cats ? 0 : Math.min(0, ...xs);
  const maxX = cats ? Math.max(1, cats.length - 1) : Math.max(1, ...xs);
  const pad = cats ? 30 : 0;
  const x = (v: number): number => MARGIN_LEFT + pad + ((v - minX) / (maxX - minX)) * (PLOT_WIDTH - 2 * pad);
  const bottom = plotTop + height;
  if (cats) {
    cats.forEach((c, i) => {
      out.push(svgLine(x(i), bottom, x(i), bottom + 5, 'stroke="#333"'));
      out.push(svgText(x(i), bottom + 18, c, 'text-anchor="middle" fill="#333"'));
    });
  } else {
    const step = niceStep(maxX - minX, 8);
    for (let v = Math.ceil(minX / step) * step, k = 0; v <= maxX + step / 1000 && k < 40; v += step, k++) {
      out.push(svgLine(x(v), bottom, x(v), bottom + 5, 'stroke="#333"'));
      out.push(svgText(x(v), bottom + 18, shortNumber(v), 'text-anchor="middle" fill="#555"'));
    }
  }
  out.push(svgText(MARGIN_LEFT + PLOT_WIDTH / 2, bottom + 34, p.xLabel, 'text-anchor="middle" fill="#333"'));
  out.push(svgLine(MARGIN_LEFT, bottom, MARGIN_LEFT + PLOT_WIDTH, bottom, 'stroke="#333"'));
  out.push(svgLine(MARGIN_LEFT, plotTop, MARGIN_LEFT, bottom, 'stroke="#333"'));
  p.series.forEach((s, i) => {
    const pts = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
    if (pts.length === 0) return;
    let d = '';
    pts.forEach(([a, b], k) => (d += (k === 0 ? 'M' : 'L') + r1(x(a)) + ' ' + r1(scale.y(b))));
    out.push('<path d="' + d + '" fill="none" stroke="' + seriesColor(i) + '" stroke-width="2"' + (s.dashed ? ' stroke-dasharray="6 4"' : '') + '/>');
    if (pts.length <= 12) for (const [a, b] of pts) out.push('<circle cx="' + r1(x(a)) + '" cy="' + r1(scale.y(b)) + '" r="3.5" fill="' + seriesColor(i) + '"/>');
  });
  return { parts: out, height: head + height + 50 };
}

/** Greedy word wrap at `width` characters. */
function wrap(s: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of s.split(' ')) {
    if (current !== '' && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else current = current === '' ? word : current + ' ' + word;
  }
  if (current !== '') lines.push(current);
  return lines;
}

/** A standalone SVG document: a title, a subtitle (wrapped), then the panels stacked. */
export function renderChart(title: string, subtitle: readonly string[], panels: readonly Panel[]): string {
  const body: string[] = [];
  let y = 30;
  body.push(svgText(MARGIN_LEFT, y, title, 'font-size="17" font-weight="bold"'));
  for (const line of subtitle.flatMap((l) => wrap(l, 118))) {
    y += 17;
    body.push(svgText(MARGIN_LEFT, y, line, 'fill="#444"'));
  }
  y += 36;
  for (const p of panels) {
    const r = p.kind === 'bars' ? barPanel(p, y) : linePanel(p, y);
    body.push(...r.parts);
    y += r.height + 24;
  }
  const height = Math.ceil(y);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<svg xmlns="http://www.w3.org/2000/svg" width="' + CHART_WIDTH + '" height="' + height + '" viewBox="0 0 ' + CHART_WIDTH + ' ' + height + '">\n' +
    '<title>' + escapeXml(title) + '</title>\n' +
    svgRect(0, 0, CHART_WIDTH, height, 'fill="#fff"') + '\n' +
    body.join('\n') +
    '\n</svg>\n'
  );
}
