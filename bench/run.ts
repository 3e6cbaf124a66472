/**
 * Runs every bench, one after another, each in its own process (so one bench's heap and
 * sockets cannot skew the next): connection, server, rpc, cli, and any bench/<name>.ts added
 * later. Arguments after the names go to every bench.
 *
 *   npm run bench                       # all of them
 *   npm run bench -- cli rpc            # only these
 *   node dist/bench/run.js server --seconds 1
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const all = readdirSync(here)
  .filter((f) => f.endsWith(".js") && f !== "run.js")
  .map((f) => f.slice(0, -3))
  .sort();

const args = process.argv.slice(2);
const firstFlag = args.findIndex((a) => a.startsWith("--"));
const names = firstFlag < 0 ? args : args.slice(0, firstFlag);
const passThrough = firstFlag < 0 ? [] : args.slice(firstFlag);
const unknown = names.filter((n) => !all.includes(n));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(", ")}; choose from ${all.join(", ")}`);
  process.exit(1);
}

let failed = 0;
for (const name of names.length > 0 ? names : all) {
  console.log(`\n## bench/${name}\n`);
  const child = spawn(process.execPath, [`${here}${name}.js`, ...passThrough], { stdio: "inherit" });
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) {
    console.error(`bench/${name} exited with ${code}`);
    failed++;
  }
}
process.exitCode = failed === 0 ? 0 : 1;
