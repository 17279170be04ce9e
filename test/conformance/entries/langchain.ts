/**
 * The LangChain entry: a scripted chat model (a real `BaseChatModel`, so callbacks fire as for any
 * provider) in a tool-calling loop, guarded tools invoked with the model's `ToolCall`s, and the
 * guard's callback handler on both.
 */
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import {
  AIMessage,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
  type ToolMessage,
} from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { tool } from "@langchain/core/tools";
import {
  guardLangChainTools,
  type LangChainToolLike,
  ProofCallbackHandler,
} from "../../../src/adapters/langchain.js";
import { type AdapterEntry, type Scenario, TOOL_SPECS, toolBodies } from "../harness.js";

/** Answers each turn with the next scripted tool call, then with "done". */
class ScriptedChatModel extends BaseChatModel {
  private turn = 0;
  constructor(private readonly scenario: Scenario) {
    super({});
  }

  _llmType(): string {
    return "scripted";
  }

  async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
    const call = this.scenario.calls[this.turn];
    const id = `call_${this.turn}`;
    this.turn++;
    const message = call
      ? new AIMessage({
          content: "",
          tool_calls: [{ id, name: call.tool, args: call.args, type: "tool_call" }],
        })
      : new AIMessage("done");
    return { generations: [{ message, text: typeof message.content === "string" ? message.content : "" }] };
  }
}

export const langChainEntry: AdapterEntry = {
  name: "langchain",
  approval: "callback",
  ledgerAppendFailure: "call",
  observesUser: true,
  spans: true,
  async drive({ scenario, guard, options, executed }) {
    const bodies = toolBodies(scenario, executed);
    const tools = guardLangChainTools(
      [
        tool((input) => bodies.read_mail(input), {
          name: "read_mail",
          description: TOOL_SPECS.read_mail.description,
          schema: TOOL_SPECS.read_mail.input,
        }),
        tool((input) => bodies.send_money(input), {
          name: "send_money",
          description: TOOL_SPECS.send_money.description,
          schema: TOOL_SPECS.send_money.input,
        }),
      ],
      guard,
      options,
    );
    const byName = new Map<string, LangChainToolLike>(tools.map((t) => [t.name, t]));
    const callbacks = [new ProofCallbackHandler(guard)];
    const model = new ScriptedChatModel(scenario);
    const messages: BaseMessage[] = [
      new SystemMessage("You are a banking assistant."),
      new HumanMessage(scenario.user),
    ];
    const outputs: string[] = [];
    for (let turn = 0; turn <= scenario.calls.length; turn++) {
      const answer = await model.invoke(messages, { callbacks });
      messages.push(answer);
      if (!answer.tool_calls?.length) break;
      for (const call of answer.tool_calls) {
        const t = byName.get(call.name);
        if (!t) throw new Error(`no tool ${call.name}`);
        const result = (await t.invoke(call, { callbacks })) as ToolMessage;
        messages.push(result);
        outputs.push(typeof result.content === "string" ? result.content : JSON.stringify(result.content));
      }
    }
    return { outputs };
  },
};
