#!/usr/bin/env node
// Plays an agent for the cookbooks (docs/cookbooks/observability.md): opens one MCP session with
// the MCP TypeScript SDK's client over Streamable HTTP, makes the tool calls given on the command
// line in order, prints one line per call, and ends the session (HTTP DELETE), which makes
// `proof mcp gateway --record` write the session's trace.
//
//   node mcp-agent.mjs URL TOOL JSON_ARGS [TOOL JSON_ARGS...]
//
// Each line: `TOOL: allowed: TEXT` (the first line of the result's text) or
// `TOOL: refused (CODE): MESSAGE` (the JSON-RPC error, such as -31001 for a policy refusal).
// Exits 1 when the session cannot be opened or an argument is not JSON.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, ...rest] = process.argv.slice(2);
if (!url || rest.length === 0 || rest.length % 2 !== 0) {
  process.stderr.write("usage: mcp-agent.mjs URL TOOL JSON_ARGS [TOOL JSON_ARGS...]\n");
  process.exit(1);
}
const calls = [];
for (let i = 0; i < rest.length; i += 2) {
  try {
    calls.push({ name: rest[i], args: JSON.parse(rest[i + 1]) });
  } catch (err) {
    process.stderr.write(`mcp-agent: arguments of ${rest[i]} are not JSON: ${err.message}\n`);
    process.exit(1);
  }
}
const client = new Client({ name: "cookbook-agent", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url));
try {
  await client.connect(transport);
} catch (err) {
  process.stderr.write(`mcp-agent: cannot open a session at ${url}: ${err.message}\n`);
  process.exit(1);
}
for (const { name, args } of calls) {
  try {
    const result = await client.callTool({ name, arguments: args });
    const text = (result.content ?? []).find((c) => c.type === "text")?.text ?? "";
    console.log(`${name}: allowed: ${text.split("\n")[0]}`);
  } catch (err) {
    console.log(`${name}: refused (${err.code}): ${err.message.replace(/^MCP error -?\d+: /, "")}`);
  }
}
await transport.terminateSession();
await client.close();
