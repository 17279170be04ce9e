/**
 * The gate step of the GitHub action (action/action.yml), bundled as dist/action.js: it reads the
 * inputs with `@actions/core` (the step passes them as INPUT_* variables), runs the CI contract
 * script shipped beside it (scripts/proof-ci.sh, which runs the bundled proof, or proof-gate from
 * npm with the `version` input), then publishes what the script wrote: the step summary from
 * summary.md, annotations from annotations.txt, and the outputs `exit-code`, `verdict`,
 * `summary-path`, `artifact-path` and `sarif-path`. It exits with proof's exit code, unchanged.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as core from "@actions/core";
import { inputError, ProofError } from "../errors.js";
import { fileLimit, readTextFile } from "../io/files.js";
import { parseJson } from "../trace/json.js";
import { baseDigests } from "./base.js";
import {
  type ActionInputs,
  checkInputs,
  fitSummary,
  gateEnvironment,
  parseAnnotations,
  selectAnnotations,
  verdictOf,
} from "./gate.js";

/** The root of the shipped files (bin/, dist/, scripts/): the parent of this bundle's dist/. */
const ROOT = fileURLToPath(new URL("..", import.meta.url));

function readInputs(): ActionInputs {
  return {
    config: core.getInput("config"),
    policy: core.getInput("policy"),
    traces: core.getInput("traces"),
    baseline: core.getInput("baseline"),
    failOn: core.getInput("fail-on"),
    args: core.getInput("args"),
    workingDirectory: core.getInput("working-directory"),
    version: core.getInput("version"),
    annotations: core.getInput("annotations") !== "false",
  };
}

/** `path` relative to the workspace, `/`-separated; absolute when it lies outside it. */
function fromWorkspace(path: string, workspace: string): string {
  const rel = relative(workspace, path);
  if (rel === "") return ".";
  if (rel.startsWith("..") || isAbsolute(rel)) return path;
  return sep === "/" ? rel : rel.split(sep).join("/");
}

/**
 * Runs the contract script with bash in `cwd`. Its output names cases (trace text, which an
 * attacker may control), so the runner's command processing is stopped around it with a random
 * token, and stderr is merged into stdout so that no line can overtake the stop command.
 * Resolves with the script's exit code.
 */
function runScript(script: string, cwd: string, env: Record<string, string>): Promise<number> {
  const token = randomBytes(16).toString("hex");
  process.stdout.write(`::stop-commands::${token}\n`);
  let last = 10;
  const relay = (chunk: Buffer) => {
    if (chunk.length > 0) last = chunk[chunk.length - 1] as number;
    process.stdout.write(chunk);
  };
  return new Promise((done, fail) => {
    const child = spawn("bash", [script], { cwd, env, stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
    child.stdout.on("data", relay);
    child.stderr.on("data", relay);
    child.on("error", (err) => {
      process.stdout.write(`${last === 10 ? "" : "\n"}::${token}::\n`);
      fail(
        (err as NodeJS.ErrnoException).code === "ENOENT"
          ? new ProofError("action.no_bash", "bash was not found on PATH: the action needs bash", {
              category: "dependency",
              cause: err,
            })
          : err,
      );
    });
    child.on("close", (code, signal) => {
      process.stdout.write(`${last === 10 ? "" : "\n"}::${token}::\n`);
      done(code ?? 128 + (signal === "SIGKILL" ? 9 : 15));
    });
  });
}

/** The `@actions/core` function printing each annotation level. */
const ANNOTATE = { error: core.error, warning: core.warning, notice: core.notice };

/** Reads a file of the out dir, or undefined when it is absent or unreadable (logged). */
async function readOut(file: string): Promise<string | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    return await readTextFile(file, fileLimit());
  } catch (err) {
    core.warning(`proof: ${file} could not be read: ${(err as Error).message}`);
    return undefined;
  }
}

