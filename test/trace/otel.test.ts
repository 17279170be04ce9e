/**
 * The OpenTelemetry GenAI importer (src/trace/formats/otel.ts): the fixture built from the
 * semantic conventions' own example against its golden canonical JSONL, addresses that lead
 * back into the OTLP file, and the quirks of real exporters.
 */
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { jsonLine } from "../../src/io/canonical.js";
import type { Trace } from "../../src/trace/model.js";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";
import { memorySource, ROOT, readAll, readDoc, resolveAt } from "./helpers.js";

type Obj = Record<string, unknown>;
const FILE = "fixtures/formats/otel/weather.json";

const s = (key: string, v: string) => ({ key, value: { stringValue: v } });

/** An OTLP document of the given spans (one resource, one scope). */
function otlp(...spans: Obj[]): Obj {
  return { resourceSpans: [{ resource: {}, scopeSpans: [{ scope: { name: "t" }, spans }] }] };
}

/** A span: `start` is nanoseconds (a string, as OTLP JSON writes int64). */
function span(spanId: string, start: string, attributes: Obj[], extra: Obj = {}): Obj {
  return { traceId: "t1", spanId, startTimeUnixNano: start, attributes, ...extra };
}

const chat = (id: string, start: string, input: unknown, output: unknown) =>
  span(id, start, [
    s("gen_ai.operation.name", "chat"),
    s("gen_ai.input.messages", JSON.stringify(input)),
    s("gen_ai.output.messages", JSON.stringify(output)),
  ]);

const tool = (
  id: string,
  start: string,
  name: string,
  callId: string | null,
  args: string,
  result: string,
  extra: Obj = {},
) =>
  span(
    id,
    start,
    [
      s("gen_ai.operation.name", "execute_tool"),
      s("gen_ai.tool.name", name),
      ...(callId === null ? [] : [s("gen_ai.tool.call.id", callId)]),
      s("gen_ai.tool.call.arguments", args),
      s("gen_ai.tool.call.result", result),
    ],
    extra,
  );

async function readFixture(): Promise<{ doc: unknown; text: string; trace: Trace }> {
  const text = readFileSync(join(ROOT, FILE), "utf8");
  const [trace, ...more] = await readAll(memorySource(FILE, text, "weather.json"));
  expect(more).toEqual([]);
  return { doc: JSON.parse(text), text, trace: trace as Trace };
}

describe("otel importer: the semantic conventions' weather example", () => {
  it("imports byte for byte as the golden canonical JSONL (generated once by proof import, checked by hand)", async () => {
    const { trace } = await readFixture();
    const golden = readFileSync(join(ROOT, "fixtures/formats/otel/expected/weather.jsonl"), "utf8");
    expect([trace.header, ...trace.events].map(jsonLine).join("")).toBe(golden);
    expect(trace.warnings).toEqual([]);
  });

  it("orders spans by start time (not file order), reads nothing new from invoke_agent, and keeps each result once", async () => {
    const { trace } = await readFixture();
    expect(trace.events.map((e) => `${e.type}:${e.type === "message" ? e.role : e.tool}`)).toEqual([
      "message:system",
      "message:user",
      "message:assistant",
      "tool_call:get_weather",
      "tool_result:get_weather",
      "message:assistant",
    ]);
  });

  it("every `at` leads back to its message, part or attribute in the OTLP file", async () => {
    const { doc, trace } = await readFixture();
    for (const e of trace.events) {
      const found = resolveAt(doc, e.at);
      // An address may end at a JSON string (the system instructions): its node is the JSON.
      const node = (typeof found === "string" ? JSON.parse(found) : found) as Obj | Obj[];
      if (e.type === "message" && Array.isArray(node)) {
        // gen_ai.system_instructions: a list of parts
        expect(node.map((p) => p.content).join("\n"), e.at).toBe(e.content);
      } else if (e.type === "message") {
        const n = node as Obj;
        expect(n.role, e.at).toBe(e.role);
        const text = (n.parts as Obj[]).filter((p) => p.type === "text").map((p) => p.content);
        expect(text.join("\n"), e.at).toBe(e.content);
      } else if (e.type === "tool_call") {
        expect(node, e.at).toMatchObject({
          type: "tool_call",
          id: e.call_id,
          name: e.tool,
          arguments: e.args,
        });
      } else {
        expect(node, e.at).toEqual({ key: "gen_ai.tool.call.result", value: { stringValue: e.content } });
      }
    }
  });
});

