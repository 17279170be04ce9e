import type { Command } from "commander";
import { inputError } from "../../errors.js";
import { jsonLine } from "../../io/canonical.js";
import { listTraceFiles } from "../../io/files.js";
import { traceSource } from "../../io/trace-files.js";
import { openAtomicLineFile, stdoutWriter } from "../../io/write.js";
import type { FormatName } from "../../trace/model.js";
import { type Explanation, explainSource, FORMAT_NAMES, readTraces } from "../../trace/read.js";
import { type GlobalOptions, oneLine, stdoutClosed } from "../output.js";

/** Parses `--format`. @throws ProofError `usage.format` (exit 6). */
export function parseFormat(value: string): FormatName | "auto" {
  if (!(FORMAT_NAMES as readonly string[]).includes(value)) {
    throw inputError(
      "usage.format",
      `unknown format '${value}'`,
      undefined,
      `one of: ${FORMAT_NAMES.join(", ")}`,
    );
  }
  return value as FormatName | "auto";
}

/** How many importer warnings `proof import` prints before it only counts them. */
export const PRINTED_WARNINGS = 20;

/** `1 trace`, `2 warnings`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * The text of `--explain` for one file: the detected format (or why none is), every format's
 * verdict with its reason, then what the import gave and every warning of it (what was skipped,
 * by address).
 */
export function explanationText(e: Explanation): string {
  const ok = e.verdicts.filter((v) => v.ok).map((v) => v.format);
  const head =
    e.detected !== null
      ? `${e.file}: ${e.detected}`
      : ok.length > 1
        ? `${e.file}: ambiguous (${ok.join(", ")}): name one with --format`
        : `${e.file}: no format accepts it: name one with --format`;
  const lines = [oneLine(head), `  judged on ${e.basis}`];
  for (const v of e.verdicts)
    lines.push(oneLine(`  ${v.ok ? "accepted by" : "rejected by"} ${v.format}: ${v.reason}`));
  const i = e.imported;
  if (i !== null) {
    lines.push(
      `  imported as ${i.format}: ${count(i.traces, "trace")}, ${count(i.warnings.length, "warning")}`,
    );
    for (const w of i.warnings) lines.push(oneLine(`  warning: ${w.case_id}: ${w.message}`));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `proof import FILE... [--format F] [-o OUT.jsonl] [--explain]`: convert traces to canonical JSON
 * Lines, or with `--explain` only say which format each file is detected as, and why. When the
 * reader of stdout goes away (`| head -1`), the import stops quietly with exit 0.
 */
export function registerImport(
  program: Command,
  run: (action: () => Promise<number>) => Promise<void>,
): void {
  program
    .command("import")
    .description("convert traces of any supported format to canonical proof.trace/v1 JSON Lines")
    .argument("<files...>", "trace files or directories")
    .option("--format <format>", `source format: ${FORMAT_NAMES.join("|")}`, "auto")
    .option("-o, --output <file>", "write here (atomically) instead of stdout")
    .option("--explain", "say which format each file is detected as and why; import nothing")
    .action((files: string[], opts: { format: string; output?: string; explain?: boolean }, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const format = parseFormat(opts.format);
        if (opts.explain) {
          for (const root of files)
            for (const found of await listTraceFiles(root)) {
              const e = await explainSource(traceSource(found), format);
              process.stdout.write(global.json ? `${JSON.stringify(e)}\n` : explanationText(e));
            }
          return 0;
        }
        const file = opts.output ? await openAtomicLineFile(opts.output) : undefined;
        const out = file ?? stdoutWriter;
        let traces = 0;
        // Printed up to PRINTED_WARNINGS, then counted: a corpus of runs with one warning each
        // must not bury the output; --explain lists every one.
        let warnings = 0;
        try {
          for (const root of files) {
            for (const found of await listTraceFiles(root)) {
              for await (const trace of readTraces(traceSource(found), format)) {
                // The reader of stdout has gone (`proof import DIR | head -1`): nothing more to do.
                if (!file && stdoutClosed()) return 0;
                await out.write(jsonLine(trace.header));
                for (const e of trace.events) await out.write(jsonLine(e));
                for (const w of trace.warnings)
                  if (!global.quiet && warnings++ < PRINTED_WARNINGS)
                    process.stderr.write(`${oneLine(`warning: ${trace.header.case_id}: ${w}`)}\n`);
                traces++;
              }
            }
          }
          if (traces === 0) throw inputError("trace.none", `no traces found in ${files.join(", ")}`);
          if (warnings > PRINTED_WARNINGS)
            process.stderr.write(
              `${oneLine(`warning: ${count(warnings - PRINTED_WARNINGS, "more warning")} not shown: proof import --explain ${files.join(" ")} lists them all`)}\n`,
            );
          await file?.commit();
        } catch (err) {
          await file?.abort();
          throw err;
        }
        if (opts.output && !global.quiet && !global.json)
          process.stderr.write(`${traces} traces -> ${opts.output}\n`);
        return 0;
      }),
    );
}
