/**
 * `proof mcp proxy` end to end: the reference filesystem MCP server from npm behind the built
 * CLI, driven by the MCP SDK's client over stdio, as a real MCP host would run it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, proof, proofUnprivileged, removeTempDirs, tempDir, UNPRIVILEGED } from "../e2e/cli.js";
import { FILESYSTEM, filesystemSandbox, parseFirstKey } from "./helpers.js";

const POLICY = `schema: proof.policy/v1
policy_id: fs.v1
defaults:
  verdict: allow
rules:
  - id: no_forbidden_write
    match:
      tool: [write_file]
      args:
        path: { contains: forbidden }
    effect: block
    reason: forbidden_path
  - id: no_untrusted_destination
    match:
      tool: [write_file, move_file]
      provenance:
        args: [path, destination]
        from: untrusted
    effect: block
    reason: path_from_untrusted_content
`;

let dir: string;
let root: string;

beforeAll(async () => {
  ({ dir, root } = await filesystemSandbox());
  await writeFile(join(dir, "policy.yaml"), POLICY);
});

afterAll(removeTempDirs);

/** A connected SDK client whose server is `proof mcp proxy ... -- node server.mjs ROOT`. */
async function connect(extra: string[] = []): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      BIN,
      "mcp",
      "proxy",
      "--policy",
      "policy.yaml",
      ...extra,
      "--",
      process.execPath,
      "server.mjs",
      root,
    ],
    cwd: dir,
    stderr: "pipe",
  });
  const client = new Client({ name: "proof-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

function text(result: unknown): string {
  const content = (result as { content: { type: string; text?: string }[] }).content;
  return content.map((c) => c.text ?? "").join("\n");
}

/** The error a call was refused with. */
async function refusal(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  throw new Error("the call was not refused");
}

/** Resolves when a child process has exited (bounded: the test's timeout). */
function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on("exit", (code) => resolve(code));
  });
}

