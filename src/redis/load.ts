import { MissingDependencyError } from "../errors.js";

/** The part of the `redis` package (node-redis) the bus uses. */
export type RedisModule = typeof import("redis");

/**
 * Imports the `redis` package on first use: it is an optional peer dependency, so the core
 * never loads it and an application that does not use `sockpool/redis` need not install it.
 * Rejects with {@link MissingDependencyError} (naming `npm install redis`) when it is not
 * installed; any other import failure is rethrown as it is. `specifier` is for tests.
 */
export async function loadRedis(specifier = "redis"): Promise<RedisModule> {
  try {
    return (await import(specifier)) as RedisModule;
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((err as Error).message).includes(`'${specifier}'`)) {
      throw new MissingDependencyError("redisBus (sockpool/redis)", specifier, err);
    }
    throw err;
  }
}
