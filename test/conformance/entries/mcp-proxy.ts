/**
 * The stdio MCP proxy entry: the MCP SDK's client and server, with the proxy's core (`McpProxy`)
 * between them on JSON lines, all in process. The wiring mirrors `proof mcp proxy`
 * (src/cli/commands/mcp.ts): a policy that cannot be loaded gives the proxy a fault instead of a
 * guard, the ledger is opened before the session starts, each decision and each observed result is
 * appended to it, and the proxy forwards an allowed call only once its record is kept (a failed
 * append refuses that call and every later one); each decision is exported as a span, as
 * `--otel-out` does. The proxy has no approval channel: require_approval refuses.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { LedgerSink } from "../../../src/adapters/core.js";
import { type Guard, type TimedGuard, timedGuard } from "../../../src/guard/guard.js";
import { LedgerSession, observingGuard } from "../../../src/ledger/session.js";
import { McpProxy } from "../../../src/mcp/proxy.js";
import { type AdapterEntry, TOOL_SPECS, toolBodies } from "../harness.js";
import { callScripted } from "./mcp-client.js";

/** One end of an in-process JSON-RPC link: what it sends goes to `out` as one line. */
class LineTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  constructor(private readonly out: (line: string) => void) {}
  async start(): Promise<void> {}
  async send(message: JSONRPCMessage): Promise<void> {
    this.out(JSON.stringify(message));
  }
  async close(): Promise<void> {
    this.onclose?.();
  }
  /** A line for this end, delivered on the next tick as a stream would. */
  deliver(line: string): void {
    setImmediate(() => this.onmessage?.(JSON.parse(line) as JSONRPCMessage));
  }
}

export const mcpProxyEntry: AdapterEntry = {
  name: "mcp-proxy",
  approval: "refuses",
  ledgerAppendFailure: "call",
  observesUser: false,
  spans: true,
  async drive({ scenario, guard, options, executed }) {
    let judged: Guard | { fault: string };
    let timed: TimedGuard | undefined;
    try {
      // As the command: the guard's checks are timed, for the spans' latency.
      timed = timedGuard(await guard);
      judged = timed;
    } catch (err) {
      judged = { fault: `the policy cannot be loaded: ${err instanceof Error ? err.message : String(err)}` };
    }
    // As the command: a ledger that cannot be opened stops the proxy before the server starts.
    let ledger: LedgerSink | undefined;
    try {
      ledger = options.ledger === undefined ? undefined : await options.ledger;
    } catch (err) {
      const why = `proof mcp proxy did not start: ${err instanceof Error ? err.message : String(err)}`;
      return { outputs: scenario.calls.map(() => why) };
    }

    const bodies = toolBodies(scenario, executed);
    const server = new McpServer({ name: "bank", version: "1.0.0" });
    server.registerTool(
      "read_mail",
      { description: TOOL_SPECS.read_mail.description, inputSchema: {} },
      async (args) => ({ content: [{ type: "text", text: await bodies.read_mail(args) }] }),
    );
    server.registerTool(
      "send_money",
      {
        description: TOOL_SPECS.send_money.description,
        inputSchema: TOOL_SPECS.send_money.input.shape,
      },
      async (args) => ({ content: [{ type: "text", text: await bodies.send_money(args) }] }),
    );

    const session = new LedgerSession();
    if (ledger && !("fault" in judged)) {
      const sink = ledger;
      judged = observingGuard(judged, session, (o) => {
        sink.observe?.(o).catch((err: unknown) => {
          proxy?.failClosed(`the ledger append failed: ${err instanceof Error ? err.message : String(err)}`);
        });
      });
    }
    let proxy: McpProxy | undefined;
    const clientEnd = new LineTransport((line) => proxy?.fromClient(line));
    const serverEnd = new LineTransport((line) => proxy?.fromServer(line));
    proxy = new McpProxy(judged, {
      toClient: (line) => clientEnd.deliver(line),
      toServer: (line) => serverEnd.deliver(line),
      // As the command: the proxy waits for the record of an allowed call before forwarding it.
      decided: (decision, _forwarded, call) => {
        // As the command's --otel-out: one span per decision, then the ledger record.
        options.exporter?.export(decision, {
          run_id: session.id,
          latency_ms: timed?.lastCheckMs() ?? 0,
          ...options.spanMeta,
        });
        return ledger?.append(session.decision(decision, call));
      },
      warn: () => {},
    });
    await server.connect(serverEnd);
    const client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(clientEnd);
    try {
      return { outputs: await callScripted(client, scenario.calls) };
    } finally {
      await client.close();
      await server.close();
    }
  },
};
