/** Most cells (states times character classes) of the table form: 32 MiB. */
const DENSE_LIMIT = 1 << 23;

/** The transition table of an automaton: next state = table[state * width + class of the code unit]. */
interface DenseTable {
  table: Int32Array;
  width: number;
  /** Class of each ASCII code unit; 0 for those in no pattern. */
  ascii: Int32Array;
  /** Class of each other code unit that occurs in a pattern. */
  other: Map<number, number>;
  /** Class of the skipped code units (see the constructor's `skip`), whose row entry is the state itself; -1 without any. */
  skipClass: number;
}

/** Code-unit order, the order of `label` within a state's children. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A multi-pattern string matcher (Aho & Corasick, "Efficient string matching", CACM 1975): after
 * building from the patterns in time linear in their total length, one pass over a text finds
 * every occurrence of every pattern in time linear in the text plus the number of matches. This
 * keeps provenance linear: each content event is scanned once for all argument values.
 *
 * Memory is a handful of typed arrays indexed by state, about 18 bytes per character of the
 * patterns and no object per state or per character: an argument of several megabytes costs tens
 * of megabytes, never gigabytes (docs/performance.md). The trie is laid out breadth first with
 * the children of each state contiguous and sorted by code unit, so a transition is a binary
 * search among a state's children, and the trie is built from the sorted patterns without any
 * per-state map.
 */
export class AhoCorasick {
  /** Number of states; state 0 is the root. */
  private readonly size: number;
  /** The code unit on the edge into each state. */
  private readonly label: Uint16Array;
  /** Children of state s are the states childStart[s] .. childStart[s + 1] - 1 (length size + 1). */
  private readonly childStart: Int32Array;
  private readonly fail: Int32Array;
  /** Position in `order` of the first pattern ending exactly at this state, or -1. */
  private readonly terminal: Int32Array;
  /** Nearest state on the fail chain that is terminal (dictionary suffix link), or -1. */
  private readonly dict: Int32Array;
  /** Pattern indexes in code-unit order of their text (equal texts keep their index order). */
  private readonly order: Int32Array;
  /** For the first position of a run of equal texts in `order`: the end of the run. */
  private readonly runEnd: Int32Array;
  /**
   * The same automaton as a table (a DFA), when it is small enough: state * width + class of a
   * code unit gives the next state, with the fail links already followed. One array read per
   * character instead of a search among children: scanning is several times faster
   * (docs/performance.md).
   */
  private readonly dense: DenseTable | undefined;
  /** The skipped code units below 128 (1 when skipped), and the others; undefined when none are. */
  private readonly skipAscii: Uint8Array | undefined;
  private readonly skipOther: ReadonlySet<number>;

  /**
   * @param denseLimit most cells of the table form; above it the automaton scans with its trie
   *   (0 forces that, for tests of both forms).
   * @param skip code units a scan passes over as if the text did not hold them: scanning a text is
   *   then scanning the text with them removed, without building that copy, and the `end` a scan
   *   reports is an offset in the text as given. A pattern holding one of them never matches.
   */
  constructor(
    readonly patterns: readonly string[],
    denseLimit = DENSE_LIMIT,
    skip = "",
  ) {
    if (skip === "") {
      this.skipAscii = undefined;
      this.skipOther = new Set();
    } else {
      this.skipAscii = new Uint8Array(128);
      const other = new Set<number>();
      for (let i = 0; i < skip.length; i++) {
        const c = skip.charCodeAt(i);
        if (c < 128) this.skipAscii[c] = 1;
        else other.add(c);
      }
      this.skipOther = other;
    }
    const n = patterns.length;
    const text = (position: number): string => patterns[order[position] as number] as string;
    const order = Int32Array.from(
      patterns
        .map((_, i) => i)
        .sort((a, b) => byCodeUnits(patterns[a] as string, patterns[b] as string) || a - b),
    );
    this.order = order;
    this.runEnd = new Int32Array(n);
    let capacity = 1;
    for (const p of patterns) capacity += p.length;
    let label = new Uint16Array(capacity);
    let childStart = new Int32Array(capacity + 1);
    let terminal = new Int32Array(capacity).fill(-1);
    // The range of sorted positions whose patterns pass through each state (build only).
    const lo = new Int32Array(capacity);
    const hi = new Int32Array(capacity);
    hi[0] = n;
    let next = 1;
    let depth = -1;
    let levelEnd = 0;
    // Breadth first: the states of one depth are numbered before those of the next, so a
    // state's children are created in a block right after those of the state before it.
    for (let s = 0; s < next; s++) {
      if (s === levelEnd) {
        depth++;
        levelEnd = next;
      }
      let i = lo[s] as number;
      const end = hi[s] as number;
      // Patterns ending here sort first in the range; they are equal texts (one run).
      if (i < end && text(i).length === depth) {
        const first = i;
        while (i < end && text(i).length === depth) i++;
        // An empty pattern never matches.
        if (depth > 0) {
          terminal[s] = first;
          this.runEnd[first] = i;
        }
      }
      childStart[s] = next;
      while (i < end) {
        const c = text(i).charCodeAt(depth);
        let j = i + 1;
        while (j < end && text(j).charCodeAt(depth) === c) j++;
        label[next] = c;
        lo[next] = i;
        hi[next] = j;
        next++;
        i = j;
      }
    }
    childStart[next] = next;
    this.size = next;
    if (next < capacity) {
      // Shared prefixes: keep only the states that exist.
      label = label.slice(0, next);
      childStart = childStart.slice(0, next + 1);
      terminal = terminal.slice(0, next);
    }
    this.label = label;
    this.childStart = childStart;
    this.terminal = terminal;
    this.fail = new Int32Array(next);
    this.dict = new Int32Array(next).fill(-1);
    // A state's fail state is shallower, so it is final by the time the state's children need it.
    for (let s = 0; s < next; s++) {
      for (let t = childStart[s] as number; t < (childStart[s + 1] as number); t++) {
        let fail = 0;
        if (s !== 0) {
          const c = label[t] as number;
          for (let f = this.fail[s] as number; ; f = this.fail[f] as number) {
            const u = this.child(f, c);
            if (u !== -1) {
              fail = u;
              break;
            }
            if (f === 0) break;
          }
        }
        this.fail[t] = fail;
        this.dict[t] = terminal[fail] !== -1 ? fail : (this.dict[fail] as number);
      }
    }
    this.dense = this.table(denseLimit);
  }

