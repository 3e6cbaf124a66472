import type { TestContext } from "node:test";
import { Connection } from "sockpool";
import { type RpcHandler, type ServeRpcOptions, serveRpc } from "../../src/rpc/index.js";
import { rawServer, type TestServer } from "../helpers/net.js";

export interface RpcTestServer extends TestServer {
  /** What each connection's `serveRpc` settled with, in accept order: undefined or the error. */
  readonly outcomes: Promise<Error | undefined>[];
  /** The server side of each connection, in accept order. */
  readonly connections: Connection[];
}

/** A raw net server on 127.0.0.1:0 whose every socket is served by `serveRpc(handler)`. */
export async function rpcServer(
  t: TestContext,
  handler: RpcHandler,
  options?: ServeRpcOptions,
): Promise<RpcTestServer> {
  const outcomes: Promise<Error | undefined>[] = [];
  const connections: Connection[] = [];
  const srv = await rawServer(
    t,
    (socket) => {
      const conn = new Connection(socket, `client ${socket.remotePort}`);
      connections.push(conn);
      outcomes.push(
        serveRpc(conn, handler, options).then(
          () => undefined,
          (err: Error) => err,
        ),
      );
    },
    { allowHalfOpen: true },
  );
  return Object.assign(srv, { outcomes, connections });
}

/** A promise the test settles by hand: holds handlers open so races happen on purpose. */
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
