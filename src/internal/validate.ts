import { InvalidArgumentError, quote } from "../errors.js";

/** How one option is checked. */
export type Rule =
  | "ms" // a finite number ≥ 0 (milliseconds)
  | "ms?" // "ms" or Infinity (no limit)
  | "count" // an integer ≥ 1
  | "count0" // an integer ≥ 0
  | "count?" // "count" or Infinity
  | "bytes" // an integer ≥ 1
  | "ratio" // a number in [0, 1]
  | "boolean"
  | "string"
  | "function"
  | "object"
  | "signal"
  | { oneOf: readonly string[] }
  | { renamed: string }
  | { unsupported: string };

export type Schema = Record<string, Rule>;

/**
 * Checks an options bag once, at the boundary: unknown keys and bad values throw
 * {@link InvalidArgumentError} naming the key and the value. `undefined` values are skipped.
 */
export function validateOptions(what: string, options: unknown, schema: Schema): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(`${what} must be an object, got ${quote(options)}`);
  }
  for (const [key, value] of Object.entries(options)) {
    const rule = schema[key];
    if (rule === undefined) {
      throw new InvalidArgumentError(`${what}: unknown option ${quote(key)}`);
    }
    if (value === undefined) continue;
    const problem = check(rule, value);
    if (problem !== undefined) {
      throw new InvalidArgumentError(`${what}.${key} ${problem}, got ${quote(value)}`);
    }
  }
}

function check(rule: Rule, v: unknown): string | undefined {
  if (typeof rule === "object") {
    if ("renamed" in rule) return `was renamed: use ${rule.renamed}`;
    if ("unsupported" in rule) return `does not apply here: ${rule.unsupported}`;
    return rule.oneOf.includes(v as string) ? undefined : `must be one of ${rule.oneOf.join(", ")}`;
  }
  const isNum = typeof v === "number" && !Number.isNaN(v);
  switch (rule) {
    case "ms":
      return isNum && v >= 0 && Number.isFinite(v) ? undefined : "must be a finite number of ms ≥ 0";
    case "ms?":
      return isNum && v >= 0 ? undefined : "must be a number of ms ≥ 0 (or Infinity)";
    case "count":
    case "bytes":
      return isNum && Number.isInteger(v) && v >= 1 ? undefined : "must be an integer ≥ 1";
    case "count0":
      return isNum && Number.isInteger(v) && v >= 0 ? undefined : "must be an integer ≥ 0";
    case "count?":
      return isNum && (v === Number.POSITIVE_INFINITY || (Number.isInteger(v) && v >= 1))
        ? undefined
        : "must be an integer ≥ 1 (or Infinity)";
    case "ratio":
      return isNum && v >= 0 && v <= 1 ? undefined : "must be a number from 0 to 1";
    case "boolean":
      return typeof v === "boolean" ? undefined : "must be a boolean";
    case "string":
      return typeof v === "string" ? undefined : "must be a string";
    case "function":
      return typeof v === "function" ? undefined : "must be a function";
    case "object":
      return typeof v === "object" && v !== null ? undefined : "must be an object";
    case "signal":
      return v instanceof AbortSignal ? undefined : "must be an AbortSignal";
  }
}
