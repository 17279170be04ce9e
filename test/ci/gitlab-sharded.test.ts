/**
 * The sharded GitLab template (ci-templates/gitlab/proof-sharded.gitlab-ci.yml) executed for real
 * by gitlab-ci-local, as test/ci/gitlab.test.ts runs the plain one: `parallel:` shard jobs each
 * keep a part, the `proof` job needs them, merges them and is the gate.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { offlineNpmEnv, packTarball } from "../e2e/pack.js";
import { missingTools } from "../helpers/tools.js";

import { type Exit, GITLAB_CI_LOCAL, POLICY, sh, trace } from "./gitlab-fixture.js";

/**
 * A git repository with the template, a config, the policy and two traces (one blocked), and a
 * baseline recorded from them; `loosen` then edits the policy so the blocked case is only warned,
 * which the regression gate must fail. gitlab-ci-local reads the committed files of the repository.
 */
async function repository(loosen: boolean): Promise<string> {
  const dir = await tempDir();
  await copyFile(
    join(ROOT, "ci-templates", "gitlab", "proof-sharded.gitlab-ci.yml"),
    join(dir, ".gitlab-ci.yml"),
  );
  await mkdir(join(dir, "policies"));
  await mkdir(join(dir, "traces"));
  await writeFile(join(dir, "policies", "payments.yaml"), POLICY);
  await writeFile(join(dir, "traces", "rent.json"), trace(450));
  await writeFile(join(dir, "traces", "large.json"), trace(25000));
  await writeFile(
    join(dir, "proof.config.yaml"),
    "schema: proof.config/v1\npolicy: policies/\ntraces: [traces/]\nbaseline: .proof/baseline.json\n",
  );
  const init = await proof(["regress", "init"], dir);
  expect(init.code).toBe(0);
  if (loosen)
    await writeFile(join(dir, "policies", "payments.yaml"), POLICY.replace("effect: block", "effect: warn"));
  for (const args of [
    ["init", "-q", "-b", "main"],
    ["remote", "add", "origin", "https://gitlab.example.invalid/team/agent.git"],
    ["add", "-A"],
    ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "commit", "-q", "-m", "proof"],
  ]) {
    const r = await sh("git", args, dir);
    expect(r.code, r.output).toBe(0);
  }
  return dir;
}

/**
 * Runs the pipeline of `dir` with the shell executor (the template sets `image:`), the job
 * installing the packed tarball offline into a temporary directory of its own.
 */
async function pipeline(dir: string): Promise<Exit> {
  const { tarball } = await packTarball();
  const env = await offlineNpmEnv();
  return sh(
    process.execPath,
    [
      GITLAB_CI_LOCAL,
      "--force-shell-executor",
      "--no-color",
      "--variable",
      `PROOF_PACKAGE=${tarball}`,
      "--variable",
      `TMPDIR=${await tempDir()}`,
    ],
    dir,
    env,
  );
}

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
    const dir = await repository(true);
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
