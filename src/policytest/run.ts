/**
 * Runs policy unit tests (docs/testing.md): each case's input is judged by the engine of
 * `proof verify` (or, for a `call`, as `proof check` decides it) and compared with what the case
 * expects. File-system access is injected ({@link TestEnv}), so this stays pure core.
 */
import { inputError, ProofError } from "../errors.js";
import { traceId } from "../trace/builder.js";
import { ProofTraceAssembler } from "../trace/formats/proof.js";
import type { FormatName, ToolCallEvent, Trace, TraceEvent } from "../trace/model.js";
import { holdingMessage } from "../verify/check.js";
import type { CompiledPolicy } from "../verify/compiled.js";
import type { CoverageCollector } from "../verify/coverage.js";
import type { Decision, Evidence, TraceResult } from "../verify/decision.js";
import { activate, Engine } from "../verify/engine.js";
import type { CallExpectation, EvidenceExpectation, Expectation, TestCase, TestFile } from "./load.js";

/** What the runner needs from outside: policies and trace files, loaded by src/cli and src/io. */
export interface TestEnv {
  /** Loads a policy file, IR or directory. @throws ProofError (exit 6) when invalid or missing. */
  policy(path: string): Promise<{ compiled: CompiledPolicy[] }>;
  /** Every trace of one trace file. @throws ProofError (exit 6) as `readTraces` does. */
  traces(path: string, format: FormatName | "auto"): Promise<Trace[]>;
}

/**
 * The outcome of one case. `decisions` are every decision the engine made on the case's trace
 * (the appended `call` last), with the compiled policies that made them: what coverage is
 * computed from.
 */
export interface CaseOutcome {
  file: string;
  name: string;
  line: number;
  column: number;
  passed: boolean;
  /** One sentence per unmet expectation, `what: expected X, got Y`; empty when passed. */
  failures: string[];
  /** The case's verdict and rules as compared: the trace's, or the call's with `call`. */
  verdict: TraceResult["verdict"];
  rules: string[];
  decisions: Decision[];
  policies: readonly CompiledPolicy[];
  trace: Trace;
}

/** Policies and context already turned into an engine, per (policy, context) of a run. */
type EngineCache = Map<string, { engine: Engine; policies: readonly CompiledPolicy[] }>;

/**
 * Runs every case of a parsed test file, in order.
 * @param cache engines shared across files of one run (a policy is compiled once).
 * @param coverage with `proof test --coverage`, the collector every engine of the run feeds: it
 *   counts what the cases decide (for a `call` case, that call only, not the events before it).
 * @throws ProofError (exit 6) located in the test file when a case's policy, trace or inline
 *   events cannot be loaded: a bad test is never reported as a failing one.
 */
export async function runTestFile(
  file: TestFile,
  env: TestEnv,
  cache: EngineCache = new Map(),
  coverage: CoverageCollector | null = null,
): Promise<CaseOutcome[]> {
  const out: CaseOutcome[] = [];
  for (const c of file.cases) out.push(await runCase(file.file, c, env, cache, coverage));
  return out;
}

/** Re-throws a loading error of a case with the case's location as a hint. */
async function located<T>(c: TestCase, what: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    const where = `${c.location.file}:${c.location.line}:${c.location.column}`;
    throw new ProofError(err.code, err.message, {
      category: err.category,
      ...(err.location ? { location: err.location } : { location: c.location }),
      hint: `${what} of case '${c.name}' (${where})${err.hint ? `; ${err.hint}` : ""}`,
      cause: err,
    });
  }
}

async function engineFor(c: TestCase, env: TestEnv, cache: EngineCache, coverage: CoverageCollector | null) {
  const key = JSON.stringify([c.policy, c.context]);
  let found = cache.get(key);
  if (!found) {
    const set = await located(c, c.policyImplied ? "the policy beside the test file" : "the policy", () =>
      env.policy(c.policy),
    );
    const activation = activate(set.compiled, c.context);
    found = { engine: new Engine(set.compiled, activation, c.context, coverage), policies: set.compiled };
    cache.set(key, found);
  }
  return found;
}

