/**
 * Lineage of one decision (`proof ledger lineage`, docs/boundary.md): the call, the policies and
 * the rules that fired, and each evidence step back to the event it names, with the hashes of the
 * ledger records that prove the decision and each source event. A decision record and the records
 * of its source events are linked by the writer's `session` and the event's `seq` (see
 * src/ledger/session.ts). Pure: the lines are read by src/io/ledger-file.ts.
 */
import type { KeyObject } from "node:crypto";
import type { EventRef, Evidence } from "../verify/decision.js";
import { checkRecord, EMPTY_TIP, type LedgerObservation, type LedgerRecord, parseRecord } from "./ledger.js";
import type { CallSummary, PolicyRef } from "./session.js";

/** Which decision: a ledger record's `seq`, or the id of the call it decided. */
export type LineageTarget = { seq: number } | { callId: string };

/** A ledger record as lineage cites it. */
export interface RecordRef {
  seq: number;
  hash: string;
}

/**
 * Where an event named by evidence stands in the ledger: `recorded` with the record proving it
 * (an observation record for a tool result or message, the decision record for a tool call);
 * `mismatch` when the record of that session and seq describes another event (type or tool
 * differ); `not_recorded` with the reason (a ledger written without observations, or a decision
 * without a session).
 */
export type SourceProof =
  | { status: "recorded"; record: RecordRef; observation?: LedgerObservation }
  | { status: "mismatch"; record: RecordRef; reason: string }
  | { status: "not_recorded"; reason: string };

/** One evidence step: the evidence as recorded, and the proof of each event it names. */
export interface LineageStep {
  rule: string;
  kind: Evidence["kind"];
  /** The evidence as the decision record holds it (values only as far as the ledger keeps them). */
  evidence: Evidence;
  /** The events it names (`source`, `found`, `since`), in that order, each with its proof. */
  events: { role: "source" | "found" | "since"; event: EventRef; proof: SourceProof }[];
}

/**
 * The lineage of one decision (the `--json` shape of `proof ledger lineage`, docs/cli.md).
 * `verified_records`: records whose chain (and with a key, signature) was checked, from seq 0
 * through the decision's record.
 */
export interface Lineage {
  verified_records: number;
  signed: boolean;
  decision: {
    record: RecordRef;
    session: string | null;
    case_id: string | null;
    /** The call's event seq and address in the session's trace. */
    seq: number | null;
    at: string | null;
    tool: string | null;
    call: CallSummary | null;
    verdict: string | null;
    reasons: string[];
    /** The rules that fired, with their effects (null when the writer did not record them). */
    rules: { id: string; effect: string | null }[];
    policies: PolicyRef[] | null;
    approval: string | null;
  };
  steps: LineageStep[];
}

/** Why lineage could not be given: `broken` (exit 2: the chain does not verify), `input` (exit 6). */
export interface LineageProblem {
  kind: "broken" | "input";
  /** 1-based ledger line, when the problem is at one. */
  line: number | null;
  message: string;
}

type DecisionFields = {
  session?: unknown;
  case_id?: unknown;
  seq?: unknown;
  at?: unknown;
  tool?: unknown;
  call?: unknown;
  verdict?: unknown;
  reasons?: unknown;
  rules?: unknown;
  effects?: unknown;
  policies?: unknown;
  approval?: unknown;
  evidence?: unknown;
};

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function fieldsOf(record: LedgerRecord): DecisionFields {
  const d = record.decision;
  return d !== null && typeof d === "object" && !Array.isArray(d) ? (d as DecisionFields) : {};
}

/** The events a piece of evidence names. */
function eventsOf(e: Evidence): { role: "source" | "found" | "since"; event: EventRef }[] {
  switch (e.kind) {
    case "provenance":
      return [{ role: "source", event: e.source }];
    case "forbid_before":
      return [
        { role: "found", event: e.found },
        ...(e.since ? [{ role: "since" as const, event: e.since }] : []),
      ];
    case "require_before":
      return e.since ? [{ role: "since", event: e.since }] : [];
    default:
      return [];
  }
}

/**
 * Finds the decision, verifies the chain from the first record through it, and traces its evidence
 * to the records of the events it names (only records before the decision's count).
 * @param lines the ledger's lines (no final empty line).
 * @param publicKey when given, every record through the decision must be signed by it.
 * @returns the lineage, or the problem (a broken chain, or no such decision).
 */