describe("proof mcp proxy in front of @modelcontextprotocol/server-filesystem", () => {
  it("forwards allowed calls, refuses blocked and untrusted-provenance calls, records a trace that verifies the same", async () => {
    const { client } = await connect([
      "--record",
      "session.jsonl",
      "--ledger",
      "ledger.jsonl",
      "--otel-out",
      "spans.json",
    ]);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain("write_file");

    // Allowed: reaches the server, which answers with the file's content.
    expect(
      text(await client.callTool({ name: "read_text_file", arguments: { path: join(root, "hello.txt") } })),
    ).toContain("hello from the server side");
    expect(text(await client.callTool({ name: "list_directory", arguments: { path: root } }))).toContain(
      "note.txt",
    );

    // Blocked by an argument rule: the server never sees it, so the file does not exist.
    const blocked = await refusal(
      client.callTool({ name: "write_file", arguments: { path: join(root, "forbidden.txt"), content: "x" } }),
    );
    expect(blocked.code).toBe(-31001);
    expect(blocked.message).toContain("no_forbidden_write");
    expect(blocked.message).toContain("forbidden_path");
    expect((blocked.data as { decision: { verdict: string } }).decision.verdict).toBe("block");
    expect(existsSync(join(root, "forbidden.txt"))).toBe(false);

    // Provenance: the path comes from a tool result (untrusted), so writing there is refused.
    const target = join(root, "stolen.txt");
    // A path no tool result named is allowed.
    await client.callTool({
      name: "write_file",
      arguments: { path: join(root, "elsewhere.txt"), content: "x" },
    });
    expect(existsSync(join(root, "elsewhere.txt"))).toBe(true);
    expect(
      text(await client.callTool({ name: "read_text_file", arguments: { path: join(root, "note.txt") } })),
    ).toContain(target);
    const untrusted = await refusal(
      client.callTool({ name: "write_file", arguments: { path: target, content: "secrets" } }),
    );
    expect(untrusted.code).toBe(-31001);
    expect(untrusted.message).toContain("no_untrusted_destination");
    const moved = await refusal(
      client.callTool({
        name: "move_file",
        arguments: { source: join(root, "hello.txt"), destination: target },
      }),
    );
    expect(moved.message).toContain("path_from_untrusted_content");
    expect(existsSync(target)).toBe(false);
    expect(existsSync(join(root, "hello.txt"))).toBe(true);

    await client.close();
    // The record is written at exit: wait (bounded by the test timeout) for it to appear.
    while (!existsSync(join(dir, "session.jsonl"))) await new Promise((r) => setTimeout(r, 20));

    const ledger = (await readFile(join(dir, "ledger.jsonl"), "utf8"))
      .trim()
      .split("\n")
      // Decision records only: the results the proxy observed have observation records between.
      .filter((l) => "decision" in JSON.parse(l))
      .map((l) => JSON.parse(l).decision as { seq: number; tool: string; verdict: string; rules: string[] });
    expect(ledger.map((d) => [d.tool, d.verdict])).toEqual([
      ["read_text_file", "allow"],
      ["list_directory", "allow"],
      ["write_file", "block"],
      ["write_file", "allow"],
      ["read_text_file", "allow"],
      ["write_file", "block"],
      ["move_file", "block"],
    ]);

    const verify = await proof(
      ["verify", "--policy", "policy.yaml", "--traces", "session.jsonl", "--out", "out"],
      dir,
    );
    expect(verify.code).toBe(5);
    const verified = (await readFile(join(dir, "out", "decisions.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { seq: number; tool: string; verdict: string; rules: string[] });
    const shape = (d: { seq: number; tool: string; verdict: string; rules: string[] }) => [
      d.seq,
      d.tool,
      d.verdict,
      d.rules,
    ];
    expect(verified.map(shape)).toEqual(ledger.map(shape));

    // --otel-out: one span per decision, written at exit, with the verdict and no argument value.
    while (!existsSync(join(dir, "spans.json"))) await new Promise((r) => setTimeout(r, 20));
    const request = JSON.parse(await readFile(join(dir, "spans.json"), "utf8")) as {
      resourceSpans: {
        scopeSpans: { spans: { attributes: { key: string; value: { stringValue?: string } }[] }[] }[];
      }[];
    };
    const spans = request.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((x) => x.spans));
    const attr = (span: (typeof spans)[number], key: string) =>
      span.attributes.find((a) => a.key === key)?.value.stringValue;
    expect(spans.map((span) => [attr(span, "gen_ai.tool.name"), attr(span, "proof.verdict")])).toEqual(
      ledger.map((d) => [d.tool, d.verdict]),
    );
    expect(JSON.stringify(request)).not.toContain("secrets");
  }, 60_000);

  it("answers a malformed line with a parse error and goes on with the session", async () => {
    const child = spawn(
      process.execPath,
      [BIN, "mcp", "proxy", "--policy", "policy.yaml", "--", process.execPath, FILESYSTEM, root],
      {
        cwd: dir,
        stdio: ["pipe", "pipe", "ignore"],
      },
    );
    const lines: unknown[] = [];
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
    });
    child.stdin.write("{not json\n");
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } })}\n`,
    );
    while (lines.length < 2) await new Promise((r) => setTimeout(r, 20));
    child.stdin.end();
    await exitOf(child);
    expect(lines[0]).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    expect(lines[1]).toMatchObject({
      jsonrpc: "2.0",
      id: 1,
      result: { serverInfo: { name: "secure-filesystem-server" } },
    });
  }, 30_000);

  it("gives errors to the client when the server is killed mid-session, and says why on stderr", async () => {
    const { client, transport } = await connect();
    const stderr: string[] = [];
    transport.stderr?.on("data", (d: Buffer) => stderr.push(d.toString("utf8")));
    expect(
      text(await client.callTool({ name: "read_text_file", arguments: { path: join(root, "hello.txt") } })),
    ).toContain("hello");
    const pid = Number(await readFile(join(dir, "server.pid"), "utf8"));
    const closed = new Promise<void>((resolve) => {
      client.onclose = () => resolve();
    });
    process.kill(pid, "SIGKILL");
    // The proxy ends the session: the client's transport closes and a call fails, never hangs.
    await closed;
    await expect(client.callTool({ name: "list_directory", arguments: { path: root } })).rejects.toThrow();
    expect(stderr.join("")).toContain("killed by SIGKILL");
  }, 30_000);
});

/**
 * A scripted MCP server in `dir`: it notes that it started, logs every line it receives, looks
 * tools up as `tools[params.name]` (so `["delete_repo"]` finds `delete_repo`) and notes what it
 * ran. With `--ignore-sigterm` it ignores SIGTERM and outlives its closed input.
 */
const SCRIPTED = `import { appendFileSync, writeFileSync } from "node:fs";
writeFileSync("started", "yes");
if (process.argv.includes("--ignore-sigterm")) {
  process.on("SIGTERM", () => {});
  setInterval(() => {}, 1000);
}
const tools = {
  delete_repo: () => "deleted",
  read_file: (a) => "contents of " + a.path,
  write_file: (a) => "wrote " + a.path,
};
let buf = "";
process.stdin.on("data", (d) => {
  buf += d;
  for (let nl = buf.indexOf("\\n"); nl >= 0; nl = buf.indexOf("\\n")) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    appendFileSync("received.jsonl", line + "\\n");
    const m = JSON.parse(line);
    if (m.id === undefined) continue;
    let result = {};
    if (m.method === "tools/call") {
      const tool = tools[m.params.name];
      appendFileSync("ran.txt", String(m.params.name) + "\\n");
      result = { content: [{ type: "text", text: tool ? tool(m.params.arguments ?? {}) : "no such tool" }] };
    }
    process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: m.id, result }) + "\\n");
  }
});
`;

const REPO_POLICY = `schema: proof.policy/v1
policy_id: repo.v1
defaults:
  verdict: allow
