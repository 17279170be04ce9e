/**
 * One conversation with parallel calls, written as chat completions, Responses items and Anthropic
 * messages, gives the same canonical events (so the same trace id): calls join one assistant
 * message in every format, and tool results never become user messages.
 */
import { describe, expect, it } from "vitest";
import { readDoc } from "./helpers.js";

const CHAT = [
  { role: "user", content: "Weather in Paris and Bogotá?" },
  {
    role: "assistant",
    content: null,
    tool_calls: [
      { id: "c1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
      { id: "c2", type: "function", function: { name: "get_weather", arguments: '{"location":"Bogotá"}' } },
    ],
  },
  { role: "tool", tool_call_id: "c1", content: "15" },
  { role: "tool", tool_call_id: "c2", content: "18" },
  { role: "assistant", content: "15 and 18." },
];

const RESPONSES = [
  { role: "user", content: [{ type: "input_text", text: "Weather in Paris and Bogotá?" }] },
  { type: "function_call", call_id: "r1", name: "get_weather", arguments: '{"location":"Paris"}' },
  { type: "function_call", call_id: "r2", name: "get_weather", arguments: '{"location":"Bogotá"}' },
  { type: "function_call_output", call_id: "r1", output: "15" },
  { type: "function_call_output", call_id: "r2", output: "18" },
  { type: "message", role: "assistant", content: [{ type: "output_text", text: "15 and 18." }] },
];

const ANTHROPIC = [
  { role: "user", content: "Weather in Paris and Bogotá?" },
  {
    role: "assistant",
    content: [
      { type: "tool_use", id: "t1", name: "get_weather", input: { location: "Paris" } },
      { type: "tool_use", id: "t2", name: "get_weather", input: { location: "Bogotá" } },
    ],
  },
  {
    role: "user",
    content: [
      { type: "tool_result", tool_use_id: "t1", content: "15" },
      { type: "tool_result", tool_use_id: "t2", content: [{ type: "text", text: "18" }] },
    ],
  },
  { role: "assistant", content: [{ type: "text", text: "15 and 18." }] },
];

describe("the same conversation in three formats", () => {
  it("gives the same events and trace id", async () => {
    const [chat] = await readDoc("chat.json", CHAT);
    const [responses] = await readDoc("responses.json", RESPONSES);
    const [anthropic] = await readDoc("anthropic.json", ANTHROPIC);
    expect(responses?.header.source.format).toBe("openai-responses");
    expect(anthropic?.header.source.format).toBe("anthropic");
    const strip = (events: unknown[] = []) =>
      events.map((e) => {
        const { at: _at, call_id: _id, ...rest } = e as Record<string, unknown>;
        return rest;
      });
    expect(strip(responses?.events)).toEqual(strip(chat?.events));
    expect(strip(anthropic?.events)).toEqual(strip(chat?.events));
    expect(responses?.header.trace_id).toBe(chat?.header.trace_id);
    expect(anthropic?.header.trace_id).toBe(chat?.header.trace_id);
    expect(anthropic?.events.filter((e) => e.type === "message" && e.role === "user")).toHaveLength(1);
  });
});
