import {
  CONDITION_VARIABLES,
  type CompiledCel,
  compileCel,
  compileParsedCel,
  requireCel,
  WHEN_VARIABLES,
} from "../expr/cel.js";
import { compileGlob } from "../expr/glob.js";
import { compileArgConditions, compileConditions, type ValueTest } from "../expr/matchers.js";
import { type PatternSegment, parseFieldPattern } from "../policy/field-path.js";
import type { EventPattern, IRRule, ProofIR, ProvenanceLevel, Role } from "../policy/ir.js";
import type { TraceEvent } from "../trace/model.js";

/**
 * Integrity levels as numbers, so "at or below" is a comparison. `injected` is below `untrusted`:
 * the detector gives it to spans of content that is already below `trusted`.
 */
export const LEVEL: Record<ProvenanceLevel | "trusted", number> = {
  injected: 0,
  untrusted: 1,
  unknown: 2,
  trusted: 3,
};

/** The level names by number (inverse of {@link LEVEL}). */
export const LEVEL_NAME = ["injected", "untrusted", "unknown", "trusted"] as const;

/** A field rule ready to match leaf paths: its parsed pattern and its level. */
export interface CompiledFieldRule {
  readonly path: string;
  readonly pattern: readonly PatternSegment[];
  readonly level: number;
}

/** A compiled event pattern: `true` when an event matches. @throws MatchTypeError */
export type EventTest = (event: TraceEvent) => boolean;

/** A rule with every matcher, glob, pattern and CEL program compiled once. */
export interface CompiledRule {
  readonly ir: IRRule;
  readonly matchesTool: (tool: string) => boolean;
  readonly args: ValueTest;
  /**
   * One test per entry of `ir.match.args`, in order (their AND is `args`): coverage records each
   * argument's outcome separately.
   */
  readonly argTests: readonly ValueTest[];
  readonly requireBefore: EventTest | undefined;
  readonly forbidBefore: EventTest | undefined;
  readonly since: EventTest | undefined;
  readonly when: CompiledCel | undefined;
  readonly condition: CompiledCel | undefined;
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
  /**
   * Field rules of the `sources` entries naming a tool (all of them; where several match one
   * leaf the lowest level wins), or an empty list when none does.
   */
  fieldRules(tool: string | null): readonly CompiledFieldRule[];
  /** Whether any `sources` entry has field rules. */
  readonly hasFieldRules: boolean;
  /** Whether a rule asks for `from: injected`: only then does the injection detector run. */
  readonly usesInjection: boolean;
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

/** Compiles a CEL expression of the IR from its parsed form when there is one (no parse). */
function cel(canonical: string, parsed: string | undefined, variables: readonly string[]): CompiledCel {
  return parsed === undefined
    ? compileCel(canonical, variables)
    : compileParsedCel(canonical, parsed, variables);
}

/**
 * A rule whose `when` is compiled at once (planning needs every one) and whose matchers, patterns
 * and condition are compiled on first use: a plan or a trace that never reaches a rule never pays
 * for it, and nothing is compiled twice.
 */
class LazyRule implements CompiledRule {
  readonly matchesTool: (tool: string) => boolean;
  readonly when: CompiledCel | undefined;
  private cache: {
    args?: ValueTest;
    argTests?: ValueTest[];
    requireBefore?: EventTest | undefined;
    forbidBefore?: EventTest | undefined;
    since?: EventTest | undefined;
    condition?: CompiledCel | undefined;
  } = {};

  constructor(readonly ir: IRRule) {
    this.matchesTool = toolMatcher(ir.match.tools);
    this.when = ir.when === undefined ? undefined : cel(ir.when, ir.when_parsed, WHEN_VARIABLES);
  }

  get args(): ValueTest {
    if (!("args" in this.cache)) this.cache.args = compileArgConditions(this.ir.match.args);
    return this.cache.args as ValueTest;
  }

  get argTests(): readonly ValueTest[] {
    this.cache.argTests ??= this.ir.match.args.map((a) => compileArgConditions([a]));
    return this.cache.argTests;
  }

  private pattern(
    key: "requireBefore" | "forbidBefore" | "since",
    p: EventPattern | undefined,
  ): EventTest | undefined {
    if (!(key in this.cache)) this.cache[key] = p ? eventTest(p) : undefined;
    return this.cache[key];
  }

  get requireBefore(): EventTest | undefined {
    return this.pattern("requireBefore", this.ir.match.sequence?.require_before);
  }

  get forbidBefore(): EventTest | undefined {
    return this.pattern("forbidBefore", this.ir.match.sequence?.forbid_before);
  }

  get since(): EventTest | undefined {
    return this.pattern("since", this.ir.match.sequence?.since);
  }

  get condition(): CompiledCel | undefined {
    if (!("condition" in this.cache)) {
      const m = this.ir.match;
      this.cache.condition =
        m.condition === undefined ? undefined : cel(m.condition, m.condition_parsed, CONDITION_VARIABLES);
    }
    return this.cache.condition;
  }
}

/**
 * Compiles an IR for evaluation. Everything that can be prepared once is, once: tool globs and
 * every `when` at once, CEL from the IR's parsed form (no parse), argument matchers, RE2 patterns
 * and conditions on a rule's first use, tool lookups cached per tool name.
 * @throws Error when a tool glob or a `when` of the IR is invalid (an IR not made by `compile`);
 *   an invalid pattern or condition fails at first use, as an evaluation error (fail closed).
 * @throws CelNotLoadedError when a rule has CEL and the engine is not loaded (src/expr/cel.ts).
 */
export function compileIR(ir: ProofIR): CompiledPolicy {
  // Conditions compile on first use, during evaluation: the engine must be there before.
  if (ir.rules.some((r) => r.when !== undefined || r.match.condition !== undefined)) {
    requireCel(`policy '${ir.policy_id}'`);
  }
  const rules = new Map<string, CompiledRule>();
  for (const r of ir.rules) rules.set(r.id, new LazyRule(r));
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
  const sourceFields = ir.sources
    .filter((s) => s.tools.length > 0 && s.fields !== undefined && s.fields.length > 0)
    .map((s) => ({
      test: toolMatcher(s.tools),
      rules: (s.fields ?? []).map((f) => ({
        path: f.path,
        pattern: parseFieldPattern(f.path),
        level: LEVEL[f.integrity],
      })),
    }));
  const toolFields = new Map<string, readonly CompiledFieldRule[]>();
  const noFields: readonly CompiledFieldRule[] = [];
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
    fieldRules(tool) {
      if (sourceFields.length === 0) return noFields;
      const name = tool ?? "";
      let rules = toolFields.get(name);
      if (rules === undefined) {
        rules = sourceFields.filter((s) => s.test(name)).flatMap((s) => s.rules);
        toolFields.set(name, rules.length === 0 ? noFields : rules);
      }
      return rules;
    },
    hasFieldRules: sourceFields.length > 0,
    usesInjection: ir.rules.some((r) => r.match.provenance?.from === "injected"),
  };
}
