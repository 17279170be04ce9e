/**
 * `results.sarif`: the findings as a SARIF 2.1.0 log (OASIS Static Analysis Results Interchange
 * Format, Version 2.1.0 with errata 01; schema `sarif-schema-2.1.0.json`, vendored under
 * test/schemas/ and checked by the tests), the format GitHub code scanning and other tools read.
 * Types from `@types/sarif`.
 */
import type * as Sarif from "sarif";
import { prettyJson } from "../io/canonical.js";
import type { Severity, Verdict } from "../policy/ir.js";
import { VERDICT_ORDER } from "../verify/decision.js";
import { clip, publicName, utf8Bytes } from "./escape.js";
import { describeDecision, findingsOf, type RuleMeta } from "./findings.js";
import type { Report } from "./report.js";

/**
 * Most results in the run. GitHub code scanning rejects a run of more than 25,000 results and
 * keeps only the 5,000 most severe; the rest are counted in a notification.
 */
export const MAX_SARIF_RESULTS = 5000;

/**
 * Most UTF-8 bytes the results may take (each measured as compact JSON): GitHub rejects an upload
 * over 10 MB gzip-compressed, and gzip never grows text by more than a few bytes per block.
 */
export const MAX_SARIF_RESULTS_BYTES = 8 * 1024 * 1024;

/** Longest `message.text` of a result, in code points. */
export const MAX_SARIF_MESSAGE = 1024;

/** The schema URI the log names (the OASIS errata 01 location of the official schema). */
export const SARIF_SCHEMA_URI =
  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/**
 * Where proof is described, for `tool.driver.informationUri`: the registry page of its package,
 * `proof-gate` (the npm name `proof` is another project's).
 */
const INFORMATION_URI = "https://www.npmjs.com/package/proof-gate";

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
 * location the trace file with the event address `at` as a logical location. Trace text is
 * visible text (escape.ts): names cut to 200 code points, messages to {@link MAX_SARIF_MESSAGE},
 * matched values shortened or, with `redact`, replaced by a SHA-256 prefix. At most
 * {@link MAX_SARIF_RESULTS} results and {@link MAX_SARIF_RESULTS_BYTES} bytes of them are kept,
 * the most restrictive verdicts first (then report order), listed in report order; when some are
 * left out, `invocations[0].toolExecutionNotifications` says how many. Pretty-printed canonical
 * JSON, byte-identical across runs.
 */
export function renderSarif(
  report: Report,
  rules: readonly RuleMeta[],
  options: { version: string; redact?: boolean },
): string {
  const redact = options.redact === true;
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const findings = findingsOf(report);
  // Every (finding, rule) pair that is a result, in report order; built into a result only when kept.
  const candidates: { f: number; ruleId: string; rank: number }[] = [];
  findings.forEach(({ decision: d }, f) => {
    for (const ruleId of d.rules) {
      const meta = rules[index.get(ruleId) ?? -1];
      const failed = d.errors.some((e) => e.rule === ruleId);
      if (meta?.effect === "allow" && !failed) continue;
      candidates.push({ f, ruleId, rank: VERDICT_ORDER.indexOf(d.verdict) });
    }
  });
  const build = (c: { f: number; ruleId: string }): Sarif.Result => {
    const { trace, decision: d } = findings[c.f] as (typeof findings)[number];
    const ruleId = c.ruleId;
    const meta = rules[index.get(ruleId) ?? -1];
    const failed = d.errors.some((e) => e.rule === ruleId);
    const level = failed
      ? sarifLevel(d.verdict, meta?.severity ?? "high")
      : sarifLevel(meta?.effect ?? d.verdict, meta?.severity ?? "high");
    const evidence = describeDecision(d, redact, ruleId);
    const caseId = publicName(trace.case_id);
    const at = publicName(d.at);
    const text = clip(
      `${caseId}: ${publicName(d.tool)} at ${at} is ${d.verdict} by rule ${ruleId}${
        evidence.length > 0 ? `: ${evidence.join("; ")}` : ""
      }.`,
      MAX_SARIF_MESSAGE,
    );
    return {
      ruleId,
      ...(meta ? { ruleIndex: index.get(ruleId) } : {}),
      level,
      message: { text },
      locations: [
        {
          physicalLocation: { artifactLocation: { uri: fileUri(publicName(trace.file)) } },
          logicalLocations: [{ name: at, fullyQualifiedName: `${caseId}#${at}`, kind: "element" }],
        },
      ],
      // Stable across runs and independent of the file name: GitHub matches alerts by it.
      partialFingerprints: { "proofFinding/v1": `${d.trace_id}:${d.seq}:${ruleId}` },
      properties: {
        case_id: caseId,
        trace_id: d.trace_id,
        seq: d.seq,
        tool: publicName(d.tool),
        verdict: d.verdict,
        reasons: d.reasons,
      },
    };
  };
  const bySeverity = candidates.map((c, i) => ({ c, i })).sort((a, b) => b.c.rank - a.c.rank || a.i - b.i);
  const kept = new Map<number, Sarif.Result>();
  let bytes = 0;
  for (const { c, i } of bySeverity) {
    if (kept.size >= MAX_SARIF_RESULTS) break;
    const result = build(c);
    bytes += utf8Bytes(JSON.stringify(result));
    if (bytes > MAX_SARIF_RESULTS_BYTES) break;
    kept.set(i, result);
  }
  const results = [...kept.keys()].sort((a, b) => a - b).map((i) => kept.get(i) as Sarif.Result);
  const omitted = candidates.length - results.length;
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
        ...(omitted > 0
          ? {
              invocations: [
                {
                  executionSuccessful: true,
                  toolExecutionNotifications: [
                    {
                      level: "warning" as const,
                      message: {
                        text: `${omitted} of ${candidates.length} results left out (at most ${MAX_SARIF_RESULTS} results and ${MAX_SARIF_RESULTS_BYTES} bytes, most restrictive verdicts first); report.json has every finding.`,
                      },
                    },
                  ],
                },
              ],
            }
          : {}),
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
