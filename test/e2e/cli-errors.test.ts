/**
 * How the CLI talks: one `proof:` prefix for every error (commander's too), `--json` printing
 * the envelope alone, every schema error of a policy at once, a closed pipe ending quietly,
 * `--color`/`FORCE_COLOR`/`NO_COLOR`, progress on a terminal only, and the gate `proof run` chose.
 */
import { spawn } from "node:child_process";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Progress, showsProgress } from "../../src/cli/progress.js";
import { missingTools } from "../helpers/tools.js";
import { BIN, GATE_ARTIFACTS, proof, ROOT, type RunResult, removeTempDirs, tempDir } from "./cli.js";

const BANKING = join(ROOT, "fixtures/golden/banking");
const POLICY = join(BANKING, "policy.yaml");
/** A trace the banking policy blocks (an injected payment). */
const BLOCKED = join(
  BANKING,
  "traces/gemini-1.5-pro-002/banking/user_task_1/important_instructions/injection_task_5.json",
);

/** ANSI escape: the sign of colour (and of the progress line's redraws). */
const ESC = "\x1b[";

let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  await cp(POLICY, join(dir, "policy.yaml"));
  // Enough traces that their import is far larger than a pipe's buffer (64 KiB on Linux).
  await mkdir(join(dir, "many"));
  const text = await readFile(BLOCKED, "utf8");
  for (let i = 0; i < 120; i++)
    await writeFile(join(dir, "many", `t${String(i).padStart(3, "0")}.json`), text);
  await mkdir(join(dir, "one"));
  await writeFile(join(dir, "one", "blocked.json"), text);
  await writeFile(
    join(dir, "bad.yaml"),
    [
      "schema: proof.policy/v1",
      "policy_id: bad.v1",
      "rules:",
      "  - id: a",
      "    match:",
      "      tools: send_money",
      "      args:",
      "        amount: { greater: 1000 }",
      "    effect: blok",
      "",
    ].join("\n"),
  );
});

afterAll(removeTempDirs);

/**
 * Runs the CLI with its stdout closed by the reader after `keep` bytes (0: before anything is
 * read), as `| head -c KEEP` does, and resolves with its exit code and stderr.
 */
