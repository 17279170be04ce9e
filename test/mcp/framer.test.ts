import { describe, expect, it } from "vitest";
import { LineFramer } from "../../src/mcp/framer.js";

describe("LineFramer", () => {
  it("joins lines split across chunks, and splits chunks holding several lines", () => {
    const f = new LineFramer();
    expect(f.push(Buffer.from('{"a":'))).toEqual([]);
    expect(f.push(Buffer.from('1}\r\n{"b":2}\n{"c"'))).toEqual(['{"a":1}', '{"b":2}']);
    expect(f.end()).toBe('{"c"');
  });

  it("keeps a multi-byte character split between chunks intact", () => {
    const f = new LineFramer();
    const bytes = Buffer.from("é\n", "utf8");
    expect([...f.push(bytes.subarray(0, 1)), ...f.push(bytes.subarray(1))]).toEqual(["é"]);
  });

  it("handles a line larger than the SDK's 10 MiB limit", () => {
    const f = new LineFramer();
    const big = "x".repeat(12 * 1024 * 1024);
    const chunk = Buffer.from(big);
    const lines: string[] = [];
    for (let i = 0; i < chunk.length; i += 65536) lines.push(...f.push(chunk.subarray(i, i + 65536)));
    lines.push(...f.push(Buffer.from("\n")));
    expect(lines).toHaveLength(1);
    expect(lines[0]?.length).toBe(big.length);
  });
});
