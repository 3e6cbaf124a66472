/**
 * What `bench` loads: an echo server through a SocketPool (one request per socket at a time),
 * or with `--rpc` an RPC echo server through a ChannelPool (many requests per socket).
 */
import { BadFrameError, ChannelPool, type Endpoint, SocketPool } from "../index.js";
import type { RequestFn } from "./load.js";

/** The part of the bench settings a target needs. */
export interface TargetSettings {
  endpoint: Endpoint;
  pool: number;
  size: number;
  timeout: number;
}

/**
 * Sockets a run used: `opened` in all; `reused`: requests carried by a socket already open;
 * `retries`: requests run again on a fresh socket because a reused one had died unseen.
 */
export interface SocketCounts {
  opened: number;
  reused: number;
  retries: number;
}

export interface BenchTarget {
  /** One request before the run: a server that is not there is one clear error, not N. */
  preflight(): Promise<void>;
  request: RequestFn;
  sockets(): SocketCounts;
  close(): Promise<void>;
}

/**
 * A payload of `size` bytes: letters, a newline last (so line servers answer too), and the
 * request's sequence number stamped at the start, so a reply meant for another request
 * cannot pass the check.
 */
export function payloadMaker(size: number): (seq: number) => Buffer {
  const template = Buffer.alloc(size);
  for (let i = 0; i < size; i++) template[i] = 97 + (i % 26);
  template[size - 1] = 10;
  const width = Math.min(size - 1, 12);
  return (seq) => {
    const payload = Buffer.from(template);
    if (width > 0) payload.write(String(seq).padStart(width, "0").slice(-width), "latin1");
    return payload;
  };
}

const STALE_RETRY = { retryOnStale: true } as const;

function mismatch(seq: number, size: number): BadFrameError {
  return new BadFrameError(`echo of bench request ${seq} differs from the ${size} bytes sent`);
}

/**
 * Echo over a SocketPool: borrow, write the payload, read as many bytes back, compare. An echo
 * is idempotent, so a reused socket found dead before any reply byte (a one-shot server's FIN
 * still in flight) is retried once on a fresh socket (`retryOnStale`), and counted.
 */
export function socketTarget(s: TargetSettings): BenchTarget {
  const pool = new SocketPool({ maxSocketsPerEndpoint: s.pool, connectTimeout: s.timeout, acquireTimeout: s.timeout });
  const make = payloadMaker(s.size);
  const { timeout } = s;
  return {
    preflight: () => pool.use(s.endpoint, async () => {}),
    request: (seq) =>
      pool.use(
        s.endpoint,
        async (conn) => {
          const payload = make(seq);
          await conn.write(payload, { timeout });
          const reply = await conn.readExactly(s.size, { timeout });
          if (!reply.equals(payload)) throw mismatch(seq, s.size);
          return s.size;
        },
        STALE_RETRY,
      ),
    sockets: () => {
      const st = pool.stats();
      return { opened: st.created, reused: st.reused, retries: st.retries };
    },
    close: () => pool.close({ timeout: 2000 }),
  };
}

/** RPC echo over a ChannelPool: each request is one frame; the reply must carry it back. */
export function rpcTarget(s: TargetSettings): BenchTarget {
  const pool = new ChannelPool({
    maxChannelsPerEndpoint: s.pool,
    channel: { connect: { timeout: s.timeout }, requestTimeout: s.timeout },
  });
  const make = payloadMaker(s.size);
  let sent = 0;
  return {
    preflight: async () => {
      sent++;
      await pool.request(s.endpoint, "");
    },
    request: async (seq) => {
      const payload = make(seq);
      sent++;
      const reply = await pool.request(s.endpoint, payload);
      if (!reply.equals(payload)) throw mismatch(seq, s.size);
      return s.size;
    },
    sockets: () => {
      const opened = pool.stats().opened;
      return { opened, reused: Math.max(0, sent - opened), retries: 0 };
    },
    close: () => pool.close(),
  };
}
