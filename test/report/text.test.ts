/** Counts that say what they count, and command lines a reader can paste. */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { count, shellCommand, shellWord } from "../../src/report/text.js";

describe("count", () => {
  it("is singular for exactly one", () => {
    expect(count(1, "trace")).toBe("1 trace");
    expect(count(0, "trace")).toBe("0 traces");
    expect(count(7, "tool call")).toBe("7 tool calls");
    expect(count(2, "more finding")).toBe("2 more findings");
  });
});

describe("shellWord", () => {
  it("quotes only what a shell would change, and the shell gives each argument back", () => {
    const args = ["traces/a.json", "with space", "it's", "$HOME", "", "a;b", "*"];
    expect(shellWord("traces/a.json")).toBe("traces/a.json");
    expect(shellWord("it's")).toBe("'it'\\''s'");
    const back = execFileSync("sh", ["-c", `for a in ${shellCommand(args)}; do printf '[%s]' "$a"; done`], {
      encoding: "utf8",
    });
    expect(back).toBe(args.map((a) => `[${a}]`).join(""));
  });
});
