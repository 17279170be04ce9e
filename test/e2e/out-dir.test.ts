/**
 * The out dir never costs data (docs/artifacts.md), through the built CLI: only a directory an
 * earlier run wrote is replaced; inputs, symbolic links and foreign files are refused; one run at
 * a time holds the lock; a swap cut short is finished by the next run; a gate never reads its own
 * artifacts as traces. Write errors are exit 6 (a wrong path) or 8 (the machine), never 1.
 */
import { existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, rename, symlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { writeFailure } from "../../src/io/write.js";
import {
  GATE_ARTIFACTS,
  proof,
  proofUnprivileged,
  removeTempDirs,
  snapshot,
  tempDir,
  UNPRIVILEGED,
} from "./cli.js";

afterAll(removeTempDirs);

const POLICY = `schema: proof.policy/v1
policy_id: outdir.v1
rules:
  - id: no_wire
    when: context.env == "prod"
    match:
      tool: wire
    effect: block
    reason: wire_in_prod
  - id: warn_read
    match:
      tool: read
    effect: warn
    reason: read_noted
`;

/** An OpenAI-format run calling `tools` in turn. */
function trace(...tools: string[]): string {
  return JSON.stringify({
    messages: [
      { role: "user", content: "go" },
      ...tools.map((name, i) => ({
        role: "assistant",
        content: null,
        tool_calls: [{ id: `c${i}`, type: "function", function: { name, arguments: "{}" } }],
      })),
    ],
  });
}

/** A directory with policy.yaml, ctx.json ({"env": "prod"}) and traces/run.json (calls wire). */
async function scenario(): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, "policy.yaml"), POLICY);
  await writeFile(join(dir, "ctx.json"), '{"env": "prod"}\n');
  await mkdir(join(dir, "traces"));
  await writeFile(join(dir, "traces", "run.json"), trace("read", "wire"));
  return dir;
}

const VERIFY = ["verify", "--policy", "policy.yaml", "--context", "ctx.json", "--traces", "traces"];

/** Entries of `dir` that a run leaves beside an out dir: staging dirs, locks, temporary files. */
async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /staging|\.lock|\.tmp$|\.stale$/.test(n));
}

