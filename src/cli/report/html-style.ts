/** The report's stylesheet, inlined in its `<style>`: light and dark, system fonts only. */
export const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --ink: #1c2024; --muted: #60646c; --faint: #8b8d98;
  --line: #e4e6eb; --grid: #eef0f3; --accent: #3e63dd; --accent-soft: rgba(62, 99, 221, 0.14);
  --ok: #18794e; --ok-bg: #e9f6ee; --warn: #ad5700; --warn-bg: #fff1e0; --bad: #cd2b31; --bad-bg: #fdecec;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111113; --panel: #18191b; --ink: #edeef0; --muted: #b0b4ba; --faint: #777b84;
    --line: #2b2d31; --grid: #222326; --accent: #7c9cff; --accent-soft: rgba(124, 156, 255, 0.18);
    --ok: #3dd68c; --ok-bg: #132d21; --warn: #ffa057; --warn-bg: #331e0b; --bad: #ff6369; --bad-bg: #3b1219;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
header, main, footer { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { display: flex; justify-content: space-between; align-items: flex-end; gap: 16px; padding-top: 28px; padding-bottom: 18px; }
.eyebrow { margin: 0; color: var(--accent); font-weight: 600; font-size: 13px; letter-spacing: .06em; text-transform: uppercase; }
h1 { margin: 2px 0 4px; font-size: 26px; font-family: var(--mono); font-weight: 600; word-break: break-all; }
.plan { margin: 0; color: var(--muted); }
.status { display: flex; flex-direction: column; align-items: flex-end; gap: 2px; font-weight: 600; padding: 8px 14px; border-radius: 10px; white-space: nowrap; }
.status time { font-weight: 400; font-size: 12px; color: var(--muted); }
.status.ok { color: var(--ok); background: var(--ok-bg); }
.status.errors { color: var(--bad); background: var(--bad-bg); }
.status.interrupted { color: var(--warn); background: var(--warn-bg); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 12px; margin-bottom: 16px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 12px 14px; display: flex; flex-direction: column; }
.card .label { color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; margin: 2px 0; white-space: nowrap; }
.card .value small { font-size: 14px; font-weight: 500; color: var(--muted); margin-left: 3px; }
.card .sub { color: var(--faint); font-size: 12px; }
.card.bad .value { color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
.panel { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px; min-width: 0; }
.panel.wide { grid-column: 1 / -1; }
@media (max-width: 860px) { .grid { grid-template-columns: 1fr; } }
figcaption h2, .panel h2 { margin: 0; font-size: 16px; }
figcaption p, .note { margin: 2px 0 8px; color: var(--muted); font-size: 13px; }
h3 { font-size: 13px; margin: 14px 0 4px; color: var(--muted); }
.chart { display: block; width: 100%; height: auto; font-size: 11px; }
.chart .gridline { stroke: var(--grid); }
.chart .axis, .chart .tickmark { stroke: var(--faint); }
.chart .tick { fill: var(--muted); font-variant-numeric: tabular-nums; }
.chart .axis-title { fill: var(--muted); font-size: 11px; }
.chart .area { fill: var(--accent-soft); }
.chart .line { fill: none; stroke: var(--accent); stroke-width: 2; stroke-linejoin: round; }
.chart .point { fill: var(--panel); stroke: var(--accent); stroke-width: 2; }
.chart .point.partial { stroke-dasharray: 2 2; }
.chart .mean { stroke: var(--muted); stroke-dasharray: 5 4; }
.chart .mean-label { fill: var(--muted); font-size: 11px; }
.chart .bar { fill: var(--accent); opacity: .85; }
.chart .bar:hover, .chart .error-bar:hover { opacity: 1; stroke: var(--ink); }
.chart .marker circle { fill: var(--accent); stroke: var(--panel); stroke-width: 2; }
.chart .marker text { fill: var(--ink); font-weight: 600; font-size: 11px; paint-order: stroke; stroke: var(--panel); stroke-width: 3px; }
.figures { display: flex; flex-wrap: wrap; gap: 4px 18px; list-style: none; padding: 0; margin: 6px 0 0; font-size: 13px; }
.figures span { color: var(--muted); }
.figures b { font-variant-numeric: tabular-nums; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; list-style: none; padding: 0; margin: 8px 0 0; font-size: 13px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }
.empty { margin: 12px 0 4px; padding: 28px; text-align: center; color: var(--ok); background: var(--ok-bg); border-radius: 10px; }
dl { margin: 8px 0 0; display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px 16px; }
dl div { border-top: 1px solid var(--line); padding-top: 6px; }
dt { color: var(--muted); font-size: 12px; }
dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
dl div.full { grid-column: 1 / -1; }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
th { text-align: left; color: var(--muted); font-weight: 600; font-size: 12px; border-bottom: 1px solid var(--line); padding: 6px 8px; }
td { border-bottom: 1px solid var(--line); padding: 8px; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.share { width: 40%; white-space: nowrap; font-variant-numeric: tabular-nums; }
.track { display: inline-block; width: calc(100% - 64px); height: 8px; background: var(--grid); border-radius: 4px; margin-right: 10px; vertical-align: middle; overflow: hidden; }
.fill { display: block; height: 100%; background: var(--accent); border-radius: 4px; }
.state { font-size: 12px; padding: 2px 8px; border-radius: 999px; background: var(--ok-bg); color: var(--ok); }
.state.ejected { background: var(--bad-bg); color: var(--bad); }
.state.draining { background: var(--warn-bg); color: var(--warn); }
.first-error { margin: 0; padding: 10px; background: var(--bad-bg); color: var(--bad); border-radius: 8px; white-space: pre-wrap; font: 12px/1.4 var(--mono); }
code { font-family: var(--mono); font-size: .92em; }
footer { color: var(--faint); font-size: 12px; padding-top: 18px; padding-bottom: 32px; }
`;
