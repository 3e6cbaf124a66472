import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, it } from "node:test";
import { fileURLToPath } from "node:url";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";

after(assertNoOpenSockets);

const fixture = fileURLToPath(new URL("./fixtures/vanish.js", import.meta.url));

/** Whether this machine lets us make network namespaces with iptables (root, ip, iptables). */
function namespacesWork(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v ip && command -v iptables"], { stdio: "ignore" });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

it("frees the slot of a peer that vanishes (iptables DROP) at the idle timeout; the client read times out (scenario 19)", {
  timeout: TEST_TIMEOUT,
  // Under CI (.ci/run installs ip and iptables) a missing tool is a failure, not a skip.
  skip: !process.env.CI && !namespacesWork() && "needs root, ip and iptables for a network namespace",
}, (t) => {
  const ns = `sockpool-vanish-${process.pid}`;
  execFileSync("ip", ["netns", "add", ns]);
  t.after(() => execFileSync("ip", ["netns", "del", ns]));
  execFileSync("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
  const out = execFileSync("ip", ["netns", "exec", ns, process.execPath, fixture], {
    cwd: process.cwd(),
    encoding: "utf8",
    timeout: 15_000,
  });
  const r = JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
  assert.equal(r.first, "ping", "the connection worked before the peer vanished");
  assert.equal(r.clientError, "ERR_SOCKPOOL_READ_TIMEOUT", "the client's read timed out");
  assert.equal(r.dirty, true, "the timed-out connection is dirty: a pool destroys it");
  assert.equal(r.current, 0, "the server freed the slot");
  assert.equal(r.idleTimeouts, 1, "by its idle timeout");
  assert.ok(r.freedAfter >= 300, `freed after ${r.freedAfter} ms`);
});
