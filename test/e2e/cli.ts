/** Runs the built CLI (`node bin/proof.js`) as a user would; `npm test` builds dist/ first. */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The launcher of the built bundle. */
export const BIN = join(ROOT, "bin", "proof.js");

/** What one run of the CLI did. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/proof.js ARGS` in `cwd` and resolves with its exit code and output (never
 * rejects on a non-zero exit). `env` is added to a copy of the environment without PROOF_DEBUG.
 */
export function proof(args: string[], cwd: string, env: Record<string, string> = {}): Promise<RunResult> {
  const base = { ...process.env };
  delete base.PROOF_DEBUG;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...base, NO_COLOR: "1", ...env }, maxBuffer: 256 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(err);
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** Temporary directories made by {@link tempDir}, removed by {@link removeTempDirs}. */
const made: string[] = [];

/** A fresh temporary directory (fs.mkdtemp under the OS temp dir). */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "proof-e2e-"));
  made.push(dir);
  return dir;
}

/** Removes every directory {@link tempDir} made; for afterAll. */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Every file under a directory, relative `/`-separated path -> bytes, sorted by path. */
export async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile())
    .map((e) =>
      join(e.parentPath, e.name)
        .slice(dir.length + 1)
        .split("\\")
        .join("/"),
    )
    .sort();
  for (const f of files) out.set(f, await readFile(join(dir, f)));
  return out;
}

/** Every file a gate writes into its out dir (docs/artifacts.md). */
export const GATE_ARTIFACTS = [
  "annotations.txt",
  "decisions.jsonl",
  "junit.xml",
  "manifest.json",
  "report.json",
  "results.sarif",
  "status.json",
  "summary.md",
];
