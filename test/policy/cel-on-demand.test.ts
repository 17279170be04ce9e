import { readFileSync } from "node:fs";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { prettyJson } from "../../src/io/canonical.js";
import { compilePolicy } from "../../src/policy/compile.js";

// The CEL engine loads on demand (src/expr/cel.ts). The setup file loads it for every test file,
// so each test here imports a fresh module graph, in which it is not loaded yet.
const EXAMPLES = new URL("../../examples/policies/", import.meta.url);
const WITHOUT_CEL = "agentdojo-banking.yaml";
const WITH_CEL = "lksg.v1.yaml";
const text = (name: string) => readFileSync(new URL(name, EXAMPLES), "utf8");

/** The modules of a fresh graph, the engine not loaded in it. */
async function fresh() {
  vi.resetModules();
  return {
    cel: await import("../../src/expr/cel.js"),
    compile: await import("../../src/policy/compile.js"),
    set: await import("../../src/policy/set.js"),
    compiled: await import("../../src/verify/compiled.js"),
  };
}

describe("CEL on demand", () => {
  beforeEach(() => {
    vi.resetModules();
  });

  it("compiles a policy without CEL to the same IR without loading the engine", async () => {
    const eager = prettyJson(compilePolicy(text(WITHOUT_CEL), WITHOUT_CEL));
    const { cel, compile, set } = await fresh();
    expect(cel.celLoaded()).toBe(false);
    const ir = compile.compilePolicy(text(WITHOUT_CEL), WITHOUT_CEL);
    expect(prettyJson(ir)).toBe(eager);
    set.policySetOf([{ ir, file: WITHOUT_CEL }]);
    expect(cel.celLoaded()).toBe(false);
  });

  it("refuses CEL before the engine is loaded, with an error naming the policy", async () => {
    const { cel, compile } = await fresh();
    expect(() => compile.compilePolicy(text(WITH_CEL), WITH_CEL)).toThrow(cel.CelNotLoadedError);
    expect(() => compile.compilePolicy(text(WITH_CEL), WITH_CEL)).toThrow(/policy 'lksg.*loadCel/);
    expect(() => cel.compileCel("context.x == 1", cel.WHEN_VARIABLES)).toThrow(cel.CelNotLoadedError);
    expect(() => cel.parsedForm("context.x == 1")).toThrow(cel.CelNotLoadedError);
  });

  it("refuses an IR with CEL before the engine is loaded, not as an invalid IR", async () => {
    const ir = compilePolicy(text(WITH_CEL), WITH_CEL);
    const { cel, set, compiled } = await fresh();
    expect(() => compiled.compileIR(ir)).toThrow(cel.CelNotLoadedError);
    // policySetOf wraps a failed compileIR as `ir.invalid`, but not this one: it is no IR's fault.
    expect(() => set.policySetOf([{ ir, file: WITH_CEL }])).toThrow(cel.CelNotLoadedError);
  });

  it("refuses a rule with only a condition, which the engine compiles on first use", async () => {
    const ir = compilePolicy(
      "schema: proof.policy/v1\npolicy_id: p\nrules:\n  - id: r\n    match: {tool: t, condition: 'args.x == 1'}\n    effect: block\n",
      "p.yaml",
    );
    expect(ir.rules[0]?.when).toBeUndefined();
    const { cel, compiled } = await fresh();
    expect(() => compiled.compileIR(ir)).toThrow(cel.CelNotLoadedError);
  });

  it("withCel loads the engine and compiles the same IR as an eager compile", async () => {
    const eager = prettyJson(compilePolicy(text(WITH_CEL), WITH_CEL));
    const { cel, compile, set } = await fresh();
    let runs = 0;
    const ir = await cel.withCel(async () => {
      runs++;
      return compile.compilePolicy(text(WITH_CEL), WITH_CEL);
    });
    expect(runs).toBe(2);
    expect(cel.celLoaded()).toBe(true);
    expect(prettyJson(ir)).toBe(eager);
    const policies = set.policySetOf([{ ir, file: WITH_CEL }]);
    const rule = policies.compiled[0]?.rules.get("no_sanctions");
    expect(
      rule?.condition?.evaluate({
        tool: "t",
        args: { supplier_id: "S1" },
        context: { sanctioned_suppliers: ["S1"] },
      }),
    ).toEqual({ value: true });
  });

  it("withCel runs a task once when it meets no CEL, and passes other errors through", async () => {
    const { cel } = await fresh();
    let runs = 0;
    await expect(
      cel.withCel(async () => {
        runs++;
        return 1;
      }),
    ).resolves.toBe(1);
    expect(runs).toBe(1);
    await expect(
      cel.withCel(async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(cel.celLoaded()).toBe(false);
  });

  it("loads the engine once: later loads share one promise", async () => {
    const { cel } = await fresh();
    const first = cel.loadCel();
    expect(cel.loadCel()).toBe(first);
    await first;
    expect(cel.compileCel("context.x == 1", cel.WHEN_VARIABLES).canonical).toBe("context.x == 1");
  });
});
