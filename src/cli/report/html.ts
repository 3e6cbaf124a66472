/**
 * `bench --html FILE`: one self-contained page (inline CSS and SVG, no script, nothing
 * fetched) that shows a run: headline figures, requests per second over time, the latency
 * histogram and percentile curve, errors over time by code, per-replica shares, the
 * settings and the sockets. The run's `--json` object is embedded too, for tools.
 */
import type { BenchSettings } from "../bench-settings.js";
import { formatBytes, formatDuration, formatMs, formatRate } from "../format.js";
import type { LoadResult } from "../load.js";
import {
  ERROR_COLOURS,
  errorsChart,
  histogramChart,
  type PercentilePoint,
  percentileChart,
  rpsChart,
} from "./bench-charts.js";
import { type BenchReport, logSpacing, roundBin, us } from "./bench-report.js";
import { esc, formatCount } from "./charts.js";
import { STYLE } from "./html-style.js";

/** The page for one run. `r` gives what the JSON leaves out: the finer histogram and the percentile curve. */
export function renderHtmlReport(s: BenchSettings, report: BenchReport, r: LoadResult, now = new Date()): string {
  const status = report.interrupted
    ? ["interrupted", "Interrupted (Ctrl-C)"]
    : report.errors > 0
      ? ["errors", "Finished with errors"]
      : ["ok", "Finished"];
  const json = JSON.stringify(report).replaceAll("<", "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sockpool bench ${esc(s.key)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <div>
    <p class="eyebrow">sockpool bench</p>
    <h1>${esc(s.key)}</h1>
    <p class="plan">${esc(planText(s))}</p>
  </div>
  <div class="status ${status[0]}" data-field="status" data-interrupted="${report.interrupted}">${esc(status[1]!)}<time datetime="${now.toISOString()}">${esc(now.toISOString().replace("T", " ").slice(0, 19))} UTC</time></div>
</header>
<main>
${cards(report)}
<section class="grid">
  <figure class="panel wide">
    <figcaption><h2>Requests per second</h2><p>${rpsCaption(report)}</p></figcaption>
    ${rpsChart(report.timeline.requests, report.rpsPerSecond.mean, lastSecondPart(report))}
  </figure>
  <figure class="panel">
    <figcaption><h2>Latency histogram</h2><p>${histogramCaption(report)}</p></figcaption>
    ${latencyHistogram(report, r)}
  </figure>
  <figure class="panel">
    <figcaption><h2>Latency by percentile</h2><p>The share of requests at or under each latency.</p></figcaption>
    ${latencyPercentiles(report, r)}
  </figure>
  <figure class="panel wide">
    <figcaption><h2>Errors over time</h2><p>${errorsCaption(report)}</p></figcaption>
    ${errorsSection(report)}
  </figure>
  ${replicasSection(report)}
  <section class="panel">
    <h2>Settings</h2>
    ${definitions(settingsRows(s, report))}
  </section>
  <section class="panel">
    <h2>Sockets</h2>
    ${definitions([
      ["opened", formatCount(report.sockets.opened), "sockets.opened", report.sockets.opened],
      ["reused", formatCount(report.sockets.reused), "sockets.reused", report.sockets.reused],
      ["retries", formatCount(report.sockets.retries), "sockets.retries", report.sockets.retries],
    ])}
    <p class="note">A request that found its reused socket dead before any reply byte ran again on a new one; retries counts those.</p>
    ${report.firstError ? `<h3>First error</h3><pre class="first-error">${esc(report.firstError)}</pre>` : ""}
  </section>
</section>
</main>
<footer>Made by <code>sockpool bench --html</code>. The run as <code>--json</code> prints it is in this page: <code>script#bench-json</code>.</footer>
<script type="application/json" id="bench-json">${json}</script>
</body>
</html>
`;
}

function planText(s: BenchSettings): string {
  const plan =
    s.requests === undefined ? `for ${formatDuration(s.duration ?? 0)}` : `${formatCount(s.requests)} requests`;
  const rate = s.rate === undefined ? "" : `, at most ${s.rate}/s`;
  return `${s.rpc ? "RPC echo" : "Echo"} ${plan}, ${s.concurrency} at once over a pool of ${s.pool}, ${formatBytes(s.size)} each${rate}`;
}

/** The headline figures; each carries its JSON field and value. */
function cards(report: BenchReport): string {
  const l = report.latencyMs;
  const items: [string, string, string, number, string][] = [
    ["Requests", formatCount(report.requests), "requests", report.requests, "completed"],
    ["Throughput", rate(report.rps), "rps", report.rps, "successful req/s"],
    ["p50 latency", formatMs(l.p50), "latencyMs.p50", l.p50, `p90 ${formatMs(l.p90)}`],
    ["p99 latency", formatMs(l.p99), "latencyMs.p99", l.p99, `max ${formatMs(l.max)}`],
    [
      "Errors",
      formatCount(report.errors),
      "errors",
      report.errors,
      `${formatPercent(report.errors, report.requests)} of requests`,
    ],
    ["Cancelled", formatCount(report.cancelled), "cancelled", report.cancelled, cutBy(report)],
    ["Duration", formatMs(report.durationMs), "durationMs", report.durationMs, `${formatBytes(report.bytesPerSec)}/s`],
  ];
  const html = items.map(
    ([label, shown, field, value, sub]) =>
      `<div class="card${field === "errors" && value > 0 ? " bad" : ""}" data-field="${field}" data-value="${value}">` +
      `<span class="label">${esc(label)}</span><span class="value">${withUnit(shown)}</span><span class="sub">${esc(sub)}</span></div>`,
  );
  return `<section class="cards">${html.join("")}</section>`;
}

function cutBy(report: BenchReport): string {
  if (report.interrupted) return "by Ctrl-C";
  return report.settings.durationMs === null ? "cut short" : "at the deadline";
}

/** `83.90 ms` as the number and a smaller unit. */
function withUnit(shown: string): string {
  const [number, unit] = shown.split(" ");
  return unit === undefined ? esc(shown) : `${esc(number!)}<small>${esc(unit)}</small>`;
}

function histogramCaption(report: BenchReport): string {
  const { min, max } = report.latencyMs;
  const log =
    min > 0 && max / min >= 10 ? " The latency axis is logarithmic: the slowest took over 10 times the fastest." : "";
  return `Successful requests by latency, from the fastest (${esc(formatMs(min))}) to the slowest (${esc(formatMs(max))}).${log}`;
}

/** A rate as the terminal prints it, with thousands separated from 1 000 up. */
function rate(perSecond: number): string {
  return perSecond >= 1000 ? formatCount(perSecond) : formatRate(perSecond);
}

function formatPercent(part: number, whole: number): string {
  return whole === 0 ? "0%" : `${Number(((part / whole) * 100).toFixed(2))}%`;
}

/** How much of its last second the run covered, 0 to 1 (1: all of it, or more: a sliver left out). */
function lastSecondPart(report: BenchReport): number {
  const part = (report.durationMs - (report.timeline.requests.length - 1) * 1000) / 1000;
  return Math.min(1, Math.max(0.001, part));
}

function rpsCaption(report: BenchReport): string {
  const r = report.rpsPerSecond;
  const partial =
    lastSecondPart(report) < 1 ? " The last step, hollow, covers only part of a second, at its rate." : "";
  return (
    `Successful requests completed in each second. Over ${r.samples} complete ${r.samples === 1 ? "second" : "seconds"}: ` +
    `<span data-field="rpsPerSecond" data-min="${r.min}" data-mean="${r.mean}" data-max="${r.max}" data-stdev="${r.stdev}">` +
    `min ${esc(rate(r.min))}, mean ${esc(rate(r.mean))}, max ${esc(rate(r.max))}, stdev ${esc(rate(r.stdev))}</span>.${partial}`
  );
}

/**
 * Bars for the page: about √n of them, from 10 to 60, of equal width; of equal ratio on a
 * log axis when the slowest is 10 times the fastest or more, so a long tail does not
 * squeeze the body of the distribution into one bar.
 */
function latencyHistogram(report: BenchReport, r: LoadResult): string {
  const n = r.latency.count;
  if (n === 0) return empty("histogram", "No successful request, so no latency to show.");
  const log = logSpacing(report.latencyMs);
  const bins = r.latency.bins(Math.max(10, Math.min(60, Math.round(Math.sqrt(n)))), log);
  return histogramChart(bins.map(roundBin), log);
}

/**
 * The percentile curve, 20 points a decade up to the decade the run's size supports, and
 * markers at p50, p90 and p99 (the JSON's figures), p99.9 when there is room, and the max.
 */
function latencyPercentiles(report: BenchReport, r: LoadResult): string {
  const n = r.latency.count;
  if (n === 0) return empty("percentiles", "No successful request, so no latency to show.");
  const decades = Math.max(1, Math.min(5, Math.ceil(Math.log10(n))));
  const at = (p: number) => (p === 0 ? report.latencyMs.min : us(r.latency.percentile(p)));
  const curve: PercentilePoint[] = [];
  for (let k = 0; k <= decades * 20; k++) {
    const p = 100 * (1 - 10 ** (-k / 20));
    curve.push({ p, ms: at(p) });
  }
  curve.push({ p: 100, ms: report.latencyMs.max });
  const l = report.latencyMs;
  const markers = [
    { label: "p50", p: 50, ms: l.p50 },
    { label: "p90", p: 90, ms: l.p90 },
    ...(decades >= 2 ? [{ label: "p99", p: 99, ms: l.p99 }] : []),
    ...(decades >= 4 ? [{ label: "p99.9", p: 99.9, ms: at(99.9) }] : []),
    { label: "max", p: 100, ms: l.max },
  ];
  const figures = markers
    .map((m) => `<li data-p="${m.p}" data-ms="${m.ms}"><span>${esc(m.label)}</span> <b>${esc(formatMs(m.ms))}</b></li>`)
    .join("");
  return `${percentileChart(curve, markers, decades)}<ul class="figures">${figures}</ul>`;
}

function errorsCaption(report: BenchReport): string {
  const total = report.errors;
  if (total === 0) return "Failed requests in each second, by error code.";
  return `Failed requests in each second, by error code: ${formatCount(total)} in all.`;
}

function errorsSection(report: BenchReport): string {
  const codes = Object.keys(report.timeline.errors);
  if (codes.length === 0) return empty("errors", "No errors in this run.");
  const legend = codes
    .map(
      (code, k) =>
        `<li data-code="${esc(code)}" data-total="${report.errorCodes[code] ?? 0}"><i style="background:${ERROR_COLOURS[k % ERROR_COLOURS.length]}"></i>` +
        `<code>${esc(code)}</code> <b>${formatCount(report.errorCodes[code] ?? 0)}</b></li>`,
    )
    .join("");
  return `${errorsChart(report.timeline.errors, report.timeline.requests.length)}<ul class="legend">${legend}</ul>`;
}

function replicasSection(report: BenchReport): string {
  const replicas = report.replicas;
  if (replicas === null) return "";
  const rows = replicas
    .map(
      (x) =>
        `<tr class="replica" data-endpoint="${esc(x.endpoint)}" data-share="${x.share}" data-requests="${x.requests}" data-errors="${x.errors}">` +
        `<td><code>${esc(x.endpoint)}</code></td>` +
        `<td class="share"><span class="track"><span class="fill" style="width:${(x.share * 100).toFixed(2)}%"></span></span>${(x.share * 100).toFixed(1)}%</td>` +
        `<td class="num">${formatCount(x.requests)}</td><td class="num">${formatCount(x.errors)}</td>` +
        `<td><span class="state ${esc(x.state)}">${esc(x.state)}</span>${x.ejections > 0 ? ` <small>${x.ejections} ejection${x.ejections === 1 ? "" : "s"}</small>` : ""}</td></tr>`,
    )
    .join("");
  return (
    `<section class="panel wide replicas"><h2>Replicas</h2><p class="note">Each replica's share of the borrows (requests and their retries) and its failed attempts.</p>` +
    `<table><thead><tr><th>replica</th><th>share</th><th class="num">requests</th><th class="num">errors</th><th>state</th></tr></thead><tbody>${rows}</tbody></table></section>`
  );
}

