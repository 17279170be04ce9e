/**
 * The semantic diff of two policy sets (`proof diff`, docs/cli.md): what changed rule by rule
 * between two sets of compiled IRs (`proof.ir/v1`), and whether each change lets more tool calls
 * through (loosening), stops more (tightening), or cannot be told without traces (unknown).
 *
 * The direction follows the engine's semantics (src/verify/engine.ts): a policy's verdict for a
 * call is the most restrictive effect of its matching rules, or its default verdict when none
 * match; the call's verdict is the most restrictive over the policies. Verdicts are ordered
 * allow < warn < require_approval < block. Pure: no I/O.
 */
import { canonicalJson } from "../io/canonical.js";
import { VERDICT_ORDER } from "../verify/decision.js";
import type { Condition, IRRule, JsonValue, ProofIR, Verdict } from "./ir.js";

/** How a change moves verdicts: `none` when it cannot change any verdict. */
export type Direction = "loosening" | "tightening" | "unknown" | "none";

/** How a matcher change moves the set of calls a rule matches. */
export type Scope = "wider" | "narrower" | "unknown" | "none";

/** One field that differs, with its value before and after (null: absent on that side). */
export interface FieldChange {
  /** Dotted name in the IR: `effect`, `match.tools`, `match.args.amount`, `when`, `defaults.verdict`... */
  field: string;
  before: JsonValue | null;
  after: JsonValue | null;
  /** For a matcher or `when`: how the set of matched calls moves; `none` for other fields. */
  scope: Scope;
}

/** One rule that differs between the two sets, matched by rule id. */
export interface RuleDiff {
  rule: string;
  /** The policy holding it (the new one's, or the old one's for a removed rule). */
  policy: string;
  status: "added" | "removed" | "changed";
  direction: Direction;
  /** For `changed`: every differing field, in IR order. Empty for `added` and `removed`. */
  changes: FieldChange[];
  /** The rule as it was (null when added) and as it is (null when removed), without parsed forms. */
  before: IRRule | null;
  after: IRRule | null;
}

/** A policy-wide change: a policy added or removed, its defaults, limits or provenance sources. */
export interface PolicyLevelDiff {
  policy: string;
  status: "added" | "removed" | "changed";
  direction: Direction;
  changes: FieldChange[];
}

/** `proof.diff/v1`: the semantic diff of two policy sets. */
export interface PolicyDiff {
  schema: "proof.diff/v1";
  /** Bundle digests of the two sides (docs/policy.md). */
  old_bundle_digest: string;
  new_bundle_digest: string;
  /** True when every policy digest is the same on both sides: rule order and formatting do not count. */
  same: boolean;
  policies: PolicyLevelDiff[];
  /** Sorted by rule id. */
  rules: RuleDiff[];
  summary: {
    added: number;
    removed: number;
    changed: number;
    loosening: number;
    tightening: number;
    unknown: number;
  };
}

const rank = (v: Verdict): number => VERDICT_ORDER.indexOf(v);

/** Combines two directions of changes to the same calls: any disagreement is unknown. */
export function combine(a: Direction, b: Direction): Direction {
  if (a === "none") return b;
  if (b === "none" || a === b) return a;
  return "unknown";
}

/** From which verdict moves are possible: both possible is unknown. */
function fromPossible(loosen: boolean, tighten: boolean): Direction {
  if (loosen && tighten) return "unknown";
  if (loosen) return "loosening";
  if (tighten) return "tightening";
  return "none";
}

/**
 * Direction of a rule with `effect` starting to match more calls, in a policy with default
 * `defaultVerdict` whose other rules have `others` effects. A call no other rule matched goes from
 * the default to `effect`; one another rule matched at `m` goes to max(m, effect), never lower.
 */
function gainDirection(effect: Verdict, defaultVerdict: Verdict, others: readonly Verdict[]): Direction {
  return fromPossible(
    rank(effect) < rank(defaultVerdict),
    rank(effect) > rank(defaultVerdict) || others.some((o) => rank(o) < rank(effect)),
  );
}

