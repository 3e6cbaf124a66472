/** What the budget asks of an endpoint pool. */
export interface BudgetMember {
  /** Closes one idle socket, giving its slot back, to make room elsewhere; false if none is idle. */
  evictIdle(): boolean;
  /** Slots may be free now: start the dials still wanted. */
  pump(): void;
}

/**
 * One socket's place under `maxSockets`, as a value (bb8's `Approval`): taken before a dial,
 * carried by the dial and then by the socket it made, and given back exactly once, when the
 * socket is gone or the dial is abandoned. A dial that connects after it was abandoned finds
 * its slot no longer `held`.
 */
export class Slot {
  #give: (() => void) | undefined;

  constructor(give: () => void) {
    this.#give = give;
  }

  get held(): boolean {
    return this.#give !== undefined;
  }

  /** Gives the place back; later calls do nothing. */
  give(): void {
    const give = this.#give;
    this.#give = undefined;
    give?.();
  }
}

/**
 * The sockets of every endpoint together, bounded by `maxSockets`. A member that finds the
 * budget spent first closes another member's idle socket (the surplus of a quiet endpoint
 * makes room for a busy one); failing that it waits, and members waiting are pumped oldest
 * first as slots come back.
 *
 * State: `#used` slots are held (≤ max); `#starved`: members that found no slot, in the order
 * they asked; `#evicting`: inside `take`, so the slot an eviction frees is not handed to a
 * starved member; `#stopped`: final, nothing is pumped any more (the pool is closing).
 */
export class SocketBudget {
  readonly #max: number;
  readonly #members: () => Iterable<BudgetMember>;
  readonly #starved = new Set<BudgetMember>();
  readonly #returned = () => this.#onReturn();
  #used = 0;
  #evicting = false;
  #stopped = false;

  /** `members` lists every member, to find an idle socket to evict. */
  constructor(max: number, members: () => Iterable<BudgetMember>) {
    this.#max = max;
    this.#members = members;
  }

  get used(): number {
    return this.#used;
  }

  /** A slot for `member`, or undefined after queueing it to be pumped once one comes back. */
  take(member: BudgetMember): Slot | undefined {
    if (this.#used >= this.#max && !this.#evictFor(member)) {
      this.#starved.add(member);
      return undefined;
    }
    this.#used++;
    return new Slot(this.#returned);
  }

  /** A member left (it has nothing left to dial for). */
  forget(member: BudgetMember): void {
    this.#starved.delete(member);
  }

  /** Stops pumping for good. */
  stop(): void {
    this.#stopped = true;
    this.#starved.clear();
  }

  #evictFor(member: BudgetMember): boolean {
    this.#evicting = true;
    try {
      for (const other of this.#members()) if (other !== member && other.evictIdle()) return true;
      return false;
    } finally {
      this.#evicting = false;
    }
  }

  #onReturn(): void {
    this.#used--;
    if (this.#evicting || this.#stopped) return;
    while (this.#starved.size > 0 && this.#used < this.#max) {
      const first = this.#starved.values().next().value as BudgetMember;
      this.#starved.delete(first);
      first.pump();
    }
  }
}
