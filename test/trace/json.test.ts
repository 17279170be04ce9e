import { describe, expect, it } from "vitest";
import { parseJson } from "../../src/trace/json.js";

function error(text: string, line?: number): { message: string; location: unknown } {
  try {
    parseJson(text, "t.json", line);
  } catch (err) {
    return err as { message: string; location: unknown };
  }
  throw new Error("expected an error");
}

describe("located JSON errors", () => {
  it.each([
    ['{"a": [1, 2', "invalid JSON: ']' was expected (the file looks truncated)", 1, 12],
    ['{"a": "cut in a str', "invalid JSON: unterminated string (the file looks truncated)", 1, 7],
    ['{"a":\n  "line\nbreak"}', "invalid JSON: unterminated string", 2, 3],
    ['{"a": 1} 2', "invalid JSON: unexpected content after the JSON value", 1, 10],
    ['{"a": 1,}', "invalid JSON: a property name was expected", 1, 9],
    ["// note\n{}", "invalid JSON: comments are not JSON", 1, 1],
  ])("%j: %s at %i:%i", (text, message, line, column) => {
    const err = error(text);
    expect(err.message).toBe(message);
    expect(err.location).toEqual({ file: "t.json", line, column });
  });

  it("counts lines from where the text starts in its file (one line of JSON Lines)", () => {
    expect(error('{"a" 1}', 41).location).toEqual({ file: "t.json", line: 41, column: 6 });
  });
});

describe("ambiguous JSON is refused where it stands", () => {
  it.each([
    ['{"name": "a", "name": "b"}', "json.duplicate_key", 1, 15],
    ['{"params": {"arguments": {"path": "x",\n "path": "/etc/shadow"}}}', "json.duplicate_key", 2, 2],
    ['[{"a": 1}, {"a": 1, "b": {"c": 1, "c": 1}}]', "json.duplicate_key", 1, 35],
    ['{"cost": 1e400}', "json.number_out_of_range", 1, 10],
    ["[1, -1e999]", "json.number_out_of_range", 1, 5],
    ["1e400", "json.number_out_of_range", 1, 1],
  ])("%j is %s at %i:%i", (text, code, line, column) => {
    const err = error(text) as unknown as { code: string; location: unknown };
    expect(err.code).toBe(code);
    expect(err.location).toEqual({ file: "t.json", line, column });
  });

  it("keeps keys that differ only inside strings, and colons inside strings", () => {
    expect(parseJson('{"a:b": "c:d", "a\\"": {"\\\\": ":"}}', "t.json")).toEqual({
      "a:b": "c:d",
      'a"': { "\\": ":" },
    });
  });

  it("refuses nesting deeper than the limit with the offending bracket's location", () => {
    const deep = `${"[".repeat(3000)}${"]".repeat(3000)}`;
    const err = error(deep) as unknown as { code: string; location: unknown };
    expect(err.code).toBe("json.too_deep");
    expect(err.location).toEqual({ file: "t.json", line: 1, column: 513 });
    expect(() => parseJson(`${"[".repeat(512)}${"]".repeat(512)}`, "t.json")).not.toThrow();
  });
});
