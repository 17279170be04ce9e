/**
 * The one enforcement path every framework adapter shares (docs/integrations/): ask the guard,
 * ask for approval when the policy says `require_approval`, record the decision (ledger, span),
 * run the tool only when allowed, observe its output. Adapters only translate their SDK's shapes
 * into a {@link GuardedCall} and back; no policy logic lives here or in them: every verdict is the
 * guard's. Pure: no file system (the ledger and the exporter are handed in already open).
 *
 * Fail closed: a guard that throws, a guard that cannot be had (its promise rejected: the policy
 * could not be loaded), an approval callback that throws, and a ledger that cannot be opened or
 * written each refuse the call before the tool body runs. After a guard or ledger fault every later
 * call through the same guard is refused too, as `proof mcp proxy` does: a session whose record
 * has a hole cannot be judged any more.
 */
import type { Guard, GuardEvent } from "../guard/guard.js";
import { PENDING_TRACE_ID } from "../guard/guard.js";
import type { LedgerObservation } from "../ledger/ledger.js";
import { LedgerSession } from "../ledger/session.js";
import type { Decision } from "../verify/decision.js";

/**
 * The guard of a session, or a promise of it: a promise that rejects (a policy that cannot be
 * loaded, `loadPolicy(path).then(createGuard)`) makes every call refused, so an agent can be
 * wired before the policy is read without a window in which calls run unguarded.
 */
export type GuardSource = Guard | PromiseLike<Guard>;

/** The part of an open ledger (`openLedger`, src/io/ledger-file.ts) that adapters write to. */
export interface LedgerSink {
  /** Appends one record; a rejection refuses the call being decided. */
  append(decision: unknown): Promise<void>;
  /**
   * Appends one observation record (a tool result or prompt message the guard observed), so that
   * `proof ledger lineage` can prove where a value came from; a sink without it records decisions
   * only. A rejection is a ledger fault: the call being decided, or every later one, is refused.
   */
  observe?(observation: LedgerObservation): Promise<void>;
}

/** The part of a decision exporter (`createDecisionExporter`, src/telemetry/otel.ts) adapters use. */
export interface SpanSink {
  export(decision: Decision, meta?: { run_id?: string; policy_digest?: string; latency_ms?: number }): void;
}

/** What the approval callback is asked: the call the policy wants a person (or a system) to approve. */
export interface ApprovalRequest {
  tool: string;
  /** The arguments the guard judged (JSON values), the very ones the tool will get if approved. */
  args: unknown;
  /** The SDK's id of the call, when it has one. */
  call_id: string | null;
  /** The guard's decision: `verdict: "require_approval"`, with its `rules` and `reasons`. */
  decision: Decision;
}

/**
 * How a `require_approval` decision ended, as the ledger records it (`approval` beside the
 * decision): `approved` (the callback resolved `true`: the tool ran), `denied` (it resolved
 * anything else), `no_approver` (no callback: refused), `approver_failed` (it threw or rejected:
 * refused).
 */
export type ApprovalOutcome = "approved" | "denied" | "no_approver" | "approver_failed";

/** What a refused call does in the SDK: hand the model a refusal text, or throw {@link ToolRefusedError}. */
export type RefusalMode = "return" | "throw";

