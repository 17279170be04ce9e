import type { Command } from "commander";
import { makePlan, resolvePlanPolicy } from "../../api/adapt.js";
import { parseVerdict } from "../../api/pipeline.js";
import { runVerify } from "../../api/verify.js";
import { inputError } from "../../errors.js";
import { prettyJson } from "../../io/canonical.js";
import { fileLimit, readTextFile } from "../../io/files.js";
import { loadContext } from "../../io/policy-files.js";
import { writeFileAtomic } from "../../io/write.js";
import type { Plan } from "../../plan/plan.js";
import { parseWeights } from "../../plan/weights.js";
import { addArtifactOptions } from "../options.js";
import { type GlobalOptions, oneLine } from "../output.js";
import { progress } from "../progress.js";
import { parseFormat } from "./import.js";
import { printVerifyResult } from "./verify.js";

/** Directory searched when `--policy` is a policy id rather than a path. */
export const DEFAULT_POLICY_DIR = "policies";

export { resolvePlanPolicy } from "../../api/adapt.js";

interface AdaptOptions {
  policy: string;
  context: string;
  selector: "basic" | "weighted";
  weights?: string;
  dryRun?: boolean;
  output?: string;
  metricsOut?: string;
  policyDir: string;
  traces?: string[];
  out: string;
  failOn: string;
  format: string;
  redact?: boolean;
  signKey?: string;
}

/**
 * `proof adapt`: plans which rules of a policy apply to a context (docs/adapt.md). The plan goes
 * to `-o` or stdout. With `--traces` (and without `--dry-run`) the traces are then verified with
 * the plan, exactly as `proof verify --plan` would; `--dry-run` plans and evaluates nothing else.
 */
export function registerAdapt(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  addArtifactOptions(program.command("adapt"), "artifact directory when verifying")
    .description("plan which rules apply to a context, in which order, and why")
    .requiredOption("--policy <id|path>", "policy YAML, IR file, or a policy id in --policy-dir")
    .requiredOption("--context <file>", "context (JSON or YAML object)")
    .option("--selector <name>", "basic | weighted", "basic")
    .option("--weights <file>", "rule costs for the weighted selector ({rule_id: non-negative integer})")
    .option("--dry-run", "write the plan and evaluate nothing else")
    .option("-o, --output <file>", "write the plan here (atomically) instead of stdout")
    .option("--metrics-out <file>", "write adapt metrics in Prometheus text format")
    .option("--policy-dir <dir>", "where policy ids are looked up", DEFAULT_POLICY_DIR)
    .option("--traces <paths...>", "verify these traces with the plan (unless --dry-run)")
    .option("--fail-on <verdict>", "fail when a trace is at or above this verdict", "block")
    .action((opts: AdaptOptions, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        if (opts.selector !== "basic" && opts.selector !== "weighted") {
          throw inputError("usage.selector", `--selector must be basic or weighted, not '${opts.selector}'`);
        }
        if (opts.weights && opts.selector !== "weighted") {
          throw inputError("usage.selector", "--weights goes with --selector weighted");
        }
        const failOn = parseVerdict(opts.failOn, "--fail-on");
        const format = parseFormat(opts.format);
        const policies = await resolvePlanPolicy(opts.policy, opts.policyDir);
        const policy = policies.compiled[0];
        if (!policy) throw inputError("policy.none", "no policy");
        const context = await loadContext(opts.context);
        const ids = new Set(policy.ir.rules.map((r) => r.id));
        const weights =
          opts.selector === "weighted" && opts.weights
            ? parseWeights(await readTextFile(opts.weights, fileLimit()), opts.weights, ids)
            : undefined;
        const { plan, selection, seconds } = makePlan({
          policies,
          context,
          selector: opts.selector,
          ...(weights ? { weights } : {}),
        });
        for (const w of selection.warnings)
          if (!global.json) process.stderr.write(`${oneLine(`warning: ${w}`)}\n`);
        if (opts.metricsOut) {
          // prom-client costs tens of milliseconds to load: only when metrics are asked for.
          const { AdaptMetrics } = await import("../../report/metrics.js");
          const metrics = new AdaptMetrics();
          metrics.record(plan.selector, plan.active_rules.length, selection.failures, seconds);
          await writeFileAtomic(opts.metricsOut, await metrics.text());
        }
        // With --json and traces to verify, stdout carries the report; the plan then needs -o.
        if (!(global.json && opts.traces && !opts.dryRun && !opts.output)) await emitPlan(plan, opts.output);
        if (opts.dryRun || !opts.traces) return 0;
        const shown = progress();
        const { report, code, warnings } = await runVerify({
          policy: policies,
          traces: opts.traces,
          context: opts.context,
          plan,
          failOn,
          format,
          out: opts.out,
          redact: opts.redact === true,
          ...(opts.signKey ? { signKey: opts.signKey } : {}),
          ...(shown ? { progress: shown } : {}),
        });
        printVerifyResult(report, warnings, global);
        return code;
      }),
    );
}

async function emitPlan(plan: Plan, output: string | undefined): Promise<void> {
  const text = prettyJson(plan);
  if (output) await writeFileAtomic(output, text);
  else process.stdout.write(text);
}
