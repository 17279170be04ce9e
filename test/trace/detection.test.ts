/**
 * `--format auto` never guesses: every real and fixture file is accepted by exactly one format,
 * a document two formats accept is an error naming both, and `explainSource` says why.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { explainSource } from "../../src/trace/read.js";
import { corpusFiles, FORMAT_FIXTURES, memorySource, ROOT, readAll, readDoc, rejection } from "./helpers.js";

/** Every trace file of the repository's corpora, examples and fixtures (not expected outputs). */
async function allTraceFiles() {
  const roots = ["fixtures/corpus/agentdojo/runs", "fixtures/corpus/tau-bench", "examples/traces"];
  for (const g of readdirSync(join(ROOT, "fixtures/golden"))) {
    const t = join("fixtures/golden", g, "traces");
    if (statSync(join(ROOT, "fixtures/golden", g)).isDirectory()) roots.push(t);
  }
  const files = (await Promise.all(roots.map((r) => corpusFiles(join(ROOT, r))))).flat();
  for (const format of readdirSync(FORMAT_FIXTURES)) {
    const dir = join(FORMAT_FIXTURES, format);
    if (!statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir))
      if (statSync(join(dir, f)).isFile()) files.push(...(await corpusFiles(join(dir, f))));
  }
  return files;
}