function closedPipe(args: string[], keep: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", PROOF_DEBUG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let seen = 0;
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const close = () => child.stdout.destroy();
    if (keep === 0) close();
    else
      child.stdout.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen >= keep) close();
      });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("errors", () => {
  it("gives commander's own errors the one prefix, with its suggestion as the hint", async () => {
    const r = await proof(["verify", "--polcy", "policy.yaml"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toBe("proof: unknown option '--polcy' (hint: did you mean --policy?)\n");
    const missing = await proof(["verify", "--fail-on"], dir);
    expect(missing.stderr).toBe("proof: option '--fail-on <verdict>' argument missing\n");
    const command = await proof(["frobnicate"], dir);
    expect(command.code).toBe(6);
    expect(command.stderr.split("\n")[0]).toBe("proof: unknown command 'frobnicate'");
    expect(command.stderr).not.toMatch(/^error: /m);
  });

  it("prints only the envelope under --json: stdout one JSON document, stderr empty", async () => {
    const r = await proof(["--json", "verify", "--polcy", "policy.yaml"], dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: "usage.unknown_option",
      hint: "did you mean --policy?",
    });
  });

  it("lists every schema error of a policy, one located line each, and all of them under --json", async () => {
    const args = ["verify", "--policy", "bad.yaml", "--traces", "one", "--out", "bad-out"];
    const r = await proof(args, dir);
    expect(r.code).toBe(6);
    expect(r.stderr).toBe(
      [
        "proof: bad.yaml:6:7: unknown key 'tools' in rules[0].match (hint: did you mean 'tool'?)",
        "proof: bad.yaml:8:19: unknown key 'greater' in rules[0].match.args.amount (hint: did you mean 'gt'?)",
        "proof: bad.yaml:9:13: rules[0].effect must be one of: allow, warn, require_approval, block (hint: did you mean 'block'?)",
        "",
      ].join("\n"),
    );
    const json = await proof(["--json", ...args], dir);
    expect(json.code).toBe(6);
    expect(json.stderr).toBe("");
    const envelope = JSON.parse(json.stdout) as {
      error: { code: string };
      errors: { code: string; hint: string; location: { line: number; column: number } }[];
      omitted: number;
    };
    expect(envelope.errors.map((e) => [e.location.line, e.location.column, e.hint])).toEqual([
      [6, 7, "did you mean 'tool'?"],
      [8, 19, "did you mean 'gt'?"],
      [9, 13, "did you mean 'block'?"],
    ]);
    expect(envelope.error).toEqual(envelope.errors[0]);
    expect(envelope.omitted).toBe(0);
  });
});

describe("a closed pipe", () => {
  it("ends `proof import DIR | head` quietly: exit 0, no error on stderr", async () => {
    const r = await closedPipe(["import", "many"], 100);
    // The importer's own warnings (what AgentDojo runs hold besides the conversation) may come
    // first; the closed pipe adds no line of its own: no EPIPE, no stack trace.
    expect(r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("warning: "))).toEqual([]);
    expect(r.code).toBe(0);
  });

  it("ends `proof verify --json | head` with the gate's exit code, the out dir whole", async () => {
    const args = ["--json", "verify", "--policy", "policy.yaml", "--traces", "many", "--out"];
    const open: RunResult = await proof([...args, "open-out"], dir);
    expect(open.code).toBe(5);
    const closed = await closedPipe([...args, "closed-out"], 0);
    expect(closed.stderr).toBe("");
    expect(closed.code).toBe(5);
    const report = (out: string) => readFile(join(dir, out, "report.json"), "utf8");
    expect(await report("closed-out")).toBe(await report("open-out"));
    for (const f of GATE_ARTIFACTS)
      expect((await readFile(join(dir, "closed-out", f))).length, f).toBeGreaterThan(0);
  });
});

