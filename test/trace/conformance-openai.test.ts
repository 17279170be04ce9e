/**
 * Conformance of the openai importer (chat completions) (test/trace/conformance.ts): every content-bearing string
 * of every fixture under fixtures/formats/openai is in the canonical events or named by a
 * skipped-field warning.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { traceSource } from "../../src/io/trace-files.js";
import { unaccounted } from "./conformance.js";
import { FORMAT_FIXTURES, loadSource, readAll } from "./helpers.js";

const DIR = join(FORMAT_FIXTURES, "openai");

/**
 * Structure of chat completions: `role` is the speaker (kept as the event's role); `type` names
 * a part's or a call's kind; `id` and `tool_call_id` link a call to its result (kept as
 * `call_id`); `model` names the model; `tool_choice` is a setting of the request.
 */
const STRUCTURE = new Set(["role", "type", "id", "tool_call_id", "model", "tool_choice"]);

describe("openai fixtures account for every content field", () => {
  const files = readdirSync(DIR).filter((f) => statSync(join(DIR, f)).isFile());

  it.each(files)("%s", async (file) => {
    const path = join(DIR, file);
    const traces = await readAll(traceSource({ path, rel: file }), "openai");
    expect(unaccounted(loadSource(path), traces, STRUCTURE)).toEqual([]);
  });
});