type Row = [string, string, string, unknown];

function settingsRows(s: BenchSettings, report: BenchReport): Row[] {
  const t = report.settings;
  return [
    ["target", s.target, "settings.endpoint", t.endpoint],
    ["protocol", t.protocol, "settings.protocol", t.protocol],
    s.requests === undefined
      ? ["duration", formatDuration(s.duration ?? 0), "settings.durationMs", t.durationMs]
      : ["requests", formatCount(s.requests), "settings.requests", t.requests],
    ["concurrency", String(t.concurrency), "settings.concurrency", t.concurrency],
    ["pool", `${t.pool} sockets${report.replicas ? " per replica" : ""}`, "settings.pool", t.pool],
    ["size", formatBytes(t.size), "settings.size", t.size],
    ["rate", t.rate === null ? "unlimited" : `${t.rate}/s`, "settings.rate", t.rate],
    ["timeout", t.timeoutMs === null ? "none" : formatDuration(t.timeoutMs), "settings.timeoutMs", t.timeoutMs],
  ];
}

function definitions(rows: Row[]): string {
  const items = rows.map(
    ([label, shown, field, value]) =>
      `<div${field === "settings.endpoint" ? ' class="full"' : ""} data-field="${field}" data-value="${esc(String(value))}"><dt>${esc(label)}</dt><dd>${esc(shown)}</dd></div>`,
  );
  return `<dl>${items.join("")}</dl>`;
}

function empty(name: string, text: string): string {
  return `<p class="empty" data-empty="${name}">${esc(text)}</p>`;
}
