import type { Connection } from "../connection/connection.js";
import { debug, debugging, traces } from "../diagnostics.js";
import {
  AbortError,
  BadFrameError,
  ConnectionClosedError,
  LimitExceededError,
  RemoteError,
  RequestTimeoutError,
} from "../errors.js";
import { armCancel, type Disarm, type WaitOptions } from "../internal/cancel.js";
import { CancelQueue } from "../internal/cancel-queue.js";
import { deferred } from "../internal/deferred.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import type { ChannelState, ChannelStats } from "./channel-stats.js";
import {
  BODY_HEADER,
  decodeErrorPayload,
  type Frame,
  FrameDecoder,
  FrameKind,
  kindName,
  MAX_ID,
  UNDECODABLE_ERROR_CODE,
} from "./frame.js";
import { Heartbeat } from "./heartbeat.js";
import { type ChannelOptions, resolveChannelOptions } from "./options.js";
import { Outbox } from "./outbox.js";

export type { ChannelState, ChannelStats } from "./channel-stats.js";

/** One request: `waiting` (queued) → `sent` (in flight) → `done`; it settles in `Channel.#settle` only. */
class Call {
  phase: "waiting" | "sent" | "done" = "waiting";
  id = 0;
  payload: Uint8Array | string | undefined;
  disarm: Disarm | undefined;
  constructor(
    payload: Uint8Array | string,
    readonly resolve: (reply: Buffer) => void,
    readonly reject: (err: unknown) => void,
  ) {
    this.payload = payload;
  }

  /** Still queued for a slot (what the CancelQueue asks). */
  get waiting(): boolean {
    return this.phase === "waiting";
  }
}

const RESOLVED = Promise.resolve();
const EMPTY = Buffer.alloc(0);

/**
 * The context of the `sockpool:rpc:request` tracing channel: one `Channel.request()`, from
 * the call until it settles. Node sets `result` (the reply) or `error` on it before `asyncEnd`.
 */
export interface RpcRequestContext {
  /** The channel's peer (its endpoint key). */
  where: string;
  payload: Uint8Array | string;
  result?: Buffer;
  error?: unknown;
}

/**
 * Many requests in flight on one connection, each matched to its reply by id
 * (docs/protocol.md). Make one with `openChannel()`, or wrap a connected Connection.
 *
 * State:
 * - `#inFlight`: id → sent call; size ≤ maxInFlight. Ids are u32, from 1, wrapping, never
 *   one already in flight.
 * - `#queue`: calls waiting for a slot, FIFO (a {@link CancelQueue}: cancelled ones are
 *   skipped lazily). If one waits, `#inFlight` is full or `#stalled`.
 * - A call settles in exactly one place, `#settle`, which takes it out of the queue or the
 *   in-flight map.
 * - `#stalled`: unsent bytes passed `highWaterMark` and the channel awaits their drain;
 *   meanwhile no request is sent and `#owedPong` holds the latest ping not yet answered.
 *   Unsent bytes stay within highWaterMark + one request or pong frame (the one that
 *   crossed it) + 9 × maxInFlight (cancels) + one ping, whatever the peer does: reading
 *   never stops, only adding to the output does.
 * - `#state` (see {@link ChannelState}); `#error`: why it closed, if not gracefully.
 * - `#heartbeat` pings a silent peer and fails the channel when it stays silent.
 */
