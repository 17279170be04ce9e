/**
 * The conformance property (test/trace/conformance.ts) over every MCP fixture: each
 * content-bearing string of a JSON-RPC log is in the canonical events or named by a warning.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unaccounted } from "./conformance.js";
import { FORMAT_FIXTURES, loadSource, memorySource, readAll } from "./helpers.js";

const DIR = join(FORMAT_FIXTURES, "mcp");

/** Keys whose string values are protocol structure wherever they occur in an MCP log. */
const STRUCTURE = new Set([
  // JSON-RPC framing: the version tag, method names, request ids.
  "jsonrpc",
  "method",
  "id",
  // The relay's own wrapper: which way a line went, and when.
  "direction",
  "timestamp",
  // Lifecycle: the negotiated protocol revision.
  "protocolVersion",
  // Content block kinds and the JSON Schema dialect of declared schemas.
  "type",
  "$schema",
]);

/** Structure by key, plus the names and versions of the peers (`clientInfo`, `serverInfo`). */
function structural(at: string, key: string | number | undefined): boolean {
  if (typeof key !== "string") return false;
  return STRUCTURE.has(key) || /(clientInfo|serverInfo)\.(name|version|title)$/.test(at);
}

const files = readdirSync(DIR).filter((f) => statSync(join(DIR, f)).isFile());

describe("mcp conformance: every content-bearing field is accounted for", () => {
  it("covers the logs recorded against the reference servers", () => {
    expect(files).toEqual(expect.arrayContaining(["everything.jsonl", "filesystem.jsonl"]));
  });

  it.each(files)("%s", async (file) => {
    const path = join(DIR, file);
    const traces = await readAll(memorySource(path, readFileSync(path, "utf8"), file), "mcp");
    expect(unaccounted(loadSource(path), traces, structural)).toEqual([]);
  });
});
