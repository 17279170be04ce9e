/**
 * The number of files a command loads at start (docs/performance.md, "Start-up"): the build
 * merges small chunks into chunks loaded with them (scripts/merge-chunks.mjs), each module still
 * in exactly one file, and no two files importing each other.
 */
import { spawnSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { staticClosure, staticImports } from "../helpers/bundle.js";
import { BIN, ROOT, removeTempDirs, tempDir } from "./cli.js";

afterAll(removeTempDirs);

const dist = join(ROOT, "dist");
const files = readdirSync(dist).filter((f) => f.endsWith(".js"));

/** The one bundle file whose name starts with `prefix` (`check-` for dist/check-HASH.js). */
function distFile(prefix: string): string {
  const found = files.filter((f) => f.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0] as string;
}

describe("files loaded at start", () => {
  it("proof check loads at most 12 files, --version at most 4", () => {
    // Before the merge: 31 and 8. The config reader is imported before every command runs.
    const check = new Set([
      ...staticClosure("proof.js"),
      ...staticClosure(distFile("check-")),
      ...staticClosure(distFile("config-")),
    ]);
    expect(check.size).toBeLessThanOrEqual(12);
    expect(staticClosure("proof.js").size).toBeLessThanOrEqual(4);
  });

  it("defines each module once: one ProofError class, one exit-code table", () => {
    for (const marker of ["var ProofError = class extends Error", "var EXIT_CODE = {"]) {
      const holders = files.filter((f) => readFileSync(join(dist, f), "utf8").includes(marker));
      expect({ marker, holders: holders.length }).toEqual({ marker, holders: 1 });
    }
  });

  it("has no cycle of static imports between files", () => {
    const state = new Map<string, "open" | "done">();
    const cycle: string[] = [];
    const visit = (f: string, path: string[]): boolean => {
      if (state.get(f) === "done") return false;
      if (state.get(f) === "open") {
        cycle.push(...path.slice(path.indexOf(f)), f);
        return true;
      }
      state.set(f, "open");
      for (const i of staticImports(f)) if (visit(i, [...path, f])) return true;
      state.set(f, "done");
      return false;
    };
    for (const f of files) if (visit(f, [])) break;
    expect(cycle).toEqual([]);
  });
});

/**
 * Runs `proof ARGS` with `hook` (a module's source) imported first, and expects exit `status`
 * and nothing on stderr but the lines starting with `tag`, which the hook prints.
 */
function runWithHook(
  hook: string,
  tag: string,
  args: string[],
  status = 0,
): { stdout: string; stderr: string } {
  const run = spawnSync(
    process.execPath,
    ["--import", `data:text/javascript,${encodeURIComponent(hook)}`, BIN, ...args],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  const other = run.stderr.split("\n").filter((l) => l !== "" && !l.startsWith(`${tag} `));
  expect({ args, status: run.status, other }).toEqual({ args, status, other: [] });
  return run;
}

/**
 * The bundle files a run of `proof ARGS` loads, in the order the loader resolves them: a module
 * hook of Node.js (module.register) prints each file: URL it resolves.
 */
function loadedFiles(args: string[]): string[] {
  const hook = `export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.startsWith("file:")) process._rawDebug(\`loaded \${r.url}\`); return r; }`;
  const register = `import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  const out = runWithHook(register, "loaded", args).stderr;
  const files = [...out.matchAll(/^loaded file:.*\/dist\/([^/\s]+\.js)$/gm)].map((m) => m[1] as string);
  return [...new Set(files)];
}

/** A file holding one `send_money` call, in a new temporary directory. */
async function callFile(): Promise<string> {
  const call = join(await tempDir(), "call.json");
  writeFileSync(call, JSON.stringify({ tool: "send_money", args: { recipient: "DE89", amount: 10 } }));
  return call;
}

/** The arguments of `proof check` of the call in `call` against the banking example policy. */
const checkBanking = (call: string): string[] => [
  "check",
  "--policy",
  "examples/policies/agentdojo-banking.yaml",
  "--call",
  call,
];

describe("files loaded by a run", () => {
  it("--version loads no config reader; check loads it and at most 12 files in all", async () => {
    const version = loadedFiles(["--version"]);
    expect(version).toContain("proof.js");
    expect(version.filter((f) => f.startsWith("config-"))).toEqual([]);
    const check = loadedFiles(checkBanking(await callFile()));
    expect(check.filter((f) => /^(check|config)-/.test(f))).toHaveLength(2);
    expect(check.length).toBeLessThanOrEqual(12);
  });
});

/**
 * The CommonJS files of the bundle a run of `proof ARGS` has loaded when it exits, as Node.js's
 * CommonJS cache holds them (the ESM loader hook above does not see `require`).
 */
function requiredFiles(args: string[], status = 0): { files: string[]; stdout: string } {
  const hook = `import { createRequire } from "node:module"; const cache = createRequire(${JSON.stringify(`${ROOT}/`)}).cache; process.on("exit", () => { for (const k of Object.keys(cache)) process._rawDebug(\`required \${k}\`); });`;
  const run = runWithHook(hook, "required", args, status);
  const files = [...run.stderr.matchAll(/^required .*[/\\]dist[/\\]([^/\\\s]+)$/gm)].map(
    (m) => m[1] as string,
  );
  return { files, stdout: run.stdout };
}

/**
 * Writes a policy with an alias into `dir`: js-yaml is not certain to read it as the yaml library
 * does, which then reads it. Its rule blocks `send_money`.
 */
function aliasPolicy(dir: string): string {
  const policy = join(dir, "alias.yaml");
  writeFileSync(
    policy,
    "schema: proof.policy/v1\npolicy_id: alias.v1\nrules:\n  - id: a\n    match: &m\n      tool: [send_money]\n    effect: block\n  - id: b\n    match: *m\n    effect: warn\n",
  );
  return policy;
}

describe("the yaml library", () => {
  it("is loaded only by a run that needs it: not for a policy js-yaml reads, yes for one with an alias", async () => {
    const call = await callFile();
    const plain = requiredFiles(checkBanking(call));
    expect(plain.files).not.toContain("yaml.cjs");
    const policy = aliasPolicy(dirname(call));
    // Exit 3: the call is blocked.
    const alias = requiredFiles(["check", "--policy", policy, "--call", call], 3);
    expect(alias.files).toContain("yaml.cjs");
    expect(alias.stdout).toMatch(/^block send_money/m);
  });

  it("missing from a copied bundle, fails the run that needs it by name, and no other", async () => {
    const call = await callFile();
    const copy = join(dirname(call), "dist");
    cpSync(join(ROOT, "dist"), copy, { recursive: true });
    rmSync(join(copy, "yaml.cjs"));
    // Its .js files are ES modules, as the package's own package.json says.
    writeFileSync(join(dirname(copy), "package.json"), '{ "type": "module" }\n');
    const run = (policy: string) =>
      spawnSync(process.execPath, [join(copy, "proof.js"), "check", "--policy", policy, "--call", call], {
        cwd: ROOT,
        encoding: "utf8",
      });
    const plain = run("examples/policies/agentdojo-banking.yaml");
    expect({ status: plain.status, stdout: plain.stdout }).toEqual({
      status: 0,
      stdout: "allow send_money\n",
    });
    // Not a verdict reached some other way: the run stops, naming the file.
    const alias = run(aliasPolicy(dirname(call)));
    expect(alias.status).not.toBe(0);
    expect(alias.status).not.toBe(3);
    expect(alias.stderr).toMatch(/Cannot find module '\.\/yaml\.cjs'/);
  });
});
