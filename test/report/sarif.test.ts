/**
 * `results.sarif` (docs/artifacts.md): valid against the official SARIF 2.1.0 schema (vendored in
 * test/schemas/, draft-04, hence ajv-draft-04), one result per finding, rules described.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import AjvDraft04 from "ajv-draft-04";
import type * as Sarif from "sarif";
import { describe, expect, it } from "vitest";
import {
  fileUri,
  MAX_SARIF_RESULTS,
  MAX_SARIF_RESULTS_BYTES,
  renderSarif,
  sarifLevel,
} from "../../src/report/sarif.js";
import { decision, goldenReport, goldenRules, SCENARIOS, syntheticReport } from "./helpers.js";

const schema = JSON.parse(
  readFileSync(new URL("../schemas/sarif-schema-2.1.0.json", import.meta.url), "utf8"),
) as object;
// The package is CommonJS with `exports.default = Ajv` beside `module.exports = Ajv`: `.default`
// is the class both to TypeScript (NodeNext) and at run time.
const ajv = new AjvDraft04.default({ strict: false, allErrors: true });
const validate = ajv.compile(schema);

function valid(text: string): Sarif.Log {
  const log = JSON.parse(text) as Sarif.Log;
  const ok = validate(log);
  expect(ok, JSON.stringify(validate.errors, null, 2)).toBe(true);
  return log;
}

describe("results.sarif", () => {
  it.each(SCENARIOS)("%s: is valid SARIF 2.1.0, with and without --redact", (name) => {
    for (const redact of [false, true]) {
      const log = valid(renderSarif(goldenReport(name), goldenRules(name), { version: "1.2.3", redact }));
      expect(log.version).toBe("2.1.0");
      expect(log.runs).toHaveLength(1);
    }
  });

  it("has one result per (call, rule) finding, ruleId and ruleIndex naming a described rule", () => {
    const report = goldenReport("banking");
    const rules = goldenRules("banking");
    const log = valid(renderSarif(report, rules, { version: "1.2.3" }));
    const run = log.runs[0] as Sarif.Run;
    const expected = report.traces.flatMap((t) =>
      t.decisions
        .filter((d) => d.verdict !== "allow")
        .flatMap((d) => d.rules.map((r) => `${t.case_id} ${d.at} ${r}`)),
    );
    expect(expected.length).toBeGreaterThan(3);
    const results = run.results ?? [];
    expect(
      results.map(
        (r) => `${r.properties?.case_id} ${r.locations?.[0]?.logicalLocations?.[0]?.name} ${r.ruleId}`,
      ),
    ).toEqual(expected);
    const driverRules = run.tool.driver.rules ?? [];
    expect(driverRules.map((r) => r.id)).toEqual(rules.map((r) => r.id));
    for (const r of results) {
      expect(driverRules[r.ruleIndex as number]?.id).toBe(r.ruleId);
      const meta = rules.find((m) => m.id === r.ruleId);
      expect(r.level).toBe(sarifLevel(meta?.effect ?? "block", meta?.severity ?? "high"));
      const loc = r.locations?.[0]?.physicalLocation?.artifactLocation?.uri as string;
      expect(report.traces.some((t) => fileUri(t.file) === loc)).toBe(true);
    }
    expect(new Set(results.map((r) => r.level))).toEqual(new Set(["error", "warning"]));
    for (const d of driverRules) expect(d.shortDescription?.text.length).toBeGreaterThan(0);
  });

  it("takes the level from the verdict and severity", () => {
    expect(sarifLevel("block", "low")).toBe("error");
    expect(sarifLevel("require_approval", "low")).toBe("warning");
    expect(sarifLevel("warn", "high")).toBe("warning");
    expect(sarifLevel("warn", "low")).toBe("note");
  });

  it("percent-encodes file names into relative URI references", () => {
    expect(fileUri("traces/headline_[x](y).json")).toBe("traces/headline_%5Bx%5D(y).json");
    expect(fileUri("a b/#1.json")).toBe("a%20b/%231.json");
  });

  it("shortens matched values to 64 characters with a SHA-256 prefix, or with redact shows only the prefix", () => {
    const secret = `DE89${"3".repeat(100)}`;
    const report = syntheticReport([
      { case_id: "a.json", file: "t/a.json", decisions: [decision(1, "block", "r1", secret)] },
    ]);
    const plain = renderSarif(report, [], { version: "0" });
    valid(plain);
    expect(plain).not.toContain(secret);
    // 48 characters, the cut, and the first 8 hex digits of the SHA-256 of the whole value.
    const digest = createHash("sha256").update(secret).digest("hex").slice(0, 8);
    expect(plain).toContain(`\\"${secret.slice(0, 48)}…sha256:${digest}\\"`);
    const redacted = renderSarif(report, [], { version: "0", redact: true });
    valid(redacted);
    expect(redacted).not.toContain("DE89");
    expect(redacted).toMatch(/recipient = \\"sha256:[0-9a-f]{8}…\\"/);
  });

  it("is deterministic: the same report renders to the same bytes", () => {
    const a = renderSarif(goldenReport("slack"), goldenRules("slack"), { version: "1" });
    const b = renderSarif(goldenReport("slack"), goldenRules("slack"), { version: "1" });
    expect(a).toBe(b);
  });

  it("keeps at most MAX_SARIF_RESULTS results, blocks first, and says how many were left out", () => {
    const decisions = Array.from({ length: MAX_SARIF_RESULTS + 500 }, (_, i) =>
      decision(i, i < 1000 ? "warn" : "block", i < 1000 ? "r.warn" : "r.block", `v${i}`),
    );
    const log = valid(
      renderSarif(syntheticReport([{ case_id: "a", file: "a", decisions }]), [], { version: "0" }),
    );
    const run = log.runs[0] as Sarif.Run;
    const results = run.results ?? [];
    expect(results).toHaveLength(MAX_SARIF_RESULTS);
    // Every block is kept (4,500), then the first 500 warnings; listed in report order.
    expect(results.filter((r) => r.ruleId === "r.block")).toHaveLength(MAX_SARIF_RESULTS - 500);
    expect(results.slice(0, 500).every((r) => r.ruleId === "r.warn")).toBe(true);
    expect(results[0]?.properties?.seq).toBe(0);
    expect(run.invocations?.[0]?.toolExecutionNotifications?.[0]?.message.text).toMatch(
      /^500 of 5500 results left out/,
    );
  });

  it("stays within MAX_SARIF_RESULTS_BYTES however long the trace text", () => {
    const long = '😀"<'.repeat(20_000);
    const decisions = Array.from({ length: 3000 }, (_, i) => ({
      ...decision(i, "block", "r", long, `${long}${i}`),
      at: `${long}${i}`,
    }));
    const text = renderSarif(syntheticReport([{ case_id: long, file: long, decisions }]), [], {
      version: "0",
    });
    const log = valid(text);
    const results = (log.runs[0] as Sarif.Run).results ?? [];
    expect(results.length).toBeGreaterThan(0);
    expect(results.length).toBeLessThan(3000);
    expect(Buffer.byteLength(JSON.stringify(results))).toBeLessThanOrEqual(MAX_SARIF_RESULTS_BYTES);
    // Long names are cut with a digest, so calls whose tool names share a long prefix stay apart.
    expect(new Set(results.map((r) => r.properties?.tool)).size).toBe(results.length);
  });
});
