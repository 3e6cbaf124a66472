import http from "node:http";
import net from "node:net";
import { InvalidArgumentError } from "../index.js";
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/index.js";

/** Where `--metrics` listens. */
export interface MetricsAddress {
  host: string;
  port: number;
}

const EXPECTED = "HOST:PORT such as 127.0.0.1:9464 or [::1]:9464, or a PORT alone for 127.0.0.1";

/**
 * Parses `--metrics HOST:PORT` (`[v6]:PORT` for IPv6; a bare PORT means 127.0.0.1): the
 * endpoint listens on exactly the host given, loopback unless the user names another.
 * Throws InvalidArgumentError naming the value.
 */
export function parseMetricsAddress(text: string): MetricsAddress {
  const bad = (why: string) =>
    new InvalidArgumentError(`--metrics ${JSON.stringify(text)}: ${why}; expected ${EXPECTED}`);
  const colon = text.lastIndexOf(":");
  let host = colon < 0 ? "127.0.0.1" : text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) {
    host = host.slice(1, -1);
    if (!net.isIPv6(host)) throw bad(`${JSON.stringify(host)} is not an IPv6 address`);
  } else if (host.includes(":")) {
    throw bad("an IPv6 host goes in brackets");
  }
  if (host === "") throw bad("the host is missing");
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
    throw bad("the port must be a whole number from 0 to 65535");
  return { host, port: Number(portText) };
}

/** A listening `/metrics` endpoint; `close()` ends its keep-alive connections too. */
export interface MetricsEndpoint {
  /** `http://HOST:PORT/metrics`, with the port bound. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `render()` on GET (and HEAD) `/metrics` with the Prometheus content type, 404 on
 * every other path and 405 for other methods. Resolves once listening; rejects with
 * InvalidArgumentError naming the address when it cannot listen (in use, not local…).
 */
export async function serveMetrics(at: MetricsAddress, render: () => string): Promise<MetricsEndpoint> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: try /metrics\n");
    } else if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end();
    } else {
      let body: string;
      try {
        body = render();
      } catch (err) {
        // A scrape that fails must not take down the server it watches.
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`cannot render metrics: ${err}\n`);
        return;
      }
      res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE, "content-length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      const where = at.host.includes(":") ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
      const why = `cannot listen: ${err.code ?? err.message}`;
      reject(Object.assign(new InvalidArgumentError(`--metrics ${where} ${why}`), { cause: err }));
    });
    server.listen(at.port, at.host, resolve);
  });
  const bound = server.address() as net.AddressInfo;
  const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${bound.port}/metrics`,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
