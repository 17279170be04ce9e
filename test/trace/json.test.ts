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
