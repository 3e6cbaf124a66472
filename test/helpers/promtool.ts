import { spawn } from "node:child_process";

export interface PromtoolResult {
  status: number | null;
  /** Its stdout and stderr together: lint problems and parse errors. */
  output: string;
}

/**
 * Runs the real `promtool check metrics` (Debian's `prometheus` package) with `text` on stdin:
 * status 0 and no output means it parsed and passed every lint. A missing promtool rejects
 * with how to install it; a run past `limitMs` is killed and rejects.
 */
export function promtoolCheck(text: string, limitMs = 10_000): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`promtool check metrics still running after ${limitMs} ms`));
    }, limitMs);
    child.stdout.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const missing = err.code === "ENOENT";
      reject(missing ? new Error("promtool is not installed: apt-get install prometheus (.ci/run installs it)") : err);
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
    child.stdin.on("error", () => {}); // an early exit shows in status and output
    child.stdin.end(text);
  });
}
