/**
 * Other commands start without the server: `dist/proof.js` reaches fastify only through the
 * dynamic import of `proof serve`, never through its static imports.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../e2e/cli.js";
import { closureText, staticClosure } from "../helpers/bundle.js";

describe("start-up of the CLI bundle", () => {
  it("loads fastify only when proof serve runs", () => {
    const files = staticClosure("proof.js");
    expect(files.size).toBeGreaterThan(1);
    const proofText = readFileSync(join(ROOT, "dist", "proof.js"), "utf8");
    // Every command's module is a dynamic import of proof.js (src/cli/main.ts); serve's reaches
    // the server through a dynamic import of its own.
    const serve = /import\("\.\/(serve-[A-Z0-9]+\.js)"\)/.exec(proofText)?.[1];
    expect(serve).toBeDefined();
    const serveText = closureText(serve as string);
    expect(serveText).toMatch(/import\("\.\/server-[A-Z0-9]+\.js"\)/);
    for (const f of files)
      expect(readFileSync(join(ROOT, "dist", f), "utf8")).not.toContain("FST_ERR_CTP_BODY_TOO_LARGE");
  });
});
