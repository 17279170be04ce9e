/**
 * The cookbook runner itself: the markdown convention it reads, how expected output is matched,
 * that state carries over between blocks, that a wrong exit or output fails, and that background
 * processes are gone after a run, also a failed one.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../e2e/cli.js";
import { CookbookSyntaxError, matchesExpected, parseCookbook, runCookbook, StepFailure } from "./runner.js";

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "proof-runner-test-"));
  made.push(dir);
  return dir;
}

const fence = "```";
const md = (...parts: string[]): string => parts.join("");
const run = (code: string, info = "sh runnable"): string => `${fence}${info}\n${code}\n${fence}\n`;
const expected = (text: string): string => `${fence}text expected\n${text}\n${fence}\n`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("parseCookbook", () => {
  it("reads runnable blocks, their attributes, expected blocks and the ports option", () => {
    const book = parseCookbook(
      md(
        '<!-- cookbook ports="A_PORT B_PORT" requires="promtool" -->\n',
        run("echo hi"),
        "",
        expected("hi"),
        "prose\n",
        run("proof serve \\\n  --x", 'sh runnable background=serve wait-for="listening on" timeout=9'),
        run("false", "sh runnable exit=1"),
        `${fence}sh\nnot run\n${fence}`,
      ),
      "x.md",
    );
    expect(book.ports).toEqual(["A_PORT", "B_PORT"]);
    expect(book.requires).toEqual(["promtool"]);
    expect(book.steps.map((s) => [s.line, s.exit, s.background, s.waitFor, s.timeoutSeconds])).toEqual([
      [2, 0, undefined, undefined, 60],
      [9, 0, "serve", "listening on", 9],
      [13, 1, undefined, undefined, 60],
    ]);
    expect(book.steps[0]?.expected).toEqual({ line: 6, text: "hi" });
    expect(book.steps[1]?.expected).toBeUndefined();
  });

  it("refuses what breaks the convention, at its line", () => {
    const bad: [string, string][] = [
      [md("prose\n", expected("x")), "x.md:2: an expected block must follow a runnable block"],
      [md(run("a"), "prose\n", expected("x")), "x.md:5: an expected block must follow a runnable block"],
      [md(run("a"), expected("x"), expected("y")), "x.md:7: a second expected block for one step"],
      [run("a", "sh runnable exti=1"), 'x.md:1: unknown attribute "exti"'],
      [run("a", "sh runnable exit=one"), 'x.md:1: exit must be a whole number, not "one"'],
      [
        run("a && b", "sh runnable background=s wait-for=x"),
        "x.md:1: a background block is one simple command",
      ],
      [run("a", "sh runnable background=s"), "x.md:1: a background block needs wait-for"],
      [run("a", "sh runnable wait-for=x"), "x.md:1: wait-for goes with background only"],
      [`${fence}sh runnable\nnever closed\n`, "x.md:1: code block never closed"],
      ["<!-- cookbook port=A -->", 'x.md:1: unknown cookbook option "port"'],
    ];
    for (const [text, message] of bad) {
      expect(() => parseCookbook(text, "x.md")).toThrow(CookbookSyntaxError);
      expect(() => parseCookbook(text, "x.md")).toThrow(message);
    }
  });
});

describe("matchesExpected", () => {
  it("compares line for line, ignoring trailing spaces and trailing blank lines", () => {
    expect(matchesExpected("a\nb", "a  \nb\n\n")).toBe(true);
    expect(matchesExpected("a\nb", "a\nc")).toBe(false);
    expect(matchesExpected("a", "a\nb")).toBe(false);
    expect(matchesExpected("", "")).toBe(true);
    expect(matchesExpected("", "x")).toBe(false);
    expect(matchesExpected("a.b", "axb")).toBe(false);
  });

  it("matches placeholders, and <...> alone on a line as any number of lines", () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    expect(matchesExpected("on <PORT>, <DIGEST>", `on 8443, ${digest}`)).toBe(true);
    expect(matchesExpected("<DIGEST>", "sha256:abc")).toBe(false);
    expect(matchesExpected("<PORT>", "84a3")).toBe(false);
    expect(matchesExpected("x <...> z", "x y y z")).toBe(true);
    expect(matchesExpected("x <...> z", "x y\ny z")).toBe(false);
    expect(matchesExpected("<...>\nlast", "1\n2\nlast")).toBe(true);
    expect(matchesExpected("<...>\nlast", "last")).toBe(true);
    expect(matchesExpected("first\n<...>", "first")).toBe(true);
    expect(matchesExpected("first\n<...>\nlast", "first\nlast")).toBe(true);
    expect(matchesExpected("first\n<...>\nlast", "first\nlast\nmore")).toBe(false);
    expect(matchesExpected("at <TIME>", "at 2026-11-30T07:43:02.123Z")).toBe(true);
  });
});

describe("runCookbook", () => {
  it("carries variables and the working directory from block to block", async () => {
    const book = parseCookbook(
      md(
        '<!-- cookbook ports="MY_PORT" -->\n',
        run("GREETING='hello world'\nmkdir sub && cd sub"),
        run('echo "$GREETING from $(basename "$PWD")"; test -n "$MY_PORT"; test -d "$PROOF_REPO"'),
        expected("hello world from sub"),
      ),
      "x.md",
    );
    const results = await runCookbook(book, { checkout: ROOT, workDir: workDir() });
    expect(results.map((r) => r.exit)).toEqual([0, 0]);
  });

  it("fails a block with another exit status, other output, or output it does not show", async () => {
    const cases: [string, RegExp][] = [
      [run("echo a; exit 3"), /x\.md:1: exited 3, the cookbook says 0/],
      [md(run("exit 0", "sh runnable exit=2")), /x\.md:1: exited 0, the cookbook says 2/],
      [
        md(run("echo b"), expected("a")),
        /x\.md:1: the output is not what x\.md:5 shows\n--- expected\na\n--- actual\nb/,
      ],
      [run("echo unexpected"), /x\.md:1: printed output the cookbook does not show/],
      [run("sleep 30", "sh runnable timeout=1"), /x\.md:1: still running after 1 s/],
    ];
    for (const [text, message] of cases) {
      const failure = runCookbook(parseCookbook(text, "x.md"), { checkout: ROOT, workDir: workDir() });
      await expect(failure).rejects.toThrow(StepFailure);
      await expect(failure).rejects.toThrow(message);
    }
  });

  it("waits for a background block, exports its pid, and kills it at the end even after a failure", async () => {
    const dir = workDir();
    const book = parseCookbook(
      md(
        run(
          "node -e 'console.log(\"ready\"); setInterval(() => {}, 1000)'",
          'sh runnable background=srv wait-for="ready"',
        ),
        expected("ready"),
        run('echo "$SRV_PID" > pid; kill -0 "$SRV_PID" && echo alive'),
        expected("alive"),
        run("exit 1"),
      ),
      "x.md",
    );
    await expect(runCookbook(book, { checkout: ROOT, workDir: dir })).rejects.toThrow(/x\.md:13: exited 1/);
    const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  });

  it("fails a background block that exits before it is ready", async () => {
    const book = parseCookbook(
      run("node -e 'console.log(\"bye\")'", 'sh runnable background=srv wait-for="ready"'),
      "x.md",
    );
    await expect(runCookbook(book, { checkout: ROOT, workDir: workDir() })).rejects.toThrow(
      /x\.md:1: exited 0 before "ready"\nbye/,
    );
  });
});
