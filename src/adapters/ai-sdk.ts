/**
 * Adapter for the Vercel AI SDK (`ai`, tested with 5.0): tools whose `execute` goes through a
 * guard first (src/adapters/core.ts). Serialisation only. The SDK is not imported: only the shape
 * of a tool used here is typed (`ai` src/tool, `Tool.execute(input, {toolCallId, messages})`), so
 * users bring their own SDK version.
 */
import { type AdapterOptions, contentText, type GuardSource, newPromptMessages, runGuarded } from "./core.js";

/** The options the SDK passes to `execute` (`ToolCallOptions`); only these fields are read. */
export interface AiSdkToolCallOptions {
  toolCallId?: string;
  /** The messages the model was given for the step that made the call (`ModelMessage[]`). */
  messages?: readonly { role?: string; content?: unknown }[];
}

/** A tool as `tool({...})` of `ai` makes it: a tool without `execute` runs elsewhere and is not guarded. */
export interface AiSdkToolLike {
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's execute is generic in its input and output.
  execute?: (input: any, options: any) => unknown;
}

/** Options of {@link guardAiSdkTools}. */
export interface AiSdkAdapterOptions extends AdapterOptions {
  /**
   * Observe the system and user messages of the prompt each call was made from (default true),
   * so that a value the user gave is trusted content for provenance rules.
   */
  observePrompt?: boolean;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return v !== null && typeof v === "object" && Symbol.asyncIterator in v;
}

function promptRole(m: { role?: string }): "system" | "user" | null {
  return m.role === "system" || m.role === "user" ? m.role : null;
}

/**
 * Guards every tool of a tool set (the `tools` of `generateText`/`streamText`): each `execute` is
 * wrapped so that the guard decides the call (its `input` as the SDK validated it, its
 * `toolCallId` as the call id) and only an allowed (or approved) call runs; the output (strings as
 * they are, anything else as JSON; for an `execute` that yields, the last value yielded, so preliminary
 * outputs of a streaming tool are not passed on one by one) or the
 * error is observed as the call's result. The system and user messages of the step's prompt are
 * observed first (see {@link AiSdkAdapterOptions.observePrompt}).
 *
 * A refused call throws a `ToolRefusedError` by default: the SDK turns a throwing `execute` into a
 * `tool-error` part and hands its message (`proof: call to send_money refused: block by ...`) to
 * the model as the call's error output, so the run goes on and the refusal is visible in
 * `steps[].content`. `onRefuse: "return"` returns the refusal text as the tool's output instead.
 *
 * Tools without `execute` are returned unchanged, with a warning (`onWarning`): their calls are
 * executed by the caller, who must guard them.
 * @returns a new tool set; the given tools are unchanged.
 */
export function guardAiSdkTools<Tools extends Record<string, AiSdkToolLike>>(
  tools: Tools,
  guard: GuardSource,
  options: AiSdkAdapterOptions = {},
): Tools {
  const out: Record<string, AiSdkToolLike> = {};
  for (const [name, tool] of Object.entries(tools)) {
    const execute = tool.execute;
    if (typeof execute !== "function") {
      (options.onWarning ?? ((m: string) => process.emitWarning(m, { type: "ProofWarning" })))(
        `proof: tool ${name} has no execute function and is not guarded: guard its calls where they run`,
      );
      out[name] = tool;
      continue;
    }
    const guarded = async (input: unknown, callOptions: AiSdkToolCallOptions = {}) => {
      const prompt =
        options.observePrompt === false
          ? []
          : newPromptMessages(callOptions.messages ?? [], promptRole, (m) => contentText(m.content));
      const call = { tool: name, args: input, call_id: callOptions.toolCallId ?? null, prompt };
      const outcome = await runGuarded(guard, call, options, async () => {
        const result = await execute.call(tool, input, callOptions);
        if (!isAsyncIterable(result)) return result;
        // A streaming tool: its last value is its output (the SDK's rule for `final`).
        let last: unknown;
        for await (const part of result) last = part;
        return last;
      });
      if (outcome.ran) return outcome.result;
      if (options.onRefuse === "return") return outcome.refusal.message;
      throw outcome.refusal;
    };
    out[name] = { ...tool, execute: guarded };
  }
  return out as Tools;
}
