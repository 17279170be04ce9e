/**
 * `results.sarif`: the findings as a SARIF 2.1.0 log (OASIS Static Analysis Results Interchange
 * Format, Version 2.1.0 with errata 01; schema `sarif-schema-2.1.0.json`, vendored under
 * test/schemas/ and checked by the tests), the format GitHub code scanning and other tools read.
 * Types from `@types/sarif`.
 */
import type * as Sarif from "sarif";
import { prettyJson, sha256Hex } from "../io/canonical.js";
import type { Severity, Verdict } from "../policy/ir.js";
import type { Transition } from "../regress/compare.js";
import { atLeast, VERDICT_ORDER } from "../verify/decision.js";
import { clip, escapeMarkdown, publicName, utf8Bytes, visible } from "./escape.js";
import { describeDecision, findingsOf, type RuleMeta } from "./findings.js";
import { acceptHint, type RegressGate, transitionSentence, transitionsByCase, verdictArrow } from "./gate.js";
import type { RegionLookup, RegionRequest, SourceRegion } from "./regions.js";
import { fileOfCase, type Report } from "./report.js";
import { justification, waivedIndex, waiverOf } from "./waived.js";

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
 * The documentation of a proof version, for `helpUri`: the `docs/` folder of the repository at the
 * release tag `vVERSION` (the tag the GitHub action is used at).
 */
export function docsUri(version: string): string {
  return `https://github.com/proof-dev/proof/blob/v${version}/docs/`;
}

/** Anchor of docs/policy.md that says how to fix a finding: the default `helpUri` of a rule. */
export const RULE_HELP_PAGE = "policy.md#findings-and-how-to-fix-them";

/** Anchor of docs/baselines.md that says how to fix a regression. */
export const REGRESSION_HELP_PAGE = "baselines.md#fixing-a-regression";

/**
 * The rule of the results the regression gate adds, one per failing case. Its id cannot be a
 * policy rule's (those match `^[a-z0-9_.-]+$`).
 */
export const REGRESSION_RULE_ID = "proof/regression";

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
 * The help of a rule (SARIF §3.49.13, required by GitHub code scanning, rule GH2012): what a
 * finding of it means and the two ways to fix one, as text and as markdown. Policy text (ids,
 * descriptions) is escaped for markdown like trace text.
 */
export function ruleHelp(r: RuleMeta, helpUri: string): Sarif.MultiformatMessageString {
  const what = r.description ?? r.reason;
  const text = [
    `${what}`,
    `Rule ${r.id} of policy ${r.policy_id}: effect ${r.effect}, severity ${r.severity}, reason ${r.reason}.`,
    "A finding means a recorded tool call matched this rule. If the call should not happen, fix the agent or its tools.",
    "If the policy is wrong, change the rule's match (or its effect) in the policy file and review the verdict transitions proof regress reports.",
    "If the trace is an expected case (an attack the policy must stop), record its verdict in the baseline with proof regress accept.",
    `More: ${helpUri}`,
  ].join("\n");
  const md = (t: string) => escapeMarkdown(visible(t));
  const markdown = [
    `**${md(what)}**`,
    "",
    `Rule \`${r.id}\` of policy \`${r.policy_id}\`: effect \`${r.effect}\`, severity \`${r.severity}\`, reason \`${r.reason}\`.`,
    "",
    "A finding means a recorded tool call matched this rule.",
    "",
    "- If the call should not happen, fix the agent or its tools.",
    "- If the policy is wrong, change the rule's `match` (or its `effect`) in the policy file and review the verdict transitions `proof regress run` reports.",
    "- If the trace is an expected case (an attack the policy must stop), record its verdict in the baseline with `proof regress accept`.",
    "",
    `[How to fix a finding](${helpUri})`,
  ].join("\n");
  return { text, markdown };
}

/** The descriptor of {@link REGRESSION_RULE_ID}. */
function regressionRule(helpUri: string): Sarif.ReportingDescriptor {
  return {
    id: REGRESSION_RULE_ID,
    name: "regression",
    shortDescription: { text: "A case's verdict differs from the one recorded in the baseline." },
    fullDescription: {
      text: "The regression gate fails a case whose verdict is less restrictive than its baseline (loosened), more restrictive under --fail-on-regression any (tightened), that no trace has any more (missing), or that is new with a verdict at or above --fail-on.",
    },
    help: {
      text: `If the change is intended, run proof regress accept with the same --policy, --traces and --baseline and commit the baseline file; otherwise fix the policy or the agent so the case gets its recorded verdict again. More: ${helpUri}`,
      markdown: `If the change is intended, run \`proof regress accept\` with the same \`--policy\`, \`--traces\` and \`--baseline\` and commit the baseline file; otherwise fix the policy or the agent so that the case gets its recorded verdict again.\n\n[How to fix a regression](${helpUri})`,
    },
    helpUri,
    defaultConfiguration: { level: "error" },
    properties: { tags: ["regression", "ai-agent"] },
  };
}

