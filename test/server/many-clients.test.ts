import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, it } from "node:test";
import { createEchoServer } from "../../src/server/index.js";
import { assertNoOpenSockets, until } from "../helpers/net.js";
import { serve } from "./helpers.js";

after(assertNoOpenSockets);

const CLIENTS = 5000;

it(`serves ${CLIENTS} concurrent clients on one loop, each getting its echo`, { timeout: 30_000 }, async (t) => {
  const { server, port } = await serve(t, createEchoServer(), {}, { backlog: 4096 });
  const sockets: net.Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  // Connect in waves (the kernel's accept queue is 4096), keeping every socket open.
  for (let wave = 0; wave < CLIENTS; wave += 1000) {
    const batch = Array.from({ length: Math.min(1000, CLIENTS - wave) }, () => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.on("error", () => {});
      sockets.push(s);
      return once(s, "connect");
    });
    await Promise.all(batch);
  }
  await until(() => server.stats().current === CLIENTS, `${CLIENTS} clients on the server`, 10_000);
  const echoes = sockets.map(
    (s, i) =>
      new Promise<string>((resolve, reject) => {
        const want = `client ${i}`;
        let got = "";
        s.setEncoding("utf8");
        s.on("data", (text: string) => {
          got += text;
          if (got.length >= want.length) resolve(got);
        });
        s.once("close", () => reject(new Error(`client ${i} closed after ${JSON.stringify(got)}`)));
        s.write(want);
      }),
  );
  const replies = await Promise.all(echoes);
  for (const [i, r] of replies.entries()) assert.equal(r, `client ${i}`);
  assert.equal(server.stats().current, CLIENTS, "all were connected at once");
  assert.equal(server.stats().total, CLIENTS);
  assert.equal(server.stats().rejected, 0);
});