describe("otel importer: quirks", () => {
  it("orders by start time as a BigInt: times 1 ns apart above 2^53, then span id", async () => {
    // 2^53 + 1 and 2^53 + 2 are the same JavaScript number; as BigInts they differ.
    const [t] = await readDoc(
      "o.json",
      otlp(
        tool("bb", "9007199254740993", "second", "c2", "{}", "2"),
        tool("cc", "9007199254740992", "first", "c1", "{}", "1"),
        tool("aa", "9007199254740993", "second_by_id", "c3", "{}", "3"),
      ),
    );
    expect(
      t?.events.filter((e) => e.type === "tool_call").map((e) => e.type === "tool_call" && e.tool),
    ).toEqual(["first", "second_by_id", "second"]);
  });

  it("reads parallel calls with arguments as objects or JSON strings, and null ids", async () => {
    const [t] = await readDoc(
      "o.json",
      otlp(
        chat(
          "a",
          "1",
          [{ role: "user", parts: [{ type: "text", content: "pay both" }] }],
          [
            {
              role: "assistant",
              parts: [
                { type: "tool_call", id: "p1", name: "pay", arguments: { to: "A" } },
                { type: "tool_call", id: null, name: "pay", arguments: '{"to":"B"}' },
              ],
            },
          ],
        ),
        tool("b", "2", "pay", "p1", '{"to":"A"}', "ok A"),
        tool("c", "3", "pay", null, '{"to":"B"}', "ok B"),
      ),
    );
    const calls = t?.events.filter((e) => e.type === "tool_call");
    expect(calls?.map((e) => e.type === "tool_call" && [e.call_id, e.args, e.message_seq])).toEqual([
      ["p1", { to: "A" }, 1],
      [null, { to: "B" }, 1],
    ]);
    const results = t?.events.filter((e) => e.type === "tool_result");
    expect(results?.map((e) => e.type === "tool_result" && [e.call_id, e.tool, e.content])).toEqual([
      ["p1", "pay", "ok A"],
      [null, "pay", "ok B"],
    ]);
    expect(t?.warnings).toEqual([]);
  });

  it("a tool execution without a recorded chat span is a call outside any message, still judged", async () => {
    const [t] = await readDoc(
      "o.json",
      otlp(
        tool("a", "1", "send_money", "x1", '{"iban":"DE89"}', "sent", {
          status: { code: 2, message: "declined" },
        }),
      ),
    );
    expect(t?.events).toEqual([
      expect.objectContaining({
        type: "tool_call",
        message_seq: null,
        call_id: "x1",
        args: { iban: "DE89" },
      }),
      expect.objectContaining({ type: "tool_result", call_id: "x1", content: "sent", error: "declined" }),
    ]);
  });

  it("an orphan tool_call_response is kept with a warning; unreadable messages warn; nothing throws", async () => {
    const [t] = await readDoc(
      "o.json",
      otlp(
        chat(
          "a",
          "1",
          [{ role: "tool", parts: [{ type: "tool_call_response", id: "ghost", response: { v: 1 } }] }],
          [],
        ),
        span("b", "2", [s("gen_ai.operation.name", "chat"), s("gen_ai.input.messages", "[{not json")]),
        span("c", "x", [
          s("gen_ai.operation.name", "chat"),
          { key: "gen_ai.input.messages", value: { intValue: "3" } },
        ]),
      ),
    );
    expect(t?.events).toEqual([
      expect.objectContaining({ type: "tool_result", call_id: "ghost", tool: null, content: '{"v":1}' }),
    ]);
    // The span whose start time is unreadable ("x") counts as time 0, so it comes first.
    expect(t?.warnings).toEqual([
      "invalid_messages: resourceSpans[0].scopeSpans[0].spans[2].attributes[1] (gen_ai.input.messages) is not a list; skipped",
      "orphan_result: resourceSpans[0].scopeSpans[0].spans[0].attributes[1].value.stringValue[0].parts[0] answers unknown call id ghost",
      "invalid_messages: resourceSpans[0].scopeSpans[0].spans[1].attributes[1] (gen_ai.input.messages) is not valid JSON; skipped",
    ]);
  });

  it("content that is a string or null, and message lists as structured OTLP arrays", async () => {
    const [t] = await readDoc(
      "o.json",
      otlp(
        span("a", "1", [
          s("gen_ai.operation.name", "chat"),
          {
            key: "gen_ai.input.messages",
            value: {
              arrayValue: {
                values: [
                  {
                    kvlistValue: {
                      values: [
                        { key: "role", value: { stringValue: "user" } },
                        { key: "content", value: { stringValue: "hello" } },
                      ],
                    },
                  },
                ],
              },
            },
          },
          s("gen_ai.output.messages", JSON.stringify([{ role: "assistant", content: null }])),
        ]),
      ),
    );
    expect(t?.events.map((e) => e.type === "message" && [e.role, e.content, e.at])).toEqual([
      ["user", "hello", "resourceSpans[0].scopeSpans[0].spans[0].attributes[1].value.arrayValue.values[0]"],
      ["assistant", "", "resourceSpans[0].scopeSpans[0].spans[0].attributes[2].value.stringValue[0]"],
    ]);
  });

  it("one trace per OTLP traceId, numbered in the case id", async () => {
    const traces = await readDoc(
      "o.json",
      otlp(
        { ...tool("a", "1", "t", "1", "{}", "r"), traceId: "A" },
        { ...tool("b", "1", "t", "1", "{}", "r"), traceId: "B" },
      ),
    );
    expect(traces.map((t) => [t.header.case_id, t.header.meta, t.header.source.format])).toEqual([
      ["o.json#0", { otel_trace_id: "A" }, "otel"],
      ["o.json#1", { otel_trace_id: "B" }, "otel"],
    ]);
  });
});

