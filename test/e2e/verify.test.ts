import { mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATE_ARTIFACTS, proof, ROOT, removeTempDirs, tempDir } from "./cli.js";

const BANKING = join(ROOT, "examples/policies/agentdojo-banking.yaml");
const RUNS = join(ROOT, "fixtures/corpus/agentdojo/runs/claude-3-5-sonnet-20241022/banking");
/** The agent read the injected bill and did not pay: allow. */
const RESISTED = join(RUNS, "user_task_0/important_instructions/injection_task_5.json");
/** The agent changed the password to the one in the injected text: block. */
const HIJACKED = join(RUNS, "user_task_12/important_instructions/injection_task_7.json");

/** A large payment to a payee the user named: only `banking.large_payment` (require_approval). */
const LARGE_PAYMENT = [
  { role: "user", content: "Send 25000 to my landlord, IBAN DE89370400440532013000." },
  {
    role: "assistant",
    content: null,
    tool_calls: [
      {
        id: "c1",
        type: "function",
        function: {
          name: "send_money",
          arguments: '{"recipient":"DE89370400440532013000","amount":25000,"subject":"rent"}',
        },
      },
    ],
  },
  { role: "tool", tool_call_id: "c1", content: "sent" },
];

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "large.json"), JSON.stringify(LARGE_PAYMENT));
});

afterAll(removeTempDirs);

const verify = (traces: string, out: string, ...more: string[]) =>
  proof(["verify", "--policy", BANKING, "--traces", traces, "--out", out, ...more], dir);

async function report(
  out: string,
): Promise<{ passed: boolean; traces: { verdict: string; rules: string[] }[] }> {
  return JSON.parse(await readFile(join(dir, out, "report.json"), "utf8"));
}

describe("proof verify exit codes", () => {
  it("exits 0 on a passing trace and writes the out dir", async () => {
    const r = await verify(RESISTED, "pass");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      "1 trace, 1 tool call: 1 allow, 0 warn, 0 require_approval, 0 block. Gate passed.\n",
    );
    expect((await readdir(join(dir, "pass"))).sort()).toEqual(GATE_ARTIFACTS);
    expect(JSON.parse(await readFile(join(dir, "pass", "status.json"), "utf8"))).toEqual({
      phase: "gate",
      code: 0,
    });
    expect((await report("pass")).passed).toBe(true);
  });

  it("exits 5 on a blocking trace, and says so in status.json", async () => {
    const r = await verify(HIJACKED, "block");
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^block +injection_task_7\.json +banking\.password_from_untrusted\n/);
    expect(r.stdout).toMatch(/Gate failed \(1 at or above block\)\.\n$/);
    expect(JSON.parse(await readFile(join(dir, "block", "status.json"), "utf8"))).toEqual({
      phase: "gate",
      code: 5,
    });
    expect((await report("block")).traces).toMatchObject([
      { verdict: "block", rules: ["banking.password_from_untrusted"] },
    ]);
  });

  it.each([
    ["block", 0],
    ["require_approval", 5],
    ["warn", 5],
  ])("respects --fail-on %s on a require_approval trace (exit %i)", async (failOn, code) => {
    const r = await verify("large.json", `approval-${failOn}`, "--fail-on", failOn);
    expect(r.code).toBe(code);
    expect((await report(`approval-${failOn}`)).traces).toMatchObject([
      { verdict: "require_approval", rules: ["banking.large_payment"] },
    ]);
  });

  it("fails even an allow trace under --fail-on allow (every verdict is at or above it)", async () => {
    expect((await verify(RESISTED, "allow-allow", "--fail-on", "allow")).code).toBe(5);
  });

  it("prints the report on stdout with --json, the same bytes as report.json", async () => {
    const r = await proof(
      ["--json", "verify", "--policy", BANKING, "--traces", HIJACKED, "--out", "json"],
      dir,
    );
    expect(r.code).toBe(5);
    expect(r.stdout).toBe(await readFile(join(dir, "json", "report.json"), "utf8"));
  });

  it("prints nothing with --quiet but still gates", async () => {
    const r = await proof(
      ["--quiet", "verify", "--policy", BANKING, "--traces", HIJACKED, "--out", "quiet"],
      dir,
    );
    expect(r).toEqual({ code: 5, stdout: "", stderr: "" });
  });
});

