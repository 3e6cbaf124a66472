import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/** The published declarations: dist/src, found from dist/test/architecture/. */
const DECLARATIONS = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

/**
 * Members that are machinery between sockpool's own parts. A user who calls one can corrupt
 * a pool or a server (`server.ended(x)` would skew its counts), so none may be declared on
 * the published classes.
 */
const INTERNAL: Record<string, readonly string[]> = {
  Connection: ["lend", "watchIdle", "markDirty", "reused"],
  Server: [
    "report",
    "count",
    "ended",
    "handler",
    "idleTimeout",
    "maxLineLength",
    "lineTimeout",
    "highWaterMark",
    "connection",
  ],
  Transport: ["start", "guardLine", "idle", "disconnect"],
};

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return declarationFiles(path);
    return e.name.endsWith(".d.ts") ? [path] : [];
  });
}

interface DeclaredClass {
  path: string;
  members: string[];
  /** The class it extends, by name. */
  base: string | undefined;
}

/** The public members of every class declared in `text`, with the class each extends. */
export function declaredClasses(path: string, text: string): Map<string, DeclaredClass> {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest);
  const found = new Map<string, DeclaredClass>();
  const visit = (node: ts.Node) => {
    if (ts.isClassDeclaration(node) && node.name) {
      const members: string[] = [];
      for (const m of node.members) {
        if (m.name === undefined || ts.isPrivateIdentifier(m.name)) continue;
        const hidden = ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected);
        if (!hidden) members.push(m.name.getText(file));
      }
      const heritage = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword);
      const base = heritage?.types[0]?.expression.getText(file);
      found.set(node.name.text, { path, members, base });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/**
 * Each internal member a published class declares or inherits from a class of the package,
 * as "file: Class.member".
 */
export function leaks(files: readonly { path: string; text: string }[]): string[] {
  const classes = new Map<string, DeclaredClass>();
  for (const { path, text } of files) for (const [name, c] of declaredClasses(path, text)) classes.set(name, c);
  const out: string[] = [];
  for (const [name, forbidden] of Object.entries(INTERNAL)) {
    for (let c = classes.get(name); c !== undefined; c = c.base ? classes.get(c.base) : undefined) {
      for (const m of c.members) if (forbidden.includes(m)) out.push(`${c.path}: ${name}.${m}`);
    }
  }
  return out;
}

describe("the published surface (dist/**/*.d.ts)", () => {
  const files = declarationFiles(DECLARATIONS).map((path) => ({ path, text: readFileSync(path, "utf8") }));

  it("declares Connection, Server and Transport", () => {
    const declared = new Set(files.flatMap((f) => [...declaredClasses(f.path, f.text).keys()]));
    for (const cls of Object.keys(INTERNAL)) assert.ok(declared.has(cls), `${cls} is not declared`);
  });

  it("has none of the machinery between sockpool's parts on its classes", () => {
    assert.deepEqual(leaks(files), []);
  });

  it("the check catches an internal member put back, declared or inherited", () => {
    const text =
      "export declare class Connection { #private; get reused(): boolean; read(): void; }\n" +
      "declare class Base { idle(): void; }\nexport declare class Transport extends Base { write(): void; }";
    assert.deepEqual(leaks([{ path: "c.d.ts", text }]), ["c.d.ts: Connection.reused", "c.d.ts: Transport.idle"]);
  });
});