rules:
  - id: no_delete_repo
    match:
      tool: [delete_repo]
    effect: block
    reason: destructive
  - id: no_system_write
    match:
      tool: [write_file]
      args:
        path: { starts_with: /etc/ }
    effect: block
    reason: system_path
`;

/** A fresh directory holding the scripted server and the policy. */
async function scriptedDir(): Promise<string> {
  const d = await tempDir();
  await writeFile(join(d, "server.mjs"), SCRIPTED);
  await writeFile(join(d, "policy.yaml"), REPO_POLICY);
  return d;
}

/**
 * Runs the proxy in front of the scripted server, writes `lines`, waits for `answers` lines on
 * stdout, closes stdin and resolves with everything once the proxy has exited.
 */
async function scriptedSession(
  cwd: string,
  lines: string[],
  answers: number,
  options: { proxyArgs?: string[]; serverArgs?: string[] } = {},
): Promise<{ out: Record<string, unknown>[]; code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      "mcp",
      "proxy",
      "--policy",
      "policy.yaml",
      ...(options.proxyArgs ?? []),
      "--",
      process.execPath,
      "server.mjs",
      ...(options.serverArgs ?? []),
    ],
    { cwd, stdio: ["pipe", "pipe", "pipe"] },
  );
  const out: Record<string, unknown>[] = [];
  let buf = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      out.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.stdin.on("error", () => {});
  for (const l of lines) child.stdin.write(`${l}\n`);
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (out.length < answers && !done) await new Promise((r) => setTimeout(r, 20));
  child.stdin.end();
  return { out, code: await exited, stderr };
}

describe("proof mcp proxy in front of a server that trusts what it is sent", () => {
  it("never forwards a malformed or ambiguous tools/call, and forwards allowed ones as judged", async () => {
    const d = await scriptedDir();
    const call = (id: unknown, params: string) =>
      `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":${params}}`;
    const lines = [
      call(1, '{"name":["delete_repo"],"arguments":{}}'),
      call(2, '{"name":"delete_repo","name":"read_file","arguments":{}}'),
      call(3, '{"name":"write_file","arguments":{"path":"/etc/shadow","path":"notes.txt"}}'),
      '{"jsonrpc":"2.0","id":4,"method":"tools/call","method":"ping","params":{"name":"delete_repo"}}',
      call({ x: 1 }, '{"name":"read_file","arguments":{"path":"a.txt"}}'),
      call(6, '{ "name" : "read_\\u0066ile", "arguments": {"path": "b.txt"} }'),
    ];
    const r = await scriptedSession(d, lines, lines.length, { proxyArgs: ["--ledger", "ledger.jsonl"] });
    expect(r.code).toBe(0);
    const byId = new Map(r.out.map((m) => [JSON.stringify(m.id), m]));
    expect(byId.get("1")).toMatchObject({ error: { code: -32602 } });
    expect(byId.get("2")).toMatchObject({ error: { code: -32600 } });
    expect(byId.get("3")).toMatchObject({ error: { code: -32600 } });
    expect(byId.get("4")).toMatchObject({ error: { code: -32600 } });
    expect(byId.get("null")).toMatchObject({ error: { code: -32600 } });
    expect(byId.get("6")).toMatchObject({ result: { content: [{ text: "contents of b.txt" }] } });
    // The server ran the one allowed call, and saw it exactly as the proxy judged it.
    expect(await readFile(join(d, "ran.txt"), "utf8")).toBe("read_file\n");
    const received = (await readFile(join(d, "received.jsonl"), "utf8")).trim().split("\n");
    expect(received).toEqual([
      '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"b.txt"}}}',
    ]);
    for (const l of received) expect(parseFirstKey(l)).toEqual(JSON.parse(l));
    // The ledger says what was refused and why, never "allow" for a call it did not judge.
    const ledger = (await readFile(join(d, "ledger.jsonl"), "utf8"))
      .trim()
      .split("\n")
      // Decision records only: the results the proxy observed have observation records between.
      .filter((l) => "decision" in JSON.parse(l))
      .map((l) => JSON.parse(l).decision as { tool: string; verdict: string; reasons: string[] });
    expect(ledger.map((x) => [x.tool, x.verdict, x.reasons])).toEqual([
      ['["delete_repo"]', "block", ["invalid_params"]],
      ["read_file", "block", ["ambiguous_json"]],
      ["write_file", "block", ["ambiguous_json"]],
      ["delete_repo", "block", ["ambiguous_json"]],
      ["read_file", "block", ["invalid_request"]],
      ["read_file", "allow", []],
    ]);
    expect((await proof(["ledger", "verify", "ledger.jsonl"], d)).code).toBe(0);
    expect(r.stderr).toContain("refused a tools/call (id 1) without judging it");
  }, 30_000);

  it("kills a server that ignores SIGTERM once the client has gone", async () => {
    const d = await scriptedDir();
    const r = await scriptedSession(d, ['{"jsonrpc":"2.0","id":1,"method":"ping"}'], 1, {
      serverArgs: ["--ignore-sigterm"],
    });
    expect(r.out[0]).toMatchObject({ id: 1, result: {} });
    // 128 + 9: the server got SIGKILL after SIGTERM did nothing; the proxy did not hang.
    expect(r.code).toBe(137);
  }, 30_000);
});

