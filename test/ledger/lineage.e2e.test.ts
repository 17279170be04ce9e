/**
 * `proof ledger lineage` on a recorded AgentDojo banking attack: the run is replayed through the
 * stdio proxy's core (wired as `proof mcp proxy --ledger` wires it) and through the adapters'
 * enforcement path (`runGuarded`), each writing a ledger, and the built CLI traces the refused
 * `send_money` to the transaction whose `subject` carried the attacker's IBAN, with the hashes of
 * the records that prove it. A changed observation record breaks the chain (exit 2).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PromptMessage, runGuarded } from "../../src/adapters/core.js";
import { createGuard } from "../../src/guard/guard.js";
import { openLedger } from "../../src/io/ledger-file.js";
import { loadPolicySet } from "../../src/io/policy-files.js";
import { contentDigest } from "../../src/ledger/ledger.js";
import type { Lineage } from "../../src/ledger/lineage.js";
import { LedgerSession, observingGuard, policyFacts } from "../../src/ledger/session.js";
import { McpProxy, PROXY_CASE_ID } from "../../src/mcp/proxy.js";
import type { Trace } from "../../src/trace/model.js";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";
import { AGENTDOJO_RUNS, corpusFiles, ROOT, readAll } from "../trace/helpers.js";

const RUN = "gemini-1.5-pro-002/banking/user_task_1/important_instructions/injection_task_5.json";

const POLICY = join(ROOT, "examples/policies/agentdojo-banking.yaml");

let dir: string;
let ledgerPath: string;
let trace: Trace;

function resultOf(callId: string | null): string {
  const r = trace.events.find((e) => e.type === "tool_result" && e.call_id === callId);
  return r?.type === "tool_result" ? r.content : "";
}

/**
 * Replays the run's calls through the proxy core, wired as the command wires it: observations
 * and decisions to the ledger, an allowed call forwarded once its record is kept, and the server's
 * answer the recorded result.
 */
async function replayProxy(path: string): Promise<void> {
  const policies = await loadPolicySet(POLICY);
  const ledger = await openLedger(path);
  const session = new LedgerSession(undefined, policyFacts(policies));
  const guard = observingGuard(createGuard(policies, { case_id: PROXY_CASE_ID }), session, (o) => {
    void ledger.observe(o);
  });
  const forwarded: string[] = [];
  let kept: Promise<void> | undefined;
  const proxy = new McpProxy(guard, {
    toClient: () => {},
    toServer: (line) => forwarded.push(line),
    decided: (decision, _forwarded, call) => {
      kept = ledger.append(session.decision(decision, call));
      return kept;
    },
    warn: () => {},
  });
  let id = 0;
  for (const e of trace.events) {
    if (e.type !== "tool_call") continue;
    id++;
    const before = forwarded.length;
    const params = { name: e.tool, arguments: e.args };
    proxy.fromClient(JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params }));
    await kept;
    if (forwarded.length === before) continue;
    const result = { content: [{ type: "text", text: resultOf(e.call_id) }] };
    proxy.fromServer(JSON.stringify({ jsonrpc: "2.0", id, result }));
  }
  await ledger.close();
}

/** Replays the run's calls through runGuarded; each tool body answers with the recorded result. */
async function replayAdapters(path: string): Promise<void> {
  const policies = await loadPolicySet(POLICY);
  const guard = createGuard(policies, { case_id: "agentdojo" });
  const ledger = await openLedger(path);
  const prompt: PromptMessage[] = [];
  for (const e of trace.events) {
    if (e.type === "message" && (e.role === "system" || e.role === "user"))
      prompt.push({ role: e.role, content: e.content, key: e });
    if (e.type !== "tool_call") continue;
    await runGuarded(
      guard,
      { tool: e.tool, args: e.args, call_id: e.call_id, prompt },
      { ledger, onWarning: () => {} },
      async () => resultOf(e.call_id),
    );
  }
  await ledger.close();
}

async function records(file = ledgerPath): Promise<Record<string, unknown>[]> {
  return (await readFile(file, "utf8"))
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
}

beforeAll(async () => {
  dir = await tempDir();
  const file = (await corpusFiles(AGENTDOJO_RUNS)).find((f) => f.rel === RUN);
  if (!file) throw new Error(`no corpus run ${RUN}`);
  [trace] = (await readAll(file.source)) as [Trace];
  ledgerPath = join(dir, "ledger.jsonl");
  await replayProxy(ledgerPath);
  await replayAdapters(join(dir, "adapters.jsonl"));
});
afterAll(removeTempDirs);

