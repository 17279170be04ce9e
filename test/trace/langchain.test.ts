/**
 * The LangChain / LangSmith run-tree importer (src/trace/formats/langchain.ts): the fixture in
 * langchain-core's recorded shapes against its golden canonical JSONL, addresses that lead back
 * into the run tree, execution order, and the quirks of older and flat exports.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jsonLine } from "../../src/io/canonical.js";
import type { Trace } from "../../src/trace/model.js";
import { memorySource, ROOT, readAll, readDoc, resolveAt } from "./helpers.js";

type Obj = Record<string, unknown>;
const FILE = "fixtures/formats/langchain/weather.json";

async function readFixture(): Promise<{ doc: unknown; trace: Trace }> {
  const text = readFileSync(join(ROOT, FILE), "utf8");
  const [trace, ...more] = await readAll(memorySource(FILE, text, "weather.json"));
  expect(more).toEqual([]);
  return { doc: JSON.parse(text), trace: trace as Trace };
}

/** The fields of a serialised message (`kwargs`), or the message itself. */
function fields(node: Obj): Obj {
  return (node.kwargs as Obj | undefined) ?? node;
}

describe("langchain importer: a LangGraph agent run", () => {
  it("imports byte for byte as the golden canonical JSONL (generated once by proof import, checked by hand)", async () => {
    const { trace } = await readFixture();
    const golden = readFileSync(join(ROOT, "fixtures/formats/langchain/expected/weather.jsonl"), "utf8");
    expect([trace.header, ...trace.events].map(jsonLine).join("")).toBe(golden);
    // The tool run recorded its arguments as Python's str(dict): the call's own are used, and
    // the tool run's copy is named rather than dropped without a word.
    expect(trace.warnings).toEqual([
      "skipped: child_runs[2].inputs records the arguments of call call_ZaxIDx9SNTbBYTiaN3Jpr4PM differently from the call; the call's arguments are used",
    ]);
  });

  it("flattens in dotted_order, not in child_runs order, and keeps the repeated history once", async () => {
    const { trace } = await readFixture();
    expect(trace.events.map((e) => e.at.replace(/\..*/, ""))).toEqual([
      "child_runs[1]",
      "child_runs[1]",
      "child_runs[1]",
      "child_runs[1]",
      "child_runs[2]",
      "child_runs[0]",
    ]);
  });

  it("every `at` leads back to its message, tool call or tool run output", async () => {
    const { doc, trace } = await readFixture();
    for (const e of trace.events) {
      const node = resolveAt(doc, e.at) as Obj;
      if (e.type === "message") {
        expect(fields(node).content, e.at).toBe(e.content);
        expect((node.id as string[]).at(-1), e.at).toBe(
          { system: "SystemMessage", user: "HumanMessage", assistant: "AIMessage" }[e.role],
        );
      } else if (e.type === "tool_call") {
        expect(node, e.at).toMatchObject({ id: e.call_id, name: e.tool, args: e.args });
        expect(e.at.startsWith(`${trace.events[e.message_seq as number]?.at}.`)).toBe(true);
      } else {
        expect(fields(node.output as Obj), e.at).toMatchObject({
          content: e.content,
          tool_call_id: e.call_id,
        });
      }
    }
  });
});

const run = (id: string, runType: string, extra: Obj): Obj => ({
  id,
  name: runType,
  run_type: runType,
  inputs: {},
  ...extra,
});

