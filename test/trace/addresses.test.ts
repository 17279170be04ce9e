/**
 * Every event's `at` must lead back to the exact message or tool call it came from, in every real
 * recorded run: reports point users there, so a wrong address sends a reviewer to the wrong line.
 */
import { describe, expect, it } from "vitest";
import type { Trace, TraceEvent } from "../../src/trace/model.js";
import { AGENTDOJO_RUNS, corpusFiles, loadJson, readAll, resolveAt, TAU_BENCH_FILE } from "./helpers.js";

type Obj = Record<string, unknown>;

/** Checks one event against the source node its address names; `dialect` says how calls are spelled. */
function checkEvent(doc: unknown, trace: Trace, e: TraceEvent, dialect: "agentdojo" | "openai"): void {
  const node = resolveAt(doc, e.at) as Obj;
  const where = `${trace.header.case_id} ${e.at}`;
  if (e.type === "message") {
    expect(node.role, where).toBe(e.role);
    expect(node.content ?? "", where).toBe(e.content);
  } else if (e.type === "tool_call") {
    if (dialect === "agentdojo") {
      expect(node.function, where).toBe(e.tool);
      expect(node.args, where).toEqual(e.args);
    } else {
      const fn = node.function as Obj;
      expect(fn.name, where).toBe(e.tool);
      expect(JSON.parse(fn.arguments as string), where).toEqual(e.args);
    }
    // Gemini runs record "" for ids they do not have: no id, like null.
    expect(node.id === "" ? null : node.id, where).toBe(e.call_id);
    // The call's message is the event at the address the call's address extends.
    const message = trace.events[e.message_seq as number];
    expect(e.at.startsWith(`${message?.at}.tool_calls[`), where).toBe(true);
  } else {
    expect(node.role, where).toBe("tool");
    expect(node.tool_call_id === "" ? null : node.tool_call_id, where).toBe(e.call_id);
    expect(node.content ?? "", where).toBe(e.content);
    if (dialect === "agentdojo") {
      expect((node.tool_call as Obj).function, where).toBe(e.tool);
      expect(node.error, where).toBe(e.error);
    } else expect(node.name, where).toBe(e.tool);
  }
}

/** Source messages and calls of a message list, to show no event was dropped or duplicated. */
function counts(messages: Obj[]): { messages: number; calls: number } {
  return {
    messages: messages.length,
    calls: messages.reduce((n, m) => n + (Array.isArray(m.tool_calls) ? m.tool_calls.length : 0), 0),
  };
}

function eventCounts(trace: Trace): { messages: number; calls: number } {
  return {
    messages: trace.events.filter((e) => e.type !== "tool_call").length,
    calls: trace.events.filter((e) => e.type === "tool_call").length,
  };
}

describe("event addresses lead back into the source file", () => {
  it("for all 136 AgentDojo runs", async () => {
    const files = await corpusFiles(AGENTDOJO_RUNS);
    expect(files).toHaveLength(136);
    let events = 0;
    for (const file of files) {
      const doc = loadJson(file.path) as { messages: Obj[]; injections: Obj };
      const traces = await readAll(file.source);
      expect(traces).toHaveLength(1);
      const trace = traces[0] as Trace;
      expect(trace.header.case_id).toBe(file.rel);
      // The only field not imported is an attacked run's planted payloads (docs/traces.md).
      const n = Object.keys(doc.injections).length;
      expect(trace.warnings).toEqual(
        n === 0
          ? []
          : [
              `skipped: injections holds ${n} attack ${n === 1 ? "payload" : "payloads"} as planted in the environment; the agent saw them only in tool results, which are imported`,
            ],
      );
      for (const e of trace.events) checkEvent(doc, trace, e, "agentdojo");
      expect(eventCounts(trace)).toEqual(counts(doc.messages));
      events += trace.events.length;
    }
    // 1,526 messages and 611 tool calls in the corpus (fixtures/corpus/agentdojo/manifest.jsonl).
    expect(events).toBe(1526 + 611);
  });

  it("for all 200 tau-bench runs in one array", async () => {
    const [file] = await corpusFiles(TAU_BENCH_FILE);
    if (!file) throw new Error("corpus file missing");
    const doc = loadJson(file.path) as { traj: Obj[] }[];
    const traces = await readAll(file.source);
    expect(traces).toHaveLength(200);
    for (const [n, trace] of traces.entries()) {
      expect(trace.events.every((e) => e.at.startsWith(`[${n}].traj[`))).toBe(true);
      for (const e of trace.events) checkEvent(doc, trace, e, "openai");
      expect(eventCounts(trace)).toEqual(counts((doc[n] as { traj: Obj[] }).traj));
    }
  });
});
