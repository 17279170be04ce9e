import type { Command } from "commander";
import { inputError } from "../../errors.js";
import { CaseJudge, type JudgedCase } from "../../eval/judge.js";
import { renderEvalMarkdown, renderEvalText } from "../../eval/render.js";
import { type EvalReport, parseFraction, scoreCases } from "../../eval/score.js";
import { hashDirectory } from "../../io/artifacts.js";
import { digestOf, prettyJson } from "../../io/canonical.js";
import { toPosix } from "../../io/files.js";
import { readLabels } from "../../io/label-files.js";
import { StagedDir } from "../../io/out-dir.js";
import { loadPolicySet } from "../../io/policy-files.js";
import { listGateTraceFiles, traceSource } from "../../io/trace-files.js";
import type { Verdict } from "../../policy/ir.js";
import type { PolicySet } from "../../policy/set.js";
import { MANIFEST_FILE, renderManifest } from "../../report/manifest.js";
import { readTraces } from "../../trace/read.js";
import { VERDICT_ORDER } from "../../verify/decision.js";
import { VERSION } from "../../version.js";
import { type GlobalOptions, oneLine } from "../output.js";

/** Exit code of a failed gate (docs/exit-codes.md). */
const EXIT_GATE_FAILED = 5;

interface EvalFlags {
  policy: string[];
  traces: string[];
  labels: string;
  flagOn: string;
  groupBy?: string[];
  minPrecision?: string;
  minRecall?: string;
  markdown?: boolean;
  out?: string;
}

function parseFlagOn(value: string): Verdict {
  if (!(VERDICT_ORDER as readonly string[]).includes(value))
    throw inputError("usage.verdict", `--flag-on must be one of ${VERDICT_ORDER.join(", ")}, not '${value}'`);
  return value as Verdict;
}

/**
 * Judges every trace under the roots by every policy set.
 * @throws ProofError `trace.duplicate_case` (exit 6) when two traces share a case id, the errors
 *   of the trace reader, `trace.none` when no trace is found.
 */
async function judgeAll(
  sets: PolicySet[],
  roots: string[],
  warn: (m: string) => void,
): Promise<JudgedCase[]> {
  const judge = new CaseJudge(sets, warn);
  const cases: JudgedCase[] = [];
  const files = new Map<string, string>();
  // Import notes (payloads planted in the environment, skipped lines) are one summary line: a
  // corpus of attacked runs would otherwise print one per run.
  const warned: string[] = [];
  for (const root of roots) {
    for (const found of await listGateTraceFiles(root)) {
      const source = traceSource(found);
      for await (const trace of readTraces(source)) {
        const judged = judge.judge(trace, source.path);
        const clash = files.get(judged.case_id);
        if (clash !== undefined)
          throw inputError(
            "trace.duplicate_case",
            `case id '${judged.case_id}' is used by ${clash} and ${source.path}`,
            { file: source.path },
            "case ids are paths relative to the traces root; pass the directory instead of single files",
          );
        files.set(judged.case_id, source.path);
        if (trace.warnings.length > 0) warned.push(`${judged.case_id}: ${trace.warnings[0]}`);
        cases.push(judged);
      }
    }
  }
  if (warned.length > 0)
    warn(
      `${warned.length} trace${warned.length === 1 ? "" : "s"} imported with notes (proof import shows them), first ${warned[0]}`,
    );
  if (cases.length === 0)
    throw inputError(
      "trace.none",
      `no traces found in ${roots.join(", ")}`,
      undefined,
      "traces are .json or .jsonl files",
    );
  return cases;
}

/**
 * `proof eval`: judges labelled traces with the policies and prints the scorecard; with
 * `--min-precision` / `--min-recall` it is a gate (exit 5 when a figure is below its minimum).
 * @returns 0, or 5 when the gate fails.
 */
