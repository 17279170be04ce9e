/**
 * Provenance of a trace that grows one event at a time (the live guard, src/guard/guard.ts): the
 * same answers as {@link ProvenanceIndex} on the trace as it stands, at a cost per call that does
 * not grow with the session. Content is normalised once per family when it is observed and
 * indexed by the 4-grams and 8-grams of its text without separators; a lookup searches only the
 * call's own values, only in the events that hold the looked-up grams of them (one 8-gram's list
 * for values long enough, which stays short however long the session), confirms each hit on the
 * text, and remembers per value how far it has searched. What a check reads of an event read long
 * ago (no longer in the processor's caches) is kept in few places: a byte of flags and one string
 * per event, a run of ints per unit.
 */

import { formatPath } from "../policy/field-path.js";
import type { ProvenanceLevel } from "../policy/ir.js";
import type { MessageEvent, ToolResultEvent, TraceEvent } from "../trace/model.js";
import { type CompiledPolicy, LEVEL } from "./compiled.js";
import type { EventRef } from "./decision.js";
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
const PLAIN = FAMILIES.findIndex((f) => f.name === "plain");
const PLAIN_SLOT = SLOT_OF[PLAIN] as number;
/** The `spacing` family, and its slot: content lower-cased without separators. */
const SPACING = FAMILIES.findIndex((f) => f.name === "spacing");
const STRIP_SLOT = SLOT_OF[SPACING] as number;
/**
 * The normalisation content is indexed in: the `spacing` family's, lower case without
 * separators. One index serves every family: a text that holds a pattern holds it once both are
 * stripped of separators, and folds undone change only whitespace, which this drops anyway.
 */
const STRIP = (FAMILIES[SPACING] as Family).text;

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

/**
 * The offset of the least key of `keys[w]` to `keys[w + WINDOW - 1]`, the leftmost of equal
 * ones: a function of those keys alone (see {@link WINDOW}).
 */
function minimiser(keys: Int32Array, w: number): number {
  let m = w;
  for (let i = w + 1; i < w + WINDOW; i++) if ((keys[i] as number) < (keys[m] as number)) m = i;
  return m;
}

/** Length of the long keys: two 4-grams. */
const LONG = 2 * GRAM;
/**
 * Width of the windows of long keys a text is indexed by: of each run of WINDOW long keys at
 * consecutive offsets, only the least (its minimiser, the leftmost of equal ones) is indexed.
 * Which one that is depends on the run's code units alone, so a pattern that spans a whole
 * window holds, at the same place, the long key the text was indexed by there, and one list
 * read finds every event that may hold it. About 2 / (WINDOW + 1) of a text's offsets are kept.
 */
const WINDOW = 4;
/** Shortest pattern looked up by its long keys: one that spans a whole window of them. */
const LONG_PATTERN = LONG + WINDOW - 1;
/** A list this short is read without looking for a rarer key. */
const FEW = 2;

/**
 * Postings of 32-bit keys in flat arrays, for keys that are nearly all distinct (the long keys of
 * 8 code units): an open-addressing table of (key, payload) pairs, probed linearly, at most half
 * full. A key seen in one event holds that event's seq in its slot, so that looking it up, count
 * and list, reads one cache line of the table and nothing else: in a long session each further
 * read is a likely cache miss, and a check's first search of a value is made of such reads. A key
 * seen in more events points to its count and a chain of (seq, next) cells, newest first, so that
 * a list is read from its end back to a given seq. About 16 to 32 bytes per distinct key and 8 per
 * further event of a key; no object per key. Keys are placed by a mix of their bits with a
 * per-process secret ({@link homeSlot}): the guard indexes tool results an attacker may write, and
 * keys crafted to share a slot would make one run of the table long for every key placed in it.
 */
export class KeyPostings {
  /** @param seed the secret keys are placed with (tests give their own to place keys at will) */
  constructor(private readonly seed: number = PLACEMENT_SEED) {}

  /**
   * Per slot: a key, then 0 for an empty slot, seq + 1 for a key of one event, or -1 - i for a
   * key whose count is `counts[i]` and newest cell `heads[i]`.
   */
  private slots = new Int32Array(2 * 1024);
  /** Distinct keys held. */
  private keys = 0;
  /** Per key of several events: its number of events and its newest cell. */
  private counts = new Int32Array(256);
  private heads = new Int32Array(256);
  private many = 0;
  /** Per cell: a seq and the cell before it of the same key (-1 at the end). */
  private cells = new Int32Array(2 * 1024);
  private n = 0;

