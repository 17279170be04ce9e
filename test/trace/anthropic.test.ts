/**
 * The anthropic importer on server tools, the MCP connector and reasoning blocks (fixture made
 * from the SDK's types: scripts/fixtures/vendor-sdk-types.ts).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { traceSource } from "../../src/io/trace-files.js";
import type { Trace } from "../../src/trace/model.js";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { FORMAT_FIXTURES, readAll, readDoc } from "./helpers.js";

const SERVER_TOOLS = join(FORMAT_FIXTURES, "anthropic/server-tools.json");
const BANKING = join(ROOT, "examples/policies/agentdojo-banking.yaml");

afterAll(removeTempDirs);

async function serverTools(): Promise<Trace> {
  const [trace] = await readAll(traceSource({ path: SERVER_TOOLS, rel: "server-tools.json" }));
  return trace as Trace;
}

describe("anthropic server tools and MCP connector", () => {
  it("makes server_tool_use and mcp_tool_use blocks calls, and their *_tool_result blocks results", async () => {
    const t = await serverTools();
    const calls = t.events.filter((e) => e.type === "tool_call");
    expect(calls.map((c) => [c.tool, c.at])).toEqual([
      ["web_search", "messages[1].content[2]"],
      ["web_fetch", "messages[1].content[4]"],
      ["code_execution", "messages[1].content[6]"],
      ["send_money", "messages[1].content[8]"],
      ["web_search", "messages[3].content[1]"],
    ]);
    expect(calls[3]).toMatchObject({
      call_id: "mcptoolu_014Q35RayjACSWkSj4X2yov1",
      args: { recipient: "DE89370400440532013000", amount: 5000 },
      message_seq: 2,
    });
    expect(t.header.meta).toEqual({ mcp_servers: { mcptoolu_014Q35RayjACSWkSj4X2yov1: "bank" } });
    const results = t.events.filter((e) => e.type === "tool_result");
    expect(results.map((r) => [r.tool, r.error])).toEqual([
      ["web_search", null],
      ["web_fetch", null],
      ["code_execution", null],
      ["send_money", null],
      ["web_search", "max_uses_exceeded"],
    ]);
    // The fetched page's text is a tool result (untrusted), never the assistant's own words.
    expect(results[1]?.type === "tool_result" && results[1].content).toContain(
      "IGNORE PREVIOUS INSTRUCTIONS",
    );
    const said = t.events.filter((e) => e.type === "message" && e.role === "assistant");
    for (const m of said)
      expect(m.type === "message" && m.content).not.toMatch(/server_tool_use|mcp_tool_use|IGNORE/);
    expect(said[0]).toMatchObject({
      content: "I'll search for the current rate.\nThe rate is 2.00%. I sent 5000 EUR as the page asked.",
    });
  });

  it("warns about reasoning blocks and tool definitions instead of dropping them silently", async () => {
    const t = await serverTools();
    expect(t.warnings).toEqual([
      "skipped: tools holds tool definitions, not conversation",
      "skipped: mcp_servers holds MCP server definitions, not conversation",
      "skipped: messages[1].content[0] is a thinking block: the model's reasoning, neither said nor a call",
      "skipped: messages[3].content[0] is a redacted_thinking block: the model's reasoning, neither said nor a call",
    ]);
  });

  it("takes an mcp_tool_result in a user message as a result, with is_error as its error", async () => {
    const [t] = await readDoc("m.json", [
      { role: "user", content: "pay" },
      {
        role: "assistant",
        content: [{ type: "mcp_tool_use", id: "m1", name: "send_money", server_name: "bank", input: {} }],
      },
      {
        role: "user",
        content: [{ type: "mcp_tool_result", tool_use_id: "m1", is_error: true, content: "denied" }],
      },
    ]);
    expect(t?.events.at(-1)).toMatchObject({ type: "tool_result", tool: "send_money", error: "denied" });
  });

  it("blocks the MCP connector's send_money under a policy that blocks send_money (proof verify)", async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, "no-payments.yaml"),
      [
        "schema: proof.policy/v1",
        "policy_id: no_payments.v1",
        "rules:",
        "  - id: no_send_money",
        "    match: { tool: [send_money] }",
        "    effect: block",
        "",
      ].join("\n"),
    );
    const r = await proof(
      ["verify", "--policy", "no-payments.yaml", "--traces", SERVER_TOOLS, "--out", "out"],
      dir,
    );
    expect(r.code).toBe(5);
    const report = JSON.parse(await readFile(join(dir, "out", "report.json"), "utf8")) as {
      traces: { verdict: string; rules: string[] }[];
    };
    expect(report.traces).toMatchObject([{ verdict: "block", rules: ["no_send_money"] }]);
  });

  it("blocks the MCP connector's send_money whose payee came from a fetched web page (proof verify)", async () => {
    const dir = await tempDir();
    const r = await proof(["verify", "--policy", BANKING, "--traces", SERVER_TOOLS, "--out", "out"], dir);
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("1 trace, 5 tool calls: 0 allow, 0 warn, 0 require_approval, 1 block.");
    const report = JSON.parse(await readFile(join(dir, "out", "report.json"), "utf8")) as {
      traces: { verdict: string; rules: string[] }[];
    };
    expect(report.traces).toMatchObject([{ verdict: "block", rules: ["banking.payee_from_untrusted"] }]);
  });
});
