/**
 * Runs action/action.yml as the GitHub runner would: each `run:` step's script with
 * `bash --noprofile --norc -eo pipefail`, its `env:` resolved from the inputs and earlier steps'
 * outputs, in the environment the runner gives every step (GITHUB_WORKSPACE, GITHUB_OUTPUT,
 * GITHUB_STEP_SUMMARY, GITHUB_ENV, GITHUB_EVENT_NAME, GITHUB_BASE_REF on a pull request). The gate
 * step runs the built dist/action.js, which runs scripts/proof-ci.sh and bin/proof.js beside it,
 * exactly the files a release of the action ships. `uses:` steps (setup-node, upload-artifact,
 * upload-sarif) are not run; the run records which of them their `if:` would have started.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmod, cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  type Annotation,
  fitSummary,
  gateEnvironment,
  MAX_ACTION_ANNOTATIONS,
  MAX_STEP_SUMMARY_BYTES,
  parseAnnotations,
  selectAnnotations,
} from "../../src/action/gate.js";
import { ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { regressedCorpus } from "./ci.js";

interface Step {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
  "continue-on-error"?: boolean;
}

interface Action {
  inputs: Record<string, { default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { steps: Step[] };
}

const ACTION_FILE = join(ROOT, "action", "action.yml");

/** What a simulated job of the action produced. */
interface ActionRun {
  /** Every step's stdout, in order, as the runner's log would read it. */
  log: string;
  /** The action's outputs, resolved from its `outputs:` section. */
  outputs: Record<string, string>;
  /** GITHUB_OUTPUT as the gate step left it, unparsed. */
  gateOutputFile: string;
  summary: string;
  /** The exit code of the last step that ran (the action's result). */
  code: number;
  /** Each `uses:` step whose `if:` held, with its `with:` resolved. */
  used: { uses: string; with: Record<string, string> }[];
}

/** Parses GITHUB_OUTPUT / GITHUB_ENV content: `name=value` and `name<<DELIM ... DELIM`. */
function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc as unknown as [string, string, string];
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i] as string);
      out[name] = value.join("\n");
    } else if (line.includes("=")) out[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
  }
  return out;
}

/**
 * The subset of the expression language action.yml uses: `a || b`, `a && b`, `a == 'x'`,
 * `a != 'x'`, `always()`, string literals and `inputs.*`, `steps.*.outputs.*`, `github.*`
 * references.
 */
function evaluate(expr: string, ctx: Record<string, unknown>): string | boolean {
  const e = expr.trim();
  if (e.includes("||")) {
    for (const part of e.split("||")) {
      const v = evaluate(part, ctx);
      if (v) return v;
    }
    return "";
  }
  if (e.includes("&&")) return e.split("&&").every((part) => Boolean(evaluate(part, ctx)));
  if (e.includes("!=")) {
    const [a, b] = e.split("!=") as [string, string];
    return evaluate(a, ctx) !== evaluate(b, ctx);
  }
  if (e.includes("==")) {
    const [a, b] = e.split("==") as [string, string];
    return evaluate(a, ctx) === evaluate(b, ctx);
  }
  if (e === "always()") return true;
  if (/^'.*'$/.test(e)) return e.slice(1, -1);
  let value: unknown = ctx;
  for (const key of e.split(".")) value = (value as Record<string, unknown> | undefined)?.[key];
  return value === undefined || value === null ? "" : String(value);
}

/** Replaces every `${{ expr }}` in a string. */
function interpolate(text: string, ctx: Record<string, unknown>): string {
  return text.replace(/\$\{\{(.*?)\}\}/g, (_, expr: string) => String(evaluate(expr, ctx)));
}

function bash(
  file: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      ["--noprofile", "--norc", "-eo", "pipefail", file],
      { cwd, env, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout });
      },
    );
  });
}

/** How a simulated run differs from a plain job. */
interface RunOptions {
  event?: string;
  /** Directories put first on PATH (fake `node` or `npx`). */
  path?: string[];
  /** The action's directory (default the repository's action/). */
  actionPath?: string;
  /** Variables the job sets (`env:`), PROOF_ ones included. */
  env?: Record<string, string>;
}

