/**
 * Runs action/action.yml's `run:` steps as the GitHub runner would: each step's script with
 * `bash --noprofile --norc -eo pipefail`, its `env:` resolved from the inputs and earlier steps'
 * outputs, and temporary GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and GITHUB_ENV files. `uses:` steps
 * (setup-node, upload-artifact) are skipped; PROOF_BIN points at the built CLI.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { PROOF_BIN, regressedCorpus } from "./ci.js";

interface Step {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
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
  summary: string;
  /** The exit code of the last step that ran (the action's result). */
  code: number;
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
 * `always()`, string literals and `inputs.*`, `steps.*.outputs.*`, `github.*` references.
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

/** Runs the action in `workspace` with `with` as its inputs on event `event`. */
async function runAction(
  workspace: string,
  withInputs: Record<string, string>,
  event = "push",
): Promise<ActionRun> {
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
    action_path: join(ROOT, "action"),
    base_ref: event === "pull_request" ? "main" : "",
  };
  const ctx = { inputs, steps, github };
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("PROOF_") && !k.startsWith("GITHUB_")) base[k] = v;
  let log = "";
  let code = 0;
  let jobEnv: Record<string, string> = {};
  for (const [index, step] of action.runs.steps.entries()) {
    if (step.if !== undefined && !evaluate(step.if, ctx)) continue;
    if (step.uses !== undefined) continue;
    expect(step.shell).toBe("bash");
    const script = join(runner, `step-${index}.sh`);
    await writeFile(script, step.run ?? "");
    await writeFile(files.GITHUB_OUTPUT, "");
    const env: Record<string, string> = {
      ...base,
      ...jobEnv,
      ...files,
      PROOF_BIN,
      RUNNER_TEMP: runner,
      GITHUB_ACTION_PATH: github.action_path,
      NO_COLOR: "1",
    };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = interpolate(String(v), ctx);
    const r = await bash(script, workspace, env);
    log += r.stdout;
    code = r.code;
    if (step.id) steps[step.id] = { outputs: parseFileCommands(await readFile(files.GITHUB_OUTPUT, "utf8")) };
    jobEnv = { ...jobEnv, ...parseFileCommands(await readFile(files.GITHUB_ENV, "utf8")) };
    if (r.code !== 0 && step.if === undefined) break;
  }
  const outputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.outputs)) outputs[name] = interpolate(spec.value, ctx);
  return { log, outputs, summary: await readFile(files.GITHUB_STEP_SUMMARY, "utf8"), code };
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

afterAll(removeTempDirs);

const AIRLINE = "fixtures/golden/airline";
const BANKING = "fixtures/golden/banking";

