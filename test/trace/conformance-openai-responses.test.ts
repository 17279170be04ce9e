/**
 * Conformance of the openai-responses importer (test/trace/conformance.ts): every content-bearing string
 * of every fixture under fixtures/formats/openai-responses is in the canonical events or named by a
 * skipped-field warning.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { traceSource } from "../../src/io/trace-files.js";
import { unaccounted } from "./conformance.js";
import { FORMAT_FIXTURES, loadSource, readAll } from "./helpers.js";

const DIR = join(FORMAT_FIXTURES, "openai-responses");

/**
 * Structure of Responses items: `type` names an item's or a part's kind; `role` the speaker (kept
 * as the event's role); `id`, `call_id` and `approval_request_id` link calls, results and approvals
 * (kept as `call_id`); `status` and `execution` are the API's bookkeeping; `object` says the
 * document is a Response; `model` names the model; `container_id` names the code interpreter's
 * sandbox. `server_label` names an MCP server: the trace keeps it in `meta.mcp_servers`, which
 * the property does not search.
 */
const STRUCTURE = new Set([
  "type",
  "role",
  "id",
  "call_id",
  "approval_request_id",
  "status",
  "execution",
  "object",
  "model",
  "container_id",
  "server_label",
]);

describe("openai-responses fixtures account for every content field", () => {
  const files = readdirSync(DIR).filter((f) => statSync(join(DIR, f)).isFile());

  it.each(files)("%s", async (file) => {
    const path = join(DIR, file);
    const traces = await readAll(traceSource({ path, rel: file }), "openai-responses");
    expect(unaccounted(loadSource(path), traces, STRUCTURE)).toEqual([]);
  });
});
