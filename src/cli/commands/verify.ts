import type { Command } from "commander";
import { inputError } from "../../errors.js";
import { digestOf, jsonLine, prettyJson } from "../../io/canonical.js";
import { listTraceFiles, openLineWriter, StagedDir } from "../../io/files.js";
import { traceSource } from "../../io/trace-files.js";
import type { Verdict } from "../../policy/ir.js";
import { renderSummary } from "../../report/markdown.js";
import { type Report, ReportBuilder } from "../../report/report.js";
import { renderTable } from "../../report/terminal.js";
import type { FormatName } from "../../trace/model.js";
import { readTraces } from "../../trace/read.js";
import { VERDICT_ORDER } from "../../verify/decision.js";
import { activate, Engine } from "../../verify/engine.js";
import { loadContext, loadPolicySet } from "../load.js";
import { type GlobalOptions, useColor } from "../output.js";
import { parseFormat } from "./import.js";

/** Exit code of a failed gate (DESIGN.md §6). */
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
  policy: string;
  traces: string[];
  context?: string;
  failOn: Verdict;
  format: FormatName | "auto";
  out: string;
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
): Promise<{ report: Report; code: number; warnings: string[] }> {
  const policies = await loadPolicySet(input.policy);
  const context = input.context ? await loadContext(input.context) : {};
  const contextDigest = input.context ? digestOf(context) : null;
  const activation = activate(policies.compiled, context);
  const engine = new Engine(policies.compiled, activation, context);
  const builder = new ReportBuilder(
    policies.irs.map((ir) => ({ policy_id: ir.policy_id, policy_digest: ir.policy_digest })),
    policies.bundleDigest,
    contextDigest,
    input.failOn,
  );
  for (const w of activation.warnings) builder.warn(null, w);

  const stage = await StagedDir.create(input.out);
  try {
    const decisions = await openLineWriter(stage.path("decisions.jsonl"));
    try {
      for (const root of input.traces) {
        for (const found of await listTraceFiles(root)) {
          const source = traceSource(found);
          for await (const trace of readTraces(source, input.format)) {
            const result = engine.verify(trace);
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
            for (const d of result.decisions) await decisions.write(jsonLine(d));
          }
        }
      }
    } finally {
      await decisions.close();
    }
    const report = builder.build();
    if (report.summary.traces === 0) {
      throw inputError(
        "trace.none",
        `no traces found in ${input.traces.join(", ")}`,
        undefined,
        "traces are .json or .jsonl files",
      );
    }
    const code = report.passed ? 0 : EXIT_GATE_FAILED;
    await stage.write("report.json", prettyJson(report));
    await stage.write("summary.md", renderSummary(report));
    await stage.write("status.json", prettyJson({ phase: "gate", code }));
    await stage.commit();
    return { report, code, warnings: activation.warnings };
  } catch (err) {
    await stage.abort();
    throw err;
  }
}

/** `proof verify --policy P --traces PATH... [--context C] [--fail-on LEVEL] [--out DIR]`. */
export function registerVerify(
  program: Command,
  run: (action: () => Promise<number>) => Promise<void>,
): void {
  program
    .command("verify")
    .description("judge every tool call of every trace against the policies; exit 5 when the gate fails")
    .requiredOption("--policy <path>", "policy YAML, IR file, or directory of policies")
    .requiredOption("--traces <paths...>", "trace files or directories (searched for .json and .jsonl)")
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions")
    .option("--fail-on <verdict>", "fail when a trace is at or above this verdict", "block")
    .option("--format <format>", "trace format, or auto", "auto")
    .option("--out <dir>", "artifact directory, written as a whole", "proof-out")
    .action(
      (
        opts: {
          policy: string;
          traces: string[];
          context?: string;
          failOn: string;
          format: string;
          out: string;
        },
        cmd: Command,
      ) =>
        run(async () => {
          const global = cmd.optsWithGlobals<GlobalOptions>();
          const { report, code, warnings } = await runVerify({
            policy: opts.policy,
            traces: opts.traces,
            ...(opts.context ? { context: opts.context } : {}),
            failOn: parseVerdict(opts.failOn, "--fail-on"),
            format: parseFormat(opts.format),
            out: opts.out,
          });
          if (global.json) process.stdout.write(prettyJson(report));
          else if (!global.quiet) {
            for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
            process.stdout.write(renderTable(report, useColor(global)));
          }
          return code;
        }),
    );
}
