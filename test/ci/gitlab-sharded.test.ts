/**
 * The sharded GitLab template (ci-templates/gitlab/proof-sharded.gitlab-ci.yml) executed for real
 * by gitlab-ci-local, as test/ci/gitlab.test.ts runs the plain one: `parallel:` shard jobs each
 * keep a part, the `proof` job needs them, merges them and is the gate.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { removeTempDirs } from "../e2e/cli.js";
import { missingTools } from "../helpers/tools.js";
import { pipeline, repository } from "./gitlab-fixture.js";

/** A file of a job's exported artifacts. */
const artifact = (dir: string, job: string, file: string): Promise<string> =>
  readFile(join(dir, ".gitlab-ci-local", "artifacts", job, file), "utf8");

afterAll(removeTempDirs);

/** Why these tests are skipped here (gitlab-ci-local needs git and rsync), if they are. */
const NO_TOOLS = missingTools("git", "rsync");

describe("ci-templates/gitlab/proof-sharded.gitlab-ci.yml executed by gitlab-ci-local", () => {
  beforeEach((ctx) => {
    if (NO_TOOLS) ctx.skip(NO_TOOLS);
  });

  it("fails on a loosened policy from the merged parts: the gate job exits 5 with the whole run", async () => {
    const dir = await repository("proof-sharded.gitlab-ci.yml", true);
    const run = await pipeline(dir);
    expect(run.code, run.output).not.toBe(0);
    expect(run.output).toContain("proof-ci: proof merge of 4 parts, artifacts in proof-out");
    expect(run.output).toMatch(/FAIL 5\b/);
    expect(JSON.parse(await artifact(dir, "proof", "proof-out/status.json"))).toEqual({
      code: 5,
      phase: "gate",
    });
    const regress = JSON.parse(await artifact(dir, "proof", "proof-out/regress.json")) as {
      transitions: Array<{ case_id: string; kind: string; fails: boolean }>;
    };
    expect(regress.transitions).toContainEqual(
      expect.objectContaining({ case_id: "large.json", kind: "loosened", fails: true }),
    );
    // The merged report holds both cases, whichever shards judged them.
    const report = JSON.parse(await artifact(dir, "proof", "proof-out/report.json")) as {
      summary: { traces: number };
    };
    expect(report.summary.traces).toBe(2);
    const parts = (await readdir(join(dir, ".gitlab-ci-local", "artifacts"))).filter((j) =>
      j.startsWith("proof-shard"),
    );
    expect(parts.length).toBe(4);
  });
});
