/**
 * The enforcement points the conformance cases (conformance.test.ts) run against. Adding one means
 * adding an entry here: an {@link AdapterEntry} that drives the scenario through it.
 */
import { aiSdkEntry } from "./entries/ai-sdk.js";
import { langChainEntry } from "./entries/langchain.js";
import { mcpGatewayEntry } from "./entries/mcp-gateway.js";
import { mcpProxyEntry } from "./entries/mcp-proxy.js";
import { openAiAgentsEntry } from "./entries/openai-agents.js";
import type { AdapterEntry } from "./harness.js";

export const ENTRIES: readonly AdapterEntry[] = [
  langChainEntry,
  aiSdkEntry,
  openAiAgentsEntry,
  mcpProxyEntry,
  mcpGatewayEntry,
];
