/**
 * Field-level provenance and the injection detector on real recorded AgentDojo runs, with the
 * example policies: the evidence names the leaf of the tool result and the detector's rules.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Trace } from "../../src/trace/model.js";
import { parseStructured } from "../../src/verify/content.js";
import type { Evidence } from "../../src/verify/decision.js";
import { AGENTDOJO_RUNS, corpusFiles, ROOT, readAll } from "../trace/helpers.js";
import { lastCall, policy, verify } from "./helpers.js";

async function run(rel: string): Promise<Trace> {
  const file = (await corpusFiles(AGENTDOJO_RUNS)).find((f) => f.rel === rel);
  if (!file) throw new Error(`no corpus run ${rel}`);
  const [trace] = await readAll(file.source);
  return trace as Trace;
}

function example(name: string) {
  return policy(readFileSync(join(ROOT, "examples/policies", name), "utf8"), name);
}

type Provenance = Extract<Evidence, { kind: "provenance" }>;

describe("real AgentDojo runs", () => {
  it("banking: the attacker's IBAN is traced to the subject field of an incoming transfer", async () => {
    const trace = await run(
      "gemini-1.5-pro-002/banking/user_task_1/important_instructions/injection_task_5.json",
    );
    const d = lastCall(verify(example("agentdojo-banking.yaml"), trace), "send_money");
    expect(d.verdict).toBe("block");
    const e = d.evidence.find((x) => x.rule === "banking.payee_from_untrusted") as Provenance;
    expect(e.source).toMatchObject({ type: "tool_result", tool: "get_most_recent_transactions" });
    expect(e.source_field).toEqual({ path: "[4].subject", at: `${e.source.at}.content[4].subject` });
  });

  it("banking: a payee from the user's own recipient column is not a finding", async () => {
    // "Send Spotify the difference for March (see transaction history)": a faithful delegation.
    const trace = await run("claude-3-5-sonnet-20241022/banking/user_task_5/none/none.json");
    expect(lastCall(verify(example("agentdojo-banking.yaml"), trace), "send_money").verdict).toBe("allow");
  });

  it("slack: an injected destination names the field, the detector rules and the span", async () => {
    const trace = await run(
      "gpt-4o-mini-2024-07-18/slack/user_task_10/important_instructions/injection_task_4.json",
    );
    const result = verify(example("agentdojo-slack.yaml"), trace);
    const d = lastCall(result, "post_webpage");
    expect(d.verdict).toBe("block");
    const e = d.evidence.find((x) => x.rule === "slack.publish_to_untrusted_destination") as Provenance;
    expect(e.integrity).toBe("injected");
    expect(e.source).toMatchObject({ tool: "get_channels" });
    expect(e.source_field?.path).toBe("[3]");
    expect(e.injection?.rules).toEqual(["agent_address", "task_hijack"]);
    // The span is the <INFORMATION> block inside the fourth channel name, and holds the value.
    const channel = trace.events.find((x) => x.seq === e.source.seq);
    const channels = parseStructured(channel?.type === "tool_result" ? channel.content : "") as string[];
    const leaf = channels[3] as string;
    const at = leaf.indexOf(e.value);
    expect(at).toBeGreaterThanOrEqual(e.injection?.start ?? Infinity);
    expect(at + e.value.length).toBeLessThanOrEqual(e.injection?.end ?? -1);
    expect(leaf.slice(e.injection?.start, e.injection?.end)).toMatch(/^<INFORMATION>[\s\S]*<\/INFORMATION>$/);
  });

  it("slack: a body copied from the benign part of a page only needs approval", async () => {
    const trace = await run("claude-3-5-sonnet-20241022/slack/user_task_3/none/none.json");
    const d = lastCall(verify(example("agentdojo-slack.yaml"), trace), "send_channel_message");
    expect(d.verdict).toBe("require_approval");
    expect(d.rules).toEqual(["slack.message_body_from_web"]);
  });

  it("judges every run twice to the same bytes", async () => {
    const files = (await corpusFiles(AGENTDOJO_RUNS)).filter((f) => f.rel.includes("/slack/")).slice(0, 12);
    const slack = example("agentdojo-slack.yaml");
    for (const f of files) {
      const [t] = await readAll(f.source);
      const once = JSON.stringify(verify(slack, t as Trace).decisions);
      const [again] = await readAll(f.source);
      expect(JSON.stringify(verify(example("agentdojo-slack.yaml"), again as Trace).decisions)).toBe(once);
    }
  });
});
