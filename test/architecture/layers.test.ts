import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { LAYERS } from "./layers.js";

/** The repository's src/, found from dist/test/architecture/. */
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src");

/** Every .ts file under `dir`, as paths relative to src/ with forward slashes. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".ts") ? [relative(SRC, path).split(sep).join("/")] : [];
  });
}

/** The relative imports of a module (static, type-only, re-exports and dynamic). */
function importsOf(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:from|import|import\()\s*["'](\.[^"']+)["']/g)) specs.push(m[1] as string);
  return specs;
}

/** The unit of a file under src/: its top folder, or itself when it sits at the top. */
function unitOf(file: string): string {
  return file.split("/")[0] as string;
}

function rankOf(unit: string): number {
  const rank = LAYERS.findIndex((layer) => layer.includes(unit));
  assert.ok(rank >= 0, `src/${unit} is not in the layer map (test/architecture/layers.ts)`);
  return rank;
}

/** Each import edge that points up or sideways, as "from → to". */
export function violations(files: readonly string[], read: (file: string) => string): string[] {
  const bad: string[] = [];
  for (const file of files) {
    const from = unitOf(file);
    for (const spec of importsOf(read(file))) {
      const target = relative(SRC, resolve(SRC, dirname(file), spec))
        .split(sep)
        .join("/")
        .replace(/\.js$/, ".ts");
      const to = unitOf(target);
      if (to === from) continue;
      if (rankOf(to) >= rankOf(from)) bad.push(`src/${file} → src/${target}`);
    }
  }
  return bad;
}

/** Import cycles among modules (type-only imports included), each as "a → b → … → a". */
export function cycles(files: readonly string[], read: (file: string) => string): string[] {
  const edges = new Map<string, string[]>();
  for (const file of files) {
    const targets = importsOf(read(file)).map((spec) =>
      relative(SRC, resolve(SRC, dirname(file), spec))
        .split(sep)
        .join("/")
        .replace(/\.js$/, ".ts"),
    );
    edges.set(file, targets);
  }
  const found: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === "open") found.push([...path.slice(path.indexOf(next)), next].join(" → "));
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

describe("the layers of src/", () => {
  const files = sources(SRC);
  const read = (file: string) => readFileSync(join(SRC, file), "utf8");

  it("every module belongs to a layer of the map", () => {
    for (const file of files) rankOf(unitOf(file));
  });

  it("every import points down, never up or sideways", () => {
    assert.deepEqual(violations(files, read), []);
  });

  it("no module imports one that imports it back, directly or through others", () => {
    assert.deepEqual(cycles(files, read), []);
  });

  it("the check catches a sideways and an upward edge", () => {
    const fake: Record<string, string> = {
      "pool/x.ts": 'import { Server } from "../server/server.js";',
      "codec/y.ts": 'import type { Connection } from "../connection/connection.js";',
      "rpc/z.ts": 'import { SocketPool } from "../pool/index.js";',
    };
    const found = violations(Object.keys(fake), (f) => fake[f] as string);
    assert.deepEqual(found, ["src/pool/x.ts → src/server/server.ts", "src/codec/y.ts → src/connection/connection.ts"]);
  });
});
