/**
 * The pure half of the GitHub action (action/action.yml): how its inputs become the environment
 * of the CI contract script (scripts/proof-ci.sh, docs/ci.md "The contract"), what verdict an exit
 * code and `status.json` make, and which annotations of `annotations.txt` the step prints.
 * No I/O here: src/action/main.ts reads the files and runs the processes.
 */
import { inputError } from "../errors.js";
import { VERDICT_ORDER } from "../verify/decision.js";

/** The action's inputs as the gate step reads them (`with:` in the caller's workflow). */
export interface ActionInputs {
  /** proof.config.yaml to read; empty: ./proof.config.yaml when present. */
  config: string;
  /** `--policy`; empty: the config's. */
  policy: string;
  /** `--traces`, space-separated; empty: the config's. */
  traces: string;
  /** A baseline file: given, the gate is `proof regress run`. */
  baseline: string;
  /** `--fail-on`: a verdict (warn, require_approval, block); empty: the config's or block. */
  failOn: string;
  /** Extra proof arguments, split on whitespace, never evaluated. */
  args: string;
  /** Where the gate runs, relative to the workspace; empty: the workspace. */
  workingDirectory: string;
  /** A proof-gate version (or range, or dist-tag) to run from npm instead of the bundled proof. */
  version: string;
  /** Print annotations from annotations.txt. */
  annotations: boolean;
}

/** The action's `verdict` output (docs/ci.md). */
export type ActionVerdict = "pass" | "fail" | "command-failed" | "error";

/** The out dir the contract script writes, relative to the working directory. */
export const DEFAULT_OUT = "proof-out";

/**
 * A `version` input: a version, range or dist-tag of the npm package, with no whitespace (the
 * command is split on whitespace by the contract script) and no shell syntax.
 */
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.^~+-]{0,63}$/;

/**
 * Checks the inputs that proof cannot check itself once they are split into words.
 * @throws ProofError `action.fail_on` or `action.version` (exit 6).
 */
export function checkInputs(inputs: ActionInputs): void {
  if (inputs.failOn !== "" && !(VERDICT_ORDER as readonly string[]).includes(inputs.failOn))
    throw inputError(
      "action.fail_on",
      `the fail-on input must be one of ${VERDICT_ORDER.join(", ")}, not '${inputs.failOn}'`,
    );
  if (inputs.version !== "" && !VERSION.test(inputs.version))
    throw inputError(
      "action.version",
      `the version input must be a proof-gate version, range or dist-tag such as 0.1.0, not '${inputs.version}'`,
    );
}

/**
 * The variables of the contract script for these inputs, to add to the step's environment:
 * PROOF_OUT (kept when the job sets it), PROOF_ARGS (policy, traces, baseline and fail-on as
 * options, then the `args` input), PROOF_CONFIG when a config is given, PROOF_GATE=regress when a
 * baseline is, and PROOF_BIN running `npx --yes --package proof-gate@VERSION proof` when a
 * version is (without it the script runs the proof bundle beside it, the action's own).
 */
export function gateEnvironment(inputs: ActionInputs, env: Readonly<Record<string, string | undefined>>) {
  const out: Record<string, string> = { PROOF_OUT: env.PROOF_OUT || DEFAULT_OUT };
  const args: string[] = [];
  if (inputs.policy !== "") args.push("--policy", inputs.policy);
  if (inputs.traces !== "") args.push("--traces", inputs.traces);
  if (inputs.baseline !== "") {
    args.push("--baseline", inputs.baseline);
    out.PROOF_GATE = "regress";
  }
  if (inputs.failOn !== "") args.push("--fail-on", inputs.failOn);
  if (inputs.args !== "") args.push(inputs.args);
  out.PROOF_ARGS = args.join(" ");
  if (inputs.config !== "") out.PROOF_CONFIG = inputs.config;
  if (inputs.version !== "") out.PROOF_BIN = `npx --yes --package proof-gate@${inputs.version} proof`;
  return out;
}

/**
 * The verdict of a run: only a code that `status.json` attributes to the gate phase is a gate
 * verdict (0 pass, 5 fail); a code from the wrapped command is `command-failed`; anything else
 * (proof's own 1, 6, 7, 8, or no status.json) is `error`.
 */
export function verdictOf(
  status: { phase?: unknown; code?: unknown } | undefined,
  code: number,
): ActionVerdict {
  if (status === undefined || status.code !== code) return "error";
  if (status.phase === "gate" && code === 0) return "pass";
  if (status.phase === "gate" && code === 5) return "fail";
  if (status.phase === "cmd") return "command-failed";
  return "error";
}

