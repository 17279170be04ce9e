/**
 * The order the worker pool hands out files in (src/api/pool-queue.ts FileQueue): this thread from the
 * front in file order, workers the large files first, largest first, then from the back; every
 * file exactly once.
 */
import { describe, expect, it } from "vitest";
import { FileQueue } from "../../src/api/pool-queue.js";

describe("FileQueue", () => {
  it("gives the front in file order and the back from the end", () => {
    // No file is large: each is 1/20 of the bytes, not more than 1/16 (two threads).
    const q = new FileQueue(new Array(20).fill(1), 2);
    expect([q.front(), q.front()]).toEqual([0, 1]);
    expect([q.back(), q.back()]).toEqual([19, 18]);
    expect(q.first).toBe(2);
    for (let i = 2; i < 18; i += 2) expect([q.front(), q.back()]).toEqual([i / 2 + 1, 19 - i / 2 - 1]);
    expect([q.front(), q.back()]).toEqual([undefined, undefined]);
    expect(q.empty).toBe(true);
    expect(q.first).toBe(20);
  });

  it("gives the workers the large files first, largest first, and the front skips them", () => {
    // 100 of 160 bytes and 40 of 160 are more than 1/16 of the bytes (two threads); 1 is not.
    const sizes = [1, 1, 40, 1, 100, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    const q = new FileQueue(sizes, 2);
    expect([q.back(), q.back(), q.back()]).toEqual([4, 2, 15]);
    expect([q.front(), q.front(), q.front()]).toEqual([0, 1, 3]);
    expect(q.first).toBe(5);
  });

  it("skips a large file the front already took; of equal large files, the last goes first", () => {
    const q = new FileQueue([50, 1, 1, 50, 1, 1, 1, 1, 1, 1], 2);
    expect(q.front()).toBe(0);
    expect([q.back(), q.back()]).toEqual([3, 9]);
  });

  it("never gives a file too large to hold ahead of its turn", () => {
    // Files 2 and 9 are over the hold limit of 50 bytes: large, but judged only in their turn.
    const sizes = [1, 1, 100, 1, 1, 1, 1, 1, 1, 100];
    const q = new FileQueue(sizes, 2, 50);
    // The back stops at a file too large to hold; it is not taken as a large file either.
    expect(q.back()).toBeUndefined();
    expect([q.front(0), q.front(0)]).toEqual([0, 1]);
    // File 2 is next but the gathering is at file 1: wait.
    expect(q.front(1)).toBeUndefined();
    expect(q.front(2)).toBe(2);
    expect(q.front(2)).toBe(3);
    // Without a turn (a caller that holds nothing ahead), any file goes.
    for (let i = 4; i < 9; i++) expect(q.front()).toBe(i);
    expect(q.front(8)).toBeUndefined();
    expect(q.front(9)).toBe(9);
    expect(q.empty).toBe(true);
  });

  it("hands out every file exactly once, however the takes interleave", () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let round = 0; round < 50; round++) {
      const n = Math.floor(random() * 40);
      const sizes = Array.from({ length: n }, () => Math.floor(random() * 1000));
      const q = new FileQueue(sizes, 1 + Math.floor(random() * 4));
      const got: number[] = [];
      for (;;) {
        const i = random() < 0.5 ? q.front() : q.back();
        if (i === undefined) break;
        got.push(i);
      }
      expect(q.empty).toBe(true);
      expect(q.front()).toBeUndefined();
      expect(q.back()).toBeUndefined();
      expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });
});