describe("which directory the out dir may replace", () => {
  it("refuses a directory holding report.json among other files, a .git and the run's own inputs", async () => {
    const dir = await scenario();
    const work = join(dir, "work");
    await mkdir(join(work, ".git"), { recursive: true });
    await writeFile(join(work, ".git", "HEAD"), "ref: refs/heads/main\n");
    await writeFile(join(work, "report.json"), "{}\n");
    await writeFile(join(work, "status.json"), '{"phase": "gate", "code": 0}\n');
    await writeFile(join(work, "notes.md"), "mine\n");
    const before = await snapshot(work);
    const r = await proof([...VERIFY, "--out", "work"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(
      /^proof: work: cannot use work as the out dir: .*replacing it could delete files/,
    );
    expect(await snapshot(work)).toEqual(before);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("refuses a directory whose files an earlier run did not all write, or that holds a link", async () => {
    const dir = await scenario();
    expect((await proof([...VERIFY, "--out", "out"], dir)).code).toBe(5);
    await writeFile(join(dir, "out", "mine.txt"), "keep me\n");
    let r = await proof(["--json", ...VERIFY, "--out", "out"], dir);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "io.out_dir",
      location: { file: "out" },
    });
    expect(JSON.parse(r.stdout).error.message).toMatch(
      /it holds mine\.txt, which no earlier run of proof wrote/,
    );
    expect(await readFile(join(dir, "out", "mine.txt"), "utf8")).toBe("keep me\n");

    await rename(join(dir, "out", "mine.txt"), join(dir, "mine.txt"));
    await rename(join(dir, "out", "summary.md"), join(dir, "summary.md"));
    await symlink(join(dir, "summary.md"), join(dir, "out", "summary.md"));
    r = await proof([...VERIFY, "--out", "out"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/summary\.md in it is a symbolic link/);
    expect((await lstat(join(dir, "out", "summary.md"))).isSymbolicLink()).toBe(true);
  });

  it("refuses an out dir holding an input of the run (a plan read from the last out dir)", async () => {
    const dir = await scenario();
    const plan = await proof(["adapt", "--policy", "policy.yaml", "--context", "ctx.json"], dir);
    expect(plan.code).toBe(0);
    await writeFile(join(dir, "plan.json"), plan.stdout);
    expect((await proof([...VERIFY, "--plan", "plan.json", "--out", "out"], dir)).code).toBe(5);
    const before = await snapshot(join(dir, "out"));
    const r = await proof([...VERIFY, "--plan", "out/plan.json", "--out", "out"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/it holds out\/plan\.json, an input of this run/);
    expect(await snapshot(join(dir, "out"))).toEqual(before);
  });

  it("refuses a symbolic link as the out dir and leaves the link and its target alone", async () => {
    const dir = await scenario();
    expect((await proof([...VERIFY, "--out", "real"], dir)).code).toBe(5);
    await symlink("real", join(dir, "link"));
    const before = await snapshot(join(dir, "real"));
    const r = await proof([...VERIFY, "--out", "link"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^proof: link: cannot use link as the out dir: it is a symbolic link/);
    expect(await readlink(join(dir, "link"))).toBe("real");
    expect(await snapshot(join(dir, "real"))).toEqual(before);
  });

  it("replaces an out dir left by a failed proof run command (status.json alone)", async () => {
    const dir = await scenario();
    const failed = await proof(
      ["run", ...VERIFY.slice(1), "--out", "out", "--", process.execPath, "-e", "process.exit(3)"],
      dir,
    );
    expect(failed.code).toBe(3);
    expect([...(await snapshot(join(dir, "out"))).keys()]).toEqual(["status.json"]);
    expect((await proof([...VERIFY, "--out", "out"], dir)).code).toBe(5);
    expect([...(await snapshot(join(dir, "out"))).keys()]).toEqual(GATE_ARTIFACTS);
  });
});

describe("traces beside the out dir", () => {
  it("--traces . --out proof-out never reads proof-out or a staging directory as traces", async () => {
    const inputs = await scenario();
    const dir = await tempDir();
    await writeFile(join(dir, "run.json"), trace("wire"));
    const args = [
      "verify",
      "--policy",
      join(inputs, "policy.yaml"),
      "--context",
      join(inputs, "ctx.json"),
      "--traces",
      ".",
      "--out",
      "proof-out",
    ];
    // The first run stages beside proof-out, the second finds proof-out too: both see one trace.
    for (let i = 0; i < 2; i++) {
      const r = await proof(args, dir);
      expect(r.code, r.stderr).toBe(5);
      const report = JSON.parse(await readFile(join(dir, "proof-out", "report.json"), "utf8"));
      expect(report.traces.map((t: { case_id: string }) => t.case_id)).toEqual(["run.json"]);
    }
  });
});

describe("one run at a time", () => {
  it("refuses (exit 8) while a live run holds the lock, and takes over a dead run's lock", async () => {
    const dir = await scenario();
    const lock = join(dir, ".out.lock");
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: "live" }));
    const r = await proof(["--json", ...VERIFY, "--out", "out"], dir);
    expect(r.code).toBe(8);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "io.out_dir_locked",
      category: "environment",
      location: { file: "out" },
    });
    expect(existsSync(join(dir, "out"))).toBe(false);
    // A pid above Linux's largest is never alive.
    await writeFile(lock, JSON.stringify({ pid: 2 ** 30, host: hostname(), nonce: "dead" }));
    const again = await proof([...VERIFY, "--out", "out"], dir);
    expect(again.code, again.stderr).toBe(5);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("concurrent runs on one out dir: each gates or is refused (exit 8), none fails, nothing leaks", async () => {
    const dir = await scenario();
    const codes = await Promise.all(
      Array.from({ length: 6 }, () => proof([...VERIFY, "--out", "out"], dir).then((r) => r.code)),
    );
    for (const code of codes) expect([5, 8]).toContain(code);
    expect(codes).toContain(5);
    expect([...(await snapshot(join(dir, "out"))).keys()]).toEqual(GATE_ARTIFACTS);
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe("a swap cut short by a kill", () => {
  /**
   * The state a run killed between the two renames of its swap leaves: the previous out dir moved
   * to `.out.staging-ID.old`, the complete new one still at `.out.staging-ID`, no out dir, and the
   * dead run's lock. Returns the contents of the old and new sets.
   */
  async function cutShort(dir: string, keepNew: boolean) {
    expect((await proof([...VERIFY, "--out", "out"], dir)).code).toBe(5);
    const old = await snapshot(join(dir, "out"));
    await writeFile(join(dir, "traces", "run.json"), trace("read"));
    expect((await proof([...VERIFY, "--out", "new"], dir)).code).toBe(0);
    const fresh = await snapshot(join(dir, "new"));
    const id = ".out.staging-999999-0123456789ab";
    await rename(join(dir, "out"), join(dir, `${id}.old`));
    if (keepNew) await rename(join(dir, "new"), join(dir, id));
    await writeFile(join(dir, ".out.lock"), JSON.stringify({ pid: 2 ** 30, host: hostname(), nonce: "x" }));
    // A second dead run's staging directory, killed while staging.
    await mkdir(join(dir, ".out.staging-999998-ba9876543210"));
    await writeFile(join(dir, ".out.staging-999998-ba9876543210", "decisions.jsonl"), "");
    return { old, fresh };
  }

  /** A run that fails on input after opening the out dir: it only recovers, writes nothing. */
  async function failingRun(dir: string): Promise<void> {
    await mkdir(join(dir, "empty"), { recursive: true });
    const r = await proof([...VERIFY.slice(0, -1), "empty", "--out", "out"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/no traces found/);
  }

  it("the next run finishes the swap: the complete new set becomes the out dir", async () => {
    const dir = await scenario();
    const { fresh } = await cutShort(dir, true);
    await failingRun(dir);
    expect(await snapshot(join(dir, "out"))).toEqual(fresh);
    expect(await leftovers(dir)).toEqual([]);
  });

  it("the next run puts the old set back when the new one is gone", async () => {
    const dir = await scenario();
    const { old } = await cutShort(dir, false);
    await failingRun(dir);
    expect(await snapshot(join(dir, "out"))).toEqual(old);
    expect(await leftovers(dir)).toEqual([]);
  });
});

describe("write errors are exit 6 (the path) or 8 (the machine), never 1", () => {
  it("-o naming a directory, --out or keys gen --out naming a file: exit 6, located", async () => {
    const dir = await scenario();
    await mkdir(join(dir, "plans"));
    await writeFile(join(dir, "a-file"), "x\n");
    const cases: [string[], string, string][] = [
      [
        ["adapt", "--policy", "policy.yaml", "--context", "ctx.json", "-o", "plans"],
        "io.is_directory",
        "plans",
      ],
      [
        ["adapt", "--policy", "policy.yaml", "--context", "ctx.json", "--metrics-out", "plans"],
        "io.is_directory",
        "plans",
      ],
      [["keys", "gen", "--out", "a-file"], "io.not_directory", "a-file"],
      [[...VERIFY, "--out", "a-file/sub"], "io.not_directory", "a-file/sub"],
      [[...VERIFY, "--out", "a-file"], "io.out_dir", "a-file"],
    ];
    for (const [args, code, file] of cases) {
      const r = await proof(["--json", ...args], dir);
      expect(r.code, `${args.join(" ")}: ${r.stdout}`).toBe(6);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code, category: "input", location: { file } });
    }
    expect(await readdir(join(dir, "plans"))).toEqual([]);
    expect(await readFile(join(dir, "a-file"), "utf8")).toBe("x\n");
  });

  it("a full disk, a read-only file system or an unknown refusal is exit 8 naming the user's path", () => {
    const sys = (code: string) => Object.assign(new Error(code), { code, path: ".out.123.tmp" });
    for (const [code, expected] of [
      ["ENOSPC", "io.enospc"],
      ["EROFS", "io.erofs"],
      ["EACCES", "io.eacces"],
      ["ENOENT", "io.unwritable"],
    ]) {
      const e = writeFailure(sys(code as string), "out") as ProofError;
      expect(e).toBeInstanceOf(ProofError);
      expect([e.code, e.exitCode, e.location?.file]).toEqual([expected, 8, "out"]);
    }
    expect((writeFailure(sys("EISDIR"), "plan.json") as ProofError).exitCode).toBe(6);
    const bug = new TypeError("x is undefined");
    expect(writeFailure(bug, "out")).toBe(bug);
  });

  it.skipIf(process.platform !== "linux")("a file system that refuses the write: exit 8", async () => {
    const dir = await scenario();
    // /proc holds no new files: mkdir fails there whoever runs the test.
    const r = await proof(["--json", ...VERIFY, "--out", "/proc/proof-out"], dir);
    expect(r.code).toBe(8);
    expect(JSON.parse(r.stdout).error).toMatchObject({ category: "environment" });
  });

  it.skipIf(UNPRIVILEGED === undefined)("an unwritable parent: exit 8 naming the path", async () => {
    const dir = await scenario();
    const { chmod } = await import("node:fs/promises");
    // The run may read the scenario but not write into ro/ (as root, it runs as nobody).
    await chmod(dir, 0o755);
    await mkdir(join(dir, "ro"));
    await chmod(join(dir, "ro"), 0o555);
    const r = await proofUnprivileged(["--json", ...VERIFY, "--out", "ro/out"], dir);
    await chmod(join(dir, "ro"), 0o755);
    expect(r.code, r.stderr).toBe(8);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: "io.eacces", category: "environment" });
  });
});

describe("an edited plan", () => {
  it("a plan whose active rule was moved to skipped is refused, naming the rule (exit 6, not 0)", async () => {
    const dir = await scenario();
    const made = await proof(["adapt", "--policy", "policy.yaml", "--context", "ctx.json"], dir);
    expect(made.code).toBe(0);
    const plan = JSON.parse(made.stdout);
    expect(plan.active_rules).toEqual(["no_wire", "warn_read"]);
    await writeFile(join(dir, "plan.json"), made.stdout);
    expect((await proof([...VERIFY, "--plan", "plan.json", "--out", "a"], dir)).code).toBe(5);

    plan.active_rules = ["warn_read"];
    plan.order = ["warn_read"];
    delete plan.cost.no_wire;
    delete plan.reason.no_wire;
    plan.cost_sum = plan.cost.warn_read;
    plan.skipped = [{ reason: "when:false", rule: "no_wire" }];
    await writeFile(join(dir, "edited.json"), JSON.stringify(plan));
    const r = await proof(["--json", ...VERIFY, "--plan", "edited.json", "--out", "b"], dir);
    expect(r.code).toBe(6);
    const error = JSON.parse(r.stdout).error;
    expect(error).toMatchObject({ code: "plan.mismatch", location: { file: "edited.json" } });
    expect(error.message).toMatch(
      /rule no_wire is skipped \(when:false\) in the plan but active \(when:true\) for this context/,
    );
    expect(existsSync(join(dir, "b"))).toBe(false);
  });

  it("a plan checked without --context is checked against the empty context", async () => {
    const dir = await scenario();
    const made = await proof(["adapt", "--policy", "policy.yaml", "--context", "ctx.json"], dir);
    await writeFile(join(dir, "plan.json"), made.stdout);
    const r = await proof(
      ["verify", "--policy", "policy.yaml", "--traces", "traces", "--plan", "plan.json", "--out", "c"],
      dir,
    );
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/but no --context was given/);
  });
});
