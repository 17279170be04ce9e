import type { Command } from "commander";
import { parseShard } from "../../api/shard.js";
import { inputError } from "../../errors.js";
import { prettyJson } from "../../io/canonical.js";
import { StagedDir, writeOutFile } from "../../io/out-dir.js";
import { runChild } from "../../io/process.js";
import { DEFAULT_CONFIG_FILE } from "../config.js";
import { addArtifactOptions, addWaiverOptions } from "../options.js";
import { type GlobalOptions, oneLine } from "../output.js";
import { parseFormat } from "./import.js";
import { DEFAULT_BASELINE, parseRegressionMode, regressRun } from "./regress.js";
import { parseJobs, parseVerdict, type VerifyFlags, verifyWithFlags } from "./verify.js";

/** What `status.json` in the out dir says (docs/exit-codes.md): which phase decided the exit code. */
export interface RunStatus {
  phase: "cmd" | "gate";
  code: number;
}

/** Options of `proof run`: the gate's, as `proof verify` and `proof regress run` take them. */
interface RunOptions extends VerifyFlags {
  baseline?: string;
  gate: string;
  failOnRegression: string;
  allowMissing?: boolean;
  trialsTolerance?: string | number;
}

/**
 * Runs the configured gate on the traces the command produced and returns its exit code: the
 * regression gate (`proof regress run`) with `--gate regress`, or with `--gate auto` when a
 * baseline is given (by flag or in the config); else `proof verify`. The gate writes the out
 * dir as a whole, `status.json` (`phase: gate`) included.
 */
async function gate(opts: RunOptions, global: GlobalOptions, why: string): Promise<number> {
  if (!global.quiet && !global.json) process.stderr.write(`${oneLine(why)}\n`);
  if (opts.gate === "regress" || (opts.gate === "auto" && opts.baseline)) {
    const baseline = opts.baseline ?? DEFAULT_BASELINE;
    if (opts.plan)
      throw inputError("usage", "--plan goes with proof verify; the regression gate has no plan");
    return regressRun(
      {
        policy: opts.policy,
        traces: opts.traces,
        baseline,
        ...(opts.context ? { context: opts.context } : {}),
        format: opts.format,
        out: opts.out,
        ...(opts.redact ? { redact: true } : {}),
        ...(opts.signKey ? { signKey: opts.signKey } : {}),
        failOn: opts.failOn,
        failOnRegression: opts.failOnRegression,
        ...(opts.allowMissing ? { allowMissing: true } : {}),
        ...(opts.trialsTolerance !== undefined ? { trialsTolerance: opts.trialsTolerance } : {}),
        ...(opts.waivers ? { waivers: opts.waivers } : {}),
        ...(opts.today ? { today: opts.today } : {}),
        ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}),
        ...(opts.shard !== undefined ? { shard: opts.shard } : {}),
      },
      global,
    );
  }
  return verifyWithFlags(opts, global);
}

/**
 * The line `proof run` prints before gating: which gate it chose and why, e.g.
 * `gate: regress (baseline .proof/baseline.json from proof.config.yaml)`,
 * `gate: verify (no baseline given)`, `gate: regress (--gate regress, baseline ...)`. An explicit
 * `--gate` wins over a baseline given by flag or config.
 * @param baselineSource where `--baseline` came from: commander's source (`cli`, `config`) or
 *   undefined when none was given.
 * @param configFile the config file a `config` source is read from.
 */
export function gateChoice(
  opts: Pick<RunOptions, "gate" | "baseline">,
  baselineSource: string | undefined,
  configFile: string,
): string {
  const baseline = opts.baseline ?? DEFAULT_BASELINE;
  if (opts.gate === "verify") return "gate: verify (--gate verify)";
  if (opts.gate === "regress")
    return `gate: regress (--gate regress, baseline ${baseline}${opts.baseline ? "" : ", the default"})`;
  if (opts.baseline === undefined) return "gate: verify (no baseline given)";
  const from = baselineSource === "config" ? configFile : "--baseline";
  return `gate: regress (baseline ${baseline} from ${from})`;
}

/**
 * `proof run [gate options] -- CMD ARGS...`: runs CMD (which typically records traces), then gates
 * its traces. When CMD fails, its exit code passes through unchanged (128+N for signal N) and only
 * `status.json` (`{"phase": "cmd", "code": N}`) is replaced in the out dir, the previous run's
 * other artifacts left as they were; otherwise the gate decides the exit code. Options are
 * checked before CMD runs, so a usage error never costs a long command.
 */
export function registerRun(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  addWaiverOptions(addArtifactOptions(program.command("run")))
    .description("run a command that records traces, pass its failure through, then gate the traces")
    .argument("<command...>", "the command and its arguments, after --")
    .requiredOption("--policy <path>", "policy YAML, IR file, or directory of policies")
    .requiredOption("--traces <paths...>", "trace files or directories the command writes")
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions")
    .option("--plan <file>", "evaluate only this plan's rules, in its order (from proof adapt)")
    .option("--baseline <file>", "gate with proof regress run against this baseline")
    .option(
      "--gate <kind>",
      "auto (regress when a baseline is given, else verify) | verify | regress (default baseline .proof/baseline.json)",
      "auto",
    )
    .option("--fail-on-regression <mode>", "with --baseline: loosened | any", "any")
    .option("--allow-missing", "with --baseline: a case missing from the traces does not fail")
    .option(
      "--trials-tolerance <rate>",
      "with --baseline: how far (0 to 1) the pass rate of a case with several trials may move (default 0)",
    )
    .option("--fail-on <verdict>", "fail when a trace is at or above this verdict", "block")
    .option("--jobs <n>", "threads that judge traces (default: the cores available)")
    .option("--shard <i/n>", "judge only shard I of N of the cases and write a part for proof merge")
    .action((command: string[], opts: RunOptions, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        parseVerdict(opts.failOn, "--fail-on");
        parseRegressionMode(opts.failOnRegression);
        if (!["auto", "verify", "regress"].includes(opts.gate)) {
          throw inputError("usage.gate", `--gate must be auto, verify or regress, not '${opts.gate}'`);
        }
        parseFormat(opts.format);
        parseJobs(opts.jobs);
        if (opts.shard !== undefined) parseShard(opts.shard);
        if (command.length === 0) throw inputError("usage.missing_argument", "no command given after --");
        // Refuses an out dir that the gate could not replace (a source directory by mistake)
        // before the command runs, and before status.json marks it as an out dir.
        await (await StagedDir.create(opts.out)).abort();

        const exit = await runChild(command, { stdoutToStderr: global.json === true });
        if (exit.code === 0) {
          const source = opts.baseline === undefined ? undefined : cmd.getOptionValueSource("baseline");
          return gate(opts, global, gateChoice(opts, source, global.config ?? DEFAULT_CONFIG_FILE));
        }
        const status: RunStatus = { phase: "cmd", code: exit.code };
        await writeOutFile(opts.out, "status.json", prettyJson(status));
        if (global.json) process.stdout.write(prettyJson(status));
        else if (!global.quiet || exit.spawnError) {
          const what = exit.spawnError
            ? `cannot run the command: ${exit.spawnError}`
            : `the command ${exit.signal ? `was ended by ${exit.signal}` : `exited ${exit.code}`}`;
          process.stderr.write(`${oneLine(`proof: ${what}; gate not run (exit ${exit.code})`)}\n`);
        }
        return exit.code;
      }),
    );
}