/** Runs the action in `workspace` with `with` as its inputs. */
async function runAction(
  workspace: string,
  withInputs: Record<string, string>,
  options: RunOptions = {},
): Promise<ActionRun> {
  const event = options.event ?? "push";
  const action = parse(await readFile(ACTION_FILE, "utf8")) as Action;
  const runner = await tempDir();
  const files = {
    GITHUB_OUTPUT: join(runner, "output"),
    GITHUB_STEP_SUMMARY: join(runner, "summary.md"),
    GITHUB_ENV: join(runner, "env"),
  };
  await writeFile(files.GITHUB_STEP_SUMMARY, "");
  await writeFile(files.GITHUB_ENV, "");
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs))
    inputs[name] = withInputs[name] ?? spec.default ?? "";
  const steps: Record<string, { outputs: Record<string, string> }> = {};
  const github = {
    event_name: event,
    action_path: options.actionPath ?? join(ROOT, "action"),
    base_ref: event === "pull_request" ? "main" : "",
    workspace,
  };
  const ctx = { inputs, steps, github };
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(PROOF_|GITHUB_|INPUT_|RUNNER_)/.test(k)) base[k] = v;
  if (options.path) base.PATH = [...options.path, base.PATH ?? ""].join(delimiter);
  Object.assign(base, options.env ?? {});
  let log = "";
  let code = 0;
  let gateOutputFile = "";
  let jobEnv: Record<string, string> = {};
  const used: ActionRun["used"] = [];
  let failed = false;
  for (const [index, step] of action.runs.steps.entries()) {
    if (step.if !== undefined ? !evaluate(step.if, ctx) : failed) continue;
    if (step.uses !== undefined) {
      const resolved: Record<string, string> = {};
      for (const [k, v] of Object.entries(step.with ?? {})) resolved[k] = interpolate(String(v), ctx);
      used.push({ uses: step.uses, with: resolved });
      continue;
    }
    expect(step.shell).toBe("bash");
    const script = join(runner, `step-${index}.sh`);
    await writeFile(script, step.run ?? "");
    await writeFile(files.GITHUB_OUTPUT, "");
    const env: Record<string, string> = {
      ...base,
      ...jobEnv,
      ...files,
      RUNNER_TEMP: runner,
      GITHUB_WORKSPACE: workspace,
      GITHUB_EVENT_NAME: event,
      GITHUB_ACTION_PATH: github.action_path,
      NO_COLOR: "1",
    };
    if (github.base_ref !== "") env.GITHUB_BASE_REF = github.base_ref;
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = interpolate(String(v), ctx);
    const r = await bash(script, workspace, env);
    log += r.stdout;
    code = r.code;
    const outputText = await readFile(files.GITHUB_OUTPUT, "utf8");
    if (step.id === "gate") gateOutputFile = outputText;
    if (step.id) steps[step.id] = { outputs: parseFileCommands(outputText) };
    jobEnv = { ...jobEnv, ...parseFileCommands(await readFile(files.GITHUB_ENV, "utf8")) };
    if (r.code !== 0) failed = true;
  }
  const outputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.outputs)) outputs[name] = interpolate(spec.value, ctx);
  return {
    log,
    outputs,
    gateOutputFile,
    summary: await readFile(files.GITHUB_STEP_SUMMARY, "utf8"),
    code,
    used,
  };
}

/**
 * The workflow commands the runner would execute from a log: lines that start (after
 * whitespace) with `::`, except while `::stop-commands::TOKEN` is in force, until `::TOKEN::`.
 */
function liveCommands(log: string): string[] {
  const live: string[] = [];
  let stopToken: string | null = null;
  for (const line of log.split("\n")) {
    const trimmed = line.trim();
    if (stopToken !== null) {
      if (trimmed === `::${stopToken}::`) stopToken = null;
      continue;
    }
    if (!trimmed.startsWith("::")) continue;
    live.push(trimmed);
    const stop = /^::stop-commands::(.+)$/.exec(trimmed);
    if (stop) stopToken = stop[1] as string;
  }
  return live;
}

/** The live annotations of a log, parsed (stop-commands left out). */
function liveAnnotations(log: string): Annotation[] {
  const commands = liveCommands(log).filter((c) => !c.startsWith("::stop-commands::"));
  return parseAnnotations(commands.join("\n")).findings;
}

