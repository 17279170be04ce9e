import { Command, CommanderError, type Command as CommandType } from "commander";
import { ProofError } from "../errors.js";
import { loadCel } from "../expr/cel.js";
import { VERSION } from "../version.js";
import { BATCH_COMMANDS, limitHeapGrowth } from "./heap.js";
import { type GlobalOptions, guardStandardStreams, reportError, streamExitCode } from "./output.js";
import { configureProgress } from "./progress.js";

/**
 * The `proof` command line. The only place that maps errors to exit codes (docs/exit-codes.md):
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
    .option("--color", "colour the output even when it is not a terminal (as FORCE_COLOR=1 does)")
    .option("--no-color", "never colour the output (as NO_COLOR=1 does); wins over --color")
    .option("--config <file>", "option values from this file (default: ./proof.config.yaml when present)")
    .exitOverride()
    // commander's error messages are reported by reportError below, with proof's prefix (or as
    // the --json envelope); its help text still goes to stderr.
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} })
    .showSuggestionAfterError(true)
    // Config values fill the options of the command about to run that no flag set (docs/cli.md).
    .hook("preAction", async (_program, command) => {
      // Never colour wins, wherever on the line (commander would keep the last of the two).
      if (ownArguments(argv).includes("--no-color")) program.setOptionValue("color", false);
      configureProgress(globals());
      if (BATCH_COMMANDS.has(topCommand(command).name())) await limitHeapGrowth();
      // Loaded here, not at start: `proof --version` needs no YAML parser and no validators.
      const { applyConfig, checkRequiredOptions, findConfig } = await import("./config.js");
      // `proof serve --config` names a serve.yaml (docs/serve.md), not a proof.config.yaml.
      const config = command.name() === "serve" ? undefined : await findConfig(globals().config);
      if (config) applyConfig(command, config);
      checkRequiredOptions(command);
      if (!CEL_ON_DEMAND.has(topCommand(command).name())) await loadCel();
    });
  const registered = await registrations(ownArguments(argv));
  for (const register of registered) register(program, run);
  // After every registration: required options are checked once the config is merged.
  if (registered.length > 0) (await import("./config.js")).deferRequiredOptions(program);
  try {
    await program.parseAsync(argv as string[], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      // Help shown because no command was given: commander printed it, there is no message.
      if (err.code === "commander.help") return 6;
      // The options may not be parsed yet, so --json is looked for in the arguments.
      return reportError(usageError(err), { json: ownArguments(argv).includes("--json") });
    }
    return reportError(err, globals());
  }
  return exitCode;
}

/** Adds one command (its options, help and action) to the program. */
type Register = (program: CommandType, run: (action: () => Promise<number>) => Promise<void>) => void;

/**
 * Every command, in the order help lists them, with the module that registers it. Each module is
 * imported only when its command runs: `proof --version` or `proof check` does not evaluate the
 * engine, the importers and the server (docs/performance.md, "Start-up").
 */
const COMMANDS: readonly (readonly [string, () => Promise<Register>])[] = [
  ["compile", async () => (await import("./commands/compile.js")).registerCompile],
  ["import", async () => (await import("./commands/import.js")).registerImport],
  ["verify", async () => (await import("./commands/verify.js")).registerVerify],
  ["adapt", async () => (await import("./commands/adapt.js")).registerAdapt],
  ["keys", async () => (await import("./commands/keys.js")).registerKeys],
  ["attest", async () => (await import("./commands/attest.js")).registerAttest],
  ["run", async () => (await import("./commands/run.js")).registerRun],
  ["check", async () => (await import("./commands/check.js")).registerCheck],
  ["regress", async () => (await import("./commands/regress.js")).registerRegress],
  ["merge", async () => (await import("./commands/merge.js")).registerMerge],
  ["init", async () => (await import("./commands/init.js")).registerInit],
  ["ledger", async () => (await import("./commands/ledger.js")).registerLedger],
  ["mcp", async () => (await import("./commands/mcp.js")).registerMcp],
  ["test", async () => (await import("./commands/test.js")).registerTest],
  ["diff", async () => (await import("./commands/diff.js")).registerDiff],
  ["eval", async () => (await import("./commands/eval.js")).registerEval],
  ["serve", async () => (await import("./commands/serve.js")).registerServe],
];

/**
 * Commands that do not have the CEL engine loaded before they run (src/expr/cel.ts): `check` loads
 * it only when its policies hold CEL (its start-up is measured, docs/performance.md), the others
 * compile no policy. Every other command may compile one synchronously, so the engine is loaded
 * before its action.
 */
const CEL_ON_DEMAND = new Set(["check", "import", "keys", "attest"]);

/** The command of the program that `command` is, or is a subcommand of (`ledger` for `ledger verify`). */
function topCommand(command: CommandType): CommandType {
  let c = command;
  while (c.parent?.parent) c = c.parent;
  return c;
}

/** Global options that take a value: the word after them is no command name. */
const VALUE_OPTIONS = new Set(["--config"]);

/**
 * The commands a command line needs registered: the one it names; none for `--version` alone;
 * every one otherwise (help, an unknown command, which commander answers with a suggestion).
 */
async function registrations(args: readonly string[]): Promise<Register[]> {
  let word: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith("-")) {
      word = a;
      break;
    }
  }
  if (word === undefined && args.some((a) => a === "-V" || a === "--version")) return [];
  // A command will run, which needs the config reader first: it is imported along with the
  // command's module, so that the loader reads and links their files together.
  const config = import("./config.js");
  const named = COMMANDS.find(([name]) => name === word);
  const loads = named ? [named[1]()] : COMMANDS.map(([, load]) => load());
  const [registered] = await Promise.all([Promise.all(loads), config]);
  return registered;
}

/** proof's own arguments: those after `--` belong to a wrapped command (`proof run -- CMD --json`). */
function ownArguments(argv: readonly string[]): readonly string[] {
  return argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
}

/**
 * A commander usage error as a ProofError (exit 6): its message without commander's `error: `
 * prefix, and its suggestion (`(Did you mean --policy?)`) as the hint.
 */
function usageError(err: CommanderError): ProofError {
  const [first = "", ...rest] = err.message.split("\n");
  const suggestion = rest
    .join(" ")
    .trim()
    .replace(/^\((.*)\)$/, "$1");
  return new ProofError(usageCode(err.code), first.replace(/^error: /, ""), {
    ...(suggestion ? { hint: suggestion.replace(/^Did/, "did") } : {}),
  });
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

guardStandardStreams();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = streamExitCode() ?? code;
  },
  (err) => {
    process.stderr.write(`proof: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
