import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import type { TestContext } from "node:test";

/**
 * Python's `pty` relay: runs argv[1:] on a new pseudo-terminal (its stdin, stdout and stderr,
 * as in a terminal; it leads the session and is the foreground process group), copies our
 * stdin to the terminal (so "\x03" typed there is Ctrl-C: the line discipline sends SIGINT)
 * and the terminal's output to our stdout, and exits as the child did (128 + N for signal N).
 */
const RELAY = `
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
inp, out = sys.stdin.fileno(), sys.stdout.fileno()
reading = True
while True:
    ready, _, _ = select.select([fd] + ([inp] if reading else []), [], [])
    if inp in ready:
        data = os.read(inp, 1024)
        if data:
            os.write(fd, data)
        else:
            reading = False
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            break
        os.write(out, data)
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
`;

/** A process running on a pseudo-terminal, with what it has written there. */
export interface PtyProcess {
  readonly child: ChildProcess;
  /** Everything written to the terminal so far (stdout and stderr, as a terminal shows them). */
  output(): string;
  /** Resolves once the output matches `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Types `text` on the terminal ("\x03" is Ctrl-C). */
  type(text: string): void;
  /** Resolves with the exit code and the whole output once the process has exited. */
  exited: Promise<{ code: number | null; output: string }>;
}

/**
 * Runs `argv` on a pseudo-terminal through python3's `pty` module. The test's `after` hook
 * kills the relay (by its own pid) if it is still running, and so does a watchdog after
 * `limitMs`, when `exited` rejects with the output so far.
 */
export function startInPty(t: TestContext, argv: string[], limitMs = 15_000): PtyProcess {
  const child = spawn("python3", ["-c", RELAY, ...argv], { stdio: ["pipe", "pipe", "pipe"] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let out = "";
  let relayErrors = "";
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding("utf8").on("data", (s: string) => {
    out += s;
    for (const l of listeners) l();
  });
  child.stderr?.setEncoding("utf8").on("data", (s: string) => (relayErrors += s));
  let overdue = false;
  const watchdog = setTimeout(() => {
    overdue = true;
    child.kill("SIGKILL");
  }, limitMs);
  const exited = once(child, "close").then(([code]) => {
    clearTimeout(watchdog);
    for (const l of listeners) l();
    if (overdue) throw new Error(`${argv.join(" ")} still running after ${limitMs} ms:\n${JSON.stringify(out)}`);
    if (relayErrors !== "") throw new Error(`the pty relay failed:\n${relayErrors}`);
    return { code: code as number | null, output: out };
  });
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = out.match(pattern);
        if (match) {
          listeners.delete(check);
          resolve(match);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          listeners.delete(check);
          reject(new Error(`exited (${child.exitCode}) before writing ${pattern}:\n${JSON.stringify(out)}`));
        }
      };
      listeners.add(check);
      check();
    });
  return { child, output: () => out, waitFor, type: (text) => child.stdin?.write(text), exited };
}
