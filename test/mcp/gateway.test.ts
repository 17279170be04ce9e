/**
 * The gateway in-process (`startGateway`), in front of a scripted Streamable HTTP upstream whose
 * every received message is kept, so a test can tell what was forwarded and what was not: the
 * transport's refusals (session, Accept, media type, Origin, method), SSE relaying, an upstream
 * that never answers (504) or drops its stream (an error, the outcome unknown), and a ledger that
 * fails (every later call refused).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type GatewayHandle, type GatewayOptions, startGateway } from "../../src/mcp/gateway.js";
import { SseDecoder, sseEvent } from "../../src/mcp/sse.js";
import { createServeMetrics } from "../../src/serve/metrics.js";
import type { RequestAuthenticator } from "../../src/serve/types.js";
import { policy } from "../engine/helpers.js";
import { initializeBody, MCP_HEADERS } from "./gateway-helpers.js";
import { recordingProxy } from "./helpers.js";

const POLICY = policy(`schema: proof.policy/v1
policy_id: scripted.v1
defaults:
  verdict: allow
rules:
  - id: no_delete
    match:
      tool: [delete_repo]
    effect: block
    reason: destructive
`);

/** A scripted upstream: what it received, and how to stop it. */
interface Scripted {
  url: string;
  received: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * Answers initialize (JSON, with a session id), accepts notifications (202), and answers
 * `tools/call` by tool name: `echo` streams a progress notification then the result over SSE,
 * `hang` never answers, `drop` opens an SSE stream and closes it without answering, `notify`
 * also sends a notification on every GET stream; any other tool gets a JSON result.
 */
async function scriptedUpstream(): Promise<Scripted> {
  const received: Record<string, unknown>[] = [];
  const open = new Set<ServerResponse>();
  const getStreams = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString("utf8");
    });
    req.on("end", () => {
      if (req.method === "DELETE") return void res.writeHead(200).end();
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(": open\n\n");
        getStreams.add(res);
        open.add(res);
        return;
      }
      if (req.method !== "POST") return void res.writeHead(405).end();
      const m = JSON.parse(body) as { id?: number; method?: string; params?: { name?: string } };
      received.push(m as Record<string, unknown>);
      if (m.id === undefined) return void res.writeHead(202).end();
      const result = (r: unknown) => JSON.stringify({ jsonrpc: "2.0", id: m.id, result: r });
      if (m.method === "initialize") {
        res.writeHead(200, { "content-type": "application/json", "mcp-session-id": "upstream-1" });
        return void res.end(
          result({
            protocolVersion: "2025-06-18",
            capabilities: { tools: {} },
            serverInfo: { name: "s", version: "1" },
          }),
        );
      }
      const tool = m.params?.name;
      if (tool === "notify")
        for (const g of getStreams)
          g.write(
            sseEvent(JSON.stringify({ jsonrpc: "2.0", method: "notifications/resources/list_changed" })),
          );
      if (tool === "hang") {
        open.add(res);
        return;
      }
      if (tool === "echo" || tool === "drop") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(
          sseEvent(
            JSON.stringify({
              jsonrpc: "2.0",
              method: "notifications/message",
              params: { level: "info", data: "working" },
            }),
          ),
        );
        if (tool === "drop") return void res.end();
        return void res.end(sseEvent(result({ content: [{ type: "text", text: "echoed" }] })));
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(result({ content: [{ type: "text", text: `ran ${tool}` }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const r of open) r.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let upstream: Scripted;
let gateway: GatewayHandle | undefined;

beforeEach(async () => {
  upstream = await scriptedUpstream();
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  await upstream.close();
});

async function start(extra: Partial<GatewayOptions> = {}): Promise<GatewayHandle> {
  gateway = await startGateway({
    policies: [POLICY],
    upstream: { url: upstream.url },
    log: () => {},
    ...extra,
  });
  return gateway;
}

/** Opens a session over raw HTTP; @returns its id. */
async function initialize(url: string): Promise<string> {
  const res = await fetch(url, { method: "POST", headers: MCP_HEADERS, body: initializeBody() });
  expect(res.status).toBe(200);
  const id = res.headers.get("mcp-session-id");
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  // The upstream's own session id never reaches the client.
  expect(id).not.toBe("upstream-1");
  await res.text();
  return id as string;
}

/** POSTs one message in a session; @returns status, headers and the messages of the answer (JSON or SSE). */
async function post(url: string, session: string, message: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...MCP_HEADERS, "mcp-session-id": session, ...headers },
    body: typeof message === "string" ? message : JSON.stringify(message),
  });
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  const messages = type.startsWith("text/event-stream")
    ? new SseDecoder().push(text).map((e) => JSON.parse(e.data) as Record<string, unknown>)
    : text === ""
      ? []
      : [JSON.parse(text) as Record<string, unknown>];
  return { status: res.status, headers: res.headers, type, messages };
}

/** The message of a JSON-RPC error answer ("" when it is none). */
function errorMessage(m: Record<string, unknown> | undefined): string {
  const e = m?.error as { message?: unknown } | undefined;
  return typeof e?.message === "string" ? e.message : "";
}

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

describe("SseDecoder", () => {
  it("joins data lines, names events, skips comments and data-less events, and reads line ends split across chunks", () => {
    const d = new SseDecoder();
    expect(d.push(": keep-alive\n\nid: 7\n\n")).toEqual([]);
    expect(d.push('event: message\ndata: {"a":\ndata: 1}\r')).toEqual([]);
    expect(d.push("\n\r\n")).toEqual([{ event: "message", data: '{"a":\n1}', id: "7" }]);
    expect(d.push("data:x\n\nevent: other\ndata: y\n\n")).toEqual([
      { event: "message", data: "x", id: "7" },
      { event: "other", data: "y", id: "7" },
    ]);
  });

  it("writes a message that the decoder reads back, pretty-printed lines included", () => {
    const text = '{\n  "jsonrpc": "2.0"\n}';
    expect(new SseDecoder().push(sseEvent(text))).toEqual([{ event: "message", data: text }]);
  });
});

describe("startGateway", () => {
  it("relays an SSE answer through the guard, refuses a blocked call without forwarding it, and reports decisions", async () => {
    const decided: [string, string, boolean][] = [];
    const gw = await start({
      onDecision: (_s, d, forwarded) => decided.push([d.tool, d.verdict, forwarded]),
    });
    expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const session = await initialize(gw.url);
    expect(
      (await post(gw.url, session, { jsonrpc: "2.0", method: "notifications/initialized" })).status,
    ).toBe(202);

    const echoed = await post(gw.url, session, call(2, "echo"));
    expect(echoed.type).toContain("text/event-stream");
    expect(echoed.messages.map((m) => m.method ?? m.id)).toEqual(["notifications/message", 2]);

    const blocked = await post(gw.url, session, call(3, "delete_repo", { repo: "x" }));
    expect(blocked.status).toBe(200);
    expect(blocked.messages[0]).toMatchObject({ id: 3, error: { code: -31001 } });
    expect(
      upstream.received.some((m) => (m.params as { name?: string } | undefined)?.name === "delete_repo"),
    ).toBe(false);
    expect(decided).toEqual([
      ["echo", "allow", true],
      ["delete_repo", "block", false],
    ]);
    expect(gw.sessions).toBe(1);
  });

  it("refuses what the transport does not allow, before anything is forwarded", async () => {
    const gw = await start();
    const session = await initialize(gw.url);
    const before = upstream.received.length;
    // No session id on anything but initialize.
    const noSession = await fetch(gw.url, {
      method: "POST",
      headers: MCP_HEADERS,
      body: JSON.stringify(call(1, "x")),
    });
    expect(noSession.status).toBe(400);
    // An unknown session.
    expect((await post(gw.url, "not-a-session", call(1, "x"))).status).toBe(404);
    // Accept without text/event-stream.
    const json = await post(gw.url, session, call(1, "x"), { accept: "application/json" });
    expect(json.status).toBe(406);
    // Another media type.
    const form = await fetch(gw.url, {
      method: "POST",
      headers: { ...MCP_HEADERS, "content-type": "text/plain", "mcp-session-id": session },
      body: "x",
    });
    expect(form.status).toBe(415);
    // A foreign Origin (DNS rebinding).
    expect((await post(gw.url, session, call(1, "x"), { origin: "http://evil.example" })).status).toBe(403);
    // A method the endpoint does not take.
    const put = await fetch(gw.url, {
      method: "PUT",
      headers: { ...MCP_HEADERS, "mcp-session-id": session },
    });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST, DELETE");
    // A batch and an ambiguous message are refused by the proxy core, as over stdio.
    const batch = await post(gw.url, session, JSON.stringify([call(5, "x"), call(6, "y")]));
    expect(batch.status).toBe(200);
    const dup = await post(
      gw.url,
      session,
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","name":"delete_repo"}}',
    );
    expect(dup.messages[0]).toMatchObject({ id: 7, error: { code: -32600 } });
    expect(upstream.received.length).toBe(before);

    // DELETE ends the session: it is unknown afterwards.
    const del = await fetch(gw.url, { method: "DELETE", headers: { "mcp-session-id": session } });
    expect(del.status).toBe(204);
    expect((await post(gw.url, session, call(8, "x"))).status).toBe(404);
    expect(gw.sessions).toBe(0);
  });

  it("answers 504 when the upstream never answers, and an error when its stream ends without an answer", async () => {
    const gw = await start({ requestTimeoutMs: 300 });
    const session = await initialize(gw.url);
    const hung = await post(gw.url, session, call(2, "hang"));
    expect(hung.status).toBe(504);
    expect(hung.messages[0]).toMatchObject({ id: 2, error: { code: -31003 } });
    expect(errorMessage(hung.messages[0])).toContain("did not answer within 300 ms");

    const dropped = await post(gw.url, session, call(3, "drop"));
    expect(dropped.type).toContain("text/event-stream");
    expect(dropped.messages.at(-1)).toMatchObject({ id: 3, error: { code: -31003 } });
    expect(errorMessage(dropped.messages.at(-1))).toContain("outcome is unknown");
    // The id is free again and the session goes on.
    expect((await post(gw.url, session, call(3, "other"))).messages[0]).toMatchObject({ id: 3, result: {} });
  });

  it("answers 503 naming the upstream when it cannot be reached, and /readyz says so", async () => {
    const gw = await start();
    const session = await initialize(gw.url);
    await upstream.close();
    const down = await post(gw.url, session, call(2, "other"));
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("1");
    expect(down.messages[0]).toMatchObject({ id: 2, error: { code: -31003 } });
    expect(errorMessage(down.messages[0])).toContain(upstream.url);
    expect(errorMessage(down.messages[0])).toContain("the call was not run");
    const ready = await fetch(gw.url.replace(/\/mcp$/, "/readyz"));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ upstream_ready: false });
    // Restarted for afterEach's close.
    upstream = await scriptedUpstream();
  });

  it("answers 503 for a call whose decision record is not kept in time, and never forwards it", async () => {
    const gw = await start({
      ledger: { append: () => new Promise<void>(() => {}), observe: async () => {} },
      requestTimeoutMs: 300,
    });
    const session = await initialize(gw.url);
    const held = await post(gw.url, session, call(2, "other"));
    expect(held.status).toBe(503);
    expect(held.messages[0]).toMatchObject({ id: 2, error: { code: -31003 } });
    expect(errorMessage(held.messages[0])).toContain("not forwarded");
    expect(upstream.received.filter((m) => m.method === "tools/call")).toHaveLength(0);
  });

  it("refuses the call whose record cannot be kept, and every later one (fail closed)", async () => {
    const gw = await start({
      ledger: { append: () => Promise.reject(new Error("disk full")), observe: async () => {} },
    });
    const session = await initialize(gw.url);
    const first = await post(gw.url, session, call(2, "other"));
    expect(first.messages[0]).toMatchObject({ id: 2, error: { code: -31002 } });
    expect(errorMessage(first.messages[0])).toContain("disk full");
    const readyz = gw.url.replace(/\/mcp$/, "/readyz");
    expect(((await (await fetch(readyz)).json()) as { ledger_ok: boolean }).ledger_ok).toBe(false);
    const refused = await post(gw.url, session, call(3, "other"));
    expect(refused.messages[0]).toMatchObject({ id: 3, error: { code: -31002 } });
    expect(errorMessage(refused.messages[0])).toContain("disk full");
    expect(upstream.received.filter((m) => m.method === "tools/call")).toHaveLength(0);
  });

  it("keeps each session's trace with its record port when the gateway closes", async () => {
    const records = new Map<string, string>();
    const gw = await start({
      record: async (id, text) => {
        records.set(id, text);
      },
    });
    const session = await initialize(gw.url);
    await post(gw.url, session, call(2, "other"));
    await gw.close();
    gateway = undefined;
    const lines = (records.get(session) ?? "")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; tool?: string });
    expect(lines.map((l) => [l.type, l.tool])).toEqual([
      ["trace", undefined],
      ["tool_call", "other"],
      ["tool_result", "other"],
    ]);
  });

  it("relays the upstream's own messages to the client's GET stream, and counts what it did in /metrics", async () => {
    const metrics = createServeMetrics({ defaultMetrics: false, warn: () => {} });
    const gw = await start({ metrics });
    const session = await initialize(gw.url);
    // notifications/initialized opens the upstream's GET stream.
    expect(
      (await post(gw.url, session, { jsonrpc: "2.0", method: "notifications/initialized" })).status,
    ).toBe(202);
    const stream = await fetch(gw.url, {
      headers: { accept: "text/event-stream", "mcp-session-id": session },
    });
    expect(stream.status).toBe(200);
    const second = await fetch(gw.url, {
      headers: { accept: "text/event-stream", "mcp-session-id": session },
    });
    expect(second.status).toBe(409);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new SseDecoder();
    const text = new TextDecoder();
    // The upstream's GET stream may open after the first call: call until the notification comes.
    const events: Record<string, unknown>[] = [];
    let id = 2;
    const read = (async () => {
      while (events.length === 0) {
        const { value, done } = await reader.read();
        if (done) return;
        for (const e of decoder.push(text.decode(value, { stream: true })))
          events.push(JSON.parse(e.data) as Record<string, unknown>);
      }
    })();
    while (events.length === 0) {
      await post(gw.url, session, call(id++, "notify"));
      await Promise.race([read, new Promise((r) => setTimeout(r, 50))]);
    }
    expect(events[0]).toMatchObject({ method: "notifications/resources/list_changed" });
    await reader.cancel();
    await post(gw.url, session, call(id++, "delete_repo"));
    const body = (await metrics.render()).body;
    expect(body).toMatch(/proof_mcp_gateway_decisions_total\{verdict="block"\} 1/);
    expect(body).toMatch(/proof_mcp_gateway_decisions_total\{verdict="allow"\} [1-9]/);
    expect(body).toMatch(/proof_mcp_gateway_sessions 1/);
    expect(body).toMatch(/proof_mcp_gateway_requests_total\{method="POST",code="200"\} [1-9]/);
  });
});

