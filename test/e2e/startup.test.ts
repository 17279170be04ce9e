/**
 * Fast start (docs/performance.md, "Start-up"): `dist/proof.js` imports no command module, no
 * YAML parser, no validator and no CEL at start; each command's module is a dynamic import, made
 * for the command the arguments name.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { closureText } from "../helpers/bundle.js";
import { proof, ROOT, removeTempDirs, tempDir } from "./cli.js";

afterAll(removeTempDirs);

describe("start-up of the CLI bundle", () => {
  const text = closureText("proof.js");

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

/** The one bundle file whose name starts with `prefix` (`check-` for dist/check-HASH.js). */
function distFile(prefix: string): string {
  const files = readdirSync(join(ROOT, "dist")).filter((f) => f.startsWith(prefix) && f.endsWith(".js"));
  expect(files).toHaveLength(1);
  return files[0] as string;
}

describe("start-up of `proof check`", () => {
  it("loads CEL only through a dynamic import, which a policy without CEL never makes", () => {
    const check = closureText(distFile("check-"));
    expect(check).not.toContain("function celEnv");
    // The engine exists, and a dynamic import reaches it: the test above is not vacuous.
    const engine = distFile("cel-engine-");
    expect(closureText(engine)).toContain("function celEnv");
    expect(check).toContain(`import("./${engine}")`);
  });

  it("loads the policy's validators, not every schema's, and no trace reader without --trace", () => {
    const check = closureText(distFile("check-"));
    expect(check).toContain("validatePolicy");
    for (const marker of [
      "validateReport",
      "validateBaseline",
      "validatePlan",
      "validatePolicyTest",
      "validateWaivers",
      "validateTraceEvent",
      "function* readTraces",
    ])
      expect({ marker, found: check.includes(marker) }).toEqual({ marker, found: false });
  });

  it("decides with and without CEL in the policy", async () => {
    const dir = await tempDir();
    const call = join(dir, "call.json");
    writeFileSync(call, JSON.stringify({ tool: "send_money", args: { recipient: "DE89", amount: 10 } }));
    const plain = await proof(
      ["check", "--policy", "examples/policies/agentdojo-banking.yaml", "--call", call],
      ROOT,
    );
    expect(plain.stdout.trim()).toBe("allow send_money");
    const sanctioned = join(dir, "sanctioned.json");
    writeFileSync(sanctioned, JSON.stringify({ tool: "pay_invoice", args: { supplier_id: "S1" } }));
    const context = join(dir, "context.json");
    writeFileSync(
      context,
      JSON.stringify({ environment: "prod", sanctioned_suppliers: ["S1"], supplier_tier: 2 }),
    );
    const args = [
      "check",
      "--policy",
      "examples/policies/lksg.v1.yaml",
      "--call",
      sanctioned,
      "--context",
      context,
    ];
    const cel = await proof(args, ROOT);
    expect({ code: cel.code, stdout: cel.stdout.trim() }).toEqual({
      code: 3,
      stdout: "block pay_invoice: rules no_sanctions (reasons supplier_sanctioned)",
    });
    // The same policy as an IR (compileIR needs the engine, not the compiler), and in a directory
    // beside a policy without CEL (the set is loaded again from the start, the engine loaded).
    const ir = join(dir, "lksg.ir.json");
    const compiled = await proof(["compile", "examples/policies/lksg.v1.yaml"], ROOT);
    writeFileSync(ir, compiled.stdout);
    const both = join(dir, "both");
    mkdirSync(both);
    copyFileSync(join(ROOT, "examples/policies/agentdojo-banking.yaml"), join(both, "a-banking.yaml"));
    copyFileSync(join(ROOT, "examples/policies/lksg.v1.yaml"), join(both, "b-lksg.yaml"));
    for (const policy of [ir, both]) {
      const r = await proof(["check", "--policy", policy, "--call", sanctioned, "--context", context], ROOT);
      expect({ policy, code: r.code, stdout: r.stdout.trim() }).toEqual({
        policy,
        code: 3,
        stdout: "block pay_invoice: rules no_sanctions (reasons supplier_sanctioned)",
      });
    }
  });

  it("reports invalid CEL in a policy it checks as any compile does", async () => {
    const dir = await tempDir();
    const policy = join(dir, "bad.yaml");
    writeFileSync(
      policy,
      "schema: proof.policy/v1\npolicy_id: bad\nrules:\n  - id: r\n    when: 'context.x =='\n    match: {tool: t}\n    effect: block\n",
    );
    const call = join(dir, "call.json");
    writeFileSync(call, JSON.stringify({ tool: "t", args: {} }));
    const check = await proof(["check", "--json", "--policy", policy, "--call", call], ROOT);
    const compile = await proof(["compile", "--json", policy], ROOT);
    expect(check.code).toBe(6);
    expect(JSON.parse(check.stdout || check.stderr)).toEqual(JSON.parse(compile.stdout || compile.stderr));
    expect(check.stdout || check.stderr).toContain("policy.invalid_cel");
  });
});
