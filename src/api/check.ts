/**
 * `proof check` as a library function: one tool call, after an optional prior trace, decided by
 * the engine of `proof verify` (src/verify/check.ts). The command and `POST /v1/check` call it.
 */
import { inputError } from "../errors.js";
import type { PolicySet } from "../policy/set.js";
import type { FormatName, Trace } from "../trace/model.js";
import type { TraceSource } from "../trace/read.js";
import { decideCall, type ToolCall } from "../verify/check.js";
import type { Decision } from "../verify/decision.js";
import { activate, Engine } from "../verify/engine.js";

/**
 * The one trace of some trace sources (the files of `--trace`, or one source in memory).
 * @param what the input as named in messages (`--trace`, `trace`); @param where its file.
 * @throws ProofError `check.trace_count` (exit 6) when they hold more than one trace,
 *   `trace.none` when none, and the reader's errors.
 */
export async function onlyTrace(
  sources: readonly TraceSource[],
  what: string,
  where: string,
  format: FormatName | "auto" = "auto",
): Promise<Trace> {
  // The trace readers (every importer, with the trace schema's validator) load only when a prior
  // trace is read: `proof check` without `--trace` starts without them.
  const { readTraces } = await import("../trace/read.js");
  let prior: Trace | undefined;
  for (const source of sources) {
    for await (const trace of readTraces(source, format)) {
      if (prior) {
        throw inputError("check.trace_count", `${what} must hold one trace, not several`, {
          file: source.path,
        });
      }
      prior = trace;
    }
  }
  if (!prior) throw inputError("trace.none", `no trace found in ${where}`, { file: where });
  return prior;
}

/** Reads the one prior trace of `proof check --trace FILE`. @throws as {@link onlyTrace}. */
export async function readPriorFile(file: string): Promise<Trace> {
  const [{ listTraceFiles }, { traceSource }] = await Promise.all([
    import("../io/files.js"),
    import("../io/trace-files.js"),
  ]);
  return onlyTrace((await listTraceFiles(file)).map(traceSource), "--trace", file);
}

/** What {@link checkCall} decides. */
export interface CheckInput {
  policies: PolicySet;
  call: ToolCall;
  /** What happened before the call; the call is the first event when absent. */
  prior?: Trace;
  /** The context; `{}` when absent. */
  context?: Record<string, unknown>;
  /** The call's file as given (`--call`): the case id of the decision when there is no prior trace. */
  callFile: string;
}

/**
 * Decides one call: exactly the decision `proof verify` would give it as the last call of the
 * prior trace (src/verify/check.ts).
 * @returns the decision and the warnings of activating the rules for the context.
 */
export function checkCall(input: CheckInput): { decision: Decision; warnings: string[] } {
  const context = input.context ?? {};
  const activation = activate(input.policies.compiled, context);
  const engine = new Engine(input.policies.compiled, activation, context);
  return {
    decision: decideCall(engine, input.call, input.prior, input.callFile),
    warnings: [...activation.warnings],
  };
}
