/**
 * Labels of `proof eval` (docs/evaluation.md, "Labels"): which cases should be flagged. Pure: the
 * file is read by src/io/label-files.ts.
 *
 * Two line shapes are accepted in one JSON Lines file:
 * - a label: `{"case": ID, "expected": VERDICT}`, `{"case": ID, "expected": {"violation": BOOL}}`
 *   or `{"case": ID, "violation": BOOL}`; other string fields are group fields, and an optional
 *   `violating_calls` lists the calls that make the violation;
 * - a line of AgentDojo's corpus manifest (fixtures/corpus/agentdojo/manifest.jsonl, written for
 *   this project from the AgentDojo benchmark's `runs/` folder): `file` (the run's path relative
 *   to the manifest) and `expected_violation`, with `violating_calls[]` of
 *   `{message_index, function}`; its other string fields (`suite`, `model`, `attack_type`,
 *   `category`, ...) are group fields.
 */
import { inputError } from "../errors.js";
import type { Verdict } from "../policy/ir.js";
import { parseJson } from "../trace/json.js";
import { atLeast, VERDICT_ORDER } from "../verify/decision.js";

/** A call a label names as the violation: the message that holds it and the tool, when given. */
export interface ViolatingCall {
  /** 0-based index of the message in the run (AgentDojo's `message_index`), or null. */
  message_index: number | null;
  /** The tool called, or null. */
  function: string | null;
}

/** What a label says should happen to its case. */
export type Expectation = { verdict: Verdict } | { violation: boolean };

/** One labelled case. */
export interface Label {
  /** The case id as `proof verify` assigns it: the trace file's path relative to its traces root. */
  case: string;
  expected: Expectation;
  /** Group fields: every other string field of the line (`suite`, `model`, ...). */
  groups: Record<string, string>;
  violating_calls: ViolatingCall[];
  /** 1-based line of the label in its file. */
  line: number;
}

/** `labels` when every line is a label, `agentdojo-manifest` when every line is a manifest line. */
export type LabelFormat = "labels" | "agentdojo-manifest";

/** A parsed labels file. */
export interface LabelSet {
  /** The file as given, `/`-separated. */
  file: string;
  format: LabelFormat;
  /** In file order. */
  labels: Label[];
}

/** Options of {@link parseLabels}. */
export interface LabelOptions {
  /**
   * Prefixes removed from a manifest line's `file` to make the case id (`runs/` when the traces
   * root is the manifest's `runs` folder); the first that matches is removed.
   */
  stripPrefixes?: readonly string[];
}

/** Fields of a label line that are not group fields. */
const LABEL_FIELDS = new Set(["case", "expected", "violation", "violating_calls"]);
/** Fields of a manifest line that are not group fields (`file` is the case). */
const MANIFEST_FIELDS = new Set(["file", "expected_violation", "violating_calls", "git_blob_sha"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Whether a label's case should be flagged by a run flagging at `flagOn` or above: a violation
 * label says so itself; a verdict label when its verdict is at or above `flagOn`.
 */
export function isPositive(label: Label, flagOn: Verdict): boolean {
  return "violation" in label.expected ? label.expected.violation : atLeast(label.expected.verdict, flagOn);
}

/** The expectation as one word for tables: `violation`, `no violation`, or the verdict. */
export function expectationText(e: Expectation): string {
  return "violation" in e ? (e.violation ? "violation" : "no violation") : e.verdict;
}

function parseViolatingCalls(v: unknown, where: { file: string; line: number }): ViolatingCall[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v))
    throw inputError(
      "eval.bad_label",
      "violating_calls must be an array of {message_index, function}",
      where,
    );
  return v.map((c) => {
    if (!isObject(c))
      throw inputError(
        "eval.bad_label",
        "each of violating_calls must be an object {message_index, function}",
        where,
      );
    const index = c.message_index;
    const fn = c.function;
    if (index !== undefined && index !== null && !(Number.isInteger(index) && (index as number) >= 0))
      throw inputError(
        "eval.bad_label",
        "violating_calls[].message_index must be a non-negative integer",
        where,
      );
    if (fn !== undefined && fn !== null && typeof fn !== "string")
      throw inputError("eval.bad_label", "violating_calls[].function must be a string", where);
    return {
      message_index: (index as number | undefined) ?? null,
      function: (fn as string | undefined) ?? null,
    };
  });
}