async function runCase(
  file: string,
  c: TestCase,
  env: TestEnv,
  cache: EngineCache,
  coverage: CoverageCollector | null,
): Promise<CaseOutcome> {
  const { engine, policies } = await engineFor(c, env, cache, coverage);
  let trace = await inputTrace(file, c, env);
  // A `call` case decides its call only: the events before it are context, not covered.
  let coverFrom = 0;
  if (c.call) {
    trace = withCall(trace, c);
    coverFrom = trace.events[trace.events.length - 1]?.seq ?? 0;
  }
  const result = engine.verify(trace, coverFrom);
  const last = result.decisions[result.decisions.length - 1];
  const subject = c.call && last ? { verdict: last.verdict, rules: last.rules, decisions: [last] } : result;
  const failures = compare(c.expect, subject, result.decisions);
  return {
    file,
    name: c.name,
    line: c.location.line ?? 1,
    column: c.location.column ?? 1,
    passed: failures.length === 0,
    failures,
    verdict: subject.verdict,
    rules: subject.rules,
    decisions: result.decisions,
    policies,
    trace,
  };
}

/** The case's trace before any `call`: the trace file's one trace, the inline events, or none. */
async function inputTrace(file: string, c: TestCase, env: TestEnv): Promise<Trace> {
  const caseId = `${file}#${c.name}`;
  const traceFile = c.trace;
  if (traceFile !== undefined) {
    const traces = await located(c, "the trace", () => env.traces(traceFile, c.format));
    const [one, ...more] = traces;
    if (!one || more.length > 0) {
      throw inputError(
        "test.trace_count",
        `${traceFile} holds ${traces.length} traces; a case judges one`,
        c.locate(["trace"]),
        "split the file, or write the case's events inline",
      );
    }
    return one;
  }
  return inlineTrace(c.events ?? [], c, caseId);
}

/**
 * Builds a trace from inline events with the canonical reader's checks (schema, seq order, a
 * call's message). Left-out keys get defaults: `seq` the position, `at` `events[i]`, a call's
 * `message_seq` the message holding it (as `proof check` links a call), a result's `tool` that of
 * the call with its `call_id`; `call_id`, `error` and other `tool`s null, `content` "".
 * @throws ProofError `trace.invalid_event` located at the event in the test file.
 */
function inlineTrace(events: readonly Record<string, unknown>[], c: TestCase, caseId: string): Trace {
  const assembler = new ProofTraceAssembler(c.location.file);
  const header = {
    type: "trace",
    trace_id: `sha256:${"0".repeat(64)}`,
    case_id: caseId,
    source: { format: "proof", file: c.location.file },
    meta: {},
  };
  assembler.push(header, 0);
  const done: TraceEvent[] = [];
  for (const [i, raw] of events.entries()) {
    const event = withDefaults(raw, i, done);
    try {
      assembler.push(event, i);
    } catch (err) {
      if (!(err instanceof ProofError)) throw err;
      throw inputError(
        err.code,
        err.message.replace("not a proof.trace/v1 line", "not a proof.trace/v1 event"),
        c.locate(["events", i]),
      );
    }
    done.push(event as unknown as TraceEvent);
  }
  const trace = assembler.finish();
  if (!trace) throw new Error("inlineTrace: the assembler lost its header");
  return trace;
}

function withDefaults(raw: Record<string, unknown>, i: number, before: readonly TraceEvent[]) {
  const base = { seq: i, at: `events[${i}]` };
  switch (raw.type) {
    case "message":
      return { ...base, content: "", ...raw };
    case "tool_call":
      return { ...base, message_seq: holdingMessage(before), call_id: null, args: {}, ...raw };
    case "tool_result": {
      // As importers do (TraceBuilder): a result names the tool of the call it answers.
      const call = before.find(
        (e) => e.type === "tool_call" && e.call_id !== null && e.call_id === raw.call_id,
      );
      const tool = call?.type === "tool_call" ? call.tool : null;
      return { ...base, call_id: null, tool, content: "", error: null, ...raw };
    }
    default:
      return { ...base, ...raw };
  }
}

