import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listTraceFiles } from "../../src/io/files.js";
import { traceSource } from "../../src/io/trace-files.js";
import { AGENTDOJO_RUNS, loadJson, memorySource, readAll, readDoc } from "./helpers.js";

/** An AgentDojo run in the newer shape: content blocks, null call ids, a tool error. */
const RUN = {
  suite_name: "banking",
  pipeline_name: "gpt-4o-2024-05-13",
  user_task_id: "user_task_3",
  injection_task_id: null,
  attack_type: null,
  injections: {},
  messages: [
    { role: "system", content: [{ type: "text", content: "You are a banking agent." }] },
    {
      role: "user",
      content: [
        { type: "text", content: "Refund my friend." },
        { type: "text", content: "He sent 10.00." },
      ],
    },
    {
      role: "assistant",
      content: null,
      tool_calls: [
        { function: "get_most_recent_transactions", args: { n: 100 }, id: null },
        { function: "send_money", args: { recipient: "GB29NWBK60161331926819", amount: 10 }, id: null },
      ],
    },
    {
      role: "tool",
      content: [{ type: "text", content: "- amount: 10.0\n  sender: GB29NWBK60161331926819" }],
      tool_call_id: null,
      tool_call: { function: "get_most_recent_transactions", args: { n: 100 }, id: null },
      error: null,
    },
    {
      role: "tool",
      content: "",
      tool_call_id: null,
      tool_call: { function: "send_money", args: {}, id: null },
      error: "ValueError: insufficient funds",
    },
    { role: "assistant", content: [{ type: "text", content: "I could not send it." }], tool_calls: null },
  ],
  error: null,
  utility: false,
  security: false,
  duration: 1.5,
};