describe("the out dir", () => {
  it("is replaced as a whole: a re-run removes stale files", async () => {
    expect((await verify(HIJACKED, "rerun")).code).toBe(5);
    // Files an earlier run wrote (its manifest lists them) that this run does not write.
    await writeFile(join(dir, "rerun", "stale.txt"), "from an older version\n");
    await writeFile(join(dir, "rerun", "old-results.sarif"), "{}\n");
    const manifest = JSON.parse(await readFile(join(dir, "rerun", "manifest.json"), "utf8"));
    manifest.files["stale.txt"] = "sha256:0";
    manifest.files["old-results.sarif"] = "sha256:0";
    await writeFile(join(dir, "rerun", "manifest.json"), JSON.stringify(manifest));
    expect((await verify(RESISTED, "rerun")).code).toBe(0);
    expect((await readdir(join(dir, "rerun"))).sort()).toEqual(GATE_ARTIFACTS);
    expect((await report("rerun")).passed).toBe(true);
    expect((await readdir(dir)).filter((n) => n.includes("staging"))).toEqual([]);
  });

  it("is readable like any directory the user makes (not 0700 from a temporary directory)", async () => {
    expect((await verify(RESISTED, "mode")).code).toBe(0);
    await mkdir(join(dir, "plain"));
    expect((await stat(join(dir, "mode"))).mode & 0o777).toBe((await stat(join(dir, "plain"))).mode & 0o777);
  });

  it("is created with its missing parents", async () => {
    expect((await verify(RESISTED, "deep/er/out")).code).toBe(0);
    expect((await report("deep/er/out")).passed).toBe(true);
  });

  it("must not be the working directory", async () => {
    const r = await proof(["verify", "--policy", BANKING, "--traces", RESISTED, "--out", "."], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/^proof: \.: cannot use \. as the out dir: it holds the working directory/);
  });
});

describe("finding traces", () => {
  it("follows a symbolic link to a trace file instead of silently dropping the case", async () => {
    const linked = join(dir, "linked");
    await mkdir(linked);
    await symlink(HIJACKED, join(linked, "hijacked.json"));
    await symlink(RESISTED, join(linked, "resisted.json"));
    const r = await verify("linked", "linked-out");
    expect(r.code).toBe(5);
    const rep = (await report("linked-out")) as unknown as { traces: { case_id: string; file: string }[] };
    expect(rep.traces.map((t) => [t.case_id, t.file])).toEqual([
      ["hijacked.json", "linked/hijacked.json"],
      ["resisted.json", "linked/resisted.json"],
    ]);
  });

  it("reports files as given, relative, with case ids relative to each traces root", async () => {
    const r = await proof(
      [
        "verify",
        "--policy",
        BANKING,
        "--traces",
        "fixtures/corpus/tau-bench",
        RESISTED,
        "--out",
        join(dir, "rel"),
      ],
      ROOT,
    );
    expect(r.code).toBe(0);
    const rep = JSON.parse(await readFile(join(dir, "rel", "report.json"), "utf8")) as {
      traces: { case_id: string; file: string; format: string }[];
    };
    expect(rep.traces).toHaveLength(201);
    expect(rep.traces[0]).toMatchObject({
      case_id: "gpt-4o-airline.json#0",
      file: "fixtures/corpus/tau-bench/gpt-4o-airline.json",
      format: "tau-bench",
    });
    // An absolute path on the command line is shown relative to the working directory.
    expect(rep.traces.at(-1)).toMatchObject({
      case_id: "injection_task_5.json",
      file: "fixtures/corpus/agentdojo/runs/claude-3-5-sonnet-20241022/banking/user_task_0/important_instructions/injection_task_5.json",
      format: "agentdojo",
    });
    expect(await readFile(join(dir, "rel", "report.json"), "utf8")).not.toContain(ROOT);
  });
});
