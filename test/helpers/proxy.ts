import assert from "node:assert/strict";
import type { SockpoolError } from "sockpool";
import { type ProxyHeader, ProxyHeaderParser, type ProxyHeaderParserOptions } from "../../src/codec/proxy-protocol.js";

/** What a server would see: the header, and the stream's bytes (`rest` plus later chunks). */
export interface Parsed {
  header: ProxyHeader | null;
  stream: Buffer;
}

/**
 * Pushes `chunks` in order until the parser answers, then appends the chunks after that to
 * `rest`, as a server hands them to the stream. `undefined` when no answer came.
 */
export function parseChunks(chunks: readonly Buffer[], options?: ProxyHeaderParserOptions): Parsed | undefined {
  const parser = new ProxyHeaderParser(options);
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.push(chunks[i]!);
    if (result === undefined) continue;
    assert.equal(parser.pending, 0, "nothing held after the result");
    return { header: result.header, stream: Buffer.concat([result.rest, ...chunks.slice(i + 1)]) };
  }
  return undefined;
}

/** The same input cut every way we test: whole, at each single split point, one byte at a time. */
export function everyChunking(input: Buffer): { name: string; chunks: Buffer[] }[] {
  const ways = [{ name: "whole", chunks: [input] }];
  for (let i = 0; i <= input.length; i++) {
    ways.push({ name: `split at ${i}`, chunks: [input.subarray(0, i), input.subarray(i)] });
  }
  ways.push({ name: "one byte at a time", chunks: [...input].map((b) => Buffer.from([b])) });
  return ways;
}

/** Parses `input` every way; asserts all agree and returns the answer. */
export function parseEveryWay(input: Buffer, options?: ProxyHeaderParserOptions): Parsed {
  let first: Parsed | undefined;
  for (const { name, chunks } of everyChunking(input)) {
    const got = parseChunks(chunks, options);
    assert.ok(got !== undefined, `${name}: no answer for ${input.toString("hex")}`);
    if (first === undefined) first = got;
    else assert.deepEqual(got, first, name);
  }
  return first!;
}

/**
 * Asserts that every chunking of `input` throws the same error, of class `type` with `code`
 * and a message holding each of `fragments`; returns the error.
 */
export function throwsEveryWay<T extends SockpoolError>(
  input: Buffer,
  type: new (...args: never[]) => T,
  code: string,
  fragments: readonly string[],
  options?: ProxyHeaderParserOptions,
): T {
  let message: string | undefined;
  let error: T | undefined;
  for (const { name, chunks } of everyChunking(input)) {
    assert.throws(
      () => parseChunks(chunks, options),
      (err: unknown) => {
        assert.ok(err instanceof type, `${name}: expected ${type.name}, got ${String(err)}`);
        assert.equal(err.code, code, name);
        for (const f of fragments)
          assert.ok(err.message.includes(f), `${name}: ${JSON.stringify(f)} not in ${err.message}`);
        if (message === undefined) message = err.message;
        else assert.equal(err.message, message, `${name}: same error whatever the chunking`);
        error = err;
        return true;
      },
    );
  }
  return error!;
}

/** The 12-byte v2 signature, from the spec (section 2.2). */
export const V2_SIGNATURE = hexBytes("0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a");

/** A v2 header written by hand: version/command byte, family byte, then the body (length computed). */
export function v2(verCmd: number, family: number, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const bytes = typeof body === "string" ? hexBytes(body) : body;
  const out = Buffer.concat([V2_SIGNATURE, Buffer.alloc(4), bytes]);
  out[12] = verCmd;
  out[13] = family;
  out.writeUInt16BE(bytes.length, 14);
  return out;
}

/** Hex with spaces, newlines and `//` comments allowed, for vectors written out by hand. */
export function hexBytes(text: string): Buffer {
  const digits = text
    .split("\n")
    .map((l) => l.replace(/\/\/.*$/, ""))
    .join("")
    .replace(/\s+/g, "");
  assert.match(digits, /^([0-9a-f]{2})*$/i, "whole bytes of hex");
  return Buffer.from(digits, "hex");
}

/** One TLV written by hand: type, u16 length, value. */
export function tlv(type: number, value: Buffer | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  const head = Buffer.from([type, 0, 0]);
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}
