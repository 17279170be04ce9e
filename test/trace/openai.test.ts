import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { traceSource } from "../../src/io/trace-files.js";
import type { TraceEvent } from "../../src/trace/model.js";
import { FORMAT_FIXTURES, memorySource, readAll, readDoc, rejection } from "./helpers.js";

/** A chat-completions conversation: two parallel calls, their results, a final answer. */
const MESSAGES = [
  { role: "system", content: "You are a banking agent." },
  { role: "user", content: "Pay the bill in bill.txt" },
  {
    role: "assistant",
    content: null,
    tool_calls: [
      {
        id: "call_a",
        type: "function",
        function: { name: "read_file", arguments: '{"file_path":"bill.txt"}' },
      },
      { id: "call_b", type: "function", function: { name: "get_balance", arguments: "" } },
    ],
  },
  { role: "tool", tool_call_id: "call_a", content: "Pay 98.70 to GB29NWBK60161331926819" },
  { role: "tool", tool_call_id: "call_b", name: "get_balance", content: "1810.0" },
  { role: "assistant", content: "Done." },
];

/** The canonical events of MESSAGES, with `at` addresses under `base`. */
function expectedEvents(base: string): TraceEvent[] {
  return [
    { type: "message", seq: 0, role: "system", content: "You are a banking agent.", at: `${base}[0]` },
    { type: "message", seq: 1, role: "user", content: "Pay the bill in bill.txt", at: `${base}[1]` },
    { type: "message", seq: 2, role: "assistant", content: "", at: `${base}[2]` },
    {
      type: "tool_call",
      seq: 3,
      message_seq: 2,
      call_id: "call_a",
      tool: "read_file",
      args: { file_path: "bill.txt" },
      at: `${base}[2].tool_calls[0]`,
    },
    {
      type: "tool_call",
      seq: 4,
      message_seq: 2,
      call_id: "call_b",
      tool: "get_balance",
      args: {},
      at: `${base}[2].tool_calls[1]`,
    },
    {
      type: "tool_result",
      seq: 5,
      call_id: "call_a",
      tool: "read_file",
      content: "Pay 98.70 to GB29NWBK60161331926819",
      error: null,
      at: `${base}[3]`,
    },
    {
      type: "tool_result",
      seq: 6,
      call_id: "call_b",
      tool: "get_balance",
      content: "1810.0",
      error: null,
      at: `${base}[4]`,
    },
    { type: "message", seq: 7, role: "assistant", content: "Done.", at: `${base}[5]` },
  ];
}

