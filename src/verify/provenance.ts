import { getPath } from "../expr/matchers.js";
import type { Trace, TraceEvent } from "../trace/model.js";
import { AhoCorasick } from "./aho-corasick.js";
import { type CompiledPolicy, LEVEL } from "./compiled.js";

/** Values shorter than this (after normalisation) never match: "100" or "yes" prove nothing. */
export const MIN_VALUE_LENGTH = 4;

/** Where an argument value was first seen in content at or below the asked level. */
export interface ProvenanceHit {
  /** The argument leaf value as the call had it (numbers in canonical JSON form). */
  value: string;
  /** The earliest source event holding it. */
  source: TraceEvent;
  integrity: "unknown" | "untrusted";
  /** Normalisations needed for the match (`case` when only a case-insensitive match exists). */
  normalisation: string[];
}

/** Normalises a value for matching: surrounding whitespace dropped, lower case. */
export function normaliseValue(value: string): string {
  return value.trim().toLowerCase();
}

/**
 * Leaf values of an argument for provenance: strings as they are, numbers in canonical JSON
 * form, arrays and objects contributing each leaf separately. Booleans and null carry no
 * provenance and are skipped.
 */
export function leafValues(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (typeof value === "number") out.push(JSON.stringify(value));
  else if (Array.isArray(value)) for (const v of value) leafValues(v, out);
  else if (value !== null && typeof value === "object")
    for (const v of Object.values(value)) leafValues(v, out);
  return out;
}

/**
 * The text of an event that reaches the model: a message's content, a tool result's content and
 * its error text (a failing tool's message is tool output too, and can carry injected values).
 */
function contentOf(event: TraceEvent): string[] {
  if (event.type === "tool_call") return [];
  const texts = event.content === "" ? [] : [event.content];
  if (event.type === "tool_result" && event.error) texts.push(event.error);
  return texts;
}

/**
 * Provenance of every argument value of one trace (DESIGN.md §2). Built once per trace: the
 * argument values that provenance rules look at become the patterns of one Aho-Corasick
 * automaton, and every content event is scanned once, recording per value the earliest event at
 * each integrity level. A query is then a few map lookups: no quadratic rescan of the trace.
 */
export class ProvenanceIndex {
  private readonly patternIndex = new Map<string, number>();
  /** earliest[level][pattern]: seq of the first event of that level holding the pattern, or -1. */
  private readonly earliest: Int32Array[];
  private readonly events: readonly TraceEvent[];

  private constructor(patterns: string[], trace: Trace, levelOf: (e: TraceEvent) => number) {
    this.events = trace.events;
    for (const [i, p] of patterns.entries()) this.patternIndex.set(p, i);
    this.earliest = [0, 1, 2].map(() => new Int32Array(patterns.length).fill(-1));
    if (patterns.length === 0) return;
    const automaton = new AhoCorasick(patterns);
    for (const event of trace.events) {
      if (event.type === "tool_call") continue;
      const level = levelOf(event);
      if (level < 0) continue;
      const first = this.earliest[level] as Int32Array;
      for (const text of contentOf(event)) {
        automaton.scan(text.toLowerCase(), (p) => {
          if (first[p] === -1) first[p] = event.seq;
        });
      }
    }
  }

  /**
   * Builds the index of one trace for one policy (integrity comes from the policy's `sources`).
   * Only argument paths named by a provenance rule that is a candidate for the call's tool
   * contribute patterns.
   */
  static build(trace: Trace, policy: CompiledPolicy): ProvenanceIndex {
    const patterns = new Set<string>();
    for (const e of trace.events) {
      if (e.type !== "tool_call") continue;
      for (const rule of policy.rulesForTool(e.tool)) {
        const prov = rule.ir.match.provenance;
        if (!prov) continue;
        for (const path of prov.args) {
          for (const v of leafValues(getPath(e.args, path))) {
            const n = normaliseValue(v);
            if (n.length >= MIN_VALUE_LENGTH) patterns.add(n);
          }
        }
      }
    }
    const levelOf = (e: TraceEvent): number =>
      e.type === "message"
        ? policy.roleIntegrity(e.role)
        : policy.toolIntegrity(e.type === "tool_result" ? e.tool : null);
    return new ProvenanceIndex([...patterns].sort(), trace, levelOf);
  }

  /**
   * Whether `value`, an argument of the call at `seq`, came from content at or below `from`:
   * it occurs in such content before the call and in no earlier trusted content.
   */
  lookup(value: string, seq: number, from: "unknown" | "untrusted"): ProvenanceHit | undefined {
    const p = this.patternIndex.get(normaliseValue(value));
    if (p === undefined) return undefined;
    const trusted = this.earliest[LEVEL.trusted]?.[p] ?? -1;
    if (trusted !== -1 && trusted < seq) return undefined;
    let best = -1;
    let bestLevel: "unknown" | "untrusted" = "untrusted";
    for (const level of from === "unknown" ? (["untrusted", "unknown"] as const) : (["untrusted"] as const)) {
      const s = this.earliest[LEVEL[level]]?.[p] ?? -1;
      if (s !== -1 && s < seq && (best === -1 || s < best)) {
        best = s;
        bestLevel = level;
      }
    }
    if (best === -1) return undefined;
    const source = this.events[best] as TraceEvent;
    const exact = contentOf(source).some((text) => text.includes(value.trim()));
    const normalisation = [...(value.trim() !== value ? ["whitespace"] : []), ...(exact ? [] : ["case"])];
    return { value, source, integrity: bestLevel, normalisation };
  }
}
