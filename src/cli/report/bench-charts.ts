/** The charts of `bench --html`, each an inline SVG built on charts.ts. */
import type { LatencyBin } from "../histogram.js";
import {
  chart,
  esc,
  FRAME,
  type Frame,
  formatAxisMs,
  formatCount,
  logTicks,
  niceTicks,
  px,
  scale,
  WIDE,
  yAxis,
} from "./charts.js";

/** Colours of the error codes, in the order the codes sort. */
export const ERROR_COLOURS = ["#e5484d", "#f5a524", "#8e4ec6", "#0090ff", "#e93d82", "#12a594", "#ad7f58"];

/** Left and right ends of the plot and its baseline, in a frame. */
function box(f: Frame) {
  return { x0: f.left, x1: f.width - f.right, yBase: f.height - f.bottom };
}

/** Whole-second ticks for a run of `n` seconds, on a band layout (second i spans [i, i + 1]). */
function secondsAxis(n: number, title: string, f: Frame) {
  const { x0, x1 } = box(f);
  const x = scale(0, n, x0, x1);
  return { x, axis: { title, ticks: niceTicks(0, n, 10, 1).map((s) => ({ at: x(s), label: `${s}s` })) } };
}

/**
 * Successful requests in each second of the run, as steps: each second's level spans its
 * second, with a point in its middle (`data-second`, `data-requests`: the count) and the
 * mean of the complete seconds dashed. A last second the run covered in part (`lastPart`:
 * 0 to 1 of it) spans that part, at its rate (count / part), and its point is hollow.
 */
export function rpsChart(requests: readonly number[], mean: number, lastPart: number): string {
  const n = requests.length;
  const { x0, x1, yBase } = box(WIDE);
  const { x, axis } = secondsAxis(n, "seconds into the run", WIDE);
  const part = (i: number) => (i === n - 1 ? lastPart : 1);
  const rates = requests.map((v, i) => v / part(i));
  // The scale follows the complete seconds: a short last part's rate is noisy, so it may be clipped.
  const whole = lastPart < 1 && n > 1 ? rates.slice(0, -1) : rates;
  const { axis: yAx, y: unclipped } = yAxis(Math.max(1, ...whole), "requests per second", formatCount, WIDE);
  const y = (v: number) => Math.max(FRAME.top, unclipped(v));
  const steps = rates.map((v, i) => `${i === 0 ? `M${px(x(0))} ${px(y(v))}` : `V${px(y(v))}`}H${px(x(i + part(i)))}`);
  const line = steps.join("");
  const area = `${line}V${yBase}H${px(x(0))}Z`;
  const r = n > 90 ? 1.6 : n > 30 ? 2.6 : 3.6;
  const dots = rates
    .map((v, i) => {
      const partial = part(i) < 1;
      const span = partial ? ` (its first ${formatAxisMs(part(i) * 1000)} ms: ${formatCount(v)}/s)` : "";
      const title = `second ${i + 1}: ${formatCount(requests[i]!)} requests${span}`;
      return (
        `<circle class="point${partial ? " partial" : ""}" data-second="${i}" data-requests="${requests[i]}" ` +
        `cx="${px(x(i + part(i) / 2))}" cy="${px(y(v))}" r="${r}"><title>${esc(title)}</title></circle>`
      );
    })
    .join("");
  const meanLine =
    `<line class="mean" x1="${x0}" x2="${x1}" y1="${px(y(mean))}" y2="${px(y(mean))}"/>` +
    `<text class="mean-label" x="${x1 - 4}" y="${px(y(mean) - 6)}" text-anchor="end">mean ${esc(formatCount(mean))}/s</text>`;
  return chart(
    "rps",
    "requests per second over time",
    axis,
    yAx,
    `<path class="area" d="${area}"/><path class="line" d="${line}"/>${meanLine}${dots}`,
    WIDE,
  );
}

/**
 * The latency histogram: one bar per bin (`data-from`, `data-to` in ms, `data-count`), on
 * a linear latency axis, or with `log` a logarithmic one (bins of equal ratio).
 */
