/** Processes and clients for the `proof mcp gateway` tests: the built CLI, reference servers, the SDK client. */
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { BIN } from "../e2e/cli.js";

const require = createRequire(import.meta.url);
/** The reference "everything" server (its `streamableHttp` mode listens on $PORT). */
export const EVERYTHING = require.resolve("@modelcontextprotocol/server-everything/dist/index.js");
/** The reference filesystem server (stdio). */
export { FILESYSTEM } from "./helpers.js";

const started: ChildProcess[] = [];

/** Kills every process these helpers started; for afterAll/afterEach. */
export async function killAll(): Promise<void> {
  await Promise.all(
    started.splice(0).map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once("exit", () => resolve());
          p.kill("SIGKILL");
        }),
    ),
  );
}

/** Resolves with the first match of `pattern` in a stream's text (bounded by the test's timeout). */
function waitFor(p: ChildProcess, stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = "";
    p[stream]?.on("data", (d: Buffer) => {
      text += d.toString("utf8");
      const m = pattern.exec(text);
      if (m) resolve(m);
    });
    p.once("exit", (code) => reject(new Error(`exited with ${code} before printing ${pattern}: ${text}`)));
  });
}

/** A free loopback port (taken and given back: a server can then listen on it again after a restart). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the everything server over Streamable HTTP on `port`; resolves once it listens. */
export async function startEverything(port: number): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [EVERYTHING, "streamableHttp"], {
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  started.push(proc);
  await waitFor(proc, "stderr", /listening on port/);
  return { proc, url: `http://127.0.0.1:${port}/mcp` };
}

/** A running `proof mcp gateway`, started from the built CLI in `cwd`. */
export interface RunningGateway {
  proc: ChildProcess;
  /** The MCP endpoint it printed. */
  url: string;
  /** Its stderr so far. */
  stderr(): string;
  /** SIGTERM, then resolves with its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `proof mcp gateway ARGS` and waits for its `listening on URL` line. */
export async function startGateway(args: string[], cwd: string): Promise<RunningGateway> {
  const proc = spawn(process.execPath, [BIN, "mcp", "gateway", "--listen", "127.0.0.1:0", ...args], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(proc);
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => {
    err += d.toString("utf8");
  });
  const m = await waitFor(proc, "stdout", /listening on (\S+)/);
  return {
    proc,
    url: m[1] as string,
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once("exit", (code) => resolve(code));
        proc.kill("SIGTERM");
      }),
  };
}

/** An SDK client connected to `url` over Streamable HTTP (optionally with extra headers). */
export async function connect(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const client = new Client({ name: "proof-gateway-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

/** The text of a tool result. */
export function text(result: unknown): string {
  const content = (result as { content: { type: string; text?: string }[] }).content;
  return content.map((c) => c.text ?? "").join("\n");
}

/** The JSON-RPC error a call was refused with. */
export async function refusal(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  throw new Error("the call was not refused");
}

/** The error of a call that failed at the HTTP level (the SDK's StreamableHTTPError: `code` is the status). */
export async function httpFailure(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: number; message: string };
  }
  throw new Error("the call did not fail");
}

/** The headers of a raw request to the MCP endpoint. */
export const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** An `initialize` request body. */
export function initializeBody(id: number | string = 1): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });
}
