/**
 * `proof verify` as a library function over files: reads policies, traces, context, plan and
 * waivers, judges every trace (src/api/pipeline.ts) and writes the out dir as a whole. The
 * commands `verify`, `run`, `regress` and `adapt` are thin shells over {@link runVerify}.
 */
import type { KeyObject } from "node:crypto";
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { basename, dirname } from "node:path";
import { chooseWithinBudget, readKeyFile, readSource, sourcesWithinBudget } from "../io/artifacts.js";
import { jsonLine, prettyJson, prettyJsonParts } from "../io/canonical.js";
import { fileLimit, readTextFile, toPosix } from "../io/files.js";
import { StagedDir } from "../io/out-dir.js";
import { loadContext, loadPolicySet } from "../io/policy-files.js";
import { listGateTraceFiles, traceSource } from "../io/trace-files.js";
import { SpilledTraceStore } from "../io/trace-spill.js";
import { chunkedWriter } from "../io/write.js";
import { loadPlan } from "../plan/load-plan.js";
import type { Plan } from "../plan/plan.js";
import type { Verdict } from "../policy/ir.js";
import { type PolicySet, policySetOf } from "../policy/set.js";
import { findingsBySeverity, ruleMetaOf } from "../report/findings.js";
import type { RegressGate } from "../report/gate.js";
import { MANIFEST_FILE, parsePrivateKey, renderManifest } from "../report/manifest.js";
import { renderSummary } from "../report/markdown.js";
import type { RegionRequest } from "../report/regions.js";
import { fileOfCase, type Report, reportForWriting, type SpillPolicy } from "../report/report.js";
import { createDecisionExporter, type DecisionExporter, type ExporterOptions } from "../telemetry/otel.js";
import type { FormatName } from "../trace/model.js";
import { readTraces } from "../trace/read.js";
import type { CoverageReport } from "../verify/coverage.js";
import { VERSION } from "../version.js";
import { parseWaivers, resolveToday, staleLines, WaiverMatcher } from "../waivers/waivers.js";
import {
  type JudgedCase,
  type JudgeSetup,
  judgedCase,
  mergeCoverage,
  SeenTraces,
  type ShardSpec,
  seenKey,
  shardOf,
} from "./judged.js";
import { type CaseResult, Judgement } from "./pipeline.js";
import { judgeInPool, type PoolFile, workerCount } from "./pool.js";
import { type RegionJob, regionFiles, regionWorkerFile, startRegionJob } from "./pool-regions.js";

/** Exit code of a failed gate (docs/exit-codes.md). */
export const EXIT_GATE_FAILED = 5;

/** A run's observer of progress: one call per judged trace, one when done (src/cli/progress.ts). */
export interface VerifyProgress {
  trace(decisions: number): void;
  done(): void;
}

/** What `verify` needs, resolved from flags. */
export interface VerifyInput {
  /** `--policy` as given, or policies already loaded (by `adapt`). */
  policy: string | PolicySet;
  traces: string[];
  context?: string;
  /** A plan file (`--plan`), or a plan just made: only its rules are evaluated, in its order. */
  plan?: string | Plan;
  failOn: Verdict;
  format: FormatName | "auto";
  out: string;
  /** Other files the run reads (a baseline): like every input, they may not lie inside `out`. */
  inputs?: string[];
  /** Replace matched values in the public artifacts by a SHA-256 prefix (`--redact`, docs/artifacts.md). */
  redact?: boolean;
  /** PKCS#8 PEM Ed25519 key file that signs `manifest.json` (`--sign-key`). */
  signKey?: string;
  /** A waivers file (`--waivers`): waived findings do not fail the gate, expired waivers do. */
  waivers?: string;
  /** The date waiver expiry is judged against (`--today`, YYYY-MM-DD); see resolveToday. */
  today?: string;
  /** Export decisions as OpenTelemetry spans (`--otel-out`, `--otel-endpoint`): never changes a result. */
  otel?: ExporterOptions;
  /**
   * Collect policy coverage (`--coverage`): it goes into `report.json`, `summary.md` and
   * `coverage.json`; below `min` percent of outcomes (`--min-coverage`) the run fails (exit 5).
   */
  coverage?: { min: number | null };
  /**
   * Decides the exit code from the finished report and each case's result (default: 0 when the
   * report passed, else 5) and may add artifacts; `regress` compares with a baseline here.
   */
  gate?: (report: Report, cases: readonly CaseResult[]) => GateOutcome | Promise<GateOutcome>;
  /** Told of every judged trace (a progress line at a terminal); none by default. */
  progress?: VerifyProgress;
  /**
   * Threads that judge traces (`--jobs`): this one and N - 1 worker threads; 1, the default,
   * judges in this thread alone. Runs over few files stay in one thread (src/api/pool.ts
   * MIN_FILES_PER_WORKER).
   */
  jobs?: number;
  /**
   * Told how many threads judge the traces (this one and the workers; 0: this thread alone, no
   * pool), once the files are listed.
   */
  threads?: (count: number, files: number) => void;
  /**
   * Bytes of report entries held in memory before they are spilled to a scratch file beside the
   * staging directory (default {@link REPORT_MEMORY}; 0 spills from the first trace). The
   * artifacts are the same bytes either way.
   */
  reportMemory?: number;
}