  /** The slot of `key`, or of the empty slot where it would go. */
  private find(key: number): number {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let i = homeSlot(key, mask, this.seed);
    while (slots[2 * i + 1] !== 0 && slots[2 * i] !== key) i = (i + 1) & mask;
    return i;
  }

  /** Adds `seq` to the list of `key` (seqs come in ascending order; a repeat is dropped). */
  add(key: number, seq: number): void {
    let i = this.find(key);
    const payload = this.slots[2 * i + 1] as number;
    if (payload === 0) {
      if (2 * (this.keys + 1) > this.slots.length >>> 1) {
        this.grow();
        i = this.find(key);
      }
      this.slots[2 * i] = key;
      this.slots[2 * i + 1] = seq + 1;
      this.keys++;
      return;
    }
    if (payload > 0) {
      if (payload === seq + 1) return;
      // A second event: the key gets a count and a chain, its first seq the chain's last cell.
      const k = this.many++;
      this.counts = grown(this.counts, k, (m) => new Int32Array(m));
      this.heads = grown(this.heads, k, (m) => new Int32Array(m));
      this.counts[k] = 2;
      this.heads[k] = this.cell(seq, this.cell(payload - 1, -1));
      this.slots[2 * i + 1] = -1 - k;
      return;
    }
    const k = -1 - payload;
    const head = this.heads[k] as number;
    if (this.cells[2 * head] === seq) return;
    this.counts[k] = (this.counts[k] as number) + 1;
    this.heads[k] = this.cell(seq, head);
  }

  /** A new cell holding `seq` before `next`; returns its index. */
  private cell(seq: number, next: number): number {
    this.cells = grown(this.cells, 2 * this.n + 1, (m) => new Int32Array(m));
    this.cells[2 * this.n] = seq;
    this.cells[2 * this.n + 1] = next;
    return this.n++;
  }

  /** Doubles the table: each key keeps its payload, so no list changes. */
  private grow(): void {
    this.slots = doubledSlots(this.slots, this.seed);
  }

  /** The number of events holding `key`. */
  count(key: number): number {
    const payload = this.slots[2 * this.find(key) + 1] as number;
    return payload >= 0 ? (payload === 0 ? 0 : 1) : (this.counts[-1 - payload] as number);
  }

  /** Pushes the seqs at or after `from` in the list of `key`, descending, each once. */
  collect(key: number, from: number, out: number[]): void {
    const payload = this.slots[2 * this.find(key) + 1] as number;
    if (payload > 0) {
      if (payload - 1 >= from) out.push(payload - 1);
      return;
    }
    if (payload === 0) return;
    const { cells } = this;
    for (let e = this.heads[-1 - payload] as number; e >= 0; e = cells[2 * e + 1] as number) {
      const seq = cells[2 * e] as number;
      if (seq < from) return;
      out.push(seq);
    }
  }
}

/**
 * A secret of this process for placing keys ({@link homeSlot}): where a key lands only changes how
 * fast it is found, never what is found, so it need not be reproducible.
 */
const PLACEMENT_SEED = Math.floor(Math.random() * 2 ** 32) | 0;

/**
 * The first slot probed for `key` in a table of `mask` + 1 slots: the key mixed with a seed
 * ({@link PLACEMENT_SEED} in use) and every bit of the product folded into the low ones (the low
 * bits of a product depend only on the low bits of its factors), so that which keys share a slot
 * cannot be worked out without the seed.
 */
