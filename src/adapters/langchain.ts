/**
 * Adapter for LangChain.js (`@langchain/core`, tested with 1.4): tools whose calls go through a
 * guard first, and a callback handler that feeds the session's messages and unguarded tools'
 * outputs to the guard (src/adapters/core.ts). Serialisation only. `@langchain/core` is not
 * imported: only the shapes used here are typed (`@langchain/core` src/tools/index.ts
 * `StructuredTool.call` → `_call(arg, runManager, config)`; src/callbacks/base.ts
 * `BaseCallbackHandler`), so users bring their own version.
 */
import type { Guard } from "../guard/guard.js";
import {
  type AdapterOptions,
  contentText,
  type GuardSource,
  newPromptMessages,
  outputText,
  runGuarded,
  stateOf,
} from "./core.js";

/** A LangChain tool (`StructuredTool`, `DynamicStructuredTool`, `DynamicTool`, what `tool()` makes). */
export interface LangChainToolLike {
  name: string;
  invoke(input: unknown, config?: unknown): Promise<unknown>;
  responseFormat?: string;
}

/** The internals of `StructuredTool` this adapter hooks: `call` validates, then runs `_call`. */
interface ToolInternals {
  _call(arg: unknown, runManager?: { runId?: string }, config?: { toolCall?: { id?: string } }): unknown;
}

/** Run ids of tool runs a guarded tool observed itself, per guard source: the handler skips them. */
const guardedRuns = new WeakMap<object, Set<string>>();

function runsOf(source: object): Set<string> {
  let s = guardedRuns.get(source);
  if (!s) {
    s = new Set();
    guardedRuns.set(source, s);
  }
  return s;
}

/**
 * Guards a LangChain tool: every way of running it (`invoke` with arguments or with a model's
 * `ToolCall`, the deprecated `call`) reaches the tool's `_call` after LangChain has validated the
 * input against the schema, and that is where the guard decides, on the validated arguments (a
 * string tool's input is judged as `{input}`), with the `ToolCall`'s id as the call id. Only an
 * allowed (or approved) call runs; its output (the content of a `content_and_artifact` pair;
 * strings as they are, anything else as JSON) or its error is observed.
 *
 * A refused call returns its refusal text (`proof: call to send_money refused: block by ...`) as
 * the tool's output by default, which LangChain wraps in the `ToolMessage` answering the call, so
 * the model learns why and the agent goes on. `onRefuse: "throw"` throws a `ToolRefusedError`
 * instead (LangGraph's `ToolNode` turns it into an error `ToolMessage`; a bare `invoke` rejects).
 *
 * @returns an object whose prototype is the tool (so it is still `instanceof StructuredTool`, with
 *   the same name, schema and description), with a guarded `_call`; the tool itself is unchanged.
 * @throws TypeError when the tool has no `_call` (not a LangChain tool): it could not be guarded.
 */
export function guardLangChainTool<T extends LangChainToolLike>(
  tool: T,
  guard: GuardSource,
  options: AdapterOptions = {},
): T {
  const inner = (tool as unknown as Partial<ToolInternals>)._call;
  if (typeof inner !== "function")
    throw new TypeError(
      `proof: ${String(tool.name)} is not a LangChain tool (no _call): it cannot be guarded`,
    );
  const guarded = Object.create(tool) as T & ToolInternals;
  const pair = tool.responseFormat === "content_and_artifact";
  guarded._call = async function (this: unknown, arg, runManager, config) {
    if (typeof runManager?.runId === "string") runsOf(guard).add(runManager.runId);
    const call = {
      tool: tool.name,
      args: typeof arg === "string" ? { input: arg } : arg,
      call_id: config?.toolCall?.id ?? null,
    };
    const outcome = await runGuarded(
      guard,
      call,
      options,
      async () => inner.call(this, arg, runManager, config),
      (result) => outputText(pair && Array.isArray(result) ? result[0] : result),
    );
    if (outcome.ran) return outcome.result;
    if (options.onRefuse === "throw") throw outcome.refusal;
    return pair ? [outcome.refusal.message, undefined] : outcome.refusal.message;
  };
  return guarded;
}

/** Guards each tool of a list with {@link guardLangChainTool}, the same guard and options. */
export function guardLangChainTools<T extends LangChainToolLike>(
  tools: readonly T[],
  guard: GuardSource,
  options: AdapterOptions = {},
): T[] {
  return tools.map((t) => guardLangChainTool(t, guard, options));
}

/** A LangChain message, as callbacks receive it (`BaseMessage`). */
interface MessageLike {
  type?: string;
  _getType?: () => string;
  content?: unknown;
}