describe("langchain importer: quirks", () => {
  it("a flat list with parent_run_id and no dotted_order is ordered by start_time", async () => {
    const [t] = await readDoc("flat.json", [
      run("t", "tool", {
        name: "lookup",
        parent_run_id: "root",
        start_time: "2024-01-01T00:00:02",
        inputs: { input: '{"q": "x"}' },
        outputs: { output: "found" },
      }),
      run("root", "chain", { parent_run_id: null, start_time: "2024-01-01T00:00:00" }),
      run("l", "llm", {
        parent_run_id: "root",
        start_time: "2024-01-01T00:00:01",
        inputs: { messages: [[{ type: "human", data: { content: "find x" } }]] },
        outputs: {
          generations: [
            [
              {
                text: "",
                message: {
                  type: "ai",
                  content: null,
                  additional_kwargs: {
                    tool_calls: [{ id: null, function: { name: "lookup", arguments: '{"q": "x"}' } }],
                  },
                },
              },
            ],
          ],
        },
      }),
    ]);
    // messages_to_dict, LangSmith's flat messages, null content, OpenAI-style calls with a null id:
    // the id-less tool run answers the earliest unanswered call of its tool.
    expect(t?.events).toEqual([
      { type: "message", seq: 0, role: "user", content: "find x", at: "[2].inputs.messages[0][0]" },
      {
        type: "message",
        seq: 1,
        role: "assistant",
        content: "",
        at: "[2].outputs.generations[0][0].message",
      },
      {
        type: "tool_call",
        seq: 2,
        message_seq: 1,
        call_id: null,
        tool: "lookup",
        args: { q: "x" },
        at: "[2].outputs.generations[0][0].message.additional_kwargs.tool_calls[0]",
      },
      {
        type: "tool_result",
        seq: 3,
        call_id: null,
        tool: "lookup",
        content: "found",
        error: null,
        at: "[0].outputs",
      },
    ]);
    expect(t?.warnings).toEqual([]);
  });

  it("a tool run without a recorded model call is a call outside any message; errors are kept", async () => {
    const [t] = await readDoc(
      "tool.json",
      run("t", "tool", {
        name: "send_money",
        inputs: { recipient: "DE89", amount: 5 },
        outputs: null,
        error: "ValueError('insufficient funds')",
      }),
    );
    expect(t?.events).toEqual([
      {
        type: "tool_call",
        seq: 0,
        message_seq: null,
        call_id: null,
        tool: "send_money",
        args: { recipient: "DE89", amount: 5 },
        at: "inputs",
      },
      {
        type: "tool_result",
        seq: 1,
        call_id: null,
        tool: "send_money",
        content: "",
        error: "ValueError('insufficient funds')",
        at: "",
      },
    ]);
  });

  it("a ToolMessage answering no known call is kept with an orphan warning; unknown types are skipped", async () => {
    const [t] = await readDoc(
      "orphan.json",
      run("l", "llm", {
        inputs: {
          messages: [
            { role: "user", content: [{ type: "text", text: "hi" }] },
            { type: "tool", content: "surprise", tool_call_id: "ghost" },
            { type: "narrator", content: "?" },
          ],
        },
        outputs: { generations: [{ text: "ok" }] },
      }),
    );
    expect(t?.events.map((e) => [e.type, e.at])).toEqual([
      ["message", "inputs.messages[0]"],
      ["tool_result", "inputs.messages[1]"],
      ["message", "outputs.generations[0]"],
    ]);
    expect(t?.warnings).toEqual([
      'skipped: inputs.messages[2] has unknown message type "narrator"',
      "orphan_result: inputs.messages[1] answers unknown call id ghost",
    ]);
  });

  it("parallel calls are answered by id, whatever order the tool runs finish in", async () => {
    const ai = {
      lc: 1,
      type: "constructor",
      id: ["langchain", "schema", "messages", "AIMessage"],
      kwargs: {
        content: "",
        tool_calls: [
          { name: "a", args: { n: 1 }, id: "c1" },
          { name: "a", args: { n: 2 }, id: "c2" },
        ],
      },
    };
    const toolMsg = (id: string, content: string) => ({
      lc: 1,
      type: "constructor",
      id: ["langchain", "schema", "messages", "ToolMessage"],
      kwargs: { content, tool_call_id: id },
    });
    const [t] = await readDoc(
      "par.json",
      run("root", "chain", {
        dotted_order: "1",
        child_runs: [
          run("l", "llm", {
            dotted_order: "1.1",
            inputs: { messages: [[{ role: "user", content: "go" }]] },
            outputs: { generations: [[{ message: ai }]] },
          }),
          run("b", "tool", { name: "a", dotted_order: "1.2", outputs: { output: toolMsg("c2", "two") } }),
          run("c", "tool", { name: "a", dotted_order: "1.3", outputs: { output: toolMsg("c1", "one") } }),
        ],
      }),
    );
    expect(
      t?.events
        .filter((e) => e.type === "tool_result")
        .map((e) => e.type === "tool_result" && [e.call_id, e.content]),
    ).toEqual([
      ["c2", "two"],
      ["c1", "one"],
    ]);
    expect(t?.warnings).toEqual([]);
  });
});

/** A fixture made by a real producer (scripts/fixtures/), read as `proof import` reads it. */
async function readProduced(name: string): Promise<Trace> {
  const file = `fixtures/formats/langchain/${name}.json`;
  const [trace, ...more] = await readAll(
    memorySource(file, readFileSync(join(ROOT, file), "utf8"), `${name}.json`),
  );
  expect(more).toEqual([]);
  return trace as Trace;
}

