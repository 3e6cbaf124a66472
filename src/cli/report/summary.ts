import type { BenchSettings } from "../bench-settings.js";
import { formatBytes, formatDuration, formatMs, formatRate, table } from "../format.js";
import type { BenchReport } from "./bench-report.js";

/** The widest histogram bar, in `■`. */
const BAR_WIDTH = 40;

/**
 * The summary `bench` prints on a terminal: a head line with the plan, a table of the
 * figures, then the latency histogram. An interrupted run says so first.
 */
export function renderSummary(s: BenchSettings, report: BenchReport, htmlPath?: string): string {
  const l = report.latencyMs;
  const r = report.rpsPerSecond;
  const errors = Object.entries(report.errorCodes).map(([code, n]) => `${code} × ${n}`);
  const cut = report.interrupted ? "by Ctrl-C" : "at the deadline";
  const cancelled = report.cancelled > 0 ? `, ${report.cancelled} cancelled ${cut}` : ", 0 cancelled";
  const rows: [string, string][] = [];
  if (report.interrupted) {
    rows.push(["interrupted", `by Ctrl-C after ${formatMs(report.durationMs)}: the figures cover the run until then`]);
  }
  rows.push(
    [
      "requests",
      `${report.requests} (${report.errors} errors${cancelled})${errors.length ? `: ${errors.join(", ")}` : ""}`,
    ],
    ["duration", formatMs(report.durationMs)],
    ["throughput", `${formatRate(report.rps)} req/s, ${formatRate(report.bytesPerSec / 1e6)} MB/s`],
    [
      "req/s",
      `min ${formatRate(r.min)}   mean ${formatRate(r.mean)}   max ${formatRate(r.max)}   stdev ${formatRate(r.stdev)}` +
        `   (per second of the run, ${r.samples} ${r.samples === 1 ? "sample" : "samples"})`,
    ],
    ["latency", `p50 ${formatMs(l.p50)}   p90 ${formatMs(l.p90)}   p99 ${formatMs(l.p99)}   max ${formatMs(l.max)}`],
    ["sockets", `${report.sockets.opened} opened, ${report.sockets.reused} reused (pool of ${s.pool})`],
    ["retries", `${report.sockets.retries} (requests rerun on a fresh socket after a reused one died unseen)`],
  );
  if (report.firstError) rows.push(["first error", report.firstError]);
  for (const [i, x] of (report.replicas ?? []).entries()) {
    const state = x.state === "active" ? "" : `, ${x.state}`;
    const ejections = x.ejections === 0 ? "" : ` (ejections: ${x.ejections})`;
    const share = `${(x.share * 100).toFixed(1).padStart(5)}%`;
    const line = `${share}  ${x.endpoint}  ${x.requests} requests, ${x.errors} errors${state}${ejections}`;
    rows.push([i === 0 ? "replicas" : "", line]);
  }
  if (htmlPath !== undefined) rows.push(["report", htmlPath]);
  return `${headLine(s)}\n\n${table(rows)}\n\n${renderHistogram(report.histogram)}`;
}

function headLine(s: BenchSettings): string {
  const plan = s.requests === undefined ? `for ${formatDuration(s.duration ?? 0)}` : `${s.requests} requests`;
  const rate = s.rate === undefined ? "" : `, at most ${s.rate}/s`;
  return `bench ${s.key}${s.rpc ? " (rpc)" : ""}: ${plan}, concurrency ${s.concurrency}, ${formatBytes(s.size)} each${rate}`;
}

/**
 * The latency histogram in the manner of `hey`: one line per bar, its range, its count and
 * a bar of `■` as long as its share of the fullest bar (at least one for a bar that is not
 * empty). Bounds share one unit, so the columns read down.
 */
export function renderHistogram(histogram: BenchReport["histogram"]): string {
  const { bins, spacing } = histogram;
  if (bins.length === 0) return "Latency histogram: no successful request\n";
  const max = Math.max(...bins.map((b) => b.count));
  const slowest = bins.at(-1)!.toMs;
  const [unit, scale] = slowest >= 10_000 ? ["s", 1000] : slowest >= 1 ? ["ms", 1] : ["µs", 0.001];
  const digits = slowest / scale >= 100 ? 1 : 3;
  const from = bins.map((b) => (b.fromMs / scale).toFixed(digits));
  const to = bins.map((b) => `${(b.toMs / scale).toFixed(digits)} ${unit}`);
  const counts = bins.map((b) => `[${b.count}]`);
  const width = (xs: string[]) => Math.max(...xs.map((x) => x.length));
  const lines = bins.map((b, i) => {
    const len = b.count === 0 ? 0 : Math.max(1, Math.round((b.count * BAR_WIDTH) / max));
    const range = `${from[i]!.padStart(width(from))} – ${to[i]!.padStart(width(to))}`;
    return `  ${range} ${counts[i]!.padEnd(width(counts))} |${"■".repeat(len)}`;
  });
  const title =
    spacing === "log"
      ? "Latency histogram (log-spaced: the slowest took 10× the fastest or more):"
      : "Latency histogram:";
  return `${title}\n${lines.join("\n")}\n`;
}