/** Mirror of {@link gainDirection}: a rule with `effect` ceasing to match some calls. */
function lossDirection(effect: Verdict, defaultVerdict: Verdict, others: readonly Verdict[]): Direction {
  return fromPossible(
    rank(defaultVerdict) < rank(effect) || others.some((o) => rank(o) < rank(effect)),
    rank(defaultVerdict) > rank(effect),
  );
}

function scopeDirection(scope: Scope, effect: Verdict, def: Verdict, others: readonly Verdict[]): Direction {
  if (scope === "wider") return gainDirection(effect, def, others);
  if (scope === "narrower") return lossDirection(effect, def, others);
  if (scope === "unknown")
    return combine(gainDirection(effect, def, others), lossDirection(effect, def, others));
  return "none";
}

/** Combines scopes of ANDed conditions: all wider (or equal) is wider, and so on. */
function combineScope(a: Scope, b: Scope): Scope {
  if (a === "none") return b;
  if (b === "none" || a === b) return a;
  return "unknown";
}

const same = (a: unknown, b: unknown): boolean => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** Scope of a change in a set where more entries match more (`tools`, provenance `args`); [] = all when `emptyIsAll`. */
function setScope(before: readonly string[], after: readonly string[], emptyIsAll: boolean): Scope {
  if (same([...before].sort(), [...after].sort())) return "none";
  if (emptyIsAll && after.length === 0) return "wider";
  if (emptyIsAll && before.length === 0) return "narrower";
  const a = new Set(before);
  const b = new Set(after);
  if ([...a].every((x) => b.has(x))) return "wider";
  if ([...b].every((x) => a.has(x))) return "narrower";
  return "unknown";
}

/** Scope of one operator's operand change, where decidable: sets and numeric thresholds. */
function conditionScope(op: Condition["op"], before: JsonValue, after: JsonValue): Scope {
  if (same(before, after)) return "none";
  if ((op === "in" || op === "not_in") && Array.isArray(before) && Array.isArray(after)) {
    const s = setScope(
      before.map((v) => canonicalJson(v)),
      after.map((v) => canonicalJson(v)),
      false,
    );
    if (op === "in" || s === "unknown") return s;
    return s === "wider" ? "narrower" : "wider";
  }
  if (typeof before === "number" && typeof after === "number") {
    // gt/gte: a lower threshold admits more values; lt/lte: a higher one does.
    if (op === "gt" || op === "gte") return after < before ? "wider" : "narrower";
    if (op === "lt" || op === "lte") return after > before ? "wider" : "narrower";
  }
  return "unknown";
}

/** Scope of a change of one argument's ANDed conditions; operators paired when each side has one. */
function conditionsScope(before: readonly Condition[], after: readonly Condition[]): Scope {
  let scope: Scope = "none";
  const ops = new Set([...before.map((c) => c.op), ...after.map((c) => c.op)]);
  for (const op of ops) {
    const b = before.filter((c) => c.op === op);
    const a = after.filter((c) => c.op === op);
    if (same(b, a)) continue;
    const [b0, a0] = [b[0], a[0]];
    if (b.length === 1 && a.length === 1 && b0 && a0)
      scope = combineScope(scope, conditionScope(op, b0.value, a0.value));
    else if (a.length === 0) scope = combineScope(scope, "wider");
    else if (b.length === 0) scope = combineScope(scope, "narrower");
    else scope = combineScope(scope, "unknown");
  }
  return scope;
}

/** A condition present on one side only narrows (added) or widens (removed); changed is unknown. */
function presenceScope(before: unknown, after: unknown): Scope {
  if (same(before, after)) return "none";
  if (before === undefined) return "narrower";
  if (after === undefined) return "wider";
  return "unknown";
}

const json = (v: unknown): JsonValue | null => (v === undefined ? null : (v as JsonValue));

/** The rule without its parsed forms, which are derived and not digested. */
function plain(rule: IRRule): IRRule {
  const { when_parsed: _w, ...rest } = rule;
  const { condition_parsed: _c, ...match } = rule.match;
  return { ...rest, match };
}