export function traceLineage(
  lines: readonly string[],
  target: LineageTarget,
  publicKey?: KeyObject,
): Lineage | LineageProblem {
  const records: LedgerRecord[] = [];
  let index: number | undefined;
  const matches: number[] = [];
  for (const [i, text] of lines.entries()) {
    const record = parseRecord(text);
    // A line that is no record: the chain is broken there (found again by the check below).
    if (typeof record === "string") break;
    records.push(record);
    if (record.decision === undefined) continue;
    if ("seq" in target) {
      if (record.seq === target.seq && i === target.seq) index = i;
    } else {
      const call = fieldsOf(record).call as { call_id?: unknown } | undefined;
      if (call?.call_id === target.callId) matches.push(i);
    }
  }
  if ("callId" in target) {
    if (matches.length > 1)
      return {
        kind: "input",
        line: null,
        message: `call id '${target.callId}' is decided by records ${matches.join(", ")}: name one with --seq`,
      };
    index = matches[0];
  }
  if (index === undefined) {
    // The chain up to where the search stopped must hold before "no such record" is said.
    const broken = verifyThrough(lines, lines.length - 1, publicKey);
    if (broken) return broken;
    const what =
      "seq" in target
        ? `no decision record with seq ${target.seq}`
        : `no decision record for call id '${target.callId}'`;
    return { kind: "input", line: null, message: what };
  }
  const broken = verifyThrough(lines, index, publicKey);
  if (broken) return broken;

  const record = records[index] as LedgerRecord;
  const d = fieldsOf(record);
  const session = str(d.session);
  const effects =
    d.effects !== null && typeof d.effects === "object" && !Array.isArray(d.effects)
      ? (d.effects as Record<string, unknown>)
      : undefined;
  const steps: LineageStep[] = [];
  const evidence = Array.isArray(d.evidence) ? (d.evidence as Evidence[]) : [];
  for (const e of evidence) {
    steps.push({
      rule: e.rule,
      kind: e.kind,
      evidence: e,
      events: eventsOf(e).map(({ role, event }) => ({
        role,
        event,
        proof: prove(records.slice(0, index), session, event),
      })),
    });
  }
  return {
    verified_records: index + 1,
    signed: publicKey !== undefined,
    decision: {
      record: { seq: record.seq, hash: record.hash },
      session,
      case_id: str(d.case_id),
      seq: Number.isInteger(d.seq) ? (d.seq as number) : null,
      at: str(d.at),
      tool: str(d.tool),
      call: d.call !== null && typeof d.call === "object" ? (d.call as CallSummary) : null,
      verdict: str(d.verdict),
      reasons: strings(d.reasons),
      rules: strings(d.rules).map((id) => ({ id, effect: effects ? str(effects[id]) : null })),
      policies: Array.isArray(d.policies) ? (d.policies as PolicyRef[]) : null,
      approval: str(d.approval),
    },
    steps,
  };
}

/** Checks records 0..last (inclusive). @returns the first problem, or undefined. */
function verifyThrough(
  lines: readonly string[],
  last: number,
  publicKey?: KeyObject,
): LineageProblem | undefined {
  let tip = EMPTY_TIP;
  for (let i = 0; i <= last; i++) {
    const next = checkRecord(tip, lines[i] as string, publicKey);
    if (typeof next === "string") return { kind: "broken", line: i + 1, message: next };
    tip = next;
  }
  return undefined;
}

/** The record of the event `ref` names in `session`, among the records before the decision. */
function prove(before: readonly LedgerRecord[], session: string | null, ref: EventRef): SourceProof {
  if (session === null)
    return {
      status: "not_recorded",
      reason: "the decision record names no session (written without lineage)",
    };
  for (let i = before.length - 1; i >= 0; i--) {
    const r = before[i] as LedgerRecord;
    const at = { seq: r.seq, hash: r.hash };
    if (r.observation !== undefined) {
      const o = r.observation;
      if (o.session !== session || o.seq !== ref.seq) continue;
      if (o.type !== ref.type)
        return {
          status: "mismatch",
          record: at,
          reason: `the record is a ${o.type}, the evidence names a ${ref.type}`,
        };
      if (ref.type === "tool_result" && ref.tool != null && o.tool !== null && o.tool !== ref.tool)
        return {
          status: "mismatch",
          record: at,
          reason: `the record is a result of ${o.tool}, the evidence names ${ref.tool}`,
        };
      return { status: "recorded", record: at, observation: o };
    }
    const d = fieldsOf(r);
    if (ref.type === "tool_call" && d.session === session && d.seq === ref.seq) {
      if (ref.tool != null && d.tool !== ref.tool)
        return {
          status: "mismatch",
          record: at,
          reason: `the record decides ${String(d.tool)}, the evidence names ${ref.tool}`,
        };
      return { status: "recorded", record: at };
    }
  }
  return {
    status: "not_recorded",
    reason:
      ref.type === "tool_call"
        ? "no decision record of this session has that seq"
        : "no observation record of this session has that seq (the writer recorded no observations)",
  };
}
