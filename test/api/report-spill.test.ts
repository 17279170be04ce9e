/**
 * Report entries spilled to a scratch file (src/io/trace-spill.ts, `reportMemory` of runVerify):
 * a run that spills from its first trace writes the same bytes as one that holds every entry in
 * memory, and gives callers the same report and cases.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runVerify, type VerifyInput } from "../../src/api/verify.js";
import { prettyJsonAt } from "../../src/io/canonical.js";
import { ENTRY_INDENT, SpilledTraceStore } from "../../src/io/trace-spill.js";
import { findingsOf } from "../../src/report/findings.js";
import { entryCount, storedTraces, type TraceEntry } from "../../src/report/report.js";
import { ROOT } from "../e2e/cli.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "proof-spill-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every file of an out dir, name -> bytes. */
async function files(out: string): Promise<Record<string, string>> {
  const all: Record<string, string> = {};
  for (const name of (await readdir(out)).sort()) all[name] = await readFile(join(out, name), "latin1");
  return all;
}

const WAIVERS = `schema: proof.waivers/v1
waivers:
  - id: SEC-101
    rule: banking.password_from_untrusted
    case: "*injection_task_7*"
    call: { tool: update_password }
    reason: red-team case
    owner: alice
    expires: 2026-12-31
`;

describe("a verify run whose report entries are spilled", () => {
  const runs: [string, Partial<VerifyInput>][] = [
    // Two roots: JUnit has one suite per root, read again for each.
    [
      "two roots",
      {
        policy: join(ROOT, "examples/policies/agentdojo-banking.yaml"),
        traces: [
          join(ROOT, "fixtures/corpus/agentdojo/runs"),
          join(ROOT, "fixtures/golden/banking/traces/claude-3-5-sonnet-20241022"),
        ],
      },
    ],
    ["waivers", { policy: join(ROOT, "examples/policies/agentdojo-banking.yaml") }],
    [
      "approval fails",
      { policy: join(ROOT, "examples/policies/agentdojo-slack.yaml"), failOn: "require_approval" },
    ],
  ];

  for (const [name, over] of runs) {
    it(`writes the same bytes as one held in memory (${name})`, async () => {
      const waivers = join(dir, "waivers.yaml");
      await writeFile(waivers, WAIVERS);
      const base: VerifyInput = {
        policy: "",
        traces: [join(ROOT, "fixtures/corpus/agentdojo/runs")],
        failOn: "block",
        format: "auto",
        out: "",
        today: "2026-06-01",
        ...(name === "waivers" ? { waivers } : {}),
        ...over,
      };
      const held = await runVerify({ ...base, out: join(dir, `${name}-held`) });
      const spilled = await runVerify({ ...base, out: join(dir, `${name}-spilled`), reportMemory: 0 });
      expect(spilled.code).toBe(held.code);
      const a = await files(join(dir, `${name}-held`));
      const b = await files(join(dir, `${name}-spilled`));
      // The scratch file is never listed: the out dirs hold the same names.
      expect(Object.keys(b)).toEqual(Object.keys(a));
      for (const file of Object.keys(a)) expect(b[file], file).toBe(a[file]);
      expect(findingsOf(held.report).length).toBeGreaterThan(0);
      expect(storedTraces(held.report)).toBeUndefined();
      expect(storedTraces(spilled.report)).toBeDefined();
      if (name === "waivers") expect(held.report.waivers?.waived.length).toBeGreaterThan(0);
      // Callers get the same report (its entries read back when asked for) and cases.
      expect(entryCount(spilled.report)).toBe(held.report.traces.length);
      expect(JSON.parse(JSON.stringify(spilled.report))).toEqual(JSON.parse(JSON.stringify(held.report)));
      expect(spilled.cases).toEqual(held.cases);
    });
  }
});

describe("SpilledTraceStore", () => {
  const entry = (caseId: string, verdicts: string[]): TraceEntry =>
    ({
      case_id: caseId,
      trace_id: `sha256:${caseId}`,
      file: `runs/${caseId}.json`,
      format: "proof",
      verdict: verdicts.includes("block") ? "block" : "allow",
      rules: [],
      tool_calls: verdicts.length,
      decisions: verdicts.map((verdict, seq) => ({
        case_id: caseId,
        seq,
        verdict,
        rules: [],
        evidence: [],
        errors: [],
      })),
    }) as unknown as TraceEntry;

  it("reads entries back in case id order, with their findings, text and files", () => {
    const store = SpilledTraceStore.open(dir);
    expect(store).toBeDefined();
    if (!store) return;
    // More than one read window of entries, added out of order.
    const ids = Array.from({ length: 3000 }, (_, i) => `case-${String((i * 7919) % 3000).padStart(4, "0")}`);
    const added = ids.map((id, i) => entry(id, i % 3 === 0 ? ["allow", "block", "warn"] : ["allow"]));
    for (const e of added) store.add(e);
    expect([...store.inOrder()]).toEqual(added);
    expect(store.fileAt(5)).toBe(added[5]?.file);
    const sorted = store.sorted();
    const expected = [...added].sort((a, b) => (a.case_id < b.case_id ? -1 : 1));
    expect(sorted.length).toBe(3000);
    expect([...sorted.entries()]).toEqual(expected);
    expect([...sorted.rendered(ENTRY_INDENT)]).toEqual(expected.map((e) => prettyJsonAt(e, ENTRY_INDENT)));
    expect([...sorted.rendered("  ")]).toEqual(expected.map((e) => prettyJsonAt(e, "  ")));
    const findings = expected.flatMap((trace) =>
      trace.decisions.filter((d) => d.verdict !== "allow").map((decision) => ({ trace, decision })),
    );
    expect(sorted.findingVerdicts()).toEqual(findings.map((f) => f.decision.verdict));
    expect(sorted.verdicts()).toEqual(expected.map((e) => e.verdict));
    for (const k of [0, 1, 17, findings.length - 1]) expect(sorted.finding(k)).toEqual(findings[k]);
    expect(sorted.find("case-0042")).toEqual(expected[42]);
    expect(sorted.find("case-9999")).toBeUndefined();
  });

  it("leaves no file in its directory", async () => {
    const own = await mkdtemp(join(dir, "scratch-"));
    const store = SpilledTraceStore.open(own);
    store?.add(entry("a", ["block"]));
    expect(await readdir(own)).toEqual([]);
    expect(store && [...store.sorted().entries()].map((e) => e.case_id)).toEqual(["a"]);
  });
});