/** Every differing field of a rule kept under the same id, with its scope. */
function ruleChanges(before: IRRule, after: IRRule): FieldChange[] {
  const out: FieldChange[] = [];
  const add = (field: string, b: unknown, a: unknown, scope: Scope) => {
    if (!same(b, a)) out.push({ field, before: json(b), after: json(a), scope });
  };
  add("effect", before.effect, after.effect, "none");
  add("when", before.when, after.when, presenceScope(before.when, after.when));
  const bm = before.match;
  const am = after.match;
  add("match.tools", bm.tools, am.tools, setScope(bm.tools, am.tools, true));
  const paths = [...new Set([...bm.args.map((a) => a.path), ...am.args.map((a) => a.path)])].sort();
  for (const path of paths) {
    const b = bm.args.find((a) => a.path === path)?.conditions;
    const a = am.args.find((x) => x.path === path)?.conditions;
    const scope = b === undefined ? "narrower" : a === undefined ? "wider" : conditionsScope(b, a);
    add(`match.args.${path}`, b, a, scope);
  }
  let provenance: Scope = presenceScope(bm.provenance, am.provenance);
  if (bm.provenance && am.provenance && provenance === "unknown") {
    // More arguments watched, or a broader level, match more: `from` counts its level and every
    // level below it (injected within untrusted within unknown).
    const breadth = { injected: 0, untrusted: 1, unknown: 2 } as const;
    const from =
      bm.provenance.from === am.provenance.from
        ? "none"
        : breadth[am.provenance.from] > breadth[bm.provenance.from]
          ? "wider"
          : "narrower";
    provenance = combineScope(setScope(bm.provenance.args, am.provenance.args, false), from);
  }
  add("match.provenance", bm.provenance, am.provenance, provenance);
  for (const clause of ["require_before", "forbid_before", "since", "max_calls"] as const) {
    const b = bm.sequence?.[clause];
    const a = am.sequence?.[clause];
    let scope = clause === "since" && !same(b, a) ? "unknown" : presenceScope(b, a);
    if (clause === "max_calls" && b && a && (b as { per: string }).per === (a as { per: string }).per) {
      // The call past `count` matches: a higher count matches fewer calls.
      const [bc, ac] = [(b as { count: number }).count, (a as { count: number }).count];
      scope = ac > bc ? "narrower" : "wider";
    }
    add(`match.sequence.${clause}`, b, a, scope);
  }
  add("match.condition", bm.condition, am.condition, presenceScope(bm.condition, am.condition));
  for (const field of ["severity", "reason", "cost", "description"] as const)
    add(field, before[field], after[field], "none");
  return out;
}

/** Direction of a changed rule: its scope change, then its effect change on what it matches. */
function changedDirection(
  changes: readonly FieldChange[],
  before: IRRule,
  after: IRRule,
  def: Verdict,
  others: readonly Verdict[],
): Direction {
  const scope = changes.reduce<Scope>((s, c) => combineScope(s, c.scope), "none");
  let direction = scopeDirection(scope, before.effect, def, others);
  if (before.effect !== after.effect)
    direction = combine(direction, rank(after.effect) > rank(before.effect) ? "tightening" : "loosening");
  return direction;
}

