import type { Command } from "commander";
import { parseVerdict } from "../../api/pipeline.js";
import { runVerify } from "../../api/verify.js";
import { prettyJson } from "../../io/canonical.js";
import { coverageLine } from "../../report/coverage-text.js";
import type { Report } from "../../report/report.js";
import { renderTable } from "../../report/terminal.js";
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
}

/** Runs `proof verify` from its parsed flags, prints the result, and returns the exit code. */
export async function verifyWithFlags(opts: VerifyFlags, global: GlobalOptions): Promise<number> {
  const shown = progress();
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
    ...(shown ? { progress: shown } : {}),
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
