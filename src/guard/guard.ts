/**
 * The live guard (docs/boundary.md): decides tool calls one at a time, as they happen, with the same
 * engine, the same activation and the same policies as `proof verify`. Pure: no file system.
 */

import type { JsonValue } from "../policy/ir.js";
import type { PolicySet } from "../policy/set.js";
import { TraceBuilder } from "../trace/builder.js";
import type { Trace } from "../trace/model.js";
import type { CompiledPolicy } from "../verify/compiled.js";
import type { Decision } from "../verify/decision.js";
import { activate, Engine } from "../verify/engine.js";
import { ContentIndex, IncrementalProvenance } from "../verify/incremental.js";

/** A tool call about to run: `args` is what the agent passed (an object, normally). */
export interface GuardCall {
  tool: string;
  args: unknown;
  /** The caller's id for the call; a later tool result names it to link result and call. */
  call_id?: string | null;
}

/** Something the guard should know about because later rules may depend on it. */
export type GuardEvent =
  | {
      type: "tool_result";
      /** The id of the call this answers; its tool name is taken from the call when `tool` is absent. */
      call_id?: string | null;
      tool?: string | null;
      content: string;
      error?: string | null;
    }
  | { type: "message"; role: "system" | "user" | "assistant"; content: string };

/** Options of {@link createGuard}. */
export interface GuardOptions {
  /** The context of `when` and CEL conditions (as `proof verify --context`); default `{}`. */
  context?: object;
  /** The `case_id` of the recorded session (the trace's header and every decision); default `guard`. */
  case_id?: string;
}

/** A guard over one session (one agent run). Not shared between sessions. */
export interface Guard {
  /**
   * Decides a call against the session so far (messages and tool results observed before, earlier
   * calls, refused or not), then appends the call to the session. Only `allow` and `warn` should
   * run; the caller enforces that.
   */
  check(call: GuardCall): Decision;
  /** Appends a tool result or a message to the session (what provenance and sequence rules see). */
  observe(event: GuardEvent): void;
  /** The session as a canonical trace (`proof.trace/v1`), refused calls included: a CI fixture. */
  trace(): Trace;
}

/**
 * Arguments as the trace records them: JSON values. What JSON cannot hold (undefined, a function,
 * a cycle, a BigInt) becomes `null`, which the engine treats as arguments that are not an object:
 * an evaluation error for any rule that looks at them (fail closed), as `proof verify` does.
 */
function jsonArgs(args: unknown): JsonValue {
  try {
    const text = JSON.stringify(args);
    return text === undefined ? null : (JSON.parse(text) as JsonValue);
  } catch {
    return null;
  }
}

function isPolicySet(p: PolicySet | readonly CompiledPolicy[]): p is PolicySet {
  return !Array.isArray(p);
}

/**
 * The `trace_id` of a live decision: a session's trace id is a digest of all its events, known
 * when it ends (`trace()`), not at each call.
 */
export const PENDING_TRACE_ID = "pending";

/**
 * Creates a guard for one session. Rules are activated once for `options.context` with the
 * `basic` selector, exactly as `proof verify --context` without a plan.
 *
 * Events get `at` = `events[SEQ]`, calls are held by the latest assistant message (or share the
 * message of the calls just before them; none after a tool result or a user message), as
 * `proof check` does, so `proof verify` on {@link Guard.trace} gives every call the decision
 * `check` gave it.
 *
 * Cost: the session is judged incrementally ({@link Engine.live}): sequence state is kept
 * between calls, and `observe` normalises and indexes each content event once (and parses a
 * tool result that a field rule names; the injection detector waits for a value found in a
 * result), so a `check`
 * searches only its own argument values, in the events that may hold them, remembering how far
 * each value was searched ({@link IncrementalProvenance}). Time per call does not grow with the
 * session's length (docs/performance.md), except for a value that occurs in many events, whose
 * first search visits each of them once. Memory grows with the content: a few copies of its
 * text, its 4-gram index and the parsed leaves. Decisions carry {@link PENDING_TRACE_ID}:
 * digesting the history on every call would cost a pass over it.
 *
 * @throws Error from `check` only on an engine bug; evaluation errors of rules are decisions
 *   (`block` when the policy is `fail_closed`, else `warn`).
 */
export function createGuard(
  policies: PolicySet | readonly CompiledPolicy[],
  options: GuardOptions = {},
): Guard {
  const compiled = isPolicySet(policies) ? policies.compiled : [...policies];
  const context: object = options.context ?? {};
  const caseId = options.case_id ?? "guard";
  const engine = new Engine(compiled, activate(compiled, context), context);
  const builder = new TraceBuilder();
  // The live trace: its events array is the builder's, which grows as the session does.
  const live = builder.snapshot(caseId, "proof", caseId, PENDING_TRACE_ID);
  const content = new ContentIndex(live.events);
  /** The indexes of the policies with a provenance rule: only those are read ahead. */
  const indexes: IncrementalProvenance[] = [];
  const run = engine.live(live, (policy) => {
    const index = new IncrementalProvenance(policy, content);
    if ([...policy.rules.values()].some((r) => r.ir.match.provenance)) indexes.push(index);
    return index;
  });
  let length = 0;
  /** Seq of the message that holds the next call, if it comes now. */
  let holder: number | null = null;

  const build = (): Trace => builder.build(caseId, "proof", caseId);

  return {
    check(call) {
      const seq = builder.toolCall(
        holder,
        call.call_id ?? null,
        call.tool,
        jsonArgs(call.args),
        `events[${length}]`,
      );
      length++;
      const decisions = run.advance();
      const decision = decisions[decisions.length - 1];
      if (decision?.seq !== seq) throw new Error("guard: the engine did not decide the appended call");
      return decision;
    },
    observe(event) {
      const at = `events[${length}]`;
      if (event.type === "message") {
        const seq = builder.message(event.role, event.content, at);
        holder = event.role === "assistant" ? seq : null;
      } else {
        builder.toolResult(event.call_id ?? null, event.tool ?? null, event.content, event.error ?? null, at);
        holder = null;
      }
      length++;
      // Content is normalised, indexed and (where a policy reads it leaf by leaf) parsed now, not
      // at the next check: a check's latency must not carry the results observed before it.
      for (const index of indexes) index.prepare();
    },
    trace() {
      // A deep copy: the caller may keep or change it while the session goes on.
      return structuredClone(build());
    },
  };
}

/** A guard that times its checks: for writers that export a decision's latency with it. */
export interface TimedGuard extends Guard {
  /** Wall time of the last `check`, in milliseconds (0 before the first). */
  lastCheckMs(): number;
}

/**
 * Wraps a guard so that each `check` is timed (`performance.now`, milliseconds); for code that
 * hands the guard to something it does not control (the MCP proxy) and learns of the decision
 * right after (its `decided` port). `observe` and `trace` are the guard's own.
 */
export function timedGuard(guard: Guard): TimedGuard {
  let last = 0;
  return {
    check(call) {
      const start = performance.now();
      try {
        return guard.check(call);
      } finally {
        last = performance.now() - start;
      }
    },
    observe: (event) => guard.observe(event),
    trace: () => guard.trace(),
    lastCheckMs: () => last,
  };
}
