import type { Connection } from "../connection/connection.js";
import { AbortError, BadFrameError, ConnectionClosedError, LimitExceededError } from "../errors.js";
import { CancelQueue } from "../internal/cancel-queue.js";
import { deferred } from "../internal/deferred.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import { type Schema, validateOptions } from "../internal/validate.js";
import { abortContext, RpcContext, type RpcCounters, type RpcHandler, type RpcReply } from "./context.js";
import {
  BODY_HEADER,
  DEFAULT_MAX_FRAME_SIZE,
  encodeErrorPayload,
  type Frame,
  FrameDecoder,
  FrameKind,
  kindName,
} from "./frame.js";
import { Outbox } from "./outbox.js";

export interface ServeRpcOptions {
  /**
   * Handlers running at once per connection. Default 100. Past it, requests read wait in a
   * backlog of at most as many requests (and `maxFrameSize` payload bytes); the connection is
   * not read while that backlog is full. Cancels and pings are acted on as soon as read.
   */
  maxConcurrent?: number | undefined;
  /** Largest frame body (5 + payload bytes) accepted or sent. Default 1 MiB. */
  maxFrameSize?: number | undefined;
  /**
   * Unsent bytes (replies and pongs the kernel has not taken yet) past which the connection
   * is not read until they have all gone out: a client that does not read its replies
   * cannot make the server buffer without bound. Default 1 MiB ({@link DEFAULT_RPC_HIGH_WATER_MARK});
   * `createRpcServer` uses the server's `highWaterMark`.
   */
  highWaterMark?: number | undefined;
}

export const serveRpcOptionsSchema: Schema = { maxConcurrent: "count", maxFrameSize: "bytes", highWaterMark: "bytes" };

/** The default per-connection mark on unsent bytes, the same as the server layer's. */
export const DEFAULT_RPC_HIGH_WATER_MARK = 1024 * 1024;

/** An RPC server's totals: those of every request, plus the flow-control pauses. */
export interface RpcSessionCounters extends RpcCounters {
  /** Times a connection stopped reading because its unsent bytes passed `highWaterMark`. */
  slowReaderPauses: number;
  /** Handlers running now (a gauge, across the connections sharing these counters). */
  running: number;
}

/** Largest chunk taken per read: bounds what one read adds past a full backlog. */
const READ_CHUNK = 64 * 1024;

/** The code of an error reply for a thrown error without a string `code`. */
export const HANDLER_ERROR_CODE = "ERR_RPC_HANDLER";

/**
 * Serves the RPC protocol (docs/protocol.md) on one connection until it ends: runs `handler`
 * for each request concurrently (at most `maxConcurrent` at once; more wait in a bounded
 * backlog, and the connection is not read while that is full), writes each reply as soon as
 * it is ready, turns a thrown error into an error reply, answers pings, and aborts
 * `ctx.signal` on a cancel frame (read even while every slot is busy) or a lost connection.
 *
 * Flow control: the connection is read one chunk (at most 64 KiB) at a time, and before
 * each read the unsent bytes (replies and pongs not yet taken by the kernel) are checked
 * against `highWaterMark`. Past it, the connection is not read until all of them have gone
 * out. Handlers already running still finish and queue their replies, so the unsent bytes
 * stay within `highWaterMark` + the pongs for the last chunk read (≤ 64 KiB) + the replies
 * of the requests admitted before reading stopped (running and queued: at most
 * 2 × `maxConcurrent` plus those of one chunk). The connection's read buffer adds at most
 * 2 × its `limit` + one socket read. For a handler whose reply is about the size of its
 * request (an echo), that is about `highWaterMark` + 64 KiB unsent, whatever the client sends.
 *
 * Resolves once the client has half-closed and every request read has been answered (the
 * connection is then closed), or when the connection was closed or reset under it. Rejects
 * with BadFrameError or LimitExceededError after destroying the connection when the client
 * sends bytes that are not a valid frame or a frame over `maxFrameSize`.
 */
export function serveRpc(conn: Connection, handler: RpcHandler, options: ServeRpcOptions = {}): Promise<void> {
  validateOptions("serveRpc options", options, serveRpcOptionsSchema);
  return new RpcSession(conn, handler, options, undefined).run();
}