function groupsOf(doc: Record<string, unknown>, skip: ReadonlySet<string>): Record<string, string> {
  const groups: Record<string, string> = {};
  for (const key of Object.keys(doc).sort()) {
    const value = doc[key];
    if (!skip.has(key) && typeof value === "string") groups[key] = value;
  }
  return groups;
}

function parseExpectation(doc: Record<string, unknown>, where: { file: string; line: number }): Expectation {
  const hasExpected = "expected" in doc;
  const hasViolation = "violation" in doc;
  if (hasExpected === hasViolation)
    throw inputError(
      "eval.bad_label",
      hasExpected ? "give either expected or violation, not both" : "a label needs expected or violation",
      where,
      'e.g. {"case": "a.json", "expected": "block"} or {"case": "a.json", "violation": true}',
    );
  const raw = hasExpected ? doc.expected : { violation: doc.violation };
  if (typeof raw === "string") {
    if (!(VERDICT_ORDER as readonly string[]).includes(raw))
      throw inputError(
        "eval.bad_label",
        `expected must be one of ${VERDICT_ORDER.join(", ")} or {"violation": true|false}, not '${raw}'`,
        where,
      );
    return { verdict: raw as Verdict };
  }
  if (isObject(raw) && Object.keys(raw).length === 1 && typeof raw.violation === "boolean")
    return { violation: raw.violation };
  throw inputError(
    "eval.bad_label",
    `expected must be one of ${VERDICT_ORDER.join(", ")} or {"violation": true|false}`,
    where,
  );
}

/**
 * Parses a labels file (JSON Lines; blank lines skipped).
 * @param file the file as given, for messages and the result
 * @throws ProofError (exit 6), located at file and line: `trace.invalid_json` and the other
 *   errors of the strict JSON parser, `eval.bad_label` for a line of neither shape or a bad field,
 *   `eval.mixed_labels` when label lines and manifest lines are mixed, `eval.duplicate_label` for
 *   a case labelled twice, `eval.no_labels` for a file without any label.
 */
export function parseLabels(text: string, file: string, options: LabelOptions = {}): LabelSet {
  const labels: Label[] = [];
  const seen = new Map<string, number>();
  let format: LabelFormat | undefined;
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    const where = { file, line };
    if (raw.trim() === "") continue;
    const doc = parseJson(raw.endsWith("\r") ? raw.slice(0, -1) : raw, file, line);
    if (!isObject(doc)) throw inputError("eval.bad_label", "a label line must be a JSON object", where);
    const manifest = "file" in doc && "expected_violation" in doc;
    const kind: LabelFormat = manifest ? "agentdojo-manifest" : "labels";
    if (format !== undefined && kind !== format)
      throw inputError(
        "eval.mixed_labels",
        `this line is ${kind === "labels" ? "a label" : "an AgentDojo manifest line"}, earlier lines are not`,
        where,
        "use one shape per file",
      );
    format = kind;
    let label: Label;
    if (manifest) {
      if (typeof doc.file !== "string" || doc.file === "")
        throw inputError("eval.bad_label", "file must be a non-empty string", where);
      if (typeof doc.expected_violation !== "boolean")
        throw inputError("eval.bad_label", "expected_violation must be true or false", where);
      const path = doc.file;
      const prefix = options.stripPrefixes?.find((p) => p !== "" && path.startsWith(p));
      label = {
        case: prefix ? path.slice(prefix.length) : path,
        expected: { violation: doc.expected_violation },
        groups: groupsOf(doc, MANIFEST_FIELDS),
        violating_calls: parseViolatingCalls(doc.violating_calls, where),
        line,
      };
    } else {
      if (typeof doc.case !== "string" || doc.case === "")
        throw inputError(
          "eval.bad_label",
          "a label needs case, a non-empty string: the case id proof verify gives the trace",
          where,
        );
      label = {
        case: doc.case,
        expected: parseExpectation(doc, where),
        groups: groupsOf(doc, LABEL_FIELDS),
        violating_calls: parseViolatingCalls(doc.violating_calls, where),
        line,
      };
    }
    const first = seen.get(label.case);
    if (first !== undefined)
      throw inputError(
        "eval.duplicate_label",
        `case '${label.case}' is already labelled on line ${first}`,
        where,
      );
    seen.set(label.case, line);
    labels.push(label);
  }
  if (format === undefined) throw inputError("eval.no_labels", "the labels file holds no label", { file });
  return { file, format, labels };
}
