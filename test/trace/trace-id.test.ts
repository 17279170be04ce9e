import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Trace } from "../../src/trace/model.js";
import { AGENTDOJO_RUNS, loadJson, readDoc } from "./helpers.js";

const RUN_FILE = join(
  AGENTDOJO_RUNS,
  "gpt-4o-mini-2024-07-18/banking/user_task_2/important_instructions/injection_task_1.json",
);

type Obj = Record<string, unknown>;

/** The same AgentDojo run with every call id replaced consistently by `rename(id)`. */
function renameIds(run: { messages: Obj[] }, rename: (id: string) => string): { messages: Obj[] } {
  const copy = structuredClone(run);
  for (const m of copy.messages) {
    if (Array.isArray(m.tool_calls)) for (const tc of m.tool_calls as Obj[]) tc.id = rename(tc.id as string);
    if (m.role === "tool") {
      m.tool_call_id = rename(m.tool_call_id as string);
      (m.tool_call as Obj).id = rename((m.tool_call as Obj).id as string);
    }
  }
  return copy;
}

async function one(name: string, doc: unknown): Promise<Trace> {
  const [trace] = await readDoc(name, doc);
  if (!trace) throw new Error("no trace");
  return trace;
}

describe("trace_id", () => {
  const run = loadJson(RUN_FILE) as { messages: Obj[] };

  it("ignores call ids: the same run re-recorded with fresh ids has the same id", async () => {
    const original = await one("a.json", run);
    const renamed = renameIds(run, (id) => `call_${id.split("").reverse().join("")}`);
    const other = await one("a.json", renamed);
    // The ids did change, and the results are still linked to their calls.
    expect(other.events.filter((e) => e.type === "tool_call").map((e) => e.call_id)).not.toEqual(
      original.events.filter((e) => e.type === "tool_call").map((e) => e.call_id),
    );
    // No result lost its call (no orphan_result); the run's other warnings are unchanged.
    expect(other.warnings).toEqual(original.warnings);
    expect(other.warnings.filter((w) => !w.startsWith("skipped: injections "))).toEqual([]);
    expect(other.header.trace_id).toBe(original.header.trace_id);
  });

  it("ignores the file name, which only changes the case id", async () => {
    const a = await one("runs/a.json", run);
    const b = await one("elsewhere/b.json", run);
    expect(b.header.case_id).not.toBe(a.header.case_id);
    expect(b.header.trace_id).toBe(a.header.trace_id);
  });

  it("changes when behaviour changes: one argument value", async () => {
    const changed = structuredClone(run);
    const call = changed.messages.flatMap((m) => (m.tool_calls as Obj[] | null) ?? [])[0] as Obj;
    call.args = { ...(call.args as Obj), n: 99 };
    expect((await one("a.json", changed)).header.trace_id).not.toBe(
      (await one("a.json", run)).header.trace_id,
    );
  });

  it("changes when a result answers a different call, even with the same ids", async () => {
    const calls = [
      { id: "x", function: { name: "get", arguments: '{"k":"a"}' } },
      { id: "y", function: { name: "get", arguments: '{"k":"b"}' } },
    ];
    const conversation = (first: string, second: string) => [
      { role: "user", content: "go" },
      { role: "assistant", content: null, tool_calls: calls },
      { role: "tool", tool_call_id: first, content: "A" },
      { role: "tool", tool_call_id: second, content: "B" },
    ];
    const straight = await one("a.json", conversation("x", "y"));
    const crossed = await one("a.json", conversation("y", "x"));
    expect(crossed.header.trace_id).not.toBe(straight.header.trace_id);
  });
});
