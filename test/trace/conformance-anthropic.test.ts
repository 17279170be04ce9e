/**
 * Conformance of the anthropic importer (test/trace/conformance.ts): every content-bearing string
 * of every fixture under fixtures/formats/anthropic is in the canonical events or named by a
 * skipped-field warning.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { traceSource } from "../../src/io/trace-files.js";
import { unaccounted } from "./conformance.js";
import { FORMAT_FIXTURES, loadSource, readAll } from "./helpers.js";

const DIR = join(FORMAT_FIXTURES, "anthropic");

/**
 * Structure of Anthropic Messages: `type` names a block's kind; `role` the speaker (the events
 * keep it as the message's role); `id` and `tool_use_id` link a call
 * to its result (the events keep them as `call_id`); `signature` is the opaque proof that a
 * thinking block is the model's; `model` names the model; `media_type` a document's encoding.
 * `server_name` names the MCP connector's server: the trace keeps it in `meta.mcp_servers`,
 * which the property does not search.
 */
const STRUCTURE = new Set([
  "type",
  "role",
  "id",
  "tool_use_id",
  "signature",
  "model",
  "media_type",
  "server_name",
]);

describe("anthropic fixtures account for every content field", () => {
  const files = readdirSync(DIR).filter((f) => statSync(join(DIR, f)).isFile());

  it.each(files)("%s", async (file) => {
    const path = join(DIR, file);
    const traces = await readAll(traceSource({ path, rel: file }), "anthropic");
    expect(unaccounted(loadSource(path), traces, STRUCTURE)).toEqual([]);
  });
});
