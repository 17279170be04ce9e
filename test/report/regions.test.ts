/** Event addresses mapped back to line and column of the trace file (SARIF regions). */
import { describe, expect, it } from "vitest";
import { parseAddress, RegionFinder } from "../../src/report/regions.js";

describe("parseAddress", () => {
  it("reads keys and indexes, and refuses anything else", () => {
    expect(parseAddress("messages[4].tool_calls[0]")).toEqual(["messages", 4, "tool_calls", 0]);
    expect(parseAddress("[0].traj[14]")).toEqual([0, "traj", 14]);
    expect(parseAddress("")).toEqual([]);
    expect(parseAddress("messages[x]")).toBeUndefined();
    expect(parseAddress("a b")).toBeUndefined();
  });
});

describe("RegionFinder", () => {
  it("finds a value of a JSON document, columns in UTF-16 code units (the emoji counts 2)", () => {
    const text =
      '{\n  "messages": [\n    {"role": "user"},\n    {"🙂": 1, "tool_calls": [{"id": "x"}]}\n  ]\n}\n';
    const finder = new RegionFinder(new Map([["t.json", text]]));
    expect(finder.ofEvent({ file: "t.json", at: "messages[1].tool_calls[0]", seq: 0 })).toEqual({
      startLine: 4,
      startColumn: 30,
      endLine: 4,
      endColumn: 41,
    });
    expect(finder.ofEvent({ file: "t.json", at: "messages[7]", seq: 0 })).toBeUndefined();
    expect(finder.ofEvent({ file: "other.json", at: "messages[0]", seq: 0 })).toBeUndefined();
  });

  it("finds a line of a JSON Lines file of documents, and a path inside it", () => {
    const text = '{"a": 1}\n\n{"messages": [{"x": 1}, {"y": 2}]}\n';
    const finder = new RegionFinder(new Map([["t.jsonl", text]]));
    expect(finder.ofEvent({ file: "t.jsonl", at: "lines[2].messages[1]", seq: 0 })).toEqual({
      startLine: 3,
      startColumn: 25,
      endLine: 3,
      endColumn: 33,
    });
    expect(finder.ofEvent({ file: "t.jsonl", at: "lines[0]", seq: 0 })).toEqual({
      startLine: 1,
      startColumn: 1,
      endLine: 1,
      endColumn: 9,
    });
  });

  it("finds a proof trace's event by seq, only when that line is the event", () => {
    const lines = [
      '{"case_id":"c","trace_id":"t"}',
      '{"at":"[0]","seq":0,"type":"message"}',
      "",
      '{"at":"[1].tool_calls[0]","seq":1,"type":"tool_call"}',
    ];
    const finder = new RegionFinder(new Map([["r.jsonl", `${lines.join("\n")}\n`]]));
    expect(finder.ofEvent({ file: "r.jsonl", at: "[1].tool_calls[0]", seq: 1 })).toEqual({
      startLine: 4,
      startColumn: 1,
      endLine: 4,
      endColumn: 54,
    });
    expect(finder.ofEvent({ file: "r.jsonl", at: "[9]", seq: 1 })).toBeUndefined();
    expect(finder.ofEvent({ file: "r.jsonl", at: "[1].tool_calls[0]", seq: 5 })).toBeUndefined();
  });

  it("spans a whole file, and a key of the baseline by path", () => {
    const text = '{\n  "cases": {\n    "a.json": {"verdict": "block"}\n  }\n}';
    const finder = new RegionFinder(new Map([["b.json", text]]));
    expect(finder.ofFile("b.json")).toEqual({ startLine: 1, startColumn: 1, endLine: 5, endColumn: 2 });
    expect(finder.ofPath("b.json", ["cases", "a.json"])?.startLine).toBe(3);
  });
});
