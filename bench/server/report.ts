/**
 * The tables bench/server prints: medians over the rounds, min–max spread, same-run ratios.
 * Throughput figures use only the runs that other work did not disturb (see OTHER_DISTURBS),
 * chosen by what the rest of the machine did, never by the run's own result.
 */
import { fmt, median, percent, table } from "../lib/stats.js";
import type { MemorySamples } from "./memory.js";
import { BASELINE, MOONSHOT, SERVER_NAMES, type ServerSpec } from "./peers.js";
import { QUIET_SHARE } from "./quiet.js";
import { type Cell, cellLabel, type QuietWaits, type RunSample, type ThroughputSamples } from "./throughput.js";

/** A load generator above this share of its core may be what limits a run. */
const LOAD_SATURATED = 0.9;
/** Other work above this share of a core during a window disturbed the run. */
const OTHER_DISTURBS = 0.2;
const MOONSHOT_PEERS = MOONSHOT.map((id) => SERVER_NAMES[id]).join(" and ");

export function printThroughput(
  { samples: all, waits }: { samples: ThroughputSamples; waits: QuietWaits },
  servers: ServerSpec[],
  repeats: number,
): void {
  const samples = keepUndisturbed(all);
  const rows: string[][] = [];
  const busyLoad: string[] = [];
  for (const [cell, byServer] of samples) {
    const med = (id: string, key: keyof RunSample) => medianOf(byServer.get(id)?.map((s) => s[key]));
    const moonshot = moonshotRps(byServer);
    for (const spec of servers) {
      const runs = byServer.get(spec.id) ?? [];
      const rps = runs.map((s) => s.rps);
      const name = `${spec.name}${runsNote(runs, repeats)}`;
      if (med(spec.id, "loadCpuShare") >= LOAD_SATURATED) busyLoad.push(`${cellLabel(cell)} ${spec.name}`);
      rows.push([
        ...cellColumns(cell),
        name,
        num(med(spec.id, "rps"), 0),
        spread(rps),
        ratio(med(spec.id, "rps"), med(BASELINE, "rps")),
        ratio(med(spec.id, "rps"), moonshot),
        num(med(spec.id, "p50"), 3),
        num(med(spec.id, "p99"), 3),
        num(med(spec.id, "cpuPerRequestUs"), 1),
        ratio(med(spec.id, "cpuPerRequestUs"), med(BASELINE, "cpuPerRequestUs")),
        percent(med(spec.id, "serverCpuShare")),
        percent(med(spec.id, "loadCpuShare")),
        percent(med(spec.id, "otherCpuShare")),
      ]);
    }
  }
  const vsRaw = `vs ${SERVER_NAMES[BASELINE]}`;
  const headers = ["size", "conns", "server", "req/s", "min–max", vsRaw, "vs moonshot", "p50 ms", "p99 ms"];
  table([...headers, "server CPU µs/req", `CPU ${vsRaw}`, "server CPU", "load CPU", "other CPU"], rows);
  console.log(`\nThe moonshot is the better of ${MOONSHOT_PEERS} in each cell (by median req/s). "server CPU"`);
  console.log(`and "load CPU" are each process's CPU time over the window, as a share of one core; "other CPU"`);
  console.log(`is what the rest of the machine used meanwhile (its busy time minus theirs).`);
  printDisturbed(all, waits);
  if (busyLoad.length > 0) {
    console.log(`\nThe load generator used ≥ ${percent(LOAD_SATURATED)} of its core in these runs, so their req/s`);
    console.log(`may be a lower bound (their CPU µs/req still holds): ${busyLoad.join("; ")}.`);
  }
  printSummary(samples, servers);
}

/** Per cell and server: the runs other work did not disturb, or all of them if it disturbed every one. */
function keepUndisturbed(samples: ThroughputSamples): ThroughputSamples {
  const keep = (runs: RunSample[]) => {
    const clean = runs.filter((s) => !isDisturbed(s));
    return clean.length > 0 ? clean : runs;
  };
  return new Map(
    [...samples].map(([cell, byServer]) => [cell, new Map([...byServer].map(([id, runs]) => [id, keep(runs)]))]),
  );
}

function isDisturbed(sample: RunSample): boolean {
  return sample.otherCpuShare >= OTHER_DISTURBS;
}