describe("openai importer", () => {
  it("reads a bare message array into canonical events addressed by index", async () => {
    const [trace, ...more] = await readDoc("runs/chat.json", MESSAGES);
    expect(more).toEqual([]);
    expect(trace?.events).toEqual(expectedEvents(""));
    expect(trace?.warnings).toEqual([]);
    expect(trace?.header).toMatchObject({
      type: "trace",
      case_id: "runs/chat.json",
      source: { format: "openai", file: "runs/chat.json" },
      meta: {},
    });
    expect(trace?.header.trace_id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("reads {messages} with addresses under messages and the same trace id", async () => {
    const [bare] = await readDoc("a.json", MESSAGES);
    const [wrapped] = await readDoc("b.json", { model: "gpt-4o", messages: MESSAGES });
    expect(wrapped?.events).toEqual(expectedEvents("messages"));
    expect(wrapped?.header.source.format).toBe("openai");
    expect(wrapped?.header.trace_id).toBe(bare?.header.trace_id);
  });

  it("maps developer to system, joins text blocks and reads the legacy function_call", async () => {
    const [trace] = await readDoc("legacy.json", [
      { role: "developer", content: "Be brief." },
      {
        role: "user",
        content: [
          { type: "text", text: "first" },
          { type: "text", text: "second" },
        ],
      },
      { role: "assistant", content: null, function_call: { name: "lookup", arguments: '{"q":"x"}' } },
      { role: "function", name: "lookup", content: "found" },
    ]);
    expect(trace?.events).toEqual([
      { type: "message", seq: 0, role: "system", content: "Be brief.", at: "[0]" },
      { type: "message", seq: 1, role: "user", content: "first\nsecond", at: "[1]" },
      { type: "message", seq: 2, role: "assistant", content: "", at: "[2]" },
      {
        type: "tool_call",
        seq: 3,
        message_seq: 2,
        call_id: null,
        tool: "lookup",
        args: { q: "x" },
        at: "[2].function_call",
      },
      {
        type: "tool_result",
        seq: 4,
        call_id: null,
        tool: "lookup",
        content: "found",
        error: null,
        at: "[3]",
      },
    ]);
    expect(trace?.warnings).toEqual([]);
  });

  it("keeps arguments that are not valid JSON as the string, with a warning", async () => {
    const [trace] = await readDoc("bad-args.json", [
      { role: "user", content: "send it" },
      {
        role: "assistant",
        content: "",
        tool_calls: [{ id: "c1", function: { name: "send_money", arguments: '{"recipient": "GB29' } }],
      },
    ]);
    const call = trace?.events.find((e) => e.type === "tool_call");
    expect(call).toMatchObject({ tool: "send_money", args: '{"recipient": "GB29', at: "[1].tool_calls[0]" });
    expect(trace?.warnings).toEqual([
      "invalid_arguments: [1].tool_calls[0] has arguments that are not valid JSON; kept as a string",
    ]);
  });

  it("keeps a tool result whose call is unknown, with an orphan warning, and does not crash", async () => {
    const [trace] = await readDoc("orphan.json", [
      { role: "user", content: "hi" },
      { role: "tool", tool_call_id: "ghost", content: "surprise" },
      { role: "assistant", content: "ok" },
    ]);
    expect(trace?.events[1]).toEqual({
      type: "tool_result",
      seq: 1,
      call_id: "ghost",
      tool: null,
      content: "surprise",
      error: null,
      at: "[1]",
    });
    expect(trace?.events).toHaveLength(3);
    expect(trace?.warnings).toEqual(["orphan_result: [1] answers unknown call id ghost"]);
  });

  it("skips a message with an unknown role with a warning, keeping the rest", async () => {
    const [trace] = await readDoc("roles.json", [
      { role: "user", content: "a" },
      { role: "narrator", content: "b" },
      { role: "assistant", content: "c" },
    ]);
    expect(trace?.events.map((e) => e.at)).toEqual(["[0]", "[2]"]);
    expect(trace?.warnings).toEqual(['skipped: [1] has unknown role "narrator"']);
  });

  it("refuses a document that is no known format, naming the file", async () => {
    const err = await rejection(readDoc("x.json", { hello: "world" }));
    expect(err).toMatchObject({ code: "trace.unknown_format", location: { file: "x.json" } });
  });

  it("refuses --format openai on a document that is not one", async () => {
    const err = await rejection(readDoc("x.json", [{ no_role: 1 }], "openai"));
    expect(err).toMatchObject({ code: "trace.wrong_format", message: "not in the openai trace format" });
  });

  it("reads one conversation per line of a .jsonl file, numbering case ids through the file", async () => {
    const text = `${JSON.stringify(MESSAGES)}\n\n${JSON.stringify({ messages: MESSAGES.slice(0, 2) })}\n`;
    const traces = await readAll(memorySource("logs/chats.jsonl", text, "chats.jsonl"));
    expect(traces.map((t) => t.header.case_id)).toEqual(["chats.jsonl#0", "chats.jsonl#1"]);
    expect(traces[0]?.events[3]?.at).toBe("lines[0][2].tool_calls[0]");
    expect(traces[1]?.events.map((e) => e.at)).toEqual(["lines[2].messages[0]", "lines[2].messages[1]"]);
  });
});

describe("openai chat completions: refusals and custom tools", () => {
  it("makes a refusal the assistant's message text, never an empty message", async () => {
    const [t] = await readDoc("r.json", [
      { role: "user", content: "Write malware." },
      { role: "assistant", content: null, refusal: "I can't help with that." },
      { role: "assistant", content: [{ type: "refusal", refusal: "Still no." }] },
      { role: "assistant", content: "Here is a poem instead.", refusal: "Not the malware." },
    ]);
    expect(t?.events.slice(1).map((e) => e.type === "message" && e.content)).toEqual([
      "I can't help with that.",
      "Still no.",
      "Here is a poem instead.\nNot the malware.",
    ]);
  });

  it("imports a custom tool call with its input string as the arguments", async () => {
    const [t] = await readDoc("c.json", [
      { role: "user", content: "list files" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "custom", custom: { name: "code_exec", input: "ls -la ~" } }],
      },
      { role: "tool", tool_call_id: "call_1", content: "notes.txt" },
    ]);
    expect(t?.header.source.format).toBe("openai");
    expect(t?.events.slice(2)).toEqual([
      {
        type: "tool_call",
        seq: 2,
        message_seq: 1,
        call_id: "call_1",
        tool: "code_exec",
        args: "ls -la ~",
        at: "[1].tool_calls[0]",
      },
      {
        type: "tool_result",
        seq: 3,
        call_id: "call_1",
        tool: "code_exec",
        content: "notes.txt",
        error: null,
        at: "[2]",
      },
    ]);
  });

  it("warns that a request body's tool definitions are skipped", async () => {
    const [t] = await readDoc("b.json", {
      model: "gpt-5",
      tools: [{ type: "function", function: { name: "f", description: "does f" } }],
      messages: [{ role: "user", content: "hi" }],
    });
    expect(t?.warnings).toEqual(["skipped: tools holds tool definitions, not conversation"]);
  });
});

describe("openai-responses hosted tools", () => {
  it("makes every hosted call item a call with a documented name, and its output a result", async () => {
    const path = join(FORMAT_FIXTURES, "openai-responses/hosted-tools.json");
    const [t] = await readAll(traceSource({ path, rel: "hosted-tools.json" }));
    const calls = t?.events.filter((e) => e.type === "tool_call") ?? [];
    expect(calls.map((c) => c.tool)).toEqual([
      "web_search",
      "file_search",
      "code_interpreter",
      "send_money",
      "get_balance",
      "computer",
      "image_generation",
      "local_shell",
      "shell",
      "apply_patch",
      "sql",
    ]);
    const results = t?.events.filter((e) => e.type === "tool_result") ?? [];
    // Every call is answered (the MCP approval request and its mcp_call are one call).
    expect(results.map((r) => r.call_id)).toEqual(calls.map((c) => c.call_id));
    expect(results.find((r) => r.tool === "get_balance")).toMatchObject({
      error: "Error: the bank server timed out",
    });
    expect(t?.header.meta).toEqual({ mcp_servers: { mcpr_68c1: "bank", mcp_68c1e: "bank" } });
    expect(t?.warnings.every((w) => w.startsWith("skipped: "))).toBe(true);
  });

  it("warns about a reasoning item instead of skipping it silently", async () => {
    const [t] = await readDoc("r.json", [
      { role: "user", content: [{ type: "input_text", text: "hi" }] },
      { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "think" }] },
    ]);
    expect(t?.warnings).toEqual([
      "skipped: [1] is a reasoning item: the model's reasoning, neither said nor a call",
    ]);
  });
});
