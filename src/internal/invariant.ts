import { InternalError } from "../errors.js";

/** True when invariant checks run: under `SOCKPOOL_DEBUG` and in tests. */
export const checkingInvariants = process.env.SOCKPOOL_DEBUG !== undefined && process.env.SOCKPOOL_DEBUG !== "0";

/** Throws {@link InternalError} when `condition` is false: a sockpool bug, loudly. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InternalError(message);
}
