/**
 * A worker thread of `proof verify --jobs N` (src/api/pool.ts): compiles the policies it is
 * started with, then reads and judges one trace file per task and sends back its judged cases
 * (or the error that stopped it). On `done` it sends its coverage document and ends.
 */
import { parentPort, workerData } from "node:worker_threads";
import { traceSource } from "../io/trace-files.js";
import { policySetOf } from "../policy/set.js";
import { readTraces } from "../trace/read.js";
import { type JudgedCase, judgedCase, shardOf } from "./judged.js";
import { Judgement } from "./pipeline.js";
import { sendError, type WorkerInit, type WorkerReply, type WorkerTask } from "./pool.js";

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error("verify-worker runs as a worker thread");
const { setup } = init;
const judgement = new Judgement(policySetOf(setup.policies), {
  context: setup.context,
  hasContext: setup.hasContext,
  ...(setup.plan ? { plan: setup.plan, planFile: setup.planFile ?? "plan" } : {}),
  failOn: setup.failOn,
  ...(setup.coverage ? { coverage: setup.coverage } : {}),
});

port.on("message", async (task: WorkerTask) => {
  if ("done" in task) {
    const reply: WorkerReply = { coverage: judgement.coverage() };
    port.postMessage(reply);
    port.close();
    return;
  }
  let reply: WorkerReply;
  try {
    const source = traceSource({ path: task.path, rel: task.rel });
    const cases: JudgedCase[] = [];
    let n = 0;
    for await (const trace of readTraces(source, init.format)) {
      const k = n++;
      if (init.shard && shardOf(trace.header.case_id, init.shard.count) !== init.shard.index) continue;
      cases.push(judgedCase(judgement.verify(trace), trace, source.path, task.root, [task.ordinal, k]));
    }
    reply = { ordinal: task.ordinal, cases, read: n };
  } catch (err) {
    reply = { ordinal: task.ordinal, error: sendError(err) };
  }
  port.postMessage(reply);
});
