import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";
import { closedRedisUrl, skipWithoutRedis, startRedis } from "../helpers/redis.js";
import { assertEveryoneHeardEveryone, join, type Member, settle, talk } from "../helpers/room.js";
import { hasSs } from "../server/helpers.js";
import { interrupt, runCli, serveCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

/** Connects `names` one after another (so each server accepts them in this order). */
async function members(t: Parameters<typeof join>[0], port: number, names: string[]): Promise<Member[]> {
  const out: Member[] = [];
  for (const name of names) out.push(await join(t, name, port));
  return out;
}

/** The pids of the processes holding established connections on `port` (needs ss). */
function holders(port: number): Set<number> {
  const out = execFileSync("ss", ["-Htnp", "state", "established", `( sport = :${port} )`], { encoding: "utf8" });
  return new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
}

describe("sockpool serve chat: one room across processes", () => {
  test("--workers 2: each of 8 clients' lines reach the 7 others once, in order, never the sender", opts, async (t) => {
    const { cli, port } = await serveCli(t, ["chat", "--workers", "2"]);
    const room = await members(t, port, ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
    await settle([{ last: room[7] as Member, others: room.slice(0, 7) }]);
    if (hasSs()) assert.equal(holders(port).size, 2, "both workers hold clients");
    await Promise.all(room.map((m) => talk(m, 50)));
    await assertEveryoneHeardEveryone(room, 50, true);
    assert.equal((await interrupt(cli)).code, 0);
  });

  test("two serve chat --redis processes, 3 clients each: every line reaches the 5 others once, in order", {
    ...opts,
    skip: skipWithoutRedis,
  }, async (t) => {
    const redis = await startRedis(t);
    const one = await serveCli(t, ["chat", "--redis", redis.url, "--room", "lobby"]);
    const two = await serveCli(t, ["chat", "--redis", redis.url, "--room", "lobby"]);
    assert.match(one.cli.stdout(), new RegExp(`in room "lobby" on redis://127\\.0\\.0\\.1:${redis.port}`));
    const a = await members(t, one.port, ["a0", "a1", "a2"]);
    const b = await members(t, two.port, ["b0", "b1", "b2"]);
    await settle([
      { last: a[2] as Member, others: a.slice(0, 2) },
      { last: b[2] as Member, others: b.slice(0, 2) },
    ]);
    await Promise.all([...a, ...b].map((m) => talk(m, 100)));
    await assertEveryoneHeardEveryone([...a, ...b], 100, true);
    for (const { cli } of [one, two]) {
      const result = await interrupt(cli);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /redis bus: relayed 304, received 304, dropped 0, outages 0/);
    }
  });

  test("--workers and --redis combine: workers relay to each other and to another host", {
    ...opts,
    skip: skipWithoutRedis,
  }, async (t) => {
    const redis = await startRedis(t);
    const host1 = await serveCli(t, ["chat", "--workers", "2", "--redis", redis.url]);
    const host2 = await serveCli(t, ["chat", "--redis", redis.url]);
    assert.match(host1.cli.stdout(), /with 2 workers in room "chat"/);
    const a = await members(t, host1.port, ["a0", "a1", "a2", "a3"]);
    const b = await members(t, host2.port, ["b0", "b1"]);
    await settle([
      { last: a[3] as Member, others: a.slice(0, 3) },
      { last: b[1] as Member, others: b.slice(0, 1) },
    ]);
    if (hasSs()) assert.equal(holders(host1.port).size, 2, "both workers hold clients");
    await Promise.all([...a, ...b].map((m) => talk(m, 50)));
    await assertEveryoneHeardEveryone([...a, ...b], 50, true);
    for (const { cli } of [host1, host2]) assert.equal((await interrupt(cli)).code, 0);
  });

  test("a Redis outage is one line when it begins and one when it ends; lines sent meanwhile arrive after", {
    ...opts,
    skip: skipWithoutRedis,
  }, async (t) => {
    const redis = await startRedis(t);
    const one = await serveCli(t, ["chat", "--redis", redis.url]);
    const two = await serveCli(t, ["chat", "--redis", redis.url]);
    const [a0, a1] = await members(t, one.port, ["a0", "a1"]);
    const [b0] = await members(t, two.port, ["b0"]);
    await settle([{ last: a1 as Member, others: [a0 as Member] }]);
    await (a1 as Member).conn.write("before\n");
    await (b0 as Member).heard("before");
    await redis.stop();
    await Promise.all([one.cli.waitFor(/redis bus: outage/, "stderr"), two.cli.waitFor(/redis bus: outage/, "stderr")]);
    await (a1 as Member).conn.write("during 1\nduring 2\n");
    await (a0 as Member).heard("during 2"); // local delivery goes on
    await redis.restart();
    await Promise.all([one.cli.waitFor(/recovered after/, "stderr"), two.cli.waitFor(/recovered after/, "stderr")]);
    await (b0 as Member).heard("during 2");
    assert.deepEqual((b0 as Member).lines.slice(-3), ["before", "during 1", "during 2"]);
    for (const { cli } of [one, two]) {
      const result = await interrupt(cli);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr.match(/redis bus: outage/g)?.length, 1, result.stderr);
      assert.equal(result.stderr.match(/recovered after/g)?.length, 1, result.stderr);
      assert.match(result.stderr, /outages 1/);
    }
  });

  test("flag mistakes are one clear error each, exit 1", opts, async (t) => {
    const cases: [string[], RegExp][] = [
      [["chat", "--room", "lobby"], /ERR_SOCKPOOL_INVALID_ARGUMENT: --room "lobby" needs --redis URL/],
      [["echo", "--redis", "redis://127.0.0.1:6379"], /--redis applies to "serve chat" only, not "serve echo"/],
      [
        ["chat", "--redis", "http://127.0.0.1:6379"],
        /ERR_SOCKPOOL_INVALID_ARGUMENT: .*url .*"http:\/\/127\.0\.0\.1:6379"/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(t, ["serve", ...args, "--port", "0"]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, message);
    }
  });

  test("a Redis that cannot be reached at startup is an error naming it, exit 1", opts, async (t) => {
    const url = await closedRedisUrl();
    for (const extra of [[], ["--workers", "2"]]) {
      const result = await runCli(t, ["serve", "chat", "--port", "0", "--redis", url, ...extra]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`ERR_SOCKPOOL_CONNECT: connect to ${url.replace(/\./g, "\\.")} failed`));
    }
  });
});
