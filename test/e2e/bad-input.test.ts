/**
 * Invalid input of any kind: exit 6, exactly one readable line on stderr naming file:line:column
 * where there is one, the `--json` envelope on stdout, and no artifacts: the out dir of the last
 * good run stays byte for byte, and no staging directory is left behind.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyDigest } from "../../src/policy/compile.js";
import type { ProofIR } from "../../src/policy/ir.js";
import { proof, ROOT, removeTempDirs, snapshot, tempDir } from "./cli.js";

const RUN =
  "fixtures/corpus/agentdojo/runs/claude-3-5-sonnet-20241022/banking/user_task_0/important_instructions";
const GOOD_TRACE = join(ROOT, RUN, "injection_task_5.json");
const POLICY = join(ROOT, "examples/policies/agentdojo-banking.yaml");

const HEAD = "schema: proof.policy/v1\npolicy_id: bad.v1\nrules:\n  - id: a\n";

/** Policies that must not compile, and where the CLI must say the problem is. */
const BAD_POLICIES: Record<string, string> = {
  "malformed.yaml": `${HEAD}\tmatch: {}\n    effect: block\n`,
  "unknown-key.yaml": `${HEAD}    match:\n      tool: [send_money]\n      bogus: 1\n    effect: block\n`,
  "bad-cel.yaml": `${HEAD}    match:\n      tool: [send_money]\n      condition: "args.amount >"\n    effect: block\n`,
  "bad-re2.yaml": `${HEAD}    match:\n      tool: [send_money]\n      args:\n        recipient: { matches: "(?<=x)y" }\n    effect: block\n`,
  "inf.yaml": `${HEAD}    match:\n      tool: [send_money]\n      args:\n        amount: { gt: .inf }\n    effect: block\n`,
  "complex-key.yaml": `${HEAD}    match:\n      ? [tool]\n      : send_money\n    effect: block\n`,
  "deep-context.json": `{"a": ${"[".repeat(600)}${"]".repeat(600)}}\n`,
  "nan-context.yaml": "environment: prod\nlimit: .nan\n",
  "cel-chain.yaml": `${HEAD}    match:\n      tool: [send_money]\n      condition: '${Array(2500).fill("args.amount").join(" + ")} > 0'\n    effect: block\n`,
  "proto.yaml": `schema: proof.policy/v1\npolicy_id: bad.v1\n__proto__: { polluted: true }\nrules: []\n`,
};

interface BadCase {
  name: string;
  args: string[];
  /** The envelope's code. */
  code: string;
  /** The location the line and the envelope must name (null fields: not applicable). */
  location: { file: string; line: number | null; column: number | null } | null;
  message: RegExp;
}

let dir: string;
let half: { line: number; column: number };

const verify = (policy: string, traces: string, ...more: string[]) => [
  "verify",
  "--policy",
  policy,
  "--traces",
  traces,
  "--out",
  "out",
  ...more,
];

beforeAll(async () => {
  dir = await tempDir();
  for (const [name, text] of Object.entries(BAD_POLICIES)) await writeFile(join(dir, name), text);
  await copyFile(POLICY, join(dir, "policy.yaml"));
  // A real run cut in half, as an interrupted download would leave it.
  const text = await readFile(GOOD_TRACE, "utf8");
  const cut = text.slice(0, Math.floor(text.length / 2));
  await writeFile(join(dir, "truncated.json"), cut);
  const lines = cut.split("\n");
  half = { line: lines.length, column: (lines.at(-1) as string).length + 1 };
  // The head of a real binary, under a trace's name.
  await writeFile(join(dir, "binary.json"), (await readFile(process.execPath)).subarray(0, 4096));
  await writeFile(
    join(dir, "latin1.json"),
    Buffer.from('[{"role": "user",\n  "content": "caf\xe9"}]', "latin1"),
  );
  // An IR whose tool index lost a rule, its digest recomputed to match: the rule would be off.
  const compiled = await proof(["compile", "policy.yaml", "-o", "policy.ir.json"], dir);
  expect(compiled.code).toBe(0);
  const ir = JSON.parse(await readFile(join(dir, "policy.ir.json"), "utf8")) as ProofIR;
  const [tool] = Object.keys(ir.tool_index.exact);
  ir.tool_index.exact[tool as string] = [];
  ir.policy_digest = policyDigest(ir);
  await writeFile(join(dir, "index.ir.json"), JSON.stringify(ir));
  await mkdir(join(dir, "no-traces"));
  await writeFile(join(dir, "no-traces", "notes.txt"), "traces are elsewhere\n");
  await writeFile(join(dir, "a-file"), "not a directory\n");
  // A tool call whose name is given twice: JSON.parse keeps the last, other readers the first.
  await writeFile(
    join(dir, "duplicate.json"),
    '[{"role": "user", "content": "hi"},\n {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",\n  "function": {"name": "delete_repo", "name": "list_repos", "arguments": "{}"}}]}]',
  );
  await writeFile(join(dir, "huge-number.json"), '[{"role": "user", "content": "hi", "n": 1e400}]');
  // The out dir of an earlier good run: it must survive byte for byte. (A file of the user's in
  // it would make every run refuse the out dir before reading any input: test/e2e/out-dir.test.ts.)
  const first = await proof(verify("policy.yaml", GOOD_TRACE), dir);
  expect(first.code).toBe(0);
});

