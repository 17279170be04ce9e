/**
 * `proof verify` as a library function over files: reads policies, traces, context, plan and
 * waivers, judges every trace (src/api/pipeline.ts) and writes the out dir as a whole. The
 * commands `verify`, `run`, `regress` and `adapt` are thin shells over {@link runVerify}.
 */
import { randomUUID } from "node:crypto";
import { hashDirectory, readKeyFile, readSourcesWithin } from "../io/artifacts.js";
import { jsonLine, prettyJson } from "../io/canonical.js";
import { fileLimit, readTextFile, toPosix } from "../io/files.js";
import { StagedDir } from "../io/out-dir.js";
import { loadContext, loadPolicySet } from "../io/policy-files.js";
import { listGateTraceFiles, traceSource } from "../io/trace-files.js";
import { openLineWriter } from "../io/write.js";
import { loadPlan } from "../plan/load-plan.js";
import type { Plan } from "../plan/plan.js";
import type { Verdict } from "../policy/ir.js";
import type { PolicySet } from "../policy/set.js";
import { findingsBySeverity, ruleMetaOf } from "../report/findings.js";
import type { RegressGate } from "../report/gate.js";
import { MANIFEST_FILE, parsePrivateKey, renderManifest } from "../report/manifest.js";
import { renderSummary } from "../report/markdown.js";
import type { Report } from "../report/report.js";
import { createDecisionExporter, type ExporterOptions } from "../telemetry/otel.js";
import type { FormatName } from "../trace/model.js";
import { readTraces } from "../trace/read.js";
import { VERSION } from "../version.js";
import { parseWaivers, resolveToday, staleLines, WaiverMatcher } from "../waivers/waivers.js";
import { type CaseResult, Judgement } from "./pipeline.js";

/** Characters of decision lines gathered before one write to `decisions.jsonl`. */
const WRITE_CHUNK = 1 << 16;

/** Exit code of a failed gate (docs/exit-codes.md). */
export const EXIT_GATE_FAILED = 5;

/** A run's observer of progress: one call per judged trace, one when done (src/cli/progress.ts). */
export interface VerifyProgress {
  trace(decisions: number): void;
  done(): void;
}

/** What `verify` needs, resolved from flags. */
export interface VerifyInput {
  /** `--policy` as given, or policies already loaded (by `adapt`). */
  policy: string | PolicySet;
  traces: string[];
  context?: string;
  /** A plan file (`--plan`), or a plan just made: only its rules are evaluated, in its order. */
  plan?: string | Plan;
  failOn: Verdict;
  format: FormatName | "auto";
  out: string;
  /** Other files the run reads (a baseline): like every input, they may not lie inside `out`. */
  inputs?: string[];
  /** Replace matched values in the public artifacts by a SHA-256 prefix (`--redact`, docs/artifacts.md). */
  redact?: boolean;
  /** PKCS#8 PEM Ed25519 key file that signs `manifest.json` (`--sign-key`). */
  signKey?: string;
  /** A waivers file (`--waivers`): waived findings do not fail the gate, expired waivers do. */
  waivers?: string;
  /** The date waiver expiry is judged against (`--today`, YYYY-MM-DD); see resolveToday. */
  today?: string;
  /** Export decisions as OpenTelemetry spans (`--otel-out`, `--otel-endpoint`): never changes a result. */
  otel?: ExporterOptions;
  /**
   * Collect policy coverage (`--coverage`): it goes into `report.json`, `summary.md` and
   * `coverage.json`; below `min` percent of outcomes (`--min-coverage`) the run fails (exit 5).
   */
  coverage?: { min: number | null };
  /**
   * Decides the exit code from the finished report and each case's result (default: 0 when the
   * report passed, else 5) and may add artifacts; `regress` compares with a baseline here.
   */
  gate?: (report: Report, cases: readonly CaseResult[]) => GateOutcome | Promise<GateOutcome>;
  /** Told of every judged trace (a progress line at a terminal); none by default. */
  progress?: VerifyProgress;
}

/**
 * What a gate decided: the exit code, artifacts to add to the out dir (name -> text), and for the
 * regression gate its comparison, which the public artifacts (JUnit, SARIF, annotations) follow.
 */
export interface GateOutcome {
  code: number;
  files?: Record<string, string>;
  regress?: RegressGate;
}

/**
 * The files SARIF results will point into, most important first: the trace files of failing
 * regressions (and the baseline when a failing case is missing), then those of findings, most
 * restrictive first.
 */
function regionSources(report: Report, regress: RegressGate | undefined): string[] {
  const files = new Map(report.traces.map((t) => [t.case_id, t.file]));
  const failing = (regress?.result.transitions ?? []).filter((t) => t.fails);
  return [
    ...failing.map((t) => files.get(t.case_id) ?? regress?.baseline ?? ""),
    ...findingsBySeverity(report).map((f) => f.trace.file),
  ].filter((f) => f !== "");
}

/**
 * Runs the gate: judges every trace under the given paths and writes the out dir as a whole
 * (`report.json`, `decisions.jsonl`, `summary.md`, `status.json`, the public artifacts and
 * `manifest.json`). Nothing is written when an input is invalid: the staging directory is
 * discarded and the previous out dir stays.
 * @returns the report, the exit code (0 passed, 5 failed), warnings for a person, and every
 *   case sorted by case id.
 * @throws ProofError (exit 6) on invalid input or when no trace is found.
 */
