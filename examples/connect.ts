/**
 * One connection, no pool: connect, write a line, read the reply line, close.
 *
 *   npm run build && node dist/examples/connect.js 127.0.0.1:3000 "hello"
 *   (start a server first: node bin/sockpool.js serve echo --port 3000)
 *
 * In your project: import { connect, SockpoolError } from "sockpool";
 */
import { connect, SockpoolError } from "../src/index.js";

async function main(endpoint = "127.0.0.1:3000", message = "hello"): Promise<void> {
  // Resolves once connected; a refused or silent server rejects with a typed error.
  const conn = await connect(endpoint, { timeout: 2_000, readTimeout: 5_000 });
  try {
    await conn.write(`${message}\n`); // resolves when the socket has taken the bytes
    const reply = await conn.readLine(); // one line, newline stripped; null if the peer closed
    console.log(`reply: ${reply}`);
  } finally {
    await conn.close(); // FIN, then wait for the peer's; never rejects
  }
}

main(process.argv[2], process.argv[3]).catch((err: unknown) => {
  // Every error sockpool throws on purpose has a stable code to branch on.
  console.error(err instanceof SockpoolError ? `${err.code}: ${err.message}` : err);
  process.exitCode = 1;
});
