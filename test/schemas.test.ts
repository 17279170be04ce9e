import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script without type declarations
import { GENERATED, generateSchema } from "../scripts/gen-schemas.mjs";

describe("published schemas generated from the TypeScript types", () => {
  for (const file of Object.keys(GENERATED as Record<string, unknown>)) {
    it(`schemas/${file} matches the types (run npm run gen:schemas after changing them)`, () => {
      const published = readFileSync(new URL(`../schemas/${file}`, import.meta.url), "utf8");
      expect(published).toBe((generateSchema as (f: string) => string)(file));
    });
  }
});
