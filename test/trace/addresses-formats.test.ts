/**
 * Every event's `at` in the new formats' fixtures must lead back to the item, block or JSON-RPC
 * message it came from (as test/trace/addresses.test.ts does for the real corpus), and no call
 * of the source may be dropped.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { traceSource } from "../../src/io/trace-files.js";
import type { Trace, TraceEvent } from "../../src/trace/model.js";
import { FORMAT_FIXTURES, loadSource, readAll, resolveAt } from "./helpers.js";

type Obj = Record<string, unknown>;

/** Arguments as the source holds them, parsed like the importers parse them. */
function argsOf(raw: unknown): unknown {
  if (typeof raw !== "string") return raw ?? {};
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Text of blocks/parts the way an importer joins them (text, refusal, or the block's JSON). */
function textOf(content: unknown): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return (content as Obj[])
    .map((b) =>
      typeof b.text === "string" ? b.text : typeof b.refusal === "string" ? b.refusal : JSON.stringify(b),
    )
    .join("\n");
}

/** Responses call items named by their type (hosted tools), with the canonical tool name. */
const HOSTED_TOOLS: Record<string, string> = {
  web_search_call: "web_search",
  file_search_call: "file_search",
  code_interpreter_call: "code_interpreter",
  computer_call: "computer",
  image_generation_call: "image_generation",
  local_shell_call: "local_shell",
  shell_call: "shell",
  apply_patch_call: "apply_patch",
  tool_search_call: "tool_search",
  program: "program",
};
/** Responses call items that carry their own tool name. */
const NAMED_CALLS = ["function_call", "custom_tool_call", "mcp_call", "mcp_approval_request"];
/** Responses items that answer a call item. */
const OUTPUT_ITEMS = [
  "function_call_output",
  "custom_tool_call_output",
  "computer_call_output",
  "local_shell_call_output",
  "shell_call_output",
  "apply_patch_call_output",
  "program_output",
];

function isResponsesCall(node: Obj): boolean {
  return NAMED_CALLS.includes(node.type as string) || (node.type as string) in HOSTED_TOOLS;
}

/** Checks one openai-responses event against its source item. */
function checkResponses(trace: Trace, e: TraceEvent, node: Obj, where: string, doc: unknown): void {
  if (e.type === "message") {
    if (isResponsesCall(node)) {
      // The empty assistant message a call-only turn gets sits at its first call.
      expect(e, where).toMatchObject({ role: "assistant", content: "" });
      expect(trace.events[e.seq + 1], where).toMatchObject({ type: "tool_call", at: e.at });
      return;
    }
    if (typeof node.role !== "string") {
      // `instructions` is the system prompt.
      expect(e, where).toMatchObject({ role: "system", content: node });
      return;
    }
    expect(node.type ?? "message", where).toBe("message");
    expect(node.role === "developer" ? "system" : node.role, where).toBe(e.role);
    expect(textOf(node.content), where).toBe(e.content);
  } else if (e.type === "tool_call") {
    expect(isResponsesCall(node), where).toBe(true);
    if (NAMED_CALLS.includes(node.type as string)) {
      expect(node.name, where).toBe(e.tool);
      if (node.type === "function_call") expect(argsOf(node.arguments), where).toEqual(e.args);
    } else expect(HOSTED_TOOLS[node.type as string], where).toBe(e.tool);
    const id = node.type === "function_call" ? (node.call_id ?? null) : (node.call_id ?? node.id);
    expect(id, where).toBe(e.call_id);
    expect(trace.events[e.message_seq as number], where).toMatchObject({
      type: "message",
      role: "assistant",
    });
  } else if (OUTPUT_ITEMS.includes(node.type as string)) {
    if (node.type === "function_call_output") {
      expect(node.call_id, where).toBe(e.call_id);
      expect(textOf(node.output), where).toBe(e.content);
    }
    // Every result answers a call recorded before it.
    expect(
      trace.events.some((c) => c.type === "tool_call" && c.seq < e.seq && c.call_id === e.call_id),
      where,
    ).toBe(e.call_id !== "call_gone");
  } else {
    // A hosted call's own result (`output`, `error`, `results`...) sits under the call's item.
    const item = resolveAt(doc, e.at.replace(/(\.[A-Za-z_]+)+$/, "")) as Obj;
    expect(isResponsesCall(item), where).toBe(true);
    expect(
      trace.events.some((c) => c.type === "tool_call" && c.call_id === e.call_id),
      where,
    ).toBe(true);
  }
}

/** Checks one anthropic event against its source message or block. */
function checkAnthropic(trace: Trace, e: TraceEvent, node: unknown, where: string): void {
  if (e.type === "message") {
    if (e.at.endsWith("system")) {
      expect(e.role, where).toBe("system");
      expect(textOf(node), where).toBe(e.content);
      return;
    }
    const m = node as Obj;
    expect(m.role, where).toBe(e.role);
    const said = Array.isArray(m.content)
      ? (m.content as Obj[]).filter(
          (b) =>
            !["tool_use", "server_tool_use", "mcp_tool_use", "thinking", "redacted_thinking"].includes(
              b.type as string,
            ) && !(b.type as string).endsWith("tool_result"),
        )
      : m.content;
    expect(textOf(said), where).toBe(e.content);
    return;
  }
  const b = node as Obj;
  if (e.type === "tool_call") {
    expect(["tool_use", "server_tool_use", "mcp_tool_use"], where).toContain(b.type);
    expect(b.name, where).toBe(e.tool);
    expect(b.id, where).toBe(e.call_id);
    expect(argsOf(b.input), where).toEqual(e.args);
    const message = trace.events[e.message_seq as number];
    expect(e.at.startsWith(`${message?.at}.content[`), where).toBe(true);
  } else {
    // A tool_result block (or a server tool's *_tool_result) is a tool result, never the user's words.
    expect((b.type as string).endsWith("tool_result"), where).toBe(true);
    expect(b.tool_use_id, where).toBe(e.call_id);
    const content = b.content;
    const text =
      content !== null && typeof content === "object" && !Array.isArray(content)
        ? JSON.stringify(content)
        : textOf(content);
    expect(text, where).toBe(e.content);
    const code = (content as Obj | null)?.error_code;
    expect(e.error, where).toBe(b.is_error === true ? e.content : typeof code === "string" ? code : null);
  }
}

/** Checks one mcp event against its JSON-RPC message. */
function checkMcp(e: TraceEvent, node: Obj, where: string): void {
  expect(node.jsonrpc, where).toBe("2.0");
  if (e.type === "message") throw new Error(`${where}: an MCP log has no messages`);
  expect(String(node.id), where).toBe(e.call_id);
  if (e.type === "tool_call") {
    const params = node.params as Obj;
    expect(node.method, where).toBe("tools/call");
    expect(params.name, where).toBe(e.tool);
    expect(argsOf(params.arguments), where).toEqual(e.args);
    expect(e.message_seq, where).toBeNull();
  } else {
    expect("result" in node || "error" in node, where).toBe(true);
    if ("error" in node) expect(e.error, where).toBe((node.error as Obj).message);
  }
}

/** Counts of the source's calls, by format. */
function sourceCalls(format: string, doc: unknown): number {
  const text = JSON.stringify(doc);
  if (format === "openai-responses") {
    // An mcp_call that follows its approval request is that request's call, counted once.
    const items: Obj[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) for (const x of v) walk(x);
      else if (v !== null && typeof v === "object") {
        if (isResponsesCall(v as Obj)) items.push(v as Obj);
        for (const x of Object.values(v)) walk(x);
      }
    };
    walk(doc);
    const requests = new Set(items.filter((i) => i.type === "mcp_approval_request").map((i) => i.id));
    return items.filter((i) => !(i.type === "mcp_call" && requests.has(i.approval_request_id))).length;
  }
  const pattern =
    format === "mcp" ? /"method":"tools\/call"/g : /"type":"(tool_use|server_tool_use|mcp_tool_use)"/g;
  return text.match(pattern)?.length ?? 0;
}

describe.each(["openai-responses", "anthropic", "mcp"])("%s event addresses", (format) => {
  const dir = join(FORMAT_FIXTURES, format);
  const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());

  it.each(files)("lead back into %s", async (file) => {
    const path = join(dir, file);
    const doc = loadSource(path);
    const traces = await readAll(traceSource({ path, rel: file }));
    let calls = 0;
    let events = 0;
    for (const trace of traces) {
      expect(trace.header.source.format).toBe(format);
      for (const e of trace.events) {
        const node = resolveAt(doc, e.at);
        const where = `${file} ${e.at}`;
        if (format === "openai-responses") checkResponses(trace, e, node as Obj, where, doc);
        else if (format === "anthropic") checkAnthropic(trace, e, node, where);
        else checkMcp(e, node as Obj, where);
        if (e.type === "tool_call") calls++;
        events++;
      }
    }
    expect(events).toBeGreaterThan(0);
    expect(calls).toBe(sourceCalls(format, doc));
  });
});