describe("proof ledger lineage on an AgentDojo banking attack", () => {
  it("names the tool result and the field the payee came from, with the proving records", async () => {
    const all = await records();
    const blocked = all.find(
      (r) =>
        (r.decision as { tool?: string; verdict?: string } | undefined)?.tool === "send_money" &&
        (r.decision as { verdict?: string }).verdict === "block",
    );
    expect(blocked).toBeDefined();
    const seq = blocked?.seq as number;

    const r = await proof(["ledger", "lineage", "ledger.jsonl", "--seq", String(seq), "--json"], dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lineage = JSON.parse(r.stdout) as Lineage;
    expect(lineage.decision).toMatchObject({
      record: { seq, hash: blocked?.hash },
      tool: "send_money",
      verdict: "block",
      rules: expect.arrayContaining([{ id: "banking.payee_from_untrusted", effect: "block" }]),
    });
    expect(lineage.decision.call?.arg_names).toContain("recipient");
    const { irs } = await loadPolicySet(POLICY);
    expect(lineage.decision.policies).toEqual(
      irs.map((ir) => ({ id: ir.policy_id, digest: ir.policy_digest })),
    );
    const step = lineage.steps.find(
      (s) => s.rule === "banking.payee_from_untrusted" && s.evidence.kind === "provenance",
    );
    expect(step?.evidence).toMatchObject({
      arg: "recipient",
      source: { type: "tool_result", tool: "get_most_recent_transactions" },
      source_field: { path: "[4].subject" },
    });
    const proofOf = step?.events[0]?.proof;
    expect(proofOf?.status).toBe("recorded");
    if (proofOf?.status !== "recorded") return;
    // The cited record is the observation record of that result, in this very file.
    const cited = all[proofOf.record.seq] as { hash: string; observation: Record<string, unknown> };
    expect(cited.hash).toBe(proofOf.record.hash);
    expect(proofOf.record.seq).toBeLessThan(seq);
    const original = trace.events.find(
      (e) => e.type === "tool_result" && e.tool === "get_most_recent_transactions",
    );
    expect(cited.observation).toMatchObject({
      type: "tool_result",
      tool: "get_most_recent_transactions",
      session: lineage.decision.session,
      content_sha256: contentDigest(original?.type === "tool_result" ? original.content : "?"),
    });

    // The text form says the same, and the same bytes each time.
    const text = await proof(["ledger", "lineage", "ledger.jsonl", "--seq", String(seq)], dir);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("field [4].subject");
    expect(text.stdout).toContain(`proved by record ${proofOf.record.seq} ${proofOf.record.hash}`);
    expect(text.stdout).toContain(`decision: record ${seq} ${blocked?.hash}`);
    expect((await proof(["ledger", "lineage", "ledger.jsonl", "--seq", String(seq)], dir)).stdout).toBe(
      text.stdout,
    );

    // By call id: the same decision.
    const callId = (blocked as { decision: { call: { call_id: string } } }).decision.call.call_id;
    const byId = await proof(["ledger", "lineage", "ledger.jsonl", "--call-id", callId, "--json"], dir);
    expect(byId.code).toBe(0);
    expect(JSON.parse(byId.stdout).decision.record.seq).toBe(seq);
  });

  it("the adapters' ledger traces the same source (their records name no policies: they get a guard)", async () => {
    const all = await records(join(dir, "adapters.jsonl"));
    const seq = all.findIndex(
      (r) => (r.decision as { tool?: string; verdict?: string } | undefined)?.verdict === "block",
    );
    const r = await proof(["ledger", "lineage", "adapters.jsonl", "--seq", String(seq), "--json"], dir);
    expect(r.code).toBe(0);
    const lineage = JSON.parse(r.stdout) as Lineage;
    expect(lineage.decision).toMatchObject({ tool: "send_money", policies: null });
    expect(lineage.decision.rules).toContainEqual({ id: "banking.payee_from_untrusted", effect: null });
    const step = lineage.steps.find((s) => s.rule === "banking.payee_from_untrusted");
    expect(step?.evidence).toMatchObject({ source_field: { path: "[4].subject" } });
    const proofOf = step?.events[0]?.proof;
    expect(proofOf).toMatchObject({
      status: "recorded",
      observation: { type: "tool_result", tool: "get_most_recent_transactions" },
    });
    expect(all[proofOf?.status === "recorded" ? proofOf.record.seq : -1]?.hash).toBe(
      proofOf?.status === "recorded" ? proofOf.record.hash : "none",
    );
  });

  it("exits 2 when the observation record was changed, naming its line", async () => {
    const all = await records();
    const seq = all.findIndex(
      (r) => (r.observation as { tool?: string } | undefined)?.tool === "get_most_recent_transactions",
    );
    const decisionSeq = all.findIndex(
      (r) => (r.decision as { verdict?: string } | undefined)?.verdict === "block",
    );
    const lines = (await readFile(ledgerPath, "utf8")).split("\n");
    const changed = JSON.parse(lines[seq] as string);
    changed.observation.content_sha256 = contentDigest("nothing suspicious here");
    lines[seq] = JSON.stringify(changed);
    await writeFile(join(dir, "tampered.jsonl"), lines.join("\n"));
    const r = await proof(["ledger", "lineage", "tampered.jsonl", "--seq", String(decisionSeq)], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`tampered.jsonl:${seq + 1}`);
    expect(r.stderr).toContain("hash does not match");
  });

  it("refuses a target that is no decision (exit 6), and a missing or doubled target option", async () => {
    const all = await records();
    const obs = all.findIndex((r) => "observation" in r);
    const r = await proof(["ledger", "lineage", "ledger.jsonl", "--seq", String(obs)], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`no decision record with seq ${obs}`);
    expect((await proof(["ledger", "lineage", "ledger.jsonl"], dir)).code).toBe(6);
    expect(
      (await proof(["ledger", "lineage", "ledger.jsonl", "--seq", "1", "--call-id", "x"], dir)).code,
    ).toBe(6);
  });
});
