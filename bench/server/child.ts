/**
 * The one way bench/server starts a process, whether a server under test, a load generator
 * or the idle-connection holder: spawned with every stdio piped, its stdout read line by
 * line, stopped by closing its stdin (every bench child exits when its stdin closes) and
 * killed if it lingers. Live children are tracked, so `killAllChildren()` can stop them all
 * on Ctrl-C or an error.
 */
import { type ChildProcess, spawn } from "node:child_process";

const STDERR_KEPT = 2000;
const live = new Set<ChildProcess>();

/** Kills every child still running, at once (SIGKILL): for Ctrl-C and fatal errors. */
export function killAllChildren(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

interface LineWaiter {
  resolve(line: string): void;
  reject(err: Error): void;
}

/**
 * State:
 * - `#lines`: complete stdout lines not yet taken by `nextLine()`, oldest first;
 *   `#partial`: the bytes after the last newline. `#waiter`: the one pending `nextLine()`;
 *   whenever it is set, `#lines` is empty.
 * - `#stderr`: the last STDERR_KEPT characters of stderr, quoted in errors.
 * - `#exitCode`: undefined while running, then the exit code (null when killed by a signal).
 */
export class ChildProgram {
  readonly label: string;
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  #partial = "";
  #waiter: LineWaiter | undefined;
  #stderr = "";
  #exitCode: number | null | undefined;

  /** Starts `argv[0]` with the rest as arguments; `label` names it in errors. */
  constructor(label: string, argv: string[]) {
    this.label = label;
    const [command, ...args] = argv;
    if (command === undefined) throw new Error(`${label}: empty command`);
    this.#child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    live.add(this.#child);
    this.#child.stdout?.setEncoding("utf8").on("data", (text: string) => this.#onStdout(text));
    this.#child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-STDERR_KEPT);
    });
    this.#child.stdin?.on("error", () => {}); // EPIPE once the child is gone
    this.exited = new Promise((resolve) => {
      const done = (code: number | null) => {
        if (this.#exitCode !== undefined) return;
        this.#exitCode = code;
        live.delete(this.#child);
        this.#waiter?.reject(this.#failure(`exited (code ${code}) before printing a line`));
        this.#waiter = undefined;
        resolve(code);
      };
      this.#child.on("error", (err) => {
        this.#stderr += String(err);
        done(-1);
      });
      this.#child.on("close", done);
    });
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw this.#failure("has no pid (it did not start)");
    return this.#child.pid;
  }

  /** Resolves with the next stdout line; rejects if the child exits or `timeoutMs` passes first. */
  nextLine(timeoutMs: number): Promise<string> {
    const ready = this.#lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#exitCode !== undefined) return Promise.reject(this.#failure(`exited (code ${this.#exitCode})`));
    if (this.#waiter !== undefined) throw new Error(`${this.label}: nextLine() is already waiting`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(this.#failure(`printed no line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = {
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }

  writeLine(line: string): void {
    this.#child.stdin?.write(`${line}\n`);
  }

  /**
   * Waits up to `timeoutMs` for the child to exit by itself (killing it after that) and
   * resolves with the stdout lines nobody took; rejects if it exited with a failure code.
   */
  async finish(timeoutMs: number): Promise<string[]> {
    const code = await this.#exitWithin(timeoutMs);
    if (code !== 0) throw this.#failure(`exited with code ${code}`);
    return this.#lines.splice(0);
  }

  /** Closes the child's stdin, which tells it to exit; kills it if it is still there after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.#child.stdin?.end();
    await this.#exitWithin(graceMs);
  }

  async #exitWithin(ms: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(resolve, ms, "late")));
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first !== "late") return first;
    this.#child.kill("SIGKILL");
    await this.exited;
    return null;
  }

  #onStdout(text: string): void {
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop() ?? "";
    for (const line of parts) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter) waiter.resolve(line);
      else this.#lines.push(line);
    }
  }

  #failure(what: string): Error {
    const stderr = this.#stderr.trim();
    return new Error(`${this.label} ${what}${stderr ? `; its stderr ends with: ${stderr}` : ""}`);
  }
}
