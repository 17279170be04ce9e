import { describe, expect, it } from "vitest";
import { traceId } from "../../src/trace/builder.js";
import type { TraceEvent, TraceHeader } from "../../src/trace/model.js";
import { memorySource, readAll, rejection } from "./helpers.js";

const EVENTS_A: TraceEvent[] = [
  { type: "message", seq: 0, role: "user", content: "Pay the bill in bill.txt", at: "messages[1]" },
  { type: "message", seq: 1, role: "assistant", content: "", at: "messages[2]" },
  {
    type: "tool_call",
    seq: 2,
    message_seq: 1,
    call_id: "c1",
    tool: "read_file",
    args: { file_path: "bill.txt" },
    at: "messages[2].tool_calls[0]",
  },
  {
    type: "tool_result",
    seq: 3,
    call_id: "c1",
    tool: "read_file",
    content: "IBAN GB29NWBK60161331926819",
    error: null,
    at: "messages[3]",
  },
];

const EVENTS_B: TraceEvent[] = [
  {
    type: "tool_call",
    seq: 0,
    message_seq: null,
    call_id: "7",
    tool: "get_balance",
    args: {},
    at: "lines[0]",
  },
  { type: "tool_result", seq: 1, call_id: "7", tool: null, content: "", error: "denied", at: "lines[1]" },
];

function header(caseId: string, events: TraceEvent[], meta: Record<string, string> = {}): TraceHeader {
  return {
    type: "trace",
    trace_id: traceId(events),
    case_id: caseId,
    source: { format: "agentdojo", file: `runs/${caseId}` },
    meta,
  };
}

function jsonl(lines: unknown[]): string {
  return `${lines.map((l) => (l === "" ? "" : JSON.stringify(l))).join("\n")}\n`;
}

describe("canonical proof JSON Lines", () => {
  it("reads several traces from one file, each with its own header, case id and events", async () => {
    const text = jsonl([
      header("a.json", EVENTS_A),
      ...EVENTS_A,
      "",
      header("b.json", EVENTS_B),
      ...EVENTS_B,
    ]);
    const traces = await readAll(memorySource("all.jsonl", text));
    expect(traces).toHaveLength(2);
    expect(traces[0]?.header).toEqual(header("a.json", EVENTS_A));
    expect(traces[0]?.events).toEqual(EVENTS_A);
    expect(traces[1]?.header).toEqual(header("b.json", EVENTS_B));
    expect(traces[1]?.events).toEqual(EVENTS_B);
    expect(traces[0]?.header.trace_id).not.toBe(traces[1]?.header.trace_id);
  });

  it("recomputes the trace id from the events instead of trusting the header", async () => {
    const forged = { ...header("a.json", EVENTS_A), trace_id: `sha256:${"0".repeat(64)}` };
    const [trace] = await readAll(memorySource("a.jsonl", jsonl([forged, ...EVENTS_A])));
    expect(trace?.header.trace_id).toBe(traceId(EVENTS_A));
  });

  it("is read with --format proof too, and keeps the header's case id", async () => {
    const [trace] = await readAll(
      memorySource("x/y.jsonl", jsonl([header("kept/case.json", EVENTS_B), ...EVENTS_B]), "y.jsonl"),
      "proof",
    );
    expect(trace?.header.case_id).toBe("kept/case.json");
  });

  it.each([
    [
      "a seq out of order",
      [header("a", EVENTS_A), EVENTS_A[0], EVENTS_A[2]],
      3,
      /seq 2 out of order, expected 1/,
    ],
    ["an event before the header", [EVENTS_A[0]], 1, /event before the trace header line/],
    [
      "a call whose message_seq is not a message",
      [header("b", EVENTS_B), EVENTS_B[0], { ...EVENTS_A[2], seq: 1, message_seq: 0 }],
      3,
      /message_seq 0 is not an earlier message/,
    ],
    [
      "an unknown field",
      [header("a", EVENTS_A), { ...EVENTS_A[0], extra: 1 }],
      2,
      /not a proof.trace\/v1 line/,
    ],
  ])("refuses %s, naming the line", async (_what, lines, line, message) => {
    const err = await rejection(readAll(memorySource("bad.jsonl", jsonl(lines)), "proof"));
    expect(err).toMatchObject({
      code: "trace.invalid_event",
      location: { file: "bad.jsonl", line, column: 1 },
    });
    expect(err.message).toMatch(message);
  });

  it("reports invalid JSON on a later line with that line and the column in it", async () => {
    const text = `${JSON.stringify(header("a", EVENTS_A))}\n${JSON.stringify(EVENTS_A[0])}\n{"type": "message", "seq": 1,,}\n`;
    const err = await rejection(readAll(memorySource("bad.jsonl", text)));
    expect(err).toMatchObject({
      code: "trace.invalid_json",
      location: { file: "bad.jsonl", line: 3, column: 30 },
    });
  });

  it("names no format for a first line that is an event under auto detection", async () => {
    const err = await rejection(readAll(memorySource("e.jsonl", jsonl([EVENTS_A[0]]))));
    expect(err).toMatchObject({ code: "trace.unknown_format", location: { file: "e.jsonl", line: 1 } });
  });

  it("refuses a canonical trace in a .json file: the format is JSON Lines", async () => {
    const err = await rejection(readAll(memorySource("a.json", JSON.stringify(header("a", EVENTS_A)))));
    expect(err).toMatchObject({ code: "trace.wrong_format", location: { file: "a.json" } });
  });

  it("refuses an empty file", async () => {
    for (const name of ["e.json", "e.jsonl"]) {
      const err = await rejection(readAll(memorySource(name, "\n  \n")));
      expect(err).toMatchObject({ code: "trace.empty", location: { file: name } });
    }
  });
});
