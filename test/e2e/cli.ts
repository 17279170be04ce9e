/** Runs the built CLI (`node bin/proof.js`) as a user would; `npm test` builds dist/ first. */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
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
  return proofWithNode([], args, cwd, env);
}

/** {@link proof} with options for `node` itself before the launcher (`--import HOOK`, V8 flags). */
export function proofWithNode(
  nodeArgs: string[],
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<RunResult> {
  return runAs([process.execPath, ...nodeArgs, BIN, ...args], cwd, env);
}

/**
 * How to run a command without root's privileges: as root (CI runs as root) `setpriv` drops to
 * the user `nobody` (uid and gid 65534), so that permission bits apply; as anyone else, nothing.
 * Undefined when the tests run as root and `setpriv` (util-linux) is missing.
 */
export const UNPRIVILEGED: readonly string[] | undefined =
  process.getuid?.() !== 0
    ? []
    : existsSync("/usr/bin/setpriv")
      ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
      : undefined;

/**
 * {@link proof} as a user whom permission bits bind (see {@link UNPRIVILEGED}); `cwd` and the
 * files the run reads must be readable by that user.
 */
export function proofUnprivileged(args: string[], cwd: string): Promise<RunResult> {
  if (UNPRIVILEGED === undefined) throw new Error("no way to drop root's privileges here");
  return runAs([...UNPRIVILEGED, process.execPath, BIN, ...args], cwd, {});
}

function runAs(command: string[], cwd: string, env: Record<string, string>): Promise<RunResult> {
  const base = { ...process.env };
  delete base.PROOF_DEBUG;
  const [file = "", ...rest] = command;
  return new Promise((resolve, reject) => {
    execFile(
      file,
      rest,
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
