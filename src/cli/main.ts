import { Command, CommanderError } from "commander";
import { ProofError } from "../errors.js";
import { VERSION } from "../version.js";
import { registerAdapt } from "./commands/adapt.js";
import { registerCompile } from "./commands/compile.js";
import { registerImport } from "./commands/import.js";
import { registerVerify } from "./commands/verify.js";
import { type GlobalOptions, reportError } from "./output.js";

/**
 * The `proof` command line. The only place that maps errors to exit codes (DESIGN.md §6):
 * usage and input errors 6, integrity 2, missing dependency 7, bugs 1.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command();
  let exitCode = 0;
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const run = async (action: () => Promise<number>): Promise<void> => {
    try {
      exitCode = await action();
    } catch (err) {
      exitCode = reportError(err, globals());
    }
  };
  program
    .name("proof")
    .description("Regression gate for AI agents: check recorded tool calls against policies.")
    .version(VERSION, "-V, --version")
    .option("--json", "machine-readable output on stdout (errors as a JSON envelope)")
    .option("--quiet", "print nothing but errors")
    .option("--no-color", "never colour the output")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showSuggestionAfterError(true);
  registerCompile(program, run);
  registerImport(program, run);
  registerVerify(program, run);
  registerAdapt(program, run);
  try {
    await program.parseAsync(argv as string[], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      // commander already printed its message; under --json give the envelope too.
      if (argv.includes("--json")) {
        reportError(new ProofError("usage", err.message.replace(/^error: /, "")), { json: true });
      }
      return 6;
    }
    return reportError(err, globals());
  }
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`proof: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