/**
 * A trace file path (relative, `/`-separated) as a relative URI reference (RFC 3986): each segment
 * percent-encoded, so that spaces, brackets and `#` in file names stay part of the path.
 */
export function fileUri(file: string): string {
  return file.split("/").map(encodeURIComponent).join("/");
}

/** A possible SARIF result: a failing regression, or a rule of a finding (by index). */
type Candidate = { rank: number } & ({ f: number; ruleId: string } | { t: Transition });

/**
 * Every possible result of a report, and the order in which they are kept: failing regressions
 * first (rank above every verdict), then every (finding, rule) pair that is a result, in report
 * order; `bySeverity` sorts them most restrictive first, report order among equals.
 */
function rankCandidates(report: Report, rules: readonly RuleMeta[], gate: RegressGate | undefined) {
  const files = fileOfCase(report);
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const findings = findingsOf(report);
  const candidates: Candidate[] = [];
  for (const t of gate?.result.transitions ?? [])
    if (t.fails) candidates.push({ t, rank: VERDICT_ORDER.length });
  for (let f = 0; f < findings.length; f++) {
    const d = findings.at(f).decision;
    for (const ruleId of d.rules) {
      const meta = rules[index.get(ruleId) ?? -1];
      const failed = d.errors.some((e) => e.rule === ruleId);
      if (meta?.effect === "allow" && !failed) continue;
      candidates.push({ f, ruleId, rank: VERDICT_ORDER.indexOf(d.verdict) });
    }
  }
  const bySeverity = candidates.map((c, i) => ({ c, i })).sort((a, b) => b.c.rank - a.c.rank || a.i - b.i);
  return { files, index, findings, candidates, bySeverity };
}

/**
 * The regions {@link renderSarif} may ask for, given the same report, rules and gate: those of
 * the first {@link MAX_SARIF_RESULTS} results in the order they are kept (a result's region counts
 * toward the byte budget, so it must be known before the result is). Answered by
 * src/report/regions.ts resolveRegions one file at a time instead of holding every file's text.
 */
export function sarifRegionRequests(
  report: Report,
  rules: readonly RuleMeta[],
  options: { regress?: RegressGate },
): RegionRequest[] {
  const gate = options.regress;
  const { files, findings, bySeverity } = rankCandidates(report, rules, gate);
  return bySeverity.slice(0, MAX_SARIF_RESULTS).map(({ c }): RegionRequest => {
    if ("t" in c) {
      const file = files(c.t.case_id);
      return file
        ? { kind: "file", file }
        : { kind: "path", file: gate?.baseline ?? "", path: ["cases", c.t.case_id] };
    }
    const { trace, decision: d } = findings.at(c.f);
    return { kind: "event", file: trace.file, at: d.at, seq: d.seq };
  });
}