/** Options shared by every adapter (`guardLangChainTool`, `guardAiSdkTools`, `guardAgentsTool`). */
export interface AdapterOptions {
  /**
   * Asked for every `require_approval` decision; only `true` runs the tool. Without it,
   * `require_approval` refuses. It may take as long as it needs (a person answering): the call
   * waits, the ledger record is written once the answer is known.
   */
  approve?: (request: ApprovalRequest) => Promise<boolean> | boolean;
  /**
   * Where each decision is appended (`openLedger(path)`, or its promise): one record per decision,
   * `{...decision, approval?}`. A rejected promise or a failed append refuses the call.
   */
  ledger?: LedgerSink | PromiseLike<LedgerSink>;
  /** Where each decision goes as an OpenTelemetry span (`createDecisionExporter`); low-risk fields only. */
  exporter?: SpanSink;
  /** Added to every span: the run's id and the policy (bundle) digest. */
  spanMeta?: { run_id?: string; policy_digest?: string };
  /** Overrides the adapter's default (see each adapter's docstring) for refused calls. */
  onRefuse?: RefusalMode;
  /** Problems that do not refuse a call (a span that could not be exported); default `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

/** Why a call was refused. */
export type RefusalKind = "policy" | "approval" | "fault";

/**
 * A call that did not run: the policy refused it (`block`, or `require_approval` without an
 * approval), or the guard, the approval callback or the ledger failed (`kind: "fault"`, `decision`
 * a `block` with reason `guard_fault`, `approval_fault` or `ledger_fault`).
 */
export class ToolRefusedError extends Error {
  readonly kind: RefusalKind;
  constructor(
    readonly decision: Decision,
    options: { kind?: RefusalKind; message?: string } = {},
  ) {
    super(options.message ?? refusalText(decision));
    this.name = "ToolRefusedError";
    this.kind = options.kind ?? "policy";
  }
}

/** The text a refused call returns: verdict, rule ids and reason codes, no argument values. */
export function refusalText(d: Decision): string {
  const rules = d.rules.length > 0 ? d.rules.join(", ") : "policy default";
  const reasons = d.reasons.length > 0 ? ` (${d.reasons.join(", ")})` : "";
  return `proof: call to ${d.tool} refused: ${d.verdict} by ${rules}${reasons}`;
}

/** One tool call as an adapter hands it over: what the tool body will receive, as JSON values. */
export interface GuardedCall {
  tool: string;
  args: unknown;
  call_id: string | null;
  /**
   * Prompt messages the SDK hands the tool (see {@link newPromptMessages}), observed before the call
   * is decided; each `key` object is observed once per guard, however many calls carry it.
   */
  prompt?: readonly PromptMessage[];
}

/** A system or user message of the prompt: trusted content for provenance rules. */
export interface PromptMessage {
  role: "system" | "user";
  content: string;
  /** The SDK's message object: what makes the message "already observed". */
  key: object;
}

/**
 * The messages of a prompt the guard should observe: the system and user messages after the last
 * message of any other role (assistant, tool). Earlier ones belong to turns the session has seen
 * (or to a history it started after); assistant and tool messages reach the guard by other paths
 * (the model's answer, the tool's output), and observing a tool's output again as a prompt message
 * would be wrong twice over: once more, and under a trusted role.
 * @param roleOf the message's role in the guard's terms, or null for any other role.
 */
export function newPromptMessages<M extends object>(
  messages: readonly M[],
  roleOf: (m: M) => "system" | "user" | null,
  textOf: (m: M) => string,
): PromptMessage[] {
  let start = 0;
  messages.forEach((m, i) => {
    if (roleOf(m) === null) start = i + 1;
  });
  return messages
    .slice(start)
    .map((m) => ({ role: roleOf(m) as "system" | "user", content: textOf(m), key: m }));
}

/**
 * The text of message content as SDKs give it: a string, or a list of parts of which the text ones
 * (`{type: "text", text}`) count, joined by newlines; anything else is none.
 */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter(
      (p): p is { text: string } =>
        p !== null &&
        typeof p === "object" &&
        (p as { type?: unknown }).type === "text" &&
        typeof (p as { text?: unknown }).text === "string",
    )
    .map((p) => p.text)
    .join("\n");
}

/** The outcome of {@link runGuarded}: the body's result, or the refusal the adapter must hand back. */
export type GuardedOutcome<T> = { ran: true; result: T } | { ran: false; refusal: ToolRefusedError };

/** Per guard source: the fault that refuses every later call, shared by all tools of the session. */
const faults = new WeakMap<object, SessionState>();

/** A fault that refuses calls: the reason code of the recorded `block`, and what happened. */
interface Fault {
  reason: "guard_fault" | "ledger_fault";
  message: string;
}

