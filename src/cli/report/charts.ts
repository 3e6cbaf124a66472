/**
 * Inline SVG charts for the HTML report: drawn here as text, so the page needs no script
 * and no network. Every data point is an element carrying its figures in `data-*`
 * attributes (and a `<title>` tooltip), so a test can read them back from the DOM.
 */

/** Escapes text for HTML and attribute values. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * About `count` round tick values covering `[min, max]` (1, 2 or 5 times a power of ten
 * apart, and at least `minStep` apart: 1 for whole seconds).
 */
export function niceTicks(min: number, max: number, count = 5, minStep = 0): number[] {
  if (!(max > min)) return [min];
  const raw = Math.max((max - min) / count, minStep);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) ticks.push(round(v, step));
  return ticks;
}

/** Round values (1, 2 and 5 times powers of ten; fewer when they crowd) within `[min, max]`, for a log axis. */
export function logTicks(min: number, max: number): number[] {
  const within = (steps: number[]) => {
    const ticks: number[] = [];
    for (let k = Math.floor(Math.log10(min)); k <= Math.ceil(Math.log10(max)); k++) {
      for (const d of steps) {
        const v = Number((d * 10 ** k).toPrecision(6));
        if (v >= min && v <= max) ticks.push(v);
      }
    }
    return ticks;
  };
  const ticks = within([1, 2, 5]);
  return ticks.length > 8 ? within([1]) : ticks.length < 3 ? within([1, 2, 3, 4, 5, 6, 7, 8, 9]) : ticks;
}

/** A round upper bound for an axis that starts at 0: the last tick at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const ticks = niceTicks(0, max, 4);
  const last = ticks.at(-1)!;
  return last >= max ? last : last + (ticks[1]! - ticks[0]!);
}

function round(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(v.toFixed(Math.min(digits, 12)));
}

/** Plot area inside a chart's viewBox. */
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const FRAME: Frame = { width: 560, height: 260, left: 70, right: 14, top: 14, bottom: 44 };

/** The frame of a chart that spans the page. */
export const WIDE: Frame = { ...FRAME, width: 1120 };

/** A linear scale from a domain onto a pixel range. */
export function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** Two decimals at most, no trailing zeros: coordinates stay short. */
export function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

export interface AxisSpec {
  /** Tick values and where each goes (pixels). */
  ticks: { at: number; label: string }[];
  title: string;
}

/**
 * The frame of a chart: the `<svg>` with its role and label, horizontal grid lines at the
 * y ticks, the axes' labels and titles, and `body` (the marks) drawn over the grid.
 */
export function chart(name: string, label: string, x: AxisSpec, y: AxisSpec, body: string, f = FRAME): string {
  const x0 = f.left;
  const x1 = f.width - f.right;
  const y0 = f.height - f.bottom;
  const y1 = f.top;
  const grid = y.ticks
    .map(
      (t) =>
        `<line class="gridline" x1="${x0}" x2="${x1}" y1="${px(t.at)}" y2="${px(t.at)}"/>` +
        `<text class="tick" x="${x0 - 8}" y="${px(t.at)}" text-anchor="end" dominant-baseline="middle">${esc(t.label)}</text>`,
    )
    .join("");
  const xTicks = x.ticks
    .map(
      (t) =>
        `<line class="tickmark" x1="${px(t.at)}" x2="${px(t.at)}" y1="${y0}" y2="${y0 + 5}"/>` +
        `<text class="tick" x="${px(t.at)}" y="${y0 + 18}" text-anchor="${t.at > x1 - 12 ? "end" : "middle"}">${esc(t.label)}</text>`,
    )
    .join("");
  return (
    `<svg class="chart" data-chart="${esc(name)}" viewBox="0 0 ${f.width} ${f.height}" role="img" aria-label="${esc(label)}">` +
    grid +
    `<line class="axis" x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}"/>` +
    xTicks +
    `<text class="axis-title" x="${(x0 + x1) / 2}" y="${f.height - 6}" text-anchor="middle">${esc(x.title)}</text>` +
    `<text class="axis-title" transform="translate(13 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${esc(y.title)}</text>` +
    body +
    "</svg>"
  );
}

/** Y ticks from 0 to `max` (a nice bound), laid out on the frame. */
export function yAxis(
  max: number,
  title: string,
  format: (v: number) => string,
  f = FRAME,
): { axis: AxisSpec; y: (v: number) => number } {
  const top = niceMax(max);
  const y = scale(0, top, f.height - f.bottom, f.top);
  return { axis: { title, ticks: niceTicks(0, top, 4).map((v) => ({ at: y(v), label: format(v) })) }, y };
}

/** Integers with narrow no-break spaces between thousands: `12 345`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US").replaceAll(",", "\u202f");
}

/** `0.85`, `12.3`, `1 234`: a latency in ms on an axis. */
export function formatAxisMs(ms: number): string {
  if (ms >= 1000) return formatCount(ms);
  if (ms >= 10) return String(Number(ms.toFixed(1)));
  return String(Number(ms.toFixed(3)));
}