/**
 * One connection's server side.
 *
 * State:
 * - `#jobs`: id → request read and not yet answered or cancelled (queued or running).
 * - `#backlog`: requests read but not started, FIFO (a {@link CancelQueue}: one cancelled
 *   while queued is skipped lazily); `#queuedBytes`: the payload bytes of those still
 *   queued. The read loop pauses while `#backlog.size ≥ maxConcurrent` or `#queuedBytes ≥
 *   maxFrameSize`, so a connection holds at most one read chunk more: memory stays bounded.
 * - `#running` ≤ maxConcurrent handlers started and not finished (cancelled ones included
 *   until they return: a cancel frees the id, not the slot).
 * - `#slot`: resolves when the read loop, paused for a full backlog, may read again.
 * - The read loop reads only while `#outbox.unsent ≤ #highWaterMark` (checked once per read
 *   chunk); past it, it awaits `#outbox.drained()`.
 * - `#state`: `reading → draining (client EOF: answer what was read) → closed`.
 */
export class RpcSession {
  readonly #conn: Connection;
  readonly #handler: RpcHandler;
  readonly #max: number;
  readonly #maxFrameSize: number;
  readonly #highWaterMark: number;
  readonly #outbox: Outbox;
  readonly #counters: RpcSessionCounters | undefined;
  readonly #jobs = new Map<number, Job>();
  readonly #backlog = new CancelQueue<Job>();
  #queuedBytes = 0;
  #running = 0;
  #pumping = false;
  #slot = deferred<void>(); // replaced each time the read loop waits for capacity
  #allDone = deferred<void>();
  #state: "reading" | "draining" | "closed" = "reading";

