#!/usr/bin/env node
// Installs sockpool as a user does and checks that it works: packs the tarball (prepack
// builds it), installs it offline into a temporary project, then imports it as ESM,
// require()s it, runs `npx sockpool --version`, checks that every source map points at a
// shipped file, and compiles TypeScript consumers (module nodenext, strict, skipLibCheck
// false) with the repo's own typescript and @types/node. Run by .ci/run after npm test.
//
//   node scripts/check-package.mjs [--node /path/to/node]...
//
// Each --node runs the ESM, require() and CLI checks again under that Node binary (e.g.
// the lowest version `engines` allows; see docs/architecture.md). Exits 1 naming the step
// that broke and its output; the temporary directory is kept then, for a look.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({ options: { node: { type: "string", multiple: true, default: [] } } });
const nodes = [process.execPath, ...values.node];
const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), "sockpool-package-"));
const app = join(tmp, "app");

/** Fails the check: names the step and shows what broke. */
function fail(step, detail) {
  process.stderr.write(`\npackage check FAILED at ${step}:\n${detail.trimEnd()}\n(kept ${tmp})\n`);
  process.exit(1);
}

/** Runs a command; fails the step unless it exits 0. Returns its stdout. */
function run(step, command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 60_000, ...options });
  if (r.error || r.status !== 0) {
    const why = r.error ? String(r.error) : `exit ${r.status ?? r.signal}`;
    fail(step, `$ ${command} ${args.join(" ")}\n${why}\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  }
  return r.stdout;
}

function ok(message) {
  process.stdout.write(`ok: ${message} [${((Date.now() - started) / 1000).toFixed(1)} s]\n`);
}

// 1. Pack. `npm pack` runs prepack, which builds dist/ from a clean slate.
const packed = JSON.parse(run("npm pack", "npm", ["pack", "--json", "--pack-destination", tmp], { cwd: root }))[0];
const files = new Set(packed.files.map((f) => f.path));
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
const required = [
  "package.json",
  "README.md",
  "LICENSE",
  "CHANGELOG.md",
  "bin/sockpool.js",
  "dist/src/index.js",
  "dist/src/index.d.ts",
  "dist/src/cli/main.js",
  "src/index.ts",
  "docs/errors.md",
];
const missing = required.filter((f) => !files.has(f));
if (missing.length > 0) fail("tarball contents", `missing: ${missing.join(", ")}`);
const unwanted = [...files].filter((f) => /^(dist\/(test|bench|examples)|test|bench|examples|node_modules)\//.test(f));
if (unwanted.length > 0) fail("tarball contents", `should not ship: ${unwanted.slice(0, 10).join(", ")}`);
ok(`packed ${packed.filename}: ${packed.size} B, ${packed.unpackedSize} B unpacked, ${packed.entryCount} files`);

// 2. Install it into an empty project, offline: the tarball has no runtime dependencies.
mkdirSync(app);
writeFileSync(join(app, "package.json"), `${JSON.stringify({ name: "app", private: true, type: "module" })}\n`);
run("npm install (offline)", "npm", ["install", join(tmp, packed.filename), "--offline", "--no-audit", "--no-fund"], {
  cwd: app,
});
const installed = join(app, "node_modules", "sockpool");
ok("installed offline into a new project");

// 3. Every source map names files that were shipped.
const badMaps = [];
for (const map of walk(join(installed, "dist")).filter((f) => f.endsWith(".map"))) {
  for (const source of JSON.parse(readFileSync(map, "utf8")).sources) {
    if (!existsSync(join(dirname(map), source))) badMaps.push(`${relative(installed, map)} → ${source}`);
  }
}
if (badMaps.length > 0) fail("source maps", `sources not shipped:\n${badMaps.slice(0, 10).join("\n")}`);
ok("every source map points at a shipped file");

// 4. ESM import with a round trip over loopback, require(), and the CLI, under each Node.
writeFileSync(
  join(app, "esm.mjs"),
  `import { createEchoServer, SocketPool } from "sockpool";
const server = createEchoServer();
await server.listen({ host: "127.0.0.1", port: 0 });
const pool = new SocketPool();
const reply = await pool.use(\`127.0.0.1:\${server.address().port}\`, async (c) => {
  await c.write("hello\\n");
  return c.readLine();
});
await pool.close();
await server.close();
if (reply !== "hello") throw new Error(\`echo replied \${JSON.stringify(reply)}\`);
`,
);
writeFileSync(
  join(app, "require.cjs"),
  `const sockpool = require("sockpool");
for (const name of ["SocketPool", "connect", "createServer", "SockpoolError"]) {
  if (typeof sockpool[name] !== "function") throw new Error(\`require("sockpool").\${name} is \${typeof sockpool[name]}\`);
}
`,
);
for (const node of nodes) {
  const v = run(`${node} --version`, node, ["--version"]).trim();
  const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH}` };
  run(`ESM import on ${v}`, node, ["esm.mjs"], { cwd: app });
  run(`require() on ${v}`, node, ["require.cjs"], { cwd: app });
  const shown = run(`npx sockpool --version on ${v}`, "npx", ["--offline", "sockpool", "--version"], { cwd: app, env });
  if (shown.trim() !== version)
    fail(`npx sockpool --version on ${v}`, `printed ${JSON.stringify(shown)}, want ${version}`);
  ok(`${v}: import (echo round trip), require(), npx sockpool --version = ${version}`);
}

// 5. TypeScript consumers against the installed types: test/types/cases (ESM, with its
// @ts-expect-error lines) and a CommonJS file that require()s the package.
cpSync(join(root, "test/types/cases"), join(app, "cases"), { recursive: true });
writeFileSync(
  join(app, "cases", "require.cts"),
  `import sockpool = require("sockpool");
export const pool: sockpool.SocketPool = new sockpool.SocketPool({ maxSocketsPerEndpoint: 2 });
`,
);
const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2022", "esnext.disposable"],
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    noEmit: true,
    // The repo's own @types/node: nothing is downloaded.
    typeRoots: [join(root, "node_modules/@types")],
    types: ["node"],
  },
  include: ["cases"],
};
writeFileSync(join(app, "tsconfig.json"), `${JSON.stringify(tsconfig, null, 2)}\n`);
run("tsc (module nodenext, strict, skipLibCheck false)", process.execPath, [
  join(root, "node_modules/typescript/bin/tsc"),
  "-p",
  app,
]);
ok(`TypeScript consumers compile (${readdirSync(join(app, "cases")).length} files, skipLibCheck false)`);

rmSync(tmp, { recursive: true, force: true });
ok(`package check passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}
