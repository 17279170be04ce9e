import type { Command } from "commander";
import { type CaseResult, parseVerdict } from "../../api/pipeline.js";
import type { PartCommand } from "../../api/shard.js";
import { EXIT_GATE_FAILED, type GateOutcome, runVerify, type VerifyInput } from "../../api/verify.js";
import { inputError, ProofError } from "../../errors.js";
import { prettyJson } from "../../io/canonical.js";
import { fileSize, readTextFile, toPosix } from "../../io/files.js";
import { writeFileAtomic } from "../../io/write.js";
import type { Verdict } from "../../policy/ir.js";
import { type Baseline, loadBaseline, makeBaseline } from "../../regress/baseline.js";
import {
  type CompareOptions,
  compareWithBaseline,
  type RegressionMode,
  type RegressResult,
} from "../../regress/compare.js";
import type { RegressGate } from "../../report/gate.js";
import { renderSummary } from "../../report/markdown.js";
import { renderRegressMarkdown, renderRegressTerminal, renderRegressVerdict } from "../../report/regress.js";
import type { Report } from "../../report/report.js";
import { renderTable } from "../../report/terminal.js";
import { count, shellCommand } from "../../report/text.js";
import { addArtifactOptions, addWaiverOptions } from "../options.js";
import { type GlobalOptions, oneLine, useColor } from "../output.js";
import { progress } from "../progress.js";
import { parseFormat } from "./import.js";
import { debugThreads, parseJobs, runShardPart } from "./verify.js";

/** Where the baseline lives unless `--baseline` says otherwise (docs/cli.md). */
export const DEFAULT_BASELINE = ".proof/baseline.json";

/** Flags shared by `regress init`, `run` and `accept`. */
interface CommonFlags {
  policy: string;
  traces: string[];
  baseline: string;
  context?: string;
  format: string;
  out: string;
  redact?: boolean;
  signKey?: string;
}

/** Parses `--fail-on-regression`. @throws ProofError `usage.fail_on_regression` (exit 6). */
export function parseRegressionMode(value: string): RegressionMode {
  if (value !== "loosened" && value !== "any") {
    throw inputError(
      "usage.fail_on_regression",
      `--fail-on-regression must be one of loosened, any, not '${value}'`,
    );
  }
  return value;
}

/**
 * Parses `--trials-tolerance`: a decimal number from 0 to 1, the absolute difference of pass rate
 * a case with trials may move by without failing.
 * @throws ProofError `usage.trials_tolerance` (exit 6).
 */
export function parseTrialsTolerance(value: string | number): number {
  // A config file gives a YAML number, the command line a string: both are read as the text.
  const text = String(value).trim();
  const n = /^(0|1)(\.[0-9]{1,6})?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 0 && n <= 1)) {
    throw inputError(
      "usage.trials_tolerance",
      `--trials-tolerance must be a number from 0 to 1 (a difference of pass rate), not '${value}'`,
    );
  }
  return n;
}

