import { type Endpoint, type EndpointInput, parseEndpoint } from "../endpoint.js";
import { PoolClosedError, RequestTimeoutError } from "../errors.js";
import { type WaitOptions, withCancel } from "../internal/cancel.js";
import { checkingInvariants, invariant } from "../internal/invariant.js";
import { validateOptions } from "../internal/validate.js";
import type { Channel } from "./channel.js";
import { openChannel } from "./open-channel.js";
import { type ChannelOptions, resolveChannelOptions } from "./options.js";

export interface ChannelPoolOptions {
  /** Multiplexed sockets per endpoint at most. Default 4. */
  maxChannelsPerEndpoint?: number | undefined;
  /** Settings of every channel, dialing (`connect`) included. */
  channel?: ChannelOptions | undefined;
}

export interface ChannelPoolStats {
  state: "open" | "closed";
  /** Channels opened since the pool was made (reconnects included). */
  opened: number;
  /** Dials that failed. */
  openFailures: number;
  endpoints: Record<string, { channels: number; opening: number; inFlight: number }>;
}

/** A dial in progress; `assigned` requests wait for it. */
interface Opening {
  promise: Promise<Channel>;
  assigned: number;
}

/** Channels of one endpoint: open ones, and dials under way. Both count toward the bound. */
interface Entry {
  readonly endpoint: Endpoint;
  readonly ready: Channel[];
  readonly opening: Opening[];
}

/**
 * Up to `maxChannelsPerEndpoint` multiplexed channels per endpoint, shared by every caller.
 * A request goes to the open channel with the fewest outstanding requests; while every open
 * one is busy and the bound allows, a new one is dialed. A channel that dies leaves the
 * pool at once (its outstanding requests fail; they are never resent), so the next request
 * dials a fresh one: reconnection is transparent for new requests.
 *
 * State: `#entries`: endpoint key → Entry; an entry whose `ready` and `opening` are both
 * empty is removed. Invariant: `ready.length + opening.length ≤ max`; every channel in
 * `ready` was open when added and is removed when its `closed` settles, or earlier, by
 * `#pick`, once it is no longer open.
 */
export class ChannelPool implements AsyncDisposable {
  readonly #max: number;
  readonly #channelOptions: ChannelOptions;
  readonly #entries = new Map<string, Entry>();
  #state: "open" | "closed" = "open";
  #closing: Promise<void> | undefined;
  #opened = 0;
  #openFailures = 0;