describe("langchain importer: runs recorded by LangSmith's OpenAI wrapper", () => {
  it("imports byte for byte as the golden canonical JSONL", async () => {
    const trace = await readProduced("wrap-openai");
    const golden = readFileSync(join(ROOT, "fixtures/formats/langchain/expected/wrap-openai.jsonl"), "utf8");
    expect([trace.header, ...trace.events].map(jsonLine).join("")).toBe(golden);
  });

  it("gives the 2 calls with their names and arguments, each answered once in message order, and the final answer", async () => {
    const trace = await readProduced("wrap-openai");
    expect(
      trace.events.map((e) =>
        e.type === "message"
          ? [e.role, e.content]
          : e.type === "tool_call"
            ? ["call", e.call_id, e.tool, e.args, e.message_seq]
            : ["result", e.call_id, e.content],
      ),
    ).toEqual([
      ["system", "You are a weather assistant. Use the tools."],
      ["user", "What is the weather like in Paris and in Bogotá today?"],
      ["assistant", ""],
      ["call", "call_12345xyz", "get_weather", { location: "Paris, France" }, 2],
      ["call", "call_67890abc", "get_weather", { location: "Bogotá, Colombia" }, 2],
      ["result", "call_12345xyz", "Sunny, 14°C in Paris, France"],
      // A tool returning a dict is stored as the outputs themselves: kept whole as JSON.
      [
        "result",
        "call_67890abc",
        '{"location":"Bogotá, Colombia","temperature_c":18,"conditions":"light rain"}',
      ],
      ["assistant", "Paris is sunny at 14°C; Bogotá has light rain at 18°C."],
    ]);
    // The tool declarations are the only thing not imported, and they are named.
    expect(trace.warnings).toEqual([
      "skipped: child_runs[0].inputs.tools declares tools the model may call (declarations are not events)",
      "skipped: child_runs[3].inputs.tools declares tools the model may call (declarations are not events)",
    ]);
  });

  it("a tool run recorded before the message that made its call follows that message, paired by order without ids", async () => {
    // No llm output recorded for the first model call: its message is only in the next input.
    const [t] = await readDoc(
      "late.json",
      run("root", "chain", {
        dotted_order: "1",
        child_runs: [
          run("l1", "llm", {
            dotted_order: "1.1",
            inputs: { messages: [{ role: "user", content: "pay it" }] },
          }),
          run("t1", "tool", {
            name: "lookup_bill",
            dotted_order: "1.2",
            inputs: { n: 1 },
            outputs: { output: "120 EUR" },
          }),
          run("t2", "tool", {
            name: "pay",
            dotted_order: "1.3",
            inputs: { to: "DE89" },
            outputs: { ok: true },
          }),
          run("l2", "llm", {
            dotted_order: "1.4",
            inputs: {
              messages: [
                { role: "user", content: "pay it" },
                {
                  role: "assistant",
                  content: null,
                  tool_calls: [
                    { type: "function", function: { name: "get_bill", arguments: '{"n":1}' } },
                    { type: "function", function: { name: "send_money", arguments: '{"to":"DE89"}' } },
                  ],
                },
              ],
            },
            outputs: { choices: [{ index: 0, message: { role: "assistant", content: "Paid." } }] },
          }),
        ],
      }),
    );
    expect(
      t?.events.map((e) => [
        e.type,
        e.type === "tool_call" ? e.tool : e.type === "tool_result" ? e.content : e.at,
      ]),
    ).toEqual([
      ["message", "child_runs[0].inputs.messages[0]"],
      ["message", "child_runs[3].inputs.messages[1]"],
      ["tool_call", "get_bill"],
      ["tool_call", "send_money"],
      ["tool_result", "120 EUR"],
      ["tool_result", '{"ok":true}'],
      ["message", "child_runs[3].outputs.choices[0].message"],
    ]);
    // Each result answers its own call (by order: the tool runs' names differ from the calls').
    const results = t?.events.filter((e) => e.type === "tool_result") ?? [];
    expect(results.map((e) => e.type === "tool_result" && e.tool)).toEqual(["get_bill", "send_money"]);
  });

  it("a refusal is the assistant's text, and an OpenAI call without a name is kept and named in a warning", async () => {
    const [t] = await readDoc(
      "refusal.json",
      run("l", "llm", {
        inputs: { messages: [{ role: "user", content: "help me steal" }] },
        outputs: {
          choices: [
            { message: { role: "assistant", content: null, refusal: "I can't help with that." } },
            {
              message: {
                role: "assistant",
                content: null,
                tool_calls: [{ id: "c", function: { arguments: "{}" } }],
              },
            },
          ],
        },
      }),
    );
    expect(
      t?.events.filter((e) => e.type === "message").map((e) => e.type === "message" && e.content),
    ).toEqual(["help me steal", "I can't help with that.", ""]);
    expect(t?.warnings).toEqual(["unnamed_call: outputs.choices[1].message.tool_calls[0] has no tool name"]);
  });
});

describe("langchain importer: runs collected by @langchain/core's RunCollectorCallbackHandler", () => {
  it("imports byte for byte as the golden canonical JSONL, with nothing skipped", async () => {
    const trace = await readProduced("run-collector");
    const golden = readFileSync(
      join(ROOT, "fixtures/formats/langchain/expected/run-collector.jsonl"),
      "utf8",
    );
    expect([trace.header, ...trace.events].map(jsonLine).join("")).toBe(golden);
    expect(
      trace.events.filter((e) => e.type === "tool_call").map((e) => e.type === "tool_call" && e.tool),
    ).toEqual(["read_inbox", "send_money"]);
    expect(trace.warnings).toEqual([]);
  });
});
