import type { JsonValue } from "../../policy/ir.js";
import { TraceBuilder } from "../builder.js";
import type { Trace } from "../model.js";
import { accept, asJson, type Detection, isObject, reject, shapeOf, type TraceFormat } from "./common.js";
import { importChatMessages } from "./openai.js";

function isRun(v: unknown): v is Record<string, unknown> {
  return isObject(v) && Array.isArray(v.traj) && ("task_id" in v || "reward" in v);
}

/** A run `{traj, task_id|reward}`, or a non-empty array of them. */
function inspectTauBench(doc: unknown): Detection {
  if (isRun(doc)) return accept("one run object with traj and task_id or reward");
  if (!Array.isArray(doc)) return reject(`the document is ${shapeOf(doc)} without traj`);
  if (doc.length === 0) return reject("an empty array");
  const bad = doc.findIndex((r) => !isRun(r));
  return bad < 0
    ? accept(`an array of ${doc.length} runs with traj and task_id or reward`)
    : reject(`[${bad}] is not a run object with traj and task_id or reward`);
}

/**
 * tau-bench trajectories. Source: sierra-research/tau-bench, `historical_trajectories/*.json` and
 * `tau_bench/types.py` (EnvRunResult): a JSON array of `{task_id, trial, reward, info, traj}` (or
 * one such object), where `traj` is a chat-completions message list. One trace per run; the
 * case id is the file's with `#N` for the N-th run (0-based, its array index).
 */
export const tauBench: TraceFormat = {
  name: "tau-bench",
  detect: (doc) => inspectTauBench(doc).ok,
  inspect: inspectTauBench,
  import(doc, ctx): Trace[] {
    const runs = Array.isArray(doc) ? doc : [doc];
    return runs.map((run, n) => {
      const r = run as Record<string, unknown>;
      const prefix = Array.isArray(doc) ? `${ctx.prefix}[${n}]` : ctx.prefix;
      const builder = new TraceBuilder();
      importChatMessages(r.traj as unknown[], `${prefix}${prefix ? "." : ""}traj`, builder);
      const meta: Record<string, JsonValue> = {};
      for (const k of ["task_id", "trial", "reward"]) if (r[k] !== undefined) meta[k] = asJson(r[k]);
      const caseId = Array.isArray(doc) ? `${ctx.caseId}#${n}` : ctx.caseId;
      return builder.build(caseId, "tau-bench", ctx.file, meta);
    });
  },
};
