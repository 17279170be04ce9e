import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";

/** Deleting a repository is blocked; the loosened copy only warns. */
const POLICY = (effect: string) => `schema: proof.policy/v1
policy_id: run.repos
rules:
  - id: no_delete
    match: { tool: [delete_repo] }
    effect: ${effect}
`;

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "strict.yaml"), POLICY("block"));
  await writeFile(join(dir, "loose.yaml"), POLICY("warn"));
  // The "agent" records one OpenAI-style trace that deletes a repository.
  await writeFile(
    join(dir, "agent.mjs"),
    `import { mkdirSync, writeFileSync } from "node:fs";
mkdirSync("traces", { recursive: true });
writeFileSync("traces/run.json", JSON.stringify([
  { role: "user", content: "clean up" },
  { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "delete_repo", arguments: "{}" } }] },
]));
`,
  );
});

afterAll(removeTempDirs);

describe("proof run with a baseline", () => {
  it("gates with the regression gate: a loosened policy fails with status.json phase gate", async () => {
    expect(
      (
        await proof(
          [
            "run",
            "--policy",
            "strict.yaml",
            "--traces",
            "traces",
            "--out",
            "o1",
            "--",
            process.execPath,
            "agent.mjs",
          ],
          dir,
        )
      ).code,
    ).toBe(5);
    const init = await proof(
      [
        "regress",
        "init",
        "--policy",
        "strict.yaml",
        "--traces",
        "traces",
        "--baseline",
        "b.json",
        "--out",
        "o2",
      ],
      dir,
    );
    expect(init.code).toBe(0);
    // The blocked case is known-good now: the same policy passes the regression gate.
    const same = await proof(
      [
        "run",
        "--policy",
        "strict.yaml",
        "--traces",
        "traces",
        "--baseline",
        "b.json",
        "--out",
        "o3",
        "--",
        process.execPath,
        "agent.mjs",
      ],
      dir,
    );
    expect(same.code).toBe(0);
    const loose = await proof(
      [
        "run",
        "--policy",
        "loose.yaml",
        "--traces",
        "traces",
        "--baseline",
        "b.json",
        "--out",
        "o4",
        "--",
        process.execPath,
        "agent.mjs",
      ],
      dir,
    );
    expect(loose.code).toBe(5);
    expect(JSON.parse(await readFile(join(dir, "o4", "status.json"), "utf8"))).toEqual({
      phase: "gate",
      code: 5,
    });
    const regress = JSON.parse(await readFile(join(dir, "o4", "regress.json"), "utf8"));
    expect(regress.passed).toBe(false);
    expect(JSON.stringify(regress.transitions)).toContain("loosened");

    // --gate verify ignores the baseline: the loosened policy only warns, so verify passes.
    const verifyOnly = await proof(
      [
        "run",
        "--gate",
        "verify",
        "--policy",
        "loose.yaml",
        "--traces",
        "traces",
        "--baseline",
        "b.json",
        "--out",
        "o5",
        "--",
        process.execPath,
        "agent.mjs",
      ],
      dir,
    );
    expect(verifyOnly.code).toBe(0);
    await expect(readFile(join(dir, "o5", "regress.json"), "utf8")).rejects.toThrow();
    const bad = await proof(
      ["run", "--gate", "fast", "--policy", "loose.yaml", "--traces", "traces", "--", "true"],
      dir,
    );
    expect(bad.code).toBe(6);
    expect(bad.stderr).toMatch(/--gate must be auto, verify or regress/);
  });
});
