import type { Command } from "commander";
import { readParts, runMerge } from "../../api/shard.js";
import type { GlobalOptions } from "../output.js";
import { progress } from "../progress.js";
import { printRegressResult, regressGateOfPart } from "./regress.js";
import { printVerifyResult } from "./verify.js";

/** Options of `proof merge`. */
interface MergeFlags {
  out: string;
  signKey?: string;
}

/**
 * `proof merge DIR... --out OUT`: gathers the parts of a sharded `verify` or `regress run`
 * (docs/ci.md, "Sharding") into the out dir one unsharded run writes, and decides the gate over
 * the whole set: exit 0 passed, 5 failed, as the command the shards ran.
 */
async function merge(dirs: string[], flags: MergeFlags, global: GlobalOptions): Promise<number> {
  const parts = await readParts(dirs);
  const command = parts[0]?.doc.run.command;
  const regress = command?.kind === "regress" ? regressGateOfPart(command) : undefined;
  const shown = progress();
  const { report, code, warnings } = await runMerge(parts, {
    out: flags.out,
    ...(flags.signKey ? { signKey: flags.signKey } : {}),
    ...(regress ? { gate: regress.gate } : {}),
    ...(shown ? { progress: shown } : {}),
  });
  const decided = regress?.decided();
  if (decided) printRegressResult(report, decided, warnings, global);
  else printVerifyResult(report, warnings, global);
  return code;
}

/** Registers `proof merge`. */
export function registerMerge(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  const cmd = program
    .command("merge")
    .description("gather the out dirs of every shard (--shard I/N) into one; exit 5 when the gate fails")
    .argument("<dirs...>", "the out dir of each shard");
  cmd
    .option("--out <dir>", "artifact directory, written as a whole", "proof-out")
    .option(
      "--sign-key <file>",
      "sign manifest.json with this Ed25519 private key (PEM, from proof keys gen)",
    )
    .action((dirs: string[], opts: MergeFlags, c: Command) =>
      run(() => merge(dirs, opts, c.optsWithGlobals<GlobalOptions>())),
    );
}
