/**
 * `proof mcp gateway` end to end: the built CLI in front of the reference MCP servers from npm
 * (filesystem over stdio, one process per session; everything over Streamable HTTP), driven by
 * the MCP SDK's Streamable HTTP client as a real MCP host would.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";
import { API_AUDIENCE, startIdp, type TestIdp } from "../helpers/idp.js";
import { type Issued, makeCa, makeCert } from "../helpers/pki.js";
import { missingTools } from "../helpers/tools.js";
import {
  connect,
  freePort,
  httpFailure,
  initializeBody,
  killAll,
  MCP_HEADERS,
  refusal,
  startEverything,
  startGateway,
  text,
} from "./gateway-helpers.js";
import { filesystemSandbox } from "./helpers.js";

const FS_POLICY = `schema: proof.policy/v1
policy_id: fs.gateway.v1
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

const EVERYTHING_POLICY = `schema: proof.policy/v1
policy_id: everything.gateway.v1
defaults:
  verdict: allow
rules:
  - id: no_sums
    match:
      tool: [get-sum]
    effect: block
    reason: sums_are_not_for_agents
`;

/** The development flags every test gateway without --auth needs. */
const DEV = ["--profile", "dev", "--insecure-no-auth"];

let dir: string;
let root: string;

beforeAll(async () => {
  // server.pid names the server of the latest session.
  ({ dir, root } = await filesystemSandbox());
  await writeFile(join(dir, "fs.yaml"), FS_POLICY);
  await writeFile(join(dir, "everything.yaml"), EVERYTHING_POLICY);
});

afterEach(killAll);
afterAll(removeTempDirs);

const fsServer = () => ["--", process.execPath, join(dir, "server.mjs"), root];

