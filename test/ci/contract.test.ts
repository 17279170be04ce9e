import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { exitScript, GATE_ARTIFACTS, PROOF_BIN, readJson, regressedCorpus, runScript } from "./ci.js";

/** The airline golden scenario: 200 tau-bench runs, none blocked, so the gate passes. */
const AIRLINE = join(ROOT, "fixtures", "golden", "airline");
const PASSING_ARGS = `--policy ${join(AIRLINE, "policy.yaml")} --traces ${join(AIRLINE, "traces")}`;

let regressed: string;
let baseBundle: string;

beforeAll(async () => {
  regressed = await tempDir();
  baseBundle = await regressedCorpus(regressed);
});

afterAll(removeTempDirs);

/** Sorted file names of an out dir. */
async function files(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

describe("proof-ci.sh: the gate's verdict", () => {
  it("exits 0 on a passing corpus and writes every artifact to the default proof-out", async () => {
    const dir = await tempDir();
    const r = await runScript(dir, { PROOF_ARGS: PASSING_ARGS });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("proof-ci: gate passed (exit 0)");
    expect(await files(join(dir, "proof-out"))).toEqual(GATE_ARTIFACTS);
    expect(await readJson(join(dir, "proof-out", "status.json"))).toEqual({ code: 0, phase: "gate" });
  });

  it("picks the regression gate for .proof/baseline.json and exits 5 on a regressed corpus", async () => {
    const r = await runScript(regressed, {
      PROOF_ARGS: "--policy policy.yaml --traces traces",
      PROOF_OUT: "gate-out",
    });
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("proof regress run");
    expect(r.stdout).toContain("gate FAILED (exit 5)");
    expect(r.stdout).toMatch(/loosened .*block -> warn {2}\(fails\)/);
    expect(await files(join(regressed, "gate-out"))).toEqual([...GATE_ARTIFACTS, "regress.json"].sort());
    expect(await readJson(join(regressed, "gate-out", "status.json"))).toEqual({ code: 5, phase: "gate" });
  });

  it("gates with verify when PROOF_GATE=verify even though a baseline exists", async () => {
    const r = await runScript(regressed, {
      PROOF_ARGS: "--policy policy.yaml --traces traces",
      PROOF_OUT: "verify-out",
      PROOF_GATE: "verify",
    });
    // One attack is still blocked by the loosened policy: verify fails too, without regress.json.
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("proof-ci: proof verify,");
    expect(await files(join(regressed, "verify-out"))).toEqual(GATE_ARTIFACTS);
  });

  it("reads options from PROOF_CONFIG, including the baseline that selects the regression gate", async () => {
    await writeFile(
      join(regressed, "ci.config.yaml"),
      "schema: proof.config/v1\npolicy: policy.yaml\ntraces: [traces]\nbaseline: .proof/baseline.json  # recorded\n",
    );
    const r = await runScript(regressed, { PROOF_CONFIG: "ci.config.yaml", PROOF_OUT: "config-out" });
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("proof regress run");
    expect(existsSync(join(regressed, "config-out", "regress.json"))).toBe(true);
  });

  it("passes proof's own failure through: invalid input exits 6, not a verdict", async () => {
    const dir = await tempDir();
    const r = await runScript(dir, { PROOF_ARGS: "--policy missing.yaml --traces nowhere" });
    expect(r.code).toBe(6);
    expect(r.stdout).toContain("proof failed with exit 6: not a gate verdict");
    expect(existsSync(join(dir, "proof-out"))).toBe(false);
  });

  it("keeps its summary bounded on a large corpus", async () => {
    const dir = await tempDir();
    const r = await runScript(dir, {
      PROOF_BIN,
      PROOF_ARGS: `--policy ${join(ROOT, "examples", "policies")} --traces ${join(ROOT, "fixtures", "corpus", "agentdojo", "runs")}`,
    });
    expect(r.code).toBe(5);
    const lines = r.stdout.trimEnd().split("\n");
    // The first line names the command; the summary after it is at most 40 lines, and says so.
    expect(lines.length).toBeLessThanOrEqual(41);
    expect(r.stdout).toMatch(/\.\.\. and \d+ more in proof-out\/report\.json/);
  });
});

describe("proof-ci.sh: a wrapped command (PROOF_CMD)", () => {
  for (const code of [1, 2, 7, 42]) {
    it(`passes the command's exit ${code} through unchanged, with status.json phase cmd`, async () => {
      const dir = await tempDir();
      await exitScript(dir);
      const r = await runScript(dir, {
        PROOF_ARGS: PASSING_ARGS,
        PROOF_CMD: `${process.execPath} exit.mjs ${code}`,
        PROOF_OUT: "out dir",
      });
      expect(r.code).toBe(code);
      expect(r.stdout).toContain(`the wrapped command failed with exit ${code}; the gate did not run`);
      expect(await readJson(join(dir, "out dir", "status.json"))).toEqual({ code, phase: "cmd" });
    });
  }

  it("reports a command exiting 5 as the command's failure (phase cmd), not the gate's", async () => {
    const dir = await tempDir();
    await exitScript(dir);
    const r = await runScript(dir, { PROOF_ARGS: PASSING_ARGS, PROOF_CMD: `${process.execPath} exit.mjs 5` });
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("the wrapped command failed with exit 5");
    expect(r.stdout).not.toContain("gate FAILED");
    expect(await readJson(join(dir, "proof-out", "status.json"))).toEqual({ code: 5, phase: "cmd" });
  });

  it("gates the traces when the command succeeds, against the default baseline", async () => {
    await exitScript(regressed);
    const r = await runScript(regressed, {
      PROOF_ARGS: "--policy policy.yaml --traces traces",
      PROOF_CMD: `${process.execPath} exit.mjs 0`,
      PROOF_OUT: "run-out",
    });
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("proof run (regress gate)");
    expect(await readJson(join(regressed, "run-out", "status.json"))).toEqual({ code: 5, phase: "gate" });
    expect(existsSync(join(regressed, "run-out", "regress.json"))).toBe(true);
  });

  it("returns the code itself and still summarises when the caller runs bash with -e", async () => {
    const dir = await tempDir();
    await exitScript(dir);
    const r = await runScript(
      dir,
      { PROOF_ARGS: PASSING_ARGS, PROOF_CMD: `${process.execPath} exit.mjs 42` },
      ["-e"],
    );
    expect(r.code).toBe(42);
    expect(r.stdout).toContain("the wrapped command failed with exit 42");
  });
});

describe("proof-ci.sh: PROOF_ARGS are data, never shell", () => {
  const ARGS = "--policy p.yaml ; $(touch pwned) `touch pwned2` a\\b * 'quoted arg'";
  const EXPECTED = [";", "$(touch", "pwned)", "`touch", "pwned2`", "a\\b", "*", "'quoted", "arg'"];

  it("passes ;, $(...), backquotes, globs and quotes to proof as literal arguments", async () => {
    const dir = await tempDir();
    // A stand-in for proof that records the arguments it received.
    await writeFile(
      join(dir, "dump.mjs"),
      'import { writeFileSync } from "node:fs";\nwriteFileSync("argv.json", JSON.stringify(process.argv.slice(2)));\n',
    );
    await writeFile(join(dir, "glob-bait.txt"), "");
    const r = await runScript(dir, { PROOF_BIN: `${process.execPath} dump.mjs`, PROOF_ARGS: ARGS });
    expect(r.code).toBe(0);
    const argv = JSON.parse(await readFile(join(dir, "argv.json"), "utf8")) as string[];
    expect(argv).toEqual(["--quiet", "verify", "--policy", "p.yaml", ...EXPECTED, "--out", "proof-out"]);
    expect(existsSync(join(dir, "pwned"))).toBe(false);
    expect(existsSync(join(dir, "pwned2"))).toBe(false);
  });

  it("runs nothing from PROOF_ARGS with the real CLI either: invalid input, exit 6", async () => {
    const dir = await tempDir();
    const r = await runScript(dir, { PROOF_ARGS: `${ARGS} --traces t` });
    expect(r.code).toBe(6);
    expect(existsSync(join(dir, "pwned"))).toBe(false);
    expect(existsSync(join(dir, "pwned2"))).toBe(false);
  });
});

describe("proof-ci.sh: the governance gate", () => {
  const args = { PROOF_ARGS: "--policy policy.yaml --traces traces", PROOF_OUT: "gov-out" };

  it("says that the pull request changes the policy, with the verdict transitions", async () => {
    const r = await runScript(regressed, { ...args, PROOF_BASE_POLICY_DIGEST: baseBundle });
    expect(r.code).toBe(5);
    const report = await readJson(join(regressed, "gov-out", "report.json"));
    expect(r.stdout).toContain(
      `this pull request changes the policy (bundle ${baseBundle} -> ${report.bundle_digest as string})`,
    );
    const after = r.stdout.slice(r.stdout.indexOf("GOVERNANCE"));
    expect(after).toMatch(/loosened .*block -> warn/);
    expect(after).toMatch(/loosened .*block -> require_approval/);
  });

  it("stays silent when the base digests equal the current ones", async () => {
    await runScript(regressed, args);
    const report = await readJson(join(regressed, "gov-out", "report.json"));
    const baseline = await readFile(join(regressed, ".proof", "baseline.json"));
    const { createHash } = await import("node:crypto");
    const r = await runScript(regressed, {
      ...args,
      PROOF_BASE_POLICY_DIGEST: report.bundle_digest as string,
      PROOF_BASE_BASELINE_DIGEST: `sha256:${createHash("sha256").update(baseline).digest("hex")}`,
    });
    expect(r.code).toBe(5);
    expect(r.stdout).not.toContain("GOVERNANCE");
  });

  it("says that the pull request changes the baseline when the base branch had another one", async () => {
    const r = await runScript(regressed, { ...args, PROOF_BASE_BASELINE_DIGEST: "absent" });
    expect(r.stdout).toContain(
      "this pull request changes the baseline .proof/baseline.json (absent -> sha256:",
    );
  });
});
