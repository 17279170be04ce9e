import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proof, removeTempDirs, tempDir } from "./cli.js";

/** Both defects importers tolerate, with trace content that tries to break out of its log line. */
const MESSY = [
  { role: "user", content: "hi" },
  {
    role: "assistant",
    content: null,
    tool_calls: [{ id: "c1", type: "function", function: { name: "send", arguments: '{"to": "x' } }],
  },
  { role: "tool", tool_call_id: "c1", content: "ok" },
  { role: "tool", tool_call_id: "gone\n::error::pwned", content: "late" },
];

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "messy.json"), JSON.stringify(MESSY));
  await writeFile(join(dir, "broken.json"), '[{"role": "user", "content": "hi"}');
});

afterAll(removeTempDirs);

describe("proof import", () => {
  it("imports a messy trace with one warning line per defect, never crashing", async () => {
    const r = await proof(["import", "messy.json"], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      [
        "warning: messy.json: invalid_arguments: [1].tool_calls[0] has arguments that are not valid JSON; kept as a string",
        "warning: messy.json: orphan_result: [3] answers unknown call id gone ::error::pwned",
        "",
      ].join("\n"),
    );
    // No line of the log can start a workflow command.
    expect(r.stderr.split("\n").some((l) => l.startsWith("::"))).toBe(false);
    const lines = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1 + 2 + 1 + 2);
    expect(lines[3]).toMatchObject({ type: "tool_call", tool: "send", args: '{"to": "x' });
    expect(lines[5]).toMatchObject({ type: "tool_result", call_id: "gone\n::error::pwned", tool: null });
  });

  it("prints the first 20 warnings, then how many more and where to see them", async () => {
    const runs = Array.from({ length: 25 }, (_, n) => ({
      task_id: n,
      reward: 1,
      info: { task: { instruction: `task ${n}` } },
      traj: [{ role: "user", content: `hi ${n}` }],
    }));
    await writeFile(join(dir, "tau.json"), JSON.stringify(runs));
    const r = await proof(["import", "tau.json"], dir);
    expect(r.code).toBe(0);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe(
      "warning: tau.json#0: skipped: [0].info is the benchmark's task and grading, not the conversation (task.instruction)",
    );
    expect(lines[19]).toMatch(/^warning: tau\.json#19: skipped: \[19\]\.info /);
    expect(lines[20]).toBe(
      "warning: 5 more warnings not shown: proof import --explain tau.json lists them all",
    );
    // Every trace is still written.
    expect(r.stdout.split("\n").filter((l) => l.includes('"type":"trace"'))).toHaveLength(25);
  });

  it("prints no warnings with --quiet", async () => {
    const r = await proof(["--quiet", "import", "messy.json"], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("writes -o atomically: on an error no file and no temporary file is left", async () => {
    const before = await readdir(dir);
    const r = await proof(["import", "messy.json", "broken.json", "-o", "out.jsonl"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr.split("\n").at(-2)).toBe(
      "proof: broken.json:1:35: invalid JSON: ']' was expected (the file looks truncated)",
    );
    expect(await readdir(dir)).toEqual(before);
  });

  it("leaves an earlier -o output untouched on an error", async () => {
    expect((await proof(["import", "messy.json", "-o", "kept.jsonl"], dir)).code).toBe(0);
    const kept = await readFile(join(dir, "kept.jsonl"), "utf8");
    expect((await proof(["import", "broken.json", "-o", "kept.jsonl"], dir)).code).toBe(6);
    expect(await readFile(join(dir, "kept.jsonl"), "utf8")).toBe(kept);
  });

  it("writes JSON Lines that verify reads back, also when the content holds U+FFFD", async () => {
    await writeFile(
      join(dir, "fffd.json"),
      JSON.stringify([{ role: "user", content: "broken \ufffd char" }]),
    );
    expect((await proof(["import", "fffd.json", "-o", "fffd.jsonl"], dir)).code).toBe(0);
    const policy = join(dir, "allow.yaml");
    await writeFile(policy, "schema: proof.policy/v1\npolicy_id: allow.v1\nrules: []\n");
    const r = await proof(["verify", "--policy", policy, "--traces", "fffd.jsonl", "--out", "fffd-out"], dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(await readFile(join(dir, "fffd-out", "report.json"), "utf8"));
    expect(report.traces.map((t: { case_id: string }) => t.case_id)).toEqual(["fffd.json"]);
  });

  it("refuses an unknown --format before reading anything", async () => {
    const r = await proof(["import", "messy.json", "--format", "csv"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toBe(
      "proof: unknown format 'csv' (hint: one of: auto, proof, agentdojo, tau-bench, openai, openai-responses, anthropic, mcp, otel, langchain)\n",
    );
  });
});
