// Each error class's `code` is its own literal, in the published .d.ts.
import {
  AcquireTimeoutError,
  type ConnectError,
  type ErrorCode,
  IncompleteReadError,
  type PoolClosedError,
  SockpoolError,
} from "sockpool";
import { type Equal, expectTrue } from "./expect.js";

declare const err: unknown;

expectTrue<Equal<AcquireTimeoutError["code"], "ERR_SOCKPOOL_ACQUIRE_TIMEOUT">>();
expectTrue<Equal<typeof ConnectError.CODE, "ERR_SOCKPOOL_CONNECT">>();
expectTrue<Equal<SockpoolError["code"], ErrorCode>>();

if (err instanceof AcquireTimeoutError) {
  expectTrue<Equal<typeof err.code, "ERR_SOCKPOOL_ACQUIRE_TIMEOUT">>();
  const timeout: number = err.timeout;
  const endpoint: string = err.endpoint;
  void [timeout, endpoint];
  // @ts-expect-error: an AcquireTimeoutError's code can never be another class's literal
  if (err.code === "ERR_SOCKPOOL_CONNECT") throw err;
}
if (err instanceof IncompleteReadError) {
  const partial: Buffer = err.partial;
  const expected: number | undefined = err.expected;
  void [partial, expected];
}
if (err instanceof SockpoolError) {
  // Narrowing the base by code works as a discriminant.
  if (err.code === "ERR_SOCKPOOL_POOL_CLOSED") expectTrue<Equal<typeof err.code, "ERR_SOCKPOOL_POOL_CLOSED">>();
  // @ts-expect-error: not a sockpool code
  if (err.code === "ERR_SOCKPOOL_NOPE") throw err;
}
// @ts-expect-error: codes are literals, not any string
const code: PoolClosedError["code"] = "ERR_SOCKPOOL_QUEUE_FULL";
void code;
