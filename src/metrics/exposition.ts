import type { DurationStats } from "../internal/histogram.js";
import { invariant } from "../internal/invariant.js";

/** The content type of {@link Exposition.text}: Prometheus's text format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge" | "histogram" | "summary";

/** Label names to values, in the order they are written. */
export type Labels = Record<string, string>;

interface Family {
  readonly type: MetricType;
  readonly help: string;
  readonly lines: string[];
}

/**
 * Samples gathered into metric families and written in the text exposition format 0.0.4:
 * each family once, with its HELP and TYPE lines and then all of its samples, whichever
 * source added them (the format wants a family's lines together).
 *
 * State: `#families`: by name, in the order first added; a family's type and help are set by
 * its first sample and must not change (an Internal mistake of the caller otherwise).
 */
export class Exposition {
  readonly #families = new Map<string, Family>();

  /** One sample of a counter or gauge. Counters are named `…_total` by the caller. */
  sample(name: string, type: "counter" | "gauge", help: string, labels: Labels, value: number): void {
    this.#family(name, type, help).push(`${name}${labelText(labels)} ${formatValue(value)}`);
  }

  /** A histogram of durations kept in ms, written in seconds: `_bucket{le}`, `_sum`, `_count`. */
  durations(name: string, help: string, labels: Labels, h: DurationStats): void {
    const lines = this.#family(name, "histogram", help);
    h.bounds.forEach((ms, i) => {
      const le = formatValue(Number((ms / 1000).toPrecision(12)));
      lines.push(`${name}_bucket${labelText({ ...labels, le })} ${formatValue(h.buckets[i] as number)}`);
    });
    lines.push(`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${formatValue(h.count)}`);
    lines.push(`${name}_sum${labelText(labels)} ${formatValue(h.sum / 1000)}`);
    lines.push(`${name}_count${labelText(labels)} ${formatValue(h.count)}`);
  }

  /** A summary from precomputed quantiles (seconds), with its `_sum` and `_count`. */
  summary(name: string, help: string, quantiles: Array<[number, number]>, sum: number, count: number): void {
    const lines = this.#family(name, "summary", help);
    for (const [q, v] of quantiles) lines.push(`${name}${labelText({ quantile: String(q) })} ${formatValue(v)}`);
    lines.push(`${name}_sum ${formatValue(sum)}`);
    lines.push(`${name}_count ${formatValue(count)}`);
  }

  /** Every family that has samples, ending in a newline (empty when there are none). */
  text(): string {
    let out = "";
    for (const [name, f] of this.#families) {
      out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.type}\n${f.lines.join("\n")}\n`;
    }
    return out;
  }

  #family(name: string, type: MetricType, help: string): string[] {
    let f = this.#families.get(name);
    if (f === undefined) {
      f = { type, help, lines: [] };
      this.#families.set(name, f);
    }
    invariant(f.type === type, `metric ${name} written as a ${type} after a ${f.type}`);
    return f.lines;
  }
}

/** `{a="x",b="y"}`, or nothing when there are no labels. */
function labelText(labels: Labels): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) parts.push(`${k}="${escapeLabelValue(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** HELP text: backslash and newline escaped. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/** A sample value: Go's float syntax for the special values, JavaScript's shortest form otherwise. */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}