/** The gate step; resolves with the exit code to end with (proof's own). */
async function main(): Promise<number> {
  const inputs = readInputs();
  checkInputs(inputs);
  const workspace = resolve(process.env.GITHUB_WORKSPACE || process.cwd());
  const cwd = resolve(workspace, inputs.workingDirectory || ".");
  if (!existsSync(cwd) || !statSync(cwd).isDirectory())
    throw inputError(
      "action.working_directory",
      `the working-directory '${inputs.workingDirectory}' is not a directory`,
    );
  const prefix = fromWorkspace(cwd, workspace);

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith("INPUT_")) env[k] = v;
  Object.assign(env, gateEnvironment(inputs, process.env));

  const baseRef = process.env.GITHUB_BASE_REF ?? "";
  if (baseRef !== "") {
    const digests = await baseDigests(
      { cwd, baseRef, config: inputs.config, policy: inputs.policy, baseline: inputs.baseline },
      (line) => core.info(`proof: ${line}`),
    );
    if (digests.policy) env.PROOF_BASE_POLICY_DIGEST = digests.policy;
    if (digests.baseline) env.PROOF_BASE_BASELINE_DIGEST = digests.baseline;
    // The base branch's policy compiled: the script diffs it rule by rule for the step summary.
    if (digests.policy) {
      env.PROOF_BASE_REF = `origin/${baseRef}`;
      env.PROOF_POLICY_DIFF = join(mkdtempSync(join(tmpdir(), "proof-diff-")), "policy-diff.md");
    }
  }

  const code = await runScript(join(ROOT, "scripts", "proof-ci.sh"), cwd, env);
  const out = resolve(cwd, env.PROOF_OUT as string);
  const outPath = fromWorkspace(out, workspace);
  const statusText = await readOut(join(out, "status.json"));
  let status: { phase?: unknown; code?: unknown } | undefined;
  try {
    if (statusText !== undefined) status = parseJson(statusText, "status.json") as typeof status;
  } catch {
    status = undefined;
  }
  const policyDiff = env.PROOF_POLICY_DIFF ? await readOut(env.PROOF_POLICY_DIFF) : undefined;
  // With PROOF_FAIL_ON_LOOSENING=1 the script turns a passing gate into 5 on a loosening policy
  // diff; status.json keeps the gate's own 0.
  const loosened = code === 5 && status?.code === 0 && env.PROOF_FAIL_ON_LOOSENING === "1" && !!policyDiff;
  const verdict = loosened ? "fail" : verdictOf(status, code);
  const gateRan = verdict === "pass" || verdict === "fail";

  if (gateRan) {
    const gateSummary = await readOut(join(out, "summary.md"));
    const summary = policyDiff ? `${policyDiff}\n${gateSummary ?? ""}` : gateSummary;
    // A summary that cannot be written (no GITHUB_STEP_SUMMARY outside a runner, a full disk)
    // is reported, never allowed to replace proof's exit code.
    if (summary !== undefined && process.env.GITHUB_STEP_SUMMARY)
      await core.summary
        .addRaw(fitSummary(summary, `${outPath}/summary.md`))
        .write()
        .catch((err: unknown) =>
          core.warning(`proof: the step summary was not written: ${(err as Error).message}`),
        );
    const annotations = inputs.annotations ? await readOut(join(out, "annotations.txt")) : undefined;
    if (annotations !== undefined) {
      const filePrefix = prefix === "." || isAbsolute(prefix) ? "" : prefix;
      for (const a of selectAnnotations(parseAnnotations(annotations), filePrefix, `${outPath}/report.json`))
        ANNOTATE[a.level](a.message, a.properties);
    }
  }

  core.setOutput("exit-code", String(code));
  core.setOutput("verdict", verdict);
  core.setOutput("summary-path", `${outPath}/summary.md`);
  core.setOutput("artifact-path", outPath);
  core.setOutput(
    "sarif-path",
    gateRan && existsSync(join(out, "results.sarif")) ? `${outPath}/results.sarif` : "",
  );

  if (verdict === "fail")
    core.setFailed(`proof: the gate failed (exit 5): see the step summary and ${outPath}/`);
  else if (verdict === "command-failed")
    core.setFailed(`proof: the wrapped command failed with exit ${code}; the gate did not run`);
  else if (code !== 0)
    core.setFailed(`proof: proof failed with exit ${code}, not a gate verdict (see the log above)`);
  else if (verdict === "error") core.warning("proof: proof exited 0 but wrote no status.json for it");
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const known = err instanceof ProofError;
    const code = known ? err.exitCode : 1;
    core.setOutput("exit-code", String(code));
    core.setOutput("verdict", "error");
    core.setFailed(
      known ? `proof: ${err.message} (${err.code})` : `proof: ${String((err as Error)?.stack ?? err)}`,
    );
    process.exitCode = code;
  },
);