afterAll(removeTempDirs);

const CASES: BadCase[] = [
  {
    name: "malformed policy YAML",
    args: verify("malformed.yaml", GOOD_TRACE),
    code: "yaml.syntax",
    location: { file: "malformed.yaml", line: 5, column: 1 },
    message: /tab/i,
  },
  {
    name: "an unknown policy key",
    args: verify("unknown-key.yaml", GOOD_TRACE),
    code: "policy.unknown_key",
    location: { file: "unknown-key.yaml", line: 7, column: 7 },
    message: /unknown key 'bogus'/,
  },
  {
    name: "invalid CEL",
    args: verify("bad-cel.yaml", GOOD_TRACE),
    code: "policy.invalid_cel",
    location: { file: "bad-cel.yaml", line: 7, column: 18 },
    message: /CEL/,
  },
  {
    name: "an invalid RE2 pattern (look-behind is not RE2)",
    args: verify("bad-re2.yaml", GOOD_TRACE),
    code: "policy.invalid_pattern",
    location: { file: "bad-re2.yaml", line: 8, column: 31 },
    message: /RE2/,
  },
  {
    name: "a __proto__ key",
    args: verify("proto.yaml", GOOD_TRACE),
    code: "yaml.forbidden_key",
    location: { file: "proto.yaml", line: 3, column: 1 },
    message: /__proto__/,
  },
  {
    name: "an infinite number in a policy",
    args: verify("inf.yaml", GOOD_TRACE),
    code: "yaml.number_out_of_range",
    location: { file: "inf.yaml", line: 8, column: 23 },
    message: /'\.inf' is not a finite number/,
  },
  {
    name: "a sequence as a mapping key",
    args: verify("complex-key.yaml", GOOD_TRACE),
    code: "yaml.complex_key",
    location: { file: "complex-key.yaml", line: 6, column: 9 },
    message: /mapping key must be a plain value/,
  },
  {
    name: "a context nested 600 deep",
    args: verify("policy.yaml", GOOD_TRACE, "--context", "deep-context.json"),
    code: "yaml.too_deep",
    // The 512th `[`: the object around it is the first level.
    location: { file: "deep-context.json", line: 1, column: 7 + 511 },
    message: /nested deeper than 512 levels/,
  },
  {
    name: "a context holding .nan",
    args: verify("policy.yaml", GOOD_TRACE, "--context", "nan-context.yaml"),
    code: "yaml.number_out_of_range",
    location: { file: "nan-context.yaml", line: 2, column: 8 },
    message: /'\.nan' is not a finite number/,
  },
  {
    name: "a CEL chain of 2,500 terms",
    args: verify("cel-chain.yaml", GOOD_TRACE),
    code: "policy.invalid_cel",
    location: { file: "cel-chain.yaml", line: 7, column: 18 },
    message:
      /invalid CEL in rule 'a' \(rules\[0\]\.match\.condition\): expression nested deeper than 32 levels/,
  },
  {
    name: "an IR whose tool index disagrees with its rules (digest recomputed)",
    args: verify("index.ir.json", GOOD_TRACE),
    code: "ir.invalid",
    location: { file: "index.ir.json", line: null, column: null },
    message: /tool_index does not match the rules/,
  },
  {
    name: "a missing policy",
    args: verify("nowhere.yaml", GOOD_TRACE),
    code: "io.unreadable",
    location: { file: "nowhere.yaml", line: null, column: null },
    message: /no such file/,
  },
  {
    name: "a truncated JSON trace (a real run cut in half)",
    args: verify("policy.yaml", "truncated.json"),
    code: "trace.invalid_json",
    location: null, // set from the cut in the test: the end of the text
    message: /invalid JSON: .*\(the file looks truncated\)$/,
  },
  {
    name: "a trace event with a key given twice",
    args: verify("policy.yaml", "duplicate.json"),
    code: "json.duplicate_key",
    location: { file: "duplicate.json", line: 3, column: 39 },
    message: /key "name" appears twice in one object/,
  },
  {
    name: "a trace with a number outside the double range",
    args: verify("policy.yaml", "huge-number.json"),
    code: "json.number_out_of_range",
    location: { file: "huge-number.json", line: 1, column: 41 },
    message: /number out of range/,
  },
  {
    name: "a binary file named .json",
    args: verify("policy.yaml", "binary.json"),
    code: "io.binary",
    location: { file: "binary.json", line: null, column: null },
    message: /binary file, not text/,
  },
  {
    name: "a trace that is not UTF-8",
    args: verify("policy.yaml", "latin1.json"),
    code: "io.binary",
    location: { file: "latin1.json", line: 2, column: 18 },
    message: /not valid UTF-8/,
  },
  {
    name: "a missing trace file",
    args: verify("policy.yaml", "missing.json"),
    code: "io.unreadable",
    location: { file: "missing.json", line: null, column: null },
    message: /no such file/,
  },
  {
    name: "a directory with no traces",
    args: verify("policy.yaml", "no-traces"),
    code: "trace.none",
    location: null,
    message: /no traces found in no-traces/,
  },
  {
    name: "an unknown --format",
    args: verify("policy.yaml", GOOD_TRACE, "--format", "yaml"),
    code: "usage.format",
    location: null,
    message: /unknown format 'yaml'/,
  },
  {
    name: "an unknown --fail-on",
    args: verify("policy.yaml", GOOD_TRACE, "--fail-on", "deny"),
    code: "usage.verdict",
    location: null,
    message: /--fail-on must be one of allow, warn, require_approval, block/,
  },
  {
    name: "an out dir that is a file",
    args: ["verify", "--policy", "policy.yaml", "--traces", GOOD_TRACE, "--out", "a-file"],
    code: "io.out_dir",
    location: { file: "a-file", line: null, column: null },
    message: /not a directory/,
  },
  {
    name: "an out dir of someone else's files",
    args: ["verify", "--policy", "policy.yaml", "--traces", GOOD_TRACE, "--out", "no-traces"],
    code: "io.out_dir",
    location: { file: "no-traces", line: null, column: null },
    message: /not empty and holds no manifest.json of an earlier run/,
  },
  ...(existsSync("/dev/zero")
    ? [
        {
          name: "/dev/zero as the policy (read up to the limit, not forever)",
          args: verify("/dev/zero", GOOD_TRACE),
          code: "io.too_large",
          location: { file: "/dev/zero", line: null, column: null },
          message: /larger than the input file limit of 4 MiB/,
        },
        {
          name: "/dev/zero as the context",
          args: verify("policy.yaml", GOOD_TRACE, "--context", "/dev/zero"),
          code: "io.too_large",
          location: { file: "/dev/zero", line: null, column: null },
          message: /larger than the input file limit of 4 MiB/,
        },
        {
          name: "/dev/zero as the plan",
          args: verify("policy.yaml", GOOD_TRACE, "--plan", "/dev/zero"),
          code: "io.too_large",
          location: { file: "/dev/zero", line: null, column: null },
          message: /larger than the input file limit of 4 MiB/,
        },
      ]
    : []),
];