/**
 * Renders `results.sarif`: one run whose driver lists every rule of the policies
 * (`tool.driver.rules`, sorted by id, each with `help` and `helpUri`) and one result per finding,
 * that is per rule that decided a non-`allow` call (a rule whose effect is `allow` is no finding).
 * `ruleId` is the rule id, the location the trace file, with a `region` when `regions` can map the
 * event address `at` back to the file, and `at` as a logical location.
 *
 * The levels follow the gate. Under `proof verify` a result is an `error` when its verdict is at or
 * above `fail_on`, else its rule's level ({@link sarifLevel}). Under the regression gate
 * (`regress`), each failing case adds one `error` result of rule {@link REGRESSION_RULE_ID} (whose
 * descriptor comes after the policies' rules), the findings of a failing case are at most
 * `warning`, and the findings of a case that passes are `note`s carrying `expected_verdict`: an
 * `error` is exactly a case that fails the gate.
 * Trace text is
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
  options: { version: string; redact?: boolean; regress?: RegressGate; regions?: RegionLookup },
): string {
  const redact = options.redact === true;
  const gate = options.regress;
  const docs = docsUri(options.version);
  const transitions = gate ? transitionsByCase(gate) : new Map<string, Transition>();
  const { files, index, findings, candidates, bySeverity } = rankCandidates(report, rules, gate);
  const waived = waivedIndex(report);
  const regionOf = (file: string, at: string | string[], seq = -1): SourceRegion | undefined => {
    if (!options.regions) return undefined;
    return Array.isArray(at) ? options.regions.ofPath(file, at) : options.regions.ofEvent({ file, at, seq });
  };
  const physical = (file: string, region: SourceRegion | undefined): Sarif.PhysicalLocation => ({
    artifactLocation: { uri: fileUri(publicName(file)) },
    ...(region ? { region } : {}),
  });
  const buildRegression = (t: Transition): Sarif.Result => {
    const caseId = publicName(t.case_id);
    const file = files(t.case_id);
    const region = file
      ? options.regions?.ofFile(file)
      : regionOf(gate?.baseline ?? "", ["cases", t.case_id]);
    const text = clip(
      `${caseId}: ${transitionSentence(t)} ${visible(gate?.baseline ?? "")}. ${gate ? visible(acceptHint(gate)) : ""}`.trimEnd(),
      MAX_SARIF_MESSAGE,
    );
    return {
      ruleId: REGRESSION_RULE_ID,
      ruleIndex: rules.length,
      level: "error",
      message: { text },
      locations: [{ physicalLocation: physical(file ?? gate?.baseline ?? "", region) }],
      partialFingerprints: {
        "proofRegression/v1": `${t.kind}:${verdictArrow(t).replace(" -> ", ":")}:${sha256Hex(t.case_id).slice(0, 16)}`,
      },
      properties: {
        case_id: caseId,
        transition: t.kind,
        verdict: t.after?.verdict ?? null,
        expected_verdict: t.before?.verdict ?? null,
      },
    };
  };
  const build = (c: Candidate): Sarif.Result => {
    if ("t" in c) return buildRegression(c.t);
    const { trace, decision: d } = findings.at(c.f);
    const ruleId = c.ruleId;
    const meta = rules[index.get(ruleId) ?? -1];
    const failed = d.errors.some((e) => e.rule === ruleId);
    const judged = failed ? d.verdict : (meta?.effect ?? d.verdict);
    const own = sarifLevel(judged, meta?.severity ?? "high");
    const transition = transitions.get(trace.case_id);
    // The level follows the gate: under verify a result is an error when its verdict fails the
    // gate; under regress only the regression results above are errors, and the findings of a
    // case that is as recorded are notes.
    const waiver = waiverOf(waived, d);
    const level: Sarif.Result.level = waiver
      ? own === "error"
        ? "warning"
        : own
      : gate
        ? transition?.fails
          ? own === "error"
            ? "warning"
            : own
          : "note"
        : atLeast(judged, report.fail_on)
          ? "error"
          : own;
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
          physicalLocation: physical(trace.file, regionOf(trace.file, d.at, d.seq)),
          logicalLocations: [{ name: at, fullyQualifiedName: `${caseId}#${at}`, kind: "element" }],
        },
      ],
      // Stable across runs and independent of the file name: GitHub matches alerts by it.
      partialFingerprints: { "proofFinding/v1": `${d.trace_id}:${d.seq}:${ruleId}` },
      // SARIF §3.35: a waiver is a suppression kept outside the analysed file, hence `external`.
      ...(waiver
        ? {
            suppressions: [
              {
                kind: "external" as const,
                status: "accepted" as const,
                justification: clip(visible(justification(report, waiver)), MAX_SARIF_MESSAGE),
              },
            ],
          }
        : {}),
      properties: {
        case_id: caseId,
        trace_id: d.trace_id,
        seq: d.seq,
        tool: publicName(d.tool),
        verdict: d.verdict,
        reasons: d.reasons,
        ...(gate
          ? { expected_verdict: transition ? (transition.before?.verdict ?? null) : trace.verdict }
          : {}),
      },
    };
  };
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
            rules: [
              ...rules.map(
                (r): Sarif.ReportingDescriptor => ({
                  id: r.id,
                  name: r.reason,
                  shortDescription: { text: r.description ?? `${r.reason} (${r.effect})` },
                  // GitHub code scanning requires a full description (GH2012): a rule without one gets a
                  // sentence made of its effect and reason.
                  fullDescription: {
                    text:
                      r.description ??
                      `Rule ${r.id} ${r.effect === "block" ? "blocks" : `gives ${r.effect} to`} a tool call it matches (reason ${r.reason}).`,
                  },
                  help: ruleHelp(r, `${docs}${RULE_HELP_PAGE}`),
                  helpUri: `${docs}${RULE_HELP_PAGE}`,
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
              ...(gate ? [regressionRule(`${docs}${REGRESSION_HELP_PAGE}`)] : []),
            ],
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
        columnKind: "utf16CodeUnits",
        results,
        properties: {
          policies: report.policies,
          bundle_digest: report.bundle_digest,
          fail_on: report.fail_on,
          gate: gate ? "regress" : "verify",
          passed: gate ? gate.result.passed : report.passed,
        },
      },
    ],
  };
  return prettyJson(log);
}
