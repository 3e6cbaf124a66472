/**
 * What a member has seen of each other member: the last sequence number delivered per origin.
 * A message at or below it is a replay (an XADD resent after its reply was lost) and is
 * skipped; one past the next number means messages of that origin never arrived (dropped from
 * its outbox, or trimmed from the stream before this member read them), and is counted.
 *
 * State: `#last` maps origin → last delivered seq, least recently heard first; at most
 * `#max` origins are kept (processes that restart get a new origin, so old ones age out).
 */
export class SeenOrigins {
  readonly #last = new Map<string, number>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /**
   * Whether a message `seq` from `origin` is new; if it is, records it and returns how many
   * of that origin's messages were skipped since the last one (0 in order, or for an origin
   * first heard now). Returns -1 for a replay.
   */
  accept(origin: string, seq: number): number {
    const last = this.#last.get(origin);
    if (last !== undefined && seq <= last) return -1;
    this.#last.delete(origin);
    this.#last.set(origin, seq);
    if (this.#last.size > this.#max) this.#last.delete(this.#last.keys().next().value as string);
    return last === undefined ? 0 : seq - last - 1;
  }
}
