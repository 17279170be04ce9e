/**
 * Waivers (docs/testing.md, "Waivers"): parsing with located errors, the date expiry is judged
 * on, which calls a waiver covers, and what the report and its renderers make of them.
 */
import { readFileSync } from "node:fs";
import AjvDraft04 from "ajv-draft-04";
import type * as Sarif from "sarif";
import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { renderJunit } from "../../src/report/junit.js";
import { renderSummary } from "../../src/report/markdown.js";
import type { Report } from "../../src/report/report.js";
import { renderSarif } from "../../src/report/sarif.js";
import { renderTable } from "../../src/report/terminal.js";
import type { Decision, TraceResult } from "../../src/verify/decision.js";
import {
  argsFingerprint,
  parseWaivers,
  resolveToday,
  WaiverMatcher,
  type WaiverSet,
} from "../../src/waivers/waivers.js";
import { decision, syntheticReport } from "../report/helpers.js";

const sarifSchema = JSON.parse(
  readFileSync(new URL("../schemas/sarif-schema-2.1.0.json", import.meta.url), "utf8"),
) as object;
const validateSarif = new AjvDraft04.default({ strict: false, allErrors: true }).compile(sarifSchema);

const EFFECTS = new Map([
  ["pay.untrusted", "block"],
  ["pay.large", "require_approval"],
  ["audit.ok", "allow"],
] as const);

function waivers(yaml: string): WaiverSet {
  return parseWaivers(`schema: proof.waivers/v1\nwaivers:\n${yaml}`, "waivers.yaml");
}

const W1 = `  - id: SEC-1
    rule: pay.untrusted
    case: "bank/*"
    reason: red-team case kept on purpose
    owner: alice
    expires: 2026-12-31
`;

function thrown(f: () => unknown): ProofError {
  try {
    f();
  } catch (err) {
    if (err instanceof ProofError) return err;
    throw err;
  }
  throw new Error("did not throw");
}

/** A decision of case `caseId` on call `seq`. */
function call(
  caseId: string,
  seq: number,
  verdict: Decision["verdict"],
  rules: string[],
  tool = "send_money",
): Decision {
  const d = decision(seq, verdict, rules[0] ?? "", "x", tool);
  return { ...d, case_id: caseId, rules, evidence: [] };
}

/** Judges every trace of `report` with `set` on `today` and returns the finished report. */
function applied(
  report: Report,
  set: WaiverSet,
  today = "2026-06-01",
  args: unknown = { amount: 1 },
): Report {
  const m = new WaiverMatcher(set, today, EFFECTS);
  for (const t of report.traces) {
    const result: TraceResult = { ...t, decisions: t.decisions };
    m.judge(result, () => args);
  }
  return m.finish(report);
}

