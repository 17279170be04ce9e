/**
 * `proof serve` as a process of the built CLI: it refuses to start without authentication unless
 * told, listens on the port it prints, reloads on SIGHUP keeping the old policies when a new one
 * is broken, and drains a request in flight on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, proof, ROOT, removeTempDirs, tempDir } from "../e2e/cli.js";
import { sourcesUnder } from "./corpus.js";

const BANKING = join(ROOT, "examples/policies/agentdojo-banking.yaml");
const started: ChildProcess[] = [];
afterAll(async () => {
  for (const child of started) if (child.exitCode === null) child.kill("SIGKILL");
  await removeTempDirs();
});

/** A running server: its URL, its exit, and its stderr so far. */
interface Running {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once stderr holds `text`. */
  stderrHas: (text: string) => Promise<void>;
}

async function serve(args: string[], cwd: string): Promise<Running> {
  const child = spawn(process.execPath, [BIN, "serve", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  started.push(child);
  let err = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    err += s;
    for (const w of waiters.splice(0)) {
      if (err.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (s: string) => {
      out += s;
      const m = /^proof serve: listening on (http:\/\/\S+)$/m.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`proof serve exited ${code}: ${err}`)));
  });
  return {
    child,
    url,
    stderr: () => err,
    exited,
    stderrHas: (text) =>
      new Promise((resolve) => {
        if (err.includes(text)) resolve();
        else waiters.push({ text, resolve });
      }),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read what the server answered
async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

describe("proof serve (process)", () => {
  it("refuses to start without authentication, and insecure mode under prod", async () => {
    const dir = await tempDir();
    const none = await proof(["serve", "--policy-dir", ROOT], dir);
    expect(none.code).toBe(6);
    expect(none.stderr).toContain("--insecure-no-auth");
    const prod = await proof(["--json", "serve", "--policy-dir", ROOT, "--insecure-no-auth"], dir);
    expect(prod.code).toBe(6);
    expect(JSON.parse(prod.stdout).error.code).toBe("serve.insecure_in_prod");
    const explicit = await proof(
      ["serve", "--policy-dir", ROOT, "--insecure-no-auth", "--profile", "prod"],
      dir,
    );
    expect(explicit.code).toBe(6);
    const badProfile = await proof(["serve", "--policy-dir", ROOT, "--profile", "test"], dir);
    expect(badProfile.code).toBe(6);
    expect(badProfile.stderr).toContain("--profile must be one of dev, stage, prod");
  });

  it("refuses an unknown key of serve.yaml with its line and column", async () => {
    const dir = await tempDir();
    writeFileSync(join(dir, "serve.yaml"), "policyDir: p\nlimits:\n  bodyBytes: 10\n  maxTraces: 3\n");
    const r = await proof(["--json", "--config", "serve.yaml", "serve"], dir);
    expect(r.code).toBe(6);
    const e = JSON.parse(r.stdout).error;
    expect(e.code).toBe("serve.config");
    expect(e.message).toContain("limits.maxTraces");
    expect(e.location).toEqual({ file: "serve.yaml", line: 4, column: 3 });
  });

  it("serves, reloads on SIGHUP keeping the old set when a policy breaks, and drains on SIGTERM", async () => {
    const dir = await tempDir();
    mkdirSync(join(dir, "policies"));
    copyFileSync(BANKING, join(dir, "policies", "banking.yaml"));
    writeFileSync(
      join(dir, "serve.yaml"),
      "policyDir: policies\nlisten: 127.0.0.1:0\nprofile: dev\ninsecureNoAuth: true\n",
    );
    const s = await serve(["--config", "serve.yaml"], dir);
    expect((await getJson(`${s.url}/healthz`)).body).toEqual({ status: "ok" });
    expect((await getJson(`${s.url}/readyz`)).status).toBe(200);
    const before = (await getJson(`${s.url}/v1/policies`)).body;
    expect(before.policies.map((p: { policy_id: string }) => p.policy_id)).toEqual(["agentdojo.banking.v1"]);

    writeFileSync(join(dir, "policies", "broken.yaml"), "schema: proof.policy/v1\npolicy_id: [\n");
    s.child.kill("SIGHUP");
    await s.stderrHas("policy reload failed");
    const kept = (await getJson(`${s.url}/v1/policies`)).body;
    expect(kept.policies).toEqual(before.policies);
    expect(kept.reload_error.error.location.file).toBe("policies/broken.yaml");
    expect((await getJson(`${s.url}/readyz`)).status).toBe(200);

    // A request whose headers arrived before SIGTERM is answered in full; the server then exits 0.
    // `Expect: 100-continue` makes the server say when it has the headers: only then the signal,
    // and only once it drains, the body.
    const traces = sourcesUnder("fixtures/corpus/agentdojo/runs");
    const body = JSON.stringify({ traces });
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        `${s.url}/v1/verify`,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            expect: "100-continue",
          },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (c: string) => {
            text += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.on("continue", () => {
        s.child.kill("SIGTERM");
        void s.stderrHas("draining").then(() => req.end(body));
      });
      req.flushHeaders();
    });
    const res = await answer;
    expect(res.status).toBe(200);
    const report = JSON.parse(res.text);
    expect(report.summary.traces).toBe(136);
    expect(await s.exited).toBe(0);
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });
});
