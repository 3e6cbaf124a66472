import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { after, describe, type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { createEchoServer } from "../src/server/index.js";
import { assertNoOpenSockets, closedPort, TEST_TIMEOUT } from "./helpers/net.js";

// The README's fenced code blocks, run as a reader would: each `ts` or `js` block is its own
// program, importing "sockpool" (the checkout's build, through the package's self-reference).
// A block's info string names the peer it talks to on 127.0.0.1:3000 (`peer=echo`), and its
// fixed ports (3000, 4000) are mapped to free loopback ones. A block that is not meant to run
// (shell, output, a fragment) says `no-run`; any other block fails the first test.

const opts = { timeout: TEST_TIMEOUT };
/** The checkout's root: this file runs as dist/test/readme.test.js. */
const root = fileURLToPath(new URL("../../", import.meta.url));
const README = readFileSync(join(root, "README.md"), "utf8");

after(assertNoOpenSockets);

interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  heading: string;
  lang: string;
  attrs: Map<string, string>;
  code: string;
}

/** Every fenced block, with its info string split into a language and `key[=value]` words. */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let heading = "";
  let open: Block | undefined;
  const body: string[] = [];
  for (const [i, text] of markdown.split("\n").entries()) {
    if (open === undefined) {
      if (text.startsWith("#")) heading = text.replace(/^#+\s*/, "");
      const fence = /^```(.*)$/.exec(text);
      if (fence === null) continue;
      const [lang = "", ...words] = (fence[1] ?? "").trim().split(/\s+/);
      const attrs = new Map(words.map((w) => [w.split("=")[0] ?? w, w.split("=")[1] ?? ""]));
      open = { line: i + 1, heading, lang, attrs, code: "" };
      body.length = 0;
    } else if (/^```\s*$/.test(text)) {
      blocks.push({ ...open, code: `${body.join("\n")}\n` });
      open = undefined;
    } else body.push(text);
  }
  assert.equal(open, undefined, `README.md:${open?.line}: a fence that never closes`);
  return blocks;
}

const blocks = fencedBlocks(README);
const runnable = blocks.filter((b) => !b.attrs.has("no-run") && (b.lang === "ts" || b.lang === "js"));

/** Peers a block can ask for; each listens on 127.0.0.1:0 and is closed after the test. */
const peers: Record<string, (t: TestContext) => Promise<number>> = {
  /** sockpool's echo server: every chunk straight back. */
  async echo(t) {
    const server = createEchoServer();
    await server.listen({ host: "127.0.0.1", port: 0 });
    t.after(() => server.close({ timeout: 1_000 }));
    return (server.address() as net.AddressInfo).port;
  },
  /** Answers the first line with itself, 4 bytes, a header block and a tail, then ends. */
  async greeter(t) {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
      let seen = "";
      socket.on("data", (chunk) => {
        seen += chunk.toString("latin1");
        const end = seen.indexOf("\n");
        if (end >= 0) socket.end(`${seen.slice(0, end + 1)}HEADKey: value\r\n\r\ntail`);
      });
    });
    server.listen(0, "127.0.0.1");
    t.after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    });
    await new Promise((r) => server.once("listening", r));
    return (server.address() as net.AddressInfo).port;
  },
};

/** The block's code with 127.0.0.1:3000 / port: 3000 (and 4000) on the given ports. */
function mapPorts(code: string, ports: Map<string, number>): string {
  return code.replace(/(127\.0\.0\.1:|port: )(3000|4000)\b/g, (_, before: string, port: string) => {
    return `${before}${ports.get(port) ?? port}`;
  });
}

/** Runs this Node with `args` in `cwd`; resolves with its exit code and output (killed at 15 s). */
function runNode(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      resolve({
        code,
        output: `${stdout}${stderr}${err?.killed ? "\n(killed: still running after 15 s; something it opened is still open)" : ""}`,
      });
    });
  });
}

/** Where the blocks are written: inside the checkout, so `import "sockpool"` resolves. */
const dir = (() => {
  mkdirSync(join(root, ".tmp"), { recursive: true });
  return mkdtempSync(join(root, ".tmp", "readme-"));
})();
after(() => rmSync(dir, { recursive: true, force: true }));

const where = (b: Block) => `README.md:${b.line} (${b.heading}, \`\`\`${b.lang})`;

describe("README examples", () => {
  test("every fenced block is ts or js to run, or says no-run", opts, () => {
    const unmarked = blocks.filter((b) => !b.attrs.has("no-run") && !runnable.includes(b));
    assert.deepEqual(unmarked.map(where), [], "mark these `no-run` or make them ts/js examples that run");
    const unknown = runnable.filter((b) => b.attrs.has("peer") && !(String(b.attrs.get("peer")) in peers));
    assert.deepEqual(unknown.map(where), [], `peers are ${Object.keys(peers).join(", ")}`);
    assert.ok(runnable.length >= 5, `only ${runnable.length} runnable examples found`);
  });

  test("every await using example has a plain-JavaScript twin in the same section", opts, () => {
    for (const b of runnable.filter((b) => /\bawait using\b/.test(b.code))) {
      const twin = runnable.find((o) => o.lang === "js" && o.heading === b.heading && !/\bawait using\b/.test(o.code));
      assert.ok(twin, `${where(b)} uses await using but its section has no js block without it`);
    }
  });

  test("the TypeScript examples type-check (strict) against the published types", opts, async () => {
    // One file per block, named after its fence's line, so tsc's positions map back to README.md.
    const files: string[] = [];
    for (const b of runnable.filter((b) => b.lang === "ts")) {
      files.push(`line-${b.line}.ts`);
      writeFileSync(join(dir, `line-${b.line}.ts`), b.code);
    }
    const tsconfig = {
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2022", "esnext.disposable"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        types: ["node"],
        strict: true,
        skipLibCheck: true, // the published types are checked in full by test/types
        noEmit: true,
      },
      files,
    };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
    const checked = await runNode([join(root, "node_modules/typescript/bin/tsc"), "-p", dir], dir);
    const output = checked.output.replace(
      /line-(\d+)\.ts\((\d+),(\d+)\)/g,
      (_, fence: string, line: string, col: string) => `README.md:${Number(fence) + Number(line)}:${col}`,
    );
    assert.equal(checked.code, 0, `tsc (strict) on the README's ts examples:\n${output}`);
  });

  for (const [i, b] of runnable.entries()) {
    test(`${where(b)} runs to completion and exits 0`, opts, async (t) => {
      const ports = new Map<string, number>();
      const peer = b.attrs.get("peer");
      ports.set(
        "3000",
        peer !== undefined ? await (peers[peer] as (t: TestContext) => Promise<number>)(t) : await closedPort(),
      );
      ports.set("4000", await closedPort());
      let code = mapPorts(b.code, ports);
      if (b.lang === "ts") {
        const out = ts.transpileModule(code, {
          compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
          reportDiagnostics: true,
        });
        const problems = (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
        assert.deepEqual(problems, [], `${where(b)} does not parse`);
        code = out.outputText;
      }
      const file = join(dir, `example-${i}.mjs`);
      writeFileSync(file, code);
      const result = await runNode([file], dir);
      assert.equal(result.code, 0, `${where(b)} failed:\n${result.output}`);
    });
  }
});
