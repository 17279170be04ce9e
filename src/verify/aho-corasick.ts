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
  /** 1 for the states where some pattern ends (terminal, or a dictionary link), else 0. */
  reports: Uint8Array;
}

/**
 * A multi-pattern string matcher (Aho & Corasick, "Efficient string matching", CACM 1975): after
 * building from the patterns in time linear in their total length, one pass over a text finds
 * every occurrence of every pattern in time linear in the text plus the number of matches. This
 * keeps provenance linear: each content event is scanned once for all argument values.
 */
export class AhoCorasick {
  /** goto[state] maps a UTF-16 code unit to the next state. */
  private readonly next: Map<number, number>[] = [new Map()];
  private readonly fail: number[] = [0];
  /** Pattern index ending exactly at this state, or -1. */
  private readonly terminal: number[] = [-1];
  /** Nearest state on the fail chain that is terminal (dictionary suffix link), or -1. */
  private readonly dict: number[] = [-1];
  /**
   * Next index of the same pattern text, or -1: a pattern given twice ends at one state, and
   * each of its indexes must still be reported.
   */
  private readonly same: number[];
  /**
   * The same automaton as a table (a DFA), when it is small enough: state * width + class of a
   * code unit gives the next state, with the fail links already followed. One array read per
   * character instead of map lookups: scanning is several times faster (docs/performance.md).
   */
  private readonly dense: DenseTable | undefined;

  /**
   * @param denseLimit most cells of the table form; above it the automaton scans with its maps
   *   (0 forces that, for tests of both forms).
   */
  constructor(
    readonly patterns: readonly string[],
    denseLimit = DENSE_LIMIT,
  ) {
    this.same = patterns.map(() => -1);
    const last = new Map<number, number>();
    patterns.forEach((p, index) => {
      let s = 0;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        let t = this.next[s]?.get(c);
        if (t === undefined) {
          t = this.next.length;
          this.next.push(new Map());
          this.fail.push(0);
          this.terminal.push(-1);
          this.dict.push(-1);
          this.next[s]?.set(c, t);
        }
        s = t;
      }
      if (p.length === 0) return;
      const previous = last.get(s);
      if (previous === undefined) this.terminal[s] = index;
      else this.same[previous] = index;
      last.set(s, index);
    });
    const queue: number[] = [];
    for (const t of this.next[0]?.values() ?? []) queue.push(t);
    for (let head = 0; head < queue.length; head++) {
      const s = queue[head] as number;
      for (const [c, t] of this.next[s] ?? []) {
        let f = this.fail[s] as number;
        while (f !== 0 && !this.next[f]?.has(c)) f = this.fail[f] as number;
        const ft = this.next[f]?.get(c);
        const fail = ft !== undefined && ft !== t ? ft : 0;
        this.fail[t] = fail;
        this.dict[t] = this.terminal[fail] !== -1 ? fail : (this.dict[fail] as number);
        queue.push(t);
      }
    }
    this.dense = this.table(queue, denseLimit);
  }

  /** Builds the DFA table from the trie (states in breadth-first order), or none above `limit` cells. */
  private table(order: readonly number[], limit: number): DenseTable | undefined {
    // Code units that occur in a pattern get classes 1..width-1; every other one is class 0.
    const ascii = new Int32Array(128);
    const other = new Map<number, number>();
    let width = 1;
    for (const edges of this.next) {
      for (const c of edges.keys()) {
        if (c < 128) {
          if (ascii[c] === 0) ascii[c] = width++;
        } else if (!other.has(c)) other.set(c, width++);
      }
    }
    if (this.next.length * width > limit) return undefined;
    const classOf = (c: number): number => (c < 128 ? (ascii[c] as number) : (other.get(c) ?? 0));
    const table = new Int32Array(this.next.length * width);
    for (const [c, t] of this.next[0] ?? []) table[classOf(c)] = t;
    // A state's fail state is shallower, so its row is complete by the time the state is reached.
    for (const s of order) {
      const row = s * width;
      table.copyWithin(row, (this.fail[s] as number) * width, (this.fail[s] as number) * width + width);
      for (const [c, t] of this.next[s] ?? []) table[row + classOf(c)] = t;
    }
    const reports = new Uint8Array(this.next.length);
    for (let s = 0; s < reports.length; s++)
      reports[s] = this.terminal[s] !== -1 || this.dict[s] !== -1 ? 1 : 0;
    return { table, width, ascii, other, reports };
  }

  /** Calls `found(patternIndex)` for every occurrence of every pattern in `text` (an empty pattern never matches). */
  scan(text: string, found: (pattern: number) => void): void {
    if (this.dense) {
      const { table, width, ascii, other, reports } = this.dense;
      let s = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        s = table[s * width + (c < 128 ? (ascii[c] as number) : (other.get(c) ?? 0))] as number;
        if (reports[s] === 0) continue;
        if (this.terminal[s] !== -1) this.report(this.terminal[s] as number, found);
        for (let d = this.dict[s] as number; d !== -1; d = this.dict[d] as number)
          this.report(this.terminal[d] as number, found);
      }
      return;
    }
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let t = this.next[s]?.get(c);
      while (t === undefined && s !== 0) {
        s = this.fail[s] as number;
        t = this.next[s]?.get(c);
      }
      s = t ?? 0;
      if (this.terminal[s] !== -1) this.report(this.terminal[s] as number, found);
      for (let d = this.dict[s] as number; d !== -1; d = this.dict[d] as number)
        this.report(this.terminal[d] as number, found);
    }
  }

  /** Reports a pattern and every later index given the same text. */
  private report(first: number, found: (pattern: number) => void): void {
    for (let p = first; p !== -1; p = this.same[p] as number) found(p);
  }
}