/** " (3/5 runs)" when fewer runs than rounds are kept, " (all runs disturbed)" when no run was clean. */
function runsNote(kept: RunSample[], repeats: number): string {
  if (kept.length > 0 && kept.every(isDisturbed)) return " (all runs disturbed)";
  return kept.length < repeats ? ` (${kept.length}/${repeats} runs)` : "";
}

/** How much other work there was: before the runs (the quiet wait) and during their windows. */
function printDisturbed(samples: ThroughputSamples, waits: QuietWaits): void {
  const runs = [...samples.values()].flatMap((byServer) => [...byServer.values()].flat());
  const disturbed = runs.filter(isDisturbed).length;
  const waited = `${fmt(waits.waitedMs / 1000, 0)} s`;
  const quiet = percent(QUIET_SHARE);
  console.log(`\nBefore the runs, ${waited} went to waiting for other work to drop under ${quiet} of a core;`);
  console.log(
    `${waits.notQuiet} runs started without that. During the windows, other work used ≥ ${percent(OTHER_DISTURBS)}`,
  );
  console.log(`of a core in ${disturbed} of ${runs.length} runs. Those runs are left out of the figures above and`);
  console.log(`below whenever the same server and cell has an undisturbed run; the "runs" note counts what is left.`);
}

/** Two compact tables, one row per server and one column per cell: median req/s, and its ratio to the moonshot. */
function printSummary(samples: ThroughputSamples, servers: ServerSpec[]): void {
  const cells = [...samples.values()];
  const headers = ["server", ...[...samples.keys()].map(cellLabel)];
  console.log("\nMedian req/s:\n");
  table(
    headers,
    servers.map((spec) => [spec.name, ...cells.map((byServer) => thousands(medianRps(byServer, spec.id)))]),
  );
  console.log(`\nThe moonshot: median req/s against the better of ${MOONSHOT_PEERS}:\n`);
  table(
    headers,
    servers.map((spec) => [
      spec.name,
      ...cells.map((byServer) => ratio(medianRps(byServer, spec.id), moonshotRps(byServer))),
    ]),
  );
}

function medianRps(byServer: Map<string, RunSample[]>, id: string): number {
  return medianOf(byServer.get(id)?.map((s) => s.rps));
}

/** The better median req/s of the moonshot peers in one cell; -Infinity when neither ran. */
function moonshotRps(byServer: Map<string, RunSample[]>): number {
  return Math.max(...MOONSHOT.map((id) => medianRps(byServer, id)).filter(Number.isFinite));
}

export function printMemory(samples: MemorySamples, servers: ServerSpec[]): void {
  const base = medianOf(samples.rss.get(BASELINE));
  table(
    ["server", "RSS bytes/conn", "min–max", `vs ${SERVER_NAMES[BASELINE]}`, "JS heap bytes/conn"],
    servers.map((spec) => {
      const rss = samples.rss.get(spec.id) ?? [];
      const heap = medianOf(samples.heap.get(spec.id));
      return [
        spec.name,
        num(medianOf(rss), 0),
        rss.length > 0 ? `${fmt(Math.min(...rss), 0)}–${fmt(Math.max(...rss), 0)}` : "—",
        ratio(medianOf(rss), base),
        num(heap, 0),
      ];
    }),
  );
}

function cellColumns(cell: Cell): string[] {
  const [size = ""] = cellLabel(cell).split(" @");
  return [size, String(cell.conns)];
}

/** The median, or NaN when there is nothing to take it of. */
function medianOf(values: number[] | undefined): number {
  const finite = (values ?? []).filter(Number.isFinite);
  return finite.length > 0 ? median(finite) : Number.NaN;
}

/** `fmt`, with "—" for a value that could not be measured. */
function num(n: number, digits: number): string {
  return Number.isFinite(n) ? fmt(n, digits) : "—";
}

function ratio(value: number, base: number): string {
  return Number.isFinite(value) && Number.isFinite(base) && base > 0 ? `${fmt(value / base, 2)}×` : "—";
}

function spread(values: number[]): string {
  return values.length > 0 ? `${thousands(Math.min(...values))}–${thousands(Math.max(...values))}` : "—";
}

function thousands(n: number): string {
  return Number.isFinite(n) ? `${fmt(n / 1000, 1)}k` : "—";
}
