/** One echo server of bench/server while it runs, whatever its language (see peers.ts). */
import { ChildProgram } from "./child.js";
import type { ServerSpec } from "./peers.js";
import { processCpuMicros, residentBytes } from "./proc.js";

const START_TIMEOUT_MS = 15_000;

export class RunningServer {
  readonly spec: ServerSpec;
  readonly port: number;
  readonly #program: ChildProgram;

  private constructor(spec: ServerSpec, program: ChildProgram, port: number) {
    this.spec = spec;
    this.#program = program;
    this.port = port;
  }

  /** Starts the server behind `pin` (a command prefix such as taskset's) and waits for its port. */
  static async start(spec: ServerSpec, pin: string[]): Promise<RunningServer> {
    if (spec.argv === undefined) throw new Error(`${spec.name} cannot run here: ${spec.about}`);
    const program = new ChildProgram(spec.name, [...pin, ...spec.argv]);
    try {
      const line = await program.nextLine(START_TIMEOUT_MS);
      const port = Number(line);
      if (!Number.isInteger(port) || port <= 0)
        throw new Error(`${spec.name} printed ${JSON.stringify(line)}, not a port`);
      return new RunningServer(spec, program, port);
    } catch (err) {
      await program.stop();
      throw err;
    }
  }

  get pid(): number {
    return this.#program.pid;
  }

  /** CPU time of all its threads so far, in µs. */
  cpuMicros(): number {
    return processCpuMicros(this.pid);
  }

  residentBytes(): number {
    return residentBytes(this.pid);
  }

  /** For a server that answers "gc": collects garbage and resolves with its JS heap in use, in bytes. */
  async collectGarbage(): Promise<number | undefined> {
    if (!this.spec.answersGc) return undefined;
    this.#program.writeLine("gc");
    const line = await this.#program.nextLine(10_000);
    const match = /^heap (\d+)$/.exec(line);
    if (match === null) throw new Error(`${this.spec.name} answered "gc" with ${JSON.stringify(line)}`);
    return Number(match[1]);
  }

  stop(): Promise<void> {
    return this.#program.stop();
  }
}
