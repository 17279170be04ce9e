import type { Command } from "commander";
import { inputError } from "../../errors.js";
import { prettyJson } from "../../io/canonical.js";
import { listTraceFiles, readTextFile } from "../../io/files.js";
import { loadContext, loadPolicySet } from "../../io/policy-files.js";
import { traceSource } from "../../io/trace-files.js";
import type { Verdict } from "../../policy/ir.js";
import { publicName, terminalText } from "../../report/escape.js";
import { parseJson } from "../../trace/json.js";
import type { Trace } from "../../trace/model.js";
import { readTraces } from "../../trace/read.js";
import { decideCall, parseCall } from "../../verify/check.js";
import type { Decision } from "../../verify/decision.js";
import { activate, Engine } from "../../verify/engine.js";
import { type GlobalOptions, oneLine } from "../output.js";

/** Exit code of `proof check` per verdict (docs/exit-codes.md): allow and warn let the call run. */
export const CHECK_EXIT: Record<Verdict, number> = { allow: 0, warn: 0, require_approval: 4, block: 3 };

interface CheckOptions {
  policy: string;
  call: string;
  trace?: string;
  context?: string;
}

/**
 * Reads the one prior trace of `--trace`.
 * @throws ProofError `check.trace_count` (exit 6) when the file holds more than one trace, and the
 *   reader's errors.
 */
async function readPrior(file: string): Promise<Trace> {
  let prior: Trace | undefined;
  for (const found of await listTraceFiles(file)) {
    for await (const trace of readTraces(traceSource(found))) {
      if (prior) {
        throw inputError("check.trace_count", "--trace must hold one trace, not several", {
          file: found.path,
        });
      }
      prior = trace;
    }
  }
  if (!prior) throw inputError("trace.none", `no trace found in ${file}`, { file });
  return prior;
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
        const policies = await loadPolicySet(opts.policy);
        const context = opts.context ? await loadContext(opts.context) : {};
        const prior = opts.trace ? await readPrior(opts.trace) : undefined;
        const activation = activate(policies.compiled, context);
        const engine = new Engine(policies.compiled, activation, context);
        const decision = decideCall(engine, call, prior, callFile);
        if (global.json) process.stdout.write(prettyJson(decision));
        else {
          for (const w of activation.warnings) process.stderr.write(`${oneLine(`warning: ${w}`)}\n`);
          if (!global.quiet) process.stdout.write(`${describe(decision)}\n`);
        }
        return CHECK_EXIT[decision.verdict];
      }),
    );
}
