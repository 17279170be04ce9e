/**
 * What the GitLab template tests share (test/ci/gitlab.test.ts, test/ci/gitlab-sharded.test.ts):
 * gitlab-ci-local's entry point, a command runner, the payments policy, a one-call trace, the
 * repository a template runs in, and the pipeline run.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "vitest";
import { proof, ROOT, tempDir } from "../e2e/cli.js";
import { offlineNpmEnv, packTarball } from "../e2e/pack.js";

export const GITLAB_CI_LOCAL = join(ROOT, "node_modules", "gitlab-ci-local", "dist", "index.js");

/** What a command did. */
export interface Exit {
  code: number;
  output: string;
}

/** Runs a command in `cwd` (with `env`, else this process's), resolving with its exit code and combined output. */
export function sh(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number(err.code ?? 1) : 0, output: `${stdout}${stderr}` });
      },
    );
  });
}

export const POLICY = `schema: proof.policy/v1
policy_id: ci.payments.v1
defaults:
  verdict: allow
rules:
  - id: ci.large_payment
    match:
      tool: [send_money]
      args:
        amount: { gt: 1000 }
    effect: block
`;

/** An OpenAI-format conversation with one send_money call of `amount`. */
export const trace = (amount: number): string =>
  JSON.stringify({
    messages: [
      { role: "user", content: `Send ${amount} EUR to DE89370400440532013000 for the invoice.` },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: {
              name: "send_money",
              arguments: JSON.stringify({ recipient: "DE89370400440532013000", amount }),
            },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"status": "submitted"}' },
    ],
  });

/**
 * A git repository with the template (a file of ci-templates/gitlab), a config, the policy and two traces (one blocked), and a
 * baseline recorded from them; `loosen` then edits the policy so the blocked case is only warned,
 * which the regression gate must fail. gitlab-ci-local reads the committed files of the repository.
 */
export async function repository(template: string, loosen: boolean): Promise<string> {
  const dir = await tempDir();
  await copyFile(join(ROOT, "ci-templates", "gitlab", template), join(dir, ".gitlab-ci.yml"));
  await mkdir(join(dir, "policies"));
  await mkdir(join(dir, "traces"));
  await writeFile(join(dir, "policies", "payments.yaml"), POLICY);
  await writeFile(join(dir, "traces", "rent.json"), trace(450));
  await writeFile(join(dir, "traces", "large.json"), trace(25000));
  await writeFile(
    join(dir, "proof.config.yaml"),
    "schema: proof.config/v1\npolicy: policies/\ntraces: [traces/]\nbaseline: .proof/baseline.json\n",
  );
  const init = await proof(["regress", "init"], dir);
  expect(init.code).toBe(0);
  if (loosen)
    await writeFile(join(dir, "policies", "payments.yaml"), POLICY.replace("effect: block", "effect: warn"));
  for (const args of [
    ["init", "-q", "-b", "main"],
    ["remote", "add", "origin", "https://gitlab.example.invalid/team/agent.git"],
    ["add", "-A"],
    ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "commit", "-q", "-m", "proof"],
  ]) {
    const r = await sh("git", args, dir);
    expect(r.code, r.output).toBe(0);
  }
  return dir;
}

/**
 * Runs the pipeline of `dir` with the shell executor (the template sets `image:`), the job
 * installing the packed tarball offline into a temporary directory of its own.
 */
export async function pipeline(dir: string): Promise<Exit> {
  const { tarball } = await packTarball();
  const env = await offlineNpmEnv();
  return sh(
    process.execPath,
    [
      GITLAB_CI_LOCAL,
      "--force-shell-executor",
      "--no-color",
      "--variable",
      `PROOF_PACKAGE=${tarball}`,
      "--variable",
      `TMPDIR=${await tempDir()}`,
    ],
    dir,
    env,
  );
}