export async function runVerify(
  input: VerifyInput,
): Promise<{ report: Report; code: number; warnings: string[]; cases: CaseResult[] }> {
  const policies = typeof input.policy === "string" ? await loadPolicySet(input.policy) : input.policy;
  const context = input.context ? await loadContext(input.context) : {};
  const plan =
    typeof input.plan === "string"
      ? loadPlan(await readTextFile(input.plan, fileLimit()), input.plan)
      : input.plan;
  const judgement = new Judgement(policies, {
    context,
    hasContext: Boolean(input.context),
    ...(plan ? { plan, planFile: typeof input.plan === "string" ? input.plan : "plan" } : {}),
    failOn: input.failOn,
    ...(input.coverage ? { coverage: input.coverage } : {}),
  });
  // Read before anything is staged: a bad key is invalid input, not a half-written out dir.
  const signingKey = input.signKey
    ? parsePrivateKey(await readKeyFile(input.signKey), toPosix(input.signKey))
    : undefined;
  const matcher = input.waivers
    ? new WaiverMatcher(
        parseWaivers(await readTextFile(input.waivers, fileLimit()), toPosix(input.waivers)),
        resolveToday(input.today, process.env.SOURCE_DATE_EPOCH, new Date()),
        new Map(policies.irs.flatMap((ir) => ir.rules.map((r) => [r.id, r.effect] as const))),
      )
    : undefined;
  // Telemetry only observes decisions: nothing below reads from it, so it cannot change them.
  const exporter = input.otel ? await createDecisionExporter(input.otel) : undefined;
  const runId = randomUUID();
  /** Index into input.traces of each case's root: JUnit has one suite per root. */
  const rootOf = new Map<string, number>();

  const stage = await StagedDir.create(input.out, [
    ...(typeof input.policy === "string" ? [input.policy] : []),
    ...input.traces,
    ...(input.context ? [input.context] : []),
    ...(typeof input.plan === "string" ? [input.plan] : []),
    ...(input.signKey ? [input.signKey] : []),
    ...(input.waivers ? [input.waivers] : []),
    ...(input.inputs ?? []),
  ]);
  const shown = input.progress;
  try {
    const decisions = await openLineWriter(stage.path("decisions.jsonl"));
    let pending = "";
    try {
      for (const [rootIndex, root] of input.traces.entries()) {
        for (const found of await listGateTraceFiles(root)) {
          const source = traceSource(found);
          for await (const trace of readTraces(source, input.format)) {
            const result = judgement.verify(trace);
            shown?.trace(result.decisions.length);
            if (exporter) {
              for (const d of result.decisions) {
                const call = trace.events[d.seq];
                exporter.export(d, {
                  run_id: runId,
                  policy_digest: policies.bundleDigest,
                  ...(call?.type === "tool_call" ? { args: call.args } : {}),
                });
              }
            }
            matcher?.judge(result, (seq) => {
              const call = trace.events[seq];
              return call?.type === "tool_call" ? call.args : undefined;
            });
            judgement.record(result, trace, source.path);
            rootOf.set(result.case_id, rootIndex);
            // Lines are written in chunks of about 64 KiB: a write per decision costs more than
            // serialising it (docs/performance.md).
            for (const d of result.decisions) pending += jsonLine(d);
            if (pending.length >= WRITE_CHUNK) {
              await decisions.write(pending);
              pending = "";
            }
          }
        }
      }
      if (pending !== "") await decisions.write(pending);
    } finally {
      shown?.done();
      await decisions.close();
    }
    const report = judgement.finish(input.traces.join(", "), matcher);
    const cases = judgement.cases;
    const outcome = input.gate
      ? await input.gate(report, cases)
      : { code: report.passed ? 0 : EXIT_GATE_FAILED };
    // An expired waiver, or coverage below the minimum, fails a run that otherwise passed; neither
    // hides another failure.
    const failsAnyway = (report.waivers?.expired.length ?? 0) > 0 || report.coverage?.passed === false;
    const code = outcome.code === 0 && failsAnyway ? EXIT_GATE_FAILED : outcome.code;
    await stage.write("report.json", prettyJson(report));
    await stage.write("summary.md", renderSummary(report, { redact: input.redact === true }));
    await stage.write("status.json", prettyJson({ phase: "gate", code }));
    if (plan) await stage.write("plan.json", prettyJson(plan));
    if (report.coverage) await stage.write("coverage.json", prettyJson(report.coverage));
    // Loaded on demand: the JUnit builder is a large chunk that only a gate run needs.
    const { renderPublicArtifacts } = await import("../report/artifacts.js");
    const artifacts = renderPublicArtifacts(report, {
      rules: ruleMetaOf(policies.irs),
      roots: input.traces.map(toPosix),
      rootOf,
      version: VERSION,
      redact: input.redact === true,
      ...(outcome.regress ? { regress: outcome.regress } : {}),
      sources: await readSourcesWithin(regionSources(report, outcome.regress)),
    });
    for (const [name, text] of Object.entries(artifacts)) await stage.write(name, text);
    for (const [name, text] of Object.entries(outcome.files ?? {})) await stage.write(name, text);
    // Last, so that it covers every other file of the out dir.
    const manifest = renderManifest({
      version: VERSION,
      policies: report.policies,
      bundleDigest: report.bundle_digest,
      files: await hashDirectory(stage.staging),
      ...(report.waivers ? { waivers: { file: report.waivers.file, digest: report.waivers.digest } } : {}),
      ...(signingKey ? { signingKey } : {}),
    });
    await stage.write(MANIFEST_FILE, manifest);
    await stage.commit();
    const problems = exporter ? await exporter.shutdown() : [];
    // Expired waivers are no warning: the table names them as what failed the gate.
    const notes = report.waivers ? staleLines(report.waivers) : [];
    return { report, code, warnings: [...judgement.activation.warnings, ...notes, ...problems], cases };
  } catch (err) {
    await stage.abort();
    await exporter?.shutdown();
    throw err;
  }
}
