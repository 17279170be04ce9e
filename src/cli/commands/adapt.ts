import { performance } from "node:perf_hooks";
import type { Command } from "commander";
import { inputError, ProofError } from "../../errors.js";
import { digestOf, prettyJson } from "../../io/canonical.js";
import { fileLimit, fileSize, readTextFile } from "../../io/files.js";
import { loadContext, loadPolicySet } from "../../io/policy-files.js";
import { writeFileAtomic } from "../../io/write.js";
import type { Plan } from "../../plan/plan.js";
import { planRules } from "../../plan/planner.js";
import { basicSelector, type Selector, weightedSelector } from "../../plan/select.js";
import { parseWeights } from "../../plan/weights.js";
import type { PolicySet } from "../../policy/set.js";
import { addArtifactOptions } from "../options.js";
import { type GlobalOptions, oneLine } from "../output.js";
import { parseFormat } from "./import.js";
import { parseVerdict, printVerifyResult, runVerify } from "./verify.js";

/** Directory searched when `--policy` is a policy id rather than a path. */
export const DEFAULT_POLICY_DIR = "policies";

/**
 * Resolves `--policy`: a path to a YAML policy or IR file, or a policy id looked up among the
 * policies of the policy directory. A plan is made for exactly one policy.
 * @throws ProofError `policy.not_found` / `plan.policy_mismatch` (exit 6).
 */
export async function resolvePlanPolicy(policy: string, policyDir: string): Promise<PolicySet> {
  let isPath = true;
  try {
    await fileSize(policy);
  } catch (err) {
    if (!(err instanceof ProofError) || !/^[a-z0-9_.-]+$/.test(policy)) throw err;
    isPath = false;
  }
  if (isPath) {
    const set = await loadPolicySet(policy);
    if (set.irs.length !== 1) {
      throw inputError(
        "plan.policy_mismatch",
        `a plan is made for one policy; ${policy} holds ${set.irs.length}`,
        {
          file: policy,
        },
      );
    }
    return set;
  }
  const all = await loadPolicySet(policyDir);
  const index = all.irs.findIndex((ir) => ir.policy_id === policy);
  const ir = all.irs[index];
  const compiled = all.compiled[index];
  if (!ir || !compiled) {
    throw inputError(
      "policy.not_found",
      `no file or policy id '${policy}' (policy ids in ${policyDir}: ${all.irs.map((i) => i.policy_id).join(", ")})`,
    );
  }
  return { irs: [ir], compiled: [compiled], bundleDigest: digestOf([ir.policy_digest]) };
}

interface AdaptOptions {
  policy: string;
  context: string;
  selector: string;
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
        let selector: Selector = basicSelector;
        if (opts.selector === "weighted") {
          const ids = new Set(policy.ir.rules.map((r) => r.id));
          const weights = opts.weights
            ? parseWeights(await readTextFile(opts.weights, fileLimit()), opts.weights, ids)
            : {};
          selector = weightedSelector(weights);
        }
        const started = performance.now();
        const { plan, selection } = planRules(policy, context, digestOf(context), selector);
        const seconds = (performance.now() - started) / 1000;
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
