import { getPath } from "../expr/matchers.js";
import { formatPath, matchesFieldPattern, type PathStep } from "../policy/field-path.js";
import type { ProvenanceLevel } from "../policy/ir.js";
import type { MessageEvent, ToolCallEvent, ToolResultEvent, Trace, TraceEvent } from "../trace/model.js";
import { AhoCorasick } from "./aho-corasick.js";
import { type CompiledPolicy, LEVEL, LEVEL_NAME } from "./compiled.js";
import { type ContentLeaf, contentLeaves, parseStructured } from "./content.js";
import { type EventRef, eventRef } from "./decision.js";
import { detectInjection, type InjectionSpan } from "./injection.js";

/** Values shorter than this (after normalisation) never match: "100" or "yes" prove nothing. */
export const MIN_VALUE_LENGTH = 4;

/** Where an argument value was first seen in content at or below the asked level. */
export interface ProvenanceHit {
  /** The argument leaf value as the call had it (numbers in canonical JSON form). */
  value: string;
  /** The earliest source event holding it, as evidence refers to it (a fresh object per hit). */
  source: EventRef;
  integrity: ProvenanceLevel;
  /** Normalisations needed for the match (`case` when only a case-insensitive match exists). */
  normalisation: string[];
  /**
   * The leaf of structured content holding the value: its path in the content (`[4].subject`)
   * and its full address (`messages[3].content[4].subject`). Only for policies with field rules
   * or `from: injected`, which read structured content leaf by leaf.
   */
  field?: { path: string; at: string };
  /** For an `injected` hit: the detector rules that marked the span and its extent in the leaf's (or content's) text. */
  injection?: InjectionSpan;
}

/** Normalises a value for matching: surrounding whitespace dropped, lower case. */
export function normaliseValue(value: string): string {
  return value.trim().toLowerCase();
}

/** A URL scheme at the start of a value (`https://`, `ftp://`). */
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//;
/** What people put between the groups of an IBAN, a card or a phone number. */
const SEPARATORS = /[\s\-()]+/g;
/**
 * Every code unit {@link SEPARATORS} matches: ECMAScript's WhiteSpace and LineTerminator (its
 * `\s`, ECMA-262 "CharacterClassEscape"), `-`, `(` and `)`. A test compares it with the
 * expression over all code units.
 */
export const SEPARATOR_UNITS =
  "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" +
  "\u2028\u2029\u202f\u205f\u3000\ufeff-()";
/** An identifier that spacing may split: letters, digits and a leading `+`, with at least 4 digits. */
const SPACED_IDENTIFIER = /^\+?[0-9a-z]+$/;

/**
 * A family of normalisations: one function for argument values (`pattern`, undefined when the
 * family does not apply to the value) and one for content (`text`). A value matches in a family
 * when its pattern is a substring of the content's text, so both sides are normalised alike and
 * each content event is scanned once per family, whatever the number of values.
 */
export interface Family {
  name: "plain" | "url" | "spacing";
  pattern(value: string): string | undefined;
  /** The content's text in this family, from the text already lower-cased (done once for all families). */
  text(lower: string): string;
  /**
   * The code units `text` removes, when that is all it does: a scan that passes over them in the
   * lower-cased content finds what a scan of `text(lower)` finds, without the copy.
   */
  drops?: string;
}

/** Lower-cased content as it is: the text of the families that change only the values. */
const asIs = (lower: string): string => lower;

/**
 * The families, strictest first: evidence reports the strictest one that explains a hit.
 * Families with the same `text` function share one automaton and one scan.
 */
export const FAMILIES: readonly Family[] = [
  // Case and surrounding whitespace: a value inside the content, as the content has it.
  { name: "plain", pattern: normaliseValue, text: asIs },
  // URL scheme and trailing slashes: `https://www.x.com/` in an argument, `www.x.com` in the
  // content. Only for values that have either (the plain family already finds a bare value
  // inside a longer URL). The value loses both; the content needs no change, since a bare host
  // is found inside a URL as it is, so this family shares the plain family's scan.
  {
    name: "url",
    pattern(value) {
      const n = normaliseValue(value);
      const core = n.replace(SCHEME, "").replace(/\/+$/, "");
      return core === n ? undefined : core;
    },
    text: asIs,
  },
  // Spacing inside identifiers: `DE89 3704 0044 0532 0130 00` and `DE89370400440532013000`,
  // `+1 (555) 010-9999` and `+15550109999`. Only for values that are such identifiers once the
  // separators are gone, so that words run together never match across a space.
  {
    name: "spacing",
    pattern(value) {
      const core = normaliseValue(value).replace(SEPARATORS, "");
      if (!SPACED_IDENTIFIER.test(core) || !hasDigits(core, 4)) return undefined;
      return core;
    },
    text: (lower) => lower.replace(SEPARATORS, ""),
    drops: SEPARATOR_UNITS,
  },
];

