/**
 * The GitLab template executed for real by gitlab-ci-local (a dev dependency; needs git and
 * rsync), in a temporary git repository that holds the template as .gitlab-ci.yml, a policy,
 * traces and their baseline. The job installs the package as the template does, from the tarball
 * `npm pack` makes of this repository (PROOF_PACKAGE) with npm offline, so it runs the published
 * package's scripts/proof-ci.sh and bundle, and no registry is needed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { removeTempDirs } from "../e2e/cli.js";
import { missingTools } from "../helpers/tools.js";
import { pipeline, repository } from "./gitlab-fixture.js";

/** Files of the job's exported artifacts (`artifacts:paths`), as GitLab would keep them. */
const artifact = (dir: string, file: string): Promise<string> =>
  readFile(join(dir, ".gitlab-ci-local", "artifacts", "proof", "proof-out", file), "utf8");

afterAll(removeTempDirs);

/** Why these tests are skipped here (gitlab-ci-local needs git and rsync), if they are. */
const NO_TOOLS = missingTools("git", "rsync");

describe("ci-templates/gitlab executed by gitlab-ci-local", () => {
  beforeEach((ctx) => {
    if (NO_TOOLS) ctx.skip(NO_TOOLS);
  });
  it("passes on an unchanged corpus: job exit 0, junit.xml and the artifacts exported", async () => {
    const dir = await repository("proof.gitlab-ci.yml", false);
    const run = await pipeline(dir);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/PASS\s+proof/);
    expect(run.output).toContain("proof-ci: gate passed (exit 0)");
    // The published package was installed and run: no registry, no placeholder.
    expect(run.output).toMatch(/added 1 package/);
    expect(run.output).not.toMatch(/ETARGET|E404|ENOTCACHED/);
    expect(JSON.parse(await artifact(dir, "status.json"))).toEqual({ code: 0, phase: "gate" });
    const junit = await artifact(dir, "junit.xml");
    expect(junit).toContain('name="rent.json"');
    expect(junit).toContain('name="large.json"');
    for (const f of ["report.json", "regress.json", "summary.md", "results.sarif", "manifest.json"]) {
      expect((await artifact(dir, f)).length, f).toBeGreaterThan(0);
    }
  });

  it("fails on a loosened policy: job exit 5, pipeline failed, artifacts still exported", async () => {
    const dir = await repository("proof.gitlab-ci.yml", true);
    const run = await pipeline(dir);
    expect(run.code, run.output).not.toBe(0);
    expect(run.output).toMatch(/FAIL 5\b/);
    expect(run.output).toMatch(/FAIL\s+proof/);
    expect(JSON.parse(await artifact(dir, "status.json"))).toEqual({ code: 5, phase: "gate" });
    const regress = JSON.parse(await artifact(dir, "regress.json")) as {
      transitions: Array<{ case_id: string; kind: string; fails: boolean }>;
    };
    expect(regress.transitions).toContainEqual(
      expect.objectContaining({ case_id: "large.json", kind: "loosened", fails: true }),
    );
    expect(await artifact(dir, "junit.xml")).toContain('name="large.json"');
  });
});
