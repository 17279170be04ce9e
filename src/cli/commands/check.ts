import type { Command } from "commander";
import { checkCall, readPriorFile } from "../../api/check.js";
import { withCel } from "../../expr/cel.js";
import { prettyJson } from "../../io/canonical.js";
import { readTextFile } from "../../io/files.js";
import { loadContext, loadPolicySet } from "../../io/policy-files.js";
import type { Verdict } from "../../policy/ir.js";
import { publicName, terminalText } from "../../report/escape.js";
import { parseJson } from "../../trace/json.js";
import { parseCall } from "../../verify/check.js";
import type { Decision } from "../../verify/decision.js";
import { type GlobalOptions, oneLine } from "../output.js";

/** Exit code of `proof check` per verdict (docs/exit-codes.md): allow and warn let the call run. */
export const CHECK_EXIT: Record<Verdict, number> = { allow: 0, warn: 0, require_approval: 4, block: 3 };

interface CheckOptions {
  policy: string;
  call: string;
  trace?: string;
  context?: string;
}

/** One readable line: `block send_money: rules a, b (reasons x, y)`. */
function describe(d: Decision): string {
  const rules = d.rules.length > 0 ? `: rules ${d.rules.join(", ")} (reasons ${d.reasons.join(", ")})` : "";
  const errors = d.errors.map((e) => `; error in ${e.rule}: ${e.message}`).join("");
  // The tool name is the agent's text: escaped, so a line break or a workflow command shows as such.
  return oneLine(`${d.verdict} ${terminalText(publicName(d.tool))}${rules}${errors}`);
}

/**
 * `proof check --policy P --call CALL.json [--trace PRIOR.jsonl] [--context C]`: decides one tool
 * call, given what happened before it, with the engine of `proof verify`. Prints the decision
 * (as JSON with `--json`); exits 0 (allow, warn), 3 (block) or 4 (require_approval).
 */
export function registerCheck(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command("check")
    .description("decide one tool call; exit 0 allow or warn, 3 block, 4 require_approval")
    .requiredOption("--policy <path>", "policy YAML, IR file, or directory of policies")
    .requiredOption("--call <file>", 'the call, {"tool": "...", "args": {...}}')
    .option("--trace <file>", "the trace before the call (one trace, any format); none when absent")
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions")
    .action((opts: CheckOptions, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const callFile = opts.call;
        const call = parseCall(parseJson(await readTextFile(callFile), callFile), callFile);
        // The CEL engine is loaded only when a policy holds CEL: a policy without costs no load.
        const policies = await withCel(() => loadPolicySet(opts.policy));
        const context = opts.context ? await loadContext(opts.context) : {};
        const prior = opts.trace ? await readPriorFile(opts.trace) : undefined;
        const { decision, warnings } = checkCall({
          policies,
          call,
          ...(prior ? { prior } : {}),
          context,
          callFile,
        });
        if (global.json) process.stdout.write(prettyJson(decision));
        else {
          for (const w of warnings) process.stderr.write(`${oneLine(`warning: ${w}`)}\n`);
          if (!global.quiet) process.stdout.write(`${describe(decision)}\n`);
        }
        return CHECK_EXIT[decision.verdict];
      }),
    );
}