  /** The child of state `s` on code unit `c`, or -1: a binary search among its sorted children. */
  private child(s: number, c: number): number {
    let a = this.childStart[s] as number;
    let b = (this.childStart[s + 1] as number) - 1;
    while (a <= b) {
      const m = (a + b) >>> 1;
      const l = this.label[m] as number;
      if (l === c) return m;
      if (l < c) a = m + 1;
      else b = m - 1;
    }
    return -1;
  }

  /** Builds the DFA table from the trie (states in breadth-first order), or none above `limit` cells. */
  private table(limit: number): DenseTable | undefined {
    // Code units that occur in a pattern get classes 1..width-1; every other one is class 0.
    const ascii = new Int32Array(128);
    const other = new Map<number, number>();
    let width = 1;
    for (let s = 1; s < this.size; s++) {
      const c = this.label[s] as number;
      if (c < 128) {
        if (ascii[c] === 0) ascii[c] = width++;
      } else if (!other.has(c)) other.set(c, width++);
      if (this.size * width > limit) return undefined;
    }
    const skipClass = this.skipAscii ? width++ : -1;
    if (this.size * width > limit) return undefined;
    if (this.skipAscii) {
      // A skipped code unit leaves the state as it is, whatever edge a pattern may have on it.
      for (let c = 0; c < 128; c++) if (this.skipAscii[c] === 1) ascii[c] = skipClass;
      for (const c of this.skipOther) other.set(c, skipClass);
    }
    const classOf = (c: number): number => (c < 128 ? (ascii[c] as number) : (other.get(c) ?? 0));
    const table = new Int32Array(this.size * width);
    for (let s = 0; s < this.size; s++) {
      const row = s * width;
      // The root's row starts empty; any other state's starts as its fail state's (complete by now).
      if (s !== 0) {
        const f = (this.fail[s] as number) * width;
        table.copyWithin(row, f, f + width);
      }
      for (let t = this.childStart[s] as number; t < (this.childStart[s + 1] as number); t++) {
        const k = classOf(this.label[t] as number);
        if (k !== skipClass) table[row + k] = t;
      }
      if (skipClass !== -1) table[row + skipClass] = s;
    }
    return { table, width, ascii, other, skipClass };
  }

  /**
   * Calls `found(patternIndex, end)` for every occurrence of every pattern in `text`, `end` being
   * the index of the occurrence's last code unit (an empty pattern never matches).
   */
  scan(text: string, found: (pattern: number, end: number) => void): void {
    const { terminal, dict } = this;
    let s = 0;
    if (this.dense) {
      const { table, width, ascii, other, skipClass } = this.dense;
      if (skipClass === -1) {
        for (let i = 0; i < text.length; i++) {
          const c = text.charCodeAt(i);
          s = table[s * width + (c < 128 ? (ascii[c] as number) : (other.get(c) ?? 0))] as number;
          if (terminal[s] === -1 && dict[s] === -1) continue;
          this.reportAll(s, found, i);
        }
        return;
      }
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        const k = c < 128 ? (ascii[c] as number) : (other.get(c) ?? 0);
        // The state stays, and its matches were reported at the code unit that reached it.
        if (k === skipClass) continue;
        s = table[s * width + k] as number;
        if (terminal[s] === -1 && dict[s] === -1) continue;
        this.reportAll(s, found, i);
      }
      return;
    }
    const { skipAscii, skipOther } = this;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (skipAscii && (c < 128 ? skipAscii[c] === 1 : skipOther.has(c))) continue;
      for (;;) {
        const t = this.child(s, c);
        if (t !== -1) {
          s = t;
          break;
        }
        if (s === 0) break;
        s = this.fail[s] as number;
      }
      if (terminal[s] === -1 && dict[s] === -1) continue;
      this.reportAll(s, found, i);
    }
  }

  /** Reports the patterns ending at state `s`: its own, then those down its dictionary links. */
  private reportAll(s: number, found: (pattern: number, end: number) => void, end: number): void {
    if (this.terminal[s] !== -1) this.report(this.terminal[s] as number, found, end);
    for (let d = this.dict[s] as number; d !== -1; d = this.dict[d] as number)
      this.report(this.terminal[d] as number, found, end);
  }

  /** Reports every pattern index of one run of equal texts. */
  private report(first: number, found: (pattern: number, end: number) => void, at: number): void {
    const end = this.runEnd[first] as number;
    for (let p = first; p < end; p++) found(this.order[p] as number, at);
  }
}
