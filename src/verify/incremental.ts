/**
 * Provenance of a trace that grows one event at a time (the live guard, src/guard/guard.ts): the
 * same answers as {@link ProvenanceIndex} on the trace as it stands, at a cost per call that does
 * not grow with the session. Content is normalised once per family when it is observed and
 * indexed by the 4-grams and 8-grams of its text without separators; a lookup searches only the
 * call's own values, only in the events that hold the looked-up grams of them (the 8-grams for
 * values long enough, whose lists stay short however long the session), confirms each hit on the
 * text, and remembers per value how far it has searched.
 */

import type { ProvenanceLevel } from "../policy/ir.js";
import type { MessageEvent, ToolResultEvent, TraceEvent } from "../trace/model.js";
import { type CompiledPolicy, LEVEL } from "./compiled.js";
import type { InjectionSpan } from "./injection.js";
import {
  contentOf,
  type Detail,
  eventLevel,
  FAMILIES,
  type Family,
  FOLD,
  type HitTable,
  lookupHit,
  offsetMap,
  type ProvenanceHit,
  type ProvenanceSource,
  readsAnyByUnits,
  readsByUnits,
  spanAt,
  spansOf,
  type Unit,
  unitsOf,
  WHITESPACE_RUN,
} from "./provenance.js";

/** Length of the substrings content is indexed by: the shortest value that can match (MIN_VALUE_LENGTH). */
const GRAM = 4;
/** Most 4-grams of a pattern looked up (besides its last one). */
const MAX_GRAMS = 8;

/** The distinct content normalisations of the families, and the one of each family. */
const SLOTS: readonly Family["text"][] = [...new Set(FAMILIES.map((f) => f.text))];
const SLOT_OF: readonly number[] = FAMILIES.map((f) => SLOTS.indexOf(f.text));
/** The slot of the `plain` family: content lower-cased, nothing else. */
const PLAIN_SLOT = SLOT_OF[FAMILIES.findIndex((f) => f.name === "plain")] as number;
/**
 * The normalisation content is indexed in: the `spacing` family's, lower case without
 * separators. One index serves every family: a text that holds a pattern holds it once both are
 * stripped of separators, and folds undone change only whitespace, which this drops anyway.
 */
const STRIP = (FAMILIES.find((f) => f.name === "spacing") as Family).text;

/**
 * A number for the 4 code units of `text` at `i`: exact for ASCII (7 bits each), a hash above
 * 2^28 otherwise. Two substrings with the same number are only candidates: every hit is
 * confirmed on the text itself.
 */
function gramAt(text: string, i: number): number {
  const a = text.charCodeAt(i);
  const b = text.charCodeAt(i + 1);
  const c = text.charCodeAt(i + 2);
  const d = text.charCodeAt(i + 3);
  if ((a | b | c | d) < 128) return (a << 21) | (b << 14) | (c << 7) | d;
  let h = Math.imul(a, 0x9e3779b1);
  h = Math.imul(h ^ b, 0x85ebca6b);
  h = Math.imul(h ^ c, 0xc2b2ae35);
  h = Math.imul(h ^ d, 0x27d4eb2f);
  return 0x10000000 + ((h ^ (h >>> 15)) & 0x0fffffff);
}

/** The seqs of the events holding one 4-gram, ascending, each once. */
class Postings {
  data = new Int32Array(2);
  n = 0;

  push(seq: number): void {
    if (this.n > 0 && this.data[this.n - 1] === seq) return;
    if (this.n === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.n++] = seq;
  }

  /**
   * The first position holding a seq at or above `seq`, from position `at` on: a galloping
   * search (steps of 1, 2, 4... then a binary search), so that walking a list in order touches
   * few of its cache lines.
   */
  seek(seq: number, at = 0): number {
    let lo = at;
    let step = 1;
    let hi = at;
    while (hi < this.n && (this.data[hi] as number) < seq) {
      lo = hi + 1;
      hi += step;
      step *= 2;
    }
    if (hi > this.n) hi = this.n;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if ((this.data[m] as number) < seq) lo = m + 1;
      else hi = m;
    }
    return lo;
  }
}

