/**
 * Waivers (`waivers.yaml`, `proof.waivers/v1`, schemas/waivers.schema.json; docs/testing.md,
 * "Waivers"): scoped exceptions that expire, in the spirit of conftest's exceptions. Pure: the
 * caller reads the file and gives the date. A waiver covers the findings of one rule in the cases
 * its glob matches, optionally only one tool and one argument fingerprint; a call whose findings
 * are all covered no longer fails the gate. A waiver past its `expires` date covers nothing and
 * fails the gate; one that covers nothing is stale (a warning).
 */
import { inputError, type SourceLocation } from "../errors.js";
import { compileGlob } from "../expr/glob.js";
import { validateWaivers } from "../generated/validate-waivers.js";
import { canonicalJson, sha256Hex } from "../io/canonical.js";
import type { Verdict } from "../policy/ir.js";
import { schemaError } from "../policy/schema-errors.js";
import { locate, parseYaml } from "../policy/yaml.js";
import {
  type ExpiredWaiver,
  type Report,
  type ReportWaivers,
  reportEntries,
  reportWith,
  type WaivedCall,
} from "../report/report.js";
import { traceFails, waivedIndex } from "../report/waived.js";

export { expiredLines, staleLines } from "../report/waived.js";

import type { Decision, TraceResult } from "../verify/decision.js";

/** One waiver as written in the file. */
export interface Waiver {
  id: string;
  rule: string;
  /** Glob over case ids (src/expr/glob.ts: `*`, `?`, `[...]`; `*` crosses `/`). */
  case: string;
  call?: { tool: string; args?: string };
  reason: string;
  owner: string;
  /** YYYY-MM-DD: the last day (UTC) on which it applies. */
  expires: string;
}

/** A loaded waivers file: its waivers, where each is written, and the digest of its text. */
export interface WaiverSet {
  file: string;
  /** `sha256:` + hex SHA-256 of the file's UTF-8 text. */
  digest: string;
  waivers: Waiver[];
  /** Location of each waiver (same index), for errors. */
  locations: SourceLocation[];
}

/** Whether `s` is a real calendar date written YYYY-MM-DD (2026-02-30 is not). */
export function isDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const t = Date.parse(`${s}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === s;
}

/**
 * The fingerprint of a call's arguments that `call.args` names: `sha256:` and the first 16 hex
 * digits of the SHA-256 of their canonical JSON (RFC 8785, src/io/canonical.ts), so key order
 * and whitespace of the recorded trace do not change it. Exported by the package API.
 */
export function argsFingerprint(args: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(args ?? null)).slice(0, 16)}`;
}

/**
 * Parses and checks a waivers file.
 * @throws ProofError (exit 6), located: `yaml.*` on YAML errors; `waivers.*` schema errors
 *   (`waivers.unknown_key`, `waivers.missing_key`, ...); `waivers.duplicate_id`;
 *   `waivers.invalid_date` (not a calendar date); `waivers.invalid_glob` (an unclosed `[`).
 */
export function parseWaivers(text: string, file: string): WaiverSet {
  const parsed = parseYaml(text, file);
  if (!validateWaivers(parsed.value)) throw schemaError(parsed, validateWaivers.errors, "waivers");
  const waivers = (parsed.value as { waivers: Waiver[] }).waivers;
  const seen = new Map<string, number>();
  const locations = waivers.map((w, i) => {
    const at = locate(parsed, ["waivers", i]);
    const first = seen.get(w.id);
    if (first !== undefined) {
      throw inputError(
        "waivers.duplicate_id",
        `waiver id '${w.id}' is already used by waivers[${first}]`,
        locate(parsed, ["waivers", i, "id"]),
      );
    }
    seen.set(w.id, i);
    if (!isDate(w.expires)) {
      throw inputError(
        "waivers.invalid_date",
        `expires '${w.expires}' of waiver '${w.id}' is not a calendar date`,
        locate(parsed, ["waivers", i, "expires"]),
        "write the last day the waiver applies as YYYY-MM-DD",
      );
    }
    for (const [field, glob] of [
      ["case", w.case],
      ["call", w.call?.tool],
    ] as const) {
      if (glob === undefined) continue;
      try {
        compileGlob(glob);
      } catch (err) {
        throw inputError(
          "waivers.invalid_glob",
          `${field} of waiver '${w.id}': ${(err as Error).message}`,
          locate(parsed, field === "case" ? ["waivers", i, "case"] : ["waivers", i, "call", "tool"]),
        );
      }
    }
    return at;
  });
  return { file, digest: `sha256:${sha256Hex(text)}`, waivers, locations };
}

/**
 * The date expiry is judged against, YYYY-MM-DD (UTC): `--today` when given, else
 * `SOURCE_DATE_EPOCH` (seconds since 1970, reproducible-builds.org) when set, else `now`.
 * @throws ProofError `usage.today` (exit 6) when `--today` is not a calendar date, or
 *   `usage.source_date_epoch` when SOURCE_DATE_EPOCH is not a non-negative integer.
 */
