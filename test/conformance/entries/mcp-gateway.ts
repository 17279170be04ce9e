/**
 * The MCP gateway entry (`proof mcp gateway`, src/mcp/gateway.ts): the MCP SDK's Streamable HTTP
 * client, the gateway started in process with `startGateway`, and an upstream MCP server of the
 * SDK served over Streamable HTTP on loopback. The wiring mirrors the command: a policy that
 * cannot be loaded stops it before it listens, the ledger is opened first, and every decision is
 * appended with the session's id, and exported as a span (`--otel-out`). The gateway has no
 * approval channel: require_approval refuses.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { AdapterOptions, LedgerSink, SpanSink } from "../../../src/adapters/core.js";
import type { Guard } from "../../../src/guard/guard.js";
import type { LedgerObservation } from "../../../src/ledger/ledger.js";
import type { LedgerDecision } from "../../../src/ledger/session.js";
import { startGateway } from "../../../src/mcp/gateway.js";
import type { Decision } from "../../../src/verify/decision.js";
import { type AdapterEntry, TOOL_SPECS, toolBodies } from "../harness.js";
import { callScripted } from "./mcp-client.js";

/** The scenario's two tools as an MCP server reached over Streamable HTTP (one transport, stateless). */
async function upstreamServer(
  bodies: ReturnType<typeof toolBodies>,
): Promise<{ url: string; close(): Promise<void> }> {
  const http: Server = createServer((req, res) => {
    // Stateless mode: a fresh server and transport per request, as the SDK's examples do.
    const server = new McpServer({ name: "bank", version: "1.0.0" });
    server.registerTool(
      "read_mail",
      { description: TOOL_SPECS.read_mail.description, inputSchema: {} },
      async (args) => ({ content: [{ type: "text", text: await bodies.read_mail(args) }] }),
    );
    server.registerTool(
      "send_money",
      { description: TOOL_SPECS.send_money.description, inputSchema: TOOL_SPECS.send_money.input.shape },
      async (args) => ({ content: [{ type: "text", text: await bodies.send_money(args) }] }),
    );
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}

/** The adapters' ledger as the gateway takes it (decisions and observations). */
function gatewayLedger(sink: LedgerSink) {
  return {
    append: (record: LedgerDecision) => sink.append(record),
    observe: (observation: LedgerObservation) => sink.observe?.(observation) ?? Promise.resolve(),
  };
}

/** The harness's exporter, with its own run id over the gateway's (the session id). */
function spansWith(sink: SpanSink, meta: AdapterOptions["spanMeta"]) {
  return { export: (decision: Decision, own?: object) => sink.export(decision, { ...own, ...meta }) };
}

export const mcpGatewayEntry: AdapterEntry = {
  name: "mcp-gateway",
  approval: "refuses",
  ledgerAppendFailure: "call",
  observesUser: false,
  spans: true,
  async drive({ scenario, guard, options, executed }) {
    let judged: Guard;
    try {
      judged = await guard;
    } catch (err) {
      // As the command: a policy that cannot be loaded stops the gateway before it listens.
      const why = `proof mcp gateway did not start: ${err instanceof Error ? err.message : String(err)}`;
      return { outputs: scenario.calls.map(() => why) };
    }
    let ledger: LedgerSink | undefined;
    try {
      ledger = options.ledger === undefined ? undefined : await options.ledger;
    } catch (err) {
      const why = `proof mcp gateway did not start: ${err instanceof Error ? err.message : String(err)}`;
      return { outputs: scenario.calls.map(() => why) };
    }
    const upstream = await upstreamServer(toolBodies(scenario, executed));
    const gateway = await startGateway({
      policies: [],
      guard: () => judged,
      upstream: { url: upstream.url },
      ...(ledger ? { ledger: gatewayLedger(ledger) } : {}),
      ...(options.exporter ? { exporter: spansWith(options.exporter, options.spanMeta) } : {}),
      log: () => {},
    });
    const client = new Client({ name: "agent", version: "1.0.0" });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
      return { outputs: await callScripted(client, scenario.calls) };
    } finally {
      await client.close();
      await gateway.close();
      await upstream.close();
    }
  },
};
