import net from "node:net";

/**
 * The child side of a bench's echo server: the cheapest echo there is (`pipe` back, no
 * framing), on loopback with TCP_NODELAY. Sends its port to the parent over IPC and exits
 * when the parent disconnects. The benches fork themselves with a flag and call this.
 */
export function runEchoChild(): void {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on("error", () => {});
    s.pipe(s);
  });
  server.listen(0, "127.0.0.1", () => process.send?.((server.address() as net.AddressInfo).port));
  process.on("disconnect", () => process.exit(0));
}
