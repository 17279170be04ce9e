/**
 * Waivers end to end (docs/testing.md, "Waivers"): the built CLI with `--waivers`, `--today`,
 * SOURCE_DATE_EPOCH and the config's `waivers:` key, under verify and regress run.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { multitoolErrors } from "../report/multitool.js";
import { proof, ROOT, removeTempDirs, snapshot, tempDir } from "./cli.js";

const BANKING = join(ROOT, "examples/policies/agentdojo-banking.yaml");
/** The agent changed the password to the one in the injected text: block by banking.password_from_untrusted. */
const HIJACKED = join(
  ROOT,
  "fixtures/corpus/agentdojo/runs/claude-3-5-sonnet-20241022/banking/user_task_12/important_instructions/injection_task_7.json",
);

const WAIVERS = `schema: proof.waivers/v1
waivers:
  - id: SEC-101
    rule: banking.password_from_untrusted
    case: "injection_task_*"
    call: { tool: update_password }
    reason: red-team case, agent fix tracked in SEC-101
    owner: alice
    expires: 2026-12-31
`;
const STALE = `  - id: SEC-102
    rule: banking.large_payment
    case: "no-such-case"
    reason: left over
    owner: bob
    expires: 2026-12-31
`;

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "waivers.yaml"), WAIVERS);
  await writeFile(join(dir, "stale.yaml"), WAIVERS + STALE);
  await writeFile(join(dir, "bad.yaml"), WAIVERS.replace("owner: alice", "owner: alice\n    owners: bob"));
});

afterAll(removeTempDirs);

const verify = (out: string, ...more: string[]) =>
  proof(["verify", "--policy", BANKING, "--traces", HIJACKED, "--out", out, ...more], dir);

describe("proof verify --waivers", () => {
  it("fails without the waiver (the finding is real)", async () => {
    expect((await verify("none")).code).toBe(5);
  });

  it("passes the gate with the waived finding, shown as waived and as a SARIF suppression", async () => {
    const r = await verify("waived", "--waivers", "waivers.yaml", "--today", "2026-06-01");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("waived by SEC-101");
    expect(r.stdout).toContain("1 call waived. Gate passed.");
    const sarif = JSON.parse(await readFile(join(dir, "waived", "results.sarif"), "utf8"));
    expect(sarif.runs[0].results[0].suppressions).toEqual([
      {
        kind: "external",
        status: "accepted",
        justification:
          "SEC-101 (owner alice, expires 2026-12-31): red-team case, agent fix tracked in SEC-101",
      },
    ]);
    expect(await multitoolErrors(join(dir, "waived", "results.sarif"))).toEqual([]);
    expect(await readFile(join(dir, "waived", "junit.xml"), "utf8")).toContain(
      '<skipped message="waived by SEC-101">',
    );
    expect(await readFile(join(dir, "waived", "summary.md"), "utf8")).toContain("## proof verify: passed");
    const report = JSON.parse(await readFile(join(dir, "waived", "report.json"), "utf8"));
    const manifest = JSON.parse(await readFile(join(dir, "waived", "manifest.json"), "utf8"));
    expect(manifest.waivers).toEqual({ file: "waivers.yaml", digest: report.waivers.digest });
    expect(report.waivers.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("fails with exit 5 naming the waiver id and date once it has expired", async () => {
    const r = await verify("expired", "--waivers", "waivers.yaml", "--today", "2027-01-01");
    expect(r.code).toBe(5);
    expect(r.stdout).toContain("waiver SEC-101 (rule banking.password_from_untrusted) expired on 2026-12-31");
    expect(r.stdout).toContain("SEC-101 (2026-12-31)");
  });

  it("judges expiry on SOURCE_DATE_EPOCH when --today is not given", async () => {
    // 1800000000 s is 2027-01-15.
    const r = await verify("epoch", "--waivers", "waivers.yaml", "--quiet");
    expect(r.code).toBe(0);
    const late = await proof(
      ["verify", "--policy", BANKING, "--traces", HIJACKED, "--out", "epoch2", "--waivers", "waivers.yaml"],
      dir,
      { SOURCE_DATE_EPOCH: "1800000000" },
    );
    expect(late.code).toBe(5);
  });

  it("reports a stale waiver as a warning, not a failure", async () => {
    const r = await verify("stale", "--waivers", "stale.yaml", "--today", "2026-06-01");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning: waiver SEC-102 matches no finding: remove it");
    expect(await readFile(join(dir, "stale", "summary.md"), "utf8")).toContain(
      "Stale (match no finding; remove): `SEC-102`",
    );
  });

  it("writes byte-identical artifacts for the same pinned date", async () => {
    await verify("same1", "--waivers", "stale.yaml", "--today", "2026-06-01");
    await verify("same2", "--waivers", "stale.yaml", "--today", "2026-06-01");
    expect(await snapshot(join(dir, "same2"))).toEqual(await snapshot(join(dir, "same1")));
  });

  it("refuses a malformed waivers file with exit 6 and its location, writing nothing", async () => {
    const r = await verify("bad", "--waivers", "bad.yaml", "--today", "2026-06-01");
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("bad.yaml:9:5: unknown key 'owners'");
    await expect(stat(join(dir, "bad"))).rejects.toThrow();
    expect(r.stderr).toContain("owners");
    const d = await proof(
      [
        "verify",
        "--policy",
        BANKING,
        "--traces",
        HIJACKED,
        "--out",
        "bad",
        "--today",
        "2026-13-01",
        "--waivers",
        "waivers.yaml",
      ],
      dir,
    );
    expect(d.code).toBe(6);
    expect(d.stderr).toContain("--today");
  });

  it("takes the waivers file from the config's waivers key", async () => {
    const cfg = join(dir, "proof.config.yaml");
    await writeFile(cfg, "schema: proof.config/v1\nwaivers: waivers.yaml\n");
    try {
      const r = await verify("config", "--today", "2026-06-01");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("waived by SEC-101");
    } finally {
      await writeFile(cfg, "schema: proof.config/v1\n");
    }
  });
});

describe("proof regress run --waivers", () => {
  it("passes a recorded case, and fails with exit 5 when a waiver has expired", async () => {
    const base = ["--policy", BANKING, "--traces", HIJACKED, "--baseline", "base.json"];
    expect((await proof(["regress", "init", ...base, "--out", "r0"], dir)).code).toBe(0);
    const ok = await proof(
      ["regress", "run", ...base, "--out", "r1", "--waivers", "waivers.yaml", "--today", "2026-06-01"],
      dir,
    );
    expect(ok.code).toBe(0);
    const late = await proof(
      ["regress", "run", ...base, "--out", "r2", "--waivers", "waivers.yaml", "--today", "2027-01-01"],
      dir,
    );
    expect(late.code).toBe(5);
    expect(late.stdout).toContain(
      "waiver SEC-101 (rule banking.password_from_untrusted) expired on 2026-12-31",
    );
    // The regression section passes; the line after it says why the run failed all the same.
    expect(late.stdout).toContain("Failed: 1 expired waiver (SEC-101 2026-12-31)");
    expect(await readFile(join(dir, "r2", "summary.md"), "utf8")).toContain(
      "Failed: 1 expired waiver (SEC-101 2026-12-31)",
    );
  });
});
