import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { ConnectError, InvalidArgumentError, RemoteError, SockpoolError } from "../errors.js";
import { type Deferred, deferred } from "../internal/deferred.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import { startTimer } from "../internal/timer.js";
import type { Bus, BusEvents, BusState, BusStats } from "../server/bus.js";
import { isErrorReply, Link, type LinkListener, type StreamEntry } from "./link.js";
import { loadRedis, type RedisModule } from "./load.js";
import { type RedisBusOptions, type RedisBusSettings, redactUrl, resolveRedisBusOptions } from "./options.js";
import { SeenOrigins } from "./origins.js";
import { Outbox, type OutboxEntry } from "./outbox.js";

/** A Redis bus's counters: the {@link BusStats} and what the stream itself showed. */
export interface RedisBusStats extends BusStats {
  /** Replays skipped: XADDs resent after their reply was lost, which had reached Redis. */
  duplicates: number;
  /** Messages of other members this one never saw (dropped from their outbox, or trimmed). */
  gaps: number;
}

/**
 * XADDs sent and not yet answered, at most (and never more than `maxQueued`): the rest wait
 * in the outbox, where they can be dropped.
 */
const MAX_IN_FLIGHT = 1024;

/**
 * A {@link Bus} on a Redis stream (`sockpool/redis`): every member XADDs its messages to one
 * stream per room, trimmed to about `maxLen`, and reads the stream with XREAD BLOCK from the
 * last id it saw, on a connection of its own. Every member thus sees one order, and a reader
 * whose connection drops resumes where it stopped. Each entry carries its origin and that
 * origin's sequence number: a member skips its own entries and replays (see SeenOrigins).
 *
 * While Redis is unreachable, published messages wait in a bounded outbox (dropping the
 * oldest past the bound) and are sent in order once it is back; each outage is one `outage`
 * event and one `recovered` event.
 *
 * State:
 * - `#state`: see {@link BusState}; `up` when both links are, `down` when either is not.
 * - `#writer`, `#reader`: the two links, made by `join()`; `#writerUp`/`#readerUp`: whether
 *   each is ready, as their events last said (rechecked after `reconnectDelay` when a
 *   command failed though the link still looked ready).
 * - `#outbox`: messages not yet acknowledged (see Outbox); sends happen only while the
 *   writer is up, at most MAX_IN_FLIGHT at a time. `#epoch` counts writer failures: a reply
 *   from an older epoch is ignored, its entry having been requeued.
 * - `#lastId`: the id of the last entry read; the next XREAD starts after it.
 * - `#wake`: resolves when the reader comes back (or on close), while the read loop waits.
 * - `#outage`: when the current outage began, the drop count then, and the outbox's length
 *   when the writer came back (what the outage left to send), once it has.
 */