function typeOf(m: MessageLike): string {
  return typeof m.type === "string" ? m.type : typeof m._getType === "function" ? m._getType() : "";
}

function promptRole(m: MessageLike): "system" | "user" | null {
  const t = typeOf(m);
  return t === "system" || t === "developer" ? "system" : t === "human" ? "user" : null;
}

/**
 * A LangChain callback handler (the `BaseCallbackHandler` shape; pass it in `callbacks`) that
 * feeds the guard what its rules may depend on besides the guarded calls:
 *
 * - `handleChatModelStart`: the new system and user messages of the prompt (those after its last
 *   AI or tool message, each message object once), trusted content for provenance rules;
 * - `handleLLMEnd`: the model's answer, as the assistant message that holds the calls it makes;
 * - `handleToolEnd`: the output of a tool that is not guarded (a guarded tool observes its own),
 *   untrusted content unless a policy's `sources` says otherwise; `handleToolError`: its error.
 *
 * Completion-style LLMs (`handleLLMStart`, a prompt string holding the whole history) are not
 * observed: their prompt mixes tool outputs with the user's words, and observing it as a user
 * message would make untrusted content trusted. The handler awaits each observation
 * (`awaitHandlers`), so the guard has it before the next call is decided. A guard that is a
 * promise is awaited; if it rejects, nothing is observed (every guarded call is refused anyway).
 */
export class ProofCallbackHandler {
  readonly name = "proof_guard";
  readonly awaitHandlers = true;
  readonly raiseError = false;
  private readonly toolRuns = new Map<string, { tool: string; call_id: string | null }>();

  constructor(
    private readonly guard: GuardSource,
    private readonly options: Pick<AdapterOptions, "onWarning"> = {},
  ) {}

  private async withGuard(action: (g: Guard) => void): Promise<void> {
    let g: Guard;
    try {
      g = await this.guard;
    } catch {
      return;
    }
    try {
      action(g);
    } catch (err) {
      // What the guard could not take would be missing from later decisions: refuse from now on.
      const state = stateOf(this.guard);
      const message = `the guard could not observe the session: ${err instanceof Error ? err.message : String(err)}`;
      state.fault ??= { reason: "guard_fault", message };
      (this.options.onWarning ?? ((m: string) => process.emitWarning(m, { type: "ProofWarning" })))(
        `proof: ${message}`,
      );
    }
  }

  async handleChatModelStart(_llm: unknown, messages: MessageLike[][]): Promise<void> {
    const state = stateOf(this.guard);
    const prompt = newPromptMessages(messages[0] ?? [], promptRole, (m) => contentText(m.content));
    await this.withGuard((g) => {
      for (const m of prompt) {
        if (state.seen.has(m.key)) continue;
        state.seen.add(m.key);
        g.observe({ type: "message", role: m.role, content: m.content });
      }
    });
  }

  async handleLLMEnd(output: { generations?: { text?: string; message?: MessageLike }[][] }): Promise<void> {
    const first = output.generations?.[0]?.[0];
    if (!first) return;
    const content = first.message ? contentText(first.message.content) : (first.text ?? "");
    await this.withGuard((g) => g.observe({ type: "message", role: "assistant", content }));
  }

  async handleToolStart(
    tool: { name?: string; id?: string[] },
    _input: string,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    _metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): Promise<void> {
    const name = runName ?? tool.name ?? tool.id?.[tool.id.length - 1] ?? "";
    this.toolRuns.set(runId, { tool: name, call_id: toolCallId ?? null });
  }

  async handleToolEnd(output: unknown, runId: string): Promise<void> {
    const run = this.toolRuns.get(runId);
    this.toolRuns.delete(runId);
    if (runsOf(this.guard).delete(runId) || !run) return;
    // A ToolMessage's content, else the output itself.
    const inner =
      output !== null && typeof output === "object" && "content" in output ? output.content : output;
    const content =
      typeof inner === "string" || !Array.isArray(inner) ? outputText(inner) : contentText(inner);
    await this.withGuard((g) =>
      g.observe({ type: "tool_result", call_id: run.call_id, tool: run.tool, content }),
    );
  }

  async handleToolError(err: unknown, runId: string): Promise<void> {
    const run = this.toolRuns.get(runId);
    this.toolRuns.delete(runId);
    if (runsOf(this.guard).delete(runId) || !run) return;
    const error = err instanceof Error ? err.message : String(err);
    await this.withGuard((g) =>
      g.observe({ type: "tool_result", call_id: run.call_id, tool: run.tool, content: "", error }),
    );
  }
}
