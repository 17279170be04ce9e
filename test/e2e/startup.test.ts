/**
 * Fast start (docs/performance.md, "Start-up"): `dist/proof.js` imports no command module, no
 * YAML parser, no validator and no CEL at start; each command's module is a dynamic import, made
 * for the command the arguments name.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { proof, ROOT } from "./cli.js";

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
  const text = [...staticClosure("proof.js")]
    .map((f) => readFileSync(join(ROOT, "dist", f), "utf8"))
    .join("\n");

  it("evaluates no command, YAML parser, validator or CEL to start", () => {
    for (const marker of [
      "function registerVerify",
      "function registerCheck",
      "YAMLParseError",
      "validatePolicy",
      "celEnv",
    ])
      expect({ marker, found: text.includes(marker) }).toEqual({ marker, found: false });
  });

  it("imports every command's module on demand", () => {
    const proofText = readFileSync(join(ROOT, "dist", "proof.js"), "utf8");
    for (const name of ["verify", "check", "merge", "regress", "serve"])
      expect(proofText).toMatch(new RegExp(`import\\("\\./${name}-[A-Z0-9]+\\.js"\\)`));
  });

  it("still answers --version, help and a misspelt command", async () => {
    expect((await proof(["--version"], ROOT)).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await proof(["--help"], ROOT);
    expect(help.stdout).toContain("merge [options] <dirs...>");
    const typo = await proof(["verfy"], ROOT);
    expect(typo.code).toBe(6);
    expect(typo.stderr).toContain("did you mean verify?");
  });
});