export class RedisBus extends EventEmitter<BusEvents> implements Bus {
  readonly #s: RedisBusSettings;
  readonly #origin = randomBytes(8).toString("hex");
  #state: BusState = "idle";
  #redis: RedisModule | undefined;
  #writer: Link | undefined;
  #reader: Link | undefined;
  #writerUp = false;
  #readerUp = false;
  #deliver: ((message: Buffer) => void) | undefined;
  readonly #outbox: Outbox;
  readonly #seen = new SeenOrigins();
  #seq = 0;
  #epoch = 0;
  #lastId = "0-0";
  #wake: Deferred<void> | undefined;
  #drained: Deferred<void> | undefined;
  #outage: { since: number; dropped: number; backlog: number | undefined } | undefined;
  readonly #counts = { relayed: 0, received: 0, refused: 0, lost: 0, outages: 0, duplicates: 0, gaps: 0 };
  #reading: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RedisBusOptions) {
    super();
    this.#s = resolveRedisBusOptions(options);
    this.#outbox = new Outbox(this.#s.maxQueued, this.#s.maxQueuedBytes);
  }

  /** The stream's key (`keyPrefix` + room). */
  get key(): string {
    return this.#s.key;
  }

  /**
   * Loads `redis`, connects both links and starts reading at the stream's newest entry.
   * Rejects with MissingDependencyError when `redis` is not installed, ConnectError when
   * Redis cannot be reached now, RemoteError when Redis refuses (the key holds no stream…),
   * InvalidArgumentError on a second call.
   */
  async join(deliver: (message: Buffer) => void): Promise<void> {
    if (this.#state !== "idle") throw new InvalidArgumentError(`redisBus ${this.#s.room}: join() was already called`);
    this.#state = "joining";
    this.#deliver = deliver;
    try {
      const redis = await loadRedis();
      if (this.#state !== "joining") return; // closed meanwhile
      this.#redis = redis;
      const failFast = () => this.#state === "joining";
      const name = `sockpool:${this.#s.room.replace(/[^\w.:-]/g, "_")}:${this.#origin}`;
      this.#writer = new Link(redis, this.#s, `${name}:writer`, this.#listener("writer"), failFast);
      this.#reader = new Link(redis, this.#s, `${name}:reader`, this.#listener("reader"), failFast);
      await Promise.all([this.#writer.connect(), this.#reader.connect()]);
      this.#lastId = await this.#writer.tail();
    } catch (err) {
      this.#writer?.destroy();
      this.#reader?.destroy();
      if (this.#state === "joining") this.#state = "closed";
      throw this.#joinError(err);
    }
    if (this.#state !== "joining") {
      this.#writer.destroy(); // closed while joining
      this.#reader.destroy();
      return;
    }
    this.#writerUp = this.#writer.isReady;
    this.#readerUp = this.#reader.isReady;
    this.#state = "up";
    this.#evaluate(undefined);
    this.#reading = this.#readLoop();
    this.#flush();
  }

  /** Queues `message` and sends it at once if Redis is reachable. Never throws or waits. */
  publish(message: Uint8Array): void {
    if (this.#state === "closed") {
      this.#counts.lost++;
      return;
    }
    const data = Buffer.isBuffer(message) ? message : Buffer.from(message);
    this.#outbox.push({ seq: ++this.#seq, data });
    this.#flush();
  }

  /**
   * Stops reading, gives the outbox up to `closeTimeout` to reach Redis, then closes both
   * connections; what is still queued then is dropped and counted. Never rejects.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  stats(): RedisBusStats {
    const c = this.#counts;
    return {
      state: this.#state,
      relayed: c.relayed,
      received: c.received,
      queued: this.#outbox.length,
      dropped: this.#outbox.dropped + c.refused + c.lost,
      outages: c.outages,
      duplicates: c.duplicates,
      gaps: c.gaps,
    };
  }

  #listener(which: "writer" | "reader"): LinkListener {
    return {
      ready: () => this.#linkChanged(which, true, undefined),
      lost: (err) => this.#linkChanged(which, false, err),
    };
  }

  /** A link's event, or a command failure that suspects it; then a recheck after a delay. */
  #linkChanged(which: "writer" | "reader", up: boolean, err: Error | undefined): void {
    if (this.#state !== "up" && this.#state !== "down" && this.#state !== "closing") return;
    if (which === "writer") {
      if (!up && this.#writerUp) {
        this.#epoch++;
        this.#outbox.requeue(); // unanswered XADDs are resent; receivers skip the replays
      }
      if (up && this.#outage && this.#outage.backlog === undefined) this.#outage.backlog = this.#outbox.length;
      this.#writerUp = up;
    } else {
      this.#readerUp = up;
      if (up) this.#wakeReader();
    }
    if (!up) {
      startTimer(() => {
        const link = which === "writer" ? this.#writer : this.#reader;
        if (link?.isReady) this.#linkChanged(which, true, undefined);
      }, this.#s.reconnectDelay);
    }
    this.#evaluate(err);
    if (this.#writerUp) this.#flush();
  }

  /** `up ⇄ down` from the two links, reporting each change once. */
  #evaluate(cause: Error | undefined): void {
    const linked = this.#writerUp && this.#readerUp;
    if (this.#state === "up" && !linked) {
      this.#state = "down";
      this.#counts.outages++;
      this.#outage = { since: Date.now(), dropped: this.#outbox.dropped, backlog: undefined };
      this.emit("outage", { cause: cause ?? new Error("connection to Redis lost"), queued: this.#outbox.length });
    } else if (this.#state === "down" && linked) {
      this.#state = "up";
      const outage = this.#outage as { since: number; dropped: number; backlog: number | undefined };
      this.#outage = undefined;
      this.emit("recovered", {
        downtime: Date.now() - outage.since,
        queued: outage.backlog ?? this.#outbox.length,
        dropped: this.#outbox.dropped - outage.dropped,
      });
    }
  }

  /** Sends waiting entries while the writer is up, keeping at most MAX_IN_FLIGHT unanswered. */
  #flush(): void {
    const writer = this.#writer;
    if (!writer || !this.#writerUp) return;
    const window = Math.min(MAX_IN_FLIGHT, this.#s.maxQueued);
    while (this.#outbox.waiting > 0 && this.#outbox.inFlight < window) {
      const entry = this.#outbox.take() as OutboxEntry;
      const epoch = this.#epoch;
      writer.add({ o: this.#origin, s: String(entry.seq), d: entry.data }).then(
        () => this.#answered(entry, epoch, undefined),
        (err: unknown) => this.#answered(entry, epoch, err),
      );
    }
  }

  #answered(entry: OutboxEntry, epoch: number, err: unknown): void {
    if (epoch !== this.#epoch) return; // requeued when its connection failed: sent again
    if (err === undefined || isErrorReply(this.#redis as RedisModule, err)) {
      this.#outbox.ack(entry);
      if (err === undefined) this.#counts.relayed++;
      else this.#counts.refused++; // Redis refused it (OOM…): resending would not help
      if (this.#outbox.length === 0) this.#drained?.resolve();
      this.#flush();
      return;
    }
    this.#linkChanged("writer", false, err instanceof Error ? err : new Error(String(err)));
  }

  async #readLoop(): Promise<void> {
    while (!this.#stopping()) {
      const reader = this.#reader as Link;
      if (!this.#readerUp) {
        this.#wake = deferred();
        await this.#wake.promise;
        continue;
      }
      let entries: StreamEntry[];
      try {
        entries = await reader.read(this.#lastId, this.#s.blockTimeout);
      } catch (err) {
        if (this.#stopping()) return;
        this.#linkChanged("reader", false, err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      for (const entry of entries) {
        this.#lastId = entry.id;
        this.#receive(entry);
      }
    }
  }

  #stopping(): boolean {
    return this.#state === "closing" || this.#state === "closed";
  }

  #receive({ fields }: StreamEntry): void {
    const origin = fields.o?.toString("latin1");
    const seq = Number(fields.s?.toString("latin1"));
    const data = fields.d;
    if (origin === undefined || !Number.isSafeInteger(seq) || data === undefined) return; // not ours
    if (origin === this.#origin) return; // delivered locally when published
    const skipped = this.#seen.accept(origin, seq);
    if (skipped < 0) {
      this.#counts.duplicates++;
      return;
    }
    this.#counts.gaps += skipped;
    this.#counts.received++;
    this.#deliver?.(data);
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.resolve();
  }

  async #shutdown(): Promise<void> {
    if (this.#state === "idle" || this.#state === "joining") {
      this.#state = "closed";
      return;
    }
    this.#state = "closing";
    this.#reader?.destroy(); // ends the blocked XREAD
    this.#wakeReader();
    await this.#reading;
    if (this.#outbox.length > 0) {
      this.#drained = deferred();
      const timer = startTimer(() => this.#drained?.resolve(), this.#s.closeTimeout);
      await this.#drained.promise;
      clearTimeout(timer);
    }
    this.#state = "closed";
    this.#counts.lost += this.#outbox.length;
    this.#epoch++;
    if (this.#outbox.length === 0) await this.#writer?.close();
    else this.#writer?.destroy();
    if (checkingInvariants) invariant(this.#wake === undefined, "redis bus closed with its reader waiting");
  }

  #joinError(err: unknown): Error {
    if (err instanceof SockpoolError) return err as Error;
    if (this.#redis && isErrorReply(this.#redis, err)) {
      const [code = "ERR", ...rest] = String((err as Error).message).split(" ");
      return new RemoteError(code, `${rest.join(" ")} (stream ${this.#s.key} on ${redactUrl(this.#s.url)})`);
    }
    return new ConnectError(redactUrl(this.#s.url), err);
  }
}

/**
 * A broadcast {@link Bus} on Redis Streams, for `createServer(handler, { bus })` or
 * `runCluster({ bus })`: every server on the same Redis and `room` shares its broadcasts.
 * Nothing connects until the server joins it (in `listen()`). Throws InvalidArgumentError on
 * bad options; needs the `redis` package (an optional peer dependency of sockpool).
 */
export function redisBus(options: RedisBusOptions): RedisBus {
  return new RedisBus(options);
}
