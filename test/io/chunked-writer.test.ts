import { describe, expect, it } from "vitest";
import { chunkedWriter, type LineWriter } from "../../src/io/write.js";

/** A writer that records each write it is given, and whether it was closed. */
function recorder(): LineWriter & { writes: string[]; closed: boolean } {
  const r = {
    writes: [] as string[],
    closed: false,
    async write(text: string) {
      r.writes.push(text);
    },
    async close() {
      r.closed = true;
    },
  };
  return r;
}

describe("chunkedWriter", () => {
  it("gathers small writes into chunks and passes on exactly the text written", async () => {
    const inner = recorder();
    const w = chunkedWriter(inner, 10);
    for (const t of ["abc", "def", "ghij", "k", "lm"]) await w.write(t);
    expect(inner.writes).toEqual(["abcdefghij"]);
    await w.close();
    expect(inner.writes).toEqual(["abcdefghij", "klm"]);
    expect(inner.closed).toBe(true);
  });

  it("slices a large write without splitting a surrogate pair", async () => {
    const inner = recorder();
    const w = chunkedWriter(inner, 4);
    const text = "ab\u{1F600}cdefg\u{1F600}h";
    await w.write("x");
    await w.write(text);
    await w.close();
    expect(inner.writes.join("")).toBe(`x${text}`);
    for (const piece of inner.writes) {
      expect(piece.length).toBeLessThanOrEqual(4);
      expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(piece)).toBe(false);
    }
  });
});
