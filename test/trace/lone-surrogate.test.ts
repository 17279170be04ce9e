import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/io/canonical.js";
import { TraceBuilder } from "../../src/trace/builder.js";
import { parseJson } from "../../src/trace/json.js";

describe("a trace holding a lone surrogate (valid JSON escape, invalid Unicode)", () => {
  it("is canonicalised as a \\u escape instead of failing the gate", () => {
    const value = parseJson('{"b":"x\\ud800y","a":1}', "t.json") as Record<string, unknown>;
    expect(canonicalJson(value)).toBe('{"a":1,"b":"x\\ud800y"}');
  });

  it("gets a stable trace id that differs from the well-formed text", () => {
    const build = (content: string) => {
      const b = new TraceBuilder();
      b.message("user", content, "[0]");
      return b.build("t.json", "openai", "t.json").header.trace_id;
    };
    const lone = parseJson('"pay \\udc00 now"', "t.json") as string;
    expect(build(lone)).toBe(build(lone));
    expect(build(lone)).not.toBe(build("pay \ufffd now"));
  });
});
