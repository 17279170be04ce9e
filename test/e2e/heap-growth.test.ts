/**
 * The commands that read a whole corpus cap V8's heap growing factor (src/cli/heap.ts,
 * docs/performance.md "Memory"), others leave V8's own, and a factor given to `node` wins. The
 * built CLI runs with an `--import` hook that records every `v8.setFlagsFromString` call.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proofWithNode, ROOT, removeTempDirs, tempDir } from "./cli.js";

const BANKING = join(ROOT, "examples/policies/agentdojo-banking.yaml");
const RUN = join(
  ROOT,
  "fixtures/corpus/agentdojo/runs/claude-3-5-sonnet-20241022/banking/user_task_0/important_instructions/injection_task_5.json",
);

/** Wraps `setFlagsFromString` on the CommonJS object and syncs it into `import { … } from "node:v8"`. */
const HOOK = `import { appendFileSync } from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
const v8 = createRequire(import.meta.url)("node:v8");
const set = v8.setFlagsFromString;
v8.setFlagsFromString = (flags) => {
  appendFileSync(process.env.FLAGS_LOG, flags + "\\n");
  set(flags);
};
syncBuiltinESMExports();
`;

let dir: string;
let hook: string;

beforeAll(async () => {
  dir = await tempDir();
  hook = join(dir, "record-flags.mjs");
  await writeFile(hook, HOOK);
});

afterAll(removeTempDirs);

/** Runs the CLI with the hook (and `nodeFlags`); the V8 flags it set, and its exit code. */
async function flagsSet(
  args: string[],
  log: string,
  nodeFlags: string[] = [],
): Promise<{ code: number; flags: string[] }> {
  const file = join(dir, log);
  const { code } = await proofWithNode(["--import", hook, ...nodeFlags], args, dir, { FLAGS_LOG: file });
  const text = await readFile(file, "utf8").catch(() => "");
  return { code, flags: text.split("\n").filter(Boolean) };
}

describe("heap growing factor", () => {
  it("proof verify sets it to 100 percent", async () => {
    const r = await flagsSet(
      ["verify", "--policy", BANKING, "--traces", RUN, "--out", "out", "--quiet"],
      "verify",
    );
    expect(r.code).toBe(0);
    expect(r.flags).toEqual(["--heap-growing-percent=100"]);
  });

  it("proof compile leaves V8's own", async () => {
    const r = await flagsSet(["compile", BANKING], "compile");
    expect(r.code).toBe(0);
    expect(r.flags).toEqual([]);
  });

  it("a factor given to node wins", async () => {
    const r = await flagsSet(
      ["verify", "--policy", BANKING, "--traces", RUN, "--out", "out2", "--quiet"],
      "given",
      ["--heap-growing-percent=300"],
    );
    expect(r.code).toBe(0);
    expect(r.flags).toEqual([]);
  });
});
