/** The Vercel AI SDK entry: `generateText` with a scripted `MockLanguageModelV2` and guarded tools. */
import { generateText, stepCountIs, tool } from "ai";
import { MockLanguageModelV2 } from "ai/test";
import { guardAiSdkTools } from "../../../src/adapters/ai-sdk.js";
import { type AdapterEntry, TOOL_SPECS, toolBodies } from "../harness.js";

const USAGE = { inputTokens: 1, outputTokens: 1, totalTokens: 2 };

export const aiSdkEntry: AdapterEntry = {
  name: "ai-sdk",
  approval: "callback",
  ledgerAppendFailure: "call",
  observesUser: true,
  spans: true,
  async drive({ scenario, guard, options, executed }) {
    const bodies = toolBodies(scenario, executed);
    const tools = guardAiSdkTools(
      {
        read_mail: tool({
          description: TOOL_SPECS.read_mail.description,
          inputSchema: TOOL_SPECS.read_mail.input,
          execute: (input) => bodies.read_mail(input),
        }),
        send_money: tool({
          description: TOOL_SPECS.send_money.description,
          inputSchema: TOOL_SPECS.send_money.input,
          execute: (input) => bodies.send_money(input),
        }),
      },
      guard,
      options,
    );
    let step = 0;
    const model = new MockLanguageModelV2({
      doGenerate: async () => {
        const call = scenario.calls[step];
        const id = `call_${step}`;
        step++;
        if (!call)
          return {
            content: [{ type: "text", text: "done" }],
            finishReason: "stop",
            usage: USAGE,
            warnings: [],
          };
        return {
          content: [
            { type: "tool-call", toolCallId: id, toolName: call.tool, input: JSON.stringify(call.args) },
          ],
          finishReason: "tool-calls",
          usage: USAGE,
          warnings: [],
        };
      },
    });
    const result = await generateText({
      model,
      tools,
      system: "You are a banking assistant.",
      prompt: scenario.user,
      stopWhen: stepCountIs(scenario.calls.length + 1),
    });
    const outputs: string[] = [];
    for (const s of result.steps) {
      for (const part of s.content) {
        if (part.type === "tool-result") outputs.push(String(part.output));
        else if (part.type === "tool-error")
          outputs.push(part.error instanceof Error ? part.error.message : String(part.error));
      }
    }
    return { outputs };
  },
};