/**
 * Bytes (a rough count, src/report/report.ts SpillPolicy) of report entries a run holds in memory
 * before it writes them to a scratch file: a corpus whose report is larger keeps an index of its
 * cases instead, so that memory does not grow with the corpus (docs/performance.md).
 */
export const REPORT_MEMORY = 16 * 1024 * 1024;

/**
 * What a gate decided: the exit code, artifacts to add to the out dir (name -> text), and for the
 * regression gate its comparison, which the public artifacts (JUnit, SARIF, annotations) follow.
 */
export interface GateOutcome {
  code: number;
  files?: Record<string, string>;
  regress?: RegressGate;
}

/**
 * The files SARIF results will point into, most important first: the trace files of failing
 * regressions (and the baseline when a failing case is missing), then those of findings, most
 * restrictive first.
 */
function regionSources(report: Report, regress: RegressGate | undefined): string[] {
  const files = fileOfCase(report);
  const failing = (regress?.result.transitions ?? []).filter((t) => t.fails);
  const sources = failing.map((t) => files(t.case_id) ?? regress?.baseline ?? "");
  const findings = findingsBySeverity(report);
  for (let k = 0; k < findings.length; k++) sources.push(findings.at(k).trace.file);
  return sources.filter((f) => f !== "");
}

/** Everything a run decides before it judges a trace: its inputs, loaded and checked. */
export interface Prepared {
  policies: PolicySet;
  setup: JudgeSetup;
  judgement: Judgement;
  plan?: Plan;
  signingKey?: KeyObject;
  matcher?: WaiverMatcher;
  /** The waivers file as given, its text and the date expiry is judged against. */
  waivers?: { file: string; text: string; today: string };
}

/**
 * A judgement and the rest of a run's set-up from {@link JudgeSetup} (and waivers as text): the
 * one way a run, a worker thread and `proof merge` make them, so all three judge alike.
 * @throws ProofError (exit 6) when the plan does not fit, or a waiver names an unknown rule.
 */
export function prepareFrom(
  setup: JudgeSetup,
  waivers?: { file: string; text: string; today: string },
  policies: PolicySet = policySetOf(setup.policies),
  spill?: SpillPolicy,
): Prepared {
  const judgement = new Judgement(policies, {
    context: setup.context,
    hasContext: setup.hasContext,
    ...(setup.plan ? { plan: setup.plan, planFile: setup.planFile ?? "plan" } : {}),
    failOn: setup.failOn,
    ...(setup.coverage ? { coverage: setup.coverage } : {}),
    ...(spill ? { spill } : {}),
  });
  const matcher = waivers
    ? new WaiverMatcher(
        parseWaivers(waivers.text, waivers.file),
        waivers.today,
        new Map(policies.irs.flatMap((ir) => ir.rules.map((r) => [r.id, r.effect] as const))),
      )
    : undefined;
  return {
    policies,
    setup,
    judgement,
    ...(setup.plan ? { plan: setup.plan } : {}),
    ...(matcher ? { matcher } : {}),
    ...(waivers ? { waivers } : {}),
  };
}

/**
 * Reads and checks every input of a run but the traces. `spill` is where the report's entries go
 * once they outgrow memory (see {@link REPORT_MEMORY}). @throws ProofError (exit 6).
 */
