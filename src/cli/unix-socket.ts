import { lstat, unlink } from "node:fs/promises";
import net from "node:net";

/**
 * Removes the socket file at `path` if it is stale: a socket that refuses connections, left
 * behind by a server that did not close (a crash, a kill -9). A live server's socket, and
 * any file that is not a socket, are left alone, so the listen that follows fails with
 * EADDRINUSE rather than stealing the path.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat?.isSocket()) return;
  const refused = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(false);
    });
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
  if (refused) await unlink(path).catch(() => {});
}
