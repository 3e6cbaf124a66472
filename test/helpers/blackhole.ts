import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";

/**
 * A loopback port whose listener never accepts and whose accept queue is full, so further
 * SYNs are dropped: a dial to it hangs until its timeout, like a blackholed host. A Python
 * process holds the listening socket (Node always accepts); it exits when the test ends.
 */
export async function blackholePort(t: TestContext): Promise<number> {
  const py = spawn(
    "python3",
    [
      "-c",
      "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()",
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  t.after(() => stop(py));
  const [line] = (await once(py.stdout!, "data")) as [Buffer];
  const port = Number(line.toString().trim());
  // Fill the accept queue (backlog 0 holds one or two) so the next SYN is dropped.
  const fillers: net.Socket[] = [];
  t.after(() => {
    for (const f of fillers) f.destroy();
  });
  for (let i = 0; i < 3; i++) {
    const f = net.connect({ host: "127.0.0.1", port });
    f.on("error", () => {});
    fillers.push(f);
  }
  await new Promise((r) => setTimeout(r, 50)); // let the handshakes land in the queue
  return port;
}

async function stop(py: ChildProcess): Promise<void> {
  if (py.exitCode !== null) return;
  py.stdin?.end();
  py.kill();
  await once(py, "exit");
}