/** One workflow annotation, as `@actions/core`'s error/warning/notice take it. */
export interface Annotation {
  level: "error" | "warning" | "notice";
  message: string;
  properties: {
    title?: string;
    file?: string;
    startLine?: number;
    endLine?: number;
    startColumn?: number;
    endColumn?: number;
  };
}

/** Reverses the runner's escaping (`escapeData`/`escapeProperty` of annotations.ts). */
function unescapeCommand(text: string): string {
  return text.replace(/%(25|0D|0A|3A|2C)/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

const COMMAND = /^::(error|warning|notice)(?: ([^:]*))?::(.*)$/;
const MORE = /^and (\d+) more\b/;

/**
 * Reads `annotations.txt` (docs/artifacts.md): one `::LEVEL PROPS::MESSAGE` workflow command per
 * line, escaped by proof. Returns the findings, unescaped, and the count of further findings that
 * a closing `::notice::and N more ...` line announces. Lines of another form are ignored: the
 * file is proof's, but the action prints only what it parsed, through `@actions/core`, which
 * escapes it again.
 */
export function parseAnnotations(text: string): { findings: Annotation[]; more: number } {
  const findings: Annotation[] = [];
  let more = 0;
  for (const line of text.split("\n")) {
    const m = COMMAND.exec(line.replace(/\r$/, ""));
    if (!m) continue;
    const [, level, props, data] = m as unknown as [string, Annotation["level"], string | undefined, string];
    const message = unescapeCommand(data);
    const counted = level === "notice" && props === undefined ? MORE.exec(message) : null;
    if (counted) {
      more += Number(counted[1]);
      continue;
    }
    const properties: Annotation["properties"] = {};
    for (const pair of (props ?? "").split(",")) {
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      const key = pair.slice(0, eq);
      const value = unescapeCommand(pair.slice(eq + 1));
      const n = Number.parseInt(value, 10);
      if (key === "title" || key === "file") properties[key] = value;
      else if (key === "line" && n > 0) properties.startLine = n;
      else if (key === "endLine" && n > 0) properties.endLine = n;
      else if (key === "col" && n > 0) properties.startColumn = n;
      else if (key === "endColumn" && n > 0) properties.endColumn = n;
    }
    findings.push({ level, message, properties });
  }
  return { findings, more };
}

/**
 * Findings the step annotates one by one. GitHub keeps at most 10 error and 10 warning
 * annotations per step, and the step adds one error of its own when the gate fails, so 9
 * findings fit with it under both limits.
 */
export const MAX_ACTION_ANNOTATIONS = 9;

/**
 * The annotations to print: the first {@link MAX_ACTION_ANNOTATIONS} findings (annotations.txt
 * lists the most severe first), each `file` made relative to the workspace by prefixing
 * `prefix` (the working directory, `/`-separated, empty for the workspace itself), then one
 * notice `and N more findings in OUT/report.json` when findings were left out, here or by proof.
 */
export function selectAnnotations(
  parsed: { findings: Annotation[]; more: number },
  prefix: string,
  reportPath: string,
): Annotation[] {
  const shown = parsed.findings.slice(0, MAX_ACTION_ANNOTATIONS).map((a) => {
    const file = a.properties.file;
    if (file === undefined || prefix === "" || file.startsWith("/")) return a;
    return { ...a, properties: { ...a.properties, file: `${prefix}/${file}` } };
  });
  const hidden = parsed.findings.length - shown.length + parsed.more;
  if (hidden > 0)
    shown.push({
      level: "notice",
      message: `and ${hidden} more ${hidden === 1 ? "finding" : "findings"} in ${reportPath}`,
      properties: {},
    });
  return shown;
}

/** The largest step summary GitHub accepts from one step, in bytes. */
export const MAX_STEP_SUMMARY_BYTES = 1024 * 1024;

/**
 * `summary.md` cut to fit the step summary: whole lines up to {@link MAX_STEP_SUMMARY_BYTES}
 * minus room for a closing note naming the full file.
 */
export function fitSummary(markdown: string, fullPath: string): string {
  if (Buffer.byteLength(markdown, "utf8") <= MAX_STEP_SUMMARY_BYTES) return markdown;
  const note = `\n\n_The summary is cut here: the full text is ${fullPath} in the uploaded artifact._\n`;
  const room = MAX_STEP_SUMMARY_BYTES - Buffer.byteLength(note, "utf8");
  const head = Buffer.from(markdown, "utf8").subarray(0, room).toString("utf8");
  const cut = head.lastIndexOf("\n");
  return `${cut > 0 ? head.slice(0, cut) : ""}${note}`;
}
