/**
 * Artifacts written as streams (src/api/verify.ts, src/io/out-dir.ts): the manifest's digests are
 * computed while the files are written and must equal the SHA-256 of the bytes on disk; the parts
 * artifacts are written from concatenate to exactly the text they stand for.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { runVerify, writeParts } from "../../src/api/verify.js";
import { prettyJson, prettyJsonParts } from "../../src/io/canonical.js";
import { StagedDir } from "../../src/io/out-dir.js";
import { type EventRef, RegionFinder, type RegionRequest, resolveRegions } from "../../src/report/regions.js";
import { ROOT } from "../e2e/cli.js";

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "proof-stream-test-"));
  temps.push(dir);
  return dir;
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** Every file of `dir` -> the SHA-256 of its bytes read from disk. */
async function diskDigests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = sha256(await readFile(join(dir, name)));
  return out;
}

describe("the manifest of a verify run", () => {
  it("digests every other file as its bytes on disk, with no artifact read back", async () => {
    const out = join(await tempDir(), "out");
    const golden = join(ROOT, "fixtures", "golden", "banking");
    const { code } = await runVerify({
      policy: join(golden, "policy.yaml"),
      traces: [join(golden, "traces")],
      failOn: "block",
      format: "auto",
      out,
    });
    expect([0, 5]).toContain(code);
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8")) as {
      files: Record<string, string>;
    };
    const { "manifest.json": _self, ...others } = await diskDigests(out);
    expect(Object.keys(others)).toEqual(
      expect.arrayContaining(["decisions.jsonl", "report.json", "junit.xml"]),
    );
    expect(manifest.files).toEqual(others);
  });
});

describe("StagedDir digests", () => {
  it("equal the SHA-256 of the files written whole, in chunks, or around the object", async () => {
    const stage = await StagedDir.create(join(await tempDir(), "out"));
    try {
      const lone = String.fromCharCode(0xd800);
      await stage.write("whole.txt", `caf\u00e9 ${lone} end\n`);
      await stage.write("bytes.bin", new Uint8Array([0, 255, 10]));
      const w = await stage.open("chunks.jsonl");
      // A surrogate pair split over two writes: each write is encoded alone, in the file and
      // in the hash alike.
      await w.write("a\ud83d");
      await w.write("\ude00b\n");
      await w.write(`${"x".repeat(100_000)}\n`);
      await w.close();
      await writeParts(stage, "parts.txt", [
        `${"y".repeat(65_535)}\ud83d\ude00 tail`,
        "\n",
        "z".repeat(70_000),
      ]);
      const { writeFile } = await import("node:fs/promises");
      await writeFile(stage.path("other.txt"), "written around the object\n");
      expect(await stage.digests()).toEqual(await diskDigests(stage.staging));
      // A long part is written in slices that never split a surrogate pair.
      const parts = await readFile(stage.path("parts.txt"), "utf8");
      expect(parts).toBe(`${"y".repeat(65_535)}\ud83d\ude00 tail\n${"z".repeat(70_000)}`);
    } finally {
      await stage.abort();
    }
  });
});

describe("prettyJsonParts", () => {
  const values: unknown[] = [
    {
      schema: "x",
      traces: [
        { case_id: "b", decisions: [{ seq: 1, rules: ["r"], evidence: [] }], meta: {} },
        { case_id: "a\n\u2028\ud800", decisions: [], gone: undefined },
      ],
      warnings: [],
      empty: {},
      list: [1, undefined, "two", null, [3, [4]]],
      n: 1e21,
    },
    [],
    {},
    [[], {}, [[[]]]],
    // Array-index keys, which a JavaScript object lists first in numeric order, and both write
    // in code-unit order.
    { b: { "10": 1, "9": 2, a: 3, "01": 4 }, "2": [{ "10": 0, "9": 0 }], a: 1 },
    JSON.parse('{"__proto__": {"y": 1, "x": 2}, "a": {"__proto__": 1}}'),
    "text",
    42,
    null,
  ];

  it("concatenate to prettyJson at every depth", () => {
    for (const value of values) {
      for (const depth of [0, 1, 2, 3, 5]) {
        expect([...prettyJsonParts(value, depth)].join("")).toBe(prettyJson(value));
      }
    }
  });

  it("concatenate to prettyJson for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.integer({ min: 0, max: 4 }), (value, depth) => {
        expect([...prettyJsonParts(value, depth)].join("")).toBe(prettyJson(value));
      }),
      { numRuns: 300 },
    );
  });

  it("give a part per element below the opened levels", () => {
    const parts = [...prettyJsonParts({ traces: [{ a: 1 }, { b: 2 }] })];
    expect(parts).toContain('{\n      "a": 1\n    }');
  });
});

describe("resolveRegions", () => {
  const texts = new Map([
    [
      "t.json",
      '{\n  "messages": [\n    {"role": "user"},\n    {"🙂": 1, "tool_calls": [{"id": "x"}]}\n  ]\n}\n',
    ],
    ["t.jsonl", '{"a": 1}\n\n{"messages": [{"x": 1}, {"y": 2}]}\n'],
    ["r.jsonl", '{"case_id":"c"}\n{"at":"[0]","seq":0,"type":"message"}\n'],
    ["b.json", '{\n  "cases": {\n    "a.json": {"verdict": "block"}\n  }\n}'],
  ]);
  const events: EventRef[] = [
    { file: "t.json", at: "messages[1].tool_calls[0]", seq: 0 },
    { file: "t.json", at: "messages[7]", seq: 0 },
    { file: "t.jsonl", at: "lines[2].messages[1]", seq: 0 },
    { file: "t.jsonl", at: "lines[0]", seq: 0 },
    { file: "r.jsonl", at: "[0]", seq: 0 },
    { file: "r.jsonl", at: "[0]", seq: 3 },
    { file: "missing.json", at: "messages[0]", seq: 0 },
  ];
  const requests: RegionRequest[] = [
    ...events.map((e): RegionRequest => ({ kind: "event", ...e })),
    { kind: "file", file: "b.json" },
    { kind: "path", file: "b.json", path: ["cases", "a.json"] },
    { kind: "path", file: "b.json", path: ["cases", "z.json"] },
  ];

  it("answers as a RegionFinder over every text, reading each file once", async () => {
    const read: string[] = [];
    const lookup = await resolveRegions(requests, async (file) => {
      read.push(file);
      return texts.get(file);
    });
    const finder = new RegionFinder(texts);
    for (const e of events) expect(lookup.ofEvent(e)).toEqual(finder.ofEvent(e));
    expect(lookup.ofEvent(events[0] as EventRef)).toBeDefined();
    expect(lookup.ofFile("b.json")).toEqual(finder.ofFile("b.json"));
    expect(lookup.ofPath("b.json", ["cases", "a.json"])).toEqual(
      finder.ofPath("b.json", ["cases", "a.json"]),
    );
    expect(lookup.ofPath("b.json", ["cases", "z.json"])).toBeUndefined();
    expect(read.sort()).toEqual(["b.json", "missing.json", "r.jsonl", "t.json", "t.jsonl"]);
  });

  it("leaves out what was not asked for", async () => {
    const lookup = await resolveRegions([], async (file) => texts.get(file));
    expect(lookup.ofFile("b.json")).toBeUndefined();
  });
});
