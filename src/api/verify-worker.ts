/**
 * A worker thread of `proof verify --jobs N` (src/api/pool.ts): compiles the policies it is
 * started with, then reads and judges one trace file per task and sends back its judged cases
 * (or the error that stopped it). On `done` it sends its coverage document and ends.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
// The worker compiles its policies synchronously: the CEL engine is loaded with it (src/expr/cel.ts).
import "../expr/cel-engine.js";
import { jsonLine } from "../io/canonical.js";
import { traceSource } from "../io/trace-files.js";
import { policySetOf } from "../policy/set.js";
import { readTraces } from "../trace/read.js";
import { type JudgedCase, judgedCase, seenKey, shardOf } from "./judged.js";
import { decisionDigest, Judgement } from "./pipeline.js";
import { sendError, type WorkerInit, type WorkerReply, type WorkerTask } from "./pool.js";

const init = workerData as WorkerInit;
if (!parentPort) throw new Error("verify-worker runs as a worker thread");
const port: MessagePort = parentPort;
const { setup } = init;
const judgement = new Judgement(policySetOf(setup.policies), {
  context: setup.context,
  hasContext: setup.hasContext,
  ...(setup.plan ? { plan: setup.plan, planFile: setup.planFile ?? "plan" } : {}),
  failOn: setup.failOn,
  ...(setup.coverage ? { coverage: setup.coverage } : {}),
});

/** Most traces, and characters of decision lines, in one message: a file goes in batches. */
const BATCH_TRACES = 256;
const BATCH_CHARS = 1 << 20;

/** Tasks run one after another: a file's reading awaits, and the next message must wait for it. */
let queue: Promise<void> = Promise.resolve();
port.on("message", (task: WorkerTask) => {
  queue = queue.then(() => handle(task));
});

async function handle(task: WorkerTask): Promise<void> {
  if ("done" in task) {
    const reply: WorkerReply = { coverage: judgement.coverage() };
    port.postMessage(reply);
    port.close();
    return;
  }
  let reply: WorkerReply;
  try {
    const source = traceSource({ path: task.path, rel: task.rel });
    let cases: JudgedCase[] = [];
    let seen: string[] = [];
    let k = -1;
    let size = 0;
    for await (const trace of readTraces(source, init.format)) {
      k++;
      seen.push(seenKey(trace));
      if (init.shard && shardOf(trace.header.case_id, init.shard.count) !== init.shard.index) continue;
      const c = judgedCase(judgement.verify(trace), trace, source.path, task.root, [task.ordinal, k]);
      // Serialised here, in parallel, rather than by the thread that gathers every result.
      c.decisionDigest = decisionDigest(c.result);
      c.lines = c.result.decisions.map((d) => jsonLine(d)).join("");
      // Only the decisions the report keeps travel back (a run's gathering thread needs no
      // other, having their lines and digest); a shard's part keeps every one for the merge.
      if (!init.shard) {
        c.result = {
          ...c.result,
          decisions: c.result.decisions.filter((d) => d.verdict !== "allow" || d.rules.length > 0),
        };
      }
      cases.push(c);
      size += c.lines.length;
      if (cases.length >= BATCH_TRACES || size >= BATCH_CHARS) {
        port.postMessage({ ordinal: task.ordinal, cases, seen, more: true } satisfies WorkerReply);
        cases = [];
        seen = [];
        size = 0;
      }
    }
    reply = { ordinal: task.ordinal, cases, seen, more: false };
  } catch (err) {
    reply = { ordinal: task.ordinal, error: sendError(err) };
  }
  port.postMessage(reply);
}
