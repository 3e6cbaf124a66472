/** Number formatting shared by the commands' human-readable output. */

/** `0.412 ms`, `12.3 ms`, `4.01 s`. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** `512 B`, `1 KiB`, `1.5 MiB`: binary units, as `--size` prints them back. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[i]}`;
}

/** A rate with sensible precision: `4.99`, `1234`, `0.013`, `0`. */
export function formatRate(perSecond: number): string {
  if (perSecond === 0) return "0";
  if (perSecond >= 100) return Math.round(perSecond).toString();
  if (perSecond >= 1) return perSecond.toFixed(2);
  return perSecond.toFixed(3);
}

/** Rows of `label  value`, labels padded to one width, each line indented by two spaces. */
export function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join("\n");
}

/** A duration as people write it: `2 s`, `250 ms`, `1.5 s`, `2 min`, `1 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms < 120_000 || ms % 60_000 !== 0) return `${Number((ms / 1000).toFixed(3))} s`;
  return `${ms / 60_000} min`;
}
