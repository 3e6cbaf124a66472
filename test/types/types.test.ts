import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { TEST_TIMEOUT } from "../helpers/net.js";

/** The checkout's root: this file runs as dist/test/types/types.test.js. */
const root = fileURLToPath(new URL("../../../", import.meta.url));

/** Runs the repo's own tsc with `args` in the checkout; resolves with its exit code and output. */
function tsc(args: string[]): Promise<{ code: number; output: string }> {
  const bin = join(root, "node_modules/typescript/bin/tsc");
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

test("the published types meet test/types/cases: typed events, literal codes, checked options", {
  timeout: TEST_TIMEOUT,
}, async () => {
  // A consumer's settings (strict, skipLibCheck false); `sockpool` resolves to dist/src/*.d.ts.
  const result = await tsc(["-p", "test/types/tsconfig.json"]);
  assert.equal(result.code, 0, `tsc -p test/types/tsconfig.json failed:\n${result.output}`);
});
