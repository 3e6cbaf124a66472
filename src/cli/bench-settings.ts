import { accessSync, constants } from "node:fs";
import { dirname, resolve } from "node:path";
import { InvalidArgumentError, parseTarget, type ServiceResolver } from "../index.js";
import { type FlagValues, str } from "./command.js";
import type { LoadPlan } from "./load.js";
import { parseCaFile, parseCount, parseDuration, parseRate, parseResolver, parseSize } from "./parse.js";
import { PREFLIGHT_WINDOW } from "./preflight.js";

/** The largest `--size`: 64 MiB, twice over in memory per request in flight (payload and echo). */
export const MAX_SIZE = 64 * 1024 * 1024;

/** Everything `bench` was asked to do, parsed. */
export interface BenchSettings extends LoadPlan {
  /** The target as given: one endpoint, or a service (`A,B,C`, `srv:NAME`, `dns:HOST:PORT`). */
  target: string;
  /** Its key: the endpoint's, or the service's. */
  key: string;
  resolver: ServiceResolver | undefined;
  pool: number;
  size: number;
  /** Ms per connect, acquire, write and read; `Infinity` for `--timeout 0` (none). */
  timeout: number;
  /** How long the preflight waits for its echo: 2 s, or `--timeout` when given. */
  preflightWindow: number;
  /** PEM certificates from `--ca`, for `tls://` targets. */
  ca: string | undefined;
  /** Where `--html` writes its report, resolved; undefined without it. */
  html: string | undefined;
  json: boolean;
  rpc: boolean;
}

/** Parses and cross-checks `bench` flags; throws InvalidArgumentError naming the flag. */
export function benchSettings(values: FlagValues, target: string): BenchSettings {
  const requests = str(values, "requests");
  const duration = str(values, "duration");
  if (requests !== undefined && duration !== undefined) {
    throw new InvalidArgumentError("--requests and --duration exclude each other; give one");
  }
  const concurrency = parseCount("--concurrency", str(values, "concurrency") ?? "10");
  const pool = str(values, "pool");
  const rate = str(values, "rate");
  const resolver = str(values, "resolver");
  const timeoutFlag = str(values, "timeout");
  const timeout = parseDuration("--timeout", timeoutFlag ?? "10s") || Number.POSITIVE_INFINITY;
  const ca = str(values, "ca");
  return {
    target,
    key: parseTarget(target).key,
    resolver: resolver === undefined ? undefined : parseResolver("--resolver", resolver),
    requests: requests === undefined ? undefined : parseCount("--requests", requests),
    duration:
      requests === undefined
        ? parseDuration("--duration", duration ?? "10s", { bareSeconds: true, positive: true })
        : undefined,
    concurrency,
    pool: pool === undefined ? concurrency : parseCount("--pool", pool),
    size: parseSize("--size", str(values, "size") ?? "1KiB", 1, MAX_SIZE),
    rate: rate === undefined ? undefined : parseRate("--rate", rate),
    timeout,
    preflightWindow: timeoutFlag === undefined ? PREFLIGHT_WINDOW : timeout,
    ca: ca === undefined ? undefined : parseCaFile("--ca", ca, target),
    html: htmlPath(str(values, "html")),
    json: values.json === true,
    rpc: values.rpc === true,
  };
}

/** `--html FILE`, checked before the run: its folder must exist and be writable. */
function htmlPath(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const full = resolve(path);
  try {
    accessSync(dirname(full), constants.W_OK);
  } catch (err) {
    const reason = (err as { code?: string }).code ?? String(err);
    throw new InvalidArgumentError(`--html: cannot write ${JSON.stringify(path)} (${reason} on its folder)`);
  }
  return full;
}
