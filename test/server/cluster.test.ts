import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import { after, it } from "node:test";
import { fileURLToPath } from "node:url";
import { connect } from "sockpool";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";

after(assertNoOpenSockets);

const app = fileURLToPath(new URL("./fixtures/cluster-app.js", import.meta.url));

it("runs workers that share one port, answer clients, and shut down gracefully together", {
  timeout: TEST_TIMEOUT,
}, async (t) => {
  const child = fork(app, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const [ready] = (await once(child, "message")) as [{ port: number; pids: number[] }];
  assert.equal(ready.pids.length, 2);
  const seen = new Set<number>();
  const clients = [];
  for (let i = 0; i < 8; i++) {
    const c = await connect(`127.0.0.1:${ready.port}`);
    t.after(() => c.destroy());
    clients.push(c);
    seen.add(Number(await c.readLine()));
    await c.write(`hi ${i}\n`);
    assert.equal(await c.readLine(), `hi ${i}`);
  }
  assert.deepEqual([...seen].sort(), [...ready.pids].sort(), "both workers served clients");
  const exited = once(child, "exit");
  child.send("stop");
  for (const c of clients) assert.equal(await c.readLine(), null, "each client is closed by its worker");
  const [code] = (await exited) as [number];
  assert.equal(code, 0);
});
