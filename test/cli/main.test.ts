import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { COMMANDS, main } from "../../src/cli/main.js";
import { assertNoOpenSockets, TEST_TIMEOUT } from "../helpers/net.js";
import { runCli } from "./cli.js";

const opts = { timeout: TEST_TIMEOUT };

after(assertNoOpenSockets);

/** Runs `main` in-process, capturing what it prints. */
async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

describe("sockpool main", () => {
  test("--help lists every command, the endpoint forms and the exit codes", opts, async () => {
    const { code, stdout } = await capture(["--help"]);
    assert.equal(code, 0);
    for (const c of COMMANDS) assert.match(stdout, new RegExp(`^  ${c.name} +${c.summary}`, "m"));
    assert.match(stdout, /Exit codes:\n {2}0 +success\n {2}1 +an error/);
    assert.match(stdout, /tls:\/\/HOST:PORT/);
  });

  test("every command has --help with usage, options, examples and exit codes", opts, async () => {
    for (const c of COMMANDS) {
      for (const argv of [
        [c.name, "--help"],
        [c.name, "-h"],
        ["help", c.name],
      ]) {
        const { code, stdout, stderr } = await capture(argv);
        assert.equal(code, 0, argv.join(" "));
        assert.equal(stderr, "");
        assert.match(stdout, new RegExp(`^sockpool ${c.name}: `));
        assert.match(stdout, /\nUsage:\n {2}sockpool /);
        assert.match(stdout, /\nOptions:\n[\s\S]*-h, --help +show this help/);
        assert.match(stdout, new RegExp(`\\nExamples:\\n {2}(sockpool ${c.name}|npm run)`));
        assert.match(stdout, /\nExit codes:/);
      }
    }
  });

  test("no command prints the help and exits 1; an unknown command is a clear error", opts, async () => {
    const none = await capture([]);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /^sockpool: /);
    const unknown = await capture(["serv"]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'ERR_SOCKPOOL_INVALID_ARGUMENT: unknown command "serv"; see "sockpool --help"\n');
  });

  test("--version prints the package version", opts, async () => {
    const { code, stdout } = await capture(["--version"]);
    assert.equal(code, 0);
    assert.match(stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test("bad flags exit 1 with code: message and no stack", opts, async () => {
    const cases: [string[], RegExp][] = [
      [["serve", "echo", "--port", "70000"], /--port: expected a whole number from 0 to 65535, got "70000"/],
      [["serve", "echo", "--delay", "5"], /--delay: expected a duration .*add a unit.*got "5"/],
      [
        ["serve", "chat", "--delay", "1s"],
        /--delay applies to "serve echo" and "serve rpc-echo" only, not "serve chat"/,
      ],
      [["serve", "ack", "--once"], /--once applies to "serve echo" only/],
      [["serve", "gopher"], /unknown server "gopher"; choose one of echo, chat, ack, print, rpc-echo/],
      [["serve"], /sockpool serve takes 1 argument, got 0/],
      [["serve", "echo", "--workers", "0"], /--workers: expected a whole number from 1 to 256, got "0"/],
      [["serve", "echo", "--max-connections", "0"], /--max-connections: expected a whole number ≥ 1, got "0"/],
      [["demo", "extra"], /sockpool demo takes 0 arguments, got 1/],
      [["demo", "--delay", "fast"], /--delay: expected a duration/],
      [["send", "127.0.0.1:99999", "x"], /^ERR_SOCKPOOL_INVALID_ENDPOINT: invalid endpoint "127\.0\.0\.1:99999"/],
    ];
    for (const [argv, message] of cases) {
      const { code, stdout, stderr } = await capture(argv);
      assert.equal(code, 1, argv.join(" "));
      assert.equal(stdout, "");
      assert.match(stderr, /^ERR_SOCKPOOL_[A-Z_]+: /);
      assert.match(stderr, message);
      assert.doesNotMatch(stderr, /\n\s+at /);
      assert.equal(stderr.split("\n").length, 2, "one line");
    }
  });

  test("the bin script runs main and exits with its code", opts, async (t) => {
    const ok = await runCli(t, ["--help"]);
    assert.equal(ok.code, 0);
    const bad = await runCli(t, ["serve", "echo", "--port", "-1"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^ERR_SOCKPOOL_INVALID_ARGUMENT: /);
  });
});
