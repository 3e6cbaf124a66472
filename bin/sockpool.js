#!/usr/bin/env node
// The sockpool command line. The code lives in dist/ (built from src/cli/ by `npm run build`).
let cli;
try {
  cli = await import("../dist/src/cli/main.js");
} catch (err) {
  if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
  process.stderr.write("sockpool: dist/ is missing or incomplete; run `npm run build` first\n");
  process.exit(1);
}
process.exitCode = await cli.main(process.argv.slice(2));
