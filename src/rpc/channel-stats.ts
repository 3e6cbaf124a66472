/** Lifecycle: `open → closing → closed`; `closing` waits for outstanding requests. */
export type ChannelState = "open" | "closing" | "closed";

/** A snapshot of one channel's counters; the counts are totals since it opened. */
export interface ChannelStats {
  state: ChannelState;
  /** Requests written and not yet answered, cancelled or failed. */
  inFlight: number;
  /** Requests waiting for a slot under `maxInFlight`, or for unsent bytes to drain. */
  waiting: number;
  /** Bytes written and not yet taken by the kernel (requests, cancels, pings, pongs). */
  unsentBytes: number;
  sent: number;
  replies: number;
  errorReplies: number;
  timeouts: number;
  aborts: number;
  cancelsSent: number;
  /** Replies for ids no longer outstanding (they crossed a cancel on the wire). */
  lateReplies: number;
  /** Requests rejected because the connection was lost. */
  failed: number;
  pingsSent: number;
  /** Times sending stopped because unsent bytes passed `highWaterMark` (the peer did not read). */
  drainWaits: number;
  /** Pings left without a pong because a later ping arrived while sending was stopped. */
  pongsSkipped: number;
}
