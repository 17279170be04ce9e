import { randomUUID } from "node:crypto";
import type { Command } from "commander";
import { inputError } from "../../errors.js";
import { hashDirectory, readKeyFile, readSourcesWithin } from "../../io/artifacts.js";
import { digestOf, jsonLine, prettyJson } from "../../io/canonical.js";
import { fileLimit, readTextFile, toPosix } from "../../io/files.js";
import { StagedDir } from "../../io/out-dir.js";
import { loadContext, loadPolicySet } from "../../io/policy-files.js";
import { listGateTraceFiles, traceSource } from "../../io/trace-files.js";
import { openLineWriter } from "../../io/write.js";
import { activationFromPlan } from "../../plan/activation.js";
import { checkPlanSelection, loadPlan } from "../../plan/load-plan.js";
import type { Plan } from "../../plan/plan.js";
import type { Verdict } from "../../policy/ir.js";
import type { PolicySet } from "../../policy/set.js";
import { type TrialOf, trialOf } from "../../regress/trials.js";
import { coverageLine } from "../../report/coverage-text.js";
import { findingsBySeverity, ruleMetaOf } from "../../report/findings.js";
import type { RegressGate } from "../../report/gate.js";
import { MANIFEST_FILE, parsePrivateKey, renderManifest } from "../../report/manifest.js";
import { renderSummary } from "../../report/markdown.js";
import { type Report, ReportBuilder } from "../../report/report.js";
import { renderTable } from "../../report/terminal.js";
import { createDecisionExporter, type ExporterOptions } from "../../telemetry/otel.js";
import type { FormatName } from "../../trace/model.js";
import { readTraces } from "../../trace/read.js";
import { CoverageCollector } from "../../verify/coverage.js";
import { VERDICT_ORDER } from "../../verify/decision.js";
import { type Activation, activate, Engine } from "../../verify/engine.js";
import { VERSION } from "../../version.js";
import { parseWaivers, resolveToday, staleLines, WaiverMatcher } from "../../waivers/waivers.js";
import { coverageInput } from "../coverage-flags.js";
import { addArtifactOptions, addWaiverOptions } from "../options.js";
import { type GlobalOptions, oneLine, useColor } from "../output.js";
import { progress } from "../progress.js";
import { parseFormat } from "./import.js";

/** Characters of decision lines gathered before one write to `decisions.jsonl`. */
const WRITE_CHUNK = 1 << 16;

/** Exit code of a failed gate (docs/exit-codes.md). */
export const EXIT_GATE_FAILED = 5;

/** Parses a verdict flag such as `--fail-on`. @throws ProofError `usage.verdict` (exit 6). */
export function parseVerdict(value: string, flag: string): Verdict {
  if (!(VERDICT_ORDER as readonly string[]).includes(value)) {
    throw inputError("usage.verdict", `${flag} must be one of ${VERDICT_ORDER.join(", ")}, not '${value}'`);
  }
  return value as Verdict;
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
}

