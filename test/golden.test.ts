/**
 * Golden scenarios (fixtures/golden/README.md): the built CLI must write exactly the expected
 * artifacts for each. This test only reads expected/; `node scripts/update-golden.mjs` rewrites it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTree } from "jsonc-parser";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script without type declarations
import { ARTIFACTS, GOLDEN, runScenario, STDOUT, scenarios } from "../scripts/update-golden.mjs";

type Run = (name: string, out: string) => { status: number | null; stdout: string; stderr: string };

const NAMES = (scenarios as () => string[])();
const ARTIFACT_FILES = ARTIFACTS as string[];
const CORPUS = new URL("../fixtures/corpus/", import.meta.url);

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

function expected(name: string, file: string): string {
  return readFileSync(join(GOLDEN as string, name, "expected", file), "utf8");
}

/** Files under a directory, relative and `/`-separated. */
function walk(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe("golden scenarios", () => {
  it("include banking, slack, airline and escaping", () => {
    expect(NAMES).toEqual(expect.arrayContaining(["airline", "banking", "escaping", "slack"]));
  });

  it.each(NAMES)("%s: the CLI writes the expected artifacts byte for byte", async (name) => {
    const tmp = await mkdtemp(join(tmpdir(), "proof-golden-test-"));
    temps.push(tmp);
    const out = join(tmp, "out");
    const r = (runScenario as Run)(name, out);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(JSON.parse(expected(name, "status.json")).code);
    expect(r.stdout).toBe(expected(name, STDOUT as string));
    expect((await readdir(out)).sort()).toEqual([...ARTIFACT_FILES].sort());
    for (const file of ARTIFACT_FILES) {
      expect(await readFile(join(out, file), "utf8"), `${name}/expected/${file}`).toBe(expected(name, file));
    }
  });
});

describe("golden inputs", () => {
  it.each(["banking", "slack"])(
    "%s: trace files are byte-identical copies of the AgentDojo corpus",
    (name) => {
      const traces = join(GOLDEN as string, name, "traces");
      const files = walk(traces);
      expect(files.length).toBeGreaterThanOrEqual(3);
      for (const rel of files) {
        const copy = readFileSync(join(traces, rel));
        const original = readFileSync(new URL(`agentdojo/runs/${rel}`, CORPUS));
        expect(copy.equals(original), rel).toBe(true);
      }
    },
  );

  it("airline: each of the 3 runs is the text of a run of the tau-bench corpus file, unchanged", () => {
    const text = readFileSync(join(GOLDEN as string, "airline", "traces", "gpt-4o-airline-3.json"), "utf8");
    const original = readFileSync(new URL("tau-bench/gpt-4o-airline.json", CORPUS), "utf8");
    const runs = parseTree(text)?.children ?? [];
    expect(runs).toHaveLength(3);
    for (const run of runs)
      expect(original.includes(text.slice(run.offset, run.offset + run.length))).toBe(true);
  });
});

describe("the escaping scenario's summary.md", () => {
  const summary = expected("escaping", "summary.md");
  const findings = summary
    .slice(summary.indexOf("### Findings"))
    .split("\n")
    .filter((l) => l.startsWith("| ⛔"));

  it("has one finding row per blocked call, each with exactly the five cells of the header", () => {
    expect(findings).toHaveLength(3);
    for (const row of findings) expect(row.split(/(?<!\\)\|/).length - 2, row).toBe(5);
  });

  it("holds no live HTML, workflow command, link or code span from the trace", () => {
    expect(summary).not.toMatch(/<script|<img|<b>|<!--/);
    expect(summary.split("\n").some((l) => l.startsWith("::"))).toBe(false);
    expect(summary).not.toMatch(/(?<!\\)\]\(/);
    expect(summary).not.toMatch(/(?<!\\)`code/);
    expect(summary).toContain(
      "&lt;script&gt;alert\\(1\\)&lt;/script&gt;\\\\n\\:\\:error\\:\\:pwned \\| \\* \\_ …sha256\\:",
    );
  });

  it("shortens a long matched value to 64 characters, ending in a SHA-256 prefix", () => {
    expect(summary).toMatch(/body \\= "AAAAAAAAAA &lt;b&gt;x{34}…sha256\\:[0-9a-f]{8}"/);
  });
});