export function homeSlot(key: number, mask: number, seed: number): number {
  let h = Math.imul(key ^ seed, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & mask;
}

/**
 * A map whose keys are strings or 32-bit integers, and a lookup of an absent key reads one cache
 * line: an open-addressing table of (hash, entry) pairs, probed linearly, at most half full,
 * whose entries (key and value side by side) are read only when a hash matches (an integer key
 * is its own hash, so its entry is not read at all). A built-in Map compares a probed string key
 * by reading the key's own string, so in a large map each key on the probed chain is a likely
 * cache miss, and a live guard's check looks up each value of its call in a map of every value the
 * session asked about. Both hashes and places are seeded per process ({@link homeSlot}): the keys
 * are argument values and substrings of tool results, which an attacker may choose, and a Map
 * places integers by an unseeded hash, so crafted keys could share one chain and make every
 * lookup on it walk all of them.
 */
export class SeededTable<K extends string | number, V> {
  /** @param seed the secret keys are hashed and placed with (tests give their own) */
  constructor(private readonly seed: number = PLACEMENT_SEED) {}

  /** Per slot: a key's hash, then its entry's index + 1 (0: an empty slot). */
  private slots = new Int32Array(2 * 1024);
  /** Per entry: its key, then its value. */
  private entries: (K | V)[] = [];

  /** Number of keys held. */
  get size(): number {
    return this.entries.length >>> 1;
  }

  /** The value of `key` (an integer key must be a 32-bit integer), or undefined. */
  get(key: K): V | undefined {
    const e = this.slots[2 * this.find(key, this.hash(key)) + 1] as number;
    return e === 0 ? undefined : (this.entries[2 * e - 1] as V);
  }

  /** Sets the value of `key`. */
  set(key: K, value: V): void {
    const h = this.hash(key);
    let i = this.find(key, h);
    const e = this.slots[2 * i + 1] as number;
    if (e !== 0) {
      this.entries[2 * e - 1] = value;
      return;
    }
    if (2 * (this.size + 1) > this.slots.length >>> 1) {
      this.grow();
      i = this.find(key, h);
    }
    this.entries.push(key, value);
    this.slots[2 * i] = h;
    this.slots[2 * i + 1] = this.size;
  }

  private hash(key: K): number {
    return typeof key === "number" ? key | 0 : stringHash(key, this.seed);
  }

  /** The slot of `key` (hash `h`), or of the empty slot where it would go. */
  private find(key: K, h: number): number {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    for (let i = homeSlot(h, mask, this.seed); ; i = (i + 1) & mask) {
      const e = slots[2 * i + 1] as number;
      if (e === 0) return i;
      if (slots[2 * i] === h && (typeof key === "number" || this.entries[2 * e - 2] === key)) return i;
    }
  }

  /** Doubles the table; entries stay where they are. */
  private grow(): void {
    this.slots = doubledSlots(this.slots, this.seed);
  }
}

/**
 * A table of (key, payload) slot pairs, probed linearly from {@link homeSlot} of the key (0 as
 * payload: an empty slot), with its pairs placed again in a table of twice as many slots. The
 * keys are distinct, so each goes to the first empty slot from its home.
 */
function doubledSlots(old: Int32Array, seed: number): Int32Array<ArrayBuffer> {
  const slots = new Int32Array(2 * old.length);
  const mask = (slots.length >>> 1) - 1;
  for (let i = 0; i < old.length; i += 2) {
    if (old[i + 1] === 0) continue;
    let j = homeSlot(old[i] as number, mask, seed);
    while (slots[2 * j + 1] !== 0) j = (j + 1) & mask;
    slots[2 * j] = old[i] as number;
    slots[2 * j + 1] = old[i + 1] as number;
  }
  return slots;
}

/**
 * A 32-bit hash of a string's code units with a seed: FNV-1a steps, then a final mix. A table
 * places a key by {@link homeSlot} of this hash, with the same seed.
 */
export function stringHash(key: string, seed: number): number {
  let h = seed ^ 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
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
 * text without separators ({@link STRIP}), and by the minimisers of its 8-grams (about 2 offsets
 * in 5, see {@link WINDOW}), for every policy of the session. Follows the trace's `events` array
 * as it grows (append only); new events are indexed at the next search. Assistant messages are no
 * source for any policy and are not indexed. Memory: the normalised texts (a few copies of the
 * content), about 4 bytes per distinct 4-gram of each event and about 5 to 12 bytes per code unit
 * of its text for the 8-grams.
 */
export class ContentIndex {
  private readonly entries: (Entry | undefined)[] = [];
  private readonly grams = new SeededTable<number, Postings>();
  /** The minimisers of each text's long keys, for patterns of LONG_PATTERN code units and more. */
  private readonly long = new KeyPostings();
  /** The 4-gram numbers of the text being indexed (reused). */
  private numbers = new Int32Array(256);
  /** The long keys of the text being indexed or of the pattern looked up (reused). */
  private keys = new Int32Array(256);
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
        const count = this.longKeys(numbers, stripped.length - LONG + 1);
        const keys = this.keys;
        let kept = -1;
        for (let w = 0; w + WINDOW <= count; w++) {
          const m = minimiser(keys, w);
          if (m !== kept) this.long.add(keys[m] as number, event.seq);
          kept = m;
        }
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
   * Puts the long keys at offsets 0 to `count` - 1 of a text into `keys`, from its 4-gram
   * numbers (`numbers`, at least `count` + GRAM - 1 of them); returns `count`.
   */
  private longKeys(numbers: Int32Array, count: number): number {
    if (this.keys.length < count) this.keys = new Int32Array(count * 2);
    const keys = this.keys;
    for (let i = 0; i < count; i++) keys[i] = longKeyOf(numbers[i] as number, numbers[i + GRAM] as number);
    return Math.max(count, 0);
  }

  /**
   * The candidates of a pattern of LONG_PATTERN code units or more: wherever it occurs, each
   * window of long keys inside it is one of the text's, whose minimiser the text was indexed by.
   * So the events holding the minimiser of any one window include every event that holds the
   * pattern: the rarest of a few is read. A long key is nearly as rare as the substrings it
   * stands for, so the list read stays short whatever the length of the session.
   */
  private collectLong(pattern: string, from: number, out: number[]): void {
    const long = this.long;
    if (this.numbers.length < pattern.length) this.numbers = new Int32Array(pattern.length * 2);
    const numbers = this.numbers;
    for (let i = 0; i + GRAM <= pattern.length; i++) numbers[i] = gramAt(pattern, i);
    const keys = this.keys;
    const count = this.longKeys(numbers, pattern.length - LONG + 1);
    let best = 0;
    let fewest = Number.POSITIVE_INFINITY;
    let tried = -1;
    // From the end: identifiers share their prefixes (a country and bank code) more than their
    // ends. A list of a few entries is as good as any: each count read is a cache miss.
    for (let w = count - WINDOW; w >= 0; w--) {
      const m = minimiser(keys, w);
      if (m === tried) continue;
      tried = m;
      const n = long.count(keys[m] as number);
      if (n < fewest) {
        best = keys[m] as number;
        fewest = n;
        if (n <= FEW) break;
      }
    }
    if (fewest > 0) long.collect(best, from, out);
    out.reverse();
  }
}

/** Grows a typed array to hold index `i`, keeping its contents. */
function grown<T extends Int32Array | Uint8Array>(array: T, i: number, make: (n: number) => T): T {
  if (i < array.length) return array;
  const next = make(Math.max(2 * array.length, i + 1));
  next.set(array);
  return next;
}

/** Ints per unit in {@link UnitStore}: its start in each slot's joined text, then the rest. */
const K = SLOTS.length + 4;
/** Offsets within a unit's ints: its text as it is, its formatted field path (or -1, -1), flags. */
const TEXT = SLOTS.length;
const PATH = SLOTS.length + 1;
const PATH_END = SLOTS.length + 2;
const FLAGS = SLOTS.length + 3;
/** The order of the slots in an event's string of units: {@link STRIP_SLOT} first. */
const SLOT_ORDER: readonly number[] = [STRIP_SLOT, ...SLOTS.keys()].filter(
  (s, i, all) => all.indexOf(s) === i,
);
/** Flag of a unit the injection detector reads, above its level (3 bits). */
const DETECT = 8;
/**
 * Flag of a unit whose lower-cased text has no separators: its texts in the `plain` and
 * `spacing` families are the same, and so are their occurrences of a pattern.
 */
const SAME = 16;
/**
 * In the K ints after an event's last unit (each slot's end and the end of the units' own texts),
 * the ints a unit gives its path and flags by say where the event's address ends in its string
 * (it starts at 0), where its role or tool ends (one code unit later it starts), and which of
 * these it is ({@link EVENT_KIND}).
 */
const AT_END = PATH;
const NAME_END = PATH_END;
const KIND = FLAGS;
/** The kind of an event with units: a message (the name is its role), a tool result with a tool, or one without. */
const EVENT_KIND = { message: 0, tool: 1, noTool: 2 } as const;

/**
 * The units of the events a policy reads by units, laid out flat: per event one string, holding
 * the event's address and its role or tool (what evidence names the event by), then per slot its
 * units' normalised texts joined in order (one search, in one block of memory, instead of one per
 * leaf), then each unit's text as it is and its field path as evidence gives it; and per unit, in
 * one array for all events, where each of those starts, its level and whether the detector reads
 * it. Confirming a hit in an event read long ago and giving its evidence then reads that string
 * and a cache line or two of that array, not the event, an object per unit and per path (each a
 * likely cache miss in a long session). Unit objects are kept only for events with a unit the
 * detector reads (whose spans are kept on the unit).
 */
class UnitStore {
  /** Per seq: the event's units, for an event with a unit the detector reads. */
  readonly units: (Unit[] | undefined)[] = [];
  /** Per seq: the event's string (see above). */
  readonly texts: string[] = [];
  /**
   * Per seq, two ints: the position in `ints` of its number of units (followed by K ints per unit
   * and K for the end), and the policy's byte for the event (see {@link IncrementalProvenance}),
   * side by side so that a search reads one cache line for both.
   */
  meta = new Int32Array(512);
  private ints = new Int32Array(4096);
  private n = 0;

  /** Stores the units of `event`, each lower-cased once. */
  add(event: MessageEvent | ToolResultEvent, units: Unit[]): void {
    const { seq } = event;
    const count = units.length;
    this.meta = grown(this.meta, 2 * seq + 1, (n) => new Int32Array(n));
    this.meta[2 * seq] = this.n;
    this.ints = grown(this.ints, this.n + 1 + (count + 1) * K, (n) => new Int32Array(n));
    const ints = this.ints;
    const base = this.n + 1;
    ints[this.n] = count;
    const parts: string[] = [];
    let at = 0;
    const put = (text: string): number => {
      const start = at;
      parts.push(text);
      at += text.length + 1;
      return start;
    };
    const end = base + count * K;
    ints[end + AT_END] = put(event.at) + event.at.length;
    const name = event.type === "message" ? event.role : event.tool;
    ints[end + NAME_END] = put(name ?? "") + (name ?? "").length;
    ints[end + KIND] =
      event.type === "message" ? EVENT_KIND.message : name === null ? EVENT_KIND.noTool : EVENT_KIND.tool;
    const lower = units.map((u) => u.text.toLowerCase());
    // The text without separators first, beside the string's start: a search of an identifier
    // reads it from its start to the hit.
    for (const slot of SLOT_ORDER) {
      const normalise = SLOTS[slot] as Family["text"];
      for (let j = 0; j < count; j++) ints[base + j * K + slot] = put(normalise(lower[j] as string));
      ints[base + count * K + slot] = at;
    }
    // Each unit's text and path side by side: evidence reads both, one cache line where they are short.
    for (let j = 0; j < count; j++) {
      const unit = units[j] as Unit;
      const o = base + j * K;
      ints[o + TEXT] = put(unit.text);
      if (unit.path) {
        const path = formatPath(unit.path);
        const start = put(path);
        ints[o + PATH] = start;
        ints[o + PATH_END] = start + path.length;
      } else {
        ints[o + PATH] = -1;
        ints[o + PATH_END] = -1;
      }
      // Dropping separators only removes code units: the same length is the same text.
      const same =
        (ints[o + K + PLAIN_SLOT] as number) - (ints[o + PLAIN_SLOT] as number) ===
        (ints[o + K + STRIP_SLOT] as number) - (ints[o + STRIP_SLOT] as number);
      ints[o + FLAGS] = unit.level | (unit.detect ? DETECT : 0) | (same ? SAME : 0);
    }
    ints[end + TEXT] = at;
    this.n = base + (count + 1) * K;
    this.texts[seq] = parts.join("\u0000");
    if (units.some((u) => u.detect)) this.units[seq] = units;
  }

  /** Number of units of the event at `seq`. */
  count(seq: number): number {
    return this.ints[this.meta[2 * seq] as number] as number;
  }

  /** Offset in the event's string of what `at` (TEXT, or a slot) gives for unit `j` (`count` for the end). */
  at(seq: number, j: number, at: number): number {
    return this.ints[(this.meta[2 * seq] as number) + 1 + j * K + at] as number;
  }

  /**
   * The index of the unit of the event at `seq` holding the code units [i, i + length) of its
   * string, found in the joined text of `slot`, or -1 when they run past that unit's end (an
   * occurrence that spans two leaves, which no leaf holds).
   */
  unitAt(seq: number, slot: number, i: number, length: number): number {
    const ints = this.ints;
    const base = (this.meta[2 * seq] as number) + 1;
    // The last unit starting at or before i.
    let lo = 0;
    let hi = (ints[base - 1] as number) - 1;
    while (lo < hi) {
      const m = (lo + hi + 1) >>> 1;
      if ((ints[base + m * K + slot] as number) <= i) lo = m;
      else hi = m - 1;
    }
    return i + length > (ints[base + (lo + 1) * K + slot] as number) - 1 ? -1 : lo;
  }

  /**
   * Where unit `j` of the event at `seq` holds a hit, for evidence: for a unit the detector reads,
   * the unit itself (its spans are on it); else its text and field path, from the event's string.
   */
  detail(seq: number, j: number, span: InjectionSpan | undefined): Detail {
    const source = this.source(seq);
    const units = this.units[seq];
    if (units) return { unit: units[j] as Unit, span, source };
    const text = this.texts[seq] as string;
    const start = this.at(seq, j, TEXT);
    const from = this.at(seq, j, PATH);
    const unit: Unit = {
      text: text.slice(start, (from === -1 ? this.at(seq, j + 1, TEXT) : from) - 1),
      level: this.flags(seq, j) & LEVEL_BITS,
    };
    return from === -1
      ? { unit, span, source }
      : { unit, span, source, path: text.slice(from, this.at(seq, j, PATH_END)) };
  }

  /** The event at `seq` as evidence refers to it, from its string. */
  private source(seq: number): EventRef {
    const text = this.texts[seq] as string;
    const count = this.count(seq);
    const atEnd = this.at(seq, count, AT_END);
    const at = text.slice(0, atEnd);
    const name = text.slice(atEnd + 1, this.at(seq, count, NAME_END));
    switch (this.at(seq, count, KIND)) {
      case EVENT_KIND.message:
        return { seq, at, type: "message", role: name };
      case EVENT_KIND.tool:
        return { seq, at, type: "tool_result", tool: name };
      default:
        return { seq, at, type: "tool_result", tool: null };
    }
  }

  /** The level of unit `j` of the event at `seq`, and DETECT when the detector reads it. */
  flags(seq: number, j: number): number {
    return this.at(seq, j, FLAGS);
  }
}

/** What one pattern of one family is known to hold: earliest hit per level, as far as searched. */
interface PatternState {
  earliest: number[];
  detail: (Detail | undefined)[];
  /** The events before this seq have been searched. */
  next: number;
  /** Nothing later can change the answer: a trusted hit (the value is cleared for good). */
  done: boolean;
  /**
   * For a pattern of the `plain` family: the state of the same pattern in the `spacing` family
   * when that family leaves it as it is, else null; undefined until asked.
   */
  twin?: PatternState | null;
}

/** The state of a pattern not searched yet. */
function newState(): PatternState {
  return { earliest: [-1, -1, -1, -1], detail: [], next: 0, done: false };
}

/**
 * Whether nothing later can change a pattern's answer (see {@link PatternState.done}): a trusted
 * hit. Hits at every level below it are not enough, since later trusted content still clears
 * the value.
 */
function isDone(st: PatternState): boolean {
  return st.earliest[LEVEL.trusted] !== -1;
}

/** Bits of {@link IncrementalProvenance}'s byte per event, above its level + 1 (0: not read). */
const LEVEL_BITS = 7;
/** The policy reads the event by units. */
const BY_UNITS = 8;
/**
 * Its units are built and each unit's lower-cased text occurs in the event's lower-cased raw
 * text (JSON without escapes, YAML without folds or quotes): then a unit holding a pattern
 * implies the raw text holds it, in every family, and the raw text need not be searched first.
 */
const IN_RAW = 16;
/** Its units are built (in the {@link UnitStore}). */
const BUILT = 32;

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
  /**
   * Per pattern, its state in each family (by family index) that asked for it: one map for all
   * families, since a value's patterns are often the same text (an identifier without
   * separators), and each first lookup of a pattern in a long session's map is a cache miss.
   */
  private readonly patterns = new SeededTable<string, (PatternState | undefined)[]>();
  /** The last pattern asked and its states: a lookup asks the same pattern several times in a row. */
  private lastPattern: string | undefined;
  private lastStates: (PatternState | undefined)[] = [];
  private readonly store = new UnitStore();
  private readonly byUnits: boolean;
  // Per seq, what a search needs to know of an event before reading it, in `store.meta`: the
  // policy's level for it + 1 (0: a call, an assistant message, or content the policy does not
  // read) and the BY_UNITS, IN_RAW and BUILT bits, so that passing over a candidate costs no read
  // of the event itself.
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
   * Reads the events appended since the last call as a lookup would need them: indexes their
   * content, notes the policy's level for each, and builds the units of each event this policy
   * reads by units without the injection detector (structured content that field rules name,
   * parsed into leaves; messages). The live guard calls it as each event is observed, so that a
   * check's time does not carry the events that arrived since the last one; a lookup calls it
   * for the events appended since.
   */
  prepare(): number {
    const end = this.content.sync();
    if (this.prepared === end) return end;
    this.store.meta = grown(this.store.meta, 2 * end + 1, (n) => new Int32Array(n));
    const meta = this.store.meta;
    for (; this.prepared < end; this.prepared++) {
      const event = this.content.events[this.prepared] as TraceEvent;
      // What the content index skips is never a candidate.
      if (event.type === "tool_call" || (event.type === "message" && event.role === "assistant")) continue;
      const level = eventLevel(this.policy, event);
      if (level < 0) continue;
      let bits = level + 1;
      if (this.byUnits && readsByUnits(this.policy, event, level)) {
        bits |= BY_UNITS;
        // A tool result no field rule names is split into leaves only if the injection detector
        // marks its text, and the detector is the dear part: such a result waits for a lookup
        // that needs it (one whose value occurs in its text), as in the batch index.
        if (event.type !== "tool_result" || this.policy.fieldRules(event.tool).length > 0) {
          meta[2 * event.seq + 1] = bits;
          this.unitsAt(event, level);
          continue;
        }
      }
      meta[2 * event.seq + 1] = bits;
    }
    return end;
  }

  lookup(value: string, seq: number, from: ProvenanceLevel): ProvenanceHit | undefined {
    return lookupHit(this.table, this.content.events, value, seq, from);
  }

  /** The state of a pattern, searched up to the end of the trace. */
  private state(f: number, pattern: string): PatternState {
    let states = this.lastStates;
    if (pattern !== this.lastPattern) {
      const found = this.patterns.get(pattern);
      if (found) states = found;
      else {
        states = [];
        this.patterns.set(pattern, states);
      }
      this.lastPattern = pattern;
      this.lastStates = states;
    }
    let st = states[f];
    if (!st) {
      st = newState();
      states[f] = st;
    }
    const end = this.prepare();
    if (!st.done && st.next < end) {
      const seqs = this.content.candidates(pattern, st.next);
      if (seqs.length > 0) {
        const twin = f === PLAIN ? this.twin(st, states, pattern) : undefined;
        if (twin && twin.next === st.next && !twin.done) {
          this.searchPair(st, twin, pattern, seqs);
          twin.next = end;
        } else this.search(st, f, pattern, seqs);
      }
      st.next = end;
    }
    return st;
  }

  /**
   * The state of the `spacing` family for a `plain` pattern that family leaves as it is (an
   * identifier without separators: an IBAN, a phone number written as one word), or undefined.
   * Both are asked of each lookup of such a value, over the same candidates, and a hit of the
   * `plain` family is one of the `spacing` family in the same unit: one search serves both.
   */
  private twin(
    st: PatternState,
    states: (PatternState | undefined)[],
    pattern: string,
  ): PatternState | undefined {
    if (st.twin === undefined) {
      if ((FAMILIES[SPACING] as Family).pattern(pattern) === pattern) {
        st.twin = states[SPACING] ?? newState();
        states[SPACING] = st.twin;
      } else st.twin = null;
    }
    return st.twin ?? undefined;
  }

  /**
   * Searches the events `seqs` (from `st.next` on) for one pattern, as ProvenanceIndex's scan
   * does.
   */
  private search(st: PatternState, f: number, pattern: string, seqs: readonly number[]): void {
    const slot = SLOT_OF[f] as number;
    const meta = this.store.meta;
    for (const seq of seqs) {
      const bits = meta[2 * seq + 1] as number;
      if (bits === 0) continue;
      const level = (bits & LEVEL_BITS) - 1;
      if (bits & BY_UNITS) {
        // Read by units only when the value occurs in the event's text, as the batch index does.
        // Units built already (at prepare) may spare the search of the raw text; others are not
        // built for a value the raw text does not hold.
        if (!(bits & IN_RAW) && !holds(this.content.entry(seq), slot, pattern, true)) continue;
        if (!(bits & BUILT)) this.unitsAt(this.content.entry(seq).event, level);
        this.scan(st, f, seq, slot, pattern);
      } else if (st.earliest[level] === -1 && holds(this.content.entry(seq), slot, pattern, false)) {
        st.earliest[level] = seq;
      }
      st.done = isDone(st);
      if (st.done) return;
    }
  }

  /**
   * {@link search} for a pattern of the `plain` family (`plain`) and the same pattern of the
   * `spacing` family (`spacing`), both searched up to the same event, in one pass: the pattern
   * has no separators, so a unit whose lower-cased text holds it still does once separators are
   * dropped, and the `plain` family needs looking at only in the units where the `spacing` family
   * found it (the joined text without separators is read whole, the other only there). Each
   * state gets what its own search would give it, and stops where that search would.
   */
  private searchPair(
    plain: PatternState,
    spacing: PatternState,
    pattern: string,
    seqs: readonly number[],
  ): void {
    const meta = this.store.meta;
    const store = this.store;
    for (const seq of seqs) {
      const bits = meta[2 * seq + 1] as number;
      if (bits === 0) continue;
      const level = (bits & LEVEL_BITS) - 1;
      if (bits & BY_UNITS) {
        // Each family's own test of the raw text first; the one without separators holds
        // whatever the lower-cased one does.
        const inRaw = (bits & IN_RAW) !== 0;
        if (!inRaw && !holds(this.content.entry(seq), STRIP_SLOT, pattern, true)) continue;
        if (!(bits & BUILT)) this.unitsAt(this.content.entry(seq).event, level);
        if (plain.done || !(inRaw || holds(this.content.entry(seq), PLAIN_SLOT, pattern, true))) {
          if (!spacing.done) this.scan(spacing, SPACING, seq, STRIP_SLOT, pattern);
        } else {
          const text = store.texts[seq] as string;
          const end = store.at(seq, store.count(seq), STRIP_SLOT) - 1;
          let last = -1;
          for (
            let i = text.indexOf(pattern, store.at(seq, 0, STRIP_SLOT));
            i !== -1 && i + pattern.length <= end;
            i = text.indexOf(pattern, i + 1)
          ) {
            const j = store.unitAt(seq, STRIP_SLOT, i, pattern.length);
            if (j === -1) continue;
            const local = i - store.at(seq, j, STRIP_SLOT);
            if (!spacing.done) this.record(spacing, SPACING, seq, j, local, pattern);
            if (store.flags(seq, j) & SAME) {
              // Its lower-cased text is this one: the same occurrence, in the same order.
              this.record(plain, PLAIN, seq, j, local, pattern);
              continue;
            }
            if (j === last) continue;
            // The unit's occurrences in the lower-cased text, in order: the hits a scan of the
            // whole of it would find in this unit (none runs past the unit's end).
            last = j;
            const own = text.slice(store.at(seq, j, PLAIN_SLOT), store.at(seq, j + 1, PLAIN_SLOT) - 1);
            for (let k = own.indexOf(pattern); k !== -1; k = own.indexOf(pattern, k + 1))
              this.record(plain, PLAIN, seq, j, k, pattern);
          }
        }
      } else {
        const entry = this.content.entry(seq);
        if (!spacing.done && spacing.earliest[level] === -1 && holds(entry, STRIP_SLOT, pattern, false))
          spacing.earliest[level] = seq;
        if (!plain.done && plain.earliest[level] === -1 && holds(entry, PLAIN_SLOT, pattern, false))
          plain.earliest[level] = seq;
      }
      spacing.done ||= isDone(spacing);
      plain.done ||= isDone(plain);
      if (plain.done && spacing.done) return;
    }
  }

  /** Records every occurrence of `pattern` in the joined text of `slot` of the event at `seq`. */
  private scan(st: PatternState, f: number, seq: number, slot: number, pattern: string): void {
    const store = this.store;
    const text = store.texts[seq] as string;
    const end = store.at(seq, store.count(seq), slot) - 1;
    for (
      let i = text.indexOf(pattern, store.at(seq, 0, slot));
      i !== -1 && i + pattern.length <= end;
      i = text.indexOf(pattern, i + 1)
    ) {
      const j = store.unitAt(seq, slot, i, pattern.length);
      if (j !== -1) this.record(st, f, seq, j, i - store.at(seq, j, slot), pattern);
    }
  }

  /**
   * Records an occurrence of `pattern` (normalised by family `f`) at `local` in the normalised
   * text of unit `j` of the event at `seq`: a hit at the unit's level, or `injected` inside a
   * span the detector marks (the detector reads the unit on its first occurrence).
   */
  private record(st: PatternState, f: number, seq: number, j: number, local: number, pattern: string): void {
    const flags = this.store.flags(seq, j);
    let lvl = flags & LEVEL_BITS;
    let span: InjectionSpan | undefined;
    if (flags & DETECT) {
      const unit = (this.store.units[seq] as Unit[])[j] as Unit;
      unit.spans ??= spansOf(this.content.entry(seq).event, unit.text);
      if (unit.spans.length > 0) {
        const lower = unit.text.toLowerCase();
        const map = offsetMap((FAMILIES[f] as Family).text, unit.text, lower);
        const same = lower.length === unit.text.length;
        span = spanAt(unit.spans, local, local + pattern.length - 1, map, same);
        if (span) lvl = LEVEL.injected;
      }
    }
    if (st.earliest[lvl] === -1) {
      st.earliest[lvl] = seq;
      st.detail[lvl] = this.store.detail(seq, j, span);
    }
  }

  /** Builds the units of an event read by units, once. */
  private unitsAt(event: MessageEvent | ToolResultEvent, level: number): void {
    if ((this.store.meta[2 * event.seq + 1] as number) & BUILT) return;
    const units = unitsOf(this.policy, event, level);
    this.store.add(event, units);
    const raw = this.content.entry(event.seq).raw[PLAIN_SLOT] as string[];
    const inRaw = units.every((u) => {
      const lower = u.text.toLowerCase();
      return raw.some((t) => t.includes(lower));
    });
    const meta = this.store.meta;
    meta[2 * event.seq + 1] = (meta[2 * event.seq + 1] as number) | BUILT | (inRaw ? IN_RAW : 0);
  }
}
