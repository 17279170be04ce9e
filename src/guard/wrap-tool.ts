/**
 * The first, narrower name of the OpenAI Agents SDK adapter (src/adapters/openai-agents.ts), kept
 * for programs written against it: `wrapTool(tool, guard, {onRefuse})` is
 * `guardAgentsTool(tool, guard, {onRefuse})`.
 */
import { guardAgentsTool } from "../adapters/openai-agents.js";
import type { Guard } from "./guard.js";

export { refusalText, ToolRefusedError } from "../adapters/core.js";
export type { FunctionToolLike } from "../adapters/openai-agents.js";

import type { FunctionToolLike } from "../adapters/openai-agents.js";

/** Options of {@link wrapTool}. */
export interface WrapToolOptions {
  /**
   * What a refused call does: `return` (default) gives the model a refusal string as the tool's
   * output, so the run goes on and the agent can recover; `throw` raises a `ToolRefusedError`.
   */
  onRefuse?: "return" | "throw";
}

/**
 * Wraps a function tool so that the guard decides each call first; see `guardAgentsTool`, which
 * also takes an approval callback, a ledger and a span exporter.
 * @returns a copy of the tool with a guarded `invoke`.
 * @throws whatever the tool throws (observed first), or `ToolRefusedError` with `onRefuse: "throw"`.
 */
export function wrapTool<T extends FunctionToolLike>(
  tool: T,
  guard: Guard,
  options: WrapToolOptions = {},
): T {
  return guardAgentsTool(tool, guard, options.onRefuse ? { onRefuse: options.onRefuse } : {});
}
