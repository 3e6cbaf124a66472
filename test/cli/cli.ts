import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";

/** bin/sockpool.js, from dist/test/cli/. */
export const BIN = fileURLToPath(new URL("../../../bin/sockpool.js", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running `sockpool` process with its output so far. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (waiting for it), or rejects at exit. */
  waitFor(pattern: RegExp, stream?: "stdout" | "stderr"): Promise<RegExpMatchArray>;
  /** Resolves once the process has exited (and its pipes closed). */
  exited: Promise<CliResult>;
}

/**
 * Starts `node bin/sockpool.js ...args` with piped stdio (so stdout/stderr are not TTYs).
 * The test's `after` hook kills it (by its own pid) if it is still running; so does a
 * watchdog after `limitMs`, and then `exited` rejects with the output so far.
 */
export function startCli(t: TestContext, args: string[], limitMs = 15_000): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of listeners) l();
  };
  child.stdout?.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    notify();
  });
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    err += s;
    notify();
  });
  // A process that outlives `limitMs` is killed with its output so far in the failure,
  // which says more than the runner's bare "test timed out".
  let overdue = false;
  const watchdog = setTimeout(() => {
    overdue = true;
    child.kill("SIGKILL");
  }, limitMs);
  const exited = once(child, "close").then(([code, signal]) => {
    clearTimeout(watchdog);
    notify();
    if (overdue) throw new Error(`sockpool ${args.join(" ")} still running after ${limitMs} ms:\n${out}\n${err}`);
    return { code, signal, stdout: out, stderr: err } as CliResult;
  });
  let done = false;
  void exited.then(
    () => (done = true),
    () => (done = true),
  );
  const waitFor = (pattern: RegExp, stream: "stdout" | "stderr" = "stdout") =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = (stream === "stdout" ? out : err).match(pattern);
        if (match) {
          listeners.delete(check);
          resolve(match);
        } else if (done || child.exitCode !== null) {
          listeners.delete(check);
          reject(new Error(`sockpool exited (${child.exitCode}) before printing ${pattern}:\n${out}\n${err}`));
        }
      };
      listeners.add(check);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, waitFor, exited };
}

/** Runs `sockpool ...args` to completion. */
export function runCli(t: TestContext, args: string[], limitMs?: number): Promise<CliResult> {
  return startCli(t, args, limitMs).exited;
}

/** Starts `sockpool serve ...args --port 0` and resolves with the process and its port. */
export async function serveCli(t: TestContext, args: string[]): Promise<{ cli: CliProcess; port: number }> {
  const cli = startCli(t, ["serve", ...args, "--port", "0"]);
  const match = await cli.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
  return { cli, port: Number(match[1]) };
}

/** Sends `signal` to the CLI process and resolves with how it exited. */
export async function interrupt(cli: CliProcess, signal: NodeJS.Signals = "SIGINT"): Promise<CliResult> {
  cli.child.kill(signal);
  return cli.exited;
}
