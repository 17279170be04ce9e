/**
 * The agent side of both MCP entries (the stdio proxy and the gateway): the MCP SDK's client
 * calls a scenario's tools one by one, as a model's tool calls would be made.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { ScriptedCall } from "../harness.js";

/**
 * Calls each tool through `client` in order and returns what the agent saw of each: the text of
 * the result's content, or the message of the error the call ended in (a refused call).
 */
export async function callScripted(client: Client, calls: readonly ScriptedCall[]): Promise<string[]> {
  const outputs: string[] = [];
  for (const call of calls) {
    try {
      const result = await client.callTool({ name: call.tool, arguments: call.args });
      const content = result.content as { type: string; text?: string }[];
      outputs.push(content.map((c) => c.text ?? "").join("\n"));
    } catch (err) {
      outputs.push(err instanceof Error ? err.message : String(err));
    }
  }
  return outputs;
}
