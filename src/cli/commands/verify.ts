import type { Command } from "commander";
import { parseVerdict } from "../../api/pipeline.js";
import { type PartCommand, parseShard, runVerifyShard } from "../../api/shard.js";
import { defaultJobs, runVerify, type VerifyInput } from "../../api/verify.js";
import { inputError } from "../../errors.js";
import { prettyJson } from "../../io/canonical.js";
import { toPosix } from "../../io/files.js";
import { coverageLine } from "../../report/coverage-text.js";
import type { Report } from "../../report/report.js";
import { renderTable } from "../../report/terminal.js";
import { count } from "../../report/text.js";
import { coverageInput } from "../coverage-flags.js";
import { addArtifactOptions, addWaiverOptions } from "../options.js";
import { type GlobalOptions, oneLine, useColor } from "../output.js";
import { progress } from "../progress.js";
import { parseFormat } from "./import.js";

export { type CaseResult, checkPlan, parseVerdict } from "../../api/pipeline.js";
export { EXIT_GATE_FAILED, type GateOutcome, runVerify, type VerifyInput } from "../../api/verify.js";

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
  jobs?: string;
  shard?: string;
}

/**
 * Parses `--jobs N`: threads that judge traces (this one and N - 1 workers), 1 to 256; unset, as
 * many as the machine can run at once (`os.availableParallelism()`).
 * @throws ProofError `usage.jobs` (exit 6).
 */
export function parseJobs(value: string | number | undefined): number {
  if (value === undefined) return defaultJobs();
  const text = String(value).trim();
  const n = /^[1-9][0-9]{0,2}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 256)) {
    throw inputError("usage.jobs", `--jobs must be a whole number from 1 to 256, not '${value}'`);
  }
  return n;
}

/** With PROOF_DEBUG set, says on stderr how many threads judge the traces. */
export function debugThreads(): Pick<VerifyInput, "threads"> {
  if (!process.env.PROOF_DEBUG) return {};
  return {
    threads: (count, files) =>
      process.stderr.write(
        `proof: debug: ${files} trace files, judged ${count === 0 ? "in this thread" : `in ${count} threads (this one and ${count - 1} worker${count === 2 ? "" : "s"})`}\n`,
      ),
  };
}

/**
 * Writes the part of shard `spec` (`--shard I/N`) instead of the gate's out dir and prints what
 * it holds; the gate is decided by `proof merge` over every part, so a part exits 0.
 */
export async function runShardPart(
  input: VerifyInput,
  spec: string,
  command: PartCommand,
  global: GlobalOptions,
): Promise<number> {
  const shard = parseShard(spec);
  const { cases, read, warnings } = await runVerifyShard(input, shard, command);
  const out = toPosix(input.out);
  if (global.json) {
    process.stdout.write(prettyJson({ shard, cases, traces_read: read, out }));
  } else if (!global.quiet) {
    for (const w of warnings) process.stderr.write(`${oneLine(`warning: ${w}`)}\n`);
    process.stdout.write(
      `Shard ${shard.index}/${shard.count}: judged ${count(cases, "case")} of ${count(read, "trace")} read, in ${out}.\n` +
        "Gather every shard's out dir with proof merge: it decides the gate.\n",
    );
  }
  return 0;
}

/** Runs `proof verify` from its parsed flags, prints the result, and returns the exit code. */
export async function verifyWithFlags(opts: VerifyFlags, global: GlobalOptions): Promise<number> {
  const shown = progress();
  const input: VerifyInput = {
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
    ...(shown ? { progress: shown } : {}),
    jobs: parseJobs(opts.jobs),
    ...debugThreads(),
  };
  if (opts.shard !== undefined)
    return runShardPart(input, opts.shard, { kind: "verify", options: {} }, global);
  const { report, code, warnings } = await runVerify(input);
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
    .option("--jobs <n>", "threads that judge traces (default: the cores available)")
    .option("--shard <i/n>", "judge only shard I of N of the cases and write a part for proof merge")
    .action((opts: VerifyFlags, cmd: Command) =>
      run(() => verifyWithFlags(opts, cmd.optsWithGlobals<GlobalOptions>())),
    );
}
