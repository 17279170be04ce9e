/**
 * Adapter for the OpenAI Agents SDK for TypeScript (`@openai/agents`, tested with 0.14): a
 * function tool whose calls go through a guard first (src/adapters/core.ts). Serialisation only.
 * The SDK is not imported: only the shape of its `FunctionTool` used here is typed, so users bring
 * their own SDK version.
 */
import { type AdapterOptions, type GuardSource, runGuarded } from "./core.js";

/**
 * The part of the SDK's `FunctionTool` this adapter uses: `invoke(runContext, input, details?)`
 * where `input` is the model's arguments as a JSON string and `details.toolCall.callId` the id of
 * the call (`@openai/agents-core` src/tool.ts, `FunctionTool`, as `tool()` makes it); every other
 * field is kept as it is.
 */
export interface FunctionToolLike<Context = unknown, Result = unknown> {
  name: string;
  invoke(
    runContext: Context,
    input: string,
    details?: { toolCall?: { callId?: string } } & Record<string, unknown>,
  ): Promise<string | Result>;
}

/**
 * Wraps a function tool: the JSON input is parsed (a string that is not JSON is judged as it is,
 * which rules on arguments treat as an evaluation error: fail closed), the guard decides, and only
 * an allowed (or approved) call invokes the tool; its output (strings as they are, anything else
 * as JSON) or its error is observed as the call's result.
 *
 * A refused call returns its refusal text (`proof: call to send_money refused: block by
 * payee_untrusted (payee_from_untrusted_content)`) as the tool's output by default: the SDK hands
 * tool errors to the model as text too (`errorFunction`), and a thrown error would end the run.
 * `onRefuse: "throw"` throws a `ToolRefusedError` instead (the run then fails with it).
 *
 * @returns a copy of the tool (own fields copied) whose `invoke` is guarded; the original is unchanged.
 * @throws whatever the tool throws (observed first), or `ToolRefusedError` with `onRefuse: "throw"`.
 */
export function guardAgentsTool<T extends FunctionToolLike>(
  tool: T,
  guard: GuardSource,
  options: AdapterOptions = {},
): T {
  const invoke: FunctionToolLike["invoke"] = async (runContext, input, details) => {
    let args: unknown;
    try {
      args = JSON.parse(input);
    } catch {
      args = input;
    }
    const call = { tool: tool.name, args, call_id: details?.toolCall?.callId ?? null };
    const outcome = await runGuarded(guard, call, options, () => tool.invoke(runContext, input, details));
    if (outcome.ran) return outcome.result;
    if (options.onRefuse === "throw") throw outcome.refusal;
    return outcome.refusal.message;
  };
  return { ...tool, invoke };
}
