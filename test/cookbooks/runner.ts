/**
 * Runs the operator cookbooks of docs/cookbooks/ as written: every fenced block marked runnable
 * is executed by bash, in order, and its output is compared with the `text expected` block that
 * follows it. The markdown convention is documented in docs/cookbooks/README.md; this file is its
 * implementation.
 *
 * A cookbook runs in its own empty working directory, against a clean copy of the repository's
 * committed state (HEAD, via `git archive`, with dist/ built once), so that what the test
 * checks is what a reader who clones the repository gets.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** One runnable block and the expected block after it, if any. */
export interface Step {
  /** 1-based line of the opening fence of the runnable block. */
  line: number;
  /** The block's text: bash. */
  code: string;
  /** Exit status the block must end with (`exit=N`; default 0). Not checked for background blocks. */
  exit: number;
  /** Seconds the block may take (`timeout=S`; default 60), or a background block to be ready. */
  timeoutSeconds: number;
  /** `background=NAME`: the block is one command left running; its pid is exported as NAME_PID. */
  background?: string;
  /** `wait-for="TEXT"`: a background block is ready once its output holds TEXT. */
  waitFor?: string;
  /** The `text expected` block after it: its first line and text. Without one, a block must print nothing. */
  expected?: { line: number; text: string };
}

/** A parsed cookbook: its options (the `<!-- cookbook ... -->` comment) and its steps in order. */
export interface Cookbook {
  file: string;
  /** Environment variables the runner sets to free TCP ports (`ports="A B"`). */
  ports: string[];
  /** System tools the cookbook needs beyond bash, git, curl, jq and openssl (`requires="promtool"`). */
  requires: string[];
  steps: Step[];
}

/** A cookbook that breaks the convention; `line` is 1-based. */
export class CookbookSyntaxError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

/** `key=value` and `key="value with spaces"` attributes of an info string or comment. */
function attributes(text: string, file: string, line: number): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([a-z][a-z-]*)(?:=(?:"([^"]*)"|(\S+)))?/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  for (m = re.exec(text); m !== null && m[0] !== ""; m = re.exec(text)) {
    out.set(m[1] as string, m[2] ?? m[3] ?? "");
    end = re.lastIndex;
  }
  if (text.slice(end).trim() !== "")
    throw new CookbookSyntaxError(file, line, `cannot read "${text.slice(end)}"`);
  return out;
}

const STEP_KEYS = new Set(["exit", "timeout", "background", "wait-for"]);

function positiveInt(value: string, what: string, file: string, line: number): number {
  if (!/^\d+$/.test(value))
    throw new CookbookSyntaxError(file, line, `${what} must be a whole number, not "${value}"`);
  return Number(value);
}

/**
 * Reads a cookbook's markdown. Runnable blocks have the info string `sh runnable` plus
 * attributes; an expected block (`text expected`) must follow one, with only blank lines between.
 * @throws CookbookSyntaxError for an unknown attribute, an orphan expected block, an unclosed
 *   fence, or a background block that is not one command
 */