function expectedLocation(c: BadCase): BadCase["location"] {
  return c.code === "trace.invalid_json" ? { file: "truncated.json", ...half } : c.location;
}

function prefix(loc: BadCase["location"]): string {
  if (!loc) return "proof: ";
  return `proof: ${[loc.file, loc.line, loc.column].filter((p) => p !== null).join(":")}: `;
}

describe("bad input: exit 6, one line, nothing written", () => {
  it.each(CASES)("$name", async (c) => {
    const before = await snapshot(dir);
    const listing = await readdir(dir);

    const plain = await proof(c.args, dir);
    expect(plain.code).toBe(6);
    expect(plain.stdout).toBe("");
    const lines = plain.stderr.split("\n");
    expect(lines, plain.stderr).toHaveLength(2); // one line and its newline
    expect(lines[1]).toBe("");
    const line = lines[0] as string;
    expect(line.startsWith(prefix(expectedLocation(c))), line).toBe(true);
    expect(line).toMatch(/^proof: /);
    expect(line.replace(/ \(hint: .*\)$/, "")).toMatch(c.message);

    const json = await proof(["--json", ...c.args], dir);
    expect(json.code).toBe(6);
    expect(json.stderr).toBe("");
    const envelope = JSON.parse(json.stdout) as { error: Record<string, unknown>; errors: unknown[] };
    expect(json.stdout.endsWith("}\n")).toBe(true);
    // One problem: `errors` lists it alone, the same object as `error`.
    expect(Object.keys(envelope)).toEqual(["error", "errors", "omitted"]);
    expect(envelope.errors).toEqual([envelope.error]);
    expect(Object.keys(envelope.error).sort()).toEqual(["category", "code", "hint", "location", "message"]);
    expect(envelope.error).toMatchObject({ code: c.code, category: "input", location: expectedLocation(c) });
    expect(envelope.error.message).toMatch(c.message);

    // Nothing changed on disk: the earlier out dir byte for byte, no staging dirs, no lock.
    expect(await snapshot(dir)).toEqual(before);
    expect(await readdir(dir)).toEqual(listing);
    expect(listing.filter((n) => n.includes("staging") || n.endsWith(".lock"))).toEqual([]);
    expect((await snapshot(join(dir, "out"))).has("report.json")).toBe(true);
  });

  it("gives a usage error (missing --traces) as one line, and the envelope with --json", async () => {
    const plain = await proof(["verify", "--policy", "policy.yaml"], dir);
    expect(plain.code).toBe(6);
    // Checked after the config is merged (src/cli/config.ts), so the hint names the config key.
    const hint = "give it on the command line, or as 'traces:' in proof.config.yaml";
    expect(plain.stderr).toBe(`proof: required option '--traces <paths...>' not specified (hint: ${hint})\n`);
    const json = await proof(["--json", "verify", "--policy", "policy.yaml"], dir);
    expect(json.code).toBe(6);
    const error = {
      code: "usage.missing_option",
      category: "input",
      message: "required option '--traces <paths...>' not specified",
      hint,
      location: null,
    };
    expect(JSON.parse(json.stdout)).toEqual({ error, errors: [error], omitted: 0 });
  });

  it("gives commander's own usage errors the envelope with a stable code", async () => {
    const json = await proof(["--json", "verify", "--polcy", "policy.yaml"], dir);
    expect(json.code).toBe(6);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "usage.unknown_option", category: "input" });
    const missing = await proof(["--json", "adapt", "--policy", "policy.yaml"], dir);
    expect(missing.code).toBe(6);
    expect(JSON.parse(missing.stdout).error).toMatchObject({
      code: "usage.missing_option",
      message: "required option '--context <file>' not specified",
    });
  });

  it("keeps an error quoting trace content on one line: no line break, no workflow command", async () => {
    const sub = await tempDir();
    await mkdir(join(sub, "t", "a"), { recursive: true });
    await mkdir(join(sub, "t", "b"), { recursive: true });
    // Two canonical traces whose headers claim the same, attacker-chosen case id: the clash
    // error quotes it.
    const header = (file: string) =>
      JSON.stringify({
        type: "trace",
        trace_id: `sha256:${"a".repeat(64)}`,
        case_id: "x\n::error::pwned",
        source: { format: "openai", file },
        meta: {},
      });
    const event = JSON.stringify({ type: "message", seq: 0, role: "user", content: "hi", at: "[0]" });
    await writeFile(join(sub, "t", "a", "1.jsonl"), `${header("1")}\n${event}\n`);
    await writeFile(join(sub, "t", "b", "2.jsonl"), `${header("2")}\n${event}\n`);
    const r = await proof(["verify", "--policy", POLICY, "--traces", "t", "--out", "out"], sub);
    expect(r.code).toBe(6);
    expect(r.stderr.split("\n")).toHaveLength(2);
    expect(r.stderr).toMatch(/^proof: t\/b\/2\.jsonl: case id 'x ::error::pwned' is used by t\/a\/1\.jsonl/);
    expect(await readdir(sub)).toEqual(["t"]);
  });
});