/** One judged case, as a baseline records it. */
export interface CaseResult {
  case_id: string;
  trace_id: string;
  /** The trace file as given, relative, `/`-separated. */
  file: string;
  verdict: Verdict;
  rules: string[];
  /** Digest of every call's `{seq, tool, verdict, rules}`: changes when any decision does. */
  decision_digest: string;
  /** The case this trace is a trial of (src/regress/trials.ts), when it is one. */
  trial?: TrialOf;
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
 * Checks that a plan was made for this policy and this context (the empty one without
 * `--context`), and that its rules are those the planner selects for them: a plan for another
 * policy or context, or an edited one, would silently evaluate the wrong rules.
 * @param hasContext whether `--context` was given (for the message only)
 * @throws ProofError `plan.policy_mismatch` / `plan.context_mismatch` (exit 6) naming both
 *   digests, `plan.mismatch` (exit 6) naming the first rule that differs.
 */
export function checkPlan(
  plan: Plan,
  file: string,
  policies: PolicySet,
  context: unknown,
  hasContext: boolean,
): Activation {
  const [ir, ...more] = policies.irs;
  const compiled = policies.compiled[0];
  if (!ir || !compiled || more.length > 0) {
    throw inputError("plan.policy_mismatch", "a plan is made for one policy; --policy names several", {
      file,
    });
  }
  if (plan.policy_digest !== ir.policy_digest) {
    throw inputError(
      "plan.policy_mismatch",
      `plan is for policy ${plan.policy_id} ${plan.policy_digest}, but --policy is ${ir.policy_id} ${ir.policy_digest}`,
      { file },
      "make a new plan with proof adapt",
    );
  }
  const contextDigest = digestOf(context);
  if (plan.context_digest !== contextDigest) {
    throw inputError(
      "plan.context_mismatch",
      hasContext
        ? `plan is for context ${plan.context_digest}, but --context digests to ${contextDigest}`
        : `plan is for context ${plan.context_digest}, but no --context was given (the empty context digests to ${contextDigest})`,
      { file },
      hasContext ? "make a new plan with proof adapt" : "give the --context the plan was made for",
    );
  }
  checkPlanSelection(plan, file, compiled, context, contextDigest);
  return activationFromPlan(plan);
}

/**
 * Runs the gate: judges every trace under the given paths and writes the out dir as a whole
 * (`report.json`, `decisions.jsonl`, `summary.md`, `status.json`). Nothing is written when an
 * input is invalid: the staging directory is discarded and the previous out dir stays.
 * @returns the report and the exit code (0 passed, 5 failed).
 * @throws ProofError (exit 6) on invalid input or when no trace is found.
 */
export async function runVerify(
  input: VerifyInput,
): Promise<{ report: Report; code: number; warnings: string[]; cases: CaseResult[] }> {
  const policies = typeof input.policy === "string" ? await loadPolicySet(input.policy) : input.policy;
  const context = input.context ? await loadContext(input.context) : {};
  const contextDigest = input.context ? digestOf(context) : null;
  const planFile = typeof input.plan === "string" ? input.plan : "plan";
  const plan =
    typeof input.plan === "string"
      ? loadPlan(await readTextFile(input.plan, fileLimit()), input.plan)
      : input.plan;
  const activation = plan
    ? checkPlan(plan, planFile, policies, context, input.context !== undefined)
    : activate(policies.compiled, context);
  // Null unless asked for: the engine then records nothing and pays nothing for coverage.
  const collector = input.coverage ? new CoverageCollector() : null;
  const engine = new Engine(policies.compiled, activation, context, collector);
  const builder = new ReportBuilder(
    policies.irs.map((ir) => ({ policy_id: ir.policy_id, policy_digest: ir.policy_digest })),
    policies.bundleDigest,
    contextDigest,
    input.failOn,
  );
  for (const w of activation.warnings) builder.warn(null, w);
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

  const cases: CaseResult[] = [];
  const stage = await StagedDir.create(input.out, [
    ...(typeof input.policy === "string" ? [input.policy] : []),
    ...input.traces,
    ...(input.context ? [input.context] : []),
    ...(typeof input.plan === "string" ? [input.plan] : []),
    ...(input.signKey ? [input.signKey] : []),
    ...(input.waivers ? [input.waivers] : []),
    ...(input.inputs ?? []),
  ]);
  // A line on stderr for a person at a terminal; none in CI or with --quiet/--json.
  const shown = progress();
  try {
    const decisions = await openLineWriter(stage.path("decisions.jsonl"));
    let pending = "";
    try {
      for (const [rootIndex, root] of input.traces.entries()) {
        for (const found of await listGateTraceFiles(root)) {
          const source = traceSource(found);
          for await (const trace of readTraces(source, input.format)) {
            const result = engine.verify(trace);
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
            const clash = builder.add(result, source.path, trace.header.source.format);
            if (clash !== undefined) {
              throw inputError(
                "trace.duplicate_case",
                `case id '${result.case_id}' is used by ${clash} and ${source.path}`,
                { file: source.path },
                "case ids are paths relative to the traces root; pass the directory instead of single files",
              );
            }
            for (const w of trace.warnings) builder.warn(result.case_id, w);
            rootOf.set(result.case_id, rootIndex);
            const trial = trialOf(result.case_id, trace.header.meta);
            cases.push({
              case_id: result.case_id,
              trace_id: result.trace_id,
              file: source.path,
              verdict: result.verdict,
              rules: result.rules,
              decision_digest: digestOf(
                result.decisions.map((d) => ({
                  seq: d.seq,
                  tool: d.tool,
                  verdict: d.verdict,
                  rules: d.rules,
                })),
              ),
              ...(trial ? { trial } : {}),
            });
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
    const waivers = matcher?.summary();
    for (const line of waivers ? staleLines(waivers) : []) builder.warn(null, line);
    const report = matcher ? matcher.finish(builder.build()) : builder.build();
    if (report.summary.traces === 0) {
      throw inputError(
        "trace.none",
        `no traces found in ${input.traces.join(", ")}`,
        undefined,
        "traces are .json or .jsonl files",
      );
    }
    cases.sort((a, b) => (a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : 0));
    if (collector) report.coverage = collector.summary(input.coverage?.min ?? null);
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
    const { renderPublicArtifacts } = await import("../../report/artifacts.js");
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
    return { report, code, warnings: [...activation.warnings, ...notes, ...problems], cases };
  } catch (err) {
    await stage.abort();
    await exporter?.shutdown();
    throw err;
  }
}

/** The command-line options of `proof verify` (and of `proof run`'s verify gate), as parsed. */
export interface VerifyFlags {
  policy: string;
  traces: string[];
  context?: string;
  plan?: string;
  failOn: string;
  format: string;
  out: string;
  redact?: boolean;
  signKey?: string;
  otelOut?: string;
  otelEndpoint?: string;
  otelIncludeArgs?: boolean;
  waivers?: string;
  today?: string;
  coverage?: boolean;
  minCoverage?: string;
}

/** Runs `proof verify` from its parsed flags, prints the result, and returns the exit code. */
export async function verifyWithFlags(opts: VerifyFlags, global: GlobalOptions): Promise<number> {
  const { report, code, warnings } = await runVerify({
    policy: opts.policy,
    traces: opts.traces,
    ...(opts.context ? { context: opts.context } : {}),
    ...(opts.plan ? { plan: opts.plan } : {}),
    failOn: parseVerdict(opts.failOn, "--fail-on"),
    format: parseFormat(opts.format),
    out: opts.out,
    redact: opts.redact === true,
    ...(opts.signKey ? { signKey: opts.signKey } : {}),
    ...(opts.waivers ? { waivers: opts.waivers } : {}),
    ...(opts.today ? { today: opts.today } : {}),
    ...coverageInput(opts),
    ...(opts.otelOut || opts.otelEndpoint
      ? {
          otel: {
            ...(opts.otelOut ? { file: opts.otelOut } : {}),
            ...(opts.otelEndpoint ? { endpoint: opts.otelEndpoint } : {}),
            includeArgs: opts.otelIncludeArgs === true,
          },
        }
      : {}),
  });
  printVerifyResult(report, warnings, global);
  return code;
}

/** Prints a gate's result: the report with `--json`, else warnings and the readable table. */
export function printVerifyResult(report: Report, warnings: readonly string[], global: GlobalOptions): void {
  if (global.json) process.stdout.write(prettyJson(report));
  else if (!global.quiet) {
    for (const w of warnings) process.stderr.write(`${oneLine(`warning: ${w}`)}\n`);
    process.stdout.write(renderTable(report, useColor(global)));
    if (report.coverage) process.stdout.write(`${coverageLine(report.coverage)}\n`);
  }
}

/** `proof verify --policy P --traces PATH... [--context C] [--fail-on LEVEL] [--out DIR]`. */
export function registerVerify(
  program: Command,
  run: (action: () => Promise<number>) => Promise<void>,
): void {
  addWaiverOptions(addArtifactOptions(program.command("verify")))
    .description("judge every tool call of every trace against the policies; exit 5 when the gate fails")
    // Required options are checked after proof.config.yaml is merged (src/cli/config.ts).
    .requiredOption("--policy <path>", "policy YAML, IR file, or directory of policies")
    .requiredOption("--traces <paths...>", "trace files or directories (searched for .json and .jsonl)")
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions")
    .option("--plan <file>", "evaluate only this plan's rules, in its order (from proof adapt)")
    .option("--fail-on <verdict>", "fail when a trace is at or above this verdict", "block")
    .option("--otel-out <file>", "also write every decision as an OpenTelemetry span to this OTLP JSON file")
    .option("--otel-endpoint <url>", "also send every decision as a span to this OTLP/HTTP traces URL")
    .option("--coverage", "report which rules fired and which conditions were seen true and false")
    .option(
      "--min-coverage <pct>",
      "fail (exit 5) when coverage of outcomes is below PCT percent; implies --coverage",
    )
    .option("--otel-include-args", "add the call's arguments to each span (off: they may hold secrets)")
    .action((opts: VerifyFlags, cmd: Command) =>
      run(() => verifyWithFlags(opts, cmd.optsWithGlobals<GlobalOptions>())),
    );
}