async function evaluate(opts: EvalFlags, global: GlobalOptions): Promise<number> {
  // Every flag is checked before anything is read or staged.
  const flagOn = parseFlagOn(opts.flagOn);
  const minPrecision =
    opts.minPrecision === undefined ? undefined : parseFraction(opts.minPrecision, "--min-precision");
  const minRecall = opts.minRecall === undefined ? undefined : parseFraction(opts.minRecall, "--min-recall");
  const sets: PolicySet[] = [];
  const owner = new Map<string, string>();
  for (const path of opts.policy) {
    const set = await loadPolicySet(path);
    for (const ir of set.irs) {
      const other = owner.get(ir.policy_id);
      if (other !== undefined)
        throw inputError(
          "policy.duplicate_policy",
          `policy id '${ir.policy_id}' is in ${other} and ${path}`,
          {
            file: toPosix(path),
          },
        );
      owner.set(ir.policy_id, toPosix(path));
    }
    sets.push(set);
  }
  const labels = await readLabels(opts.labels, opts.traces);
  const stage = opts.out
    ? await StagedDir.create(opts.out, [...opts.policy, ...opts.traces, opts.labels])
    : undefined;
  const warnings: string[] = [];
  let report: EvalReport;
  try {
    const cases = await judgeAll(sets, opts.traces, (m) => warnings.push(m));
    const policies = sets.flatMap((s) =>
      s.irs.map((ir) => ({ policy_id: ir.policy_id, policy_digest: ir.policy_digest })),
    );
    const bundleDigest = digestOf(policies.map((p) => p.policy_digest).sort());
    report = scoreCases(cases, {
      labels,
      flagOn,
      ...(opts.groupBy && opts.groupBy.length > 0 ? { groupBy: opts.groupBy } : {}),
      policies,
      bundleDigest,
      ...(minPrecision !== undefined ? { minPrecision } : {}),
      ...(minRecall !== undefined ? { minRecall } : {}),
    });
    if (stage) {
      await stage.write("eval.json", prettyJson(report));
      await stage.write("eval.md", renderEvalMarkdown(report));
      // The manifest makes the out dir one proof may replace on the next run, and attestable.
      await stage.write(
        MANIFEST_FILE,
        renderManifest({
          version: VERSION,
          policies,
          bundleDigest,
          files: await hashDirectory(stage.staging),
        }),
      );
      await stage.commit();
    }
  } catch (err) {
    await stage?.abort();
    throw err;
  }
  if (report.unlabelled.length > 0)
    warnings.push(
      `${report.unlabelled.length} trace${report.unlabelled.length === 1 ? " has" : "s have"} no label and ${report.unlabelled.length === 1 ? "is" : "are"} not scored, first '${report.unlabelled[0]}'`,
    );
  if (global.json) process.stdout.write(prettyJson(report));
  else {
    if (!global.quiet) for (const w of warnings) process.stderr.write(`${oneLine(`warning: ${w}`)}\n`);
    if (!global.quiet)
      process.stdout.write(opts.markdown ? renderEvalMarkdown(report) : renderEvalText(report));
    else if (!report.gate.passed)
      process.stderr.write(`${oneLine(`proof: eval gate failed: ${report.gate.failures.join("; ")}`)}\n`);
  }
  return report.gate.passed ? 0 : EXIT_GATE_FAILED;
}

/** `proof eval --policy P... --traces DIR... --labels L [--flag-on V] [--group-by F...] [--min-precision X] [--min-recall X] [--markdown] [--out DIR]`. */
export function registerEval(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command("eval")
    .description(
      "score policies against labelled traces: confusion matrix, precision, recall, false alarms and misses",
    )
    .requiredOption("--policy <paths...>", "policy YAML, IR file, or directory; repeat for several policies")
    .requiredOption("--traces <paths...>", "trace files or directories (case ids as proof verify gives them)")
    .requiredOption(
      "--labels <file>",
      "JSON Lines labels: {case, expected} or {case, violation}, or an AgentDojo manifest",
    )
    .option("--flag-on <verdict>", "a case counts as flagged at or above this verdict", "block")
    .option(
      "--group-by <fields...>",
      "label fields to break the figures down by (default: suite, model, attack_type)",
    )
    .option("--min-precision <x>", "fail (exit 5) when overall precision is below X (0 to 1)")
    .option("--min-recall <x>", "fail (exit 5) when overall recall is below X (0 to 1)")
    .option("--markdown", "print the scorecard as markdown instead of a table")
    .option("--out <dir>", "write eval.json, eval.md and manifest.json into this directory (replaced whole)")
    .action((opts: EvalFlags, cmd: Command) =>
      run(() => evaluate(opts, cmd.optsWithGlobals<GlobalOptions>())),
    );
}
