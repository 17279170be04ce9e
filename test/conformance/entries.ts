/**
 * The enforcement points the conformance cases (conformance.test.ts) run against. Adding one means
 * adding an entry here: an {@link AdapterEntry} that drives the scenario through it.
 */
import { aiSdkEntry } from "./entries/ai-sdk.js";
import { langChainEntry } from "./entries/langchain.js";
import { mcpProxyEntry } from "./entries/mcp-proxy.js";
import { openAiAgentsEntry } from "./entries/openai-agents.js";
import type { AdapterEntry } from "./harness.js";

export const ENTRIES: readonly AdapterEntry[] = [
  langChainEntry,
  aiSdkEntry,
  openAiAgentsEntry,
  mcpProxyEntry,
  // MCP Streamable HTTP gateway (`proof mcp gateway`, src/mcp/gateway.ts): its entry goes here,
  // in test/conformance/entries/mcp-gateway.ts, driving `startGateway(options)` with the SDK's
  // Streamable HTTP client.
];
