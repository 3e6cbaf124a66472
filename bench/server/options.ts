/** The command line of bench/server, read and checked once. */
import { parseArgs } from "node:util";

export const SERVER_IDS = ["c", "go", "uvloop", "raw", "echo", "stream", "rawiter"] as const;
export type ServerId = (typeof SERVER_IDS)[number];

export const USAGE = `node dist/bench/server.js [options]
  --seconds N     timed window per run, in s (default 2)
  --warmup MS     warm-up before each window, in ms (default 500)
  --quiet-wait S  before each run, wait up to S s for other work to use < 15% of a core
                  (default 5; 0: do not wait)
  --repeats N     interleaved rounds (default 5)
  --sizes LIST    message sizes, e.g. 1KiB,10KiB,100KiB (default); bytes without a unit
  --conns LIST    connection counts (default 10,100)
  --servers LIST  a subset of ${SERVER_IDS.join(",")} (default: all)
  --idle N        idle connections for the memory table (default 10000)
  --only rps|mem  only the throughput or only the memory table
  --load c|node   the load generator: C (default, built with gcc) or the Node fallback
  --python PATH   the Python that has uvloop (default /usr/bin/python3)`;

export interface BenchOptions {
  windowMs: number;
  warmupMs: number;
  quietWaitMs: number;
  repeats: number;
  sizes: number[];
  conns: number[];
  servers: ServerId[];
  idle: number;
  rps: boolean;
  mem: boolean;
  load: "c" | "node";
  python: string;
  /** Flags that are not this bench's (bench/run.js passes every flag to every bench). */
  ignored: string[];
}

const OPTIONS = {
  seconds: { type: "string", default: "2" },
  warmup: { type: "string", default: "500" },
  "quiet-wait": { type: "string", default: "5" },
  repeats: { type: "string", default: "5" },
  sizes: { type: "string", default: "1KiB,10KiB,100KiB" },
  conns: { type: "string", default: "10,100" },
  servers: { type: "string", default: SERVER_IDS.join(",") },
  idle: { type: "string", default: "10000" },
  only: { type: "string" },
  load: { type: "string", default: "c" },
  python: { type: "string", default: "/usr/bin/python3" },
} as const;
type OptionName = keyof typeof OPTIONS;

/**
 * Reads `argv` (without node and the script); throws an Error naming the bad flag and value.
 * Flags it does not know are returned in `ignored`, not rejected: bench/run.js passes every
 * flag to every bench.
 */
export function parseBenchOptions(argv: string[]): BenchOptions {
  const { values, tokens } = parseArgs({ args: argv, strict: false, tokens: true, options: OPTIONS });
  const text = (name: OptionName): string => {
    const value = values[name];
    if (typeof value !== "string") throw new Error(`--${name} needs a value`);
    return value;
  };
  const only = values.only === undefined ? undefined : text("only");
  if (only !== undefined && only !== "rps" && only !== "mem") throw badFlag("only", only, "rps or mem");
  const load = text("load");
  if (load !== "c" && load !== "node") throw badFlag("load", load, "c or node");
  return {
    windowMs: positive("seconds", text("seconds")) * 1000,
    warmupMs: positive("warmup", text("warmup"), true),
    quietWaitMs: positive("quiet-wait", text("quiet-wait"), true) * 1000,
    repeats: Math.round(positive("repeats", text("repeats"))),
    sizes: list("sizes", text("sizes"), parseSize),
    conns: list("conns", text("conns"), (v) => Math.round(positive("conns", v))),
    servers: list("servers", text("servers"), parseServerId),
    idle: Math.round(positive("idle", text("idle"))),
    rps: only !== "mem",
    mem: only !== "rps",
    load,
    python: text("python"),
    ignored: tokens.flatMap((t) => (t.kind === "option" && !(t.name in OPTIONS) ? [t.rawName] : [])),
  };
}

function positive(flag: string, value: string, zeroAllowed = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zeroAllowed)) throw badFlag(flag, value, "a positive number");
  return n;
}

function list<T>(flag: string, value: string, parse: (item: string) => T): T[] {
  const items = value.split(",").filter((s) => s.trim() !== "");
  if (items.length === 0) throw badFlag(flag, value, "a comma-separated list");
  return items.map((s) => parse(s.trim()));
}

const UNITS: Record<string, number> = { "": 1, b: 1, kib: 1024, k: 1024, mib: 1024 * 1024, m: 1024 * 1024 };

/** "100KiB" → 102400; a plain number is bytes. */
function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value);
  const unit = UNITS[match?.[2]?.toLowerCase() ?? "?"];
  if (!match || unit === undefined || Number(match[1]) <= 0) throw badFlag("sizes", value, "a size such as 1KiB");
  return Math.round(Number(match[1]) * unit);
}

function parseServerId(value: string): ServerId {
  const id = SERVER_IDS.find((s) => s === value.toLowerCase());
  if (id === undefined) throw badFlag("servers", value, `one of ${SERVER_IDS.join(", ")}`);
  return id;
}

function badFlag(flag: string, value: string, expected: string): Error {
  return new Error(`--${flag} ${JSON.stringify(value)}: expected ${expected}`);
}
