/**
 * Conformance of every enforcement point (test/conformance/entries.ts) to one contract: the attack
 * is blocked before the tool body runs, the benign session runs, every fault refuses, approval goes
 * through the one callback, and what was recorded (ledger, spans, the session as a trace) agrees
 * with what was decided live, as `proof verify` decides it.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AdapterOptions, ApprovalRequest } from "../../src/adapters/core.js";
import { verifySources } from "../../src/api/memory.js";
import { createGuard, type Guard } from "../../src/guard/guard.js";
import { jsonLine } from "../../src/io/canonical.js";
import { openLedger, readLedgerFiles } from "../../src/io/ledger-file.js";
import { loadPolicySet } from "../../src/io/policy-files.js";
import { contentDigest, type LedgerObservation, verifyLedger } from "../../src/ledger/ledger.js";
import { createDecisionExporter } from "../../src/telemetry/otel.js";
import type { Decision } from "../../src/verify/decision.js";
import { removeTempDirs, tempDir } from "../e2e/cli.js";
import { ENTRIES } from "./entries.js";
import {
  type AdapterEntry,
  ATTACK,
  ATTACKER,
  BENIGN,
  type Execution,
  FRIEND,
  LARGE,
  policySet,
  type Scenario,
  USER_NAMED,
} from "./harness.js";

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "a-file"), "not a directory\n");
});
afterAll(removeTempDirs);

let counter = 0;
/** A fresh path in the test's directory. */
function fresh(name: string): string {
  counter++;
  return join(dir, `${counter}-${name}`);
}

/** Runs a scenario through an entry with a fresh guard (unless given) and records what ran. */
async function run(
  entry: AdapterEntry,
  scenario: Scenario,
  options: AdapterOptions = {},
  guard: Guard | Promise<Guard> = createGuard(policySet(), { case_id: entry.name }),
) {
  const executed: Execution[] = [];
  const { outputs } = await entry.drive({ scenario, guard, options, executed });
  return { outputs, executed, tools: executed.map((e) => e.tool) };
}

/** Decisions as they are compared: the call, the verdict and why. */
function gist(d: Decision) {
  return { seq: d.seq, at: d.at, tool: d.tool, verdict: d.verdict, rules: d.rules, reasons: d.reasons };
}

/** The records of a ledger file, after checking its chain and head. */
async function ledgerDecisions(path: string): Promise<(Decision & { approval?: string })[]> {
  const { lines, head } = await readLedgerFiles(path);
  expect(verifyLedger(lines, head).problem).toBeNull();
  // Observation records (the results and messages the guard observed) are checked by lineage tests.
  return lines
    .map((l) => JSON.parse(l) as { decision?: Decision & { approval?: string } })
    .flatMap((r) => (r.decision === undefined ? [] : [r.decision]));
}

/** OTLP JSON span attributes as a plain object. */
function attributes(span: { attributes: { key: string; value: Record<string, unknown> }[] }) {
  const out: Record<string, unknown> = {};
  for (const { key, value } of span.attributes) {
    if ("stringValue" in value) out[key] = value.stringValue;
    else if ("intValue" in value) out[key] = Number(value.intValue);
    else if ("doubleValue" in value) out[key] = value.doubleValue;
    else if ("arrayValue" in value)
      out[key] = ((value.arrayValue as { values?: { stringValue: string }[] }).values ?? []).map(
        (v) => v.stringValue,
      );
  }
  return out;
}

/** A guard whose engine fails on every call. */
function throwingGuard(): Guard {
  return {
    check() {
      throw new Error("engine exploded");
    },
    observe() {},
    trace() {
      throw new Error("engine exploded");
    },
  };
}

