import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";

/** Blocks `delete_repo`; warns on `rename_repo`. */
const POLICY = `schema: proof.policy/v1
policy_id: config.repos
rules:
  - id: no_delete
    match: { tool: [delete_repo] }
    effect: block
    reason: destructive
  - id: careful_rename
    match: { tool: [rename_repo] }
    effect: warn
    reason: rename
`;

/** A canonical trace of one call to `tool`. */
function trace(tool: string): string {
  const events = [
    {
      type: "trace",
      trace_id: `sha256:${"0".repeat(64)}`,
      case_id: "case",
      source: { format: "proof", file: "t.jsonl" },
      meta: {},
    },
    { type: "message", seq: 0, role: "assistant", content: "", at: "m0" },
    { type: "tool_call", seq: 1, message_seq: 0, call_id: "c1", tool, args: {}, at: "m0.c0" },
  ];
  return `${events.map((e) => JSON.stringify(e)).join("\n")}\n`;
}

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  // Everything the config names lives under project/, the config file's directory.
  await mkdir(join(dir, "project", "traces"), { recursive: true });
  await mkdir(join(dir, "project", "other"), { recursive: true });
  await writeFile(join(dir, "project", "policy.yaml"), POLICY);
  await writeFile(join(dir, "project", "traces", "rename.jsonl"), trace("rename_repo"));
  await writeFile(join(dir, "project", "other", "delete.jsonl"), trace("delete_repo"));
  await writeFile(
    join(dir, "project", "proof.config.yaml"),
    "schema: proof.config/v1\npolicy: policy.yaml\ntraces: traces\nout: artifacts\nfail_on: warn\n",
  );
});

afterAll(removeTempDirs);

async function report(
  path: string,
): Promise<{ traces: { file: string; verdict: string }[]; fail_on?: string }> {
  return JSON.parse(await readFile(join(dir, path, "report.json"), "utf8"));
}

describe("proof.config.yaml", () => {
  it("supplies --policy, --traces, --out and --fail-on from the default config in the working directory", async () => {
    const r = await proof(["verify"], join(dir, "project"));
    // fail_on: warn from the config makes the warned trace fail.
    expect(r.code).toBe(5);
    const rep = await report("project/artifacts");
    expect(rep.traces.map((t) => [t.file, t.verdict])).toEqual([["traces/rename.jsonl", "warn"]]);
  });

  it("lets flags override config values", async () => {
    const r = await proof(["verify", "--fail-on", "block", "--out", "flag-out"], join(dir, "project"));
    expect(r.code).toBe(0);
    expect((await report("project/flag-out")).traces.map((t) => t.verdict)).toEqual(["warn"]);
  });

  it("resolves relative paths against the config file's directory, not the working directory", async () => {
    const r = await proof(["verify", "--config", "project/proof.config.yaml"], dir);
    expect(r.code).toBe(5);
    // Paths are shown relative to the working directory, as if typed there.
    const rep = await report("project/artifacts");
    expect(rep.traces.map((t) => t.file)).toEqual(["project/traces/rename.jsonl"]);
  });

  it("replaces a variadic config value with the flag's (traces from the command line)", async () => {
    const r = await proof(
      ["verify", "--config", "project/proof.config.yaml", "--traces", "project/other", "--out", "o2"],
      dir,
    );
    expect(r.code).toBe(5);
    expect((await report("o2")).traces.map((t) => [t.file, t.verdict])).toEqual([
      ["project/other/delete.jsonl", "block"],
    ]);
  });

  it("feeds the same config to other commands (check takes policy from it)", async () => {
    await writeFile(join(dir, "project", "call.json"), JSON.stringify({ tool: "delete_repo", args: {} }));
    const r = await proof(["check", "--call", "call.json"], join(dir, "project"));
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("block delete_repo: rules no_delete (reasons destructive)\n");
  });

  it("satisfies another command's required options (adapt --policy and --context)", async () => {
    await writeFile(join(dir, "project", "ctx.yaml"), "environment: prod\n");
    await writeFile(
      join(dir, "project", "adapt.config.yaml"),
      "schema: proof.config/v1\npolicy: policy.yaml\ncontext: ctx.yaml\n",
    );
    const r = await proof(["adapt", "--dry-run", "--config", "project/adapt.config.yaml"], dir);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      policy_id: "config.repos",
      active_rules: ["careful_rename", "no_delete"],
    });
  });

  it("never takes keys gen --out from the config's out (the artifact dir is replaced whole)", async () => {
    const r = await proof(["--json", "keys", "gen"], join(dir, "project"));
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "usage.missing_option",
      message: "required option '--out <dir>' not specified",
    });
  });

  it("refuses an unknown key with exit 6, file, line and column", async () => {
    const bad = await tempDir();
    await writeFile(
      join(bad, "proof.config.yaml"),
      "schema: proof.config/v1\npolicy: p.yaml\n  \nfail_onn: warn\n",
    );
    const r = await proof(["--json", "verify"], bad);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error).toEqual({
      code: "config.unknown_key",
      category: "input",
      message: "unknown key 'fail_onn' in (document)",
      hint: "did you mean 'fail_on'?",
      location: { file: "proof.config.yaml", line: 4, column: 1 },
    });
    const plain = await proof(["verify"], bad);
    expect(plain.code).toBe(6);
    expect(plain.stderr).toBe(
      "proof: proof.config.yaml:4:1: unknown key 'fail_onn' in (document) (hint: did you mean 'fail_on'?)\n",
    );
  });

  it("refuses a wrong value and a YAML syntax error with their location (--config given)", async () => {
    const bad = await tempDir();
    await writeFile(join(bad, "c.yaml"), "schema: proof.config/v1\nfail_on: never\n");
    const r = await proof(["--json", "verify", "--config", "c.yaml"], bad);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "config.invalid_value",
      location: { file: "c.yaml", line: 2, column: 10 },
    });
    await writeFile(join(bad, "s.yaml"), "schema: proof.config/v1\npolicy: [unclosed\n");
    const s = await proof(["--json", "verify", "--config", "s.yaml"], bad);
    expect(s.code).toBe(6);
    expect(JSON.parse(s.stdout).error).toMatchObject({ code: "yaml.syntax", location: { file: "s.yaml" } });
  });

  it("refuses a missing --config file with exit 6", async () => {
    const r = await proof(["--json", "verify", "--config", "nope.yaml"], dir);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error.code).toBe("io.unreadable");
  });

  it("names the missing option when neither a flag nor the config gives it", async () => {
    const empty = await tempDir();
    await writeFile(join(empty, "proof.config.yaml"), "schema: proof.config/v1\npolicy: p.yaml\n");
    const r = await proof(["--json", "verify"], empty);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "usage.missing_option",
      message: "required option '--traces <paths...>' not specified",
    });
  });
});
