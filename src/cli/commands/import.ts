import type { Command } from "commander";
import { inputError } from "../../errors.js";
import { jsonLine } from "../../io/canonical.js";
import { listTraceFiles, openAtomicLineFile, stdoutWriter } from "../../io/files.js";
import { traceSource } from "../../io/trace-files.js";
import type { FormatName } from "../../trace/model.js";
import { FORMAT_NAMES, readTraces } from "../../trace/read.js";
import { type GlobalOptions, oneLine } from "../output.js";

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

/** `proof import FILE... [--format F] [-o OUT.jsonl]`: convert traces to canonical JSON Lines. */
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
    .action((files: string[], opts: { format: string; output?: string }, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const format = parseFormat(opts.format);
        const file = opts.output ? await openAtomicLineFile(opts.output) : undefined;
        const out = file ?? stdoutWriter;
        let traces = 0;
        try {
          for (const root of files) {
            for (const found of await listTraceFiles(root)) {
              for await (const trace of readTraces(traceSource(found), format)) {
                await out.write(jsonLine(trace.header));
                for (const e of trace.events) await out.write(jsonLine(e));
                for (const w of trace.warnings)
                  if (!global.quiet)
                    process.stderr.write(`${oneLine(`warning: ${trace.header.case_id}: ${w}`)}\n`);
                traces++;
              }
            }
          }
          if (traces === 0) throw inputError("trace.none", `no traces found in ${files.join(", ")}`);
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