export async function prepare(input: VerifyInput, spill?: SpillPolicy): Promise<Prepared> {
  const policies = typeof input.policy === "string" ? await loadPolicySet(input.policy) : input.policy;
  const context = input.context ? await loadContext(input.context) : {};
  const plan =
    typeof input.plan === "string"
      ? loadPlan(await readTextFile(input.plan, fileLimit()), input.plan)
      : input.plan;
  // Read before anything is staged: a bad key is invalid input, not a half-written out dir.
  const signingKey = input.signKey
    ? parsePrivateKey(await readKeyFile(input.signKey), toPosix(input.signKey))
    : undefined;
  const waivers = input.waivers
    ? {
        file: toPosix(input.waivers),
        text: await readTextFile(input.waivers, fileLimit()),
        today: resolveToday(input.today, process.env.SOURCE_DATE_EPOCH, new Date()),
      }
    : undefined;
  const setup: JudgeSetup = {
    // The file only names a policy in messages about clashes, which loading already ruled out.
    policies: policies.irs.map((ir) => ({ ir, file: ir.policy_id })),
    context,
    hasContext: Boolean(input.context),
    ...(plan ? { plan, planFile: typeof input.plan === "string" ? input.plan : "plan" } : {}),
    failOn: input.failOn,
    ...(input.coverage ? { coverage: input.coverage } : {}),
  };
  return { ...prepareFrom(setup, waivers, policies, spill), ...(signingKey ? { signingKey } : {}) };
}

/** The inputs of a run that may not lie inside its out dir. */
export function inputPaths(input: VerifyInput): string[] {
  return [
    ...(typeof input.policy === "string" ? [input.policy] : []),
    ...input.traces,
    ...(input.context ? [input.context] : []),
    ...(typeof input.plan === "string" ? [input.plan] : []),
    ...(input.signKey ? [input.signKey] : []),
    ...(input.waivers ? [input.waivers] : []),
    ...(input.inputs ?? []),
  ];
}

/** Every trace file of the run in file order: roots as given, files as listed under each. */
export async function listRunFiles(roots: readonly string[]): Promise<PoolFile[]> {
  const files: PoolFile[] = [];
  for (const [root, path] of roots.entries()) {
    for (const found of await listGateTraceFiles(path)) {
      files.push({ ordinal: files.length, root, path: found.path, rel: found.rel });
    }
  }
  return files;
}

/** How a run judges its traces: the files, the thread count, and what it keeps. */
export interface Judging {
  /**
   * Every trace file of the run; emptied by {@link judgeAll} once every trace is judged, so that
   * a list with an entry per file is not held while the artifacts are written.
   */
  files: readonly PoolFile[];
  format: FormatName | "auto";
  threads: number;
  shard?: ShardSpec;
  exporter?: DecisionExporter;
  runId: string;
  /** Traces read, judged or not (a shard judges only its own). */
  stats: { seen: SeenTraces };
  /** Coverage documents of worker threads. */
  coverage: CoverageReport[];
}

/**
 * Judges every trace of the run (or of its shard), in this thread or a pool, in file order.
 * Empties `j.files` when done (see {@link Judging.files}).
 */
export async function* judgeAll(p: Prepared, j: Judging): AsyncGenerator<JudgedCase> {
  yield* judgeFiles(p, j);
  j.files = [];
}

async function* judgeFiles(p: Prepared, j: Judging): AsyncGenerator<JudgedCase> {
  if (j.threads > 0) {
    yield* judgeInPool(
      j.files,
      j.threads,
      { setup: p.setup, format: j.format, ...(j.shard ? { shard: j.shard } : {}) },
      j.coverage,
      j.stats,
    );
    return;
  }
  for (const f of j.files) {
    const source = traceSource({ path: f.path, rel: f.rel });
    let k = -1;
    for await (const trace of readTraces(source, j.format)) {
      k++;
      j.stats.seen.add(seenKey(trace));
      if (j.shard && shardOf(trace.header.case_id, j.shard.count) !== j.shard.index) continue;
      const result = p.judgement.verify(trace);
      if (j.exporter) {
        for (const d of result.decisions) {
          const call = trace.events[d.seq];
          j.exporter.export(d, {
            run_id: j.runId,
            policy_digest: p.policies.bundleDigest,
            ...(call?.type === "tool_call" ? { args: call.args } : {}),
          });
        }
      }
      yield judgedCase(result, trace, source.path, f.root, [f.ordinal, k]);
    }
  }
}

/** What {@link writeRun} needs besides the judged cases. */
interface RunOutput {
  roots: readonly string[];
  redact: boolean;
  gate?: VerifyInput["gate"];
  progress?: VerifyProgress;
  /**
   * The files SARIF regions may point into, most important first (those past a budget are left
   * out): gives the text of each, read when asked for, or undefined for a file left out.
   */
  sources: (paths: readonly string[]) => Promise<(path: string) => Promise<string | undefined>>;
  /** Coverage of traces judged elsewhere; read once every case is in. */
  coverage: () => CoverageReport | undefined;
  /**
   * Starts finding the regions of the SARIF results in other threads, while this one writes the
   * report: given the requests and the files they may point into (most important first). Without
   * it, this thread finds them through {@link sources}, after the report and before SARIF.
   */
  regionsApart?: (requests: RegionRequest[], paths: readonly string[]) => RegionJob;
}