export class Channel implements AsyncDisposable {
  readonly #conn: Connection;
  readonly #outbox: Outbox;
  readonly #decoder: FrameDecoder;
  readonly #maxInFlight: number;
  readonly #maxFrameSize: number;
  readonly #requestTimeout: number | undefined;
  readonly #highWaterMark: number;
  readonly #heartbeat: Heartbeat;
  readonly #inFlight = new Map<number, Call>();
  readonly #queue = new CancelQueue<Call>();
  #lastId = 0;
  #stalled = false;
  #owedPong: Frame | undefined;
  #state: ChannelState = "open";
  #error: Error | undefined;
  #closing: Promise<void> | undefined;
  #idle = deferred<void>();
  readonly #closed = deferred<Error | undefined>();
  readonly #stats = {
    sent: 0,
    replies: 0,
    errorReplies: 0,
    timeouts: 0,
    aborts: 0,
    cancelsSent: 0,
    lateReplies: 0,
    failed: 0,
    drainWaits: 0,
    pongsSkipped: 0,
  };

  /** Takes over a connected Connection: from now on only this channel reads or writes it. */
  constructor(conn: Connection, options: ChannelOptions = {}) {
    const o = resolveChannelOptions(options);
    this.#conn = conn;
    this.#outbox = new Outbox(conn);
    this.#decoder = new FrameDecoder(o.maxFrameSize);
    this.#maxInFlight = o.maxInFlight;
    this.#maxFrameSize = o.maxFrameSize;
    this.#requestTimeout = o.requestTimeout;
    this.#highWaterMark = o.highWaterMark;
    this.#heartbeat = new Heartbeat(
      o.pingInterval,
      o.pingTimeout,
      conn.where,
      (id) => this.#outbox.frame(FrameKind.ping, id, EMPTY, this.#maxFrameSize),
      (err) => this.#fail(err),
    );
    void this.#readLoop();
  }

  get where(): string {
    return this.#conn.where;
  }
  get state(): ChannelState {
    return this.#state;
  }
  /** Why the channel closed, when it did not close gracefully. */
  get error(): Error | undefined {
    return this.#error;
  }
  /** Outstanding requests, in flight or waiting: what a pool balances on. */
  get load(): number {
    return this.#inFlight.size + this.#queue.size;
  }
  /** Resolves once the channel is closed, with the reason unless it closed gracefully. Never rejects. */
  get closed(): Promise<Error | undefined> {
    return this.#closed.promise;
  }

  stats(): ChannelStats {
    return {
      state: this.#state,
      inFlight: this.#inFlight.size,
      waiting: this.#queue.size,
      unsentBytes: this.#outbox.unsent,
      ...this.#stats,
      pingsSent: this.#heartbeat.sent,
    };
  }

  /**
   * Sends one request and resolves with the reply's bytes, whatever order replies come in.
   * Beyond `maxInFlight` outstanding requests, or while more than `highWaterMark` bytes are
   * unsent (the server is not reading), it first waits, FIFO; `timeout` (default: the
   * channel's `requestTimeout`) covers the wait and the reply.
   * Rejects with RemoteError (an error reply; the channel goes on), RequestTimeoutError or
   * AbortError (a sent request is then cancelled on the wire), LimitExceededError (payload
   * over `maxFrameSize`; nothing is sent), or ConnectionClosedError when the channel is
   * closing/closed or its connection is lost (`cause`: why). Settles exactly once. Traced on
   * the `sockpool:rpc:request` tracing channel while it has subscribers.
   */
  request(payload: Uint8Array | string, options?: WaitOptions): Promise<Buffer> {
    if (!traces.rpcRequest.hasSubscribers) return this.#request(payload, options);
    const context: RpcRequestContext = { where: this.where, payload };
    return traces.rpcRequest.tracePromise(this.#request, context, this, payload, options);
  }

  #request(payload: Uint8Array | string, options: WaitOptions | undefined): Promise<Buffer> {
    if (this.#state !== "open") return Promise.reject(this.#closedError());
    const body = BODY_HEADER + (typeof payload === "string" ? Buffer.byteLength(payload) : payload.length);
    if (body > this.#maxFrameSize) {
      return Promise.reject(new LimitExceededError(`request frame to ${this.where}`, this.#maxFrameSize, body));
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortError("request", signal.reason));
    return new Promise<Buffer>((resolve, reject) => {
      const call = new Call(payload, resolve, reject);
      const timeout = options?.timeout ?? this.#requestTimeout;
      if (signal !== undefined || timeout !== undefined) {
        call.disarm = armCancel(
          "request",
          { signal, timeout },
          (ms) => this.#timeoutError(call, ms),
          (err) => this.#cancel(call, err),
        );
      }
      if (this.#queue.size === 0 && this.#inFlight.size < this.#maxInFlight && !this.#stall()) this.#send(call);
      else this.#queue.push(call);
      this.#check();
    });
  }

  /**
   * Graceful close: new requests are rejected at once; queued and in-flight ones finish
   * (bounded by their own timeouts); then the connection is closed. Idempotent: every
   * caller gets the same promise, which never rejects.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state === "closed") return RESOLVED;
    this.#state = "closing";
    if (this.load === 0) this.#idle.resolve();
    this.#closing = this.#idle.promise.then(async () => {
      if (this.#state === "closing") this.#state = "closed";
      this.#heartbeat.stop();
      this.#outbox.flush();
      await this.#conn.close();
      this.#closed.resolve(this.#error);
    });
    return this.#closing;
  }

  /** Closes at once: every outstanding request rejects with ConnectionClosedError (cause: `err`). */
  destroy(err?: Error): void {
    this.#fail(err ?? new ConnectionClosedError("channel", this.where));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #send(call: Call): void {
    let id = this.#lastId;
    do id = id === MAX_ID ? 1 : id + 1;
    while (this.#inFlight.has(id));
    this.#lastId = id;
    call.id = id;
    call.phase = "sent";
    this.#inFlight.set(id, call);
    this.#outbox.frame(FrameKind.request, id, call.payload as Uint8Array | string, this.#maxFrameSize);
    call.payload = undefined;
    this.#stats.sent++;
  }

  /** A timeout or abort: settles this call alone, and tells the server if it was sent. */
  #cancel(call: Call, err: Error): void {
    if (call.phase === "done") return;
    if (err instanceof AbortError) this.#stats.aborts++;
    else this.#stats.timeouts++;
    if (debugging) debug("rpc %s: request %d: %s", this.where, call.id, err.message);
    if (call.phase === "sent" && this.#conn.writable) {
      this.#outbox.frame(FrameKind.cancel, call.id, EMPTY, this.#maxFrameSize);
      this.#stats.cancelsSent++;
    }
    this.#settle(call, undefined, err);
    this.#pump();
  }

  /**
   * The one place a call settles: it leaves the queue or the in-flight map, its timer and
   * abort listener are cleared, and it resolves with `reply` or rejects with `err`.
   */
  #settle(call: Call, reply: Buffer | undefined, err: unknown): void {
    if (call.phase === "waiting") this.#queue.cancelled();
    else if (call.phase === "sent") this.#inFlight.delete(call.id);
    else return;
    call.phase = "done";
    call.payload = undefined;
    call.disarm?.();
    if (err === undefined) call.resolve(reply as Buffer);
    else call.reject(err);
  }

  #timeoutError(call: Call, ms: number): Error {
    let what = `request ${call.id} to ${this.where}`;
    if (call.phase !== "sent") {
      what =
        this.#inFlight.size < this.#maxInFlight
          ? `request to ${this.where} (waiting for ${this.#outbox.unsent} unsent bytes to drain: highWaterMark ${this.#highWaterMark})`
          : `request to ${this.where} (waiting for a slot: maxInFlight ${this.#maxInFlight})`;
    }
    return new RequestTimeoutError(what, ms, this.where);
  }

  /**
   * Whether sending must stop: more than `highWaterMark` bytes are unsent. Then waits for
   * them to drain (one wait at a time, however often asked). Reading goes on meanwhile, so
   * this cannot deadlock with a peer that also stops reading when we do not read (as
   * `serveRpc` does): our stall never stops us reading the replies that drain the peer.
   */
  #stall(): boolean {
    if (this.#stalled) return true;
    if (!this.#outbox.over(this.#highWaterMark)) return false;
    this.#stalled = true;
    this.#stats.drainWaits++;
    void this.#outbox.drained().then(this.#drained);
    return true;
  }

  readonly #drained = (): void => {
    this.#stalled = false;
    const ping = this.#owedPong;
    this.#owedPong = undefined;
    if (this.#state === "closed") return;
    if (ping) this.#outbox.frame(FrameKind.pong, ping.id, ping.payload, this.#maxFrameSize);
    this.#pump();
  };

  /** Moves waiting calls into free slots; notices when a closing channel has drained. */
  #pump(): void {
    while (this.#queue.size > 0 && this.#inFlight.size < this.#maxInFlight && !this.#stall()) {
      this.#send(this.#queue.shift() as Call);
    }
    if (this.#state !== "open" && this.load === 0) this.#idle.resolve();
    this.#check();
  }

  async #readLoop(): Promise<void> {
    let reason: Error;
    try {
      for (;;) {
        const chunk = await this.#conn.read();
        if (chunk.length === 0) {
          reason = new ConnectionClosedError("read", this.where, new Error("the peer closed the connection"));
          break;
        }
        this.#heartbeat.received();
        for (const frame of this.#decoder.push(chunk)) this.#dispatch(frame);
      }
    } catch (err) {
      reason = err as Error;
    }
    this.#fail(reason);
  }

  #dispatch(f: Frame): void {
    switch (f.kind) {
      case FrameKind.reply:
        this.#answered(f.id, f.payload, undefined);
        break;
      case FrameKind.error:
        this.#answered(f.id, undefined, remoteError(f.payload));
        break;
      case FrameKind.ping:
        if (this.#stall()) {
          // A peer that pings but does not read would grow our pongs without bound: answer
          // only the latest ping, once the output drains.
          if (this.#owedPong) this.#stats.pongsSkipped++;
          this.#owedPong = f;
        } else this.#outbox.frame(FrameKind.pong, f.id, f.payload, this.#maxFrameSize);
        break;
      case FrameKind.pong:
        break; // any byte already counted as a sign of life
      default:
        throw new BadFrameError(`unexpected ${kindName(f.kind)} frame from the server ${this.where}`);
    }
  }

  /** A reply or error reply for `id` arrived. */
  #answered(id: number, reply: Buffer | undefined, err: RemoteError | undefined): void {
    const call = this.#inFlight.get(id);
    if (call === undefined) {
      this.#stats.lateReplies++;
      return;
    }
    if (err) {
      this.#stats.errorReplies++;
      if (debugging) debug("rpc %s: request %d: %s", this.where, id, err.message);
    } else this.#stats.replies++;
    this.#settle(call, reply, err);
    this.#pump();
  }

  /** The connection is lost (or destroyed): rejects everything outstanding, once. */
  #fail(reason: Error): void {
    if (this.#state === "closed") return;
    if (debugging) debug("rpc %s: channel lost, %d requests fail: %s", this.where, this.load, reason.message);
    this.#state = "closed";
    this.#error = reason;
    this.#owedPong = undefined;
    this.#heartbeat.stop();
    const err = new ConnectionClosedError("request", this.where, reason);
    for (const call of [...this.#inFlight.values(), ...this.#queue]) {
      this.#stats.failed++;
      this.#settle(call, undefined, err);
    }
    this.#conn.destroy();
    this.#idle.resolve();
    if (this.#closing === undefined) this.#closed.resolve(reason);
    this.#check();
  }

  #closedError(): ConnectionClosedError {
    return new ConnectionClosedError("request", this.where, this.#error);
  }

  #check(): void {
    if (!checkingInvariants) return;
    invariant(
      this.#inFlight.size <= this.#maxInFlight,
      `channel ${this.where}: ${this.#inFlight.size} in flight > maxInFlight`,
    );
    this.#queue.check(`channel ${this.where}`);
    invariant(
      this.#queue.size === 0 || this.#inFlight.size === this.#maxInFlight || this.#stalled,
      `channel ${this.where}: callers wait while a slot is free and sending is not stalled`,
    );
    invariant(this.#owedPong === undefined || this.#stalled, `channel ${this.where}: a pong owed while not stalled`);
    invariant(this.#state !== "closed" || this.load === 0, `channel ${this.where}: closed with requests outstanding`);
  }
}

/** The error an error reply stands for; an undecodable payload fails its request only. */
function remoteError(payload: Buffer): RemoteError {
  try {
    const { code, message } = decodeErrorPayload(payload);
    return new RemoteError(code, message);
  } catch (err) {
    return new RemoteError(UNDECODABLE_ERROR_CODE, `the error reply could not be decoded: ${(err as Error).message}`);
  }
}