export function histogramChart(bins: readonly LatencyBin[], log = false): string {
  const { x0, x1, yBase } = box(FRAME);
  const min = bins[0]!.fromMs;
  const max = bins.at(-1)!.toMs;
  const spread = max > min;
  const lo = spread ? min : min * 0.95;
  const hi = spread ? max : max * 1.05 || 1;
  const linear = scale(log ? Math.log10(lo) : lo, log ? Math.log10(hi) : hi, x0, x1);
  const x = log ? (v: number) => linear(Math.log10(v)) : linear;
  const { axis: yAx, y } = yAxis(Math.max(...bins.map((b) => b.count)), "requests", formatCount);
  const ticks = log ? logTicks(lo, hi) : niceTicks(lo, hi, 6);
  const xAx = {
    title: log ? "latency (ms, log scale)" : "latency (ms)",
    ticks: ticks.map((v) => ({ at: x(v), label: formatAxisMs(v) })),
  };
  const bars = bins
    .map((b) => {
      const left = spread ? x(b.fromMs) : x0;
      const width = Math.max(1, (spread ? x(b.toMs) : x1) - left - 1);
      const title = `${formatAxisMs(b.fromMs)}–${formatAxisMs(b.toMs)} ms: ${formatCount(b.count)} requests`;
      return (
        `<rect class="bar" data-from="${b.fromMs}" data-to="${b.toMs}" data-count="${b.count}" ` +
        `x="${px(left)}" y="${px(y(b.count))}" width="${px(width)}" height="${px(yBase - y(b.count))}">` +
        `<title>${esc(title)}</title></rect>`
      );
    })
    .join("");
  return chart("histogram", "latency histogram", xAx, yAx, bars);
}

/** A point of the percentile curve. */
export interface PercentilePoint {
  p: number;
  ms: number;
}

/** Where percentile `p` sits on a log axis of `1 / (1 - p)`: 90% is 1, 99% is 2, 100% is `decades`. */
function decade(p: number, decades: number): number {
  return p >= 100 ? decades : Math.min(decades, -Math.log10(1 - p / 100));
}

/**
 * Latency by percentile on a log axis (0%, 90%, 99%, 99.9%…), the way HdrHistogram plots
 * it: the curve, and a labelled marker (`data-p`, `data-ms`) at each of `markers`.
 */
export function percentileChart(
  curve: readonly PercentilePoint[],
  markers: readonly (PercentilePoint & { label: string })[],
  decades: number,
): string {
  const { x0, x1 } = box(FRAME);
  const x = scale(0, decades, x0, x1);
  const { axis: yAx, y } = yAxis(
    Math.max(...curve.map((c) => c.ms), ...markers.map((m) => m.ms)),
    "latency (ms)",
    formatAxisMs,
  );
  const labels = Array.from({ length: decades + 1 }, (_, d) =>
    d === 0 ? "0%" : `${Number((100 - 100 / 10 ** d).toFixed(d))}%`,
  );
  const xAx = { title: "percentile", ticks: labels.map((label, d) => ({ at: x(d), label })) };
  const path = curve.map((c, i) => `${i === 0 ? "M" : "L"}${px(x(decade(c.p, decades)))} ${px(y(c.ms))}`).join("");
  const dots = markers
    .map((m) => {
      const cx = x(decade(m.p, decades));
      const cy = y(m.ms);
      const anchor = cx > x1 - 20 ? "end" : "middle";
      return (
        `<g class="marker" data-p="${m.p}" data-ms="${m.ms}"><circle cx="${px(cx)}" cy="${px(cy)}" r="4"/>` +
        `<text x="${px(cx)}" y="${px(cy - 10)}" text-anchor="${anchor}">${esc(m.label)}</text>` +
        `<title>${esc(`${m.label}: ${formatAxisMs(m.ms)} ms`)}</title></g>`
      );
    })
    .join("");
  return chart("percentiles", "latency by percentile", xAx, yAx, `<path class="line" d="${path}"/>${dots}`);
}

/**
 * Failed requests in each second, stacked by code: one bar segment per second and code
 * with any (`data-second`, `data-code`, `data-count`), coloured as the legend.
 */
export function errorsChart(errors: Record<string, readonly number[]>, seconds: number): string {
  const codes = Object.keys(errors);
  const { x0, x1 } = box(WIDE);
  const { x, axis } = secondsAxis(seconds, "seconds into the run", WIDE);
  const totals = Array.from({ length: seconds }, (_, i) => codes.reduce((sum, c) => sum + (errors[c]![i] ?? 0), 0));
  const { axis: yAx, y } = yAxis(Math.max(1, ...totals), "errors per second", formatCount, WIDE);
  const band = (x1 - x0) / seconds;
  const gap = Math.min(2, band * 0.2);
  const rects: string[] = [];
  for (let i = 0; i < seconds; i++) {
    let stacked = 0;
    for (const [k, code] of codes.entries()) {
      const count = errors[code]![i] ?? 0;
      if (count === 0) continue;
      const top = y(stacked + count);
      rects.push(
        `<rect class="error-bar" data-second="${i}" data-code="${esc(code)}" data-count="${count}" ` +
          `fill="${ERROR_COLOURS[k % ERROR_COLOURS.length]}" x="${px(x(i) + gap / 2)}" y="${px(top)}" ` +
          `width="${px(band - gap)}" height="${px(y(stacked) - top)}"><title>${esc(`second ${i + 1}: ${count} × ${code}`)}</title></rect>`,
      );
      stacked += count;
    }
  }
  return chart("errors", "errors over time by code", axis, yAx, rects.join(""), WIDE);
}
