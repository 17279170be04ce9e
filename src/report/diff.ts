/**
 * The text and markdown forms of `proof diff` (docs/cli.md): the semantic diff of two policy
 * sets (src/policy/diff.ts) and, with traces, its impact. Pure. Case ids are trace text, which
 * an attacker may control: escaped for the terminal or for markdown, and bounded in number.
 */
import { canonicalJson } from "../io/canonical.js";
import type { DiffImpact, FieldChange, PolicyDiff, RuleDiff } from "../policy/diff.js";
import type { IRRule } from "../policy/ir.js";
import { clip, code, escapeMarkdown, publicName, terminalText } from "./escape.js";

/** Most verdict transitions listed; the count of the others follows. */
export const MAX_LISTED_TRANSITIONS = 50;

/** Longest before/after value shown, in characters; the JSON output has them whole. */
const MAX_VALUE = 200;

const value = (v: unknown): string =>
  v === null || v === undefined ? "(none)" : clip(canonicalJson(v), MAX_VALUE);

/** What a rule does, in one line: `block send_money: tools [...] args {...}`. */
function ruleLine(rule: IRRule): string {
  const { id: _id, description: _d, ...rest } = rule;
  return clip(
    `${rule.effect} ${canonicalJson(rest.match)}${rule.when ? ` when ${rule.when}` : ""}`,
    MAX_VALUE,
  );
}

function changeLine(c: FieldChange): string {
  const scope = c.scope === "none" ? "" : ` (matches ${c.scope === "unknown" ? "a different set" : c.scope})`;
  return `${c.field}: ${value(c.before)} -> ${value(c.after)}${scope}`;
}

const DIRECTION_TEXT = {
  loosening: "LOOSENING",
  tightening: "tightening",
  unknown: "changed, direction unknown",
  none: "no verdict change",
} as const;

function headline(diff: PolicyDiff): string {
  const s = diff.summary;
  return `${s.added} added, ${s.removed} removed, ${s.changed} changed: ${s.loosening} loosening, ${s.tightening} tightening, ${s.unknown} direction unknown`;
}

function ruleBody(r: RuleDiff): string[] {
  if (r.status === "added" && r.after) return [`now: ${ruleLine(r.after)}`];
  if (r.status === "removed" && r.before) return [`was: ${ruleLine(r.before)}`];
  return r.changes.map(changeLine);
}

/** The terminal form: one block per changed policy or rule, then the impact. */
export function diffText(diff: PolicyDiff, impact: DiffImpact | null): string {
  const lines: string[] = [];
  if (diff.same) {
    lines.push(`no semantic change (bundle ${diff.new_bundle_digest})`);
  } else {
    lines.push(`policy bundle ${diff.old_bundle_digest} -> ${diff.new_bundle_digest}`);
    lines.push(headline(diff));
    for (const p of diff.policies) {
      lines.push(`  policy ${p.policy}: ${p.status}, ${DIRECTION_TEXT[p.direction]}`);
      for (const c of p.changes) lines.push(`      ${terminalText(changeLine(c))}`);
    }
    for (const r of diff.rules) {
      lines.push(`  ${r.status.padEnd(8)} ${r.rule} (${r.policy}): ${DIRECTION_TEXT[r.direction]}`);
      for (const l of ruleBody(r)) lines.push(`      ${terminalText(l)}`);
    }
  }
  if (impact) {
    lines.push(`impact on ${impact.cases} cases: ${impact.loosened} loosened, ${impact.tightened} tightened`);
    for (const t of impact.transitions.slice(0, MAX_LISTED_TRANSITIONS))
      lines.push(
        `  ${t.kind.padEnd(9)} ${terminalText(publicName(t.case_id))}  ${t.before.verdict} -> ${t.after.verdict}`,
      );
    if (impact.transitions.length > MAX_LISTED_TRANSITIONS)
      lines.push(`  ... and ${impact.transitions.length - MAX_LISTED_TRANSITIONS} more (--json lists all)`);
  }
  return `${lines.join("\n")}\n`;
}

const cell = (text: string): string => escapeMarkdown(text);

/** The markdown form, for a pull request's step summary or comment. */
export function diffMarkdown(diff: PolicyDiff, impact: DiffImpact | null): string {
  const out: string[] = ["## Policy change", ""];
  if (diff.same) {
    out.push(`No semantic change (bundle ${code(diff.new_bundle_digest)}).`, "");
  } else {
    out.push(`Bundle ${code(diff.old_bundle_digest)} → ${code(diff.new_bundle_digest)}.`, "");
    out.push(`${cell(headline(diff))}.`, "");
    out.push("| change | rule | direction | before → after |", "|---|---|---|---|");
    for (const p of diff.policies) {
      const detail = p.changes.map((c) => cell(changeLine(c))).join("<br>") || "";
      out.push(
        `| policy ${p.status} | ${cell(p.policy)} | ${cell(DIRECTION_TEXT[p.direction])} | ${detail} |`,
      );
    }
    for (const r of diff.rules) {
      const detail = ruleBody(r)
        .map((l) => cell(l))
        .join("<br>");
      out.push(
        `| ${r.status} | ${cell(r.rule)} (${cell(r.policy)}) | ${r.direction === "loosening" ? "**LOOSENING**" : cell(DIRECTION_TEXT[r.direction])} | ${detail} |`,
      );
    }
    out.push("");
  }
  if (impact) {
    out.push(
      `### Impact`,
      "",
      `${impact.cases} cases: ${impact.loosened} loosened, ${impact.tightened} tightened.`,
      "",
    );
    if (impact.transitions.length > 0) {
      out.push("| case | before | after |", "|---|---|---|");
      for (const t of impact.transitions.slice(0, MAX_LISTED_TRANSITIONS))
        out.push(`| ${cell(publicName(t.case_id))} | ${code(t.before.verdict)} | ${code(t.after.verdict)} |`);
      if (impact.transitions.length > MAX_LISTED_TRANSITIONS)
        out.push(
          "",
          `… and ${impact.transitions.length - MAX_LISTED_TRANSITIONS} more (\`proof diff --json\` lists all).`,
        );
      out.push("");
    }
  }
  return `${out.join("\n")}\n`;
}
