/**
 * A signed ledger written the way a deployment writes one (`proof mcp proxy --ledger
 * --ledger-sign-key`, keys from `proof keys gen`), then cut and re-headed: `proof ledger verify
 * --pub` must refuse it, whatever the attacker puts in the head.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, proof, removeTempDirs, tempDir } from "../e2e/cli.js";

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(
    join(dir, "policy.yaml"),
    "schema: proof.policy/v1\npolicy_id: p\ndefaults:\n  verdict: allow\nrules:\n  - id: no_delete\n    match: { tool: [delete_repo] }\n    effect: block\n",
  );
  // Answers every request with an empty result.
  await writeFile(
    join(dir, "server.mjs"),
    `let buf = "";
process.stdin.on("data", (d) => {
  buf += d;
  for (let nl = buf.indexOf("\\n"); nl >= 0; nl = buf.indexOf("\\n")) {
    const m = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    if (m.id !== undefined) process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { content: [] } }) + "\\n");
  }
});
`,
  );
  expect((await proof(["keys", "gen", "--out", "keys"], dir)).code).toBe(0);
});

afterAll(removeTempDirs);

/**
 * Runs the proxy with a signed ledger over `tools` calls, waits for an answer to each (or for the
 * proxy to exit first), ends the session and resolves with the exit code and stderr.
 */
async function proxySession(
  ledger: string,
  tools: string[],
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      "mcp",
      "proxy",
      "--policy",
      "policy.yaml",
      "--ledger",
      ledger,
      "--ledger-sign-key",
      "keys/proof.key",
      "--",
      process.execPath,
      "server.mjs",
    ],
    { cwd: dir, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  let answers = 0;
  child.stdout.on("data", (d: Buffer) => {
    answers += d.toString("utf8").split("\n").length - 1;
  });
  let done = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      done = true;
      resolve(code);
    }),
  );
  child.stdin.on("error", () => {});
  for (const [i, name] of tools.entries())
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: "2.0", id: i + 1, method: "tools/call", params: { name, arguments: {} } })}\n`,
    );
  while (answers < tools.length && !done) await new Promise((r) => setTimeout(r, 20));
  child.stdin.end();
  return { code: await exited, stderr };
}

async function records(file: string): Promise<string[]> {
  return (await readFile(join(dir, file), "utf8")).split("\n").filter((l) => l !== "");
}

describe("a signed ledger from proof mcp proxy", () => {
  it("verifies intact, and fails (exit 2) once cut and re-headed", async () => {
    const session = await proxySession("audit.jsonl", ["read_file", "delete_repo", "read_file", "list"]);
    expect(session.code).toBe(0);
    const all = await records("audit.jsonl");
    // A decision record per call, and an observation record per result of the three allowed ones
    // (interleaved as the answers came).
    const kinds = all.map((l) => ("observation" in JSON.parse(l) ? "observation" : "decision"));
    expect(kinds[0]).toBe("decision");
    expect(kinds.filter((k) => k === "decision")).toHaveLength(4);
    expect(kinds.filter((k) => k === "observation")).toHaveLength(3);
    const verify = () => proof(["ledger", "verify", "audit.jsonl", "--pub", "keys/proof.pub"], dir);
    expect((await verify()).code).toBe(0);

    // The block is erased: the ledger cut after the first record, the head rewritten to match.
    const oldHead = JSON.parse(await readFile(join(dir, "audit.jsonl.head"), "utf8"));
    const first = JSON.parse(all[0] as string);
    await writeFile(join(dir, "audit.jsonl"), `${all[0]}\n`);
    const heads: [string, object][] = [
      ["head is not signed", { hash: first.hash, seq: 0 }],
      ["head signature does not verify", { hash: first.hash, seq: 0, sig: oldHead.sig }],
      ["head signature does not verify", { hash: first.hash, seq: 0, sig: first.sig }],
    ];
    for (const [message, head] of heads) {
      await writeFile(join(dir, "audit.jsonl.head"), `${JSON.stringify(head)}\n`);
      const r = await verify();
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`audit.jsonl.head: ${message}`);
    }
    // The proxy refuses to go on with it (and so to sign a new head over the cut).
    const resumed = await proxySession("audit.jsonl", ["read_file"]);
    expect(resumed.code).not.toBe(0);
    expect(resumed.stderr).toContain("head signature does not verify");
    expect(await records("audit.jsonl")).toHaveLength(1);
  }, 60_000);
});