/** The findings of an annotations.txt. */
async function fileFindings(out: string): Promise<Annotation[]> {
  return parseAnnotations(await readFile(join(out, "annotations.txt"), "utf8")).findings;
}

afterAll(removeTempDirs);

const AIRLINE = "fixtures/golden/airline";
const BANKING = "fixtures/golden/banking";
const FAILED = "proof: the gate failed (exit 5)";

/** A trace whose tool result and arguments carry workflow commands (the escaping scenario). */
function injectionTrace(injected: string): string {
  return JSON.stringify({
    messages: [
      { role: "user", content: "post the page" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "get_webpage", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "c1", content: injected },
      {
        role: "assistant",
        content: "ok",
        tool_calls: [
          {
            id: "c2",
            type: "function",
            function: {
              name: "send_message",
              arguments: JSON.stringify({ body: injected, to: "::error::pwned by argument\n::add-mask::x" }),
            },
          },
        ],
      },
    ],
  });
}

describe("action/action.yml run as the runner would", () => {
  it("passes on a passing corpus: outputs, step summary, no setup-node, SARIF uploaded, exit 0", async () => {
    const ws = await tempDir();
    const run = await runAction(ws, {
      policy: join(ROOT, AIRLINE, "policy.yaml"),
      traces: join(ROOT, AIRLINE, "traces"),
    });
    expect(run.code).toBe(0);
    expect(run.outputs).toEqual({
      "exit-code": "0",
      verdict: "pass",
      "summary-path": "proof-out/summary.md",
      "artifact-path": "proof-out",
      "sarif-path": "proof-out/results.sarif",
    });
    expect(run.summary).toBe(await readFile(join(ws, "proof-out", "summary.md"), "utf8"));
    // The Node.js running this test is 20.19 or newer: the runner's is used, nothing is set up.
    const uses = run.used.map((u) => u.uses.split("@")[0]);
    expect(uses).toEqual(["actions/upload-artifact", "github/codeql-action/upload-sarif"]);
    expect(run.used[1]?.with).toEqual({ sarif_file: "proof-out/results.sarif" });
    // Its require_approval findings are warnings; nothing is an error on a passing gate.
    const live = liveAnnotations(run.log);
    expect(live).toEqual(await fileFindings(join(ws, "proof-out")));
    expect(live.length).toBe(3);
    expect(live.every((a) => a.level === "warning")).toBe(true);
  });

  it("fails with 5 on a blocked corpus, annotating each finding of annotations.txt", async () => {
    const ws = await tempDir();
    const run = await runAction(ws, {
      policy: join(ROOT, BANKING, "policy.yaml"),
      traces: join(ROOT, BANKING, "traces"),
    });
    expect(run.code).toBe(5);
    expect(run.outputs["exit-code"]).toBe("5");
    expect(run.outputs.verdict).toBe("fail");
    const findings = await fileFindings(join(ws, "proof-out"));
    expect(findings.length).toBe(3);
    const live = liveAnnotations(run.log);
    expect(live.slice(0, -1)).toEqual(findings);
    expect(live.at(-1)?.level).toBe("error");
    expect(live.at(-1)?.message).toContain(FAILED);
  });

  it("prints no finding annotation when annotations is false, and fails with 5 all the same", async () => {
    const ws = await tempDir();
    const run = await runAction(ws, {
      policy: join(ROOT, BANKING, "policy.yaml"),
      traces: join(ROOT, BANKING, "traces"),
      annotations: "false",
    });
    expect(run.code).toBe(5);
    const live = liveAnnotations(run.log);
    expect(live.length).toBe(1);
    expect(live[0]?.message).toContain(FAILED);
  });

  it("annotates at most 9 findings, then one 'and N more', within GitHub's 10 errors per step", async () => {
    const ws = await tempDir();
    const trace = join(
      ROOT,
      BANKING,
      "traces",
      "claude-3-5-sonnet-20241022",
      "banking",
      "user_task_5",
      "none",
    );
    for (let i = 0; i < 14; i++) await cp(join(trace, "none.json"), join(ws, "traces", `case-${i}.json`));
    const run = await runAction(ws, { policy: join(ROOT, BANKING, "policy.yaml"), traces: "traces" });
    expect(run.code).toBe(5);
    const commands = liveCommands(run.log).filter((c) => !c.startsWith("::stop-commands::"));
    const parsed = parseAnnotations(commands.join("\n"));
    expect(MAX_ACTION_ANNOTATIONS).toBe(9);
    expect(parsed.findings.filter((a) => a.message.startsWith("case-")).length).toBe(9);
    expect(parsed.more).toBe(5);
    expect(commands.filter((c) => c.startsWith("::error")).length).toBeLessThanOrEqual(10);
    expect(commands).toContain("::notice::and 5 more findings in proof-out/report.json");
  });

  it("never lets trace content issue a workflow command", async () => {
    const ws = await tempDir();
    await mkdir(join(ws, "traces"));
    const injected = "x\n::add-mask::hunter2\n::error file=a.ts::pwned by result\n  ::set-output name=a::b";
    await writeFile(join(ws, "traces", "inject.json"), injectionTrace(injected));
    const run = await runAction(ws, {
      policy: join(ROOT, "fixtures", "golden", "escaping", "policy.yaml"),
      traces: "traces",
      "fail-on": "block",
    });
    expect(run.code).toBe(5);
    const report = JSON.parse(await readFile(join(ws, "proof-out", "report.json"), "utf8"));
    expect(report.summary.verdicts.block).toBe(1);
    // The raw text did reach the log (the script names the case), but only inside the stop guard.
    const live = liveCommands(run.log);
    for (const command of live) {
      expect(command).not.toMatch(/^::(add-mask|set-output)/);
      expect(command).not.toMatch(/^::error[^:]*::pwned/);
      expect(command).not.toMatch(/^::error file=a\.ts/);
    }
    const annotations = liveAnnotations(run.log);
    expect(annotations.slice(0, -1)).toEqual(await fileFindings(join(ws, "proof-out")));
    // The injected text reached an annotation only escaped, inside its message: its line break
    // shown as `\n`, never one the runner would turn back into a line.
    expect(annotations.map((a) => a.message).join("\n")).toContain("x\\n::add-mask::hunter2");
    expect(live.join("\n")).toContain("x\\n::add-mask::hunter2");
  });

  it("writes every output with @actions/core's random heredoc delimiter", async () => {
    const ws = await tempDir();
    const run = await runAction(ws, {
      policy: join(ROOT, AIRLINE, "policy.yaml"),
      traces: join(ROOT, AIRLINE, "traces"),
    });
    const names = [...run.gateOutputFile.matchAll(/^([\w-]+)<<(ghadelimiter_[0-9a-f-]{36})$/gm)].map(
      (m) => m[1],
    );
    expect(names.sort()).toEqual(["artifact-path", "exit-code", "sarif-path", "summary-path", "verdict"]);
    expect(run.gateOutputFile).not.toMatch(/^[\w-]+=/m);
  });

  it("passes proof's own exit 6 (invalid config) through, with verdict error and no SARIF upload", async () => {
    const ws = await tempDir();
    await writeFile(join(ws, "proof.config.yaml"), "schema: proof.config/v1\nfail_onn: block\n");
    const run = await runAction(ws, {});
    expect(run.code).toBe(6);
    expect(run.outputs.verdict).toBe("error");
    expect(run.outputs["sarif-path"]).toBe("");
    expect(run.used.map((u) => u.uses.split("@")[0])).toEqual(["actions/upload-artifact"]);
    expect(liveAnnotations(run.log).map((a) => a.message)).toEqual([
      "proof: proof failed with exit 6, not a gate verdict (see the log above)",
    ]);
  });

  it("fail-on: require_approval fails a corpus that passes at the default block", async () => {
    const ws = await tempDir();
    const inputs = { policy: join(ROOT, AIRLINE, "policy.yaml"), traces: join(ROOT, AIRLINE, "traces") };
    const run = await runAction(ws, { ...inputs, "fail-on": "require_approval" });
    expect(run.code).toBe(5);
    expect(run.outputs.verdict).toBe("fail");
    const report = JSON.parse(await readFile(join(ws, "proof-out", "report.json"), "utf8"));
    expect(report.fail_on).toBe("require_approval");
  });

  it("refuses a fail-on that is not a verdict, with exit 6 and nothing run", async () => {
    const ws = await tempDir();
    const run = await runAction(ws, {
      policy: join(ROOT, AIRLINE, "policy.yaml"),
      "fail-on": "block --out /",
    });
    expect(run.code).toBe(6);
    expect(run.outputs).toMatchObject({ "exit-code": "6", verdict: "error" });
    expect(liveAnnotations(run.log)[0]?.message).toMatch(
      /fail-on input must be one of .*\(action\.fail_on\)/,
    );
  });

  it("working-directory: runs there; outputs and annotation files are relative to the workspace", async () => {
    const ws = await tempDir();
    await cp(join(ROOT, BANKING, "traces"), join(ws, "agent", "traces"), { recursive: true });
    await cp(join(ROOT, BANKING, "policy.yaml"), join(ws, "agent", "policy.yaml"));
    const run = await runAction(ws, {
      "working-directory": "agent",
      policy: "policy.yaml",
      traces: "traces",
    });
    expect(run.code).toBe(5);
    expect(run.outputs).toMatchObject({
      "artifact-path": "agent/proof-out",
      "summary-path": "agent/proof-out/summary.md",
      "sarif-path": "agent/proof-out/results.sarif",
    });
    const files = liveAnnotations(run.log)
      .map((a) => a.properties.file)
      .filter((f) => f !== undefined);
    expect(files.length).toBe(3);
    for (const file of files) expect(file).toMatch(/^agent\/traces\//);
    expect(run.used[0]?.with.path).toBe("agent/proof-out");
  });

  it("refuses a working-directory that does not exist, with exit 6", async () => {
    const ws = await tempDir();
    const run = await runAction(ws, { "working-directory": "nowhere" });
    expect(run.code).toBe(6);
    expect(liveAnnotations(run.log)[0]?.message).toContain("(action.working_directory)");
  });

  it("version: runs `npx --yes --package proof-gate@VERSION proof` instead of the bundle", async () => {
    const ws = await tempDir();
    const bin = await tempDir();
    // A stand-in for npx that records its arguments, then runs the built proof.
    await writeFile(
      join(bin, "npx"),
      `#!/usr/bin/env bash\nprintf '%s\\n' "$*" >> "${join(bin, "calls")}"\nshift 4\nexec "${process.execPath}" "${join(ROOT, "bin", "proof.js")}" "$@"\n`,
    );
    await chmod(join(bin, "npx"), 0o755);
    const run = await runAction(
      ws,
      { policy: join(ROOT, AIRLINE, "policy.yaml"), traces: join(ROOT, AIRLINE, "traces"), version: "0.1.0" },
      { path: [bin] },
    );
    expect(run.code).toBe(0);
    const calls = (await readFile(join(bin, "calls"), "utf8")).trimEnd().split("\n");
    expect(calls.length).toBe(1);
    expect(calls[0]).toMatch(/^--yes --package proof-gate@0\.1\.0 proof --quiet verify /);
  });

  it("sets up Node.js only when the runner's is older than 20.19, or a version is asked for", async () => {
    const ws = await tempDir();
    const bin = await tempDir();
    // A node that reports 20.10 and otherwise is the real one.
    await writeFile(
      join(bin, "node"),
      `#!/usr/bin/env bash\nif [[ $1 == --version ]]; then echo v20.10.0; exit 0; fi\nexec "${process.execPath}" "$@"\n`,
    );
    await chmod(join(bin, "node"), 0o755);
    const inputs = { policy: join(ROOT, AIRLINE, "policy.yaml"), traces: join(ROOT, AIRLINE, "traces") };
    const old = await runAction(ws, inputs, { path: [bin] });
    expect(old.used[0]).toEqual({
      uses: expect.stringMatching(/^actions\/setup-node@/),
      with: { "node-version": "22" },
    });
    const asked = await runAction(ws, { ...inputs, "node-version": "24" });
    expect(asked.used[0]?.with).toEqual({ "node-version": "24" });
    const current = await runAction(ws, inputs);
    expect(current.used.some((u) => u.uses.startsWith("actions/setup-node"))).toBe(false);
  });

  it("fails with 7 and says so when the action's ref carries no built bundle", async () => {
    const ws = await tempDir();
    const copy = await tempDir();
    await cp(join(ROOT, "action"), join(copy, "action"), { recursive: true });
    const run = await runAction(ws, {}, { actionPath: join(copy, "action") });
    expect(run.code).toBe(7);
    expect(run.outputs).toMatchObject({ "exit-code": "7", verdict: "error" });
    expect(liveCommands(run.log)[0]).toMatch(
      /^::error::proof: this ref of the action carries no built bundle/,
    );
  });

  it("runs from a release's files alone, with no node_modules anywhere above them", async () => {
    // What a release tag holds beside action/ (docs/ci.md, Releases of the action).
    const release = await tempDir();
    for (const path of ["action", "bin", "dist", join("scripts", "proof-ci.sh"), "package.json"])
      await cp(join(ROOT, path), join(release, path), { recursive: true });
    const ws = await tempDir();
    await cp(join(ROOT, BANKING, "traces"), join(ws, "traces"), { recursive: true });
    await cp(join(ROOT, BANKING, "policy.yaml"), join(ws, "policy.yaml"));
    const run = await runAction(
      ws,
      { policy: "policy.yaml", traces: "traces" },
      { actionPath: join(release, "action") },
    );
    expect(run.code).toBe(5);
    expect(run.outputs.verdict).toBe("fail");
    expect(run.log).toContain(`proof-ci: proof verify`);
  });

  it("runs the regression gate with a baseline input: a loosened case fails it with 5", async () => {
    const ws = await tempDir();
    await regressedCorpus(ws);
    const run = await runAction(ws, {
      policy: "policy.yaml",
      traces: "traces",
      baseline: ".proof/baseline.json",
    });
    expect(run.code).toBe(5);
    expect(run.outputs.verdict).toBe("fail");
    expect(run.log).toContain("proof-ci: proof regress run");
  });
});

describe("dist/action.js run directly", () => {
  it("keeps proof's exit code when there is no step summary to write (outside a runner)", async () => {
    const ws = await tempDir();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !/^(PROOF_|GITHUB_|INPUT_|RUNNER_)/.test(k)) env[k] = v;
    const result = await new Promise<{ code: number; stdout: string }>((done, fail) => {
      execFile(
        process.execPath,
        [join(ROOT, "dist", "action.js")],
        {
          cwd: ws,
          env: {
            ...env,
            GITHUB_WORKSPACE: ws,
            INPUT_POLICY: join(ROOT, BANKING, "policy.yaml"),
            INPUT_TRACES: join(ROOT, BANKING, "traces"),
          },
          encoding: "utf8",
        },
        (err, stdout) => {
          if (err && typeof err.code !== "number") fail(err);
          else done({ code: err ? (err.code as number) : 0, stdout });
        },
      );
    });
    expect(result.code).toBe(5);
    expect(result.stdout).not.toContain("step summary was not written");
    expect(result.stdout).toContain(FAILED);
  });
});