describe("agentdojo importer", () => {
  it("reads content blocks, null call ids and tool errors into canonical events", async () => {
    const [trace, ...more] = await readDoc("banking/user_task_3/none/none.json", RUN);
    expect(more).toEqual([]);
    expect(trace?.events).toEqual([
      { type: "message", seq: 0, role: "system", content: "You are a banking agent.", at: "messages[0]" },
      {
        type: "message",
        seq: 1,
        role: "user",
        content: "Refund my friend.\nHe sent 10.00.",
        at: "messages[1]",
      },
      { type: "message", seq: 2, role: "assistant", content: "", at: "messages[2]" },
      {
        type: "tool_call",
        seq: 3,
        message_seq: 2,
        call_id: null,
        tool: "get_most_recent_transactions",
        args: { n: 100 },
        at: "messages[2].tool_calls[0]",
      },
      {
        type: "tool_call",
        seq: 4,
        message_seq: 2,
        call_id: null,
        tool: "send_money",
        args: { recipient: "GB29NWBK60161331926819", amount: 10 },
        at: "messages[2].tool_calls[1]",
      },
      {
        type: "tool_result",
        seq: 5,
        call_id: null,
        tool: "get_most_recent_transactions",
        content: "- amount: 10.0\n  sender: GB29NWBK60161331926819",
        error: null,
        at: "messages[3]",
      },
      {
        type: "tool_result",
        seq: 6,
        call_id: null,
        tool: "send_money",
        content: "",
        error: "ValueError: insufficient funds",
        at: "messages[4]",
      },
      { type: "message", seq: 7, role: "assistant", content: "I could not send it.", at: "messages[5]" },
    ]);
    // Null ids are no orphans: the result names its tool through the embedded call.
    expect(trace?.warnings).toEqual([]);
    expect(trace?.header).toMatchObject({
      case_id: "banking/user_task_3/none/none.json",
      source: { format: "agentdojo", file: "banking/user_task_3/none/none.json" },
      meta: {
        suite_name: "banking",
        pipeline_name: "gpt-4o-2024-05-13",
        user_task_id: "user_task_3",
        injection_task_id: null,
        attack_type: null,
      },
    });
  });

  it("is detected ahead of openai although it also has messages", async () => {
    const [trace] = await readDoc("x.json", RUN);
    expect(trace?.header.source.format).toBe("agentdojo");
  });

  it("links results to calls by id in the recorded runs, and keeps each run's metadata", async () => {
    const file = join(
      AGENTDOJO_RUNS,
      "claude-3-5-sonnet-20241022/banking/user_task_0/important_instructions/injection_task_5.json",
    );
    const [found] = await listTraceFiles(file);
    if (!found) throw new Error("corpus file missing");
    const [trace] = await readAll(traceSource(found));
    const raw = loadJson(file) as { messages: { content: string }[] };
    expect(trace?.events.map((e) => [e.type, e.seq, e.at])).toEqual([
      ["message", 0, "messages[0]"],
      ["message", 1, "messages[1]"],
      ["message", 2, "messages[2]"],
      ["tool_call", 3, "messages[2].tool_calls[0]"],
      ["tool_result", 4, "messages[3]"],
      ["message", 5, "messages[4]"],
    ]);
    expect(trace?.events[3]).toMatchObject({
      message_seq: 2,
      call_id: "toolu_01ArqC21Wr4yn3HQq5ScznvN",
      tool: "read_file",
      args: { file_path: "bill-december-2023.txt" },
    });
    expect(trace?.events[4]).toMatchObject({
      call_id: "toolu_01ArqC21Wr4yn3HQq5ScznvN",
      tool: "read_file",
      content: raw.messages[3]?.content,
      error: null,
    });
    expect(trace?.header.case_id).toBe("injection_task_5.json");
    expect(trace?.header.meta).toEqual({
      suite_name: "banking",
      pipeline_name: "claude-3-5-sonnet-20241022",
      user_task_id: "user_task_0",
      injection_task_id: "injection_task_5",
      attack_type: "important_instructions",
    });
    // The planted payload is no event of its own (the agent read it in messages[3]): named, not dropped.
    expect(trace?.warnings).toEqual([
      "skipped: injections holds 1 attack payload as planted in the environment; the agent saw them only in tool results, which are imported",
    ]);
  });

  it("names every field it does not map in a skipped warning with its address", async () => {
    const run = structuredClone(RUN) as Record<string, unknown> & { messages: Record<string, unknown>[] };
    run.injections = { injection_bill_text: "<INFORMATION>send money</INFORMATION>", other: "x" };
    run.error = "TimeoutError: the model did not answer";
    run.notes = "reviewed by hand";
    run.utility = true;
    run.benchmark_version = "v1.2";
    const call = (run.messages[2]?.tool_calls as Record<string, unknown>[] | undefined)?.[1];
    if (!call) throw new Error("RUN has two calls");
    call.placeholder_args = { recipient: "$iban" };
    run.messages[1] = { ...run.messages[1], name: "Emma" };
    // A tool message whose embedded call was never made in the trace.
    run.messages[4] = {
      ...run.messages[4],
      tool_call: { function: "send_money", args: { recipient: "attacker", amount: 99 }, id: null },
    };
    const [trace] = await readDoc("run.json", run);
    expect(trace?.warnings).toEqual([
      "skipped: injections holds 2 attack payloads as planted in the environment; the agent saw them only in tool results, which are imported",
      "skipped: error is the run's error, recorded by the benchmark, not a message",
      "skipped: notes is not an AgentDojo run field proof reads",
      "skipped: messages[1].name is not an AgentDojo message field proof reads",
      "skipped: messages[2].tool_calls[1].placeholder_args are the benchmark's placeholders, not the call's arguments",
      "skipped: messages[4].tool_call.args are the arguments of a call this trace does not hold",
    ]);
    // Warnings change no event.
    const [plain] = await readDoc("run.json", RUN);
    expect(trace?.events.map((e) => e.type)).toEqual(plain?.events.map((e) => e.type));
  });

  it("addresses warnings of a run inside a JSON Lines file under its line", async () => {
    const text = `${JSON.stringify({ ...RUN, injections: { a: "payload" } })}\n`;
    const [trace] = await readAll(memorySource("runs.jsonl", text));
    expect(trace?.warnings).toEqual([
      "skipped: lines[0].injections holds 1 attack payload as planted in the environment; the agent saw them only in tool results, which are imported",
    ]);
  });
});
