/**
 * Drift test of the CI templates (docs/ci.md): each calls the contract script of the installed
 * package, installs the version this package is, and archives exactly the documented out dir,
 * JUnit into the system's test view. A template that grows gate logic or other paths fails here.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../e2e/cli.js";

/** The out dir docs/ci.md documents: what every wrapper archives. */
const OUT = "proof-out";
/** The only way a template may run the gate: the package's contract script, with bash. */
const SCRIPT_CALL = 'bash "$PROOF_HOME/scripts/proof-ci.sh"';
/**
 * The install line: the pinned proof-gate (never `proof`, another project's npm name), outside the
 * workspace, unless PROOF_PACKAGE names another tarball or PROOF_HOME an installed package.
 */
const INSTALL =
  /npm install --no-save --no-audit --no-fund --prefix "\$\{TMPDIR:-\/tmp\}\/proof-cli" "\$\{PROOF_PACKAGE:-proof-gate@\$PROOF_VERSION\}"/;

const version = async (): Promise<string> =>
  (JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const template = (path: string): Promise<string> => readFile(join(ROOT, "ci-templates", path), "utf8");

/** A parsed YAML template, navigated loosely: a wrong shape fails the assertions, not the types. */
// biome-ignore lint/suspicious/noExplicitAny: the shape of a template is what the test checks
type Yaml = any;
const yaml = async (path: string): Promise<Yaml> => parse(await template(path));

/** Non-empty lines of a shell script, trimmed. */
const commands = (script: string): string[] =>
  script
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");

/**
 * Checks a template's shell: it installs the pinned package or uses PROOF_HOME, then its last
 * command is the contract script, so that the script's exit code is the job's; nothing else runs.
 */
function expectContractShell(shell: string): void {
  const lines = commands(shell);
  expect(lines.at(-1)).toBe(SCRIPT_CALL);
  expect(lines.filter((l) => l.includes("proof-ci.sh"))).toEqual([SCRIPT_CALL]);
  expect(shell).toMatch(INSTALL);
  // No gate of its own: proof is only ever run by the script.
  expect(shell).not.toMatch(/\bproof\s+(verify|regress|run)\b|bin\/proof\.js|npx proof/);
  const allowed = [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    'if [ -z "${PROOF_HOME:-}" ]; then',
    expect.stringMatching(INSTALL),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    'PROOF_HOME="${TMPDIR:-/tmp}/proof-cli/node_modules/proof-gate"',
    "fi",
    SCRIPT_CALL,
  ];
  expect(lines).toEqual(allowed);
}

describe("ci-templates", () => {
  it("gitlab: runs the contract script and reports and archives only proof-out, always", async () => {
    const doc = await yaml("gitlab/proof.gitlab-ci.yml");
    expect(doc.variables).toEqual({ PROOF_VERSION: await version(), PROOF_OUT: OUT });
    const job = doc.proof;
    expectContractShell((job.script as string[]).join("\n"));
    expect(job.artifacts).toEqual({
      when: "always",
      paths: [`${OUT}/`],
      reports: { junit: `${OUT}/junit.xml` },
    });
    expect(Object.keys(doc).sort()).toEqual(["proof", "variables"]);
  });

  it("circleci: runs the contract script and stores only proof-out, JUnit as test results", async () => {
    const doc = await yaml("circleci/config.yml");
    const job = doc.jobs.proof;
    expect(job.environment).toEqual({ PROOF_VERSION: await version(), PROOF_OUT: OUT });
    const steps = job.steps as unknown[];
    expect(steps[0]).toBe("checkout");
    const runs = steps.filter(
      (s): s is { run: { command: string } } => typeof s === "object" && s !== null && "run" in s,
    );
    expect(runs).toHaveLength(1);
    expectContractShell(runs[0]?.run.command ?? "");
    // CircleCI runs store_* steps after a failed step as well, so these need no `when`.
    expect(steps.slice(2)).toEqual([
      { store_test_results: { path: `${OUT}/junit.xml` } },
      { store_artifacts: { path: OUT, destination: OUT } },
    ]);
    expect(doc.workflows.proof.jobs).toEqual(["proof"]);
  });

  it("jenkins: runs the contract script in one sh step; junit and archiveArtifacts in post always", async () => {
    const text = await template("jenkins/Jenkinsfile");
    const code = text.replace(/^\s*\/\/.*$/gm, "");
    expect(code).toContain(`PROOF_VERSION = '${await version()}'`);
    expect(code).toContain(`PROOF_OUT = '${OUT}'`);
    const sh = [...code.matchAll(/\bsh\s+'''([\s\S]*?)'''/g)].map((m) => m[1] ?? "");
    expect(sh).toHaveLength(1);
    // No other shell step (`sh '...'`, `sh "..."`, `sh(...)`, `sh script:`) runs anything else.
    expect(code.match(/(^|[\s;{])sh(\s*[('"]|\s+script:)/gm)).toHaveLength(1);
    expectContractShell(sh[0] ?? "");
    const always = /post\s*\{\s*always\s*\{([^}]*)\}\s*\}/.exec(code)?.[1] ?? "";
    const steps = commands(always);
    expect(steps).toEqual([
      `junit testResults: '${OUT}/junit.xml', allowEmptyResults: true`,
      `archiveArtifacts artifacts: '${OUT}/**', allowEmptyArchive: true`,
    ]);
    // Published nowhere else.
    expect(code.match(/\b(junit|archiveArtifacts)\s/g)).toHaveLength(2);
  });

  it("the templates differ only in CI syntax: one shell body for all three", async () => {
    const gitlab = await yaml("gitlab/proof.gitlab-ci.yml");
    const circle = await yaml("circleci/config.yml");
    const jenkins = /\bsh\s+'''([\s\S]*?)'''/.exec(await template("jenkins/Jenkinsfile"))?.[1] ?? "";
    const circleRun = (circle.jobs.proof.steps as Array<{ run?: { command: string } }>).find((s) => s.run);
    const bodies = [(gitlab.proof.script as string[]).join("\n"), circleRun?.run?.command ?? "", jenkins].map(
      commands,
    );
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
  });
});