export function parseCookbook(text: string, file: string): Cookbook {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const steps: Step[] = [];
  let ports: string[] = [];
  let requires: string[] = [];
  let last: Step | undefined;
  let sinceLast = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const comment = /^<!--\s*cookbook\b(.*?)-->\s*$/.exec(line);
    if (comment) {
      const attrs = attributes(comment[1] as string, file, i + 1);
      for (const key of attrs.keys())
        if (key !== "ports" && key !== "requires")
          throw new CookbookSyntaxError(file, i + 1, `unknown cookbook option "${key}"`);
      ports = (attrs.get("ports") ?? "").split(/\s+/).filter(Boolean);
      requires = (attrs.get("requires") ?? "").split(/\s+/).filter(Boolean);
      continue;
    }
    const fence = /^(`{3,}|~{3,})\s*(\S*)\s*(.*)$/.exec(line);
    if (!fence) {
      if (line.trim() !== "") sinceLast++;
      continue;
    }
    const [, marker = "", lang, rest = ""] = fence;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] as string).startsWith(marker); i++)
      body.push(lines[i] as string);
    if (i >= lines.length) throw new CookbookSyntaxError(file, start + 1, "code block never closed");
    const words = rest.trim().split(/\s+/);
    if (lang === "text" && words[0] === "expected") {
      if (!last || sinceLast > 0)
        throw new CookbookSyntaxError(file, start + 1, "an expected block must follow a runnable block");
      if (last.expected)
        throw new CookbookSyntaxError(file, start + 1, "a second expected block for one step");
      last.expected = { line: start + 2, text: body.join("\n") };
      sinceLast = 0;
      continue;
    }
    if (lang === "sh" && words[0] === "runnable") {
      const attrs = attributes(rest.trim().slice("runnable".length), file, start + 1);
      for (const key of attrs.keys())
        if (!STEP_KEYS.has(key)) throw new CookbookSyntaxError(file, start + 1, `unknown attribute "${key}"`);
      const background = attrs.get("background");
      const step: Step = {
        line: start + 1,
        code: body.join("\n"),
        exit: positiveInt(attrs.get("exit") ?? "0", "exit", file, start + 1),
        timeoutSeconds: positiveInt(attrs.get("timeout") ?? "60", "timeout", file, start + 1),
      };
      if (background !== undefined) {
        if (!/^[a-z][a-z0-9_]*$/.test(background))
          throw new CookbookSyntaxError(
            file,
            start + 1,
            `background name "${background}": use [a-z][a-z0-9_]*`,
          );
        const joined = step.code.replace(/\\\n/g, " ").trim();
        if (joined.includes("\n") || /[;&|]/.test(joined.replace(/'[^']*'|"[^"]*"/g, "")))
          throw new CookbookSyntaxError(file, start + 1, "a background block is one simple command");
        step.background = background;
        step.waitFor = attrs.get("wait-for");
        if (!step.waitFor)
          throw new CookbookSyntaxError(file, start + 1, "a background block needs wait-for");
      } else if (attrs.has("wait-for")) {
        throw new CookbookSyntaxError(file, start + 1, "wait-for goes with background only");
      }
      steps.push(step);
      last = step;
      sinceLast = 0;
      continue;
    }
    // Any other block ends the link between a runnable block and its expected block.
    sinceLast++;
  }
  return { file, ports, requires, steps };
}

/** Volatile parts an expected block may hold, and what each matches in the actual output. */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  "<...>": "[^\\n]*?",
  "<PORT>": "\\d{1,5}",
  "<PID>": "\\d+",
  "<NUMBER>": "\\d+(?:\\.\\d+)?",
  "<DIGEST>": "sha256:[0-9a-f]{64}",
  "<HEX>": "[0-9a-fA-F]+",
  "<TIME>": "\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?(?:Z|[+-]\\d{2}:?\\d{2})?",
  "<DATE>": "[A-Z][a-z]{2} +\\d{1,2} \\d{2}:\\d{2}:\\d{2} \\d{4} GMT",
  "<TOKEN>": "[A-Za-z0-9._~+/=-]+",
  "<TMP>": "/[^\\s'\"]+",
};

/** Trailing spaces of every line and trailing blank lines are not compared; CRLF is LF. */
export function normalize(text: string): string {
  return text
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .replace(/\n+$/, "");
}

function lineRegex(line: string): string {
  const keys = Object.keys(PLACEHOLDERS).map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const split = new RegExp(`(${keys.join("|")})`);
  return line
    .split(split)
    .map((part) => PLACEHOLDERS[part] ?? part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("");
}

/**
 * Whether `actual` is what `expected` shows: line for line after {@link normalize}, each
 * placeholder of {@link PLACEHOLDERS} standing for the text it matches, and a line that is only
 * `<...>` standing for any number of lines (none included).
 */
export function matchesExpected(expected: string, actual: string): boolean {
  const exp = normalize(expected);
  const act = normalize(actual);
  if (exp === "") return act === "";
  const pattern = exp
    .split("\n")
    .map((l) => (l === "<...>" ? "(?:[^\\n]*\\n)*?" : `${lineRegex(l)}\\n`))
    .join("");
  return new RegExp(`^${pattern}$`).test(act === "" ? "" : `${act}\n`);
}

/** What the runner needs from its caller. */
export interface RunOptions {
  /** The clean copy of the repository (see {@link makeCheckout}), exported as PROOF_REPO. */
  checkout: string;
  /** An empty directory: the cookbook's working directory. */
  workDir: string;
  /** Extra environment for every block. */
  env?: Record<string, string>;
  /** Called after each step, for progress output. */
  onStep?: (step: Step, result: StepResult) => void;
}

/** What one step did. */
export interface StepResult {
  output: string;
  exit: number | null;
  ms: number;
}

/** A step that did not do what the cookbook says. */
export class StepFailure extends Error {}

/** Every process group a runner started and has not yet seen end; killed on exit. */
const groups = new Set<number>();
process.once("exit", () => {
  for (const pgid of groups) killGroup(pgid, "SIGKILL");
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group ended already.
  }
}

/** A free TCP port on loopback (the kernel's choice, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Bash state between blocks: exported variables (`set -a` exports every assignment) and cwd. */
const HIDDEN = /^declare -x (PWD|OLDPWD|SHLVL|_)(=|$)/;

function prelude(state: string): string {
  return [
    "set -a",
    `. '${state}/env'`,
    `cd "$(cat '${state}/cwd')"`,
    "exec 2>&1 </dev/null",
    // File modes a cookbook shows must not depend on the umask of whoever runs the tests.
    "umask 022",
    "set -euo pipefail",
    "",
  ].join("\n");
}

function bashQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs every step of `cookbook` in order and resolves when all did what the cookbook says.
 * Background processes are killed (their process group: SIGTERM, then SIGKILL after 5 s) when it
 * returns, also on failure.
 * @throws StepFailure naming the cookbook's file and line, with the expected and the actual output
 */
export async function runCookbook(cookbook: Cookbook, options: RunOptions): Promise<StepResult[]> {
  const state = mkdtempSync(join(tmpdir(), "proof-cookbook-state-"));
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  delete env.PROOF_DEBUG;
  const bin = join(state, "bin");
  mkdirSync(bin);
  symlinkSync(join(options.checkout, "bin", "proof.js"), join(bin, "proof"));
  Object.assign(env, {
    PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ""}`,
    PROOF_REPO: options.checkout,
    NO_COLOR: "1",
    ...options.env,
  });
  for (const name of cookbook.ports) env[name] = String(await freePort());
  writeFileSync(join(state, "env"), "");
  writeFileSync(join(state, "cwd"), options.workDir);
  const background: { name: string; child: ChildProcess }[] = [];
  const results: StepResult[] = [];
  try {
    for (const [index, step] of cookbook.steps.entries()) {
      const where = `${cookbook.file}:${step.line}`;
      const started = Date.now();
      let result: StepResult;
      if (step.background) {
        const log = join(state, `${step.background}.log`);
        const script = join(state, `step-${index}.sh`);
        writeFileSync(script, `${prelude(state)}exec ${step.code.trim()}\n`);
        const fd = openSync(log, "w");
        const child = spawn("bash", [script], {
          cwd: options.workDir,
          env,
          stdio: ["ignore", fd, fd],
          detached: true,
        });
        closeSync(fd);
        if (child.pid !== undefined) groups.add(child.pid);
        background.push({ name: step.background, child });
        const output = await waitFor(child, log, step.waitFor as string, step.timeoutSeconds * 1000, where);
        const pidVar = `${step.background.toUpperCase()}_PID`;
        writeFileSync(
          join(state, "env"),
          `${readFileSync(join(state, "env"), "utf8")}declare -x ${pidVar}="${child.pid}"\n`,
        );
        result = { output, exit: null, ms: Date.now() - started };
      } else {
        const script = join(state, `step-${index}.sh`);
        const save = `trap '__rc=$?; export -p > ${bashQuote(`${state}/env.next`)}; pwd > ${bashQuote(`${state}/cwd.next`)}; exit $__rc' EXIT\n`;
        writeFileSync(script, `${prelude(state)}${save}${step.code}\n`);
        result = await runStep(script, options.workDir, env, step.timeoutSeconds * 1000, where);
        if (existsSync(join(state, "env.next"))) {
          const kept = readFileSync(join(state, "env.next"), "utf8")
            .split(/\n(?=declare -x )/)
            .filter((l) => !HIDDEN.test(l))
            .join("\n");
          writeFileSync(join(state, "env"), `${kept.trimEnd()}\n`);
          writeFileSync(join(state, "cwd"), readFileSync(join(state, "cwd.next"), "utf8").trim());
          rmSync(join(state, "env.next"));
          rmSync(join(state, "cwd.next"));
        }
        if (result.exit !== step.exit)
          throw new StepFailure(
            `${where}: exited ${result.exit}, the cookbook says ${step.exit}\n${result.output}`,
          );
      }
      if (!step.expected && !step.background && normalize(result.output) !== "")
        throw new StepFailure(`${where}: printed output the cookbook does not show\n${result.output}`);
      if (step.expected && !matchesExpected(step.expected.text, result.output))
        throw new StepFailure(
          `${where}: the output is not what ${cookbook.file}:${step.expected.line} shows\n` +
            `--- expected\n${normalize(step.expected.text)}\n--- actual\n${normalize(result.output)}\n---`,
        );
      results.push(result);
      options.onStep?.(step, result);
    }
    return results;
  } finally {
    await Promise.all(background.map(({ child }) => stop(child)));
    rmSync(state, { recursive: true, force: true });
  }
}

