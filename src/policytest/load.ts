/**
 * Policy unit tests, `*.test.yaml` (`proof.test/v1`, schemas/policy-test.schema.json,
 * docs/testing.md): parsing and validation with every problem located in the YAML source.
 */
import { posix } from "node:path";
import { inputError, type SourceLocation } from "../errors.js";
import { validatePolicyTest } from "../generated/validate-policy-test.js";
import type { JsonValue, Verdict } from "../policy/ir.js";
import { schemaError } from "../policy/schema-errors.js";
import { locate, parseYaml } from "../policy/yaml.js";
import type { FormatName } from "../trace/model.js";

/** What one piece of expected evidence says; every key given must equal the evidence's. */
export interface EvidenceExpectation {
  rule?: string;
  kind?: "provenance" | "require_before" | "forbid_before" | "max_calls";
  /** The argument path of provenance evidence (the evidence's `arg`). */
  field?: string;
  /** The event the evidence points at: a provenance source, or forbid_before's event found. */
  source?: { seq?: number; type?: string; role?: string; tool?: string };
  integrity?: "unknown" | "untrusted" | "injected";
}

/** What one tool call's decision must be. */
export interface CallExpectation {
  tool?: string;
  verdict?: Verdict;
  rules?: string[];
  evidence?: EvidenceExpectation[];
}

/** What a case expects; absent keys are not checked. */
export interface Expectation {
  verdict?: Verdict;
  rules?: string[];
  evidence?: EvidenceExpectation[];
  calls?: CallExpectation[];
}

/** One call to decide after the case's events, as `proof check --call` takes it. */
export interface TestCall {
  tool: string;
  args?: { [key: string]: JsonValue };
  call_id?: string;
}

/** One test case, its paths resolved against the test file's directory. */
export interface TestCase {
  name: string;
  /** The policy path to load (a file, an IR or a directory), `/`-separated. */
  policy: string;
  /** Whether `policy` was derived from the test file's name rather than written. */
  policyImplied: boolean;
  context: Record<string, unknown>;
  trace?: string;
  format: FormatName | "auto";
  /** Inline canonical events as written (defaults filled in by the runner). */
  events?: Record<string, unknown>[];
  call?: TestCall;
  expect: Expectation;
  /** Where the case starts in the test file (its `- name:` item). */
  location: SourceLocation;
  /** Locates a path below this case (`["events", 2]`) in the test file. */
  locate(path: readonly (string | number)[]): SourceLocation;
}

/** A parsed test file. */
export interface TestFile {
  file: string;
  cases: TestCase[];
}

interface RawCase {
  name: string;
  policy?: string;
  context?: Record<string, unknown>;
  trace?: string;
  format?: FormatName | "auto";
  events?: Record<string, unknown>[];
  call?: TestCall;
  expect: Expectation;
}

interface RawFile {
  schema: "proof.test/v1";
  policy?: string;
  context?: Record<string, unknown>;
  cases: RawCase[];
}

/** Whether a file name is a policy test (`*.test.yaml` or `*.test.yml`). */
export function isPolicyTestFile(name: string): boolean {
  return /\.test\.ya?ml$/.test(name);
}

/** The policy beside a test file: `foo.test.yaml` tests `foo.yaml` (`.yml` for `.test.yml`). */
export function impliedPolicy(file: string): string {
  return file.replace(/\.test\.(ya?ml)$/, ".$1");
}

/**
 * Parses and validates one test file. Paths in it are relative to its directory; a case without
 * a policy (and a file without one) tests the policy beside the file.
 * @param file the test file's path as shown (relative, `/`-separated): the base of its paths.
 * @throws ProofError (exit 6), located at file:line:column: YAML errors (`yaml.*`), schema errors
 *   (`test.unknown_key`, `test.missing_key`, `test.wrong_type`, `test.invalid_value`, ...),
 *   `test.duplicate_name` for two cases of one name, `test.input` for a case with both `trace`
 *   and `events`, or one with no input at all.
 */
export function parseTestFile(text: string, file: string): TestFile {
  const parsed = parseYaml(text, file);
  if (!validatePolicyTest(parsed.value)) throw schemaError(parsed, validatePolicyTest.errors, "test");
  const raw = parsed.value as RawFile;
  const dir = posix.dirname(file);
  const resolve = (p: string): string => posix.normalize(posix.isAbsolute(p) ? p : posix.join(dir, p));
  const seen = new Map<string, number>();
  const cases = raw.cases.map((c, i): TestCase => {
    const at = (path: readonly (string | number)[], key?: string): SourceLocation =>
      locate(parsed, ["cases", i, ...path], key);
    const other = seen.get(c.name);
    if (other !== undefined) {
      throw inputError(
        "test.duplicate_name",
        `case name '${c.name}' is also used by cases[${other}]`,
        at(["name"]),
        "give each case of a file its own name: reports and junit.xml name cases by it",
      );
    }
    seen.set(c.name, i);
    if (c.trace !== undefined && c.events !== undefined) {
      throw inputError(
        "test.input",
        "a case has either `trace` (a file) or `events` (inline), not both",
        at([], "events"),
      );
    }
    if (c.format !== undefined && c.trace === undefined) {
      throw inputError("test.input", "`format` applies to `trace` only", at([], "format"));
    }
    if (c.trace === undefined && c.events === undefined && c.call === undefined) {
      throw inputError(
        "test.input",
        `case '${c.name}' has no input: give \`trace\`, \`events\` or \`call\``,
        at([]),
      );
    }
    const policy = c.policy ?? raw.policy;
    return {
      name: c.name,
      policy: policy === undefined ? impliedPolicy(file) : resolve(policy),
      policyImplied: policy === undefined,
      context: c.context ?? raw.context ?? {},
      ...(c.trace !== undefined ? { trace: resolve(c.trace) } : {}),
      format: c.format ?? "auto",
      ...(c.events !== undefined ? { events: c.events } : {}),
      ...(c.call !== undefined ? { call: c.call } : {}),
      expect: c.expect,
      location: at([]),
      locate: (path) => at(path),
    };
  });
  return { file, cases };
}
