import { describe, expect, it } from "vitest";
import { corpusFiles, readAll, readDoc, TAU_BENCH_FILE } from "./helpers.js";

function run(taskId: number, trial: number, city: string) {
  return {
    task_id: taskId,
    reward: 1.0,
    info: { task: { user_id: "mia_li_3668" } },
    traj: [
      { role: "system", content: "Airline policy." },
      { role: "user", content: `Fly me to ${city}.` },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: `call_${taskId}`,
            type: "function",
            function: { name: "search_direct_flight", arguments: `{"destination":"${city}"}` },
          },
        ],
      },
      { role: "tool", tool_call_id: `call_${taskId}`, name: "search_direct_flight", content: "[]" },
      { role: "assistant", content: "No flights." },
    ],
    trial,
  };
}

describe("tau-bench importer", () => {
  it("reads an array of runs as one trace per run, case ids #N, addresses under [N].traj", async () => {
    const traces = await readDoc("traj/airline.json", [run(7, 0, "SEA"), run(8, 3, "JFK")]);
    expect(traces.map((t) => t.header.case_id)).toEqual(["traj/airline.json#0", "traj/airline.json#1"]);
    expect(traces.map((t) => t.header.meta)).toEqual([
      { task_id: 7, trial: 0, reward: 1 },
      { task_id: 8, trial: 3, reward: 1 },
    ]);
    expect(traces[1]?.events).toEqual([
      { type: "message", seq: 0, role: "system", content: "Airline policy.", at: "[1].traj[0]" },
      { type: "message", seq: 1, role: "user", content: "Fly me to JFK.", at: "[1].traj[1]" },
      { type: "message", seq: 2, role: "assistant", content: "", at: "[1].traj[2]" },
      {
        type: "tool_call",
        seq: 3,
        message_seq: 2,
        call_id: "call_8",
        tool: "search_direct_flight",
        args: { destination: "JFK" },
        at: "[1].traj[2].tool_calls[0]",
      },
      {
        type: "tool_result",
        seq: 4,
        call_id: "call_8",
        tool: "search_direct_flight",
        content: "[]",
        error: null,
        at: "[1].traj[3]",
      },
      { type: "message", seq: 5, role: "assistant", content: "No flights.", at: "[1].traj[4]" },
    ]);
    expect(traces[0]?.header.source).toEqual({ format: "tau-bench", file: "traj/airline.json" });
    expect(traces[0]?.header.trace_id).not.toBe(traces[1]?.header.trace_id);
  });

  it("names info and any unknown run key in one skipped warning each, per run", async () => {
    const traces = await readDoc("traj/airline.json", [
      { ...run(7, 0, "SEA"), judge: "gpt-4" },
      run(8, 3, "JFK"),
    ]);
    expect(traces.map((t) => t.warnings)).toEqual([
      [
        "skipped: [0].info is the benchmark's task and grading, not the conversation (task.user_id)",
        "skipped: [0].judge is not a tau-bench run field proof reads",
      ],
      ["skipped: [1].info is the benchmark's task and grading, not the conversation (task.user_id)"],
    ]);
    const [one] = await readDoc("one.json", { traj: [], reward: 0, info: { task: { actions: [1, 2] } } });
    expect(one?.warnings).toEqual([
      "skipped: info is the benchmark's task and grading, not the conversation (task.actions: 2)",
    ]);
  });

  it("reads a single run object as one trace without #N", async () => {
    const traces = await readDoc("one.json", run(1, 0, "LAX"));
    expect(traces.map((t) => t.header.case_id)).toEqual(["one.json"]);
    expect(traces[0]?.events[3]?.at).toBe("traj[2].tool_calls[0]");
  });

  it("reads the 200 recorded gpt-4o runs with case ids gpt-4o-airline.json#0..#199", async () => {
    const [file] = await corpusFiles(TAU_BENCH_FILE);
    if (!file) throw new Error("corpus file missing");
    const traces = await readAll(file.source);
    expect(traces).toHaveLength(200);
    expect(traces.map((t) => t.header.case_id)).toEqual(
      Array.from({ length: 200 }, (_, n) => `gpt-4o-airline.json#${n}`),
    );
    expect(traces.every((t) => t.header.source.format === "tau-bench")).toBe(true);
    // One warning per run names its info (task and grading), the only field not imported.
    expect(traces.map((t) => t.warnings.length)).toEqual(Array(200).fill(1));
    expect(traces[0]?.warnings).toEqual([
      "skipped: [0].info is the benchmark's task and grading, not the conversation (task.user_id, task.actions: 1, task.instruction, task.outputs: 0, source, user_cost, reward_info)",
    ]);
    // 1164 tool calls in the file, each answered by a tool message naming the same tool.
    const calls = traces.flatMap((t) => t.events.filter((e) => e.type === "tool_call"));
    const results = traces.flatMap((t) => t.events.filter((e) => e.type === "tool_result"));
    expect(calls).toHaveLength(1164);
    expect(results).toHaveLength(1164);
    expect(results.every((r) => r.tool !== null && r.call_id !== null)).toBe(true);
  });
});
