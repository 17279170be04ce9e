import { Command, CommanderError } from "commander";
import { ProofError } from "../errors.js";
import { VERSION } from "../version.js";
import { registerAdapt } from "./commands/adapt.js";
import { registerAttest } from "./commands/attest.js";
import { registerCheck } from "./commands/check.js";
import { registerCompile } from "./commands/compile.js";
import { registerImport } from "./commands/import.js";
import { registerInit } from "./commands/init.js";
import { registerKeys } from "./commands/keys.js";
import { registerLedger } from "./commands/ledger.js";
import { registerMcp } from "./commands/mcp.js";
import { registerRegress } from "./commands/regress.js";
import { registerRun } from "./commands/run.js";
import { registerVerify } from "./commands/verify.js";
import { applyConfig, checkRequiredOptions, deferRequiredOptions, findConfig } from "./config.js";
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
    .option("--config <file>", "option values from this file (default: ./proof.config.yaml when present)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showSuggestionAfterError(true)
    // Config values fill the options of the command about to run that no flag set (DESIGN.md §12).
    .hook("preAction", async (_program, command) => {
      const config = await findConfig(globals().config);
      if (config) applyConfig(command, config);
      checkRequiredOptions(command);
    });
  registerCompile(program, run);
  registerImport(program, run);
  registerVerify(program, run);
  registerAdapt(program, run);
  registerKeys(program, run);
  registerAttest(program, run);
  registerRun(program, run);
  registerCheck(program, run);
  registerRegress(program, run);
  registerInit(program, run);
  registerLedger(program, run);
  registerMcp(program, run);
  // After every registration: required options are checked once the config is merged.
  deferRequiredOptions(program);
  try {
    await program.parseAsync(argv as string[], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      // commander already printed its message; under --json give the envelope too. Arguments
      // after `--` belong to a wrapped command (`proof run -- CMD --json`), not to proof.
      const ours = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
      if (ours.includes("--json")) {
        reportError(new ProofError(usageCode(err.code), err.message.replace(/^error: /, "")), { json: true });
      }
      return 6;
    }
    return reportError(err, globals());
  }
  return exitCode;
}

/**
 * Stable `--json` error code for a commander usage error: `commander.unknownOption` becomes
 * `usage.unknown_option`, and so on; a missing required option is `usage.missing_option`, as when
 * an option that a config may also give is missing from both (src/cli/config.ts).
 */
function usageCode(commanderCode: string): string {
  if (commanderCode === "commander.missingMandatoryOptionValue") return "usage.missing_option";
  const name = commanderCode.replace(/^commander\./, "");
  return `usage.${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
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
