/** `proof mcp proxy` failing closed on its own faults, against tiny scripted servers. */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, removeTempDirs, tempDir } from "../e2e/cli.js";

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(
    join(dir, "policy.yaml"),
    "schema: proof.policy/v1\npolicy_id: p\ndefaults:\n  verdict: allow\nrules:\n  - id: r\n    match: { tool: [never] }\n    effect: block\n",
  );
  await writeFile(join(dir, "broken.yaml"), "schema: proof.policy/v1\npolicy_id: p\nrulez: []\n");
  // Answers every request with an empty result, and dies (exit 3) on a tools/call without answering it.
  await writeFile(
    join(dir, "dies.mjs"),
    `let buf = "";
process.stdin.on("data", (d) => {
  buf += d;
  for (let nl = buf.indexOf("\\n"); nl >= 0; nl = buf.indexOf("\\n")) {
    const m = JSON.parse(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    if (m.method === "tools/call") process.exit(3);
    if (m.id !== undefined) process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, result: { seen: m.method } }) + "\\n");
  }
});
`,
  );
});

afterAll(removeTempDirs);

/** Runs the proxy, writes `input` lines, waits for `answers` lines (or exit), then closes stdin. */
async function session(
  policy: string,
  input: object[],
  answers: number,
): Promise<{ lines: Record<string, unknown>[]; code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [BIN, "mcp", "proxy", "--policy", policy, "--", process.execPath, "dies.mjs"],
    {
      cwd: dir,
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const lines: Record<string, unknown>[] = [];
  let out = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString("utf8");
    for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
      lines.push(JSON.parse(out.slice(0, nl)));
      out = out.slice(nl + 1);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.stdin.on("error", () => {});
  for (const m of input) child.stdin.write(`${JSON.stringify(m)}\n`);
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (lines.length < answers && !done) await new Promise((r) => setTimeout(r, 20));
  child.stdin.end();
  return { lines, code: await exited, stderr };
}

const call = (id: number) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name: "echo", arguments: {} },
});

describe("proof mcp proxy faults", () => {
  it("answers a call pending when the server dies with an error, and exits with the server's code", async () => {
    const r = await session("policy.yaml", [{ jsonrpc: "2.0", id: 1, method: "ping" }, call(2)], 2);
    expect(r.lines[0]).toMatchObject({ id: 1, result: { seen: "ping" } });
    expect(r.lines[1]).toMatchObject({ id: 2, error: { code: -31003 } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("exited with code 3");
  }, 30_000);

  it("refuses every call when the policy cannot be loaded, and still answers the protocol", async () => {
    const r = await session("broken.yaml", [{ jsonrpc: "2.0", id: 1, method: "ping" }, call(2)], 2);
    // The refusal is immediate, the ping's answer comes from the server: order by id.
    const byId = [...r.lines].sort((a, b) => Number(a.id) - Number(b.id));
    expect(byId[0]).toMatchObject({ id: 1, result: { seen: "ping" } });
    expect(byId[1]).toMatchObject({ id: 2, error: { code: -31002, data: { verdict: "block" } } });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("the policy cannot be loaded");
  }, 30_000);

  it("refuses a JSON-RPC batch explicitly, request by request, without forwarding it", async () => {
    const child = await session(
      "policy.yaml",
      [[call(5), { jsonrpc: "2.0", method: "notifications/x" }] as unknown as object],
      1,
    );
    expect(child.lines[0]).toEqual([
      { jsonrpc: "2.0", id: 5, error: { code: -32600, message: expect.stringContaining("batches") } },
    ]);
    // The batch's tools/call never reached the server (which would have died with code 3).
    expect(child.code).toBe(0);
  }, 30_000);
});
