/**
 * Other commands start without the server: `dist/proof.js` reaches fastify only through the
 * dynamic import of `proof serve`, never through its static imports.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../e2e/cli.js";

/** The bundle files `file` loads at start, itself included (static imports, transitively). */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(join(ROOT, "dist", file), "utf8");
  for (const m of text.matchAll(
    /(?:^|[;\s}])(?:import|export)\s*(?:[^"'()]*?\s*from\s*)?["']\.\/([^"']+)["']/g,
  ))
    staticClosure(m[1] as string, seen);
  return seen;
}

describe("start-up of the CLI bundle", () => {
  it("loads fastify only when proof serve runs", () => {
    const files = staticClosure("proof.js");
    expect(files.size).toBeGreaterThan(1);
    const proofText = readFileSync(join(ROOT, "dist", "proof.js"), "utf8");
    // Every command's module is a dynamic import of proof.js (src/cli/main.ts); serve's reaches
    // the server through a dynamic import of its own.
    const serve = /import\("\.\/(serve-[A-Z0-9]+\.js)"\)/.exec(proofText)?.[1];
    expect(serve).toBeDefined();
    const serveText = [...staticClosure(serve as string)]
      .map((f) => readFileSync(join(ROOT, "dist", f), "utf8"))
      .join("\n");
    expect(serveText).toMatch(/import\("\.\/server-[A-Z0-9]+\.js"\)/);
    for (const f of files)
      expect(readFileSync(join(ROOT, "dist", f), "utf8")).not.toContain("FST_ERR_CTP_BODY_TOO_LARGE");
  });
});