/**
 * The key of 8 code units from the numbers of their two halves ({@link gramAt}): a 32-bit hash,
 * so two substrings with the same key are only candidates.
 */
function longKeyOf(first: number, second: number): number {
  let h = Math.imul(first ^ Math.imul(second, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0xc2b2ae35) ^ (h >>> 13);
}

/** Length of the long keys: two 4-grams. */
const LONG = 2 * GRAM;
/**
 * Shortest pattern looked up by its long keys: content is indexed by the long key at every
 * GRAM-th offset of a text only, so a pattern holds a whole indexed one, at whichever offset
 * it occurs, from LONG + GRAM - 1 code units on.
 */
const LONG_PATTERN = LONG + GRAM - 1;
/** A bucket this small is read without looking for a rarer key. */
const FEW = 2;

/**
 * Postings of 32-bit keys in flat arrays: per hash bucket a chain of (key, seq) entries, newest
 * first, so that a list is read from its end back to a given seq and a rare key costs a few
 * reads whatever the length of the session. About 12 bytes per entry and no object per key: the
 * keys of 8 code units are nearly all distinct, which a map of lists would pay for per key.
 */
class Chains {
  /** Per bucket: 1 + its newest entry (0 when empty), then its number of entries. */
  private buckets = new Int32Array(2 * 1024);
  /** Per entry: its key, its seq, and the entry before it in its bucket (-1 at the end). */
  private cells = new Int32Array(3 * 1024);
  private n = 0;

  private get mask(): number {
    return (this.buckets.length >>> 1) - 1;
  }

  /** Adds `seq` to the list of `key` (seqs come in ascending order; a repeat is dropped). */
  add(key: number, seq: number): void {
    const { buckets, cells } = this;
    const head = (buckets[2 * (key & this.mask)] as number) - 1;
    if (head >= 0 && cells[3 * head + 1] === seq && cells[3 * head] === key) return;
    if (3 * this.n === cells.length) {
      const grown = new Int32Array(cells.length * 2);
      grown.set(cells);
      this.cells = grown;
    }
    // Two entries per bucket at most on average: past that the buckets double.
    if (this.n >= buckets.length) this.rehash(buckets.length);
    this.link(this.n++, key, seq);
  }

  /** Puts entry `e` at the head of its key's bucket. */
  private link(e: number, key: number, seq: number): void {
    const b = 2 * (key & this.mask);
    const { buckets, cells } = this;
    cells[3 * e] = key;
    cells[3 * e + 1] = seq;
    cells[3 * e + 2] = (buckets[b] as number) - 1;
    buckets[b] = e + 1;
    buckets[b + 1] = (buckets[b + 1] as number) + 1;
  }

  private rehash(size: number): void {
    this.buckets = new Int32Array(2 * size);
    // In insertion order, so that every chain stays newest first.
    for (let e = 0; e < this.n; e++)
      this.link(e, this.cells[3 * e] as number, this.cells[3 * e + 1] as number);
  }

  /** At least the number of entries of `key` (those of its bucket). */
  count(key: number): number {
    return this.buckets[2 * (key & this.mask) + 1] as number;
  }

  /** Pushes the seqs at or after `from` in the list of `key`, descending, each once. */
  collect(key: number, from: number, out: number[]): void {
    const { cells } = this;
    for (
      let e = (this.buckets[2 * (key & this.mask)] as number) - 1;
      e >= 0;
      e = cells[3 * e + 2] as number
    ) {
      const seq = cells[3 * e + 1] as number;
      if (seq < from) return;
      if (cells[3 * e] === key && out[out.length - 1] !== seq) out.push(seq);
    }
  }
}

/** The content of one event, normalised once. */
interface Entry {
  event: MessageEvent | ToolResultEvent;
  /** raw[slot]: each text of the event (content, error text), lower-cased and normalised. */
  raw: string[][];
  /** unfolded[slot]: the texts with a line fold, folds undone, lower-cased and normalised. */
  unfolded: string[][];
}

/** Whether some text of an entry holds a pattern in one slot; with `unfolded`, folds undone too. */
function holds(entry: Entry, slot: number, pattern: string, unfolded: boolean): boolean {
  if ((entry.raw[slot] as string[]).some((t) => t.includes(pattern))) return true;
  return unfolded && (entry.unfolded[slot] as string[]).some((t) => t.includes(pattern));
}

/**
 * The content of one session's trace, normalised per family and indexed by the 4-grams of its
 * text without separators ({@link STRIP}), and by its 8-grams at every fourth offset, for every
 * policy of the session. Follows the trace's `events` array as it grows (append only); new
 * events are indexed at the next search. Assistant messages are no source for any policy and are
 * not indexed. Memory: the normalised texts (a few copies of the content), about 4 bytes per
 * distinct 4-gram of each event and about 3 to 8 bytes per code unit of its text for the 8-grams.
 */
export class ContentIndex {
  private readonly entries: (Entry | undefined)[] = [];
  private readonly grams = new Map<number, Postings>();
  /** The long keys at every GRAM-th offset of each text, for patterns of LONG_PATTERN code units and more. */
  private readonly long = new Chains();
  /** The 4-gram numbers of the text being indexed (reused). */
  private numbers = new Int32Array(256);
  /** Events indexed so far. */
  private indexed = 0;
  /** The last answer of {@link candidates}. */
  private last: { pattern: string; from: number; indexed: number; seqs: number[] } | undefined;

  constructor(readonly events: readonly TraceEvent[]) {}

  /** Indexes the events appended since the last call; returns the number of events indexed in all. */
  sync(): number {
    for (; this.indexed < this.events.length; this.indexed++) {
      const event = this.events[this.indexed] as TraceEvent;
      if (event.type === "tool_call" || (event.type === "message" && event.role === "assistant")) continue;
      const texts = contentOf(event);
      const lower = texts.map((t) => t.toLowerCase());
      const folded = texts
        .filter((t) => FOLD.test(t))
        .map((t) => t.replace(WHITESPACE_RUN, " ").toLowerCase());
      const entry: Entry = {
        event,
        raw: SLOTS.map((normalise) => lower.map(normalise)),
        unfolded: SLOTS.map((normalise) => folded.map(normalise)),
      };
      this.entries[event.seq] = entry;
      const map = this.grams;
      for (const text of lower) {
        const stripped = STRIP(text);
        if (this.numbers.length < stripped.length) this.numbers = new Int32Array(stripped.length * 2);
        const numbers = this.numbers;
        for (let i = 0; i + GRAM <= stripped.length; i++) {
          const g = gramAt(stripped, i);
          numbers[i] = g;
          let list = map.get(g);
          if (!list) {
            list = new Postings();
            map.set(g, list);
          }
          list.push(event.seq);
        }
        for (let i = 0; i + LONG <= stripped.length; i += GRAM)
          this.long.add(longKeyOf(numbers[i] as number, numbers[i + GRAM] as number), event.seq);
      }
    }
    return this.indexed;
  }

  /** The entry of an indexed content event. */
  entry(seq: number): Entry {
    return this.entries[seq] as Entry;
  }

  /**
   * The seqs of the indexed events at or after `from`, ascending, whose texts may hold `text`
   * (lower case, in any family's normalisation, raw or with folds undone): every event that
   * holds it, and rarely another. Cost: a few of the pattern's 4-grams, then the events holding
   * its rarest 4-grams (not the session). The last answer is kept: the families of one value
   * often have the same text once stripped of separators (an IBAN written without spaces).
   */
  candidates(text: string, from: number): readonly number[] {
    const pattern = STRIP(text);
    const last = this.last;
    if (last && last.pattern === pattern && last.from === from && last.indexed === this.indexed)
      return last.seqs;
    const seqs: number[] = [];
    this.collect(pattern, from, seqs);
    this.last = { pattern, from, indexed: this.indexed, seqs };
    return seqs;
  }

  private collect(pattern: string, from: number, out: number[]): void {
    if (pattern.length >= LONG_PATTERN) {
      this.collectLong(pattern, from, out);
      return;
    }
    const map = this.grams;
    if (pattern.length < GRAM) {
      // No 4-gram to look up (no value that reaches a lookup is this short): every event.
      for (let seq = from; seq < this.indexed; seq++) if (this.entries[seq]) out.push(seq);
      return;
    }
    const lists: Postings[] = [];
    // Any 4-grams of the pattern filter soundly: up to MAX_GRAMS of them, spread over it without
    // overlap where it is long enough, which filter about as well as all of them at a fraction of
    // the lookups (each a likely cache miss in a long session's index).
    const last = pattern.length - GRAM;
    const count = Math.min(MAX_GRAMS, Math.floor(last / GRAM) + 1);
    for (let k = 0; k <= count; k++) {
      const i = k === count ? last : count === 1 ? 0 : Math.round((k * last) / count);
      const list = map.get(gramAt(pattern, i));
      // A 4-gram no event holds: no event holds the pattern.
      if (!list) return;
      lists.push(list);
    }
    if (lists.length === 0) return;
    lists.sort((a, b) => a.n - b.n);
    const base = lists[0] as Postings;
    // The rarest few lists narrow the candidates; more cost more than the texts they spare (a
    // repeated 4-gram gives the same list twice, which only costs a step).
    const rest = lists.slice(1, 4);
    const at = rest.map((l) => l.seek(from));
    for (let i = base.seek(from); i < base.n; i++) {
      const seq = base.data[i] as number;
      let all = true;
      for (let j = 0; j < rest.length; j++) {
        const list = rest[j] as Postings;
        const k = list.seek(seq, at[j]);
        at[j] = k;
        if (k >= list.n) return;
        if (list.data[k] !== seq) {
          all = false;
          break;
        }
      }
      if (all) out.push(seq);
    }
  }

  /**
   * The candidates of a pattern of LONG_PATTERN code units or more: wherever it occurs, it holds
   * a whole long key at one of its first GRAM offsets (the one that falls on an indexed offset of
   * the text). So for each of those offsets the events that hold its rarest long key, all of them
   * together, include every event that holds the pattern. A long key is nearly as rare as the
   * substrings it stands for, so the lists read stay short whatever the length of the session.
   */
  private collectLong(pattern: string, from: number, out: number[]): void {
    const long = this.long;
    const found: number[] = [];
    for (let start = 0; start < GRAM; start++) {
      let best = 0;
      let fewest = Number.POSITIVE_INFINITY;
      // From the end: identifiers share their prefixes (a country and bank code) more than
      // their ends. A list of a few entries is as good as any: each count read is a cache miss.
      const last = start + Math.floor((pattern.length - LONG - start) / GRAM) * GRAM;
      for (let i = last; i >= start; i -= GRAM) {
        const key = longKeyOf(gramAt(pattern, i), gramAt(pattern, i + GRAM));
        const n = long.count(key);
        if (n < fewest) {
          best = key;
          fewest = n;
          if (n <= FEW) break;
        }
      }
      if (fewest > 0) long.collect(best, from, found);
    }
    found.sort((a, b) => a - b);
    for (const seq of found) if (out[out.length - 1] !== seq) out.push(seq);
  }
}

/**
 * The units of one event, and per slot their normalised texts joined in order into one string
 * (one search, in one block of memory, instead of one per leaf), unit j at `starts[j]`. Kept for
 * the session, so nothing else per unit is: a hit recomputes what it needs from the unit's text.
 */
interface EventUnits {
  units: Unit[];
  joined: { text: string; starts: number[]; ends: number[] }[];
  /**
   * Whether each unit's lower-cased text occurs in the event's lower-cased raw text (JSON without
   * escapes, YAML without folds or quotes): then a unit holding a pattern implies the raw text
   * holds it, in every family, and the raw text need not be searched first.
   */
  inRaw: boolean;
}

/** The joined texts of units in every slot (see {@link EventUnits}), each unit lower-cased once. */
function joinUnits(units: Unit[]): EventUnits["joined"] {
  const parts = SLOTS.map(() => ({
    texts: [] as string[],
    starts: [] as number[],
    ends: [] as number[],
    at: 0,
  }));
  for (const unit of units) {
    const lower = unit.text.toLowerCase();
    SLOTS.forEach((normalise, slot) => {
      const part = parts[slot] as (typeof parts)[number];
      const t = normalise(lower);
      part.texts.push(t);
      part.starts.push(part.at);
      part.ends.push(part.at + t.length);
      part.at += t.length + 1;
    });
  }
  return parts.map(({ texts, starts, ends }) => ({ text: texts.join("\u0000"), starts, ends }));
}

/** What one pattern of one family is known to hold: earliest hit per level, as far as searched. */
interface PatternState {
  earliest: number[];
  detail: (Detail | undefined)[];
  /** The events before this seq have been searched. */
  next: number;
  /** Nothing later can change the answer: a trusted hit (the value is cleared), or every level found. */
  done: boolean;
}

/**
 * The provenance of one policy over a growing trace: answers {@link ProvenanceSource.lookup}
 * exactly as {@link ProvenanceIndex.build} on the trace as it stands would (same earliest event
 * per level, same field path, detector span and normalisations). Each value is searched once
 * over the events it may occur in, then only over events appended since; its search stops at a
 * trusted hit (the value is cleared for good) or once every level has a hit. Structured content
 * is parsed and read by the detector only for an event whose text holds a value looked up, once
 * per event (units are kept).
 */
export class IncrementalProvenance implements ProvenanceSource {
  private readonly patterns = FAMILIES.map(() => new Map<string, PatternState>());
  private readonly units: (EventUnits | undefined)[] = [];
  private readonly byUnits: boolean;
  /** Events read by {@link prepare} so far. */
  private prepared = 0;
  private readonly table: HitTable;

  /**
   * @param content the session's content index (shared by the policies of the session)
   */
  constructor(
    private readonly policy: CompiledPolicy,
    private readonly content: ContentIndex,
  ) {
    this.byUnits = readsAnyByUnits(policy);
    this.table = {
      cleared: (f, pattern, before) => {
        const e = this.state(f, pattern).earliest[LEVEL.trusted] as number;
        return e !== -1 && e < before;
      },
      first: (f, pattern, level, before) => {
        const e = this.state(f, pattern).earliest[level] as number;
        return e < before ? e : -1;
      },
      detail: (f, pattern, level) => this.state(f, pattern).detail[level],
    };
  }

  /**
   * Reads the events appended since the last call as a lookup would need them, ahead of any
   * lookup: indexes their content and builds the units of each event this policy reads by units
   * without the injection detector (structured content that field rules name, parsed into
   * leaves; messages). Optional: a lookup does the rest for the events it needs; the live guard
   * calls it as each event is observed, so that a check's time does not carry the events that
   * arrived since the last one.
   */
  prepare(): void {
    const end = this.content.sync();
    for (; this.prepared < end; this.prepared++) {
      const event = this.content.events[this.prepared] as TraceEvent;
      if (event.type === "tool_call" || !this.byUnits) continue;
      const level = eventLevel(this.policy, event);
      if (level < 0 || !readsByUnits(this.policy, event, level)) continue;
      // A tool result no field rule names is split into leaves only if the injection detector
      // marks its text, and the detector is the dear part: such a result waits for a lookup
      // that needs it (one whose value occurs in its text), as in the batch index.
      if (event.type === "tool_result" && this.policy.fieldRules(event.tool).length === 0) continue;
      this.unitsAt(event, level);
    }
  }

  lookup(value: string, seq: number, from: ProvenanceLevel): ProvenanceHit | undefined {
    return lookupHit(this.table, this.content.events, value, seq, from);
  }

  /** The state of a pattern, searched up to the end of the trace. */
  private state(f: number, pattern: string): PatternState {
    const map = this.patterns[f] as Map<string, PatternState>;
    let st = map.get(pattern);
    if (!st) {
      st = { earliest: [-1, -1, -1, -1], detail: [], next: 0, done: false };
      map.set(pattern, st);
    }
    const end = this.content.sync();
    if (!st.done && st.next < end) {
      this.search(st, f, pattern);
      st.next = end;
    }
    return st;
  }

  /** Searches the events from `st.next` on for one pattern, as ProvenanceIndex's scan does. */
  private search(st: PatternState, f: number, pattern: string): void {
    const slot = SLOT_OF[f] as number;
    const normalise = (FAMILIES[f] as Family).text;
    for (const seq of this.content.candidates(pattern, st.next)) {
      const entry = this.content.entry(seq);
      const event = entry.event;
      const level = eventLevel(this.policy, event);
      if (level < 0) continue;
      if (this.byUnits && readsByUnits(this.policy, event, level)) {
        // Read by units only when the value occurs in the event's text, as the batch index does.
        // Units built already (at prepare) may spare the search of the raw text; others are not
        // built for a value the raw text does not hold.
        if (!this.units[seq]?.inRaw && !holds(entry, slot, pattern, true)) continue;
        const { units, joined } = this.unitsAt(event, level);
        const { text, starts, ends } = joined[slot] as EventUnits["joined"][number];
        for (let i = text.indexOf(pattern); i !== -1; i = text.indexOf(pattern, i + 1)) {
          // The unit holding an occurrence: the last one starting at or before it.
          let lo = 0;
          let hi = starts.length - 1;
          while (lo < hi) {
            const m = (lo + hi + 1) >>> 1;
            if ((starts[m] as number) <= i) lo = m;
            else hi = m - 1;
          }
          const j = lo;
          // One that runs past its unit's end spans two leaves: no leaf holds it.
          if (i + pattern.length > (ends[j] as number)) continue;
          const unit = units[j] as Unit;
          const local = i - (starts[j] as number);
          let lvl = unit.level;
          let span: InjectionSpan | undefined;
          if (unit.detect) {
            unit.spans ??= spansOf(event, unit.text);
            if (unit.spans.length > 0) {
              const lower = unit.text.toLowerCase();
              const map = offsetMap(normalise, unit.text, lower);
              const same = lower.length === unit.text.length;
              span = spanAt(unit.spans, local, local + pattern.length - 1, map, same);
              if (span) lvl = LEVEL.injected;
            }
          }
          if (st.earliest[lvl] === -1) {
            st.earliest[lvl] = seq;
            st.detail[lvl] = { unit, span };
          }
        }
      } else if (st.earliest[level] === -1 && holds(entry, slot, pattern, false)) {
        st.earliest[level] = seq;
      }
      st.done = st.earliest[LEVEL.trusted] !== -1 || st.earliest.every((s) => s !== -1);
      if (st.done) return;
    }
  }

  /** The units of an event read by units, built once. */
  private unitsAt(event: MessageEvent | ToolResultEvent, level: number): EventUnits {
    let units = this.units[event.seq];
    if (!units) {
      const list = unitsOf(this.policy, event, level);
      const raw = this.content.entry(event.seq).raw[PLAIN_SLOT] as string[];
      units = {
        units: list,
        joined: joinUnits(list),
        inRaw: list.every((u) => {
          const lower = u.text.toLowerCase();
          return raw.some((t) => t.includes(lower));
        }),
      };
      this.units[event.seq] = units;
    }
    return units;
  }
}