describe("action/action.yml on a pull request", () => {
  it("passes the base branch's policy and baseline digests: the summary names the policy change", async () => {
    const origin = await tempDir();
    const ws = await tempDir();
    const git = (cwd: string, ...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd, stdio: "pipe" });
    git(origin, "init", "--bare", "-b", "main");
    git(ws, "init", "-b", "main");
    // The base branch: the banking scenario, its baseline recorded with the strict policy.
    await regressedCorpus(ws);
    const strict = await readFile(join(ROOT, BANKING, "policy.yaml"), "utf8");
    const loosened = await readFile(join(ws, "policy.yaml"), "utf8");
    await writeFile(join(ws, "policy.yaml"), strict);
    git(ws, "add", ".");
    git(ws, "commit", "-m", "base");
    git(ws, "remote", "add", "origin", origin);
    git(ws, "push", "origin", "main");
    // The pull request loosens the policy.
    await writeFile(join(ws, "policy.yaml"), loosened);
    const run = await runAction(ws, { policy: "policy.yaml", traces: "traces" }, { event: "pull_request" });
    expect(run.code).toBe(5);
    const baseline = JSON.parse(await readFile(join(ws, ".proof", "baseline.json"), "utf8"));
    expect(run.log).toContain(`this pull request changes the policy (bundle ${baseline.bundle_digest} -> `);
    expect(run.log).not.toContain("changes the baseline");
    // The step summary opens with the policy diff, rule by rule, and its impact on the traces.
    expect(run.summary).toMatch(/^## Policy change\n/);
    expect(run.summary).toMatch(
      /\| changed \| \S+ \(\S+\) \| \*\*LOOSENING\*\* \| effect\\: &quot;block&quot; \\-&gt; &quot;warn&quot; \|/,
    );
    expect(run.summary).toMatch(/### Impact\n\n\d+ cases: [1-9]\d* loosened, 0 tightened\./);
    expect(run.summary).toContain("## "); // the gate's own summary follows
  });

  it("PROOF_FAIL_ON_LOOSENING=1 fails a passing verify gate when the pull request loosens the policy", async () => {
    const setup = async () => {
      const origin = await tempDir();
      const ws = await tempDir();
      const git = (cwd: string, ...args: string[]) =>
        execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd, stdio: "pipe" });
      git(origin, "init", "--bare", "-b", "main");
      git(ws, "init", "-b", "main");
      await cp(join(ROOT, AIRLINE, "traces"), join(ws, "traces"), { recursive: true });
      const policy = await readFile(join(ROOT, AIRLINE, "policy.yaml"), "utf8");
      await writeFile(join(ws, "policy.yaml"), policy);
      git(ws, "add", ".");
      git(ws, "commit", "-m", "base");
      git(ws, "remote", "add", "origin", origin);
      git(ws, "push", "origin", "main");
      const loosened = policy.replace(/effect: (block|require_approval)/, "effect: warn");
      expect(loosened).not.toBe(policy);
      await writeFile(join(ws, "policy.yaml"), loosened);
      return ws;
    };
    const inputs = { policy: "policy.yaml", traces: "traces", "fail-on": "block" };
    const shown = await runAction(await setup(), inputs, { event: "pull_request" });
    expect(shown.code).toBe(0);
    expect(shown.summary).toContain("**LOOSENING**");
    const failed = await runAction(await setup(), inputs, {
      event: "pull_request",
      env: { PROOF_FAIL_ON_LOOSENING: "1" },
    });
    expect(failed.code).toBe(5);
    expect(failed.outputs.verdict).toBe("fail");
    expect(failed.log).toContain(
      "GOVERNANCE: the pull request loosens the policy (PROOF_FAIL_ON_LOOSENING=1): exit 5",
    );
    expect(failed.summary).toContain("**LOOSENING**");
  });

  it("reads the policy from the config, as YAML and relative to it, when no input names it", async () => {
    const origin = await tempDir();
    const ws = await tempDir();
    const git = (cwd: string, ...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd, stdio: "pipe" });
    git(origin, "init", "--bare", "-b", "main");
    git(ws, "init", "-b", "main");
    await regressedCorpus(ws);
    const strict = await readFile(join(ROOT, BANKING, "policy.yaml"), "utf8");
    const loosened = await readFile(join(ws, "policy.yaml"), "utf8");
    await mkdir(join(ws, "policies"));
    await writeFile(join(ws, "policies", "banking.yaml"), strict);
    // In a subdirectory, its paths relative to it (as proof reads them), in YAML flow style.
    await mkdir(join(ws, "ci"));
    await writeFile(
      join(ws, "ci", "proof.config.yaml"),
      "{schema: proof.config/v1, policy: '../policies/', traces: [../traces], baseline: ../.proof/baseline.json}\n",
    );
    git(ws, "add", ".");
    git(ws, "commit", "-m", "base");
    git(ws, "remote", "add", "origin", origin);
    git(ws, "push", "origin", "main");
    await writeFile(join(ws, "policies", "banking.yaml"), loosened);
    const run = await runAction(ws, { config: "ci/proof.config.yaml" }, { event: "pull_request" });
    expect(run.code).toBe(5);
    const baseline = JSON.parse(await readFile(join(ws, ".proof", "baseline.json"), "utf8"));
    expect(run.log).toContain(`this pull request changes the policy (bundle ${baseline.bundle_digest} -> `);
    // proof diff finds the policy and traces in the same config.
    expect(run.summary).toMatch(/^## Policy change\n[\s\S]*\*\*LOOSENING\*\*[\s\S]*### Impact\n/);
  });
});