describe("startGateway with an authenticator", () => {
  it("binds a session to the subject that opened it: another subject's token finds no session", async () => {
    // Bearer alice / Bearer bob: two subjects; anything else is refused.
    const authenticator: RequestAuthenticator = {
      async authenticate(authorization) {
        const who = /^Bearer (alice|bob)$/.exec(authorization ?? "")?.[1];
        return who
          ? { ok: true, subject: who, scopes: [] }
          : { ok: false, status: 401, reason: "missing_token", message: "no token" };
      },
      ready: () => true,
      start: async () => {},
      close: () => {},
    };
    const gw = await start({ authenticator });
    expect(
      (await fetch(gw.url, { method: "POST", headers: MCP_HEADERS, body: initializeBody() })).status,
    ).toBe(401);
    const res = await fetch(gw.url, {
      method: "POST",
      headers: { ...MCP_HEADERS, authorization: "Bearer alice" },
      body: initializeBody(),
    });
    const session = res.headers.get("mcp-session-id") as string;
    await res.text();
    expect((await post(gw.url, session, call(2, "other"), { authorization: "Bearer bob" })).status).toBe(404);
    expect((await post(gw.url, session, call(3, "other"), { authorization: "Bearer alice" })).status).toBe(
      200,
    );
  });
});

describe("startGateway over stdio", () => {
  it("answers 503 and starts no session when the server command cannot start", async () => {
    const gw = await startGateway({
      policies: [POLICY],
      upstream: { command: ["/nonexistent/proof-test-server"] },
      log: () => {},
    });
    try {
      const res = await fetch(gw.url, { method: "POST", headers: MCP_HEADERS, body: initializeBody() });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.headers.get("mcp-session-id")).toBeNull();
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ id: 1, error: { code: -31003 } });
      expect(errorMessage(body)).toContain("could not start");
      expect(errorMessage(body)).toContain("the call was not run");
      expect(gw.sessions).toBe(0);
    } finally {
      await gw.close();
    }
  });
});