  constructor(
    conn: Connection,
    handler: RpcHandler,
    options: ServeRpcOptions,
    counters: RpcSessionCounters | undefined,
  ) {
    this.#conn = conn;
    this.#handler = handler;
    this.#max = options.maxConcurrent ?? 100;
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_RPC_HIGH_WATER_MARK;
    this.#outbox = new Outbox(conn);
    this.#counters = counters;
    void conn.closed.then(() => this.#abortAll());
  }

  async run(): Promise<void> {
    const decoder = new FrameDecoder(this.#maxFrameSize);
    try {
      for (;;) {
        while (this.#state === "reading") {
          if (this.#backlogFull()) {
            this.#slot = deferred<void>();
            await this.#slot.promise; // backpressure: not reading until the backlog has room
          } else if (this.#outbox.over(this.#highWaterMark)) {
            if (this.#counters) this.#counters.slowReaderPauses++;
            await this.#outbox.drained(); // the client does not read its replies: stop reading it
          } else break;
        }
        const chunk = await this.#conn.read(READ_CHUNK);
        if (chunk.length === 0) break;
        for (const frame of decoder.push(chunk)) this.#dispatch(frame);
      }
    } catch (err) {
      this.#abortAll();
      this.#conn.destroy();
      if (err instanceof BadFrameError || err instanceof LimitExceededError) {
        if (this.#counters) this.#counters.protocolErrors++;
        throw err;
      }
      return; // the connection was closed or reset under us: nothing to report
    }
    this.#state = "draining";
    if (this.#jobs.size > 0) await this.#allDone.promise;
    this.#outbox.flush();
    await this.#conn.close();
  }

  #dispatch(f: Frame): void {
    switch (f.kind) {
      case FrameKind.request:
        this.#accept(f.id, f.payload);
        break;
      case FrameKind.cancel:
        this.#cancel(f.id);
        break;
      case FrameKind.ping:
        this.#outbox.frame(FrameKind.pong, f.id, f.payload, this.#maxFrameSize);
        break;
      case FrameKind.pong:
        break;
      default:
        throw new BadFrameError(`unexpected ${kindName(f.kind)} frame from the client ${this.#conn.where}`);
    }
  }

  #accept(id: number, payload: Buffer): void {
    if (this.#jobs.has(id)) throw new BadFrameError(`request id ${id} is already in flight on ${this.#conn.where}`);
    const job = new Job(new RpcContext(id, payload, this.#conn));
    this.#jobs.set(id, job);
    if (this.#counters) this.#counters.requests++;
    this.#backlog.push(job);
    this.#queuedBytes += payload.length;
    this.#pump();
  }

  #cancel(id: number): void {
    const job = this.#jobs.get(id);
    if (job === undefined) return; // answered already: the reply crossed the cancel
    this.#jobs.delete(id);
    if (job.state === "queued") {
      job.state = "cancelled";
      this.#backlog.cancelled();
      this.#queuedBytes -= job.ctx.payload.length;
    }
    if (this.#counters) this.#counters.cancelled++;
    abortContext(job.ctx, new AbortError(`request ${id}`, "cancelled by the client"));
    this.#pump();
  }

  /** Starts queued requests while slots are free; re-entrant calls fold into the outer loop. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#running < this.#max && this.#backlog.size > 0) {
        const job = this.#backlog.shift() as Job;
        this.#queuedBytes -= job.ctx.payload.length;
        this.#start(job);
      }
    } finally {
      this.#pumping = false;
    }
    if (!this.#backlogFull()) this.#slot.resolve();
    if (this.#state !== "reading" && this.#jobs.size === 0) this.#allDone.resolve();
    this.#check();
  }

  #backlogFull(): boolean {
    return this.#backlog.size >= this.#max || this.#queuedBytes >= this.#maxFrameSize;
  }

  #start(job: Job): void {
    job.state = "running";
    this.#running++;
    if (this.#counters) this.#counters.running++;
    let result: RpcReply | Promise<RpcReply>;
    try {
      result = this.#handler(job.ctx.payload, job.ctx);
    } catch (err) {
      this.#finish(job, undefined, err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (reply) => this.#finish(job, reply, undefined),
        (err: unknown) => this.#finish(job, undefined, err ?? new Error("handler rejected")),
      );
    } else this.#finish(job, result, undefined);
  }

  #finish(job: Job, reply: RpcReply, err: unknown): void {
    this.#running--;
    if (this.#counters) this.#counters.running--;
    const id = job.ctx.id;
    if (this.#jobs.get(id) === job) {
      this.#jobs.delete(id);
      if (this.#conn.writable) this.#answer(id, reply, err);
    }
    this.#pump();
  }

  /** Queues the reply or error frame of a finished handler; a bad or oversized reply becomes an error. */
  #answer(id: number, reply: RpcReply, err: unknown): void {
    const c = this.#counters;
    if (err === undefined) {
      try {
        this.#outbox.frame(FrameKind.reply, id, toBytes(reply), this.#maxFrameSize);
        if (c) c.replies++;
        return;
      } catch (e) {
        err = e;
      }
    }
    if (c) c.errorReplies++;
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    const room = this.#maxFrameSize - BODY_HEADER; // the message is cut to fit, never the frame
    const payload = encodeErrorPayload(typeof code === "string" ? code : HANDLER_ERROR_CODE, message, room);
    this.#outbox.frame(FrameKind.error, id, payload, this.#maxFrameSize);
  }

  #abortAll(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    const reason = new ConnectionClosedError("rpc request", this.#conn.where, this.#conn.error);
    for (const job of this.#jobs.values()) abortContext(job.ctx, reason);
    this.#jobs.clear();
    this.#backlog.clear();
    this.#queuedBytes = 0;
    this.#allDone.resolve();
    this.#slot.resolve();
  }

  #check(): void {
    if (!checkingInvariants) return;
    invariant(
      this.#running >= 0 && this.#running <= this.#max,
      `rpc session ${this.#conn.where}: ${this.#running} handlers running, max ${this.#max}`,
    );
    this.#backlog.check(`rpc session ${this.#conn.where}`);
    invariant(
      this.#backlog.size === 0 || this.#running === this.#max || this.#pumping,
      `rpc session ${this.#conn.where}: queued requests while a slot is free`,
    );
    invariant(
      this.#queuedBytes >= 0 && (this.#backlog.size > 0 || this.#queuedBytes === 0),
      `rpc session ${this.#conn.where}: backlog bytes ${this.#queuedBytes} off`,
    );
  }
}

/** A request read from the wire: queued for a slot, then running, or cancelled while queued. */
class Job {
  state: "queued" | "running" | "cancelled" = "queued";
  readonly ctx: RpcContext;

  constructor(ctx: RpcContext) {
    this.ctx = ctx;
  }

  /** Still queued (what the CancelQueue asks). */
  get waiting(): boolean {
    return this.state === "queued";
  }
}

function toBytes(reply: RpcReply): Uint8Array | string {
  if (reply === undefined || reply === null) return "";
  if (typeof reply === "string" || reply instanceof Uint8Array) return reply;
  throw new TypeError(`an rpc handler must return a Buffer, Uint8Array, string or nothing, got ${typeof reply}`);
}

function isThenable(v: unknown): v is PromiseLike<RpcReply> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}
