/**
 * The files whose text SARIF regions are found in (src/io/artifacts.ts): chosen in the order
 * results ask for them while they fit a byte budget, each once; one that cannot be read costs
 * its results their region, never the run.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseWithinBudget, readSource, sourcesWithinBudget } from "../../src/io/artifacts.js";

let dir: string;
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "proof-region-sources-"));
  await writeFile(file("a.json"), "a".repeat(40));
  await writeFile(file("b.json"), "b".repeat(70));
  await writeFile(file("c.json"), "c".repeat(20));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("chooseWithinBudget", () => {
  it("takes files in the order asked, each once, passing over one that would exceed the budget", () => {
    const chosen = chooseWithinBudget(
      [file("a.json"), file("a.json"), file("b.json"), file("c.json"), file("missing.json")],
      70,
    );
    // b.json (70 bytes) does not fit after a.json (40); c.json (20) still does.
    expect([...chosen]).toEqual([
      [file("a.json"), 40],
      [file("c.json"), 20],
    ]);
  });

  it("takes a file that fills the budget exactly", () => {
    expect([...chooseWithinBudget([file("b.json")], 70).keys()]).toEqual([file("b.json")]);
    expect([...chooseWithinBudget([file("b.json")], 69).keys()]).toEqual([]);
  });
});

describe("readSource and sourcesWithinBudget", () => {
  it("give a chosen file's text, and undefined for a file left out or gone", async () => {
    expect(await readSource(file("c.json"))).toBe("c".repeat(20));
    expect(await readSource(file("missing.json"))).toBeUndefined();
    const text = await sourcesWithinBudget([file("a.json"), file("b.json")], 100);
    expect(await text(file("a.json"))).toBe("a".repeat(40));
    expect(await text(file("b.json"))).toBeUndefined();
    expect(await text(file("c.json"))).toBeUndefined();
  });
});
