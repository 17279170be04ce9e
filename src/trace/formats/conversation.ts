import type { JsonValue } from "../../policy/ir.js";
import type { TraceBuilder } from "../builder.js";

/** A tool call inside a recorded message. */
export interface RecordedCall {
  id: string | null;
  name: string;
  args: JsonValue;
  at: string;
}

/** A tool result inside a recorded message (a `tool` message, or a result part of any message). */
export interface RecordedResult {
  id: string | null;
  name: string | null;
  content: string;
  error: string | null;
  at: string;
}

/** One message of an inference call's input or output, as span- and run-based formats record it. */
export interface RecordedMessage {
  role: "system" | "user" | "assistant" | "tool";
  text: string;
  calls: RecordedCall[];
  results: RecordedResult[];
  at: string;
}

/** Identity of a message for history comparison: what it says, not where it was recorded. */
function keyOf(m: RecordedMessage): string {
  return JSON.stringify([
    m.role,
    m.text,
    m.calls.map((c) => [c.id, c.name, c.args]),
    m.results.map((r) => [r.id, r.content]),
  ]);
}

/**
 * Turns the inference calls and tool executions of an OpenTelemetry trace or a LangChain run
 * tree, in execution order, into one conversation. Each inference call's input repeats the
 * history so far (the model is stateless): only what follows the part already seen is new.
 * A tool execution answers the call of the same id (or, without ids, the earliest unanswered
 * call of the same tool); one whose call was never seen becomes a call outside any message, so
 * it is still judged. A result recorded twice (by the execution and in the next input) is kept once.
 */
export class ConversationAssembler {
  private history: string[] = [];
  private readonly called = new Set<string>();
  private readonly answered = new Set<string>();
  /** Calls not yet answered, in order: how id-less executions find their call. */
  private readonly pending: { id: string | null; name: string }[] = [];

  constructor(private readonly builder: TraceBuilder) {}

  /** One inference call: its input messages (history included) and its output messages. */
  inference(input: readonly RecordedMessage[], output: readonly RecordedMessage[]): void {
    const keys = input.map(keyOf);
    let k = 0;
    while (k < keys.length && k < this.history.length && keys[k] === this.history[k]) k++;
    this.history = this.history.slice(0, k);
    for (const [i, m] of input.entries()) {
      if (i < k) continue;
      this.emit(m);
      this.history.push(keys[i] as string);
    }
    for (const m of output) {
      this.emit(m);
      this.history.push(keyOf(m));
    }
  }

  /** One tool execution (`execute_tool` span, `tool` run). */
  execution(
    id: string | null,
    name: string,
    args: JsonValue,
    result: { content: string; error: string | null },
    callAt: string,
    resultAt: string,
  ): void {
    let callId = id;
    if (id !== null && this.called.has(id)) {
      if (this.answered.has(id)) return;
    } else {
      const waiting = id === null ? this.pending.find((p) => p.name === name) : undefined;
      if (waiting) callId = waiting.id;
      else this.call(null, { id, name, args, at: callAt });
    }
    this.result({ id: callId, name, content: result.content, error: result.error, at: resultAt }, true);
  }

  private emit(m: RecordedMessage): void {
    const onlyResults = m.results.length > 0 && m.text === "" && m.calls.length === 0;
    if (m.role !== "tool" && !onlyResults) {
      const seq = this.builder.message(m.role, m.text, m.at);
      for (const c of m.calls) this.call(seq, c);
    }
    for (const r of m.results) this.result(r, false);
  }

  private call(seq: number | null, c: RecordedCall): void {
    if (c.id !== null && this.called.has(c.id)) return;
    this.builder.toolCall(seq, c.id, c.name, c.args, c.at);
    if (c.id !== null) this.called.add(c.id);
    this.pending.push({ id: c.id, name: c.name });
  }

  private result(r: RecordedResult, byExecution: boolean): void {
    if (r.id !== null && this.answered.has(r.id)) return;
    const i = this.pending.findIndex((p) =>
      r.id !== null ? p.id === r.id : byExecution ? p.name === r.name : p.id === null,
    );
    if (i !== -1) this.pending.splice(i, 1);
    this.builder.toolResult(r.id, r.name, r.content, r.error, r.at);
    if (r.id !== null) this.answered.add(r.id);
  }
}