/** Direction of policy-wide field changes: default verdict, fail_closed, limits, sources. */
function policyChanges(before: ProofIR, after: ProofIR): PolicyLevelDiff | null {
  const changes: FieldChange[] = [];
  let direction: Direction = "none";
  if (before.defaults.verdict !== after.defaults.verdict) {
    changes.push({
      field: "defaults.verdict",
      before: before.defaults.verdict,
      after: after.defaults.verdict,
      scope: "none",
    });
    direction = combine(
      direction,
      rank(after.defaults.verdict) > rank(before.defaults.verdict) ? "tightening" : "loosening",
    );
  }
  if (before.defaults.fail_closed !== after.defaults.fail_closed) {
    changes.push({
      field: "defaults.fail_closed",
      before: before.defaults.fail_closed,
      after: after.defaults.fail_closed,
      scope: "none",
    });
    // Evaluation errors block when fail-closed, and only warn otherwise.
    direction = combine(direction, after.defaults.fail_closed ? "tightening" : "loosening");
  }
  const bl = before.limits?.max_argument_bytes;
  const al = after.limits?.max_argument_bytes;
  if (bl !== al) {
    changes.push({ field: "limits.max_argument_bytes", before: json(bl), after: json(al), scope: "none" });
    // A call over the limit is an evaluation error: a higher limit judges more calls on their rules.
    const DEFAULT = 1048576;
    direction = combine(direction, (al ?? DEFAULT) > (bl ?? DEFAULT) ? "loosening" : "tightening");
  }
  if (!same(before.sources, after.sources)) {
    changes.push({
      field: "sources",
      before: json(before.sources),
      after: json(after.sources),
      scope: "unknown",
    });
    direction = combine(direction, "unknown");
  }
  if (
    before.injection_detector !== undefined &&
    after.injection_detector !== undefined &&
    before.injection_detector !== after.injection_detector
  ) {
    // Another detector version marks other spans: which calls it changes cannot be told here.
    // (The key appearing or going away follows a rule's `from: injected`, reported with the rule.)
    changes.push({
      field: "injection_detector",
      before: before.injection_detector,
      after: after.injection_detector,
      scope: "unknown",
    });
    direction = combine(direction, "unknown");
  }
  if (!same(before.description, after.description))
    changes.push({
      field: "description",
      before: json(before.description),
      after: json(after.description),
      scope: "none",
    });
  if (changes.length === 0) return null;
  return { policy: after.policy_id, status: "changed", direction, changes };
}

/**
 * The semantic diff of two policy sets: policies matched by `policy_id`, rules by rule id (rule
 * ids are unique across a set). A policy set whose digests all equal the other's is `same`, with
 * no entries: rule order and YAML formatting never make a change.
 * @param before the old set's IRs; `oldBundle`/`newBundle` their bundle digests, as reported.
 */
export function diffPolicies(
  before: readonly ProofIR[],
  after: readonly ProofIR[],
  oldBundle: string,
  newBundle: string,
): PolicyDiff {
  const digests = (irs: readonly ProofIR[]) => irs.map((ir) => `${ir.policy_id} ${ir.policy_digest}`).sort();
  const result: PolicyDiff = {
    schema: "proof.diff/v1",
    old_bundle_digest: oldBundle,
    new_bundle_digest: newBundle,
    same: same(digests(before), digests(after)),
    policies: [],
    rules: [],
    summary: { added: 0, removed: 0, changed: 0, loosening: 0, tightening: 0, unknown: 0 },
  };
  if (result.same) return result;

  const oldPolicies = new Map(before.map((ir) => [ir.policy_id, ir]));
  const newPolicies = new Map(after.map((ir) => [ir.policy_id, ir]));
  for (const id of [...new Set([...oldPolicies.keys(), ...newPolicies.keys()])].sort()) {
    const b = oldPolicies.get(id);
    const a = newPolicies.get(id);
    if (b && a) {
      const change = policyChanges(b, a);
      if (change) result.policies.push(change);
    } else if (a) {
      // A new policy adds its default verdict to every call its rules do not match.
      const direction: Direction = a.defaults.verdict === "allow" ? "none" : "tightening";
      result.policies.push({ policy: id, status: "added", direction, changes: [] });
    } else if (b) {
      const direction: Direction = b.defaults.verdict === "allow" ? "none" : "loosening";
      result.policies.push({ policy: id, status: "removed", direction, changes: [] });
    }
  }

  const index = (irs: readonly ProofIR[]) => {
    const out = new Map<string, { rule: IRRule; ir: ProofIR }>();
    for (const ir of irs) for (const rule of ir.rules) out.set(rule.id, { rule, ir });
    return out;
  };
  const oldRules = index(before);
  const newRules = index(after);
  const othersOf = (ir: ProofIR, id: string) => ir.rules.filter((r) => r.id !== id).map((r) => r.effect);
  const ids = [...new Set([...oldRules.keys(), ...newRules.keys()])].sort((x, y) =>
    x < y ? -1 : x > y ? 1 : 0,
  );
  for (const id of ids) {
    const b = oldRules.get(id);
    const a = newRules.get(id);
    let entry: RuleDiff | undefined;
    if (a && !b) {
      entry = {
        rule: id,
        policy: a.ir.policy_id,
        status: "added",
        direction: gainDirection(a.rule.effect, a.ir.defaults.verdict, othersOf(a.ir, id)),
        changes: [],
        before: null,
        after: plain(a.rule),
      };
    } else if (b && !a) {
      entry = {
        rule: id,
        policy: b.ir.policy_id,
        status: "removed",
        direction: lossDirection(b.rule.effect, b.ir.defaults.verdict, othersOf(b.ir, id)),
        changes: [],
        before: plain(b.rule),
        after: null,
      };
    } else if (a && b) {
      const changes = ruleChanges(plain(b.rule), plain(a.rule));
      if (a.ir.policy_id !== b.ir.policy_id)
        changes.unshift({ field: "policy", before: b.ir.policy_id, after: a.ir.policy_id, scope: "unknown" });
      if (changes.length > 0) {
        let direction = changedDirection(changes, b.rule, a.rule, a.ir.defaults.verdict, othersOf(a.ir, id));
        if (a.ir.policy_id !== b.ir.policy_id) direction = combine(direction, "unknown");
        entry = {
          rule: id,
          policy: a.ir.policy_id,
          status: "changed",
          direction,
          changes,
          before: plain(b.rule),
          after: plain(a.rule),
        };
      }
    }
    if (entry) result.rules.push(entry);
  }
  for (const entry of [...result.policies, ...result.rules]) {
    result.summary[entry.status]++;
    if (entry.direction !== "none") result.summary[entry.direction]++;
  }
  return result;
}

