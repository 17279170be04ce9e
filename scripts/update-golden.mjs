// Golden scenarios (fixtures/golden/README.md): each fixtures/golden/<name>/ holds policy.yaml,
// traces/ and expected/, the artifacts `proof verify` must write for them, byte for byte.
// test/golden.test.ts runs the same command and compares; it never writes expected/. This script
// does, deliberately, after a change of behaviour: build first, then review the diff by hand.
//
//   npm run build && node scripts/update-golden.mjs [name...]
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "bin", "proof.js");

/** Where the scenarios live. */
export const GOLDEN = join(root, "fixtures", "golden");

/** Artifacts of the out dir that are compared, and the terminal output kept beside them. */
export const ARTIFACTS = [
  "annotations.txt",
  "decisions.jsonl",
  "junit.xml",
  "manifest.json",
  "report.json",
  "results.sarif",
  "status.json",
  "summary.md",
];
export const STDOUT = "stdout.txt";

/** Names of the scenarios: every directory under fixtures/golden, sorted. */
export function scenarios() {
  return readdirSync(GOLDEN, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/**
 * Runs `proof verify --policy policy.yaml --traces traces --out OUT` inside the scenario's
 * directory (so that report paths are relative to it), without colour.
 * @returns {{status: number | null, stdout: string, stderr: string}}
 */
export function runScenario(name, out) {
  const env = { ...process.env, NO_COLOR: "1" };
  delete env.PROOF_DEBUG;
  const r = spawnSync(
    process.execPath,
    [bin, "verify", "--policy", "policy.yaml", "--traces", "traces", "--out", out],
    { cwd: join(GOLDEN, name), env, encoding: "utf8" },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function update(name) {
  const tmp = mkdtempSync(join(tmpdir(), "proof-golden-"));
  try {
    const out = join(tmp, "out");
    const r = runScenario(name, out);
    // 0 and 5 are the gate's answers; anything else means the scenario itself is broken.
    if (r.status !== 0 && r.status !== 5) {
      process.stderr.write(r.stderr);
      throw new Error(`${name}: proof exited ${r.status}`);
    }
    const expected = join(GOLDEN, name, "expected");
    rmSync(expected, { recursive: true, force: true });
    mkdirSync(expected);
    for (const file of ARTIFACTS) copyFileSync(join(out, file), join(expected, file));
    writeFileSync(join(expected, STDOUT), r.stdout);
    console.log(`${name}: exit ${r.status} -> ${expected}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2);
  for (const name of names.length > 0 ? names : scenarios()) update(name);
}
