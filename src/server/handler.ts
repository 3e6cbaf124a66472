import { InvalidArgumentError, quote } from "../errors.js";
import type { StreamHandler } from "./stream-runner.js";
import type { Protocol, ProtocolFactory } from "./transport.js";

/** How the server runs each connection. */
export type ResolvedHandler = { kind: "stream"; run: StreamHandler } | { kind: "protocol"; make: () => Protocol };

/** A stream handler, a Protocol class, or `{ protocol: factory }`. */
export type ServerHandler = StreamHandler | (new () => Protocol) | { protocol: ProtocolFactory };

/** Tells a stream handler from a Protocol class or `{ protocol }`; throws InvalidArgumentError otherwise. */
export function resolveHandler(handler: ServerHandler): ResolvedHandler {
  if (typeof handler === "function") {
    const proto = (handler as { prototype?: Record<string, unknown> }).prototype;
    const isProtocolClass = proto !== undefined && PROTOCOL_METHODS.some((m) => typeof proto[m] === "function");
    if (isProtocolClass) {
      const ProtocolClass = handler as new () => Protocol;
      return { kind: "protocol", make: () => new ProtocolClass() };
    }
    return { kind: "stream", run: handler as StreamHandler };
  }
  if (typeof handler === "object" && handler !== null && typeof handler.protocol === "function") {
    return { kind: "protocol", make: handler.protocol };
  }
  throw new InvalidArgumentError(
    `server handler must be a function, a Protocol class or { protocol: factory }, got ${quote(handler)}`,
  );
}

const PROTOCOL_METHODS = ["connectionMade", "dataReceived", "eofReceived", "connectionLost"];
