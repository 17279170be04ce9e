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

  constructor(readonly patterns: readonly string[]) {
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
      if (p.length > 0 && this.terminal[s] === -1) this.terminal[s] = index;
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
  }

  /** Calls `found(patternIndex)` for every occurrence of every pattern in `text`. */
  scan(text: string, found: (pattern: number) => void): void {
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let t = this.next[s]?.get(c);
      while (t === undefined && s !== 0) {
        s = this.fail[s] as number;
        t = this.next[s]?.get(c);
      }
      s = t ?? 0;
      if (this.terminal[s] !== -1) found(this.terminal[s] as number);
      for (let d = this.dict[s] as number; d !== -1; d = this.dict[d] as number)
        found(this.terminal[d] as number);
    }
  }
}
