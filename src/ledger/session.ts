/**
 * What a ledger writer adds so that a decision can be traced to its cause later (`proof ledger
 * lineage`, docs/boundary.md): a session id on every record of one guarded session, the call's id
 * and an argument summary on each decision, and an observation record for each tool result or
 * message the guard observed. Pure: the writer hands the records to its open ledger.
 */
import { randomUUID } from "node:crypto";
import type { Guard, GuardCall, GuardEvent } from "../guard/guard.js";
import { digestOf } from "../io/canonical.js";
import type { PolicySet } from "../policy/set.js";
import type { Decision } from "../verify/decision.js";
import { contentDigest, type LedgerObservation } from "./ledger.js";

/** A policy as a decision record names it: its id and its digest (docs/policy.md). */
export interface PolicyRef {
  id: string;
  digest: string;
}

/**
 * The call a decision record describes, without argument values (the ledger keeps no more of the
 * arguments than the decision's evidence already holds): the top-level argument names, sorted,
 * and `sha256:` + hex SHA-256 of the arguments' canonical JSON (RFC 8785), so that whoever holds
 * the arguments can show that they are the ones judged.
 */
export interface CallSummary {
  call_id: string | null;
  arg_names: string[];
  args_sha256: string;
}

/**
 * A decision as a writer appends it: the guard's decision, plus `session` (the key observation
 * records share), `call` when the call is known (a message refused before it could be judged has
 * none), `policies` and `effects` (rule id → the rule's effect, for the decision's `rules`) when
 * the writer knows the policy set.
 */
export type LedgerDecision = Decision & {
  session: string;
  call?: CallSummary;
  policies?: PolicyRef[];
  effects?: Record<string, string>;
};

/** What {@link LedgerSession} knows of the policies (from a {@link PolicySet}). */
export interface PolicyFacts {
  policies: PolicyRef[];
  effects: ReadonlyMap<string, string>;
}

/** The facts a decision record takes from a policy set: digests, and every rule's effect. */
export function policyFacts(set: PolicySet): PolicyFacts {
  const effects = new Map<string, string>();
  for (const ir of set.irs) for (const rule of ir.rules) effects.set(rule.id, rule.effect);
  return {
    policies: set.irs.map((ir) => ({ id: ir.policy_id, digest: ir.policy_digest })),
    effects,
  };
}

function summary(call: GuardCall): CallSummary {
  const args = call.args;
  const names =
    args !== null && typeof args === "object" && !Array.isArray(args) ? Object.keys(args).sort() : [];
  let sha = digestOf(null);
  try {
    // As the guard records them: what JSON cannot hold reads as null (src/guard/guard.ts).
    const text = JSON.stringify(args);
    sha = digestOf(text === undefined ? null : JSON.parse(text));
  } catch {
    // A cycle or a BigInt: the guard judged null, and so does the summary.
  }
  return { call_id: call.call_id ?? null, arg_names: names, args_sha256: sha };
}

/**
 * One guarded session's side of the ledger. Event seqs follow the guard's numbering: each
 * `check` and each `observe` is one event, in order, so `decision` must be called right after
 * `check` and `observation` right after `observe`, with nothing of the session in between; a
 * decision's own `seq` moves the count on, so that an observation's seq is the one later evidence
 * names as its `source.seq`.
 */
export class LedgerSession {
  private next = 0;

  /** @param id the session id (default a random UUID): unique per session within a ledger. */
  constructor(
    readonly id: string = randomUUID(),
    private readonly facts?: PolicyFacts,
  ) {}

  /**
   * The record for a decision the guard just gave on `call` (call it before the session's next
   * observation). A decision with `seq` -1 (no event: refused before judging) counts no event.
   */
  decision(decision: Decision, call?: GuardCall): LedgerDecision {
    if (decision.seq >= 0) this.next = Math.max(this.next, decision.seq + 1);
    const out: LedgerDecision = { ...decision, session: this.id };
    if (call) out.call = summary(call);
    if (this.facts) {
      out.policies = this.facts.policies;
      out.effects = Object.fromEntries(
        decision.rules.map((r) => [r, this.facts?.effects.get(r) ?? "unknown"]),
      );
    }
    return out;
  }

  /** The observation record of an event the guard has just observed (call it after `observe`). */
  observation(event: GuardEvent): LedgerObservation {
    const seq = this.next++;
    const base = { session: this.id, seq, at: `events[${seq}]` };
    if (event.type === "message")
      return {
        ...base,
        type: "message",
        role: event.role,
        tool: null,
        call_id: null,
        error: false,
        content_sha256: contentDigest(event.content),
      };
    return {
      ...base,
      type: "tool_result",
      tool: event.tool ?? null,
      call_id: event.call_id ?? null,
      error: event.error !== undefined && event.error !== null,
      content_sha256: contentDigest(event.content),
    };
  }
}

/**
 * A guard that also hands each observed event to `record` as an observation record (after the
 * guard took it: an event the guard refused is no part of the session). `check` and `trace` are
 * the guard's own. For writers that give the guard to code they do not control (the MCP proxy).
 */
export function observingGuard(
  guard: Guard,
  session: LedgerSession,
  record: (observation: LedgerObservation) => void,
): Guard {
  return {
    check: (call) => guard.check(call),
    observe(event) {
      guard.observe(event);
      record(session.observation(event));
    },
    trace: () => guard.trace(),
  };
}
