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

/** Run keys kept in the header's meta: identifiers and the score, never content. */
const META_KEYS = ["task_id", "trial", "reward"] as const;

/**
 * The fields of a run's `info`, for its warning: the task given to the simulated user and the
 * grading (tau-bench `Task`: `instruction`, ground-truth `actions`, expected `outputs`; and
 * `reward_info`), none of which the agent saw. Lists are given with their length.
 */
function infoSummary(info: unknown): string {
  if (!isObject(info)) return shapeOf(info);
  const fields = (o: Record<string, unknown>, path: string): string[] =>
    Object.entries(o).flatMap(([k, v]) =>
      k === "task" && isObject(v) && path === ""
        ? fields(v, "task.")
        : [Array.isArray(v) ? `${path}${k}: ${v.length}` : `${path}${k}`],
    );
  return fields(info, "").join(", ");
}

/**
 * tau-bench trajectories. Source: sierra-research/tau-bench, `historical_trajectories/*.json` and
 * `tau_bench/types.py` (EnvRunResult, Task, RewardResult): a JSON array of `{task_id, trial,
 * reward, info, traj}` (or one such object), where `traj` is a chat-completions message list. One
 * trace per run; the case id is the file's with `#N` for the N-th run (0-based, its array index).
 *
 * Nothing silent (docs/traces.md): `traj` is the conversation; `task_id`, `trial` and `reward`
 * go to the header's meta; `info` (the task given to the simulated user and its grading, with
 * the ground-truth actions) is metadata the agent never saw, named in one `skipped:` warning per
 * run; any other key is named in its own warning.
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
      const dot = `${prefix}${prefix ? "." : ""}`;
      // An empty info (`{}`) holds nothing to skip.
      if (r.info !== undefined && r.info !== null && !(isObject(r.info) && Object.keys(r.info).length === 0))
        builder.warnings.push(
          `skipped: ${dot}info is the benchmark's task and grading, not the conversation (${infoSummary(r.info)})`,
        );
      for (const k of Object.keys(r))
        if (k !== "traj" && k !== "info" && !(META_KEYS as readonly string[]).includes(k) && r[k] !== null)
          builder.warnings.push(`skipped: ${dot}${k} is not a tau-bench run field proof reads`);
      importChatMessages(r.traj as unknown[], `${dot}traj`, builder);
      const meta: Record<string, JsonValue> = {};
      for (const k of META_KEYS) if (r[k] !== undefined) meta[k] = asJson(r[k]);
      const caseId = Array.isArray(doc) ? `${ctx.caseId}#${n}` : ctx.caseId;
      return builder.build(caseId, "tau-bench", ctx.file, meta);
    });
  },
};