describe("format detection", () => {
  it("accepts every corpus, example and fixture file by exactly one format", async () => {
    const files = await allTraceFiles();
    expect(files.length).toBeGreaterThan(71 + 1 + 8);
    const found = new Map<string, number>();
    for (const file of files) {
      const e = await explainSource(file.source);
      const ok = e.verdicts.filter((v) => v.ok).map((v) => v.format);
      expect(ok, file.path).toHaveLength(1);
      expect(e.detected, file.path).toBe(ok[0]);
      found.set(ok[0] as string, (found.get(ok[0] as string) ?? 0) + 1);
    }
    for (const f of ["agentdojo", "tau-bench", "proof", "openai-responses", "anthropic", "mcp", "openai"])
      expect(found.get(f), f).toBeGreaterThan(0);
  });

  it("refuses a document two formats accept, naming both and --format", async () => {
    // Both a Responses request (`input` items) and Anthropic messages (a tool_use block).
    const doc = {
      input: [{ type: "message", role: "user", content: "hi" }],
      messages: [{ role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] }],
    };
    const err = await rejection(readDoc("both.json", doc));
    expect(err).toMatchObject({
      code: "trace.ambiguous_format",
      category: "input",
      message: "ambiguous trace format: openai-responses, anthropic all accept it",
      location: { file: "both.json" },
    });
    expect(err.hint).toContain("--format openai-responses|anthropic");
    // Named, either reading is taken.
    const [asAnthropic] = await readDoc("both.json", doc, "anthropic");
    expect(asAnthropic?.events.map((e) => e.type)).toEqual(["message", "tool_call"]);
  });

  it("reads the AI SDK's OTLP export as otel, and refuses one that also carries chat messages", async () => {
    const doc = JSON.parse(readFileSync(join(FORMAT_FIXTURES, "otel/ai-sdk-no-chat-spans.json"), "utf8"));
    const [trace] = await readDoc("ai.json", doc);
    expect(trace?.header.source.format).toBe("otel");
    const err = await rejection(
      readDoc("both.json", { ...doc, messages: [{ role: "user", content: "hi" }] }),
    );
    expect(err).toMatchObject({
      code: "trace.ambiguous_format",
      message: "ambiguous trace format: openai, otel all accept it",
    });
  });

  it("reads plain text conversations as openai, the one format that needs no marker", async () => {
    const doc = [
      { role: "user", content: "hi" },
      { role: "assistant", content: [{ type: "text", text: "hello" }] },
    ];
    const [trace] = await readDoc("plain.json", doc);
    expect(trace?.header.source.format).toBe("openai");
    const e = await explainSource(memorySource("plain.json", JSON.stringify(doc)));
    const reasons = Object.fromEntries(e.verdicts.map((v) => [v.format, v]));
    expect(reasons.anthropic).toMatchObject({ ok: false, reason: expect.stringContaining("plain chat") });
    expect(reasons["openai-responses"]).toMatchObject({
      ok: false,
      reason: expect.stringContaining("plain chat"),
    });
  });

  it("tells Anthropic, Responses and AgentDojo messages apart from chat completions", async () => {
    const anthropic = [
      { role: "user", content: "x" },
      { role: "assistant", content: [{ type: "tool_use", id: "a", name: "f", input: {} }] },
    ];
    const responses = [{ type: "function_call", call_id: "c", name: "f", arguments: "{}" }];
    const agentdojo = { suite_name: "banking", messages: [{ role: "user", content: "x" }] };
    expect((await readDoc("a.json", anthropic))[0]?.header.source.format).toBe("anthropic");
    expect((await readDoc("r.json", responses))[0]?.header.source.format).toBe("openai-responses");
    expect((await readDoc("d.json", agentdojo))[0]?.header.source.format).toBe("agentdojo");
  });

  it("reads wrap_openai runs (OpenAI messages inside a run) as langchain, never as openai", async () => {
    const run = {
      id: "r",
      run_type: "llm",
      inputs: { messages: [{ role: "user", content: "hi" }] },
      outputs: { choices: [{ message: { role: "assistant", content: "hello" } }] },
    };
    expect((await readDoc("run.json", run))[0]?.header.source.format).toBe("langchain");
    expect((await readDoc("runs.json", [run, { ...run, id: "s" }]))[0]?.header.source.format).toBe(
      "langchain",
    );
  });

  it("refuses runs that are also JSON-RPC messages: langchain and mcp both accept them", async () => {
    const doc = [{ jsonrpc: "2.0", id: 1, method: "tools/call", run_type: "tool", inputs: {} }];
    const err = await rejection(readDoc("both.json", doc));
    expect(err).toMatchObject({
      code: "trace.ambiguous_format",
      message: expect.stringMatching(/mcp.*langchain|langchain.*mcp/),
    });
  });

  it("detects the vendors' newer shapes by exactly one format", async () => {
    // Anthropic messages whose only marker is an MCP connector block.
    const mcp = [
      { role: "user", content: "pay" },
      {
        role: "assistant",
        content: [{ type: "mcp_tool_use", id: "m1", name: "f", server_name: "s", input: {} }],
      },
    ];
    // Chat completions whose only call is a custom tool's.
    const custom = [
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "custom", custom: { name: "f", input: "x" } }],
      },
    ];
    // A Responses item list holding only a hosted call.
    const hosted = [{ type: "shell_call", call_id: "s1", action: { commands: ["ls"] } }];
    for (const [doc, format] of [
      [mcp, "anthropic"],
      [custom, "openai"],
      [hosted, "openai-responses"],
    ] as const) {
      const e = await explainSource(memorySource("d.json", JSON.stringify(doc)));
      expect(e.verdicts.filter((v) => v.ok).map((v) => v.format)).toEqual([format]);
    }
  });

  it("explains a .json file with the reason of every format", async () => {
    const doc = { system: "s", messages: [{ role: "user", content: "hi" }] };
    const e = await explainSource(memorySource("sys.json", JSON.stringify(doc)));
    expect(e.detected).toBe("anthropic");
    expect(e.basis).toBe("the whole JSON document");
    const byFormat = Object.fromEntries(e.verdicts.map((v) => [v.format, v]));
    expect(byFormat.anthropic?.reason).toBe("an object with a top-level system and 1 messages");
    expect(byFormat.openai).toEqual({
      format: "openai",
      ok: false,
      reason: 'the object has "system", a top-level system prompt (Anthropic Messages)',
    });
    expect(byFormat.proof?.ok).toBe(false);
  });

  it("explains a .jsonl file by its first non-empty line", async () => {
    const text = `\n${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`;
    const e = await explainSource(memorySource("log.jsonl", text));
    expect(e).toMatchObject({ detected: "mcp", basis: "line 2, the first of a JSON Lines file" });
    expect(e.verdicts.find((v) => v.format === "mcp")?.reason).toBe(
      'line 2 is a JSON-RPC 2.0 message ("jsonrpc": "2.0")',
    );
    const none = await explainSource(memorySource("x.json", '{"hello": 1}'));
    expect(none.detected).toBeNull();
    expect(none.verdicts.every((v) => !v.ok)).toBe(true);
  });

  it("refuses --format mcp on a JSON Lines file that is not an MCP log", async () => {
    const text = `${JSON.stringify([{ role: "user", content: "x" }])}\n`;
    const err = await rejection(readAll(memorySource("c.jsonl", text), "mcp"));
    expect(err).toMatchObject({ code: "trace.wrong_format", location: { file: "c.jsonl", line: 1 } });
  });
});