describe.each(ENTRIES)("conformance: $name", (entry) => {
  it("blocks the attack: a payee read from a tool result is refused and send_money never runs", async () => {
    const r = await run(entry, ATTACK);
    expect(r.tools).toEqual(["read_mail"]);
    expect(r.outputs[0]).toContain(ATTACKER);
    expect(r.outputs[1]).toContain("payee_untrusted");
    expect(r.outputs[1]).toContain("payee_from_untrusted_content");
  });

  it("runs the benign variant: the payee the user named is paid", async () => {
    const r = await run(entry, BENIGN);
    expect(r.executed).toEqual([
      { tool: "read_mail", args: {} },
      { tool: "send_money", args: { recipient: FRIEND, amount: 120 } },
    ]);
    expect(r.outputs[1]).toBe(`sent 120 EUR to ${FRIEND}`);
  });

  it("a payee the user named is trusted where the user's words are seen, refused where they are not", async () => {
    const r = await run(entry, USER_NAMED);
    if (entry.observesUser) {
      expect(r.tools).toEqual(["read_mail", "send_money"]);
      expect(r.outputs[1]).toBe(`sent 120 EUR to ${ATTACKER}`);
    } else {
      expect(r.tools).toEqual(["read_mail"]);
      expect(r.outputs[1]).toContain("payee_untrusted");
    }
  });

  it("a guard that throws refuses the call, and every later one", async () => {
    const r = await run(entry, BENIGN, {}, throwingGuard());
    expect(r.executed).toEqual([]);
    expect(r.outputs).toHaveLength(2);
    for (const o of r.outputs) expect(o).toContain("engine exploded");
  });

  it("a policy that cannot be loaded refuses every call", async () => {
    const guard = loadPolicySet(join(dir, "missing-policy.yaml")).then((p) => createGuard(p));
    const r = await run(entry, BENIGN, {}, guard);
    expect(r.executed).toEqual([]);
    expect(r.outputs).toHaveLength(2);
    for (const o of r.outputs) expect(o).toContain("missing-policy.yaml");
  });

  it("a ledger that cannot be opened refuses every call", async () => {
    const ledger = openLedger(join(dir, "a-file", "ledger.jsonl"));
    // Handled by the entry; this keeps the rejection from being reported before it gets there.
    ledger.catch(() => {});
    const r = await run(entry, BENIGN, { ledger });
    expect(r.executed).toEqual([]);
    expect(r.outputs).toHaveLength(2);
    for (const o of r.outputs) expect(o).toMatch(/ENOTDIR|not a directory/);
  });

  it("a ledger that cannot be written refuses the call being decided", async () => {
    const ledger = await openLedger(fresh("closed.jsonl"));
    await ledger.close();
    const r = await run(entry, BENIGN, { ledger });
    if (entry.ledgerAppendFailure === "call") {
      expect(r.executed).toEqual([]);
      expect(r.outputs).toHaveLength(BENIGN.calls.length);
      for (const o of r.outputs) expect(o).toContain("append after close");
    } else {
      // The proxy forwards a call as it appends its record; the failure refuses what follows.
      expect(r.tools).toEqual(["read_mail"]);
      expect(r.outputs[1]).toContain("append after close");
    }
  });

  it("require_approval: the callback decides (true runs, false does not), the ledger records it", async () => {
    for (const answer of [true, false]) {
      const asked: ApprovalRequest[] = [];
      const path = fresh("approval.jsonl");
      const ledger = await openLedger(path);
      const r = await run(entry, LARGE, {
        ledger,
        approve: async (request) => {
          asked.push(request);
          return answer;
        },
      });
      await ledger.close();
      const [record] = await ledgerDecisions(path);
      expect(record).toMatchObject({
        tool: "send_money",
        verdict: "require_approval",
        rules: ["large_payment"],
      });
      if (entry.approval === "refuses") {
        expect(asked).toEqual([]);
        expect(r.executed).toEqual([]);
        expect(r.outputs[0]).toContain("large_payment");
        continue;
      }
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({
        tool: "send_money",
        args: { recipient: FRIEND, amount: 5000 },
        decision: {
          verdict: "require_approval",
          rules: ["large_payment"],
          reasons: ["large_payment_needs_approval"],
        },
      });
      expect(record?.approval).toBe(answer ? "approved" : "denied");
      if (answer) {
        expect(r.tools).toEqual(["send_money"]);
        expect(r.outputs[0]).toBe(`sent 5000 EUR to ${FRIEND}`);
      } else {
        expect(r.executed).toEqual([]);
        expect(r.outputs[0]).toContain("approval denied");
      }
    }
  });

  it("require_approval without a callback refuses", async () => {
    const r = await run(entry, LARGE);
    expect(r.executed).toEqual([]);
    // An enforcement point without an approval channel refuses as it does with one.
    if (entry.approval === "callback") expect(r.outputs[0]).toContain("no approval callback");
  });

  it("records a ledger record and a span per decision; proof verify on the session gives the live decisions", async () => {
    const guard = createGuard(policySet(), { case_id: entry.name });
    const ledgerPath = fresh("ledger.jsonl");
    const spansPath = fresh("spans.json");
    const ledger = await openLedger(ledgerPath);
    const exporter = await createDecisionExporter({ file: spansPath });
    const scenario: Scenario = { ...ATTACK, calls: [...BENIGN.calls, ...ATTACK.calls.slice(1)] };
    await run(entry, scenario, { ledger, exporter, spanMeta: { run_id: "run-1" } }, guard);
    await ledger.close();
    expect(await exporter.shutdown()).toEqual([]);

    const live = await ledgerDecisions(ledgerPath);
    expect(live.map((d) => [d.tool, d.verdict])).toEqual([
      ["read_mail", "allow"],
      ["send_money", "allow"],
      ["send_money", "block"],
    ]);

    const trace = guard.trace();
    // Every result the guard observed has its observation record, keyed as the trace numbers it.
    const { lines } = await readLedgerFiles(ledgerPath);
    const observations = lines
      .map((l) => JSON.parse(l) as { observation?: LedgerObservation })
      .flatMap((r) => (r.observation?.type === "tool_result" ? [r.observation] : []));
    const results = trace.events.filter((e) => e.type === "tool_result");
    expect(observations.map((o) => [o.seq, o.tool, o.content_sha256])).toEqual(
      results.map((e) => [e.seq, e.tool, contentDigest(e.type === "tool_result" ? e.content : "")]),
    );
    const sessions = new Set([...live, ...observations].map((r) => (r as { session?: string }).session));
    expect(sessions.size).toBe(1);
    expect([...sessions][0]).toEqual(expect.any(String));
    const content = [trace.header, ...trace.events].map((e) => jsonLine(e)).join("");
    const replay = await verifySources(policySet(), [{ name: "session.jsonl", content }], {
      failOn: "block",
    });
    const [judged] = replay.report.traces;
    expect(judged?.tool_calls).toBe(live.length);
    expect(judged?.verdict).toBe("block");
    // The report lists the calls some rule matched or that are not allowed.
    expect(judged?.decisions.map(gist)).toEqual(
      live.filter((d) => d.verdict !== "allow" || d.rules.length > 0).map(gist),
    );

    if (!entry.spans) return;
    const request = JSON.parse(await readFile(spansPath, "utf8"));
    const spans = request.resourceSpans.flatMap((r: { scopeSpans: { spans: unknown[] }[] }) =>
      r.scopeSpans.flatMap((s) => s.spans),
    ) as { name: string; attributes: { key: string; value: Record<string, unknown> }[] }[];
    expect(spans.map((s) => s.name)).toEqual(live.map(() => "proof.decision"));
    spans.forEach((span, i) => {
      const a = attributes(span);
      const d = live[i] as Decision;
      expect(a).toMatchObject({
        "proof.run_id": "run-1",
        "proof.verdict": d.verdict,
        "proof.rules": d.rules,
        "proof.reasons": d.reasons,
        "gen_ai.tool.name": d.tool,
        "proof.case_id": entry.name,
        "proof.seq": d.seq,
        "proof.at": d.at,
      });
      expect(typeof a["proof.latency_ms"]).toBe("number");
      // Low-risk fields only: no argument values.
      expect(a).not.toHaveProperty("proof.tool.args");
      expect(JSON.stringify(span)).not.toContain(ATTACKER);
    });
  });
});