export function resolveToday(
  today: string | undefined,
  sourceDateEpoch: string | undefined,
  now: Date,
): string {
  if (today !== undefined) {
    if (!isDate(today)) throw inputError("usage.today", `--today must be a date YYYY-MM-DD, not '${today}'`);
    return today;
  }
  if (sourceDateEpoch !== undefined && sourceDateEpoch !== "") {
    const seconds = /^\d{1,15}$/.test(sourceDateEpoch) ? Number(sourceDateEpoch) : Number.NaN;
    const date = new Date(seconds * 1000);
    if (!Number.isFinite(date.getTime())) {
      throw inputError(
        "usage.source_date_epoch",
        `SOURCE_DATE_EPOCH must be whole seconds since 1970-01-01, not '${sourceDateEpoch}'`,
      );
    }
    return date.toISOString().slice(0, 10);
  }
  return now.toISOString().slice(0, 10);
}

/**
 * Applies a waiver set to a run, trace by trace: call {@link judge} for each judged trace, then
 * {@link finish} on the report.
 */
export class WaiverMatcher {
  private readonly active: {
    w: Waiver;
    index: number;
    caseMatch: (s: string) => boolean;
    tool?: (s: string) => boolean;
  }[];
  /** The active waivers by rule id: a finding is compared with its rule's waivers only. */
  private readonly byRule = new Map<string, WaiverMatcher["active"]>();
  private readonly expired: ExpiredWaiver[];
  private readonly used = new Set<number>();
  private readonly waived: WaivedCall[] = [];

  /**
   * @param effects the effect of every rule of the policies, by rule id.
   * @throws ProofError `waivers.unknown_rule` (exit 6, at the waiver) when a waiver names a rule
   *   no policy has: a misspelt id would otherwise waive nothing, silently.
   */
  constructor(
    private readonly set: WaiverSet,
    private readonly today: string,
    private readonly effects: ReadonlyMap<string, Verdict>,
  ) {
    set.waivers.forEach((w, i) => {
      if (!effects.has(w.rule)) {
        throw inputError(
          "waivers.unknown_rule",
          `waiver '${w.id}' names rule '${w.rule}', which no policy has`,
          set.locations[i],
        );
      }
    });
    const live = set.waivers.map((w, index) => ({ w, index })).filter(({ w }) => w.expires >= today);
    this.expired = set.waivers
      .filter((w) => w.expires < today)
      .map((w) => ({ id: w.id, rule: w.rule, expires: w.expires }));
    this.active = live.map(({ w, index }) => ({
      w,
      index,
      caseMatch: compileGlob(w.case),
      ...(w.call ? { tool: compileGlob(w.call.tool) } : {}),
    }));
    for (const a of this.active) {
      const list = this.byRule.get(a.w.rule);
      if (list) list.push(a);
      else this.byRule.set(a.w.rule, [a]);
    }
  }

  /** The rules that make a decision a finding: a non-`allow` effect, or an evaluation error. */
  private findingRules(d: Decision): string[] {
    return d.rules.filter((r) => this.effects.get(r) !== "allow" || d.errors.some((e) => e.rule === r));
  }

  /**
   * Records which calls of one judged trace are waived.
   * @param argsOf the arguments of the call at `seq` (for `call.args` fingerprints).
   */
  judge(result: TraceResult, argsOf: (seq: number) => unknown): void {
    if (this.active.length === 0) return;
    for (const d of result.decisions) {
      if (d.verdict === "allow") continue;
      const rules = this.findingRules(d);
      if (rules.length === 0) continue;
      let fingerprint: string | undefined;
      const covering = new Set<string>();
      let covered = 0;
      for (const rule of rules) {
        let hit = false;
        for (const a of this.byRule.get(rule) ?? []) {
          if (!a.caseMatch(result.case_id)) continue;
          if (a.tool && !a.tool(d.tool)) continue;
          if (a.w.call?.args !== undefined) {
            fingerprint ??= argsFingerprint(argsOf(d.seq));
            if (fingerprint !== a.w.call.args) continue;
          }
          hit = true;
          this.used.add(a.index);
          covering.add(a.w.id);
        }
        if (hit) covered++;
      }
      // A call is waived only when every rule that made it a finding is: a waiver for one rule
      // must not hide another rule's finding on the same call.
      if (covered === rules.length) {
        this.waived.push({
          case_id: d.case_id,
          seq: d.seq,
          tool: d.tool,
          rules,
          waivers: [...covering].sort(),
        });
      }
    }
  }

  /** What the waivers did, for `report.waivers`. */
  summary(): ReportWaivers {
    const waived = [...this.waived].sort((a, b) =>
      a.case_id < b.case_id ? -1 : a.case_id > b.case_id ? 1 : a.seq - b.seq,
    );
    return {
      file: this.set.file,
      digest: this.set.digest,
      today: this.today,
      applied: this.active
        .filter((a) => this.used.has(a.index))
        .map(({ w }) => ({ id: w.id, rule: w.rule, owner: w.owner, reason: w.reason, expires: w.expires })),
      waived,
      expired: this.expired,
      stale: this.active.filter((a) => !this.used.has(a.index)).map((a) => a.w.id),
    };
  }

  /**
   * The report with `waivers` added and the gate recomputed: `summary.failed` leaves waived calls
   * out, and `passed` is false when a trace still fails or a waiver has expired.
   */
  finish(report: Report): Report {
    const waivers = this.summary();
    const index = waivedIndex({ waivers });
    let failed = 0;
    for (const t of reportEntries(report)) if (traceFails(report, t, index)) failed++;
    return reportWith(report, {
      waivers,
      passed: failed === 0 && waivers.expired.length === 0,
      summary: { ...report.summary, failed },
    });
  }
}