/** What adapters keep per guard source. */
interface SessionState {
  fault?: Fault;
  /** Prompt messages already observed. */
  seen: WeakSet<object>;
  /** The session's records' session id and event count (src/ledger/session.ts). */
  ledger: LedgerSession;
}

/** The state every adapter shares for one guard source (one session). */
export function stateOf(source: object): SessionState {
  let s = faults.get(source);
  if (!s) {
    s = { seen: new WeakSet(), ledger: new LedgerSession() };
    faults.set(source, s);
  }
  return s;
}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return (
    v !== null &&
    (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function"
  );
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The `block` decision standing for a call no policy could judge (`seq` -1: no event of the trace). */
function faultDecision(call: GuardedCall, reason: string, message: string): Decision {
  return {
    case_id: "guard",
    trace_id: PENDING_TRACE_ID,
    seq: -1,
    at: "",
    tool: call.tool,
    verdict: "block",
    rules: [],
    reasons: [reason],
    evidence: [],
    errors: [{ rule: "", message }],
  };
}

/**
 * A tool's output as the guard observes it: strings as they are, anything else as JSON (what
 * JSON cannot hold reads as its `String`).
 */
export function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  try {
    return JSON.stringify(output) ?? String(output);
  } catch {
    return String(output);
  }
}

const RUNS = new Set(["allow", "warn"]);

