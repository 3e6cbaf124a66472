/**
 * Flag values as people type them: durations (`250ms`, `1s`, `1.5m`), sizes (`512`, `1KiB`,
 * `1MB`), counts, ports and rates. Each parser returns plain numbers (ms, bytes) and throws
 * {@link InvalidArgumentError} naming the flag, the value and an example of what works. Only
 * the CLI parses units; the library takes milliseconds and bytes.
 */
import dns from "node:dns";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { InvalidArgumentError, parseEndpoint, parseTarget, type ServiceResolver, type Target } from "../index.js";

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** A decimal number then an optional unit, spaces allowed between: `1.5m`, `1 KiB`. */
const NUMBER_WITH_UNIT = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)$/;

function bad(flag: string, text: string, expected: string): InvalidArgumentError {
  return new InvalidArgumentError(`${flag}: expected ${expected}, got ${JSON.stringify(text)}`);
}

/** A number below zero, with or without a unit: `-5`, `-1s`, `-.5`. */
const NEGATIVE = /^-\s*(?:\d|\.\d)/;

function notPositive(flag: string, text: string): InvalidArgumentError {
  return new InvalidArgumentError(`${flag}: must be positive, got ${JSON.stringify(text)}`);
}

/** Throws "must be positive" for a negative number, before the parser's own checks. */
function checkNotNegative(flag: string, text: string): void {
  if (NEGATIVE.test(text.trim())) throw notPositive(flag, text);
}

/** How {@link parseDuration} reads a value. */
export interface DurationRules {
  /** A bare number is this many seconds (`-d 10` is 10 s, as autocannon reads it). Default: only 0 may be bare. */
  bareSeconds?: boolean;
  /** Reject 0 ("must be positive"). Default false. */
  positive?: boolean;
}

/**
 * Parses a duration into whole milliseconds (rounded). Units: ms, s, m, h. A bare number is
 * accepted only when it is 0, so `--delay 5` cannot silently mean 5 ms or 5 s, unless
 * `rules.bareSeconds` says it counts seconds. A negative value, or 0 under `rules.positive`,
 * gets "must be positive".
 */
export function parseDuration(flag: string, text: string, rules: DurationRules = {}): number {
  checkNotNegative(flag, text);
  const expected = "a duration such as 250ms, 1s or 1.5m";
  const match = NUMBER_WITH_UNIT.exec(text.trim());
  if (!match) throw bad(flag, text, expected);
  const value = Number(match[1]);
  const unit = match[2]!.toLowerCase() || (rules.bareSeconds ? "s" : "");
  if (unit === "" && value !== 0) throw bad(flag, text, `${expected} (add a unit)`);
  const scale = unit === "" ? 1 : DURATION_UNITS[unit];
  if (scale === undefined) throw bad(flag, text, `${expected} (units: ms, s, m, h)`);
  const ms = Math.round(value * scale);
  if (!Number.isSafeInteger(ms)) throw bad(flag, text, `${expected} (this one is too long)`);
  if (rules.positive && ms === 0) throw notPositive(flag, text);
  return ms;
}

/**
 * Parses a byte size. A bare number is bytes; units are case-insensitive: B, KB/MB/GB
 * (powers of 1000) and KiB/MiB/GiB (powers of 1024). The result must be a whole number of
 * bytes from `min` (default 1) to `max`.
 */
export function parseSize(flag: string, text: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  checkNotNegative(flag, text);
  const expected = "a size such as 512, 1KiB or 1MB";
  const match = NUMBER_WITH_UNIT.exec(text.trim());
  if (!match) throw bad(flag, text, expected);
  const unit = match[2]!.toLowerCase();
  const scale = unit === "" ? 1 : SIZE_UNITS[unit];
  if (scale === undefined) throw bad(flag, text, `${expected} (units: B, KB, MB, GB, KiB, MiB, GiB)`);
  const bytes = Number(match[1]) * scale;
  if (!Number.isSafeInteger(bytes)) throw bad(flag, text, `${expected} (a whole number of bytes)`);
  if (bytes < min) throw bad(flag, text, `${expected}, at least ${min} bytes`);
  if (bytes > max) throw bad(flag, text, `${expected}, at most ${describeBytes(max)}`);
  return bytes;
}

/** Parses a whole number in `[min, max]`. Digits only (underscores allowed: `10_000`). */
export function parseCount(flag: string, text: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  checkNotNegative(flag, text);
  const trimmed = text.trim();
  const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
  if (!/^\d+(?:_\d+)*$/.test(trimmed)) throw bad(flag, text, `a whole number ${range}`);
  const n = Number(trimmed.replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(flag, text, `a whole number ${range}`);
  return n;
}

/** `64 MiB`, `1000 B`: a limit as the size messages print it. */
function describeBytes(bytes: number): string {
  for (const [unit, scale] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale} ${unit}`;
  }
  return `${bytes} bytes`;
}

/** Parses a TCP port, 0 to 65535 (0 lets the system pick one). */
export function parsePort(flag: string, text: string): number {
  return parseCount(flag, text, 0, 65535);
}

/** Parses a positive rate per second (`100`, `0.5`), as for `--rate`. */
export function parseRate(flag: string, text: string): number {
  checkNotNegative(flag, text);
  const trimmed = text.trim();
  const n = /^(\d+(?:\.\d+)?|\.\d+)$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!(n > 0) || !Number.isFinite(n)) throw bad(flag, text, "a number of requests per second > 0, such as 100");
  return n;
}

/**
 * Parses `--resolver HOST:PORT` (an IP address: `127.0.0.1:5353`, `[::1]:53`) into a DNS
 * resolver that asks that server only, for `srv:` and `dns:` targets.
 */
export function parseResolver(flag: string, text: string): ServiceResolver {
  const expected = "an IP address and port, such as 127.0.0.1:5353 or [::1]:53";
  let host: string;
  let port: number;
  try {
    const endpoint = parseEndpoint(text);
    if (endpoint.kind !== "tcp" || endpoint.tls) throw bad(flag, text, expected);
    ({ host, port } = endpoint);
  } catch {
    throw bad(flag, text, expected);
  }
  if (isIP(host) === 0) throw bad(flag, text, `${expected} (not a name)`);
  const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`]);
  return resolver;
}

/**
 * Reads `--ca FILE`: PEM certificates to trust (a private CA, or a self-signed server's own
 * certificate) instead of the system's list, for `target`. Throws InvalidArgumentError
 * naming the flag and the path when the file cannot be read or holds no certificate, and
 * when `target` has no `tls://` endpoint (`srv:` and `dns:` replicas are plain TCP).
 */
export function parseCaFile(flag: string, path: string, target: string): string {
  if (!usesTls(parseTarget(target))) {
    throw new InvalidArgumentError(`${flag} applies to tls:// targets only, not ${JSON.stringify(target)}`);
  }
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));
    throw new InvalidArgumentError(`${flag}: cannot read ${JSON.stringify(path)} (${reason})`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new InvalidArgumentError(
      `${flag}: ${JSON.stringify(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  }
  return pem;
}

function usesTls(target: Target): boolean {
  if (target.kind === "endpoint") return target.endpoint.tls;
  return target.kind === "list" && target.endpoints.some((e) => e.tls);
}
