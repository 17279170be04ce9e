/**
 * System tools some tests need (shellcheck, rsync, openssl, script): such a test runs whenever the
 * tool is present, always in CI (where `.ci/run` installs it, so a missing tool fails the test
 * instead of hiding it), and elsewhere is skipped with the reason, which vitest prints.
 */
import { execFileSync } from "node:child_process";

/** Whether the environment is a CI job: `CI` set to anything but empty, `0` or `false`. */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI;
  return value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false";
}

/** Whether `name` runs here: `name ...probe` exits 0 (found on PATH and working). */
export function toolRuns(name: string, probe: readonly string[] = ["--version"]): boolean {
  try {
    execFileSync(name, [...probe], { stdio: "ignore", timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** The probe that shows each tool runs (`openssl --version` is no valid command). */
const PROBES: Readonly<Record<string, readonly string[]>> = {
  openssl: ["version"],
  script: ["-V"],
  kubectl: ["version", "--client"],
};

/**
 * Why tests needing `tools` are skipped here, or undefined when they run: always under CI, else
 * when every tool runs.
 * @returns e.g. "needs rsync, not found (install it to run this test; under CI=true it must be there)"
 */
export function missingTools(...tools: string[]): string | undefined {
  if (inCI()) return undefined;
  const missing = tools.filter((t) => !toolRuns(t, PROBES[t]));
  if (missing.length === 0) return undefined;
  const which = missing.join(" and ");
  const reason = `needs ${which}, not found (install it to run this test; under CI=true it must be there)`;
  // The default reporter lists no skipped test, so the reason is printed once per file as well.
  console.warn(`skipped: ${reason}`);
  return reason;
}