describe("parseWaivers", () => {
  it("loads a valid file and digests its text", () => {
    const set = waivers(W1);
    expect(set.waivers.map((w) => w.id)).toEqual(["SEC-1"]);
    expect(set.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("refuses an unknown key with its line and column (exit 6)", () => {
    const err = thrown(() => waivers(`${W1}    ownr: bob\n`));
    expect(err.exitCode).toBe(6);
    expect(err.code).toMatch(/^waivers\./);
    expect(err.location).toMatchObject({ file: "waivers.yaml", line: 9 });
  });

  it("refuses a duplicate id, at the second one", () => {
    const err = thrown(() => waivers(W1 + W1));
    expect(err.code).toBe("waivers.duplicate_id");
    expect(err.location).toMatchObject({ line: 9 });
  });

  it("refuses a date that is not on the calendar", () => {
    const err = thrown(() => waivers(W1.replace("2026-12-31", "2026-02-30")));
    expect(err.code).toBe("waivers.invalid_date");
    expect(err.location).toMatchObject({ line: 8 });
  });

  it("refuses an unclosed class in the case glob", () => {
    expect(thrown(() => waivers(W1.replace('"bank/*"', '"bank/[a"'))).code).toBe("waivers.invalid_glob");
  });

  it("refuses a waiver for a rule no policy has (a typo would waive nothing)", () => {
    const err = thrown(
      () => new WaiverMatcher(waivers(W1.replace("pay.untrusted", "pay.untrustd")), "2026-01-01", EFFECTS),
    );
    expect(err.code).toBe("waivers.unknown_rule");
    expect(err.location).toMatchObject({ line: 3 });
  });
});

describe("resolveToday", () => {
  const now = new Date("2030-05-06T23:59:59Z");
  it("prefers --today, then SOURCE_DATE_EPOCH, then the UTC date", () => {
    expect(resolveToday("2026-01-02", "0", now)).toBe("2026-01-02");
    expect(resolveToday(undefined, "1800000000", now)).toBe("2027-01-15");
    expect(resolveToday(undefined, undefined, now)).toBe("2030-05-06");
    expect(resolveToday(undefined, "", now)).toBe("2030-05-06");
  });
  it("refuses a bad --today or SOURCE_DATE_EPOCH", () => {
    expect(thrown(() => resolveToday("2026-13-01", undefined, now)).code).toBe("usage.today");
    expect(thrown(() => resolveToday(undefined, "-5", now)).code).toBe("usage.source_date_epoch");
  });
});

describe("argsFingerprint", () => {
  it("ignores key order and is 16 hex digits of SHA-256", () => {
    expect(argsFingerprint({ a: 1, b: [2, "x"] })).toBe(argsFingerprint({ b: [2, "x"], a: 1 }));
    expect(argsFingerprint({ a: 1 })).not.toBe(argsFingerprint({ a: 2 }));
    expect(argsFingerprint({ a: 1 })).toMatch(/^sha256:[0-9a-f]{16}$/);
  });
});

describe("WaiverMatcher", () => {
  const report = () =>
    syntheticReport([
      {
        case_id: "bank/a.json",
        file: "t/bank/a.json",
        decisions: [call("bank/a.json", 1, "block", ["pay.untrusted"])],
      },
      {
        case_id: "slack/b.json",
        file: "t/slack/b.json",
        decisions: [call("slack/b.json", 2, "block", ["pay.untrusted"])],
      },
    ]);

  it("waives the calls of matching cases only: the gate fails on the other case alone", () => {
    const r = applied(report(), waivers(W1));
    expect(r.waivers?.waived).toEqual([
      { case_id: "bank/a.json", seq: 1, tool: "send_money", rules: ["pay.untrusted"], waivers: ["SEC-1"] },
    ]);
    expect(r.summary.failed).toBe(1);
    expect(r.passed).toBe(false);
    expect(r.waivers?.stale).toEqual([]);
    expect(r.waivers?.applied.map((a) => a.owner)).toEqual(["alice"]);
  });

  it("passes the gate when every failing call is waived", () => {
    const r = applied(report(), waivers(W1.replace('"bank/*"', '"*"')));
    expect(r.summary.failed).toBe(0);
    expect(r.passed).toBe(true);
  });

  it("does not hide another rule's finding on the same call", () => {
    const r = applied(
      syntheticReport([
        {
          case_id: "bank/a.json",
          file: "a",
          decisions: [call("bank/a.json", 1, "block", ["pay.large", "pay.untrusted", "audit.ok"])],
        },
      ]),
      waivers(W1),
    );
    expect(r.waivers?.waived).toEqual([]);
    expect(r.passed).toBe(false);
    // The waiver matched a finding, so it is not stale.
    expect(r.waivers?.stale).toEqual([]);
  });

  it("narrows to a tool and an argument fingerprint", () => {
    const fp = argsFingerprint({ amount: 1 });
    const narrow = (tool: string, args: string) =>
      waivers(`${W1}    call: { tool: ${tool}, args: "${args}" }\n`);
    expect(applied(report(), narrow("send_money", fp)).waivers?.waived).toHaveLength(1);
    expect(applied(report(), narrow("send_*", argsFingerprint({ amount: 2 }))).waivers?.waived).toHaveLength(
      0,
    );
    expect(applied(report(), narrow("update_password", fp)).waivers?.stale).toEqual(["SEC-1"]);
  });

  it("applies a waiver through its expires day, and fails the gate the day after with its id and date", () => {
    expect(applied(report(), waivers(W1.replace('"bank/*"', '"*"')), "2026-12-31").passed).toBe(true);
    const r = applied(report(), waivers(W1.replace('"bank/*"', '"*"')), "2027-01-01");
    expect(r.waivers?.waived).toEqual([]);
    expect(r.waivers?.expired).toEqual([{ id: "SEC-1", rule: "pay.untrusted", expires: "2026-12-31" }]);
    expect(r.passed).toBe(false);
    expect(renderTable(r, false)).toContain("waiver SEC-1 (rule pay.untrusted) expired on 2026-12-31");
  });

  it("fails the gate on an expired waiver even when no finding fails", () => {
    const clean = syntheticReport([{ case_id: "ok.json", file: "ok.json", decisions: [] }]);
    const r = applied(clean, waivers(W1), "2027-01-01");
    expect(r.summary.failed).toBe(0);
    expect(r.passed).toBe(false);
  });

  it("reports a waiver that matches nothing as stale, without failing", () => {
    const clean = syntheticReport([{ case_id: "bank/ok.json", file: "ok.json", decisions: [] }]);
    const r = applied(clean, waivers(W1));
    expect(r.waivers?.stale).toEqual(["SEC-1"]);
    expect(r.passed).toBe(true);
    expect(renderSummary(r)).toContain("Stale (match no finding; remove): `SEC-1`");
  });
});

describe("waived findings in the artifacts", () => {
  const r = applied(
    syntheticReport([
      {
        case_id: "bank/a.json",
        file: "t/bank/a.json",
        decisions: [call("bank/a.json", 1, "block", ["pay.untrusted"])],
      },
    ]),
    waivers(W1),
  );
  const rules = [...EFFECTS].map(([id, effect]) => ({
    id,
    policy_id: "test.v1",
    description: null,
    effect,
    severity: "high" as const,
    reason: "r",
  }));

  it("SARIF: an external suppression with the justification, no error, valid 2.1.0", () => {
    const log = JSON.parse(renderSarif(r, rules, { version: "1.2.3" })) as Sarif.Log;
    expect(validateSarif(log), JSON.stringify(validateSarif.errors)).toBe(true);
    const result = log.runs[0]?.results?.[0];
    expect(result?.suppressions).toEqual([
      {
        kind: "external",
        status: "accepted",
        justification: "SEC-1 (owner alice, expires 2026-12-31): red-team case kept on purpose",
      },
    ]);
    expect(result?.level).toBe("warning");
    expect(log.runs[0]?.properties?.passed).toBe(true);
  });

  it("JUnit: a skipped test case naming the waiver, no failure", () => {
    const xml = renderJunit(r, ["t"], new Map([["bank/a.json", 0]]));
    expect(xml).toContain('<skipped message="waived by SEC-1">');
    expect(xml).toContain('failures="0" errors="0" skipped="1"');
    expect(xml).not.toContain("<failure");
  });

  it("terminal and summary.md: shown as waived, gate passed", () => {
    expect(renderTable(r, false)).toContain("waived by SEC-1");
    expect(renderTable(r, false)).toContain("Gate passed.");
    const md = renderSummary(r);
    expect(md).toContain("## proof verify: passed");
    expect(md).toContain("block (waived by SEC\\-1)");
  });
});
