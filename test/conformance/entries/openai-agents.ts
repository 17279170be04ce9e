/** The OpenAI Agents SDK entry: a `Runner` whose model is scripted, with guarded function tools. */
import {
  Agent,
  type AgentOutputItem,
  type Model,
  type ModelRequest,
  type ModelResponse,
  Runner,
  tool,
  Usage,
} from "@openai/agents";
import { guardAgentsTool } from "../../../src/adapters/openai-agents.js";
import { type AdapterEntry, type Scenario, TOOL_SPECS, toolBodies } from "../harness.js";

/** A model that answers each turn with the next scripted function call, then with "done". */
class ScriptedModel implements Model {
  private turn = 0;
  constructor(private readonly scenario: Scenario) {}

  async getResponse(_request: ModelRequest): Promise<ModelResponse> {
    const call = this.scenario.calls[this.turn];
    const id = `call_${this.turn}`;
    this.turn++;
    const output: AgentOutputItem[] = call
      ? [
          {
            type: "function_call",
            callId: id,
            name: call.tool,
            arguments: JSON.stringify(call.args),
            status: "completed",
          },
        ]
      : [
          {
            type: "message",
            role: "assistant",
            status: "completed",
            content: [{ type: "output_text", text: "done" }],
          },
        ];
    return { usage: new Usage(), output };
  }

  // biome-ignore lint/correctness/useYield: the harness never streams.
  async *getStreamedResponse(): AsyncIterable<never> {
    throw new Error("not used");
  }
}

export const openAiAgentsEntry: AdapterEntry = {
  name: "openai-agents",
  approval: "callback",
  ledgerAppendFailure: "call",
  observesUser: false,
  spans: true,
  async drive({ scenario, guard, options, executed }) {
    const bodies = toolBodies(scenario, executed);
    const tools = [
      tool({
        name: "read_mail",
        description: TOOL_SPECS.read_mail.description,
        parameters: TOOL_SPECS.read_mail.input,
        strict: true,
        execute: (input) => bodies.read_mail(input),
      }),
      tool({
        name: "send_money",
        description: TOOL_SPECS.send_money.description,
        parameters: TOOL_SPECS.send_money.input,
        strict: true,
        execute: (input) => bodies.send_money(input),
      }),
    ].map((t) => guardAgentsTool(t, guard, options));
    const agent = new Agent({
      name: "banking",
      instructions: "You are a banking assistant.",
      model: new ScriptedModel(scenario),
      tools,
    });
    const runner = new Runner({ tracingDisabled: true });
    const result = await runner.run(agent, scenario.user, { maxTurns: scenario.calls.length + 2 });
    const outputs = result.newItems
      .filter((i) => i.type === "tool_call_output_item")
      .map((i) => {
        const out = (i as { output: unknown }).output;
        return typeof out === "string" ? out : JSON.stringify(out);
      });
    return { outputs };
  },
};
