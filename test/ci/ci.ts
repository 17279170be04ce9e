/** Helpers of the CI tests: run the contract script (scripts/proof-ci.sh) with bash, as CI does. */
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BIN, GATE_ARTIFACTS, proof, ROOT, type RunResult } from "../e2e/cli.js";

export { GATE_ARTIFACTS };

/** The contract script, run from the repository as from an installed package. */
export const SCRIPT = join(ROOT, "scripts", "proof-ci.sh");

/**
 * Runs `bash [bashArgs] scripts/proof-ci.sh` in `cwd` with `env` added to a copy of the
 * environment from which every PROOF_ and GITHUB_ variable is removed (so the caller's
 * environment cannot change the contract under test). Never rejects on a non-zero exit.
 */
export function runScript(
  cwd: string,
  env: Record<string, string>,
  bashArgs: string[] = [],
  script = SCRIPT,
): Promise<RunResult> {
  const base: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("PROOF_") && !k.startsWith("GITHUB_")) base[k] = v;
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [...bashArgs, script],
      { cwd, env: { ...base, NO_COLOR: "1", ...env }, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** `PROOF_BIN` running the built CLI explicitly (the script's default finds the same file). */
export const PROOF_BIN = `${process.execPath} ${BIN}`;

/** Reads and parses a JSON file. */
export async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
}

/**
 * Makes `dir` a regressed corpus: the banking golden scenario with a recorded baseline at the
 * default path (.proof/baseline.json), then the policy loosened so that two blocked attacks only
 * warn or ask for approval. Returns the bundle digest the baseline was made with.
 */
export async function regressedCorpus(dir: string): Promise<string> {
  const scenario = join(ROOT, "fixtures", "golden", "banking");
  await cp(join(scenario, "traces"), join(dir, "traces"), { recursive: true });
  const policy = await readFile(join(scenario, "policy.yaml"), "utf8");
  await writeFile(join(dir, "policy.yaml"), policy);
  const init = await proof(["regress", "init", "--policy", "policy.yaml", "--traces", "traces"], dir);
  if (init.code !== 0) throw new Error(`regress init failed: ${init.stderr}`);
  const loosened = policy.replace("effect: block", "effect: warn");
  if (loosened === policy) throw new Error("the banking policy has no block rule to loosen");
  await writeFile(join(dir, "policy.yaml"), loosened);
  const baseline = await readJson(join(dir, ".proof", "baseline.json"));
  return baseline.bundle_digest as string;
}

/** A script `exit.mjs` in `dir` that exits with the code given as its argument. */
export async function exitScript(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "exit.mjs"), "process.exit(Number(process.argv[2]));\n");
}
