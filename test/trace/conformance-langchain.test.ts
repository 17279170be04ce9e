/**
 * The conformance property (test/trace/conformance.ts) over every LangChain / LangSmith fixture:
 * each content-bearing string of the run tree is in the canonical events or named by a warning.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unaccounted } from "./conformance.js";
import { FORMAT_FIXTURES, loadSource, memorySource, readAll } from "./helpers.js";

const DIR = join(FORMAT_FIXTURES, "langchain");

/** Keys whose string values are structure wherever they occur in a run tree. */
const STRUCTURE = new Set([
  // Run identity and placement: uuids, run kinds, the run's own (function or class) name,
  // dotted orders, times, the project a run was logged to.
  "id",
  "trace_id",
  "parent_run_id",
  "run_type",
  "dotted_order",
  "start_time",
  "end_time",
  "_serialized_start_time",
  "time",
  "session_name",
  "name",
  // Message and call plumbing: LangChain class paths and message kinds, call kinds, statuses,
  // the tool_call_id a ToolMessage answers (the call it pairs with carries it into the events).
  "lc",
  "type",
  "role",
  "status",
  "tool_call_id",
  "finish_reason",
  "object",
  "system_fingerprint",
  // Model names and provider metadata (`ls_*` keys, runtime and SDK versions).
  "model",
  "model_name",
  "model_provider",
  "ls_provider",
  "ls_model_type",
  "ls_model_name",
  "ls_integration",
  "library",
  "runtime",
  "sdk",
  "sdk_version",
  "platform",
  "langchain_core_version",
  "library_version",
  "event",
]);

/**
 * Structure by key, plus: the segments of a serialised class path (`id: ["langchain_core",
 * "messages", "AIMessage"]`) and package versions (`metadata.versions["@langchain/core"]`).
 * `name` stays content where it names the tool a message calls (`tool_calls[].name`).
 */
function structural(at: string, key: string | number | undefined): boolean {
  if (key === "name" && /tool_calls\[\d+\](\.function)?\.name$/.test(at)) return false;
  if (typeof key === "number") return /(^|\.)id\[\d+\]$/.test(at);
  return STRUCTURE.has(key ?? "") || /\.versions\.[^.]+$/.test(at);
}

const files = readdirSync(DIR).filter((f) => statSync(join(DIR, f)).isFile());

describe("langchain conformance: every content-bearing field is accounted for", () => {
  it("covers the fixtures made by real producers", () => {
    expect(files).toEqual(expect.arrayContaining(["run-collector.json", "wrap-openai.json", "weather.json"]));
  });

  it.each(files)("%s", async (file) => {
    const path = join(DIR, file);
    const traces = await readAll(memorySource(path, readFileSync(path, "utf8"), file), "langchain");
    expect(unaccounted(loadSource(path), traces, structural)).toEqual([]);
  });
});