/** Whether a file exists (any readable entry at the path). */
async function exists(path: string): Promise<boolean> {
  try {
    await fileSize(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads and validates a baseline file.
 * @throws ProofError `baseline.missing` when there is none, `baseline.invalid` or a JSON error
 *   when it is not `proof.baseline/v1` or `v2` (exit 6, naming the file).
 */
async function readBaseline(file: string): Promise<Baseline> {
  let text: string;
  try {
    text = await readTextFile(file);
  } catch (err) {
    if (err instanceof ProofError && err.code === "io.unreadable") {
      throw new ProofError("baseline.missing", `no baseline at ${toPosix(file)}`, {
        location: { file: toPosix(file) },
        hint: "record one with proof regress init",
        cause: err,
      });
    }
    throw err;
  }
  return loadBaseline(text, toPosix(file));
}

/** The run as the comparison sees it. */
function currentRun(report: Report, cases: readonly CaseResult[]) {
  return {
    policies: report.policies,
    bundle_digest: report.bundle_digest,
    context_digest: report.context_digest,
    cases,
  };
}

/** The input of runVerify shared by the three subcommands. */
function verifyInput(flags: CommonFlags & { jobs?: string }, failOn: Verdict): VerifyInput {
  return {
    jobs: parseJobs(flags.jobs),
    ...debugThreads(),
    policy: flags.policy,
    traces: flags.traces,
    ...(flags.context ? { context: flags.context } : {}),
    failOn,
    format: parseFormat(flags.format),
    out: flags.out,
    inputs: [flags.baseline],
    redact: flags.redact === true,
    ...(flags.signKey ? { signKey: flags.signKey } : {}),
    ...progressInput(),
  };
}

/** The progress line of the command, when it shows one (src/cli/progress.ts). */
function progressInput() {
  const shown = progress();
  return shown ? { progress: shown } : {};
}

/** The waiver options of `regress run` as runVerify takes them. */
function waiverInput(flags: { waivers?: string; today?: string }) {
  return {
    ...(flags.waivers ? { waivers: flags.waivers } : {}),
    ...(flags.today ? { today: flags.today } : {}),
  };
}

/**
 * The `proof regress accept` command line that records what a run found, with the options that
 * decide the verdicts and where they are kept (policy, traces, baseline, context, format), so
 * that pasting it accepts exactly what the failed run compared.
 */
export function acceptCommand(flags: CommonFlags): string {
  return shellCommand([
    "proof",
    "regress",
    "accept",
    "--policy",
    toPosix(flags.policy),
    "--traces",
    ...flags.traces.map(toPosix),
    "--baseline",
    toPosix(flags.baseline),
    ...(flags.context ? ["--context", toPosix(flags.context)] : []),
    ...(flags.format !== "auto" ? ["--format", flags.format] : []),
  ]);
}

/** Prints warnings of a run to stderr (one inert line each), unless quiet or JSON. */
function printWarnings(warnings: readonly string[], global: GlobalOptions): void {
  if (global.json || global.quiet) return;
  for (const w of warnings) process.stderr.write(`${oneLine(`warning: ${w}`)}\n`);
}

/**
 * `proof regress init`: records the current result of every case as the baseline. Refuses to
 * replace an existing baseline without `--force` (that is what `accept` is for, with a diff).
 */
export async function regressInit(
  flags: CommonFlags & { force?: boolean },
  global: GlobalOptions,
): Promise<number> {
  if (!flags.force && (await exists(flags.baseline))) {
    throw inputError(
      "baseline.exists",
      `a baseline already exists at ${toPosix(flags.baseline)}`,
      { file: toPosix(flags.baseline) },
      "use proof regress accept to rewrite it and see what changed, or --force",
    );
  }
  let made: Baseline | undefined;
  const { report, warnings } = await runVerify({
    ...verifyInput(flags, "block"),
    // Made inside the gate: ambiguous trials are bad input, refused before the out dir is written.
    gate: (report, cases) => {
      made = makeBaseline(report, cases);
      return { code: 0 };
    },
  });
  if (!made) throw new Error("the baseline was not made");
  const baseline = made;
  await writeFileAtomic(flags.baseline, prettyJson(baseline));
  printWarnings(warnings, global);
  const n = Object.keys(baseline.cases).length;
  if (global.json) {
    process.stdout.write(
      prettyJson({ baseline: toPosix(flags.baseline), cases: n, verdicts: report.summary.verdicts }),
    );
  } else if (!global.quiet) {
    const verdicts = Object.entries(report.summary.verdicts)
      .map(([v, k]) => `${k} ${v}`)
      .join(", ");
    process.stdout.write(`Recorded ${count(n, "case")} (${verdicts}) in ${toPosix(flags.baseline)}.\n`);
  }
  return 0;
}

/**
 * The line that says an expired waiver fails the run although the regression gate passed (the
 * regression section's heading speaks of transitions only); empty without expired waivers.
 */
function expiredNote(report: Report): string {
  const expired = report.waivers?.expired ?? [];
  if (expired.length === 0) return "";
  return `Failed: ${count(expired.length, "expired waiver")} (${expired.map((e) => `${e.id} ${e.expires}`).join(", ")}); renew or remove ${expired.length === 1 ? "it" : "them"}.\n`;
}

/** Flags of `proof regress run` (and of `proof run` with a baseline). */
export type RegressRunFlags = CommonFlags & {
  failOn: string;
  failOnRegression: string;
  allowMissing?: boolean;
  trialsTolerance?: string | number;
  waivers?: string;
  today?: string;
  jobs?: string;
  shard?: string;
};

/** The comparison options of `regress run` from its flags. @throws ProofError (exit 6). */
function compareOptions(flags: RegressRunFlags): CompareOptions {
  return {
    failOn: parseVerdict(flags.failOn, "--fail-on"),
    failOnRegression: parseRegressionMode(flags.failOnRegression),
    allowMissing: flags.allowMissing === true,
    ...(flags.trialsTolerance !== undefined
      ? { trialsTolerance: parseTrialsTolerance(flags.trialsTolerance) }
      : {}),
  };
}

/**
 * The regression gate of `regress run` for runVerify (or `proof merge`): compares the run's cases
 * with the baseline, writes `regress.json` and puts the regression section at the top of
 * `summary.md`. `decided` gives the comparison once the gate ran.
 */
export function regressGate(
  flags: RegressRunFlags,
  baseline: Baseline,
): { gate: NonNullable<VerifyInput["gate"]>; decided: () => RegressGate | undefined } {
  const opts = compareOptions(flags);
  let decided: RegressGate | undefined;
  const gate = (report: Report, cases: readonly CaseResult[]): GateOutcome => {
    const r = compareWithBaseline(baseline, currentRun(report, cases), opts);
    decided = { result: r, baseline: toPosix(flags.baseline), accept: acceptCommand(flags) };
    return {
      code: r.passed ? 0 : EXIT_GATE_FAILED,
      files: {
        "regress.json": prettyJson(r),
        // The regression section comes first and alone gives a verdict: it decides the exit code.
        "summary.md": `${renderRegressMarkdown(r, decided)}\n${expiredNote(report)}${renderSummary(report, { redact: flags.redact === true, gate: false })}`,
      },
      regress: decided,
    };
  };
  return { gate, decided: () => decided };
}

/** Prints the result of the regression gate: the comparison with `--json`, else the tables. */
export function printRegressResult(
  report: Report,
  gate: RegressGate,
  warnings: readonly string[],
  global: GlobalOptions,
): void {
  const result = gate.result;
  printWarnings(warnings, global);
  if (global.json) process.stdout.write(prettyJson(result));
  else if (!global.quiet) {
    const color = useColor(global);
    process.stdout.write(renderRegressTerminal(result, color));
    process.stdout.write(renderTable(report, color, { gate: false }));
    process.stdout.write(renderRegressVerdict(result, color, gate));
    const note = expiredNote(report);
    if (note !== "") process.stdout.write(note);
  }
}

/** The options of `regress run` a part records for `proof merge` to apply the same gate. */
const PART_OPTIONS = [
  "policy",
  "traces",
  "baseline",
  "context",
  "format",
  "redact",
  "failOn",
  "failOnRegression",
  "allowMissing",
  "trialsTolerance",
] as const;

/**
 * The regression gate a part of `regress run --shard` asks `proof merge` to apply.
 * @throws ProofError (exit 6) when the part was not written by `regress run`.
 */
export function regressGateOfPart(command: PartCommand): ReturnType<typeof regressGate> {
  const flags = command.options as unknown as RegressRunFlags;
  if (!command.baseline) throw inputError("merge.not_a_part", "a part of regress run without its baseline");
  return regressGate(flags, loadBaseline(command.baseline.text, toPosix(command.baseline.file)));
}

/**
 * `proof regress run`: re-verifies and compares with the baseline; exit 5 when a transition
 * fails. Writes `regress.json` and a regression section at the top of `summary.md`. With
 * `--shard` it writes a part holding the baseline instead, for `proof merge` to gate.
 */
export async function regressRun(flags: RegressRunFlags, global: GlobalOptions): Promise<number> {
  compareOptions(flags);
  // Read before verifying: a missing or invalid baseline must leave the previous out dir alone.
  const baseline = await readBaseline(flags.baseline);
  const input = { ...verifyInput(flags, parseVerdict(flags.failOn, "--fail-on")), ...waiverInput(flags) };
  if (flags.shard !== undefined) {
    const options: Record<string, unknown> = {};
    for (const k of PART_OPTIONS) if (flags[k] !== undefined) options[k] = flags[k];
    const command: PartCommand = {
      kind: "regress",
      options,
      baseline: {
        file: toPosix(flags.baseline),
        text: await readTextFile(flags.baseline),
        size: await fileSize(flags.baseline),
      },
    };
    return runShardPart(input, flags.shard, command, global);
  }
  const { gate, decided } = regressGate(flags, baseline);
  const { report, code, warnings } = await runVerify({ ...input, gate });
  const result = decided();
  if (!result) throw new Error("the regression gate did not run");
  printRegressResult(report, result, warnings, global);
  return code;
}

/**
 * `proof regress accept`: rewrites the baseline from the current run and prints what changed
 * against the previous one (every case is `new` when there was none), for a reviewer to commit.
 */
async function regressAccept(flags: CommonFlags, global: GlobalOptions): Promise<number> {
  const previous = (await exists(flags.baseline)) ? await readBaseline(flags.baseline) : null;
  let result: RegressResult | undefined;
  const { report, cases, warnings } = await runVerify({
    ...verifyInput(flags, "block"),
    gate: (report, cases) => {
      const run = currentRun(report, cases);
      // Without a previous baseline, compare with an empty one made with the same policies, so
      // the result lists every case as new and reports no policy change.
      const before = previous ?? makeBaseline(report, []);
      const r = compareWithBaseline(before, run, {
        failOn: "block",
        failOnRegression: "any",
        allowMissing: false,
      });
      result = r;
      return { code: 0, files: { "regress.json": prettyJson(r) } };
    },
  });
  if (!result) throw new Error("the regression comparison did not run");
  const baseline = makeBaseline(report, cases);
  await writeFileAtomic(flags.baseline, prettyJson(baseline));
  printWarnings(warnings, global);
  if (global.json) process.stdout.write(prettyJson(result));
  else if (!global.quiet) {
    const file = toPosix(flags.baseline);
    process.stdout.write(renderRegressTerminal(result, useColor(global)));
    process.stdout.write(
      result.transitions.length === 0 && !result.policy_change
        ? `Baseline ${file} unchanged.\n`
        : `Rewrote ${file}: review and commit it.\n`,
    );
  }
  return 0;
}

/** Adds the options every regress subcommand takes. */
function common(cmd: Command): Command {
  return addArtifactOptions(cmd)
    .requiredOption("--policy <path>", "policy YAML, IR file, or directory of policies")
    .requiredOption("--traces <paths...>", "trace files or directories (searched for .json and .jsonl)")
    .option("--baseline <file>", "the baseline file", DEFAULT_BASELINE)
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions");
}

/**
 * `proof regress init|run|accept`: baselines of known-good verdicts and the regression gate
 * against them (docs/baselines.md).
 */
export function registerRegress(
  program: Command,
  run: (action: () => Promise<number>) => Promise<void>,
): void {
  const regress = program
    .command("regress")
    .description("record known-good verdicts as a baseline and fail when behaviour regresses");
  common(regress.command("init"))
    .description(`record the current verdict of every case as the baseline (default ${DEFAULT_BASELINE})`)
    .option("--force", "replace an existing baseline")
    .action((opts: CommonFlags & { force?: boolean }, cmd: Command) =>
      run(() => regressInit(opts, cmd.optsWithGlobals<GlobalOptions>())),
    );
  addWaiverOptions(common(regress.command("run")))
    .description("re-verify and compare with the baseline; exit 5 on a regression")
    .option("--fail-on-regression <mode>", "which verdict transitions fail: loosened or any", "any")
    .option("--allow-missing", "a case missing from the traces does not fail")
    .option("--fail-on <verdict>", "fail when a new case is at or above this verdict", "block")
    .option(
      "--trials-tolerance <rate>",
      "how far (0 to 1) the pass rate of a case with several trials may move (default 0)",
    )
    .option("--jobs <n>", "threads that judge traces (default: the cores available)")
    .option("--shard <i/n>", "judge only shard I of N of the cases and write a part for proof merge")
    .action((opts: RegressRunFlags, cmd: Command) =>
      run(() => regressRun(opts, cmd.optsWithGlobals<GlobalOptions>())),
    );
  common(regress.command("accept"))
    .description("rewrite the baseline from the current run and print what changed")
    .action((opts: CommonFlags, cmd: Command) =>
      run(() => regressAccept(opts, cmd.optsWithGlobals<GlobalOptions>())),
    );
}
