/**
 * Every recorded AgentDojo run replayed through the live guard, event by event, with the four
 * example AgentDojo policies (field rules and `from: injected`): each call's live decision is the
 * one `proof verify` gives it on the same session, evidence included (source field, detector span,
 * normalisations).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createGuard } from "../../src/guard/guard.js";
import type { Trace } from "../../src/trace/model.js";
import type { CompiledPolicy } from "../../src/verify/compiled.js";
import type { Decision } from "../../src/verify/decision.js";
import { activate, Engine } from "../../src/verify/engine.js";
import { policy } from "../engine/helpers.js";
import { AGENTDOJO_RUNS, corpusFiles, ROOT, readAll } from "../trace/helpers.js";

const POLICIES: CompiledPolicy[] = ["banking", "slack", "travel", "workspace"].map((suite) => {
  const file = `examples/policies/agentdojo-${suite}.yaml`;
  return policy(readFileSync(join(ROOT, file), "utf8"), file);
});

/** Feeds a recorded trace to a guard as it happened; returns the live decisions and the guard's trace. */
function replay(t: Trace): { decisions: Decision[]; trace: Trace } {
  const guard = createGuard(POLICIES, { case_id: t.header.case_id });
  const decisions: Decision[] = [];
  for (const e of t.events) {
    if (e.type === "message") guard.observe({ type: "message", role: e.role, content: e.content });
    else if (e.type === "tool_call")
      decisions.push(guard.check({ tool: e.tool, args: e.args, call_id: e.call_id }));
    else
      guard.observe({
        type: "tool_result",
        call_id: e.call_id,
        tool: e.tool,
        content: e.content,
        error: e.error,
      });
  }
  return { decisions, trace: guard.trace() };
}

const withoutTraceId = ({ trace_id: _, ...d }: Decision) => d;
/** An event as the session holds it: where it was recorded (`at`) is the recording's own. */
const withoutAt = <T extends { at: string }>({ at: _, ...rest }: T) => rest;

describe("the guard on every recorded AgentDojo run", () => {
  it("decides each call as proof verify does on the same session, with the four example policies", async () => {
    const files = await corpusFiles(AGENTDOJO_RUNS);
    expect(files).toHaveLength(136);
    const engine = new Engine(POLICIES, activate(POLICIES, {}), {});
    const seen = { calls: 0, blocked: 0, fields: 0, injected: 0 };
    for (const f of files) {
      const [recorded] = await readAll(f.source);
      const t = recorded as Trace;
      const { decisions, trace } = replay(t);
      // The guard recorded the session as it was: same events, calls held by the same messages.
      expect(trace.events.map(withoutAt), f.rel).toEqual(t.events.map(withoutAt));
      const verified = engine.verify(trace).decisions;
      expect(decisions.map(withoutTraceId), f.rel).toEqual(verified.map(withoutTraceId));
      // And verdicts and rules match the recording judged as it was read from the file.
      const fromFile = engine.verify(t).decisions;
      expect(
        decisions.map((d) => [d.seq, d.verdict, d.rules]),
        f.rel,
      ).toEqual(fromFile.map((d) => [d.seq, d.verdict, d.rules]));
      for (const d of decisions) {
        seen.calls++;
        if (d.verdict === "block") seen.blocked++;
        for (const e of d.evidence) {
          if (e.kind !== "provenance") continue;
          if (e.source_field) seen.fields++;
          if (e.injection) seen.injected++;
        }
      }
    }
    // The comparison covers what the incremental index must get right, not only allowed calls.
    expect(seen.calls).toBeGreaterThan(300);
    expect(seen.blocked).toBeGreaterThan(10);
    expect(seen.fields).toBeGreaterThan(10);
    expect(seen.injected).toBeGreaterThan(0);
  });
});