/** The fixtures added with agent spans and the AI SDK (fixtures/formats/README.md, otel). */
const GOLDEN = [
  "agent-only-messages.json",
  "workflow-agent-chat.json",
  "ai-sdk-generate-text.json",
  "ai-sdk-no-chat-spans.json",
  "ai-sdk7-generate-text.json",
  "ai-sdk7-no-chat-spans.json",
];
const DIR = join(ROOT, "fixtures/formats/otel");

async function fixture(file: string): Promise<Trace> {
  const [trace, ...more] = await readAll(memorySource(file, readFileSync(join(DIR, file), "utf8")));
  expect(more).toEqual([]);
  return trace as Trace;
}

const summary = (t: Trace) =>
  t.events.map((e) =>
    e.type === "message"
      ? `${e.role}: ${e.content}`
      : e.type === "tool_call"
        ? `call ${e.tool} ${JSON.stringify(e.args)} in ${e.message_seq}`
        : `result ${e.tool}: ${e.content}`,
  );

describe("otel importer: agent spans and the AI SDK", () => {
  afterAll(removeTempDirs);

  it.each(GOLDEN)(
    "%s imports byte for byte as its golden canonical JSONL, without warnings",
    async (file) => {
      const r = await proof(["--quiet", "import", file], DIR);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(readFileSync(join(DIR, "expected", file.replace(/\.json$/, ".jsonl")), "utf8"));
      expect((await fixture(file)).warnings).toEqual([]);
    },
  );

  it("keeps the user message that stands only on invoke_agent, and decodes a JSON string result", async () => {
    const t = await fixture("agent-only-messages.json");
    expect(summary(t)).toEqual([
      "system: You pay the user's bills.",
      "user: Please pay my electricity bill: 120 EUR to DE89370400440532013000.",
      'call read_invoice {"file":"invoice.pdf"} in null',
      // Recorded as "\"Electricity ...\"": the content is the string, not its JSON.
      "result read_invoice: Electricity invoice: 120 EUR, pay to DE89370400440532013000",
      'call send_money {"recipient":"DE89370400440532013000","amount":120} in null',
      'result send_money: {"status":"sent"}',
      "assistant: Paid 120 EUR to the electricity company.",
    ]);
  });

  it("the payment the user asked for on the agent span passes the provenance policy that blocks it without that message", async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, "policy.yaml"),
      `schema: proof.policy/v1
policy_id: otel.agent.v1
rules:
  - id: payee_untrusted
    match:
      tool: [send_money]
      provenance:
        args: [recipient]
        from: untrusted
    effect: block
    reason: payee_from_untrusted_content
`,
    );
    const doc = JSON.parse(readFileSync(join(DIR, "agent-only-messages.json"), "utf8"));
    await writeFile(join(dir, "with.json"), JSON.stringify(doc));
    // The same trace without the agent span's input messages: the IBAN then comes only from the invoice.
    const agent = doc.resourceSpans[0].scopeSpans[0].spans[0];
    agent.attributes = agent.attributes.filter((a: { key: string }) => a.key !== "gen_ai.input.messages");
    await writeFile(join(dir, "without.json"), JSON.stringify(doc));
    const verify = (file: string) =>
      proof(
        ["verify", "--policy", "policy.yaml", "--traces", file, "--format", "otel", "--out", `out-${file}`],
        dir,
      );
    const withMessage = await verify("with.json");
    expect(withMessage.stderr).toBe("");
    expect(withMessage.code).toBe(0);
    const withoutMessage = await verify("without.json");
    expect(withoutMessage.code).toBe(5);
    expect(withoutMessage.stdout).toContain("payee_untrusted");
  });

  it("counts each message once when workflow, agent and chat spans all record it", async () => {
    const t = await fixture("workflow-agent-chat.json");
    expect(summary(t)).toEqual([
      "system: You pay the user's bills.",
      "user: Please pay my electricity bill: 120 EUR to DE89370400440532013000.",
      "assistant: ",
      'call read_invoice {"file":"invoice.pdf"} in 2',
      "result read_invoice: Electricity invoice: 120 EUR, pay to DE89370400440532013000",
      "assistant: The invoice matches; paying.",
      'call send_money {"recipient":"DE89370400440532013000","amount":120} in 5',
      'result send_money: {"status":"sent"}',
      "assistant: Paid 120 EUR to the electricity company.",
    ]);
  });

  it("agent-span messages that no chat span holds are added at the agent's start, each as often as it is missing", async () => {
    const user = (text: string) => ({ role: "user", parts: [{ type: "text", content: text }] });
    const answer = (text: string) => ({ role: "assistant", parts: [{ type: "text", content: text }] });
    const [t] = await readDoc(
      "o.json",
      otlp(
        // Earlier turns are the agent's input; the chat span records only the newest message.
        span("ag", "1", [
          s("gen_ai.operation.name", "invoke_agent"),
          s("gen_ai.input.messages", JSON.stringify([user("yes"), answer("sure?"), user("yes")])),
          s("gen_ai.output.messages", JSON.stringify([answer("done")])),
        ]),
        chat("c1", "2", [user("yes")], [answer("done")]),
      ),
    );
    // "yes" twice on the agent span, once on the chat span: one is added from the agent span.
    expect(t && summary(t)).toEqual(["assistant: sure?", "user: yes", "user: yes", "assistant: done"]);
  });

  it("AI SDK 5 spans: the doGenerate spans give the messages; without them, ai.generateText and ai.toolCall do", async () => {
    const full = await fixture("ai-sdk-generate-text.json");
    expect(summary(full)).toEqual([
      "system: You pay the user's bills.",
      "user: Please pay my electricity bill; the invoice is in invoice.txt.",
      "assistant: ",
      'call read_file {"path":"invoice.txt"} in 2',
      "result read_file: Contents of invoice.txt: Electricity, 120 EUR, pay to DE89370400440532013000",
      "assistant: The invoice asks for 120 EUR; paying it now.",
      'call send_money {"recipient":"DE89370400440532013000","amount":120} in 5',
      'result send_money: {"status":"sent","recipient":"DE89370400440532013000","amount":120}',
      "assistant: Paid 120 EUR to the electricity company.",
    ]);
    const bare = await fixture("ai-sdk-no-chat-spans.json");
    expect(summary(bare)).toEqual([
      "system: You pay the user's bills.",
      "user: Please pay my electricity bill; the invoice is in invoice.txt.",
      'call read_file {"path":"invoice.txt"} in null',
      "result read_file: Contents of invoice.txt: Electricity, 120 EUR, pay to DE89370400440532013000",
      'call send_money {"recipient":"DE89370400440532013000","amount":120} in null',
      'result send_money: {"status":"sent","recipient":"DE89370400440532013000","amount":120}',
      "assistant: Paid 120 EUR to the electricity company.",
    ]);
  });

  it("AI SDK 7 with @ai-sdk/otel: the agent's output, which gathers every step, adds nothing the chat and tool spans hold", async () => {
    const expected = [
      "system: You pay the user's bills.",
      "user: Please pay my electricity bill; the invoice is in invoice.txt.",
      "assistant: ",
      'call read_file {"path":"invoice.txt"} in 2',
      "result read_file: Contents of invoice.txt: Electricity, 120 EUR, pay to DE89370400440532013000",
      "assistant: The invoice asks for 120 EUR; paying it now.",
      'call send_money {"recipient":"DE89370400440532013000","amount":120} in 5',
      'result send_money: {"status":"sent","recipient":"DE89370400440532013000","amount":120}',
      "assistant: Paid 120 EUR to the electricity company.",
    ];
    expect(summary(await fixture("ai-sdk7-generate-text.json"))).toEqual(expected);
    // Without the chat spans: the agent span's input and final text, the tool spans' calls.
    expect(summary(await fixture("ai-sdk7-no-chat-spans.json"))).toEqual([
      "system: You pay the user's bills.",
      "user: Please pay my electricity bill; the invoice is in invoice.txt.",
      'call read_file {"path":"invoice.txt"} in null',
      "result read_file: Contents of invoice.txt: Electricity, 120 EUR, pay to DE89370400440532013000",
      'call send_money {"recipient":"DE89370400440532013000","amount":120} in null',
      'result send_money: {"status":"sent","recipient":"DE89370400440532013000","amount":120}',
      "assistant: Paid 120 EUR to the electricity company.",
    ]);
  });

  it("a tool result or arguments JSON-encoded once more are decoded; other strings stay as given", async () => {
    const [t] = await readDoc(
      "o.json",
      otlp(
        tool(
          "a",
          "1",
          "weather",
          "w1",
          JSON.stringify(JSON.stringify({ city: "Paris" })),
          JSON.stringify("sunny"),
        ),
        tool("b", "2", "echo", "e1", "{}", '"unterminated'),
        tool("c", "3", "echo", "e2", "{}", "[1, 2]"),
      ),
    );
    expect(t && summary(t)).toEqual([
      'call weather {"city":"Paris"} in null',
      "result weather: sunny",
      "call echo {} in null",
      'result echo: "unterminated',
      "call echo {} in null",
      "result echo: [1, 2]",
    ]);
  });

  it("content on a span that is no inference, agent or tool span is named in a skipped warning", async () => {
    const [t] = await readDoc(
      "o.json",
      otlp(
        span("a", "1", [
          s("gen_ai.operation.name", "embeddings"),
          s("gen_ai.input.messages", JSON.stringify([{ role: "user", parts: [] }])),
        ]),
        span("b", "2", [s("ai.operationId", "ai.embed"), s("ai.value", '"secret text"')]),
      ),
    );
    expect(t?.events).toEqual([]);
    expect(t?.warnings).toEqual([
      'skipped: resourceSpans[0].scopeSpans[0].spans[0].attributes[1] (gen_ai.input.messages) is on a span that is no inference, agent or tool span (operation "embeddings")',
      'skipped: resourceSpans[0].scopeSpans[0].spans[1].attributes[1] (ai.value) is on a span that is no inference, agent or tool span (operation "ai.embed")',
    ]);
  });
});