/** A case's verdict under one side of the diff. */
export interface CaseVerdict {
  case_id: string;
  verdict: Verdict;
  /** Rules that fired on the case, sorted. */
  rules: string[];
}

/** A case whose verdict differs between the old and the new policies. */
export interface VerdictTransition {
  case_id: string;
  kind: "loosened" | "tightened";
  before: CaseVerdict;
  after: CaseVerdict;
}

/** The impact of a policy change on a corpus: every verdict transition, sorted by case id. */
export interface DiffImpact {
  /** Cases judged on both sides. */
  cases: number;
  loosened: number;
  tightened: number;
  transitions: VerdictTransition[];
}

/**
 * Every verdict transition between the results of the same traces under the old and the new
 * policies, matched by case id (a case id seen twice keeps its most restrictive verdict, as a
 * baseline does). Cases with the same verdict are not transitions, even when other rules fired.
 */
export function impactOf(before: readonly CaseVerdict[], after: readonly CaseVerdict[]): DiffImpact {
  const fold = (list: readonly CaseVerdict[]) => {
    const out = new Map<string, CaseVerdict>();
    for (const c of list) {
      const seen = out.get(c.case_id);
      if (!seen || rank(c.verdict) > rank(seen.verdict)) out.set(c.case_id, c);
    }
    return out;
  };
  const old = fold(before);
  const now = fold(after);
  const transitions: VerdictTransition[] = [];
  for (const [id, a] of now) {
    const b = old.get(id);
    if (!b || b.verdict === a.verdict) continue;
    transitions.push({
      case_id: id,
      kind: rank(a.verdict) > rank(b.verdict) ? "tightened" : "loosened",
      before: b,
      after: a,
    });
  }
  transitions.sort((x, y) => (x.case_id < y.case_id ? -1 : x.case_id > y.case_id ? 1 : 0));
  return {
    cases: [...now.keys()].filter((id) => old.has(id)).length,
    loosened: transitions.filter((t) => t.kind === "loosened").length,
    tightened: transitions.filter((t) => t.kind === "tightened").length,
    transitions,
  };
}

/** Whether `--fail-on-loosening` fails: a change known to loosen, or a case the new policies let through further. */
export function loosens(diff: PolicyDiff, impact: DiffImpact | null): boolean {
  return diff.summary.loosening > 0 || (impact?.loosened ?? 0) > 0;
}
