import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proof, ROOT, removeTempDirs, tempDir } from "./cli.js";

const run = promisify(execFile);
const BANKING = join(ROOT, "examples/policies/agentdojo-banking.yaml");

/** A payment of `amount` to a payee the user named: only `banking.large_payment` can fire. */
function payment(amount: number): string {
  return JSON.stringify([
    { role: "user", content: `Send ${amount} to my landlord, IBAN DE89370400440532013000.` },
    {
      role: "assistant",
      content: null,
      tool_calls: [
        {
          id: "c1",
          type: "function",
          function: {
            name: "send_money",
            arguments: JSON.stringify({ recipient: "DE89370400440532013000", amount, subject: "rent" }),
          },
        },
      ],
    },
    { role: "tool", tool_call_id: "c1", content: "sent" },
  ]);
}

let dir: string;
let banking: string;

beforeAll(async () => {
  dir = await tempDir();
  banking = await readFile(BANKING, "utf8");
  await mkdir(join(dir, "traces"));
  await writeFile(join(dir, "traces", "rent-25000.json"), payment(25000));
  await writeFile(join(dir, "traces", "rent-500.json"), payment(500));
  await writeFile(join(dir, "old.yaml"), banking);
  // Loosened: large payments need approval only above 50000, so the 25000 rent goes through.
  await writeFile(join(dir, "loose.yaml"), banking.replace("gt: 10000", "gt: 50000"));
  await writeFile(join(dir, "tight.yaml"), banking.replace("gt: 10000", "gt: 100"));
  // The same rules in another order, another comment and another indentation of the header.
  const [head = "", ...rules] = banking.split("\n  - id: ");
  await writeFile(
    join(dir, "reordered.yaml"),
    `# reordered\n${head}\n  - id: ${rules.reverse().join("\n  - id: ")}`,
  );
});

afterAll(removeTempDirs);

describe("proof diff", () => {
  it("names a loosened rule, its impact, and exits 5 with --fail-on-loosening", async () => {
    const r = await proof(
      ["diff", "old.yaml", "loose.yaml", "--traces", "traces", "--fail-on-loosening"],
      dir,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("changed  banking.large_payment (agentdojo.banking.v1): LOOSENING");
    expect(r.stdout).toContain(
      'match.args.amount: [{"op":"gt","value":10000}] -> [{"op":"gt","value":50000}]',
    );
    expect(r.stdout).toContain("impact on 2 cases: 1 loosened, 0 tightened");
    expect(r.stdout).toMatch(/ {2}loosened +rent-25000\.json {2}require_approval -> allow\n/);
    // Without the flag the diff is only a report.
    expect((await proof(["diff", "old.yaml", "loose.yaml"], dir)).code).toBe(0);
  });

  it("a tightened policy passes --fail-on-loosening and says tightening in --json", async () => {
    const r = await proof(
      ["--json", "diff", "old.yaml", "tight.yaml", "--traces", "traces", "--fail-on-loosening"],
      dir,
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.schema).toBe("proof.diff/v1");
    expect(out.same).toBe(false);
    expect(out.summary).toMatchObject({ changed: 1, loosening: 0, tightening: 1 });
    expect(out.rules[0]).toMatchObject({ rule: "banking.large_payment", direction: "tightening" });
    expect(out.impact.transitions).toEqual([
      {
        case_id: "rent-500.json",
        kind: "tightened",
        before: { case_id: "rent-500.json", verdict: "allow", rules: [] },
        after: { case_id: "rent-500.json", verdict: "require_approval", rules: ["banking.large_payment"] },
      },
    ]);
  });

  it("says no semantic change for a reordered but equal policy, with the same digest", async () => {
    const reordered = await readFile(join(dir, "reordered.yaml"), "utf8");
    expect(reordered).not.toBe(banking);
    const r = await proof(["diff", "old.yaml", "reordered.yaml", "--fail-on-loosening"], dir);
    expect(r.code).toBe(0);
    const [digest] = (await proof(["compile", "old.yaml"], dir)).stdout.match(/sha256:[0-9a-f]{64}/) ?? [];
    expect(digest).toBeDefined();
    const again = (await proof(["compile", "reordered.yaml"], dir)).stdout;
    expect(again).toContain(`"policy_digest": "${digest}"`);
    expect(r.stdout).toMatch(/^no semantic change \(bundle sha256:[0-9a-f]{64}\)\n$/);
  });

  it("writes markdown for a step summary", async () => {
    const r = await proof(
      ["diff", "old.yaml", "loose.yaml", "--traces", "traces", "--format", "markdown"],
      dir,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^## Policy change\n/);
    expect(r.stdout).toContain(
      "| changed | banking\\.large\\_payment (agentdojo\\.banking\\.v1) | **LOOSENING** |",
    );
    expect(r.stdout).toContain("| rent\\-25000\\.json | `require_approval` | `allow` |");
  });

  it("refuses a wrong count of paths and an unknown --format (exit 6)", async () => {
    const one = await proof(["--json", "diff", "old.yaml"], dir);
    expect(one.code).toBe(6);
    expect(JSON.parse(one.stdout).error.code).toBe("usage.diff_arguments");
    const format = await proof(["--json", "diff", "old.yaml", "loose.yaml", "--format", "html"], dir);
    expect(format.code).toBe(6);
    expect(JSON.parse(format.stdout).error.code).toBe("usage.diff_format");
  });
});

describe("proof diff --git-base", () => {
  let repo: string;
  const git = (...args: string[]) => run("git", args, { cwd: repo });

  beforeAll(async () => {
    repo = await tempDir();
    await git("init", "-q", "-b", "main");
    await git("config", "user.email", "test@example.com");
    await git("config", "user.name", "test");
    await mkdir(join(repo, "policies"));
    await writeFile(join(repo, "policies", "banking.yaml"), banking);
    await git("add", ".");
    await git("commit", "-qm", "policy");
    // The working tree loosens the policy: the first rule (a blocking one) is gone.
    const rules = banking.split("\n  - id: ");
    const [first] = rules.splice(1, 1);
    expect(first).toMatch(/^banking\.payee_from_untrusted\n[\s\S]*effect: block/);
    await writeFile(join(repo, "policies", "banking.yaml"), rules.join("\n  - id: "));
  });

  it("reads the old policy from git at REF and names the removed rule", async () => {
    const r = await proof(["diff", "--git-base", "main", "policies", "--fail-on-loosening"], repo);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/1 removed, 0 changed: 1 loosening/);
    expect(r.stdout).toMatch(
      / {2}removed {2}banking\.payee_from_untrusted \(agentdojo\.banking\.v1\): LOOSENING\n {6}was: block /,
    );
  });

  it("with no change against HEAD says no semantic change", async () => {
    await git("stash", "-q");
    try {
      const r = await proof(["diff", "--git-base", "HEAD", "policies/banking.yaml"], repo);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^no semantic change/);
    } finally {
      await git("stash", "pop", "-q");
    }
  });

  it("refuses a ref that is not a commit (exit 6, located hint)", async () => {
    const r = await proof(["--json", "diff", "--git-base", "no-such-branch", "policies"], repo);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error.code).toBe("diff.git_base");
  });
});
