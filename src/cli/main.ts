/**
 * The `sockpool` command line: parses, calls the public API, prints. `bin/sockpool.js` calls
 * {@link main} with `process.argv.slice(2)` and exits with what it resolves to.
 */
import { readFileSync } from "node:fs";
import { type CliIo, type Command, EXIT, EXIT_CODES_HELP, parseCommandLine, renderHelp } from "./command.js";
import { benchCommand } from "./commands/bench.js";
import { demoCommand } from "./commands/demo.js";
import { sendCommand } from "./commands/send.js";
import { serveCommand } from "./commands/serve.js";

export const COMMANDS: readonly Command[] = [serveCommand, sendCommand, benchCommand, demoCommand];

/**
 * Runs one command line. Resolves to the process exit code (see {@link EXIT}); never
 * rejects. A user error (anything carrying a string `code`: sockpool errors, system errors
 * such as EADDRINUSE) prints `code: message` on stderr and gives 1; anything else is a bug
 * and prints its stack, giving 70.
 */
export async function main(argv: string[], io: CliIo = process): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(topic ? renderHelp(topic) : renderTopHelp());
    return name === undefined ? EXIT.error : EXIT.ok;
  }
  if (name === "--version" || name === "-v") {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (cmd === undefined) {
    io.stderr.write(`ERR_SOCKPOOL_INVALID_ARGUMENT: unknown command "${name}"; see "sockpool --help"\n`);
    return EXIT.error;
  }
  try {
    const ctx = parseCommandLine(cmd, rest, io);
    return ctx === undefined ? EXIT.ok : await cmd.run(ctx);
  } catch (err) {
    return reportError(err, io);
  }
}

/** Prints an error the way the CLI promises and returns the exit code for it. */
export function reportError(err: unknown, io: CliIo): number {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === "string") {
    io.stderr.write(`${code}: ${err.message}\n`);
    return EXIT.error;
  }
  io.stderr.write(`ERR_SOCKPOOL_INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.internal;
}

function renderTopHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = [
    "sockpool: an async TCP toolkit; serve, send, load-test and demo a socket pool",
    "",
    "Usage:",
    "  sockpool <command> [arguments] [options]",
    "  sockpool <command> --help",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Endpoints are written HOST:PORT, [IPv6]:PORT, tls://HOST:PORT or unix:/path.",
    "Durations take a unit (250ms, 1s, 1.5m); sizes are bytes or 1KiB, 1MB….",
    "",
    "Start here:",
    "  sockpool demo",
    "  sockpool serve echo --port 3000 --delay 1s",
    "  sockpool bench 127.0.0.1:3000 --requests 20 --concurrency 20 --pool 5",
    "",
    EXIT_CODES_HELP,
    "",
  ];
  return lines.join("\n");
}

function version(): string {
  try {
    const url = new URL("../../../package.json", import.meta.url);
    return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
