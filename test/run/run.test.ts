import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, proof, removeTempDirs, snapshot, tempDir } from "../e2e/cli.js";

/** Deleting a repository is blocked; everything else is allowed. */
const POLICY = `schema: proof.policy/v1
policy_id: run.repos
rules:
  - id: no_delete
    match: { tool: [delete_repo] }
    effect: block
    reason: destructive
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
    { type: "message", seq: 0, role: "user", content: "tidy up", at: "m0" },
    { type: "message", seq: 1, role: "assistant", content: "", at: "m1" },
    { type: "tool_call", seq: 2, message_seq: 1, call_id: "c1", tool, args: { name: "web" }, at: "m1.c0" },
  ];
  return `${events.map((e) => JSON.stringify(e)).join("\n")}\n`;
}

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(join(dir, "policy.yaml"), POLICY);
  // The "agent": records a trace calling the tool named by argv[2], prints a line, exits argv[3].
  await writeFile(
    join(dir, "agent.mjs"),
    `import { mkdirSync, writeFileSync } from "node:fs";
const [tool, code] = process.argv.slice(2);
mkdirSync("traces", { recursive: true });
writeFileSync("traces/run.jsonl", ${JSON.stringify(trace("TOOL"))}.replace("TOOL", tool));
console.log("agent says hello");
process.exit(Number(code));
`,
  );
});

afterAll(removeTempDirs);

const run = (out: string, ...cmd: string[]) =>
  proof(["run", "--policy", "policy.yaml", "--traces", "traces", "--out", out, "--", ...cmd], dir);

async function status(out: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, out, "status.json"), "utf8"));
}

describe("proof run", () => {
  it("exits 0 when the command and the gate pass, status.json phase gate", async () => {
    const r = await run("pass", process.execPath, "agent.mjs", "list_repos", "0");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("agent says hello\n");
    expect(r.stdout).toContain("Gate passed.");
    expect(await status("pass")).toEqual({ phase: "gate", code: 0 });
  });

  it("exits 5 when the command passes but its traces fail the gate, status.json phase gate", async () => {
    const r = await run("fail", process.execPath, "agent.mjs", "delete_repo", "0");
    expect(r.code).toBe(5);
    expect(await status("fail")).toEqual({ phase: "gate", code: 5 });
    const report = JSON.parse(await readFile(join(dir, "fail", "report.json"), "utf8"));
    expect(report.traces[0].verdict).toBe("block");
  });

  it("passes the command's exit code through (1, 2, 5, 7, 42), leaving the other artifacts", async () => {
    expect((await run("keep", process.execPath, "agent.mjs", "list_repos", "0")).code).toBe(0);
    const before = await snapshot(join(dir, "keep"));
    expect([...before.keys()]).toContain("report.json");
    for (const code of [1, 2, 5, 7, 42]) {
      // The traces it wrote would fail the gate: the gate must not run at all.
      const r = await run("keep", process.execPath, "agent.mjs", "delete_repo", String(code));
      expect(r.code).toBe(code);
      expect(r.stderr).toContain(`the command exited ${code}; gate not run`);
      expect(await status("keep")).toEqual({ phase: "cmd", code });
      const after = await snapshot(join(dir, "keep"));
      expect([...after.keys()]).toEqual([...before.keys()]);
      for (const [name, bytes] of before) if (name !== "status.json") expect(after.get(name)).toEqual(bytes);
    }
  });

  it("exits 128+15 when the command is ended by SIGTERM", async () => {
    const r = await run("signal", process.execPath, "-e", "process.kill(process.pid, 'SIGTERM')");
    expect(r.code).toBe(143);
    expect(await status("signal")).toEqual({ phase: "cmd", code: 143 });
  });

  it("forwards SIGTERM to the command and passes its end through", async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        "run",
        "--policy",
        "policy.yaml",
        "--traces",
        "traces",
        "--out",
        "forwarded",
        "--",
        process.execPath,
        "-e",
        "console.log('ready'); setInterval(() => {}, 1000)",
      ],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
    );
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error("proof run did not end within 20 s"));
      }, 20_000);
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) child.kill("SIGTERM");
      });
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(143);
    expect(await status("forwarded")).toEqual({ phase: "cmd", code: 143 });
  });

  it("sends the command's stdout to stderr under --json, keeping stdout one JSON document", async () => {
    const r = await proof(
      [
        "--json",
        "run",
        "--policy",
        "policy.yaml",
        "--traces",
        "traces",
        "--out",
        "json",
        "--",
        process.execPath,
        "agent.mjs",
        "list_repos",
        "0",
      ],
      dir,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("agent says hello");
    expect(r.stdout).not.toContain("agent says hello");
    expect(JSON.parse(r.stdout).passed).toBe(true);
  });

  it("prints {phase: cmd} on stdout under --json when the command fails", async () => {
    const r = await proof(
      [
        "--json",
        "run",
        "--policy",
        "policy.yaml",
        "--traces",
        "traces",
        "--out",
        "jf",
        "--",
        "sh",
        "-c",
        "exit 3",
      ],
      dir,
    );
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toEqual({ phase: "cmd", code: 3 });
  });

  it("exits 127 for a command that does not exist, status.json phase cmd", async () => {
    const r = await run("missing", "proof-no-such-command-xyz");
    expect(r.code).toBe(127);
    expect(r.stderr).toContain("cannot run the command");
    expect(await status("missing")).toEqual({ phase: "cmd", code: 127 });
  });

  it("refuses a missing --policy before running the command (exit 6)", async () => {
    const r = await proof(
      ["--json", "run", "--traces", "traces", "--", "sh", "-c", "echo ran >ran.txt"],
      dir,
    );
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout).error.code).toBe("usage.missing_option");
    await expect(readFile(join(dir, "ran.txt"))).rejects.toThrow();
  });
});