describe("action/action.yml run as the runner would", () => {
  it("passes on a passing corpus: outputs, step summary, exit 0", async () => {
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
    });
    expect(run.summary).toBe(await readFile(join(ws, "proof-out", "summary.md"), "utf8"));
  });

  it("fails with 5 on a blocked corpus and prints the annotations of annotations.txt live", async () => {
    const ws = await tempDir();
    const run = await runAction(ws, {
      policy: join(ROOT, BANKING, "policy.yaml"),
      traces: join(ROOT, BANKING, "traces"),
    });
    expect(run.code).toBe(5);
    expect(run.outputs["exit-code"]).toBe("5");
    expect(run.outputs.verdict).toBe("fail");
    const annotations = (await readFile(join(ws, "proof-out", "annotations.txt"), "utf8"))
      .trimEnd()
      .split("\n");
    expect(annotations.length).toBeGreaterThan(0);
    const live = liveCommands(run.log);
    expect(live.filter((c) => !c.startsWith("::stop-commands::"))).toEqual(annotations);
  });

  it("prints no annotation when annotations is false, and re-exits 5 all the same", async () => {
    const ws = await tempDir();
    const run = await runAction(ws, {
      policy: join(ROOT, BANKING, "policy.yaml"),
      traces: join(ROOT, BANKING, "traces"),
      annotations: "false",
    });
    expect(run.code).toBe(5);
    expect(liveCommands(run.log).filter((c) => !c.startsWith("::stop-commands::"))).toEqual([]);
  });

  it("never lets trace content issue a workflow command", async () => {
    const ws = await tempDir();
    await mkdir(join(ws, "traces"));
    const injected = "x\n::add-mask::hunter2\n::error file=a.ts::pwned by result\n  ::set-output name=a::b";
    await writeFile(
      join(ws, "traces", "inject.json"),
      JSON.stringify({
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
                  arguments: JSON.stringify({
                    body: injected,
                    to: "::error::pwned by argument\n::add-mask::x",
                  }),
                },
              },
            ],
          },
        ],
      }),
    );
    const run = await runAction(ws, {
      policy: join(ROOT, "fixtures", "golden", "escaping", "policy.yaml"),
      traces: "traces",
      args: "--fail-on block",
    });
    expect(run.code).toBe(5);
    const report = JSON.parse(await readFile(join(ws, "proof-out", "report.json"), "utf8"));
    expect(report.summary.verdicts.block).toBe(1);
    const live = liveCommands(run.log);
    const annotations = (await readFile(join(ws, "proof-out", "annotations.txt"), "utf8"))
      .trimEnd()
      .split("\n");
    expect(live.filter((c) => !c.startsWith("::stop-commands::"))).toEqual(annotations);
    for (const command of live) {
      expect(command).not.toMatch(/^::(add-mask|set-output)/);
      expect(command).not.toMatch(/^::error::pwned/);
    }
    // The injected text reached an annotation only escaped, inside its message: its line break
    // shown as `\n`, never one the runner would turn back into a line.
    expect(annotations.join("\n")).toContain("x\\n::add-mask::hunter2");
  });

  it("writes each output once, the artifact path behind a random heredoc delimiter", async () => {
    const ws = await tempDir();
    const action = await readFile(ACTION_FILE, "utf8");
    expect(action).toMatch(/artifact-path<<\$delimiter/);
    expect(action).toMatch(/delimiter="proof_\$\(random\)"/);
    const run = await runAction(ws, {
      policy: join(ROOT, AIRLINE, "policy.yaml"),
      traces: join(ROOT, AIRLINE, "traces"),
    });
    expect(run.outputs["artifact-path"]).toBe("proof-out");
  });

  it("passes proof's own exit 6 (invalid config) through, with verdict error", async () => {
    const ws = await tempDir();
    // An unreadable config: proof exits 6 and the action passes it through.
    await writeFile(join(ws, "proof.config.yaml"), "schema: proof.config/v1\nfail_onn: block\n");
    const run = await runAction(ws, {});
    expect(run.code).toBe(6);
    expect(run.outputs.verdict).toBe("error");
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
    const run = await runAction(ws, { policy: "policy.yaml", traces: "traces" }, "pull_request");
    expect(run.code).toBe(5);
    const baseline = JSON.parse(await readFile(join(ws, ".proof", "baseline.json"), "utf8"));
    expect(run.log).toContain(`this pull request changes the policy (bundle ${baseline.bundle_digest} -> `);
    expect(run.log).not.toContain("changes the baseline");
  });
});

describe("action/action.yml by its rules", () => {
  it("passes inputs to scripts only through env, and runs every script step with bash", async () => {
    const action = parse(await readFile(ACTION_FILE, "utf8")) as Action;
    for (const step of action.runs.steps) {
      if (step.run !== undefined) {
        expect(step.shell, step.name).toBe("bash");
        expect(step.run, step.name).not.toContain("${{");
      } else expect(step.uses, step.name).toMatch(/^[\w-]+\/[\w-]+@[0-9a-f]{40}$/);
    }
    expect(await readFile(ACTION_FILE, "utf8")).toMatch(
      /uses: actions\/upload-artifact@[0-9a-f]{40} # v\d+\.\d+\.\d+/,
    );
    const upload = action.runs.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"));
    expect(upload?.if).toMatch(/^always\(\)/);
    const last = action.runs.steps.at(-1);
    expect(last?.if).toBe("always()");
  });
});
