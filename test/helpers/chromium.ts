import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { pathToFileURL } from "node:url";

/** Debian's chromium, when installed. */
export const CHROMIUM = ["chromium", "chromium-browser"].find((bin) => spawnSync(bin, ["--version"]).status === 0);

// Locally a missing chromium skips with a reason; under CI it must fail loudly.
export const chromiumSkip =
  CHROMIUM === undefined && !process.env.CI
    ? "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
    : false;

/** Flags for a headless run that reaches for nothing on the network and leaves no profile behind. */
function flags(profile: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    `--user-data-dir=${profile}`,
  ];
}

/**
 * Runs headless chromium once on `file` with `extra` flags and resolves with its stdout.
 * Its profile lives in a temporary folder removed after the test; a run past `limitMs`
 * is killed and rejects.
 */
async function runChromium(t: TestContext, file: string, extra: string[], limitMs = 30_000): Promise<string> {
  if (CHROMIUM === undefined) throw new Error("chromium is not installed (apt-get install -y chromium)");
  const profile = mkdtempSync(join(tmpdir(), "sockpool-chromium-"));
  t.after(() => rmSync(profile, { recursive: true, force: true }));
  const child = spawn(CHROMIUM, [...flags(profile), ...extra, pathToFileURL(file).href], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  const watchdog = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(watchdog);
  if (code !== 0) throw new Error(`chromium exited with ${code}:\n${err}`);
  return out;
}

/** The DOM chromium built from `file`, serialized (`--dump-dom`). */
export function dumpDom(t: TestContext, file: string): Promise<string> {
  return runChromium(t, file, ["--dump-dom"]);
}

/** Renders `file` into the PNG `out` at `width` × `height`. */
export async function screenshot(t: TestContext, file: string, out: string, width = 1200, height = 900): Promise<void> {
  await runChromium(t, file, [`--screenshot=${out}`, `--window-size=${width},${height}`]);
}