describe("proof mcp proxy with outputs it cannot write", () => {
  const run = (d: string, args: string[]) =>
    proof(["mcp", "proxy", "--policy", "policy.yaml", ...args, "--", process.execPath, "server.mjs"], d);

  it("refuses a --record path that is a directory before the server starts (exit 6)", async () => {
    const d = await scriptedDir();
    await mkdir(join(d, "session.jsonl"));
    const r = await run(d, ["--record", "session.jsonl"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("session.jsonl");
    expect(r.stderr).toContain("is a directory");
    expect(r.stdout).toBe("");
    expect(existsSync(join(d, "started"))).toBe(false);
  }, 30_000);

  it("refuses a --record path under a file (exit 6) and a --ledger that is a directory (exit 6)", async () => {
    const d = await scriptedDir();
    await writeFile(join(d, "plain"), "x");
    const under = await run(d, ["--record", "plain/session.jsonl"]);
    expect(under.code).toBe(6);
    expect(under.stderr).toContain("plain/session.jsonl");
    await mkdir(join(d, "ledger.jsonl"));
    const ledger = await run(d, ["--ledger", "ledger.jsonl"]);
    expect(ledger.code).toBe(6);
    expect(ledger.stderr).toContain("ledger.jsonl");
    expect(existsSync(join(d, "started"))).toBe(false);
  }, 30_000);

  it.skipIf(UNPRIVILEGED === undefined)(
    "refuses a --record in a read-only directory with exit 8 before the server starts",
    async () => {
      const d = await scriptedDir();
      // As root the proxy runs as nobody, which may read the directory and, were the server
      // started, write its marker there; ro/ only it may not write.
      await chmod(d, 0o777);
      await mkdir(join(d, "ro"));
      await chmod(join(d, "ro"), 0o555);
      const r = await proofUnprivileged(
        [
          "mcp",
          "proxy",
          "--policy",
          "policy.yaml",
          "--record",
          "ro/session.jsonl",
          "--",
          process.execPath,
          "server.mjs",
        ],
        d,
      );
      await chmod(join(d, "ro"), 0o755);
      expect(r.code, r.stderr).toBe(8);
      expect(r.stderr).toContain("ro/session.jsonl");
      expect(existsSync(join(d, "started"))).toBe(false);
    },
    30_000,
  );
});