/** Arguments as JSON values, a copy the approval callback cannot change the call through. */
function jsonCopy(v: unknown): unknown {
  try {
    const text = JSON.stringify(v);
    return text === undefined ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

function defaultWarning(message: string): void {
  process.emitWarning(message, { type: "ProofWarning" });
}

/**
 * Decides and, when allowed, runs one call: the path every adapter takes.
 *
 * 1. The guard (awaited when a promise) decides; a missing or throwing guard is a `guard_fault`.
 * 2. `require_approval` asks `options.approve`; only `true` lets the call run.
 * 3. The decision goes to the ledger (awaited: a failure refuses the call) and to the exporter
 *    (a failure only warns: export observes, it never decides).
 * 4. Only then, and only for `allow`, `warn` or an approved call, `body` runs; its output (mapped
 *    by `output`) or its error is observed as the call's result.
 *
 * @returns the body's result, or the refusal (never thrown here: the adapter decides how its SDK
 *   shows it).
 * @throws whatever `body` throws (after observing it as the call's error).
 */
export async function runGuarded<T>(
  source: GuardSource,
  call: GuardedCall,
  options: AdapterOptions,
  body: () => Promise<T>,
  output: (result: T) => string = outputText,
): Promise<GuardedOutcome<T>> {
  const state = stateOf(source);
  const warn = options.onWarning ?? defaultWarning;
  const started = performance.now();
  let guard: Guard | undefined;
  let fault: Fault | undefined = state.fault;
  if (fault === undefined) {
    try {
      guard = isThenable(source) ? await source : source;
    } catch (err) {
      fault = { reason: "guard_fault", message: `the guard could not be created: ${messageOf(err)}` };
      state.fault ??= fault;
    }
  }
  let decision: Decision;
  /** Observation records of prompt messages, appended before the decision's record. */
  const observed: LedgerObservation[] = [];
  if (guard !== undefined && fault === undefined) {
    try {
      for (const m of call.prompt ?? []) {
        if (state.seen.has(m.key)) continue;
        state.seen.add(m.key);
        const event: GuardEvent = { type: "message", role: m.role, content: m.content };
        guard.observe(event);
        observed.push(state.ledger.observation(event));
      }
      decision = guard.check({ tool: call.tool, args: call.args, call_id: call.call_id });
    } catch (err) {
      fault = { reason: "guard_fault", message: `the guard failed: ${messageOf(err)}` };
      state.fault ??= fault;
      decision = faultDecision(call, fault.reason, fault.message);
    }
  } else {
    // Set above whenever there is no guard.
    const f = fault as Fault;
    decision = faultDecision(call, f.reason, f.message);
  }
  const latency = performance.now() - started;
  // Taken at once, before another call of the session reaches the guard (it numbers the events).
  const entry = state.ledger.decision(decision, { tool: call.tool, args: call.args, call_id: call.call_id });

  let approval: ApprovalOutcome | undefined;
  let approvalError: string | undefined;
  if (fault === undefined && decision.verdict === "require_approval") {
    if (!options.approve) approval = "no_approver";
    else {
      try {
        const ok = await options.approve({
          tool: call.tool,
          args: jsonCopy(call.args),
          call_id: call.call_id,
          decision,
        });
        approval = ok === true ? "approved" : "denied";
      } catch (err) {
        approval = "approver_failed";
        approvalError = messageOf(err);
      }
    }
  }

  if (options.ledger !== undefined) {
    const record = approval === undefined ? entry : { ...entry, approval };
    try {
      const ledger = isThenable(options.ledger) ? await options.ledger : options.ledger;
      // Queued in order (the ledger serialises appends): the observations first, then the decision.
      const appends = ledger.observe ? observed.map((o) => ledger.observe?.(o)) : [];
      appends.push(ledger.append(record));
      await Promise.all(appends);
    } catch (err) {
      // Every later call is refused too: their records would follow a hole in the chain.
      fault ??= { reason: "ledger_fault", message: `the ledger could not be written: ${messageOf(err)}` };
      state.fault ??= fault;
    }
  }
  // What was enforced: a call refused because its record could not be kept is a `block`.
  const enforced =
    fault?.reason === "ledger_fault" ? faultDecision(call, fault.reason, fault.message) : decision;
  if (options.exporter !== undefined) {
    try {
      options.exporter.export(enforced, { ...options.spanMeta, latency_ms: latency });
    } catch (err) {
      warn(`proof: the decision on ${call.tool} could not be exported as a span: ${messageOf(err)}`);
    }
  }

  if (fault !== undefined) {
    return {
      ran: false,
      refusal: new ToolRefusedError(enforced, {
        kind: "fault",
        message: `proof: call to ${call.tool} refused: ${fault.message}`,
      }),
    };
  }
  const runs = RUNS.has(decision.verdict) || approval === "approved";
  if (!runs) {
    if (approval === undefined) return { ran: false, refusal: new ToolRefusedError(decision) };
    const why =
      approval === "no_approver"
        ? "no approval callback is configured"
        : approval === "denied"
          ? "approval denied"
          : `the approval callback failed: ${approvalError}`;
    return {
      ran: false,
      refusal: new ToolRefusedError(decision, {
        kind: "approval",
        message: `${refusalText(decision)}; ${why}`,
      }),
    };
  }

  const observe = async (content: string, error: string | null) => {
    const event: GuardEvent = { type: "tool_result", call_id: call.call_id, tool: call.tool, content, error };
    try {
      guard?.observe(event);
    } catch (err) {
      // A result the guard could not take would hide provenance from later decisions.
      const message = `a tool result could not be observed: ${messageOf(err)}`;
      state.fault ??= { reason: "guard_fault", message };
      warn(`proof: ${message}`);
      return;
    }
    if (options.ledger === undefined) return;
    // Numbered now, before any other call of the session reaches the guard.
    const observation = state.ledger.observation(event);
    try {
      const ledger = isThenable(options.ledger) ? await options.ledger : options.ledger;
      await ledger.observe?.(observation);
    } catch (err) {
      // Later decisions could name this result as a source that the ledger cannot prove.
      const message = `the ledger could not be written: ${messageOf(err)}`;
      state.fault ??= { reason: "ledger_fault", message };
      warn(`proof: ${message}`);
    }
  };
  let result: T;
  try {
    result = await body();
  } catch (err) {
    await observe("", messageOf(err));
    throw err;
  }
  await observe(output(result), null);
  return { ran: true, result };
}