/** The trace with the case's `call` appended, as `proof check` decides a call. */
function withCall(prior: Trace, c: TestCase): Trace {
  const call = c.call as NonNullable<TestCase["call"]>;
  const events = [...prior.events];
  const event: ToolCallEvent = {
    type: "tool_call",
    seq: events.length,
    message_seq: holdingMessage(events),
    call_id: call.call_id ?? null,
    tool: call.tool,
    args: call.args ?? {},
    at: "call",
  };
  events.push(event);
  return { ...prior, header: { ...prior.header, trace_id: traceId(events) }, events };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function list(rules: readonly string[]): string {
  return `[${[...rules].sort().join(", ")}]`;
}

/** Every unmet expectation, in the order of the expectation's keys. */
function compare(
  expect: Expectation,
  subject: { verdict: string; rules: string[]; decisions: Decision[] },
  all: readonly Decision[],
): string[] {
  const failures: string[] = [];
  if (expect.verdict !== undefined && expect.verdict !== subject.verdict)
    failures.push(`verdict: expected ${expect.verdict}, got ${subject.verdict}`);
  if (expect.rules !== undefined && !sameSet(expect.rules, subject.rules))
    failures.push(`rules: expected ${list(expect.rules)}, got ${list(subject.rules)}`);
  for (const e of expect.evidence ?? []) {
    const problem = missingEvidence(e, subject.decisions);
    if (problem) failures.push(problem);
  }
  if (expect.calls !== undefined) {
    if (expect.calls.length !== all.length)
      failures.push(`calls: expected ${expect.calls.length} tool calls, got ${all.length}`);
    for (const [i, want] of expect.calls.entries()) {
      const got = all[i];
      if (got) failures.push(...compareCall(want, got).map((f) => `calls[${i}] (${got.tool}) ${f}`));
    }
  }
  return failures;
}

function compareCall(want: CallExpectation, got: Decision): string[] {
  const failures: string[] = [];
  if (want.tool !== undefined && want.tool !== got.tool)
    failures.push(`tool: expected ${want.tool}, got ${got.tool}`);
  if (want.verdict !== undefined && want.verdict !== got.verdict)
    failures.push(`verdict: expected ${want.verdict}, got ${got.verdict}`);
  if (want.rules !== undefined && !sameSet(want.rules, got.rules))
    failures.push(`rules: expected ${list(want.rules)}, got ${list(got.rules)}`);
  for (const e of want.evidence ?? []) {
    const problem = missingEvidence(e, [got]);
    if (problem) failures.push(problem);
  }
  return failures;
}

/** The event a piece of evidence points at, when it points at one. */
function sourceOf(e: Evidence) {
  if (e.kind === "provenance") return e.source;
  if (e.kind === "forbid_before") return e.found;
  return undefined;
}

function evidenceMatches(want: EvidenceExpectation, got: Evidence): boolean {
  if (want.rule !== undefined && want.rule !== got.rule) return false;
  if (want.kind !== undefined && want.kind !== got.kind) return false;
  if (want.field !== undefined && !(got.kind === "provenance" && got.arg === want.field)) return false;
  if (want.integrity !== undefined && !(got.kind === "provenance" && got.integrity === want.integrity))
    return false;
  if (want.source !== undefined) {
    const s = sourceOf(got);
    if (!s) return false;
    for (const [k, v] of Object.entries(want.source)) {
      if ((s as unknown as Record<string, unknown>)[k] !== v) return false;
    }
  }
  return true;
}

/** Why no evidence of `decisions` matches `want`, or undefined when one does. */
function missingEvidence(want: EvidenceExpectation, decisions: readonly Decision[]): string | undefined {
  const pieces = decisions.flatMap((d) => d.evidence);
  if (pieces.some((p) => evidenceMatches(want, p))) return undefined;
  const got = pieces.map(describeEvidence);
  return `evidence: expected ${JSON.stringify(want)}, got ${got.length === 0 ? "none" : got.join("; ")}`;
}

/** One piece of evidence in the words of a test file: `rule kind field <- source`. */
export function describeEvidence(e: Evidence): string {
  const s = sourceOf(e);
  const from = s ? ` from ${s.type}${s.tool ? ` ${s.tool}` : s.role ? ` ${s.role}` : ""} (seq ${s.seq})` : "";
  return `${e.rule} ${e.kind}${e.kind === "provenance" ? ` field ${e.arg}` : ""}${from}`;
}