/**
 * Whether `text` holds at least `count` ASCII digits. Counted in place: every check asks it of
 * each value, and a list of the digits (what `match` gives) is garbage a live guard collects.
 */
function hasDigits(text: string, count: number): boolean {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++n >= count) return true;
  }
  return false;
}

/**
 * Whether a value is too short to prove anything once every normalisation has had its way
 * (`https://x.y/` is `x.y`, `12 3` is `123`): such a value never matches, in any family.
 */
export function tooShort(value: string): boolean {
  const core = normaliseValue(value).replace(SCHEME, "").replace(/\/+$/, "").replace(SEPARATORS, "");
  return core.length < MIN_VALUE_LENGTH;
}

/**
 * The values a leaf stands for: itself, and the elements of a list written as a string
 * (`'["a@b.com"]'`, as some models encode list arguments), each marked as unwrapped.
 */
export function variants(value: string): { value: string; unwrapped: boolean }[] {
  const t = value.trim();
  if (t.startsWith("[") && t.endsWith("]")) {
    try {
      const parsed: unknown = JSON.parse(t);
      if (Array.isArray(parsed)) {
        return leafValues(parsed).map((v) => ({ value: v, unwrapped: true }));
      }
    } catch {
      // Not JSON: an ordinary string that happens to be bracketed.
    }
  }
  return [{ value, unwrapped: false }];
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
export function contentOf(event: TraceEvent): string[] {
  if (event.type === "tool_call") return [];
  const texts = event.content === "" ? [] : [event.content];
  if (event.type === "tool_result" && event.error) texts.push(event.error);
  return texts;
}

/**
 * One text of a content event that provenance scans, with its integrity: a leaf of structured
 * content, or a whole text (a message, a tool result that is not structured, an error text).
 */
export interface Unit {
  text: string;
  level: number;
  /** Path of a leaf of structured content. */
  path?: PathStep[];
  /**
   * Whether the injection detector reads this unit (a policy asking for `injected`, content below
   * `trusted`, not a mapping key), and its spans once read: the detector runs on a unit's first
   * hit only, since spans matter only where an argument value occurs.
   */
  detect?: boolean;
  spans?: InjectionSpan[];
}

/** Leaves of a content event once parsed (null: not structured), per event: parsed once per trace. */
const parsedLeaves = new WeakMap<TraceEvent, ContentLeaf[] | null>();
/** Detector spans per event and text, computed once whatever the number of policies. */
const detected = new WeakMap<TraceEvent, Map<string, InjectionSpan[]>>();

function leavesOf(event: TraceEvent): ContentLeaf[] | null {
  let leaves = parsedLeaves.get(event);
  if (leaves === undefined) {
    const value = event.type === "tool_result" ? parseStructured(event.content) : undefined;
    leaves = value === undefined ? null : contentLeaves(value);
    parsedLeaves.set(event, leaves);
  }
  return leaves;
}

export function spansOf(event: TraceEvent, text: string): InjectionSpan[] {
  let byText = detected.get(event);
  if (!byText) {
    byText = new Map();
    detected.set(event, byText);
  }
  let spans = byText.get(text);
  if (!spans) {
    spans = detectInjection(text);
    byText.set(text, spans);
  }
  return spans;
}

/** Where the earliest hit of a pattern at a level was: the unit (for evidence) and the span hit. */
export interface Detail {
  unit: Unit;
  span?: InjectionSpan;
  /**
   * The unit's field path as evidence gives it (`[4].subject`, {@link formatPath}), when the
   * index keeps it formatted; else it is formatted from `unit.path`.
   */
  path?: string;
  /**
   * The event the unit is in, as evidence refers to it, when the index keeps it beside the unit:
   * giving evidence then reads nothing of the event itself, which in a live session may be long
   * out of the processor's caches. Copied into each hit.
   */
  source?: EventRef;
}

/** One family's automaton over the trace: its patterns, and where each was first seen per level. */
interface FamilyIndex {
  family: Family;
  patterns: Map<string, number>;
  /** owners[p]: pattern p as the automaton that looks for it knows it. */
  owners: Owner[];
  /**
   * earliest[level][pattern]: seq of the first event of that level holding the pattern, or -1,
   * among the events read so far (see {@link Owner.pending}).
   */
  earliest: Int32Array[];
  /** detail[level][pattern]: where that first hit was (only when content is read by units). */
  detail: (Detail | undefined)[][];
}

/** Whether a later argument occurs in content, in this family: the seq of the earliest hit per level. */
interface Candidate {
  seq: number;
  level: ProvenanceLevel;
  family: Family;
  value: string;
  unwrapped: boolean;
  detail: Detail | undefined;
}

/** The levels a provenance condition counts, lowest first: `from` and everything below it. */
const COUNTED: Record<ProvenanceLevel, readonly ProvenanceLevel[]> = {
  injected: ["injected"],
  untrusted: ["injected", "untrusted"],
  unknown: ["injected", "untrusted", "unknown"],
};

/** The code units of {@link SEPARATOR_UNITS} below 128 (1 each), and the others. */
const SEPARATOR_ASCII = new Uint8Array(128);
const SEPARATOR_OTHER = new Set<number>();
for (let i = 0; i < SEPARATOR_UNITS.length; i++) {
  const c = SEPARATOR_UNITS.charCodeAt(i);
  if (c < 128) SEPARATOR_ASCII[c] = 1;
  else SEPARATOR_OTHER.add(c);
}

/** Whether a code unit is one that {@link SEPARATORS} removes. */
function isSeparatorUnit(c: number): boolean {
  return c < 128 ? SEPARATOR_ASCII[c] === 1 : SEPARATOR_OTHER.has(c);
}

/**
 * For each code unit of a normalised text, the offset of the original code unit it came from:
 * only built for a text with detector spans, to place a hit inside or outside them. The only
 * family whose text differs from the lower-cased content is `spacing`, which drops separators;
 * the others need no map (undefined).
 */
export function offsetMap(normalise: Family["text"], text: string, lower: string): Int32Array | undefined {
  if (lower.length !== text.length) return undefined;
  if (normalise === asIs) return undefined;
  const map: number[] = [];
  for (let i = 0; i < lower.length; i++) if (!isSeparatorUnit(lower.charCodeAt(i))) map.push(i);
  return Int32Array.from(map);
}

/**
 * Pattern k of a scan's automaton: pattern p of family fi, `length` code units long, and the
 * events read by units whose text holds it, which are read leaf by leaf only when a lookup
 * needs them.
 */
interface Owner {
  fi: FamilyIndex;
  p: number;
  length: number;
  /**
   * A pattern of a family that reads content as it is, looked for in a scan that passes over
   * separators: only a hit without any in between counts (its length in the content is its own).
   */
  contiguous: boolean;
  /** Seqs, ascending, of the events read by units whose raw (or unfolded) text holds the pattern. */
  pending: number[];
  /** Position in `pending` of the first event that may not have been read yet. */
  next: number;
}

/**
 * One automaton over the patterns of the families that normalise content alike (and, in the scan
 * that passes over separators, the patterns of families that keep content as it is but hold no
 * separator, see {@link Owner.contiguous}).
 */
interface Scan {
  text: Family["text"];
  /** Whether the automaton passes over the code units a family's text drops, in the lower-cased text. */
  drops: boolean;
  owner: Owner[];
  automaton: AhoCorasick;
}

/** An event read by units whose text holds some pattern, waiting for a lookup that needs it. */
interface Waiting {
  event: MessageEvent | ToolResultEvent;
  level: number;
  /** The patterns its text holds: only these count when its units are read. */
  present: Set<Owner>;
}

/**
 * A line fold of a YAML serialiser, and the whitespace runs that undo it: YAML (as PyYAML writes
 * it) breaks long strings at spaces, so a value of several words ("Riverside View Hotel") can
 * stand in the raw content as `Riverside\n  View Hotel`, and only the parsed leaf holds it whole.
 * Undoing folds changes only whitespace, so only a pattern that holds whitespace, in a family
 * that keeps whitespace, can occur in the unfolded text and not in the raw one.
 */
export const FOLD = /\n[ \t]/;
export const WHITESPACE_RUN = /\s+/g;
const HAS_WHITESPACE = /\s/;

/**
 * The offset in `lower` where a hit of `length` code units that ends at `end` starts: with
 * `drops`, the automaton passed over separators, which the hit spans but does not count.
 */
function hitStart(lower: string, end: number, length: number, drops: boolean): number {
  if (!drops) return end - length + 1;
  let i = end;
  for (let n = 1; n < length; ) if (!isSeparatorUnit(lower.charCodeAt(--i))) n++;
  return i;
}

/** Integrity level of a content event for a policy (`-1`: no source at all, an assistant message). */
export function eventLevel(policy: CompiledPolicy, e: TraceEvent): number {
  return e.type === "message"
    ? policy.roleIntegrity(e.role)
    : policy.toolIntegrity(e.type === "tool_result" ? e.tool : null);
}

/**
 * Whether a policy reads content by units at all: with field rules or `from: injected`, each
 * leaf of structured content is read by itself. Any other policy reads each text whole.
 */
export function readsAnyByUnits(policy: CompiledPolicy): boolean {
  return policy.usesInjection || policy.hasFieldRules;
}

/**
 * Whether an event is read by units for a policy that reads by units: a tool result some field
 * rule may apply to, or content below `trusted` under a policy asking for `injected`. Any other
 * event reads the same whole, and is read so.
 */
export function readsByUnits(
  policy: CompiledPolicy,
  event: MessageEvent | ToolResultEvent,
  level: number,
): boolean {
  if (policy.usesInjection && level < LEVEL.trusted) return true;
  return event.type === "tool_result" && policy.fieldRules(event.tool).length > 0;
}

/**
 * The units of an event for a policy that reads by units: the leaves of a structured tool
 * result (each at the lowest level of the field rules naming it, else the tool's level) or the
 * content whole, then the error text whole. A result no field rule applies to is split into
 * leaves only when the detector marks something in its whole text. With `from: injected` in the
 * policy, every unit below `trusted` that is not a mapping key gets the detector's spans.
 */
export function unitsOf(
  policy: CompiledPolicy,
  event: MessageEvent | ToolResultEvent,
  level: number,
): Unit[] {
  const units: Unit[] = [];
  const rules = event.type === "tool_result" ? policy.fieldRules(event.tool) : [];
  // Without field rules, structure only places detector spans: a result the detector does
  // not mark as a whole reads the same whole, and is not parsed (parsing is the dear part).
  const split =
    event.type === "tool_result" &&
    (rules.length > 0 || (level < LEVEL.trusted && spansOf(event, event.content).length > 0));
  const leaves = split ? leavesOf(event) : null;
  const detect = (unit: Unit): void => {
    if (policy.usesInjection && unit.level < LEVEL.trusted) unit.detect = true;
  };
  if (leaves) {
    for (const leaf of leaves) {
      let l = -1;
      for (const r of rules)
        if (matchesFieldPattern(r.pattern, leaf.path) && (l === -1 || r.level < l)) l = r.level;
      const unit: Unit = { text: leaf.text, level: l === -1 ? level : l, path: leaf.path };
      if (!leaf.key) detect(unit);
      units.push(unit);
    }
  } else if (event.content !== "") {
    const unit: Unit = { text: event.content, level };
    detect(unit);
    units.push(unit);
  }
  // The error text stays at the event's level: the detector reads content only.
  if (event.type === "tool_result" && event.error) units.push({ text: event.error, level });
  return units;
}

/** Answers where an argument value of a call was first seen in content (docs/policy.md). */
export interface ProvenanceSource {
  /**
   * Whether `value`, an argument of the call at `seq`, came from content at or below `from`
   * (see {@link ProvenanceIndex.lookup}); undefined when it did not.
   */
  lookup(value: string, seq: number, from: ProvenanceLevel): ProvenanceHit | undefined;
}

/**
 * The earliest hits of patterns before a call, as a provenance index knows them, for pattern
 * `pattern` of family `FAMILIES[f]` (already normalised by that family). A pattern's hits depend
 * only on the pattern and the content, never on the other argument values of the trace.
 */
export interface HitTable {
  /** Whether some content event before seq `before` holds the pattern at the trusted level. */
  cleared(f: number, pattern: string, before: number): boolean;
  /**
   * The seq of the first content event before seq `before` holding the pattern at integrity
   * level `level` (a {@link LEVEL} number), or -1.
   */
  first(f: number, pattern: string, level: number, before: number): number;
  /** Where in its event the hit `first` answered last for this pattern and level was (only for an event read by units). */
  detail(f: number, pattern: string, level: number): Detail | undefined;
}

/**
 * The lookup of {@link ProvenanceSource} over a table of earliest hits: in some family the value
 * occurs in content at or below `from` before `seq`, and in no family does it occur in earlier
 * trusted content (the user naming `www.x.com` clears `https://www.x.com/`). A string holding a
 * JSON list answers for each element. The table is asked whether a pattern is cleared first: a
 * table that finds it so may leave the other levels of that pattern incomplete.
 */
export function lookupHit(
  table: HitTable,
  events: readonly TraceEvent[],
  value: string,
  seq: number,
  from: ProvenanceLevel,
): ProvenanceHit | undefined {
  const levels = COUNTED[from];
  let best: Candidate | undefined;
  for (const v of variants(value)) {
    if (tooShort(v.value)) continue;
    let cleared = false;
    let found: Candidate | undefined;
    for (let f = 0; f < FAMILIES.length; f++) {
      const family = FAMILIES[f] as Family;
      const pattern = family.pattern(v.value);
      if (pattern === undefined || pattern.length < MIN_VALUE_LENGTH) continue;
      if (table.cleared(f, pattern, seq)) {
        cleared = true;
        break;
      }
      for (const level of levels) {
        const s = table.first(f, pattern, LEVEL[level], seq);
        // Strictest family first: a later family replaces a hit only with an earlier event.
        if (s !== -1 && (found === undefined || s < found.seq))
          found = {
            seq: s,
            level,
            family,
            value: v.value,
            unwrapped: v.unwrapped,
            detail: table.detail(f, pattern, LEVEL[level]),
          };
      }
    }
    if (!cleared && found && (best === undefined || found.seq < best.seq)) best = found;
  }
  if (!best) return undefined;
  const kept = best.detail?.source;
  const source = kept ? { ...kept } : eventRef(events[best.seq] as TraceEvent);
  const unit = best.detail?.unit;
  const normalisation = [
    ...(best.unwrapped ? ["list"] : []),
    ...describeMatch(best.family, best.value, unit ? [unit.text] : contentOf(events[best.seq] as TraceEvent)),
  ];
  const hit: ProvenanceHit = { value, source, integrity: best.level, normalisation };
  const path = best.detail?.path ?? (unit?.path ? formatPath(unit.path) : undefined);
  if (path !== undefined) {
    hit.field = {
      path,
      at: `${source.at}.content${path.startsWith("[") || path === "" ? "" : "."}${path}`,
    };
  }
  if (best.detail?.span) hit.injection = best.detail.span;
  return hit;
}

/**
 * Provenance of every argument value of one trace (docs/policy.md). Built once per trace: the
 * argument values that provenance rules look at, normalised by each family of normalisations
 * (FAMILIES), become the patterns of one Aho-Corasick automaton per family, and every content
 * event is normalised and scanned once per family, recording per value the earliest event at
 * each integrity level. A query is then a few map lookups: no quadratic rescan of the trace.
 *
 * A policy with field rules or `from: injected` reads content by units: each leaf of a structured
 * tool result is scanned by itself at its field's level, and a hit inside a span the injection
 * detector marked is `injected`. Any other policy reads each text whole, as it always did. An
 * event read by units is read so for a value only when the value occurs in its raw text (or in
 * that text with its line folds undone), and only when a lookup needs it: for a value asked
 * before a call, the events before that call holding it, in order, until a trusted hit clears it
 * or the earliest hit at the asked level is known. Parsing and the detector cost far more than a
 * scan, and a value's provenance must not depend on the other values of the trace (the live
 * guard, which sees the calls one at a time, gives the same answers: src/verify/incremental.ts).
 */
export class ProvenanceIndex implements ProvenanceSource {
  private readonly families: FamilyIndex[];
  private readonly events: readonly TraceEvent[];
  private readonly table: HitTable;
  private readonly active: Scan[];
  /** The events read by units whose text holds some pattern and that no lookup has read yet, by seq. */
  private readonly waiting = new Map<number, Waiting>();

  private constructor(
    patterns: string[][],
    trace: Trace,
    private readonly policy: CompiledPolicy,
  ) {
    this.events = trace.events;
    this.families = FAMILIES.map((family, f) => {
      const list = patterns[f] ?? [];
      return {
        family,
        patterns: new Map(list.map((p, i) => [p, i])),
        owners: [],
        earliest: LEVEL_NAME.map(() => new Int32Array(list.length).fill(-1)),
        detail: LEVEL_NAME.map(() => []),
      };
    });
    const owner = (f: number, pattern: string): Owner | undefined => {
      const fi = this.families[f] as FamilyIndex;
      const p = fi.patterns.get(pattern);
      return p === undefined ? undefined : fi.owners[p];
    };
    this.table = {
      cleared: (f, pattern, before) => {
        const o = owner(f, pattern);
        if (!o) return false;
        const trusted = o.fi.earliest[LEVEL.trusted] as Int32Array;
        for (;;) {
          const e = trusted[o.p] as number;
          if (e !== -1 && e < before) return true;
          if (!this.readNext(o, before)) return false;
        }
      },
      first: (f, pattern, level, before) => {
        const o = owner(f, pattern);
        if (!o) return -1;
        const earliest = o.fi.earliest[level] as Int32Array;
        for (;;) {
          const e = earliest[o.p] as number;
          const known = e !== -1 && e < before;
          // Only an event before the earliest hit known (and before the call) can change it.
          if (!this.readNext(o, known ? e : before)) return known ? e : -1;
        }
      },
      detail: (f, pattern, level) => {
        const fi = this.families[f] as FamilyIndex;
        const p = fi.patterns.get(pattern);
        return p === undefined ? undefined : fi.detail[level]?.[p];
      },
    };
    // One automaton per distinct content normalisation; its pattern k is pattern owner[k].p of
    // family owner[k].fi (one text may be a pattern of several families). A pattern of a family
    // that reads content as it is, holding none of the code units a dropping family's scan
    // passes over, is looked for in that scan too, and counts only where its hit is contiguous
    // in the content: one scan of the text instead of two, for the usual identifier.
    const drops = FAMILIES.find((f) => f.drops !== undefined)?.drops ?? "";
    const dropped = new Set([...drops].map((c) => c.charCodeAt(0)));
    const holdsDropped = (pattern: string): boolean => {
      for (let i = 0; i < pattern.length; i++) if (dropped.has(pattern.charCodeAt(i))) return true;
      return false;
    };
    const scans = new Map<
      Family["text"] | string,
      { text: Family["text"]; list: string[]; owner: Owner[]; drops: string }
    >();
    this.families.forEach((fi, f) => {
      for (const [p, pattern] of (patterns[f] ?? []).entries()) {
        const contiguous =
          drops !== "" && fi.family.drops === undefined && fi.family.text === asIs && !holdsDropped(pattern);
        const key = fi.family.drops !== undefined || contiguous ? drops : fi.family.text;
        let scan = scans.get(key);
        if (!scan) {
          const dropping = FAMILIES.find((g) => g.drops === drops) as Family;
          scan =
            key === drops
              ? { text: dropping.text, list: [], owner: [], drops }
              : { text: fi.family.text, list: [], owner: [], drops: "" };
          scans.set(key, scan);
        }
        const o: Owner = { fi, p, length: pattern.length, contiguous, pending: [], next: 0 };
        fi.owners[p] = o;
        scan.list.push(pattern);
        scan.owner.push(o);
      }
    });
    const active: Scan[] = [...scans.values()].map((scan) => ({
      text: scan.text,
      drops: scan.drops !== "",
      owner: scan.owner,
      // A family that drops code units is scanned in the lower-cased text, passing over them.
      automaton: new AhoCorasick(scan.list, undefined, scan.drops),
    }));
    this.active = active;
    if (active.length === 0) return;
    const byUnits = readsAnyByUnits(policy);
    // The patterns that can occur in a text with its folds undone and not in the text itself:
    // those holding whitespace, in a family that keeps it (one automaton per such scan).
    const unfolds: { automaton: AhoCorasick; owner: Owner[]; text: Family["text"] }[] = [];
    if (byUnits) {
      for (const scan of active) {
        if (scan.drops) continue;
        const list: string[] = [];
        const own: Owner[] = [];
        for (const [k, pattern] of scan.automaton.patterns.entries()) {
          if (!HAS_WHITESPACE.test(pattern)) continue;
          list.push(pattern);
          own.push(scan.owner[k] as Owner);
        }
        if (list.length > 0) unfolds.push({ automaton: new AhoCorasick(list), owner: own, text: scan.text });
      }
    }
    for (const event of trace.events) {
      if (event.type === "tool_call") continue;
      const level = eventLevel(policy, event);
      if (level < 0) continue;
      const texts = contentOf(event);
      if (byUnits && readsByUnits(policy, event, level)) {
        // Only the values that occur in the event's text are looked for leaf by leaf (one more
        // scan of it, parsed once, when a lookup needs it): an event that holds none is not
        // parsed at all.
        const present = new Set<Owner>();
        for (const t of texts) {
          const lower = t.toLowerCase();
          for (const { owner: own, automaton, drops: skips } of active) {
            automaton.scan(lower, (k, end) => {
              const o = own[k] as Owner;
              if (o.contiguous && end - hitStart(lower, end, o.length, skips) + 1 !== o.length) return;
              present.add(o);
            });
          }
          if (unfolds.length > 0 && FOLD.test(t)) {
            const unfolded = t.replace(WHITESPACE_RUN, " ").toLowerCase();
            for (const { automaton, owner: own, text } of unfolds) {
              automaton.scan(text(unfolded), (k) => {
                present.add(own[k] as Owner);
              });
            }
          }
        }
        if (present.size === 0) continue;
        this.waiting.set(event.seq, { event, level, present });
        for (const o of present) o.pending.push(event.seq);
      } else {
        this.scan(
          event,
          texts.map((text) => ({ text, level })),
          null,
        );
      }
    }
  }

  /**
   * Reads by units the next event of `o.pending` that has not been read, if its seq is below
   * `bound`; false when there is none. Reading an event records the hits of every pattern its
   * text holds, so an event is read at most once.
   */
  private readNext(o: Owner, bound: number): boolean {
    const { pending } = o;
    while (o.next < pending.length && !this.waiting.has(pending[o.next] as number)) o.next++;
    if (o.next >= pending.length || (pending[o.next] as number) >= bound) return false;
    const w = this.waiting.get(pending[o.next] as number) as Waiting;
    this.waiting.delete(w.event.seq);
    o.next++;
    this.scan(w.event, unitsOf(this.policy, w.event, w.level), w.present);
    return true;
  }

  /**
   * Scans units of one event with every automaton, recording per pattern and level the first
   * event holding it (events read by units may be read after later ones). With `only` (the event
   * is read by units), only those patterns count, and the unit and detector span of each first
   * hit are kept for evidence.
   */
  private scan(event: TraceEvent, units: Unit[], only: Set<Owner> | null): void {
    const seq = event.seq;
    for (const unit of units) {
      const lower = unit.text.toLowerCase();
      const same = lower.length === unit.text.length;
      for (const { drops, owner, automaton } of this.active) {
        automaton.scan(lower, (k, end) => {
          const o = owner[k] as Owner;
          if (only && !only.has(o)) return;
          const start = drops ? hitStart(lower, end, o.length, true) : end - o.length + 1;
          if (o.contiguous && end - start + 1 !== o.length) return;
          let lvl = unit.level;
          let span: InjectionSpan | undefined;
          if (unit.detect) {
            unit.spans ??= spansOf(event, unit.text);
            if (unit.spans.length > 0) {
              // When lower-casing changed the length, offsets are unreliable: spanAt takes any span.
              span = spanAt(unit.spans, same ? start : 0, end, undefined, same);
              if (span) lvl = LEVEL.injected;
            }
          }
          const first = o.fi.earliest[lvl] as Int32Array;
          const at = first[o.p] as number;
          if (at === -1 || seq < at) {
            first[o.p] = seq;
            (o.fi.detail[lvl] as (Detail | undefined)[])[o.p] = only ? { unit, span } : undefined;
          }
        });
      }
    }
  }

  /**
   * Builds the index of one trace for one policy (integrity comes from the policy's `sources`).
   * Only argument paths named by a provenance rule that is a candidate for the call's tool
   * contribute patterns, and no call for which `skip` is true (a call over the argument limit,
   * which is never judged).
   */
  static build(
    trace: Trace,
    policy: CompiledPolicy,
    skip: (call: ToolCallEvent) => boolean = () => false,
  ): ProvenanceIndex {
    const sets = FAMILIES.map(() => new Set<string>());
    for (const e of trace.events) {
      if (e.type !== "tool_call" || skip(e)) continue;
      for (const rule of policy.rulesForTool(e.tool)) {
        const prov = rule.ir.match.provenance;
        if (!prov) continue;
        for (const path of prov.args) {
          for (const leaf of leafValues(getPath(e.args, path))) {
            for (const { value } of variants(leaf)) {
              if (tooShort(value)) continue;
              FAMILIES.forEach((family, f) => {
                const p = family.pattern(value);
                if (p !== undefined && p.length >= MIN_VALUE_LENGTH) sets[f]?.add(p);
              });
            }
          }
        }
      }
    }
    return new ProvenanceIndex(
      sets.map((s) => [...s].sort()),
      trace,
      policy,
    );
  }

  /**
   * Whether `value`, an argument of the call at `seq`, came from content at or below `from`:
   * in some family it occurs in such content before the call, and in no family does it occur in
   * earlier trusted content (the user naming `www.x.com` clears `https://www.x.com/`). A string
   * holding a JSON list answers for each element. Only values of the trace's calls were indexed.
   */
  lookup(value: string, seq: number, from: ProvenanceLevel): ProvenanceHit | undefined {
    return lookupHit(this.table, this.events, value, seq, from);
  }
}

/**
 * The detector span a hit at [start, end] (inclusive, offsets in the normalised text) falls in,
 * if any. Without a map the offsets are the text's own; when lower-casing changed the text's
 * length (a few Unicode letters) offsets are unreliable and any span counts.
 */
export function spanAt(
  spans: readonly InjectionSpan[],
  start: number,
  end: number,
  map: Int32Array | undefined,
  sameLength: boolean,
): InjectionSpan | undefined {
  if (!sameLength) return spans[0];
  const s = map ? (map[start] ?? 0) : start;
  const e = map ? (map[end] ?? 0) : end;
  return spans.find((sp) => s < sp.end && e >= sp.start);
}

/**
 * The normalisations a hit of `value` in `texts` needed, in the family that found it: only run
 * for a hit, on its one source event.
 */
function describeMatch(family: Family, value: string, texts: string[]): string[] {
  const trimmed = value.trim();
  const out = trimmed !== value ? ["whitespace"] : [];
  if (family.name === "plain") {
    if (!texts.some((t) => t.includes(trimmed))) out.push("case");
    return out;
  }
  if (family.name === "spacing") {
    out.push("spacing");
    const core = trimmed.replace(SEPARATORS, "");
    if (!texts.some((t) => t.replace(SEPARATORS, "").includes(core))) out.push("case");
    return out;
  }
  const lower = trimmed.toLowerCase();
  const valueScheme = SCHEME.test(lower);
  const rest = lower.replace(SCHEME, "");
  const valueSlash = rest.endsWith("/");
  const core = rest.replace(/\/+$/, "");
  let textScheme = false;
  let textSlash = false;
  for (const t of texts) {
    const l = t.toLowerCase();
    for (let i = l.indexOf(core); i !== -1; i = l.indexOf(core, i + 1)) {
      if (l.endsWith("://", i)) textScheme = true;
      if (l[i + core.length] === "/") textSlash = true;
    }
  }
  const before = out.length;
  if (valueScheme !== textScheme) out.push("url_scheme");
  if (valueSlash !== textSlash) out.push("trailing_slash");
  // Both sides have a scheme and a slash alike: the schemes differ (`http` and `https`).
  if (out.length === before) out.push("url_scheme");
  const original = trimmed.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/\/+$/, "");
  if (!texts.some((t) => t.includes(original))) out.push("case");
  return out;
}
