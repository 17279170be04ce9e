import { join } from "node:path";
import { type Command, Option } from "commander";
import { inputError } from "../../errors.js";
import { prettyJson } from "../../io/canonical.js";
import { toPosix } from "../../io/files.js";
import {
  docsDir,
  firstExisting,
  type NewFile,
  planIgnore,
  readPackageFile,
  withTempDir,
  writeNewFiles,
} from "../../io/scaffold.js";
import type { GlobalOptions } from "../output.js";
import { DEFAULT_BASELINE, regressInit } from "./regress.js";

/** Starter policies of `--template`, each with a sample trace it judges (templates/init/). */
export const INIT_TEMPLATES = ["generic", "payments"] as const;

/** CI systems of `--ci`: where the workflow goes in the repository, and its source in the package. */
export const INIT_CI = {
  github: { path: ".github/workflows/proof.yml", source: "templates/init/github/proof.yml" },
  gitlab: { path: ".gitlab-ci.yml", source: "ci-templates/gitlab/proof.gitlab-ci.yml" },
  jenkins: { path: "Jenkinsfile", source: "ci-templates/jenkins/Jenkinsfile" },
  circleci: { path: ".circleci/config.yml", source: "ci-templates/circleci/config.yml" },
} as const;

/**
 * How `proof init`'s output runs proof: `npx proof-gate` runs the project's installed proof-gate
 * when it is a dependency, and fetches it otherwise. Never `npx proof`: without a local install
 * that runs another project's npm package named `proof`.
 */
const NPX = "npx proof-gate";

/** The command `proof init` tells the user to run next: the gate the CI wrappers run. */
export const NEXT_COMMAND = `${NPX} regress run`;

/** The out dir of proof.config.yaml, replaced by every run: `proof init` adds it to .gitignore. */
const OUT_DIR = "proof-out";
const GITIGNORE = ".gitignore";

/** Paths `proof init` writes, relative to the working directory, as proof.config.yaml names them. */
const CONFIG_FILE = "proof.config.yaml";
const TRACES_DIR = "traces/";
const SAMPLE_TRACE = `${TRACES_DIR}sample.json`;

interface InitOptions {
  ci: keyof typeof INIT_CI;
  template: (typeof INIT_TEMPLATES)[number];
  force?: boolean;
}

/** The files of an init, read from the templates shipped in the package; the baseline comes after. */
async function plannedFiles(
  opts: InitOptions,
): Promise<{ files: NewFile[]; policy: string; workflow: NewFile }> {
  const policy = `policies/${opts.template}.yaml`;
  const ci = INIT_CI[opts.ci];
  const files: NewFile[] = [
    { path: CONFIG_FILE, content: await readPackageFile("templates/init/proof.config.yaml") },
    { path: policy, content: await readPackageFile(`templates/init/policies/${opts.template}.yaml`) },
    // The policy's unit tests beside it (`proof test`), the start of the author's loop.
    {
      path: `policies/${opts.template}.test.yaml`,
      content: await readPackageFile(`templates/init/policies/${opts.template}.test.yaml`),
    },
    { path: SAMPLE_TRACE, content: await readPackageFile(`templates/init/traces/${opts.template}.json`) },
  ];
  return { files, policy, workflow: { path: ci.path, content: await readPackageFile(ci.source) } };
}

/** What to do after `proof init`: the next command, how real traces get recorded, where the docs are. */
function nextSteps(created: readonly string[], updated: readonly string[], policy: string): string {
  const docs = docsDir();
  return [
    "",
    "Created:",
    ...created.map((f) => `  ${f}`),
    ...(updated.length > 0
      ? ["Updated:", ...updated.map((f) => `  ${f} (ignores ${OUT_DIR}/, the out dir every run replaces)`)]
      : []),
    "",
    `Next, run the gate as CI will: ${NEXT_COMMAND}`,
    "",
    "Record real traces into traces/:",
    "  - import what you already record (OpenAI, Anthropic, MCP, OpenTelemetry, LangChain, AgentDojo, tau-bench):",
    `      ${NPX} import run.json -o traces/run.jsonl`,
    "  - wrap the command that runs your agent and writes its traces:",
    `      ${NPX} run -- npm run agent-evals`,
    "  - record live sessions with the MCP proxy, which also refuses the calls the policy blocks:",
    `      ${NPX} mcp proxy --policy ${policy} --record traces/mcp-session.jsonl -- SERVER_COMMAND`,
    "  - or check each call inside your agent with the SDK guard (createGuard) and save guard.trace()",
    `Then record their verdicts with ${NPX} regress accept, and commit the files above.`,
    "",
    `Documentation: ${docs}/ (ci.md, traces.md, boundary.md for the proxy and the guard)`,
    "",
  ].join("\n");
}

/**
 * `proof init`: writes a config, a starter policy, a sample trace, its baseline and the CI
 * workflow, and adds the out dir to .gitignore (creating it, or appending one line), so that one
 * pull request adopts the gate and its first run judges something real. Refuses, before writing
 * anything, when one of the files exists (unless `--force`) or .gitignore cannot be read.
 */
async function init(opts: InitOptions, global: GlobalOptions): Promise<number> {
  const { files, policy, workflow } = await plannedFiles(opts);
  const written = [...files.map((f) => f.path), DEFAULT_BASELINE, workflow.path];
  if (!opts.force) {
    const existing = await firstExisting(written);
    if (existing !== null) {
      throw inputError(
        "init.exists",
        "the file exists already; proof init wrote nothing",
        { file: toPosix(existing) },
        "use --force to overwrite the files proof init writes",
      );
    }
  }
  // Read before anything is written: an unreadable .gitignore refuses the whole init.
  const ignore = await planIgnore(GITIGNORE, OUT_DIR);
  await writeNewFiles(files);
  // The same code as `proof regress init`, so the baseline is exactly what that command records;
  // its out dir is thrown away, as the first gate run writes the real one.
  await withTempDir((dir) =>
    regressInit(
      {
        policy,
        traces: [TRACES_DIR],
        baseline: DEFAULT_BASELINE,
        format: "auto",
        out: join(dir, "out"),
        force: true,
      },
      global.json ? { ...global, json: false, quiet: true } : global,
    ),
  );
  await writeNewFiles([workflow]);
  if (ignore.file !== null) await writeNewFiles([ignore.file]);
  const created = ignore.action === "create" ? [...written, GITIGNORE] : written;
  const updated = ignore.action === "append" ? [GITIGNORE] : [];
  if (global.json) process.stdout.write(prettyJson({ created, updated, next: NEXT_COMMAND }));
  else if (!global.quiet) process.stdout.write(nextSteps(created, updated, policy));
  return 0;
}

/** `proof init [--ci SYSTEM] [--template NAME] [--force]`: one-PR adoption (docs/ci.md). */
export function registerInit(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command("init")
    .description("write a config, a starter policy, a sample trace, its baseline and a CI workflow")
    .addOption(
      new Option("--ci <system>", "the CI system to write a workflow for")
        .choices(Object.keys(INIT_CI))
        .default("github"),
    )
    .addOption(
      new Option("--template <name>", "the starter policy and its sample trace")
        .choices([...INIT_TEMPLATES])
        .default("generic"),
    )
    .option("--force", "overwrite files that exist")
    .action((opts: InitOptions, cmd: Command) => run(() => init(opts, cmd.optsWithGlobals<GlobalOptions>())));
}