function runStep(
  script: string,
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
  where: string,
): Promise<StepResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [script], { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    if (child.pid !== undefined) groups.add(child.pid);
    let output = "";
    child.stdout?.setEncoding("utf8").on("data", (s: string) => {
      output += s;
    });
    child.stderr?.setEncoding("utf8").on("data", (s: string) => {
      output += s;
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
      reject(new StepFailure(`${where}: still running after ${timeoutMs / 1000} s\n${output}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    let closed = false;
    child.on("close", () => {
      closed = true;
    });
    // A process the block left behind is killed with its group, so the pipes close; the wait for
    // them to close is bounded all the same.
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (child.pid !== undefined) {
        killGroup(child.pid, "SIGKILL");
        groups.delete(child.pid);
      }
      const done = (): void =>
        resolve({ output, exit: code ?? (signal ? 128 : null), ms: Date.now() - started });
      if (closed) return done();
      const bound = setTimeout(done, 1000);
      child.once("close", () => {
        clearTimeout(bound);
        done();
      });
    });
  });
}

/** Resolves with the log up to the line holding `text`; rejects when the process ends first. */
function waitFor(
  child: ChildProcess,
  log: string,
  text: string,
  timeoutMs: number,
  where: string,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const content = readFileSync(log, "utf8");
      const at = content.indexOf(text);
      if (at >= 0) {
        const end = content.indexOf("\n", at);
        resolve(end < 0 ? content : content.slice(0, end + 1));
      } else if (child.exitCode !== null || child.signalCode !== null) {
        reject(new StepFailure(`${where}: exited ${child.exitCode} before "${text}"\n${content}`));
      } else if (Date.now() > deadline) {
        reject(new StepFailure(`${where}: no "${text}" after ${timeoutMs / 1000} s\n${content}`));
      } else {
        setTimeout(poll, 100);
      }
    };
    poll();
  });
}

function stop(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      killGroup(pgid, "SIGKILL");
      groups.delete(pgid);
      resolve();
    };
    const timer = setTimeout(done, 5000);
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once("exit", done);
    killGroup(pgid, "SIGTERM");
  });
}

/**
 * A clean copy of the repository's committed state: `git archive HEAD` unpacked in a temporary
 * directory, node_modules linked to the repository's, dist/ built. Uncommitted changes are not
 * in it.
 * @returns the directory and a function removing it
 * @throws when `root` is no git work tree or the build fails
 */
export function makeCheckout(root: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "proof-cookbook-repo-"));
  const tar = join(dir, "..", `${dir.split("/").pop()}.tar`);
  execFileSync("git", ["archive", "--format=tar", "-o", tar, "HEAD"], { cwd: root, stdio: "pipe" });
  execFileSync("tar", ["-xf", tar, "-C", dir], { stdio: "pipe" });
  rmSync(tar);
  symlinkSync(realpathSync(join(root, "node_modules")), join(dir, "node_modules"));
  execFileSync(process.execPath, [join(dir, "scripts", "build.mjs")], { cwd: dir, stdio: "pipe" });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
