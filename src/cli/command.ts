import { parseArgs } from "node:util";
import { InvalidArgumentError } from "../index.js";

/** One flag of a command, as `util.parseArgs` wants it plus what `--help` prints. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  /** Placeholder shown in help for a string flag: DURATION, SIZE, N, HOST… */
  value?: string;
  help: string;
}

/** Where a command writes; `process` in the CLI, a capture in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

export type FlagValues = Record<string, string | boolean | undefined>;

/** What a command's `run` gets: its parsed flags and positionals, and where to print. */
export interface CommandContext {
  values: FlagValues;
  positionals: string[];
  io: CliIo;
}

/** A subcommand: its help text, its flags, and what it does. `run` resolves to an exit code. */
export interface Command {
  name: string;
  summary: string;
  /** Usage lines without the leading "sockpool ". */
  usage: string[];
  /** Paragraphs printed under the usage. */
  description?: string;
  options: Record<string, OptionSpec>;
  /** Positionals accepted: at least `min`, at most `max`. */
  positionals: { min: number; max: number };
  examples: string[];
  run(ctx: CommandContext): Promise<number>;
}

const HELP_OPTION: OptionSpec = { type: "boolean", short: "h", help: "show this help" };

/** Exit codes, as `--help` documents them. */
export const EXIT = { ok: 0, error: 1, internal: 70, interrupted: 130 } as const;

export const EXIT_CODES_HELP = `Exit codes:
  0    success
  1    an error: a bad flag or value, a server that is not there, a timeout, a failed
       request (bench: any request failed); printed as "code: message"
  70   an internal error (a sockpool bug); printed with its stack
  130  interrupted: bench stopped by Ctrl-C (its summary says so), or a second Ctrl-C
       forced the exit`;

/**
 * Parses `argv` (the words after the command name) against the command's flags. Returns
 * `undefined` when `--help` was given (after printing the help). Throws
 * {@link InvalidArgumentError} for an unknown flag, a missing value or a wrong number of
 * positionals, pointing at `--help`.
 */
export function parseCommandLine(cmd: Command, argv: string[], io: CliIo): CommandContext | undefined {
  const options = { ...cmd.options, help: HELP_OPTION };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: attachNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new InvalidArgumentError(`${describeParseError(err)}; see "sockpool ${cmd.name} --help"`);
  }
  if (parsed.values.help === true) {
    io.stdout.write(renderHelp(cmd));
    return undefined;
  }
  const { min, max } = cmd.positionals;
  const n = parsed.positionals.length;
  if (n < min || n > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new InvalidArgumentError(
      `sockpool ${cmd.name} takes ${want} argument${max === 1 ? "" : "s"}, got ${n}; usage: sockpool ${cmd.usage[0]}`,
    );
  }
  return { values: parsed.values as FlagValues, positionals: parsed.positionals, io };
}

/** A word that is a negative number (`-5`, `-1s`, `-.5`), not a flag. */
const NEGATIVE_VALUE = /^-(?:\d|\.\d)/;

/**
 * `util.parseArgs` takes `-5` after `--timeout` for a flag of its own and fails with "does
 * not take a value". Joins a string flag and a negative value that follows it into
 * `--flag=-5`, so the value reaches the flag's parser, which says "must be positive".
 * Words after `--` are left alone.
 */
export function attachNegativeValues(argv: readonly string[], options: Record<string, OptionSpec>): string[] {
  const byShort = new Map(Object.entries(options).flatMap(([name, o]) => (o.short ? [[o.short, name]] : [])));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const name = word.startsWith("--") ? word.slice(2) : /^-\w$/.test(word) ? byShort.get(word.slice(1)) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && NEGATIVE_VALUE.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(word);
  }
  return out;
}

function describeParseError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  // Node quotes the flag as '--pool <value>' or '-p, --pool <value>': keep the long name.
  const quoted = /'([^']+)'/.exec(message)?.[1];
  const flag = quoted?.match(/--[\w-]+/)?.[0] ?? quoted?.split(" ")[0];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${flag ?? message}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return message.includes("argument missing")
        ? `option ${flag ?? ""} needs a value`
        : `option ${flag ?? ""} does not take a value`;
    default:
      return message;
  }
}

/** The `--help` text of one command. */
export function renderHelp(cmd: Command): string {
  const lines = [`sockpool ${cmd.name}: ${cmd.summary}`, "", "Usage:"];
  for (const u of cmd.usage) lines.push(`  sockpool ${u}`);
  if (cmd.description) lines.push("", cmd.description);
  lines.push("", "Options:");
  const rows = Object.entries({ ...cmd.options, help: HELP_OPTION }).map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : "";
    const value = o.type === "string" ? ` ${o.value ?? "VALUE"}` : "";
    return [`${short}--${name}${value}`, o.help] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length));
  for (const [left, help] of rows) lines.push(`  ${left.padEnd(width)}  ${help}`);
  lines.push("", "Examples:");
  for (const e of cmd.examples) lines.push(`  ${e}`);
  lines.push("", EXIT_CODES_HELP, "");
  return lines.join("\n");
}

/** A string flag's value, or `undefined`; boolean flags are read directly. */
export function str(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}
