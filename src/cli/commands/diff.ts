import type { Command } from "commander";
import { inputError } from "../../errors.js";
import { prettyJson } from "../../io/canonical.js";
import { policyFilesAt } from "../../io/git.js";
import { loadContext, loadPolicySet } from "../../io/policy-files.js";
import { listGateTraceFiles, traceSource } from "../../io/trace-files.js";
import { type CaseVerdict, type DiffImpact, diffPolicies, impactOf, loosens } from "../../policy/diff.js";
import { type PolicySet, policyFromText, policySetOf } from "../../policy/set.js";
import { diffMarkdown, diffText } from "../../report/diff.js";
import { readTraces } from "../../trace/read.js";
import { activate, Engine } from "../../verify/engine.js";
import type { GlobalOptions } from "../output.js";
import { EXIT_GATE_FAILED } from "./verify.js";

interface DiffOptions {
  gitBase?: string;
  policy?: string;
  traces?: string[];
  context?: string;
  format: string;
  failOnLoosening?: boolean;
}

/** The verdict of every case of `traces` under `policies` (the engine of `proof verify`, no artifacts). */
async function verdicts(
  policies: PolicySet,
  traces: readonly string[],
  context: Record<string, unknown>,
): Promise<CaseVerdict[]> {
  const engine = new Engine(policies.compiled, activate(policies.compiled, context), context);
  const out: CaseVerdict[] = [];
  for (const root of traces)
    for (const found of await listGateTraceFiles(root))
      for await (const trace of readTraces(traceSource(found))) {
        const result = engine.verify(trace);
        out.push({ case_id: result.case_id, verdict: result.verdict, rules: [...result.rules].sort() });
      }
  return out;
}

/**
 * The two sides of the diff from the arguments: `OLD NEW`, or with `--git-base REF` one path
 * (or `--policy`, which the config may give) read both at REF and in the working tree.
 * @throws ProofError `usage.diff_arguments` (exit 6) on any other count of paths.
 */
async function sides(paths: string[], opts: DiffOptions): Promise<[PolicySet, PolicySet]> {
  if (opts.gitBase !== undefined) {
    const path = paths.length === 1 ? paths[0] : paths.length === 0 ? opts.policy : undefined;
    if (path === undefined)
      throw inputError(
        "usage.diff_arguments",
        "with --git-base, give one policy path (or --policy): the old side is read from git",
      );
    const files = await policyFilesAt(opts.gitBase, path);
    const old = policySetOf(
      files.map((f) => ({
        ir: policyFromText(f.text, `${opts.gitBase}:${f.path}`),
        file: `${opts.gitBase}:${f.path}`,
      })),
    );
    return [old, await loadPolicySet(path)];
  }
  const [oldPath, newPath] = paths;
  if (paths.length !== 2 || oldPath === undefined || newPath === undefined)
    throw inputError(
      "usage.diff_arguments",
      "give the old and the new policy (OLD NEW), or --git-base REF PATH",
    );
  return [await loadPolicySet(oldPath), await loadPolicySet(newPath)];
}

/**
 * `proof diff OLD NEW [--traces PATHS]` or `proof diff --git-base REF [PATH]`: the semantic diff
 * of two policy sets, rule by rule, with each change's direction; with traces, every verdict
 * transition. Exits 0, or 5 with `--fail-on-loosening` when the change loosens.
 */
export function registerDiff(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command("diff")
    .description("what a policy change does, rule by rule; with --traces, every verdict that moves")
    .argument("[paths...]", "OLD NEW (policy YAML, IR file or directory), or one PATH with --git-base")
    .option("--git-base <ref>", "read the old policy from git at this commit (origin/main)")
    .option("--policy <path>", "the policy path with --git-base when no PATH is given (the config's)")
    .option("--traces <paths...>", "judge these traces with both policies and list every verdict transition")
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions")
    .option("--format <form>", "text or markdown (--json for JSON)", "text")
    .option("--fail-on-loosening", "exit 5 when the change loosens a rule or lets a case through further")
    .action((paths: string[], opts: DiffOptions, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        if (opts.format !== "text" && opts.format !== "markdown")
          throw inputError("usage.diff_format", `--format must be text or markdown, not '${opts.format}'`);
        const [old, now] = await sides(paths, opts);
        const diff = diffPolicies(old.irs, now.irs, old.bundleDigest, now.bundleDigest);
        let impact: DiffImpact | null = null;
        if (opts.traces && opts.traces.length > 0) {
          const context = opts.context ? await loadContext(opts.context) : {};
          impact = impactOf(
            await verdicts(old, opts.traces, context),
            await verdicts(now, opts.traces, context),
          );
        }
        if (global.json) process.stdout.write(prettyJson({ ...diff, impact }));
        else if (!global.quiet || opts.format === "markdown")
          process.stdout.write(
            opts.format === "markdown" ? diffMarkdown(diff, impact) : diffText(diff, impact),
          );
        return opts.failOnLoosening && loosens(diff, impact) ? EXIT_GATE_FAILED : 0;
      }),
    );
}
