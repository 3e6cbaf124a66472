/**
 * A small Redis client over sockpool's pool: RESP2 requests from many callers over a few
 * pooled sockets. Each request borrows a socket, writes one command, reads exactly one reply
 * and gives the socket back, so a reply can never reach another request: a read that was cut
 * short (timeout, abort, reset) marks the socket dirty and the pool destroys it.
 *
 *   node dist/examples/redis.js [host:port]      # default 127.0.0.1:6379
 */
import { pathToFileURL } from "node:url";
import { BadFrameError, type Connection, RemoteError } from "sockpool";
import { SocketPool, type SocketPoolOptions } from "../src/pool/index.js";

/** A RESP2 reply: simple and bulk strings, integers, nil, arrays. */
export type RedisReply = string | number | null | RedisReply[];

export interface CommandOptions {
  signal?: AbortSignal | undefined;
  /** Milliseconds for the whole command (waiting for a socket, then the reply). Default 5000. */
  timeout?: number | undefined;
  /** Safe to send twice (reads, SET of a fixed value): retried once if a reused socket was stale. */
  idempotent?: boolean | undefined;
}

const CRLF = "\r\n";
/** Longest bulk string or status line accepted (Redis's own default proto-max-bulk-len is 512 MB). */
const MAX_BULK = 64 * 1024 * 1024;

/** Encodes a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | number | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}${CRLF}`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}${CRLF}`), bytes, Buffer.from(CRLF));
  }
  return Buffer.concat(parts);
}

/**
 * Reads one complete reply. An error reply (`-ERR …`) is returned as a RemoteError value
 * (the stream is still in step); garbage rejects with BadFrameError. `deadline` is ms since epoch.
 */
export async function readReply(conn: Connection, deadline: number): Promise<RedisReply | RemoteError> {
  const line = await conn.readLine({ max: MAX_BULK, timeout: Math.max(1, deadline - Date.now()) });
  if (line === null) throw new BadFrameError("connection ended before a reply");
  const body = line.slice(1);
  switch (line[0]) {
    case "+":
      return body;
    case "-": {
      const space = body.indexOf(" ");
      return new RemoteError(space < 0 ? body : body.slice(0, space), body);
    }
    case ":":
      return integer(body);
    case "$": {
      const len = integer(body);
      if (len < 0) return null;
      if (len > MAX_BULK) throw new BadFrameError(`bulk string of ${len} bytes`);
      const bytes = await conn.readExactly(len + 2, { timeout: Math.max(1, deadline - Date.now()) });
      return bytes.toString("utf8", 0, len);
    }
    case "*": {
      const n = integer(body);
      if (n < 0) return null;
      const items: RedisReply[] = [];
      for (let i = 0; i < n; i++) {
        const item = await readReply(conn, deadline);
        if (item instanceof RemoteError) throw new BadFrameError("an error reply inside an array");
        items.push(item);
      }
      return items;
    }
    default:
      throw new BadFrameError(`unknown RESP type ${JSON.stringify(line.slice(0, 16))}`);
  }
}

function integer(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new BadFrameError(`bad RESP integer ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * Redis commands through a SocketPool. Every method resolves with the reply, or rejects with
 * RemoteError (Redis said `-ERR …`), BadFrameError, or what the pool and the connection
 * reject with (ConnectError, AcquireTimeoutError, ReadTimeoutError, ConnectionClosedError…).
 */
export class RedisClient implements AsyncDisposable {
  readonly #endpoint: string;
  readonly #pool: SocketPool;
  readonly #ownsPool: boolean;

  constructor(endpoint: string, options: { pool?: SocketPool; poolOptions?: SocketPoolOptions } = {}) {
    this.#endpoint = endpoint;
    this.#ownsPool = options.pool === undefined;
    this.#pool = options.pool ?? new SocketPool({ maxSocketsPerEndpoint: 4, ...options.poolOptions });
  }

  get pool(): SocketPool {
    return this.#pool;
  }

  /** Sends one command and resolves with its reply. */
  async command(args: readonly (string | number | Buffer)[], options: CommandOptions = {}): Promise<RedisReply> {
    const timeout = options.timeout ?? 5000;
    const deadline = Date.now() + timeout;
    const request = encodeCommand(args);
    const reply = await this.#pool.use(
      this.#endpoint,
      async (conn) => {
        await conn.write(request);
        return readReply(conn, deadline);
      },
      { signal: options.signal, timeout, retryOnStale: options.idempotent === true },
    );
    if (reply instanceof RemoteError) throw reply;
    return reply;
  }

  ping(): Promise<RedisReply> {
    return this.command(["PING"], { idempotent: true });
  }
  echo(text: string): Promise<RedisReply> {
    return this.command(["ECHO", text], { idempotent: true });
  }
  get(key: string): Promise<RedisReply> {
    return this.command(["GET", key], { idempotent: true });
  }
  set(key: string, value: string | number): Promise<RedisReply> {
    return this.command(["SET", key, value], { idempotent: true });
  }
  /** Not idempotent: never retried, so a stale socket surfaces as an error instead of a double count. */
  incr(key: string): Promise<RedisReply> {
    return this.command(["INCR", key]);
  }
  del(key: string): Promise<RedisReply> {
    return this.command(["DEL", key], { idempotent: true });
  }

  /** Closes the pool if this client made it. */
  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The demo: 50 callers × SET/GET/INCR over 4 pooled sockets. */
export async function main(endpoint = process.argv[2] ?? "127.0.0.1:6379"): Promise<void> {
  await using redis = new RedisClient(endpoint, { poolOptions: { maxSocketsPerEndpoint: 4 } });
  await redis.del("sockpool:demo:counter");
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const key = `sockpool:demo:${i}`;
      await redis.set(key, `value ${i}`);
      const got = await redis.get(key);
      if (got !== `value ${i}`) throw new Error(`GET ${key} returned ${JSON.stringify(got)}`);
      await redis.incr("sockpool:demo:counter");
      await redis.del(key);
    }),
  );
  const counter = await redis.get("sockpool:demo:counter");
  const s = redis.pool.stats();
  console.log(
    `200 commands from 50 callers in ${(performance.now() - started).toFixed(1)} ms; counter = ${counter}; ` +
      `${s.created} sockets opened, ${s.reused} reuses, p99 wait ${s.waitMs.p99} ms`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`${err.code ?? err.name}: ${err.message}`);
    process.exit(1);
  });
}
