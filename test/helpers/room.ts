import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { type Connection, connect } from "sockpool";

/**
 * A chat client for the room tests: reads every line it receives in the background and
 * lets the test await a condition on them (checked at each line, so no polling).
 */
export class Member {
  readonly name: string;
  readonly conn: Connection;
  /** The lines received, without the sender's tag `serve chat` puts in front. */
  readonly lines: string[] = [];
  /** Each line's sender tag (`127.0.0.1:50312`), or "" for an untagged line. */
  readonly tags: string[] = [];
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  #ended = false;
  readonly done: Promise<void>;

  constructor(name: string, conn: Connection) {
    this.name = name;
    this.conn = conn;
    this.done = this.#read();
  }

  /** Resolves once `predicate(lines)` holds; rejects if the connection ends first. */
  until(predicate: (lines: string[]) => boolean, what: string): Promise<void> {
    if (predicate(this.lines)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          if (predicate(this.lines)) return true;
          if (this.#ended) reject(new Error(`${this.name} ended before ${what}; got ${this.lines.length} lines`));
          return this.#ended;
        },
        resolve,
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolves once the line `line` has arrived. */
  heard(line: string): Promise<void> {
    return this.until((lines) => lines.includes(line), `hearing ${JSON.stringify(line)}`);
  }

  /** This member as the others see it in a tag: its address and port. */
  get tag(): string {
    return `${this.conn.localAddress}:${this.conn.localPort}`;
  }

  /** The lines from `sender` (`"<sender> <n>"`), as their numbers, in arrival order. */
  from(sender: string): number[] {
    const prefix = `${sender} `;
    return this.lines.filter((l) => l.startsWith(prefix)).map((l) => Number(l.slice(prefix.length)));
  }

  async #read(): Promise<void> {
    try {
      for (let line = await this.conn.readLine(); line !== null; line = await this.conn.readLine()) {
        const tagged = TAGGED.exec(line);
        this.lines.push(tagged ? (tagged[2] as string) : line);
        this.tags.push(tagged ? (tagged[1] as string) : "");
        this.#notify();
      }
      void this.conn.close(); // the server ended the room (closing): leave too, as nc does
    } catch {
      // reset or destroyed: the test sees it as the end
    }
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}

/** `127.0.0.1:50312: text`: a line `serve chat` tagged with its sender. */
const TAGGED = /^(127\.0\.0\.1:\d+): (.*)$/;

/** Connects `name` to `port` (destroyed after the test). */
export async function join(t: TestContext, name: string, port: number): Promise<Member> {
  const conn = await connect(`127.0.0.1:${port}`, { timeout: 5000 });
  t.after(() => conn.destroy());
  return new Member(name, conn);
}

/**
 * Waits until every member is in its server's room: `last` (the member connected last to
 * each server) says hello, and every other member of that server hears it. A server adds
 * clients in accept order, so one that read `last`'s line has added every earlier client.
 */
export async function settle(groups: { last: Member; others: Member[] }[]): Promise<void> {
  for (const { last, others } of groups) {
    const hello = `hello ${last.name}`;
    await last.conn.write(`${hello}\n`);
    await Promise.all(others.map((m) => m.heard(hello)));
  }
}

/**
 * `n` numbered lines from `member`, `"<name> 0"` to `"<name> n-1"`, then `"bye <name>"`,
 * written back to back.
 */
export async function talk(member: Member, n: number): Promise<void> {
  let batch = "";
  for (let i = 0; i < n; i++) batch += `${member.name} ${i}\n`;
  await member.conn.write(`${batch}bye ${member.name}\n`);
}

/**
 * The guarantee of a room, after each member `talk`ed: every member heard each other
 * member's `n` lines exactly once and in order (a replay would come before its sender's
 * "bye"), and none of its own. With `tagged`, each line also names its true sender.
 */
export async function assertEveryoneHeardEveryone(members: Member[], n: number, tagged = false): Promise<void> {
  const seq = Array.from({ length: n }, (_, i) => i);
  await Promise.all(
    members.map((m) =>
      m.until(
        (lines) => members.every((o) => o === m || lines.includes(`bye ${o.name}`)),
        `${m.name} hearing every other member's lines`,
      ),
    ),
  );
  for (const m of members) {
    assert.deepEqual(m.from(m.name), [], `${m.name} heard its own lines`);
    for (const o of members) if (o !== m) assert.deepEqual(m.from(o.name), seq, `${m.name} hearing ${o.name}`);
    const expected = m.lines.map((line) => (tagged ? members.find((o) => o.name === senderOf(line))?.tag : ""));
    assert.deepEqual(m.tags, expected, `the sender tags ${m.name} heard`);
  }
}

/** Who sent a line of these tests: `hello <name>`, `bye <name>` or `<name> <n>`. */
function senderOf(line: string): string | undefined {
  const words = line.split(" ");
  return words[0] === "hello" || words[0] === "bye" ? words[1] : words[0];
}
