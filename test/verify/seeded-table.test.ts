/**
 * The maps of the live guard's provenance (SeededTable in src/verify/incremental.ts: patterns to
 * their states, 4-grams to their events) against a built-in Map.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { homeSlot, SeededTable, stringHash } from "../../src/verify/incremental.js";

/** A seed of the test's own, so that it can pick keys by their hash and where they are placed. */
const SEED = 987_654;

/** Keys whose first slot is the last of the first table (1,024 slots): probing runs past its end. */
const LAST_SLOT: string[] = [];
for (let k = 0; LAST_SLOT.length < 12; k++)
  if (homeSlot(stringHash(`k${k}`, SEED), 1023, SEED) === 1023) LAST_SLOT.push(`k${k}`);

/** Integer keys whose first slot is the last of the first table. */
const LAST_SLOT_INT: number[] = [];
for (let k = 0; LAST_SLOT_INT.length < 12; k++) if (homeSlot(k, 1023, SEED) === 1023) LAST_SLOT_INT.push(k);

/** Distinct keys with the same 32-bit hash: only comparing the keys tells them apart. */
const SAME_HASH: string[] = (() => {
  const seen = new Map<number, string>();
  const out: string[] = [];
  for (let k = 0; out.length < 6 && k < 2_000_000; k++) {
    const key = `h${k}`;
    const h = stringHash(key, SEED);
    const other = seen.get(h);
    if (other !== undefined) out.push(other, key);
    else seen.set(h, key);
  }
  return out;
})();

/** Sets generated keys in a table and in a Map, then asks both about every key and others. */
function answersAsMap<K extends string | number>(key: fc.Arbitrary<K>): void {
  fc.assert(
    fc.property(fc.array(fc.tuple(key, fc.integer()), { maxLength: 2500 }), fc.array(key), (sets, asks) => {
      const table = new SeededTable<K, number>(SEED);
      const model = new Map<K, number>();
      for (const [k, v] of sets) {
        table.set(k, v);
        model.set(k, v);
      }
      expect(table.size).toBe(model.size);
      for (const k of [...asks, ...model.keys()]) expect(table.get(k)).toBe(model.get(k));
    }),
    { numRuns: 200 },
  );
}

describe("SeededTable", () => {
  it("finds keys whose hashes are equal, and keys that probe past the table's end", () => {
    expect(SAME_HASH.length).toBeGreaterThanOrEqual(2);
    expect(stringHash(SAME_HASH[0] as string, SEED)).toBe(stringHash(SAME_HASH[1] as string, SEED));
    const table = new SeededTable<string, number>(SEED);
    const keys = [...SAME_HASH, ...LAST_SLOT];
    for (const [i, key] of keys.entries()) table.set(key, i);
    for (const [i, key] of keys.entries()) expect(table.get(key)).toBe(i);
    expect(table.get("absent")).toBeUndefined();
    expect(table.size).toBe(SAME_HASH.length + LAST_SLOT.length);
    // Grown several times (1,024 slots hold 512 keys): every key keeps its value.
    for (let i = 0; i < 5000; i++) table.set(`g${i}`, -i);
    for (const [i, key] of keys.entries()) expect(table.get(key)).toBe(i);
    for (let i = 0; i < 5000; i++) expect(table.get(`g${i}`)).toBe(-i);
    expect(table.size).toBe(SAME_HASH.length + LAST_SLOT.length + 5000);
  });

  it("answers as a Map does, through growth, colliding slots and updates", () => {
    answersAsMap(
      fc.oneof(
        fc.string({ maxLength: 6 }),
        fc.string({ unit: "grapheme", maxLength: 4 }),
        fc.constantFrom("", ...LAST_SLOT, ...SAME_HASH),
        fc.nat(3000).map((n) => `v${n}`),
      ),
    );
  });

  it("answers as a Map does for 32-bit integer keys (4-gram numbers), 0 and negative ones included", () => {
    answersAsMap(
      fc.oneof(
        fc.integer({ min: -3, max: 3000 }),
        fc.constantFrom(...LAST_SLOT_INT),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      ),
    );
    const table = new SeededTable<number, number>(SEED);
    for (let i = -2500; i < 2500; i++) table.set(i * 7919, i);
    for (let i = -2500; i < 2500; i++) expect(table.get(i * 7919)).toBe(i);
    expect(table.get(1)).toBeUndefined();
  });
});
