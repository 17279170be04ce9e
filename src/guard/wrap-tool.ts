/**
 * Middleware for the OpenAI Agents SDK for TypeScript (`@openai/agents`): a function tool whose
 * calls go through a {@link Guard} first. Serialisation only, no policy logic: every decision is
 * the guard's. The SDK is not a dependency; only the shape used here is typed.
 */
import type { Decision } from "../verify/decision.js";
import type { Guard } from "./guard.js";

/**
 * The part of the SDK's `FunctionTool` this adapter uses: `invoke(runContext, input, details?)`
 * where `input` is the model's arguments as a JSON string and `details.toolCall.callId` the id of
 * the call (`@openai/agents-core`, `FunctionTool` of `tool()`); every other field is kept as is.
 */
export interface FunctionToolLike<Context = unknown, Result = unknown> {
  name: string;
  invoke(
    runContext: Context,
    input: string,
    details?: { toolCall?: { callId?: string } } & Record<string, unknown>,
  ): Promise<string | Result>;
}

/** Options of {@link wrapTool}. */
export interface WrapToolOptions {
  /**
   * What a refused call does: `return` (default) gives the model a refusal string as the tool's
   * output, so the run goes on and the agent can recover; `throw` raises a {@link ToolRefusedError}.
   */
  onRefuse?: "return" | "throw";
}

/** A call the guard did not allow (`require_approval` or `block`). */
export class ToolRefusedError extends Error {
  constructor(readonly decision: Decision) {
    super(refusalText(decision));
    this.name = "ToolRefusedError";
  }
}

/** The text a refused call returns: verdict, rule ids and reason codes, no argument values. */
export function refusalText(d: Decision): string {
  const rules = d.rules.length > 0 ? d.rules.join(", ") : "policy default";
  const reasons = d.reasons.length > 0 ? ` (${d.reasons.join(", ")})` : "";
  return `proof: call to ${d.tool} refused: ${d.verdict} by ${rules}${reasons}`;
}

/**
 * Wraps a function tool: the JSON input is parsed (a string that is not JSON is passed on as it
 * is, which rules on arguments treat as an evaluation error: fail closed), the guard decides,
 * only `allow` and `warn` invoke the tool, and the tool's output (strings as they are, anything
 * else as JSON) or its error is observed as the call's result.
 * @returns a copy of the tool with a guarded `invoke`.
 * @throws whatever the tool throws (observed first), or {@link ToolRefusedError} with `onRefuse: "throw"`.
 */
export function wrapTool<T extends FunctionToolLike>(
  tool: T,
  guard: Guard,
  options: WrapToolOptions = {},
): T {
  const invoke: FunctionToolLike["invoke"] = async (runContext, input, details) => {
    let args: unknown;
    try {
      args = JSON.parse(input);
    } catch {
      args = input;
    }
    const callId = details?.toolCall?.callId ?? null;
    const decision = guard.check({ tool: tool.name, args, call_id: callId });
    if (decision.verdict !== "allow" && decision.verdict !== "warn") {
      if (options.onRefuse === "throw") throw new ToolRefusedError(decision);
      return refusalText(decision);
    }
    try {
      const result = await tool.invoke(runContext, input, details);
      const content = typeof result === "string" ? result : (JSON.stringify(result) ?? "");
      guard.observe({ type: "tool_result", call_id: callId, tool: tool.name, content });
      return result;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      guard.observe({ type: "tool_result", call_id: callId, tool: tool.name, content: "", error: message });
      throw err;
    }
  };
  return { ...tool, invoke };
}
