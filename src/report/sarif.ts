/**
 * `results.sarif`: the findings as a SARIF 2.1.0 log (OASIS Static Analysis Results Interchange
 * Format, Version 2.1.0 with errata 01; schema `sarif-schema-2.1.0.json`, vendored under
 * test/schemas/ and checked by the tests), the format GitHub code scanning and other tools read.
 * Types from `@types/sarif`.
 */
import type * as Sarif from "sarif";
import { prettyJson } from "../io/canonical.js";
import type { Severity, Verdict } from "../policy/ir.js";
import { describeDecision, findingsOf, type RuleMeta } from "./findings.js";
import type { Report } from "./report.js";

/** The schema URI the log names (the OASIS errata 01 location of the official schema). */
export const SARIF_SCHEMA_URI =
  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/** Where `proof` is described, for `tool.driver.informationUri`. */
const INFORMATION_URI = "https://www.npmjs.com/package/proof";

/**
 * SARIF `level` of a result (SARIF §3.27.10): a block is an `error`; an approval requirement a
 * `warning`; a warn rule a `warning`, or a `note` when its severity is low. An evaluation error
 * takes the level of the verdict it led to.
 */
export function sarifLevel(effect: Verdict, severity: Severity): Sarif.Result.level {
  if (effect === "block") return "error";
  if (effect === "allow") return "none";
  return effect === "warn" && severity === "low" ? "note" : "warning";
}

/**
 * GitHub code scanning's `security-severity` (a number from 0.0 to 10.0, as a string) for each
 * severity, at the middle of the CVSS band of the same name so that GitHub shows the same word.
 */
const SECURITY_SEVERITY: Record<Severity, string> = {
  low: "2.0",
  medium: "5.5",
  high: "8.0",
  critical: "9.5",
};

/**
 * A trace file path (relative, `/`-separated) as a relative URI reference (RFC 3986): each segment
 * percent-encoded, so that spaces, brackets and `#` in file names stay part of the path.
 */
export function fileUri(file: string): string {
  return file.split("/").map(encodeURIComponent).join("/");
}

/**
 * Renders `results.sarif`: one run whose driver lists every rule of the policies
 * (`tool.driver.rules`, sorted by id) and one result per finding, that is per rule that decided a
 * non-`allow` call (a rule whose effect is `allow` is no finding). `ruleId` is the rule id, the
 * location the trace file with the event address `at` as a logical location, and matched values
 * are shortened or, with `redact`, replaced by a SHA-256 prefix (DESIGN.md §7). Pretty-printed
 * canonical JSON, byte-identical across runs.
 */
export function renderSarif(
  report: Report,
  rules: readonly RuleMeta[],
  options: { version: string; redact?: boolean },
): string {
  const redact = options.redact === true;
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const results: Sarif.Result[] = [];
  for (const { trace, decision: d } of findingsOf(report)) {
    for (const ruleId of d.rules) {
      const meta = rules[index.get(ruleId) ?? -1];
      const failed = d.errors.some((e) => e.rule === ruleId);
      if (meta?.effect === "allow" && !failed) continue;
      const level = failed
        ? sarifLevel(d.verdict, meta?.severity ?? "high")
        : sarifLevel(meta?.effect ?? d.verdict, meta?.severity ?? "high");
      const evidence = describeDecision(d, redact, ruleId);
      const text = `${trace.case_id}: ${d.tool} at ${d.at} is ${d.verdict} by rule ${ruleId}${
        evidence.length > 0 ? `: ${evidence.join("; ")}` : ""
      }.`;
      results.push({
        ruleId,
        ...(meta ? { ruleIndex: index.get(ruleId) } : {}),
        level,
        message: { text },
        locations: [
          {
            physicalLocation: { artifactLocation: { uri: fileUri(trace.file) } },
            logicalLocations: [
              {
                name: d.at,
                fullyQualifiedName: `${trace.case_id}#${d.at}`,
                kind: "element",
              },
            ],
          },
        ],
        // Stable across runs and independent of the file name: GitHub matches alerts by it.
        partialFingerprints: { "proofFinding/v1": `${d.trace_id}:${d.seq}:${ruleId}` },
        properties: {
          case_id: trace.case_id,
          trace_id: d.trace_id,
          seq: d.seq,
          tool: d.tool,
          verdict: d.verdict,
          reasons: d.reasons,
        },
      });
    }
  }
  const log: Sarif.Log = {
    $schema: SARIF_SCHEMA_URI,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "proof",
            version: options.version,
            informationUri: INFORMATION_URI,
            rules: rules.map(
              (r): Sarif.ReportingDescriptor => ({
                id: r.id,
                name: r.reason,
                shortDescription: { text: r.description ?? `${r.reason} (${r.effect})` },
                ...(r.description ? { fullDescription: { text: r.description } } : {}),
                defaultConfiguration: { level: sarifLevel(r.effect, r.severity) },
                properties: {
                  policy_id: r.policy_id,
                  effect: r.effect,
                  severity: r.severity,
                  "security-severity": SECURITY_SEVERITY[r.severity],
                  tags: ["security", "ai-agent"],
                },
              }),
            ),
          },
        },
        columnKind: "unicodeCodePoints",
        results,
        properties: {
          policies: report.policies,
          bundle_digest: report.bundle_digest,
          fail_on: report.fail_on,
          passed: report.passed,
        },
      },
    ],
  };
  return prettyJson(log);
}
