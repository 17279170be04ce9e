/**
 * The library API of proof: compile policies, read traces, judge them with the same engine the
 * CLI uses.
 */
export { ProofError } from "./errors.js";
export { digestOf } from "./io/canonical.js";
export { activationFromPlan } from "./plan/activation.js";
export type * from "./plan/plan.js";
export { planRules } from "./plan/planner.js";
export { basicSelector, type SelectedRules, type Selector, weightedSelector } from "./plan/select.js";
export { compilePolicy, policyDigest } from "./policy/compile.js";
export type * from "./policy/ir.js";
export { loadIR } from "./policy/load-ir.js";
export type * from "./trace/model.js";
export { readTraces, type TraceSource } from "./trace/read.js";
export { type CompiledPolicy, compileIR } from "./verify/compiled.js";
export type * from "./verify/decision.js";
export { activate, Engine } from "./verify/engine.js";
