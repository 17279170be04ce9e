/**
 * Builders shared by the engine tests: policies from YAML text, traces from a compact list of
 * steps, and one call to run the whole decision engine.
 */
import { compilePolicy } from "../../src/policy/compile.js";
import type { JsonValue } from "../../src/policy/ir.js";
import { TraceBuilder } from "../../src/trace/builder.js";
import type { Trace } from "../../src/trace/model.js";
import { type CompiledPolicy, compileIR } from "../../src/verify/compiled.js";
import type { Decision, TraceResult } from "../../src/verify/decision.js";
import { type Activation, activate, Engine } from "../../src/verify/engine.js";

/** Compiles policy YAML all the way to an evaluable policy. */
export function policy(yaml: string, file = "policy.yaml"): CompiledPolicy {
  return compileIR(compilePolicy(yaml, file));
}

/** A policy with the given rules (YAML list items, already indented by two spaces). */
export function rules(body: string, head = ""): CompiledPolicy {
  return policy(`schema: proof.policy/v1\npolicy_id: test.v1\n${head}rules:\n${body}`);
}

/** One step of a trace: a message, or an assistant message with tool calls, or a tool result. */
export type Step =
  | { user: string }
  | { system: string }
  | { assistant: string; calls?: { tool: string; args?: JsonValue; id?: string }[] }
  | { result: string; tool: string; id?: string; error?: string }
  | { call: string; args?: JsonValue; id?: string };

/**
 * Builds a trace from steps. `{assistant, calls}` is one assistant message holding its calls;
 * `{call}` is a tool call outside any message (an MCP log); `{result}` answers a call.
 */
export function trace(steps: readonly Step[], caseId = "case.json"): Trace {
  const b = new TraceBuilder();
  let calls = 0;
  steps.forEach((s, i) => {
    const at = `messages[${i}]`;
    if ("user" in s) b.message("user", s.user, at);
    else if ("system" in s) b.message("system", s.system, at);
    else if ("assistant" in s) {
      const m = b.message("assistant", s.assistant, at);
      (s.calls ?? []).forEach((c, j) => {
        b.toolCall(m, c.id ?? `c${calls++}`, c.tool, c.args ?? {}, `${at}.tool_calls[${j}]`);
      });
    } else if ("result" in s) b.toolResult(s.id ?? null, s.tool, s.result, s.error ?? null, at);
    else b.toolCall(null, s.id ?? `c${calls++}`, s.call, s.args ?? {}, at);
  });
  return b.build(caseId, "openai", caseId);
}

/** Activates every policy for a context and judges a trace. */
export function verify(
  policies: CompiledPolicy | readonly CompiledPolicy[],
  t: Trace,
  context: unknown = {},
): TraceResult & { activation: Activation } {
  const list = Array.isArray(policies) ? policies : [policies as CompiledPolicy];
  const activation = activate(list, context);
  return { ...new Engine(list, activation, context).verify(t), activation };
}

/** The decision on the only (or the `n`-th) tool call of a trace. */
export function decision(result: TraceResult, n = 0): Decision {
  const d = result.decisions[n];
  if (!d) throw new Error(`no decision #${n}: the trace has ${result.decisions.length}`);
  return d;
}

/** The decision on the last call of `tool` in a trace. */
export function lastCall(result: TraceResult, tool: string): Decision {
  const d = result.decisions.filter((x) => x.tool === tool).at(-1);
  if (!d) throw new Error(`no call of ${tool}`);
  return d;
}

/** Verdicts of every call, in order: compact to assert on. */
export function verdicts(result: TraceResult): string[] {
  return result.decisions.map((d) => d.verdict);
}
