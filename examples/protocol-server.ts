/**
 * Protocol callbacks instead of a stream handler (asyncio's Protocol): a counter server
 * that answers each chunk with the running byte count for that client.
 *
 *   npm run build && node dist/examples/protocol-server.js 3000
 *   node bin/sockpool.js send 127.0.0.1:3000 hello --line      # prints "6 bytes so far"
 *
 * In your project: import { createServer, type Protocol, type Transport } from "sockpool";
 */
import type { AddressInfo } from "node:net";
import { createServer, type Protocol, type Transport } from "../src/index.js";

class ByteCounter implements Protocol {
  #transport: Transport | undefined;
  #bytes = 0;

  connectionMade(transport: Transport): void {
    this.#transport = transport;
  }

  dataReceived(data: Buffer): void {
    this.#bytes += data.length;
    this.#transport?.write(`${this.#bytes} bytes so far\n`);
  }

  connectionLost(error: Error | undefined): void {
    if (error) console.error(`${this.#transport?.where}: ${error.message}`);
  }
}

const server = createServer(ByteCounter);
await server.listen({ port: Number(process.argv[2] ?? 3000) });
console.log(`listening on 127.0.0.1:${(server.address() as AddressInfo).port}`);
process.once("SIGINT", () => void server.close({ timeout: 2_000 }));
