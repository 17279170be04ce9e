import { CONDITION_VARIABLES, type CompiledCel, compileCel, WHEN_VARIABLES } from "../expr/cel.js";
import { compileGlob } from "../expr/glob.js";
import { compileArgConditions, compileConditions, type ValueTest } from "../expr/matchers.js";
import type { EventPattern, Integrity, IRRule, ProofIR, Role } from "../policy/ir.js";
import type { TraceEvent } from "../trace/model.js";

/** Integrity levels as numbers, so "at or below" is a comparison. */
export const LEVEL: Record<Integrity, number> = { untrusted: 0, unknown: 1, trusted: 2 };

/** A compiled event pattern: `true` when an event matches. @throws MatchTypeError */
export type EventTest = (event: TraceEvent) => boolean;

/** A rule with every matcher, glob, pattern and CEL program compiled once. */
export interface CompiledRule {
  ir: IRRule;
  matchesTool: (tool: string) => boolean;
  args: ValueTest;
  requireBefore?: EventTest;
  forbidBefore?: EventTest;
  since?: EventTest;
  when?: CompiledCel;
  condition?: CompiledCel;
}

/** A policy ready to evaluate: rules by id, tool lookup, source integrity. */
export interface CompiledPolicy {
  ir: ProofIR;
  rules: Map<string, CompiledRule>;
  /** Candidate rules for a tool name, sorted by id. */
  rulesForTool(tool: string): CompiledRule[];
  /** Integrity level of a tool's results: untrusted unless a source entry names the tool. */
  toolIntegrity(tool: string | null): number;
  /** Integrity of a message role; assistant messages are no source at all (`-1`). */
  roleIntegrity(role: Role): number;
}

function toolMatcher(tools: readonly string[]): (tool: string) => boolean {
  if (tools.length === 0) return () => true;
  const tests = tools.map(compileGlob);
  return (tool) => tests.some((t) => t(tool));
}

function eventTest(p: EventPattern): EventTest {
  const tools = p.tools ? toolMatcher(p.tools) : undefined;
  const content = p.content ? compileConditions(p.content) : undefined;
  const args = p.args ? compileArgConditions(p.args) : undefined;
  return (e) => {
    if (p.role !== undefined) {
      if (p.role === "tool" ? e.type !== "tool_result" : e.type !== "message" || e.role !== p.role)
        return false;
    }
    if (tools) {
      if (e.type === "message" || !tools(e.tool ?? "")) return false;
    }
    if (content) {
      if (e.type === "tool_call" || !content(e.content)) return false;
    }
    if (args) {
      if (e.type !== "tool_call" || !args(e.args)) return false;
    }
    return true;
  };
}

function compileRule(rule: IRRule): CompiledRule {
  const seq = rule.match.sequence;
  const out: CompiledRule = {
    ir: rule,
    matchesTool: toolMatcher(rule.match.tools),
    args: compileArgConditions(rule.match.args),
  };
  if (seq?.require_before) out.requireBefore = eventTest(seq.require_before);
  if (seq?.forbid_before) out.forbidBefore = eventTest(seq.forbid_before);
  if (seq?.since) out.since = eventTest(seq.since);
  if (rule.when !== undefined) out.when = compileCel(rule.when, WHEN_VARIABLES);
  if (rule.match.condition !== undefined)
    out.condition = compileCel(rule.match.condition, CONDITION_VARIABLES);
  return out;
}

/**
 * Compiles an IR for evaluation. Everything that can be prepared once is: globs and RE2 patterns
 * compiled, CEL parsed and planned, tool lookups cached per tool name.
 * @throws Error when the IR holds an invalid pattern or expression (an IR not made by `compile`).
 */
export function compileIR(ir: ProofIR): CompiledPolicy {
  const rules = new Map<string, CompiledRule>();
  for (const r of ir.rules) rules.set(r.id, compileRule(r));
  const byTool = new Map<string, CompiledRule[]>();
  const patternRules = ir.tool_index.patterns.map((id) => rules.get(id) as CompiledRule);
  const sourceTools = ir.sources
    .filter((s) => s.tools.length > 0)
    .map((s) => ({ test: toolMatcher(s.tools), level: LEVEL[s.integrity] }));
  const roleLevel = new Map<Role, number>();
  for (const s of ir.sources) {
    for (const role of s.roles)
      roleLevel.set(role, Math.min(roleLevel.get(role) ?? LEVEL.trusted, LEVEL[s.integrity]));
  }
  const toolLevel = new Map<string, number>();
  return {
    ir,
    rules,
    rulesForTool(tool) {
      let list = byTool.get(tool);
      if (!list) {
        const exact = Object.hasOwn(ir.tool_index.exact, tool) ? (ir.tool_index.exact[tool] ?? []) : [];
        list = [
          ...exact.map((id) => rules.get(id) as CompiledRule),
          ...patternRules.filter((r) => r.matchesTool(tool)),
        ];
        list.sort((a, b) => (a.ir.id < b.ir.id ? -1 : a.ir.id > b.ir.id ? 1 : 0));
        byTool.set(tool, list);
      }
      return list;
    },
    toolIntegrity(tool) {
      const name = tool ?? "";
      let level = toolLevel.get(name);
      if (level === undefined) {
        // A tool no entry names is untrusted (fail safe); where entries overlap the lowest wins.
        const matching = sourceTools.filter((s) => s.test(name)).map((s) => s.level);
        level = matching.length === 0 ? LEVEL.untrusted : Math.min(...matching);
        toolLevel.set(name, level);
      }
      return level;
    },
    roleIntegrity(role) {
      if (role === "assistant") return -1;
      return roleLevel.get(role) ?? LEVEL.trusted;
    },
  };
}
