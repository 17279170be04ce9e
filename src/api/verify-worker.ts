/**
 * A worker thread of `proof verify --jobs N` (src/api/pool.ts): compiles the policies it is
 * started with, then reads and judges the trace files of each task, one after another, and
 * sends back their judged cases (or the error that stopped a file), several files to a message.
 * On `done` it sends its coverage document and ends.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
// The worker compiles its policies synchronously: the CEL engine is loaded with it (src/expr/cel.ts).
import "../expr/cel-engine.js";
import {
  BATCH_CHARS,
  BATCH_TRACES,
  type CaseBatch,
  type FilePart,
  judgeFile,
  judgementOf,
  type WorkerInit,
  type WorkerReply,
  type WorkerTask,
} from "./pool.js";
import { sendError } from "./pool-errors.js";

const init = workerData as WorkerInit;
if (!parentPort) throw new Error("verify-worker runs as a worker thread");
const port: MessagePort = parentPort;
const judgement = judgementOf(init.setup);

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
  const outbox = new Outbox();
  for (const file of task.files) {
    try {
      // A batch goes in once the next is judged or the file ends: the last one says so.
      let held: CaseBatch | undefined;
      for await (const batch of judgeFile(judgement, init, file)) {
        if (held) outbox.add({ ordinal: file.ordinal, ...held, more: true });
        held = batch;
      }
      outbox.add({ ordinal: file.ordinal, ...(held as CaseBatch), more: false });
    } catch (err) {
      outbox.add({ ordinal: file.ordinal, error: sendError(err) });
    }
  }
  outbox.flush();
}

/**
 * Parts of files waiting to be sent: one message carries those of several files, up to about
 * BATCH_TRACES traces or BATCH_CHARS characters of decision lines.
 */
class Outbox {
  private parts: FilePart[] = [];
  private traces = 0;
  private chars = 0;

  add(part: FilePart): void {
    this.parts.push(part);
    if ("cases" in part) {
      this.traces += part.cases.length;
      for (const c of part.cases) this.chars += c.lines?.length ?? 0;
    }
    if (this.traces >= BATCH_TRACES || this.chars >= BATCH_CHARS) this.flush();
  }

  flush(): void {
    if (this.parts.length > 0) port.postMessage({ parts: this.parts } satisfies WorkerReply);
    this.parts = [];
    this.traces = 0;
    this.chars = 0;
  }
}
