import type { Command } from "commander";
import { prettyJson } from "../../io/canonical.js";
import { fileLimit, listTraceFiles, readTextFile } from "../../io/files.js";
import { StagedDir } from "../../io/out-dir.js";
import { loadPolicySet } from "../../io/policy-files.js";
import { listPolicyTestFiles } from "../../io/test-files.js";
import { traceSource } from "../../io/trace-files.js";
import { parseTestFile, type TestFile } from "../../policytest/load.js";
import { renderJson, renderJunit, renderText, summarise } from "../../policytest/report.js";
import { type CaseOutcome, runTestFile, type TestEnv } from "../../policytest/run.js";
import { coverageLine } from "../../report/coverage-text.js";
import { terminalText } from "../../report/escape.js";
import type { Trace } from "../../trace/model.js";
import { readTraces } from "../../trace/read.js";
import { CoverageCollector, type CoverageReport } from "../../verify/coverage.js";
import { coverageInput } from "../coverage-flags.js";
import type { GlobalOptions } from "../output.js";
import { EXIT_GATE_FAILED } from "./verify.js";

interface TestOptions {
  verbose?: boolean;
  out?: string;
  coverage?: boolean;
  minCoverage?: string;
}

/** Policies and trace files as the gate reads them. */
const ENV: TestEnv = {
  policy: (path) => loadPolicySet(path),
  traces: async (path, format) => {
    const traces: Trace[] = [];
    for (const found of await listTraceFiles(path)) {
      for await (const trace of readTraces(traceSource(found), format)) traces.push(trace);
    }
    return traces;
  },
};

/**
 * Loads and runs every test file under `paths`: all files are parsed first, so a malformed one
 * fails the run (exit 6) before any case runs.
 * @param coverage a collector fed by every engine of the run (`--coverage`), or null
 * @returns every case's outcome (with the decisions it made), files in path order.
 * @throws ProofError (exit 6) for a missing, malformed or unloadable test file.
 */
export async function runPolicyTests(
  paths: readonly string[],
  coverage: CoverageCollector | null = null,
): Promise<CaseOutcome[]> {
  const files: TestFile[] = [];
  for (const file of await listPolicyTestFiles(paths)) {
    files.push(parseTestFile(await readTextFile(file, fileLimit()), file));
  }
  const cache = new Map();
  const outcomes: CaseOutcome[] = [];
  for (const file of files) outcomes.push(...(await runTestFile(file, ENV, cache, coverage)));
  return outcomes;
}

/**
 * `proof test [PATHS...] [-v] [--out DIR] [--coverage] [--min-coverage PCT]`: runs the policy unit
 * tests (`*.test.yaml`) under the paths (default `.`); exit 0 when every case passes and coverage
 * reaches the minimum, 5 when one fails or coverage is below it, 6 for a bad test file or flag.
 */
async function test(paths: string[], opts: TestOptions, global: GlobalOptions): Promise<number> {
  const roots = paths.length > 0 ? paths : ["."];
  // Parsed before the out dir is touched: a bad --min-coverage leaves nothing behind.
  const wanted = coverageInput(opts).coverage;
  const collector = wanted ? new CoverageCollector() : null;
  // Staged first: an out dir that may not be replaced is refused before anything runs.
  const stage = opts.out ? await StagedDir.create(opts.out, roots) : undefined;
  let outcomes: CaseOutcome[];
  let coverage: CoverageReport | undefined;
  try {
    outcomes = await runPolicyTests(roots, collector);
    coverage = collector?.summary(wanted?.min ?? null);
    if (stage) {
      await stage.write("junit.xml", renderJunit(outcomes));
      if (coverage) await stage.write("coverage.json", prettyJson(coverage));
      await stage.commit();
    }
  } catch (err) {
    await stage?.abort();
    throw err;
  }
  const failed = summarise(outcomes).failed > 0 || coverage?.passed === false;
  if (global.json) {
    const doc = renderJson(outcomes) as Record<string, unknown>;
    process.stdout.write(prettyJson(coverage ? { ...doc, coverage } : doc));
  } else if (!global.quiet || failed) {
    let text = renderText(outcomes, opts.verbose === true);
    if (coverage) text += `${coverageLine(coverage)}\n`;
    process.stdout.write(text.split("\n").map(terminalText).join("\n"));
  }
  return failed ? EXIT_GATE_FAILED : 0;
}

/** Registers `proof test` (docs/testing.md). */
export function registerTest(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command("test")
    .description("run policy unit tests (*.test.yaml); exit 5 when a case fails, 6 for a bad test file")
    .argument("[paths...]", "test files or directories searched for *.test.yaml (default: .)")
    .option("-v, --verbose", "also list the cases that pass")
    .option("--out <dir>", "write junit.xml (and coverage.json) into this directory (replaced whole)")
    .option("--coverage", "report which rules fired and which conditions were seen true and false")
    .option(
      "--min-coverage <pct>",
      "fail (exit 5) when coverage of outcomes is below PCT percent; implies --coverage",
    )
    .action((paths: string[], opts: TestOptions, cmd: Command) =>
      run(() => test(paths, opts, cmd.optsWithGlobals<GlobalOptions>())),
    );
}
