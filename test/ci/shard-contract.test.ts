/**
 * The contract script's sharding (docs/ci.md, "Sharding"): PROOF_SHARD writes a part per runner,
 * PROOF_MERGE gathers them and is the gate, with the regression gate's verdict and artifacts of
 * one unsharded run.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { GATE_ARTIFACTS, PROOF_BIN, regressedCorpus, runScript } from "./ci.js";

let regressed: string;

beforeAll(async () => {
  regressed = await tempDir();
  await regressedCorpus(regressed);
});

afterAll(removeTempDirs);

const ARGS = "--policy policy.yaml --traces traces";

describe("proof-ci.sh with PROOF_SHARD and PROOF_MERGE", () => {
  it("writes a part per shard (exit 0) and the merge gates the whole run like one runner", async () => {
    for (const i of [1, 2, 3]) {
      const r = await runScript(regressed, {
        PROOF_BIN,
        PROOF_ARGS: ARGS,
        PROOF_SHARD: `${i}/3`,
        PROOF_OUT: `parts/${i}`,
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`proof-ci: shard ${i}/3 written to parts/${i}`);
      expect((await readdir(join(regressed, "parts", String(i)))).sort()).toEqual([
        "cases.jsonl",
        "manifest.json",
        "shard.json",
        "sources.jsonl",
      ]);
    }
    const merged = await runScript(regressed, { PROOF_BIN, PROOF_MERGE: "parts", PROOF_OUT: "merged" });
    const single = await runScript(regressed, { PROOF_BIN, PROOF_ARGS: ARGS, PROOF_OUT: "single" });
    expect(single.code).toBe(5);
    expect(merged.code).toBe(single.code);
    expect(merged.stdout).toContain("proof-ci: proof merge of 3 parts, artifacts in merged");
    expect(merged.stdout).toContain("regression:");
    const names = (await readdir(join(regressed, "merged"))).sort();
    expect(names).toEqual([...GATE_ARTIFACTS, "regress.json"].sort());
    for (const name of names) {
      const a = await readFile(join(regressed, "merged", name));
      const b = await readFile(join(regressed, "single", name));
      expect({ name, same: a.equals(b) }).toEqual({ name, same: true });
    }
  });

  it("refuses PROOF_SHARD with PROOF_MERGE, and a PROOF_MERGE without parts (exit 6)", async () => {
    const both = await runScript(regressed, { PROOF_BIN, PROOF_SHARD: "1/2", PROOF_MERGE: "parts" });
    expect(both.code).toBe(6);
    expect(both.stderr).toContain("set one of them");
    const none = await runScript(regressed, { PROOF_BIN, PROOF_MERGE: "traces" });
    expect(none.code).toBe(6);
    expect(none.stderr).toContain("holds no part");
  });
});

describe("the sharded CI templates", () => {
  it("GitHub: a matrix of shards uploads a part each; the gate job downloads them and merges", async () => {
    const file = join(ROOT, "ci-templates", "github", "proof-sharded.yml");
    const validator = join(ROOT, "node_modules", "@action-validator", "cli", "cli.mjs");
    const out = await new Promise<{ code: number; output: string }>((resolve) =>
      execFile(process.execPath, [validator, file], (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, output: stdout + stderr }),
      ),
    );
    expect(out).toEqual({ code: 0, output: "" });
    const doc = parse(await readFile(file, "utf8"));
    const shards: number[] = doc.jobs.shard.strategy.matrix.shard;
    const judge = doc.jobs.shard.steps.find((s: { env?: object }) => s.env && "PROOF_SHARD" in s.env);
    expect(judge.env.PROOF_SHARD).toBe(`\${{ matrix.shard }}/${shards.length}`);
    expect(doc.jobs.proof.needs).toBe("shard");
    const merge = doc.jobs.proof.steps.find((s: { env?: object }) => s.env && "PROOF_MERGE" in s.env);
    expect(merge.run).toContain("scripts/proof-ci.sh");
  });

  it("GitLab: parallel shard jobs keep their parts apart; the gate job needs them and merges", async () => {
    const doc = parse(
      await readFile(join(ROOT, "ci-templates", "gitlab", "proof-sharded.gitlab-ci.yml"), "utf8"),
    );
    expect(doc["proof-shard"].parallel).toBeGreaterThan(1);
    expect(doc["proof-shard"].script.join("\n")).toContain('PROOF_SHARD="$CI_NODE_INDEX/$CI_NODE_TOTAL"');
    expect(doc["proof-shard"].artifacts.paths).toEqual(["proof-parts/"]);
    expect(doc.proof.needs).toEqual(["proof-shard"]);
    expect(doc.proof.script.join("\n")).toContain("PROOF_MERGE=proof-parts");
    expect(doc.proof.artifacts).toMatchObject({ when: "always", reports: { junit: "proof-out/junit.xml" } });
  });
});
