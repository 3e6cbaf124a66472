import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";
import { type ListenOptions, Server, type ServerHandler, type ServerOptions } from "../../src/server/index.js";

/** Listens on 127.0.0.1:0 (unless told otherwise); destroyed after the test. */
export async function serve(
  t: TestContext,
  handlerOrServer: ServerHandler | Server,
  options?: ServerOptions,
  listen: ListenOptions = {},
): Promise<{ server: Server; port: number; endpoint: string }> {
  const server = handlerOrServer instanceof Server ? handlerOrServer : new Server(handlerOrServer, options);
  t.after(() => server.close({ timeout: 0 }));
  await server.listen(listen);
  const address = server.address() as net.AddressInfo;
  return { server, port: address.port, endpoint: `127.0.0.1:${address.port}` };
}

/** A raw client socket, destroyed after the test, resolved once connected. */
export async function dial(
  t: TestContext,
  port: number,
  options: Partial<net.TcpNetConnectOpts> = {},
): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true, ...options });
  s.on("error", () => {});
  t.after(() => s.destroy());
  await once(s, "connect");
  return s;
}

/** Collects everything a socket receives; `text()` so far, `ended` at the peer's FIN or close. */
export function collect(s: net.Socket): { text(): string; bytes(): number; ended: Promise<void> } {
  const chunks: Buffer[] = [];
  let n = 0;
  s.on("data", (c: Buffer) => {
    chunks.push(c);
    n += c.length;
  });
  const ended = new Promise<void>((r) => {
    s.once("end", () => r());
    s.once("close", () => r());
  });
  return { text: () => Buffer.concat(chunks).toString(), bytes: () => n, ended };
}

/** Resolves once the socket has received at least `n` bytes in total. */
export function received(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off("data", onData);
        s.off("close", onClose);
        resolve(Buffer.concat(chunks));
      }
    };
    const onClose = () => reject(new Error(`closed after ${got} of ${n} bytes`));
    s.on("data", onData);
    s.once("close", onClose);
  });
}