describe("action/action.yml by its rules", () => {
  it("passes inputs to scripts only through env, pins every action, uploads with always()", async () => {
    const text = await readFile(ACTION_FILE, "utf8");
    const action = parse(text) as Action;
    for (const step of action.runs.steps) {
      if (step.run !== undefined) {
        expect(step.shell, step.name).toBe("bash");
        expect(step.run, step.name).not.toContain("${{");
      } else expect(step.uses, step.name).toMatch(/^[\w-]+\/[\w/-]+@[0-9a-f]{40}$/);
    }
    for (const name of ["actions/setup-node", "actions/upload-artifact", "github/codeql-action/upload-sarif"])
      expect(text).toMatch(new RegExp(`uses: ${name}@[0-9a-f]{40} # v\\d+\\.\\d+\\.\\d+\n`));
    for (const prefix of ["actions/upload-artifact", "github/codeql-action/upload-sarif"]) {
      const step = action.runs.steps.find((s) => s.uses?.startsWith(prefix));
      expect(step?.if, prefix).toMatch(/^always\(\)/);
    }
    const sarif = action.runs.steps.find((s) => s.uses?.startsWith("github/codeql-action/upload-sarif"));
    expect(sarif?.["continue-on-error"]).toBe(true);
    const last = action.runs.steps.at(-1);
    expect(last?.if).toBe("always()");
    expect(last?.run).toMatch(/exit "\$\{GATE_CODE:-1\}"/);
  });

  it("installs nothing at run time: no npm install, and the gate runs the shipped dist/action.js", async () => {
    const text = await readFile(ACTION_FILE, "utf8");
    expect(text).not.toMatch(/npm (install|ci|i) /);
    const gate = (parse(text) as Action).runs.steps.find((s) => s.id === "gate");
    expect(gate?.run).toContain('bundle="$ACTION_PATH/../dist/action.js"');
  });
});