/**
 * Gathers judged cases in run order into the whole out dir: `decisions.jsonl`, the report, the
 * gate's outcome, the public artifacts and `manifest.json`, then swaps it in.
 */
export async function writeRun(
  p: Prepared,
  stage: StagedDir,
  cases: AsyncIterable<JudgedCase> | Iterable<JudgedCase>,
  o: RunOutput,
): Promise<{ report: Report; code: number; cases: CaseResult[] }> {
  const { judgement, matcher } = p;
  /** Index into the roots of each case's root: JUnit has one suite per root. */
  const rootOf = new Map<string, number>();
  // Hashed while written: the manifest takes its digest without reading the file back.
  // Lines are written in chunks of about 64 KiB: a write per decision costs more than
  // serialising it (docs/performance.md).
  const decisions = chunkedWriter(await stage.open("decisions.jsonl"));
  try {
    for await (const c of cases) {
      o.progress?.trace(c.result.tool_calls);
      matcher?.judge(c.result, (seq) => c.args[String(seq)]);
      judgement.recordCase(c);
      // Most runs have one root: only cases under another are held (JUnit reads absent as 0).
      if (c.root !== 0) rootOf.set(c.result.case_id, c.root);
      if (c.lines !== undefined) await decisions.write(c.lines);
      else for (const d of c.result.decisions) await decisions.write(jsonLine(d));
    }
  } finally {
    o.progress?.done();
    await decisions.close();
  }
  const report = judgement.finish(o.roots.join(", "), matcher, o.coverage());
  const outcome = o.gate
    ? await o.gate(report, judgement.cases)
    : { code: report.passed ? 0 : EXIT_GATE_FAILED };
  // An expired waiver, or coverage below the minimum, fails a run that otherwise passed; neither
  // hides another failure.
  const failsAnyway = (report.waivers?.expired.length ?? 0) > 0 || report.coverage?.passed === false;
  const code = outcome.code === 0 && failsAnyway ? EXIT_GATE_FAILED : outcome.code;
  // Loaded on demand: the JUnit builder is a large chunk that only a gate run needs.
  const { publicArtifactParts, publicRegionRequests, resolveRegions, SARIF_ARTIFACT } = await import(
    "../report/artifacts.js"
  );
  const rules = ruleMetaOf(p.policies.irs);
  const gate = outcome.regress ? { regress: outcome.regress } : {};
  const requests = publicRegionRequests(report, { rules, ...gate });
  const regionPaths = regionSources(report, outcome.regress);
  // Begun in other threads, if the run has them, while this thread writes what needs no region.
  const apart = o.regionsApart?.(requests, regionPaths);
  try {
    // In parts, one trace at a time: no string of the whole report is built.
    await writeParts(stage, "report.json", prettyJsonParts(reportForWriting(report)));
    await stage.write("summary.md", renderSummary(report, { redact: o.redact }));
    await stage.write("status.json", prettyJson({ phase: "gate", code }));
    if (p.plan) await stage.write("plan.json", prettyJson(p.plan));
    if (report.coverage) await stage.write("coverage.json", prettyJson(report.coverage));
    const artifactOptions = {
      rules,
      roots: o.roots.map(toPosix),
      rootOf,
      version: VERSION,
      redact: o.redact,
      ...gate,
    };
    for (const [name, parts] of publicArtifactParts(report, artifactOptions)) {
      if (name !== SARIF_ARTIFACT) await writeParts(stage, name, parts());
    }
    // Found (or joined) here, one source file at a time, once the other artifacts are written: no
    // file's text or syntax tree is held while SARIF is.
    const regions = apart
      ? await apart.finish()
      : await resolveRegions(requests, await o.sources(regionPaths));
    for (const [name, parts] of publicArtifactParts(report, { ...artifactOptions, regions })) {
      if (name === SARIF_ARTIFACT) await writeParts(stage, name, parts());
    }
  } finally {
    // Region workers still at work when a write failed; they have ended otherwise.
    await apart?.close();
  }
  for (const [name, text] of Object.entries(outcome.files ?? {})) await stage.write(name, text);
  await writeManifest(stage, report, p.signingKey);
  await stage.commit();
  return {
    report,
    code,
    // Made when read: a run whose caller never reads them holds no object per case.
    get cases() {
      return judgement.cases;
    },
  };
}

