import type { RedisModule } from "./load.js";
import { backoff, type RedisBusSettings } from "./options.js";

/** One stream entry as the bus reads it: its id and its fields, as bytes. */
export interface StreamEntry {
  id: string;
  fields: Record<string, Buffer | undefined>;
}

/** What the bus needs of a node-redis client: so node-redis's generics stay in this file. */
interface Client {
  readonly isReady: boolean;
  on(event: "ready" | "error" | "reconnecting" | "end", listener: (err?: Error) => void): unknown;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  withTypeMapping(mapping: object): Client;
  xAdd(key: string, id: string, fields: Record<string, string | Buffer>, options: object): Promise<unknown>;
  xRead(stream: { key: string; id: string }, options: { BLOCK: number; COUNT: number }): Promise<unknown>;
  xRevRange(key: string, end: string, start: string, options: { COUNT: number }): Promise<{ id: string }[]>;
}

/** How the bus hears about one connection: up (`ready`) or not (`lost`, with the error if any). */
export interface LinkListener {
  ready(): void;
  lost(err: Error | undefined): void;
}

/** Entries per XREAD. */
const READ_COUNT = 1000;

/**
 * One dedicated connection to Redis, the writer's (XADD) or the reader's (XREAD BLOCK), on
 * node-redis with its own reconnects: backoff with jitter (see `backoff`), commands refused
 * at once while disconnected (`disableOfflineQueue`: the bus keeps its own bounded outbox
 * instead of node-redis's unbounded one). A connection that cannot be made while `failFast()`
 * says so gives up, so a first `connect()` rejects instead of retrying forever.
 */
export class Link {
  readonly #client: Client;
  readonly #binary: Client;
  readonly #key: string;
  readonly #trim: object;

  constructor(redis: RedisModule, s: RedisBusSettings, name: string, listener: LinkListener, failFast: () => boolean) {
    const client = redis.createClient({
      url: s.url,
      name,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: s.connectTimeout,
        reconnectStrategy: (retries: number, cause: Error) =>
          failFast() ? cause : backoff(retries, s.reconnectDelay, s.maxReconnectDelay),
      },
    }) as unknown as Client;
    client.on("ready", () => listener.ready());
    client.on("error", (err) => listener.lost(err));
    client.on("reconnecting", () => listener.lost(undefined));
    this.#client = client;
    this.#binary = client.withTypeMapping({ [redis.RESP_TYPES.BLOB_STRING]: Buffer });
    this.#key = s.key;
    this.#trim = { TRIM: { strategy: "MAXLEN", strategyModifier: "~", threshold: s.maxLen } };
  }

  get isReady(): boolean {
    return this.#client.isReady;
  }

  connect(): Promise<unknown> {
    return this.#client.connect();
  }

  /** Appends one entry to the stream, trimming it to about `maxLen`. */
  add(fields: Record<string, string | Buffer>): Promise<unknown> {
    return this.#client.xAdd(this.#key, "*", fields, this.#trim);
  }

  /** The id of the stream's newest entry, or `0-0` when there is none. */
  async tail(): Promise<string> {
    const [last] = await this.#client.xRevRange(this.#key, "+", "-", { COUNT: 1 });
    return last ? String(last.id) : "0-0";
  }

  /** Entries after `id`, waiting up to `block` ms for the first; [] when none came. */
  async read(id: string, block: number): Promise<StreamEntry[]> {
    const reply = (await this.#binary.xRead({ key: this.#key, id }, { BLOCK: block, COUNT: READ_COUNT })) as
      | { messages: { id: Buffer | string; message: Record<string, Buffer> }[] }[]
      | null;
    const out: StreamEntry[] = [];
    for (const stream of reply ?? []) {
      for (const m of stream.messages) out.push({ id: String(m.id), fields: m.message });
    }
    return out;
  }

  /** Waits for the replies of commands already sent, then closes. */
  async close(): Promise<void> {
    try {
      await this.#client.close();
    } catch {
      this.#client.destroy();
    }
  }

  destroy(): void {
    try {
      this.#client.destroy();
    } catch {
      // already closed
    }
  }
}

/** Whether `err` is Redis refusing a command (an error reply), not a failed connection. */
export function isErrorReply(redis: RedisModule, err: unknown): boolean {
  return err instanceof redis.ErrorReply;
}
