/**
 * What the GitLab template tests share (test/ci/gitlab.test.ts, test/ci/gitlab-sharded.test.ts):
 * gitlab-ci-local's entry point, a command runner, the payments policy and a one-call trace.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../e2e/cli.js";

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
