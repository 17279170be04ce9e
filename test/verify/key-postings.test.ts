/**
 * The long-key postings of the live guard's content index (src/verify/incremental.ts) against a
 * plain model: per key, the seqs added, each once, in order.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { homeSlot, KeyPostings } from "../../src/verify/incremental.js";

/** What `collect` must give: the seqs of `key` at or after `from`, descending. */
function expected(model: Map<number, number[]>, key: number, from: number): number[] {
  return (model.get(key) ?? []).filter((s) => s >= from).reverse();
}

/** Adds, in seq order, each seq's keys; returns the model. */
function fill(postings: KeyPostings, events: readonly (readonly number[])[]): Map<number, number[]> {
  const model = new Map<number, number[]>();
  for (const [seq, keys] of events.entries()) {
    for (const key of keys) {
      postings.add(key, seq);
      const list = model.get(key) ?? [];
      if (list[list.length - 1] !== seq) list.push(seq);
      model.set(key, list);
    }
  }
  return model;
}

/** A seed of the test's own, so that it can pick keys by where they are placed. */
const SEED = 12_345;
/** Keys whose first slot is the last of the first table (1,024 slots). */
const LAST_SLOT: number[] = [];
for (let k = 0; LAST_SLOT.length < 12; k++) if (homeSlot(k, 1023, SEED) === 1023) LAST_SLOT.push(k);

describe("KeyPostings", () => {
  it("counts and lists each key's events, through growth, colliding slots and repeats", () => {
    // Keys from a small pool (repeats across events), keys placed in the table's last slot (so
    // that probing runs past its end, at the first size), and any 32-bit key, 0 and negative ones
    // included.
    const key = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.constantFrom(...LAST_SLOT),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.array(key, { maxLength: 40 }), { maxLength: 120 }),
        fc.array(fc.tuple(key, fc.nat(130)), { maxLength: 30 }),
        (events, asks) => {
          const postings = new KeyPostings(SEED);
          const model = fill(postings, events);
          for (const [k, from] of [...asks, ...[...model.keys()].map((k) => [k, 0] as const)]) {
            expect(postings.count(k)).toBe(model.get(k)?.length ?? 0);
            const out: number[] = [];
            postings.collect(k, from, out);
            expect(out).toEqual(expected(model, k, from));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("places keys by a seed: the same keys share a slot under one seed and not another", () => {
    const other = LAST_SLOT.map((k) => homeSlot(k, 1023, SEED + 1));
    expect(new Set(other).size).toBeGreaterThan(6);
  });

  it("holds 100,000 distinct keys and a key of every event", () => {
    const postings = new KeyPostings();
    const events = Array.from({ length: 1000 }, (_, seq) => [
      -1,
      ...Array.from({ length: 100 }, (_, j) => Math.imul(seq * 100 + j + 1, 0x9e3779b1)),
    ]);
    const model = fill(postings, events);
    expect(model.size).toBe(100_001);
    expect(postings.count(-1)).toBe(1000);
    const out: number[] = [];
    postings.collect(-1, 995, out);
    expect(out).toEqual([999, 998, 997, 996, 995]);
    for (const k of [events[0]?.[1], events[999]?.[100], events[500]?.[50]] as number[]) {
      expect(postings.count(k)).toBe(1);
    }
    expect(postings.count(12_345)).toBe(0);
  });
});
