/**
 * The check `bench` makes before a run: one request's payload must come back unchanged, so
 * a server that does not echo is one plain error at once rather than a run of timeouts.
 */
import {
  type ChannelPool,
  type Connection,
  type Endpoint,
  InvalidArgumentError,
  ReadTimeoutError,
  SockpoolError,
} from "../index.js";
import { formatBytes, formatDuration } from "./format.js";

/** How long the preflight waits for its echo unless `--timeout` says otherwise. */
export const PREFLIGHT_WINDOW = 2000;

/**
 * Writes `payload` and reads it back, comparing each chunk as it lands: a reply that
 * differs fails at its first chunk, without waiting. Rejects with InvalidArgumentError
 * "WHERE did not echo a SIZE message within WINDOW; sockpool bench needs an echo server
 * (it answered …)" when the reply differs, stops short at EOF or is not complete within
 * `windowMs` (`Infinity`: no limit); connect and socket errors reject as they are.
 */
export async function checkEcho(conn: Connection, payload: Buffer, windowMs: number): Promise<void> {
  const deadline = performance.now() + windowMs;
  const left = () => (Number.isFinite(windowMs) ? Math.max(1, deadline - performance.now()) : undefined);
  const fail = (what: string) => notAnEcho(conn.where, payload.length, windowMs, what);
  await conn.write(payload, { timeout: left() });
  let got = 0;
  while (got < payload.length) {
    let chunk: Buffer;
    try {
      chunk = await conn.read(payload.length - got, { timeout: left() });
    } catch (err) {
      if (!(err instanceof ReadTimeoutError)) throw err;
      throw fail(got === 0 ? "it answered nothing" : `it echoed ${got} of ${payload.length} bytes, then nothing`);
    }
    if (chunk.length === 0) {
      throw fail(`it closed the connection after ${got === 0 ? "answering nothing" : `echoing ${got} bytes`}`);
    }
    if (!chunk.equals(payload.subarray(got, got + chunk.length))) {
      throw fail(`it answered ${quoteBytes(Buffer.concat([payload.subarray(0, got), chunk]))}`);
    }
    got += chunk.length;
  }
}

/**
 * The same check for `bench --rpc`: one RPC request of `payload` must be answered with it.
 * A reply that differs, no reply within `windowMs`, or a peer that does not speak the
 * protocol (a bad frame, a closed connection) rejects with InvalidArgumentError.
 */
export async function checkRpcEcho(
  pool: ChannelPool,
  endpoint: Endpoint,
  payload: Buffer,
  windowMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const fail = (what: string) =>
    notAnEcho(endpoint.key, payload.length, windowMs, what, "an RPC echo server (serve rpc-echo)");
  let reply: Buffer;
  try {
    reply = await pool.request(endpoint, payload, {
      signal,
      timeout: Number.isFinite(windowMs) ? windowMs : undefined,
    });
  } catch (err) {
    const code = err instanceof SockpoolError ? err.code : undefined;
    if (code === "ERR_SOCKPOOL_REQUEST_TIMEOUT") throw fail("it answered nothing");
    if (code === "ERR_SOCKPOOL_BAD_FRAME" || code === "ERR_SOCKPOOL_CONNECTION_CLOSED") {
      throw fail(`${code}: ${(err as Error).message}`);
    }
    throw err;
  }
  if (!reply.equals(payload)) throw fail(`it answered ${quoteBytes(reply)}`);
}

function notAnEcho(where: string, size: number, windowMs: number, what: string, need = "an echo server"): Error {
  const within = Number.isFinite(windowMs) ? ` within ${formatDuration(windowMs)}` : "";
  return new InvalidArgumentError(
    `${where} did not echo a ${formatBytes(size)} message${within}; sockpool bench needs ${need} (${what})`,
  );
}

/** The first bytes of a reply as a quoted string: `"Message received\n"`, `"abc…" (1024 bytes)`. */
function quoteBytes(bytes: Buffer): string {
  const shown = JSON.stringify(bytes.subarray(0, 40).toString("latin1"));
  return bytes.length <= 40 ? shown : `${shown.slice(0, -1)}…" (${bytes.length} bytes)`;
}