describe("the action's pure parts", () => {
  it("maps inputs to the contract script's variables, every value a word of PROOF_ARGS", () => {
    const env = gateEnvironment(
      {
        config: "ci/proof.config.yaml",
        policy: "p.yaml",
        traces: "a b",
        baseline: "base.json",
        failOn: "warn",
        args: "--redact",
        workingDirectory: "",
        version: "1.2.3",
        annotations: true,
      },
      { PROOF_OUT: "" },
    );
    expect(env).toEqual({
      PROOF_OUT: "proof-out",
      PROOF_ARGS: "--policy p.yaml --traces a b --baseline base.json --fail-on warn --redact",
      PROOF_GATE: "regress",
      PROOF_CONFIG: "ci/proof.config.yaml",
      PROOF_BIN: "npx --yes --package proof-gate@1.2.3 proof",
    });
  });

  it("round-trips proof's escaping and counts proof's own 'and N more'", () => {
    const text = [
      "::error file=a%2Cb.json,title=proof%3A block by r1,line=3,col=7::case%0A::add-mask::x 100%25",
      "::warning file=c.json::w",
      "not a command",
      "::notice::and 12 more findings in report.json",
      "",
    ].join("\n");
    const parsed = parseAnnotations(text);
    expect(parsed.more).toBe(12);
    expect(parsed.findings).toEqual([
      {
        level: "error",
        message: "case\n::add-mask::x 100%",
        properties: { file: "a,b.json", title: "proof: block by r1", startLine: 3, startColumn: 7 },
      },
      { level: "warning", message: "w", properties: { file: "c.json" } },
    ]);
    const shown = selectAnnotations(parsed, "sub", "sub/proof-out/report.json");
    expect(shown.map((a) => a.properties.file)).toEqual(["sub/a,b.json", "sub/c.json", undefined]);
    expect(shown.at(-1)?.message).toBe("and 12 more findings in sub/proof-out/report.json");
  });

  it("cuts a summary over GitHub's 1 MiB at a line, naming the full file", () => {
    const line = `${"x".repeat(99)}\n`;
    const big = line.repeat(20_000);
    const cut = fitSummary(big, "proof-out/summary.md");
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_STEP_SUMMARY_BYTES);
    expect(cut).toMatch(/x\n\n_The summary is cut here: the full text is proof-out\/summary\.md/);
    expect(fitSummary("small\n", "s")).toBe("small\n");
  });
});
