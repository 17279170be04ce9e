/** The rule for tests that need a system tool: run when present, always in CI, else skip with why. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { inCI, missingTools, toolRuns } from "./tools.js";

const ABSENT = "proof-no-such-tool-xyz";

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("missingTools", () => {
  it("gives the reason, naming the tool, outside CI when it is missing", () => {
    vi.stubEnv("CI", "");
    vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(toolRuns(ABSENT)).toBe(false);
    const reason = missingTools(ABSENT);
    expect(reason).toMatch(new RegExp(`^needs ${ABSENT}, not found \\(install it`));
    expect(console.warn).toHaveBeenCalledWith(`skipped: ${reason}`);
  });

  it("never skips under CI, where a missing tool must fail the test", () => {
    vi.stubEnv("CI", "true");
    expect(missingTools(ABSENT)).toBeUndefined();
  });

  it("runs the test when the tool is there (node itself)", () => {
    vi.stubEnv("CI", "");
    expect(missingTools(process.execPath)).toBeUndefined();
  });

  it("reads CI as CI services set it", () => {
    expect(inCI({ CI: "true" })).toBe(true);
    expect(inCI({ CI: "1" })).toBe(true);
    expect(inCI({ CI: "false" })).toBe(false);
    expect(inCI({ CI: "" })).toBe(false);
    expect(inCI({})).toBe(false);
  });
});
