/**
 * The library API of proof: compile policies, read traces, judge them with the same engine the
 * CLI uses.
 */

// The library's compile functions are synchronous: the CEL engine, which the CLI loads on demand
// (src/expr/cel.ts), is loaded with the library.
import "./expr/cel-engine.js";

export {
  type AiSdkAdapterOptions,
  type AiSdkToolCallOptions,
  type AiSdkToolLike,
  guardAiSdkTools,
} from "./adapters/ai-sdk.js";
export type {
  AdapterOptions,
  ApprovalOutcome,
  ApprovalRequest,
  GuardSource,
  LedgerSink,
  RefusalKind,
  RefusalMode,
  SpanSink,
} from "./adapters/core.js";
export {
  guardLangChainTool,
  guardLangChainTools,
  type LangChainToolLike,
  ProofCallbackHandler,
} from "./adapters/langchain.js";
export { guardAgentsTool } from "./adapters/openai-agents.js";
export { makePlan, onePolicy, type PlanInput, resolvePlanPolicy } from "./api/adapt.js";
export { type CheckInput, checkCall, onlyTrace, readPriorFile } from "./api/check.js";
export { type CompiledSource, compileSource } from "./api/compile.js";
export {
  checkSourceName,
  type MemorySource,
  type MemoryVerifyOptions,
  type MemoryVerifyResult,
  memoryTraceSource,
  verifySources,
} from "./api/memory.js";
export {
  type CaseResult,
  checkPlan,
  Judgement,
  type JudgementOptions,
  parseVerdict,
} from "./api/pipeline.js";
export {
  EXIT_GATE_FAILED,
  type GateOutcome,
  runVerify,
  type VerifyInput,
  type VerifyProgress,
} from "./api/verify.js";
export { errorEnvelope, ProofError, ProofErrors } from "./errors.js";
export {
  createGuard,
  type Guard,
  type GuardCall,
  type GuardEvent,
  type GuardOptions,
} from "./guard/guard.js";
export {
  type FunctionToolLike,
  refusalText,
  ToolRefusedError,
  type WrapToolOptions,
  wrapTool,
} from "./guard/wrap-tool.js";
export { digestOf } from "./io/canonical.js";
export { type Ledger, type LedgerOptions, openLedger } from "./io/ledger-file.js";
export { loadPolicySet as loadPolicy } from "./io/policy-files.js";
export { type LedgerRecord, verifyLedger } from "./ledger/ledger.js";
export { activationFromPlan } from "./plan/activation.js";
export type * from "./plan/plan.js";
export { planRules } from "./plan/planner.js";
export { basicSelector, type SelectedRules, type Selector, weightedSelector } from "./plan/select.js";
export { compilePolicy, policyDigest } from "./policy/compile.js";
export type * from "./policy/ir.js";
export { loadIR } from "./policy/load-ir.js";
export type { PolicySet } from "./policy/set.js";
export type { ServeHandle, ServerOptions } from "./serve/server.js";
export type * from "./serve/types.js";
export {
  createDecisionExporter,
  type DecisionExporter,
  type DecisionMeta,
  type ExporterOptions,
} from "./telemetry/otel.js";
export type * from "./trace/model.js";
export { readTraces, type TraceSource } from "./trace/read.js";
export { parseCall, type ToolCall } from "./verify/check.js";
export { type CompiledPolicy, compileIR } from "./verify/compiled.js";
export {
  type ConditionCoverage,
  CoverageCollector,
  type CoverageRatio,
  type CoverageReport,
  meetsMinimum,
  type PolicyCoverage,
  type RuleCoverage,
} from "./verify/coverage.js";
export type * from "./verify/decision.js";
export { activate, Engine } from "./verify/engine.js";
export { argsFingerprint } from "./waivers/waivers.js";

/**
 * Creates the HTTP server of `proof serve` (docs/serve.md) without listening; see
 * src/serve/server.ts for the options. Loaded on first call, so that importing the library does
 * not load fastify.
 * @throws ProofError (exit 6 in the CLI) when the policies cannot be loaded.
 */
export async function createServer(
  options: import("./serve/server.js").ServerOptions,
): Promise<import("./serve/server.js").ServeHandle> {
  const { createServer: create } = await import("./serve/server.js");
  return create(options);
}