describe("McpProxy.abandon", () => {
  it("answers a forwarded call the server will never answer with -31003, observes it as a failed call, and frees its id", () => {
    const r = recordingProxy();
    r.proxy.fromClient(JSON.stringify(call(7, "read_secret", { name: "k" })));
    expect(r.server).toHaveLength(1);
    expect(r.proxy.isWaiting(7)).toBe(true);
    r.proxy.abandon(7, "proof: gone; the call's outcome is unknown");
    expect(r.client).toEqual([
      {
        jsonrpc: "2.0",
        id: 7,
        error: { code: -31003, message: "proof: gone; the call's outcome is unknown" },
      },
    ]);
    expect(r.proxy.isWaiting(7)).toBe(false);
    const events = r.guard.trace().events as { type: string; error?: string | null }[];
    expect(events.map((e) => [e.type, e.error ?? null])).toEqual([
      ["tool_call", null],
      ["tool_result", "proof: gone; the call's outcome is unknown"],
    ]);
    // Not waiting: nothing happens. The id can be used again.
    r.proxy.abandon(7, "again");
    expect(r.client).toHaveLength(1);
    r.proxy.fromClient(JSON.stringify(call(7, "read_secret", { name: "k" })));
    expect(r.server).toHaveLength(2);
  });
});