/** Writes an artifact of the out dir from its parts, in chunks of about 64 KiB, hashed as written. */
export async function writeParts(stage: StagedDir, name: string, parts: Iterable<string>): Promise<void> {
  const writer = chunkedWriter(await stage.open(name));
  for (const part of parts) await writer.write(part);
  await writer.close();
}

/** Writes `manifest.json` last, so that it covers every other file of the out dir. */
export async function writeManifest(
  stage: StagedDir,
  report: Pick<Report, "policies" | "bundle_digest" | "waivers">,
  signingKey: KeyObject | undefined,
): Promise<void> {
  const manifest = renderManifest({
    version: VERSION,
    policies: report.policies,
    bundleDigest: report.bundle_digest,
    files: await stage.digests(),
    ...(report.waivers ? { waivers: { file: report.waivers.file, digest: report.waivers.digest } } : {}),
    ...(signingKey ? { signingKey } : {}),
  });
  await stage.write(MANIFEST_FILE, manifest);
}

/** The number of worker threads `--jobs` asks for: `os.availableParallelism()` by default. */
export function defaultJobs(): number {
  return availableParallelism();
}

/**
 * Runs the gate: judges every trace under the given paths and writes the out dir as a whole
 * (`report.json`, `decisions.jsonl`, `summary.md`, `status.json`, the public artifacts and
 * `manifest.json`). Nothing is written when an input is invalid: the staging directory is
 * discarded and the previous out dir stays. With `jobs` above one and enough files, traces are
 * judged in worker threads (src/api/pool.ts); the artifacts are the same bytes.
 * @returns the report, the exit code (0 passed, 5 failed), warnings for a person, and every
 *   case sorted by case id.
 * @throws ProofError (exit 6) on invalid input or when no trace is found.
 */
export async function runVerify(
  input: VerifyInput,
): Promise<{ report: Report; code: number; warnings: string[]; cases: CaseResult[] }> {
  // Made once the out dir is staged: the spilled entries live beside its staging directory.
  let staging: string | undefined;
  const p = await prepare(input, {
    budget: input.reportMemory ?? REPORT_MEMORY,
    spill: () =>
      staging === undefined
        ? undefined
        : SpilledTraceStore.open(dirname(staging), `${basename(staging)}.report-entries`),
  });
  // Telemetry only observes decisions: nothing below reads from it, so it cannot change them.
  const exporter = input.otel ? await createDecisionExporter(input.otel) : undefined;
  const stage = await StagedDir.create(input.out, inputPaths(input));
  staging = stage.staging;
  try {
    // Held by `judging` alone, which lets go of it once every trace is judged.
    const judging: Judging = {
      files: await listRunFiles(input.traces),
      format: input.format,
      threads: 0,
      ...(exporter ? { exporter } : {}),
      runId: randomUUID(),
      stats: { seen: new SeenTraces() },
      coverage: [],
    };
    // Spans need every call's arguments, which only this thread has: exporting judges here.
    const threads = exporter ? 0 : workerCount(input.jobs ?? 1, judging.files.length);
    judging.threads = threads;
    input.threads?.(threads, judging.files.length);
    const run = await writeRun(p, stage, judgeAll(p, judging), {
      roots: input.traces,
      redact: input.redact === true,
      ...(input.gate ? { gate: input.gate } : {}),
      ...(input.progress ? { progress: input.progress } : {}),
      sources: (paths) => sourcesWithinBudget(paths),
      // As many region workers as the pool had, which have ended by then.
      ...(threads > 0
        ? {
            regionsApart: (requests, paths) =>
              startRegionJob(
                regionFiles(requests, chooseWithinBudget(paths)),
                readSource,
                regionWorkerFile() === undefined ? 0 : threads - 1,
              ),
          }
        : {}),
      coverage: () =>
        threads > 0 && input.coverage
          ? mergeCoverage(
              p.policies,
              p.judgement.activation,
              p.setup.context,
              judging.coverage,
              input.coverage.min,
            )
          : undefined,
    });
    const problems = exporter ? await exporter.shutdown() : [];
    const { report, code } = run;
    // Expired waivers are no warning: the table names them as what failed the gate.
    const notes = report.waivers ? staleLines(report.waivers) : [];
    const warnings = [...p.judgement.activation.warnings, ...notes, ...problems];
    return {
      report,
      code,
      warnings,
      get cases() {
        return run.cases;
      },
    };
  } catch (err) {
    await stage.abort();
    await exporter?.shutdown();
    throw err;
  }
}