  constructor(options: ChannelPoolOptions = {}) {
    validateOptions("channel pool options", options, { maxChannelsPerEndpoint: "count", channel: "object" });
    this.#max = options.maxChannelsPerEndpoint ?? 4;
    this.#channelOptions = options.channel ?? {};
    resolveChannelOptions(this.#channelOptions);
  }

  /**
   * Sends one request to `endpoint` over a pooled channel and resolves with the reply.
   * `timeout` covers dialing (when a channel must be opened first) and the request. Rejects
   * like `Channel.request`, plus PoolClosedError after `close()`, InvalidEndpointError, and
   * ConnectError/ConnectTimeoutError when the channel it waited for could not be opened.
   */
  request(endpoint: EndpointInput | Endpoint, payload: Uint8Array | string, options?: WaitOptions): Promise<Buffer> {
    if (this.#state !== "open") return Promise.reject(new PoolClosedError("request"));
    let entry: Entry;
    try {
      entry = this.#entry(endpoint);
    } catch (err) {
      return Promise.reject(err);
    }
    const picked = this.#pick(entry);
    if ("request" in picked) return picked.request(payload, options);
    return this.#requestAfterOpen(picked, payload, options);
  }

  stats(): ChannelPoolStats {
    const endpoints: ChannelPoolStats["endpoints"] = {};
    for (const [key, e] of this.#entries) {
      const inFlight = e.ready.reduce((n, c) => n + c.load, 0);
      endpoints[key] = { channels: e.ready.length, opening: e.opening.length, inFlight };
    }
    return { state: this.#state, opened: this.#opened, openFailures: this.#openFailures, endpoints };
  }

  /**
   * Graceful close: new requests reject with PoolClosedError; channels finish what they
   * carry, then close. Idempotent; every caller gets the same promise, which never rejects.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#state = "closed";
    const all: Promise<unknown>[] = [];
    for (const e of this.#entries.values()) {
      for (const c of e.ready) all.push(c.close());
      for (const o of e.opening) all.push(o.promise.catch(() => {}));
    }
    this.#closing = Promise.all(all).then(() => {});
    return this.#closing;
  }

  /** Closes every channel at once; their outstanding requests fail. */
  destroy(): void {
    void this.close();
    for (const e of this.#entries.values()) for (const c of [...e.ready]) c.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #entry(endpoint: EndpointInput | Endpoint): Entry {
    const ep = parseEndpoint(endpoint);
    let entry = this.#entries.get(ep.key);
    if (entry === undefined) {
      entry = { endpoint: ep, ready: [], opening: [] };
      this.#entries.set(ep.key, entry);
    }
    return entry;
  }

  /**
   * The least-loaded open channel, unless all are busy and another may be dialed. Drops
   * channels that died but whose `closed` callback has not run yet (a caller retrying in
   * the same turn as the failure), so they count neither as a choice nor toward the bound.
   */
  #pick(entry: Entry): Channel | Opening {
    let best: Channel | undefined;
    for (let i = entry.ready.length - 1; i >= 0; i--) {
      const c = entry.ready[i] as Channel;
      if (c.state !== "open") entry.ready.splice(i, 1);
      else if (best === undefined || c.load <= best.load) best = c;
    }
    const total = entry.ready.length + entry.opening.length;
    if (best !== undefined && (best.load === 0 || total >= this.#max)) return best;
    if (total < this.#max) return this.#open(entry);
    let least = entry.opening[0] as Opening;
    for (const o of entry.opening) if (o.assigned < least.assigned) least = o;
    return least;
  }

  async #requestAfterOpen(o: Opening, payload: Uint8Array | string, options: WaitOptions | undefined): Promise<Buffer> {
    const start = Date.now();
    o.assigned++;
    let channel: Channel;
    try {
      const what = "request (opening a channel)";
      channel = await withCancel(what, o.promise, options, (ms) => new RequestTimeoutError(what, ms));
    } finally {
      o.assigned--;
    }
    const timeout = options?.timeout === undefined ? undefined : Math.max(0, options.timeout - (Date.now() - start));
    return channel.request(payload, { signal: options?.signal, timeout });
  }

  #open(entry: Entry): Opening {
    const { connect, ...rest } = this.#channelOptions;
    const o: Opening = { assigned: 0, promise: openChannel(entry.endpoint, { ...rest, ...(connect && { connect }) }) };
    entry.opening.push(o);
    o.promise = o.promise.then(
      (channel) => {
        this.#opened++;
        if (this.#state === "closed") void channel.close();
        else if (channel.state === "open") this.#adopt(entry, channel);
        this.#forget(entry, o); // after adopting: an entry with nothing in it leaves the map
        this.#check(entry);
        return channel;
      },
      (err: unknown) => {
        this.#forget(entry, o);
        this.#openFailures++;
        throw err;
      },
    );
    o.promise.catch(() => {}); // a dial nobody waits for any more must not be an unhandled rejection
    this.#check(entry);
    return o;
  }

  #adopt(entry: Entry, channel: Channel): void {
    entry.ready.push(channel);
    void channel.closed.then(() => {
      const i = entry.ready.indexOf(channel);
      if (i >= 0) entry.ready.splice(i, 1);
      this.#dropIfEmpty(entry);
    });
  }

  #forget(entry: Entry, o: Opening): void {
    const i = entry.opening.indexOf(o);
    if (i >= 0) entry.opening.splice(i, 1);
    this.#dropIfEmpty(entry);
  }

  #dropIfEmpty(entry: Entry): void {
    if (entry.ready.length > 0 || entry.opening.length > 0) return;
    if (this.#entries.get(entry.endpoint.key) === entry) this.#entries.delete(entry.endpoint.key);
  }

  #check(entry: Entry): void {
    if (!checkingInvariants) return;
    const total = entry.ready.length + entry.opening.length;
    invariant(total <= this.#max, `channel pool ${entry.endpoint.key}: ${total} channels > max ${this.#max}`);
  }
}