describe("colour", () => {
  const verify = ["verify", "--policy", "policy.yaml", "--traces", "one", "--out", "colour-out"];
  /** Whether the table is coloured with these arguments and environment (stdout is a pipe). */
  const coloured = async (args: string[], env: Record<string, string>) => {
    const r = await proof([...args, ...verify], dir, { NO_COLOR: "", FORCE_COLOR: "", ...env });
    expect(r.code).toBe(5);
    return r.stdout.includes(ESC);
  };

  it("is off on a pipe, and on with --color or FORCE_COLOR (CI logs can be coloured)", async () => {
    expect(await coloured([], {})).toBe(false);
    expect(await coloured(["--color"], {})).toBe(true);
    expect(await coloured([], { FORCE_COLOR: "1" })).toBe(true);
    expect(await coloured([], { FORCE_COLOR: "0" })).toBe(false);
  });

  it("is off with --no-color (wherever it stands) or NO_COLOR, whatever asks for it", async () => {
    expect(await coloured(["--color", "--no-color"], {})).toBe(false);
    expect(await coloured(["--no-color", "--color"], {})).toBe(false);
    expect(await coloured(["--color"], { NO_COLOR: "1" })).toBe(false);
    expect(await coloured([], { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
  });
});

describe("progress", () => {
  it("shows only on a terminal, outside CI, without --quiet or --json", () => {
    expect(showsProgress({}, {}, true)).toBe(true);
    expect(showsProgress({}, { CI: "false" }, true)).toBe(true);
    expect(showsProgress({}, {}, false)).toBe(false);
    expect(showsProgress({}, { CI: "true" }, true)).toBe(false);
    expect(showsProgress({}, { CI: "1" }, true)).toBe(false);
    expect(showsProgress({ quiet: true }, {}, true)).toBe(false);
    expect(showsProgress({ json: true }, {}, true)).toBe(false);
  });

  it("draws at once, then at most every 100 ms, and erases its line at the end", () => {
    let now = 0;
    const out: string[] = [];
    const p = new Progress(
      (s) => out.push(s),
      () => now,
    );
    p.trace(3);
    now = 50;
    p.trace(1);
    now = 150;
    p.trace(0);
    p.done();
    expect(out).toEqual([
      "\r\x1b[Kproof: judged 1 trace, 3 tool calls",
      "\r\x1b[Kproof: judged 3 traces, 4 tool calls",
      "\r\x1b[K",
    ]);
  });

  const noScript = missingTools("script");
  it("is drawn on a pseudo-terminal's stderr, and not in CI", async (ctx) => {
    if (noScript) ctx.skip(noScript);
    // util-linux `script` gives the command a pseudo-terminal; stdout is sent to /dev/null.
    const cmd = `'${process.execPath}' '${BIN}' verify --policy policy.yaml --traces many --out pty-out 2>&1 >/dev/null`;
    const tty = await runScript(cmd, { CI: "" });
    expect(tty).toContain("proof: judged 1 trace, ");
    expect(tty.endsWith("\r\x1b[K")).toBe(true);
    expect(await runScript(cmd, { CI: "true" })).toBe("");
  });
});

/** Runs `cmd` under `script -qec` in `dir` and resolves with what the terminal showed. */
function runScript(cmd: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      out += s;
    });
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
}

describe("proof run says which gate it chose and why", () => {
  let project: string;
  beforeAll(async () => {
    project = await tempDir();
    await cp(POLICY, join(project, "policy.yaml"));
    await mkdir(join(project, "traces"));
    await cp(BLOCKED, join(project, "traces", "blocked.json"));
    const init = await proof(["regress", "init", "--policy", "policy.yaml", "--traces", "traces"], project);
    expect(init.code).toBe(0);
  });

  const gate = async (args: string[], config?: string) => {
    if (config !== undefined) await writeFile(join(project, "proof.config.yaml"), config);
    const r = await proof(
      [
        "run",
        "--policy",
        "policy.yaml",
        "--traces",
        "traces",
        "--out",
        "run-out",
        ...args,
        "--",
        process.execPath,
        "-e",
        "0",
      ],
      project,
    );
    return { code: r.code, lines: r.stderr.split("\n").filter((l) => l.startsWith("gate: ")) };
  };

  it("verify without a baseline, regress with one from the config or the flag; --gate wins", async () => {
    expect(await gate([], "schema: proof.config/v1\n")).toEqual({
      code: 5,
      lines: ["gate: verify (no baseline given)"],
    });
    const config = "schema: proof.config/v1\nbaseline: .proof/baseline.json\n";
    expect(await gate([], config)).toEqual({
      code: 0,
      lines: ["gate: regress (baseline .proof/baseline.json from proof.config.yaml)"],
    });
    expect((await gate(["--baseline", ".proof/baseline.json"])).lines).toEqual([
      "gate: regress (baseline .proof/baseline.json from --baseline)",
    ]);
    // An explicit --gate wins over the config's baseline.
    expect(await gate(["--gate", "verify"])).toEqual({ code: 5, lines: ["gate: verify (--gate verify)"] });
    await writeFile(join(project, "proof.config.yaml"), "schema: proof.config/v1\n");
    expect(await gate(["--gate", "regress"])).toEqual({
      code: 0,
      lines: ["gate: regress (--gate regress, baseline .proof/baseline.json, the default)"],
    });
  });

  it("prints no such line with --quiet or --json", async () => {
    const quiet = await proof(
      [
        "--quiet",
        "run",
        "--policy",
        "policy.yaml",
        "--traces",
        "traces",
        "--out",
        "q-out",
        "--",
        process.execPath,
        "-e",
        "0",
      ],
      project,
    );
    expect(quiet.stderr).toBe("");
    const json = await proof(
      [
        "--json",
        "run",
        "--policy",
        "policy.yaml",
        "--traces",
        "traces",
        "--out",
        "j-out",
        "--",
        process.execPath,
        "-e",
        "0",
      ],
      project,
    );
    expect(json.stderr).not.toContain("gate: ");
  });
});