describe("proof mcp gateway in front of a stdio server (one process per session)", () => {
  it("forwards allowed calls, refuses blocked and untrusted-provenance calls the server never runs, records each session", async () => {
    const gw = await startGateway(
      ["--policy", "fs.yaml", ...DEV, "--record", "sessions", "--ledger", "ledger.jsonl", ...fsServer()],
      dir,
    );
    const { client, transport } = await connect(gw.url);
    const sessionId = transport.sessionId as string;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);

    expect(
      text(await client.callTool({ name: "read_text_file", arguments: { path: join(root, "hello.txt") } })),
    ).toContain("hello from the server side");

    // Blocked by an argument rule: the server never ran it, so the file does not exist.
    const blocked = await refusal(
      client.callTool({ name: "write_file", arguments: { path: join(root, "forbidden.txt"), content: "x" } }),
    );
    expect(blocked.code).toBe(-31001);
    expect(blocked.message).toContain("no_forbidden_write");
    expect((blocked.data as { decision: { verdict: string } }).decision.verdict).toBe("block");
    expect(existsSync(join(root, "forbidden.txt"))).toBe(false);

    // Provenance: a path read from a tool result (untrusted) cannot be written to.
    const target = join(root, "stolen.txt");
    expect(
      text(await client.callTool({ name: "read_text_file", arguments: { path: join(root, "note.txt") } })),
    ).toContain(target);
    const untrusted = await refusal(
      client.callTool({ name: "write_file", arguments: { path: target, content: "secrets" } }),
    );
    expect(untrusted.code).toBe(-31001);
    expect(untrusted.message).toContain("no_untrusted_destination");
    expect(existsSync(target)).toBe(false);

    // A second session has a guard of its own: nothing it read taints the first one's calls.
    const other = await connect(gw.url);
    const otherId = other.transport.sessionId as string;
    expect(otherId).not.toBe(sessionId);
    await other.client.callTool({
      name: "write_file",
      arguments: { path: join(root, "elsewhere.txt"), content: "x" },
    });
    expect(existsSync(join(root, "elsewhere.txt"))).toBe(true);

    await transport.terminateSession();
    await other.transport.terminateSession();
    expect(await gw.stop()).toBe(0);

    const records = (await readdir(join(dir, "sessions"))).sort();
    expect(records).toEqual([`${sessionId}.jsonl`, `${otherId}.jsonl`].sort());
    const entries = (await readFile(join(dir, "ledger.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            decision?: { session: string; tool: string; verdict: string };
            observation?: { session: string; tool: string };
          },
      );
    // Each observed tool result of the session is recorded too, for `proof ledger lineage`.
    expect(
      entries.filter((r) => r.observation?.session === sessionId).map((r) => r.observation?.tool),
    ).toEqual(["read_text_file", "read_text_file"]);
    const ledger = entries.flatMap((r) => (r.decision ? [r.decision] : []));
    expect(ledger.filter((d) => d.session === sessionId).map((d) => [d.tool, d.verdict])).toEqual([
      ["read_text_file", "allow"],
      ["write_file", "block"],
      ["read_text_file", "allow"],
      ["write_file", "block"],
    ]);
    // The session's recorded trace verifies to the same verdicts (a block fails the gate: 5).
    const verify = await proof(
      ["verify", "--policy", "fs.yaml", "--traces", join("sessions", `${sessionId}.jsonl`), "--out", "out"],
      dir,
    );
    expect(verify.code).toBe(5);
    const verified = (await readFile(join(dir, "out", "decisions.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { tool: string; verdict: string });
    expect(verified.map((d) => [d.tool, d.verdict])).toEqual([
      ["read_text_file", "allow"],
      ["write_file", "block"],
      ["read_text_file", "allow"],
      ["write_file", "block"],
    ]);
  }, 60_000);

  it("answers 503 when the session's server dies, and a new session starts a new server", async () => {
    const gw = await startGateway(["--policy", "fs.yaml", ...DEV, ...fsServer()], dir);
    const { client } = await connect(gw.url);
    await client.callTool({ name: "list_directory", arguments: { path: root } });
    const pid = Number(await readFile(join(dir, "server.pid"), "utf8"));
    process.kill(pid, "SIGKILL");
    while (isAlive(pid)) await new Promise((r) => setTimeout(r, 20));
    // Fails with the gateway's 503 well before the SDK's own 2 s limit would turn it into a timeout.
    const failed = await httpFailure(
      client.callTool({ name: "list_directory", arguments: { path: root } }, undefined, { timeout: 2000 }),
    );
    expect(failed.code).toBe(503);
    expect(failed.message).toContain("-31003");
    const again = await connect(gw.url);
    expect(
      text(await again.client.callTool({ name: "list_directory", arguments: { path: root } })),
    ).toContain("hello.txt");
    expect(Number(await readFile(join(dir, "server.pid"), "utf8"))).not.toBe(pid);
  }, 60_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("proof mcp gateway in front of a Streamable HTTP server", () => {
  it("forwards allowed calls and refuses blocked ones", async () => {
    const upstream = await startEverything(await freePort());
    const gw = await startGateway(["--policy", "everything.yaml", ...DEV, "--upstream", upstream.url], dir);
    const { client, transport } = await connect(gw.url);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("get-sum");
    expect(text(await client.callTool({ name: "echo", arguments: { message: "hi" } }))).toBe("Echo: hi");
    const blocked = await refusal(client.callTool({ name: "get-sum", arguments: { a: 1, b: 2 } }));
    expect(blocked.code).toBe(-31001);
    expect(blocked.message).toContain("no_sums");
    await transport.terminateSession();
  }, 60_000);

  it("answers 503 with Retry-After while the upstream is down, reports it on /readyz, and recovers without a restart", async () => {
    const port = await freePort();
    let upstream = await startEverything(port);
    const gw = await startGateway(["--policy", "everything.yaml", ...DEV, "--upstream", upstream.url], dir);
    const base = gw.url.replace(/\/mcp$/, "");
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const { client } = await connect(gw.url);
    expect(text(await client.callTool({ name: "echo", arguments: { message: "1" } }))).toBe("Echo: 1");

    upstream.proc.kill("SIGKILL");
    await new Promise((resolve) => upstream.proc.once("exit", resolve));

    const failed = await httpFailure(
      client.callTool({ name: "echo", arguments: { message: "2" } }, undefined, { timeout: 2000 }),
    );
    expect(failed.code).toBe(503);
    // A new session cannot start either: the raw answer is a 503 naming the upstream, with Retry-After.
    const res = await fetch(gw.url, { method: "POST", headers: MCP_HEADERS, body: initializeBody() });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = (await res.json()) as { id: number; error: { code: number; message: string } };
    expect(body.id).toBe(1);
    expect(body.error.code).toBe(-31003);
    expect(body.error.message).toContain(upstream.url);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, upstream_ready: false });

    upstream = await startEverything(port);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const again = await connect(gw.url);
    expect(text(await again.client.callTool({ name: "echo", arguments: { message: "3" } }))).toBe("Echo: 3");
  }, 60_000);
});

describe("proof mcp gateway authentication", () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startIdp({ ttlSeconds: 3600 });
  });
  afterAll(async () => {
    await idp.close();
  });

  it("refuses a request without a bearer token (401) and serves one with a valid token", async () => {
    await writeFile(join(dir, "auth.yaml"), `issuer: ${idp.issuer}\naudience: ${API_AUDIENCE}\n`);
    const gw = await startGateway(
      ["--policy", "fs.yaml", "--profile", "dev", "--auth", "auth.yaml", ...fsServer()],
      dir,
    );
    const res = await fetch(gw.url, { method: "POST", headers: MCP_HEADERS, body: initializeBody() });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    // Probes need no token.
    expect((await fetch(gw.url.replace(/\/mcp$/, "/healthz"))).status).toBe(200);

    const token = await idp.token("verify:run");
    const { client, transport } = await connect(gw.url, { authorization: `Bearer ${token}` });
    expect(text(await client.callTool({ name: "list_directory", arguments: { path: root } }))).toContain(
      "hello.txt",
    );
    // The session is bound to the token that opened it: without the token it is not found.
    const stolen = await fetch(gw.url, {
      method: "POST",
      headers: { ...MCP_HEADERS, "mcp-session-id": transport.sessionId as string },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    expect(stolen.status).toBe(401);
  }, 60_000);

  it.skipIf(missingTools("openssl"))(
    "under the prod profile serves HTTPS and requires a client certificate of the CA and a token",
    async () => {
      const pki = await tempDir();
      const ca = makeCa(pki, "ca");
      const server = makeCert(pki, ca, "server", "server", ["DNS:localhost", "IP:127.0.0.1"]);
      const agent = makeCert(pki, ca, "agent", "client", ["DNS:agent.proof.test"]);
      await writeFile(join(dir, "auth.yaml"), `issuer: ${idp.issuer}\naudience: ${API_AUDIENCE}\n`);
      const gw = await startGateway(
        [
          "--policy",
          "fs.yaml",
          "--auth",
          "auth.yaml",
          "--tls-cert",
          server.certFile,
          "--tls-key",
          server.keyFile,
          "--client-ca",
          ca.certFile,
          "--allowed-san",
          "agent.proof.test",
          ...fsServer(),
        ],
        dir,
      );
      expect(gw.url).toMatch(/^https:\/\//);
      const token = await idp.token("verify:run");
      const headers = { ...MCP_HEADERS, authorization: `Bearer ${token}` };
      // Without a client certificate: 403 before the token is even looked at.
      expect((await httpsPost(gw.url, headers, initializeBody(), ca)).status).toBe(403);
      // With the agent's certificate and the token: a session.
      const ok = await httpsPost(gw.url, headers, initializeBody(), ca, agent);
      expect(ok.status).toBe(200);
      expect(ok.session).toMatch(/^[0-9a-f-]{36}$/);
      expect(ok.body).toContain("secure-filesystem-server");
    },
    60_000,
  );

  it("refuses --insecure-no-auth under the default prod profile before listening (exit 6)", async () => {
    const r = await proof(
      [
        "mcp",
        "gateway",
        "--listen",
        "127.0.0.1:0",
        "--policy",
        "fs.yaml",
        "--insecure-no-auth",
        ...fsServer(),
      ],
      dir,
    );
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("--insecure-no-auth is refused under the prod profile");
  }, 30_000);
});

/** One HTTPS POST trusting `ca`, with `client`'s certificate when given. */
function httpsPost(
  url: string,
  headers: Record<string, string>,
  body: string,
  ca: Issued,
  client?: Issued,
): Promise<{ status: number; session: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: "POST", headers, ca: ca.cert, ...(client ? { cert: client.cert, key: client.key } : {}) },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          const sid = res.headers["mcp-session-id"];
          resolve({
            status: res.statusCode ?? 0,
            session: typeof sid === "string" ? sid : undefined,
            body: text,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
