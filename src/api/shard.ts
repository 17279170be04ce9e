/**
 * Sharded runs (docs/ci.md, "Sharding"): `--shard I/N` judges the cases whose case id hashes to
 * shard I (src/api/judged.ts shardOf) and writes a part, an out dir of `shard.json`,
 * `cases.jsonl` (one judged case a line, in run order), `sources.jsonl` (texts of the files SARIF
 * regions may point into) and `manifest.json`. `proof merge` checks that the parts belong to one
 * run and gathers their cases into the out dir one unsharded run writes, byte for byte, without
 * judging anything again.
 */
import { randomUUID } from "node:crypto";
import { inputError, ProofError } from "../errors.js";
import { hashDirectory, MAX_REGION_SOURCE_BYTES, readKeyFile } from "../io/artifacts.js";
import { digestOf, jsonLine, prettyJson } from "../io/canonical.js";
import { fileSize, readLines, readTextFile, toPosix } from "../io/files.js";
import { StagedDir } from "../io/out-dir.js";
import { chunkedWriter } from "../io/write.js";
import { MANIFEST_FILE, parsePrivateKey } from "../report/manifest.js";
import type { PolicyRef } from "../report/report.js";
import { parseJson } from "../trace/json.js";
import type { FormatName } from "../trace/model.js";
import type { CoverageReport } from "../verify/coverage.js";
import { VERSION } from "../version.js";
import { staleLines } from "../waivers/waivers.js";
import {
  byRunOrder,
  type JudgedCase,
  type JudgeSetup,
  type KeptSource,
  mergeCoverage,
  SeenTraces,
  type ShardSpec,
  sourcesWithin,
} from "./judged.js";
import type { CaseResult } from "./pipeline.js";
import { workerCount } from "./pool.js";
import {
  EXIT_GATE_FAILED,
  inputPaths,
  type Judging,
  judgeAll,
  listRunFiles,
  prepare,
  prepareFrom,
  type VerifyInput,
  type VerifyProgress,
  writeManifest,
  writeRun,
} from "./verify.js";

/** Schema of `shard.json`. */
export const SHARD_SCHEMA = "proof.shard/v1";
/** The files of a part besides `manifest.json`. */
export const SHARD_FILE = "shard.json";
export const CASES_FILE = "cases.jsonl";
export const SOURCES_FILE = "sources.jsonl";

/** Most shards of a run: far more CI runners than any matrix has. */
export const MAX_SHARDS = 1000;

/**
 * Parses `--shard I/N` (or `PROOF_SHARD`): 1 <= I <= N <= {@link MAX_SHARDS}.
 * @throws ProofError `usage.shard` (exit 6).
 */
export function parseShard(value: string): ShardSpec {
  const m = /^([1-9][0-9]{0,3})\/([1-9][0-9]{0,3})$/.exec(value.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || index > count || count > MAX_SHARDS) {
    throw inputError(
      "usage.shard",
      `--shard must be I/N with 1 <= I <= N <= ${MAX_SHARDS} (shard I of N), not '${value}'`,
    );
  }
  return { index, count };
}

/**
 * The command whose gate `proof merge` applies, as the part records it: `verify`, or `regress`
 * with the options of `proof regress run` and the baseline's text (its path as given, its size on
 * disk), which the merged run compares with. `options` is the command's own, read back by it.
 */
export interface PartCommand {
  kind: "verify" | "regress";
  options: Record<string, unknown>;
  baseline?: { file: string; text: string; size: number };
}

/** `shard.json`: which part this is, of which run. */
export interface ShardDoc {
  schema: typeof SHARD_SCHEMA;
  proof_version: string;
  shard: ShardSpec;
  policies: PolicyRef[];
  bundle_digest: string;
  /** SHA-256 of the baseline's text (regress), else null. */
  baseline_digest: string | null;
  setup: JudgeSetup;
  run: {
    roots: string[];
    format: FormatName | "auto";
    redact: boolean;
    waivers: { file: string; text: string; today: string } | null;
    command: PartCommand;
  };
  /** Traces read by the part, its own or not: every part reads every trace. */
  traces_read: number;
  /**
   * Digest of the case id and trace id of every trace read, in run order: equal in every part
   * of one run, since every shard must read the same corpus.
   */
  traces_digest: string;
  /** The case ids this part judged, sorted. */
  cases: string[];
  /** The part's coverage document (`--coverage`), else null. */
  coverage: CoverageReport | null;
}

/**
 * Judges the cases of one shard and writes its part into `input.out` (replacing an earlier out
 * dir as a run does). Every trace is read, so a bad trace fails every shard, as it fails an
 * unsharded run; only the shard's own are judged.
 * @param keepAll keep the text of every trace file of the part for SARIF regions (the regression
 *   gate may point at any case), not only of those with a finding.
 * @returns how many cases the part holds of how many traces read.
 * @throws ProofError (exit 6) on invalid input, or `trace.none` when no trace is found at all.
 */
export async function runVerifyShard(
  input: VerifyInput,
  shard: ShardSpec,
  command: PartCommand,
): Promise<{ cases: number; read: number; warnings: string[] }> {
  if (input.otel) {
    throw inputError(
      "usage.shard_otel",
      "--shard does not export OpenTelemetry spans; export them from an unsharded run",
    );
  }
  const p = await prepare(input);
  const stage = await StagedDir.create(input.out, inputPaths(input));
  try {
    const files = await listRunFiles(input.traces);
    const threads = workerCount(input.jobs ?? 1, files.length);
    input.threads?.(threads, files.length);
    const judging: Judging = {
      files,
      format: input.format,
      threads,
      shard,
      runId: randomUUID(),
      stats: { seen: new SeenTraces() },
      coverage: [],
    };
    const keep = new Set<string>();
    const writer = chunkedWriter(await stage.open(CASES_FILE));
    try {
      for await (const c of judgeAll(p, judging)) {
        input.progress?.trace(c.result.tool_calls);
        // Checks case ids are unique within the part (a case id always lands in one shard).
        p.judgement.recordCase(c);
        if (command.kind === "regress" || c.result.decisions.some((d) => d.verdict !== "allow"))
          keep.add(c.file);
        // What a worker thread serialised ahead is left out: merge derives it again.
        const { lines: _lines, decisionDigest: _digest, ...stored } = c;
        await writer.write(jsonLine(stored));
      }
    } finally {
      input.progress?.done();
      await writer.close();
    }
    const read = judging.stats.seen.count;
    if (read === 0) {
      throw inputError(
        "trace.none",
        `no traces found in ${input.traces.join(", ")}`,
        undefined,
        "traces are .json or .jsonl files",
      );
    }
    await writeKeptSources(stage, [...keep]);
    const ids = p.judgement.cases.map((c) => c.case_id).sort();
    const own = judging.threads > 0 ? judging.coverage : [p.judgement.coverage()];
    const doc: ShardDoc = {
      schema: SHARD_SCHEMA,
      proof_version: VERSION,
      shard,
      policies: p.policies.irs.map((ir) => ({ policy_id: ir.policy_id, policy_digest: ir.policy_digest })),
      bundle_digest: p.policies.bundleDigest,
      baseline_digest: command.baseline ? digestOf(command.baseline.text) : null,
      setup: p.setup,
      run: {
        roots: [...input.traces],
        format: input.format,
        redact: input.redact === true,
        waivers: p.waivers ?? null,
        command,
      },
      traces_read: read,
      traces_digest: judging.stats.seen.digest(),
      cases: ids,
      coverage: p.setup.coverage
        ? mergeCoverage(
            p.policies,
            p.judgement.activation,
            p.setup.context,
            own.filter((c): c is CoverageReport => c !== null),
            p.setup.coverage.min,
          )
        : null,
    };
    await stage.write(SHARD_FILE, prettyJson(doc));
    await writeManifest(stage, { policies: doc.policies, bundle_digest: doc.bundle_digest }, p.signingKey);
    await stage.commit();
    return { cases: ids.length, read, warnings: [...p.judgement.activation.warnings] };
  } catch (err) {
    await stage.abort();
    throw err;
  }
}

/**
 * Writes `sources.jsonl`: the texts of `paths` (each a {@link KeptSource}) within the region
 * budget, one file at a time.
 */
async function writeKeptSources(stage: StagedDir, paths: readonly string[]): Promise<void> {
  const writer = await stage.open(SOURCES_FILE);
  try {
    let used = 0;
    for (const path of paths) {
      let line: string;
      let size: number;
      try {
        size = await fileSize(path);
        if (used + size > MAX_REGION_SOURCE_BYTES) continue;
        line = jsonLine({ path, size, text: await readTextFile(path) } satisfies KeptSource);
      } catch (err) {
        // As for an unsharded run: a file that cannot be read again only loses its regions.
        if (!(err instanceof ProofError)) throw err;
        continue;
      }
      await writer.write(line);
      used += size;
    }
  } finally {
    await writer.close();
  }
}

/** One part as read by {@link readParts}. */
export interface Part {
  dir: string;
  doc: ShardDoc;
}

/** A refusal of `proof merge` (exit 6) located at a part's `shard.json`. */
function refusal(code: string, dir: string, message: string, hint?: string): ProofError {
  return inputError(code, message, { file: `${toPosix(dir)}/${SHARD_FILE}` }, hint);
}

/** The first field in which two JSON values differ, as a dotted path (`setup.fail_on`). */
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (digestOf(a) === digestOf(b)) return undefined;
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const found = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path === "" ? k : `${path}.${k}`,
      );
      if (found !== undefined) return found;
    }
  }
  return path;
}

/**
 * Reads the parts of a sharded run and checks that they make one whole run: each is a part
 * whose files match its `manifest.json`, written by this version of proof, of the same shard
 * count, policies, baseline and options, and together they are shards 1 to N, each once.
 * @returns the parts, by shard index.
 * @throws ProofError (exit 6) naming the part and what differs: `merge.not_a_part`,
 *   `merge.version`, `merge.shard_count`, `merge.policies`, `merge.baseline`, `merge.traces`,
 *   `merge.options`,
 *   `merge.duplicate_shard`, `merge.missing_shard`; `merge.part_changed` (exit 2) when a file of
 *   a part does not match its manifest.
 */
export async function readParts(dirs: readonly string[]): Promise<Part[]> {
  const parts: Part[] = [];
  for (const dir of dirs) {
    const file = `${toPosix(dir)}/${SHARD_FILE}`;
    let doc: ShardDoc;
    try {
      doc = parseJson(await readTextFile(`${dir}/${SHARD_FILE}`), file) as ShardDoc;
    } catch (err) {
      if (err instanceof ProofError && err.code === "io.unreadable")
        throw refusal(
          "merge.not_a_part",
          dir,
          `${toPosix(dir)} is not a part of a sharded run: it has no ${SHARD_FILE}`,
          "merge the out dirs of proof verify --shard I/N",
        );
      throw err;
    }
    if (doc?.schema !== SHARD_SCHEMA || !Number.isInteger(doc.shard?.index)) {
      throw refusal("merge.not_a_part", dir, `${file} is not a ${SHARD_SCHEMA} document`);
    }
    if (doc.proof_version !== VERSION) {
      throw refusal(
        "merge.version",
        dir,
        `${toPosix(dir)} was written by proof ${doc.proof_version}; this is proof ${VERSION}`,
        "run every shard and the merge with the same version of proof",
      );
    }
    await checkPartFiles(dir);
    parts.push({ dir, doc });
  }
  const [first, ...rest] = parts;
  if (!first) throw inputError("usage.missing_argument", "no parts to merge");
  const name = (p: Part) => `${toPosix(p.dir)} (shard ${p.doc.shard.index}/${p.doc.shard.count})`;
  for (const p of rest) {
    if (p.doc.shard.count !== first.doc.shard.count) {
      throw refusal(
        "merge.shard_count",
        p.dir,
        `${name(p)} is one of ${p.doc.shard.count} shards, but ${name(first)} one of ${first.doc.shard.count}`,
        "merge parts of one sharded run",
      );
    }
    if (p.doc.bundle_digest !== first.doc.bundle_digest) {
      throw refusal(
        "merge.policies",
        p.dir,
        `${name(p)} judged with policies ${p.doc.bundle_digest}, but ${name(first)} with ${first.doc.bundle_digest}`,
        "every shard must use the same policies",
      );
    }
    if (p.doc.baseline_digest !== first.doc.baseline_digest) {
      throw refusal(
        "merge.baseline",
        p.dir,
        `${name(p)} compared with baseline ${p.doc.baseline_digest ?? "none"}, but ${name(first)} with ${first.doc.baseline_digest ?? "none"}`,
        "every shard must use the same baseline",
      );
    }
    if (p.doc.traces_digest !== first.doc.traces_digest) {
      throw refusal(
        "merge.traces",
        p.dir,
        `${name(p)} read other traces than ${name(first)} (${p.doc.traces_read} traces, digest ${p.doc.traces_digest}, against ${first.doc.traces_read}, ${first.doc.traces_digest})`,
        "every shard must read the same traces: a committed corpus, or traces recorded once before the shards",
      );
    }
    const differs =
      firstDifference(p.doc.setup, first.doc.setup, "setup") ??
      firstDifference(p.doc.run, first.doc.run, "run");
    if (differs !== undefined) {
      throw refusal(
        "merge.options",
        p.dir,
        `${name(p)} was run with other options than ${name(first)}: ${differs} differs`,
        "run every shard with the same options",
      );
    }
  }
  const byIndex = new Map<number, Part>();
  for (const p of parts) {
    const other = byIndex.get(p.doc.shard.index);
    if (other) {
      throw refusal(
        "merge.duplicate_shard",
        p.dir,
        `${toPosix(p.dir)} and ${toPosix(other.dir)} are both shard ${p.doc.shard.index}/${p.doc.shard.count}`,
      );
    }
    byIndex.set(p.doc.shard.index, p);
  }
  const count = first.doc.shard.count;
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw refusal(
      "merge.missing_shard",
      first.dir,
      `shard${missing.length === 1 ? "" : "s"} ${missing.map((i) => `${i}/${count}`).join(", ")} ${missing.length === 1 ? "is" : "are"} missing: got ${[...byIndex.keys()].sort((a, b) => a - b).join(", ")} of ${count}`,
      "pass the out dir of every shard",
    );
  }
  return [...byIndex.values()].sort((a, b) => a.doc.shard.index - b.doc.shard.index);
}

/** Checks the part's files against its manifest. @throws ProofError `merge.part_changed` (exit 2). */
async function checkPartFiles(dir: string): Promise<void> {
  const manifestFile = `${toPosix(dir)}/${MANIFEST_FILE}`;
  const manifest = parseJson(await readTextFile(`${dir}/${MANIFEST_FILE}`), manifestFile) as {
    files?: Record<string, string>;
  };
  const found = await hashDirectory(dir);
  for (const name of [SHARD_FILE, CASES_FILE, SOURCES_FILE]) {
    if (manifest.files?.[name] === undefined || manifest.files[name] !== found[name]) {
      throw new ProofError(
        "merge.part_changed",
        `${toPosix(dir)}/${name} does not match the part's ${MANIFEST_FILE}: it changed since the shard wrote it`,
        { category: "integrity", location: { file: `${toPosix(dir)}/${name}` } },
      );
    }
  }
}

/** Reads the JSON lines of a part's file. */
async function* partLines<T>(dir: string, name: string): AsyncGenerator<T> {
  const file = `${toPosix(dir)}/${name}`;
  for await (const { text, line } of readLines(`${dir}/${name}`)) {
    if (text !== "") yield parseJson(text, file, line) as T;
  }
}

/** What {@link runMerge} takes besides the parts. */
export interface MergeInput {
  out: string;
  /** PKCS#8 PEM Ed25519 key file that signs the merged `manifest.json` (`--sign-key`). */
  signKey?: string;
  gate?: VerifyInput["gate"];
  progress?: VerifyProgress;
}

/**
 * Gathers checked parts ({@link readParts}) into the out dir an unsharded run with the same
 * options writes: cases in run order, the report, the gate over the whole set (the regression
 * gate compares every case with the baseline), the artifacts and the manifest.
 * @returns as runVerify: the report, the exit code (0 passed, 5 failed), warnings, the cases.
 * @throws ProofError (exit 6) on a bad key or a part that does not read back.
 */
export async function runMerge(
  parts: readonly Part[],
  input: MergeInput,
): Promise<{
  report: import("../report/report.js").Report;
  code: number;
  warnings: string[];
  cases: CaseResult[];
}> {
  const first = parts[0];
  if (!first) throw inputError("usage.missing_argument", "no parts to merge");
  const { setup, run } = first.doc;
  const signingKey = input.signKey
    ? parsePrivateKey(await readKeyFile(input.signKey), toPosix(input.signKey))
    : undefined;
  const p = { ...prepareFrom(setup, run.waivers ?? undefined), ...(signingKey ? { signingKey } : {}) };
  const stage = await StagedDir.create(input.out, [
    ...parts.map((part) => part.dir),
    ...(input.signKey ? [input.signKey] : []),
  ]);
  try {
    const cases: JudgedCase[] = [];
    const kept = new Map<string, KeptSource>();
    for (const part of parts) {
      for await (const c of partLines<JudgedCase>(part.dir, CASES_FILE)) cases.push(c);
      for await (const s of partLines<KeptSource>(part.dir, SOURCES_FILE)) kept.set(s.path, s);
    }
    const baseline = run.command.baseline;
    if (baseline)
      kept.set(toPosix(baseline.file), {
        path: toPosix(baseline.file),
        size: baseline.size,
        text: baseline.text,
      });
    cases.sort(byRunOrder);
    const {
      report,
      code,
      cases: judged,
    } = await writeRun(p, stage, cases, {
      roots: run.roots,
      redact: run.redact,
      ...(input.gate ? { gate: input.gate } : {}),
      ...(input.progress ? { progress: input.progress } : {}),
      sources: async (paths) => {
        const texts = sourcesWithin(paths, kept, MAX_REGION_SOURCE_BYTES);
        return async (path) => texts.get(path);
      },
      coverage: () =>
        setup.coverage
          ? mergeCoverage(
              p.policies,
              p.judgement.activation,
              setup.context,
              parts.flatMap((part) => (part.doc.coverage ? [part.doc.coverage] : [])),
              setup.coverage.min,
            )
          : undefined,
    });
    // As an unsharded run: a waiver that matched nothing is a warning.
    const notes = report.waivers ? staleLines(report.waivers) : [];
    return { report, code, warnings: [...p.judgement.activation.warnings, ...notes], cases: judged };
  } catch (err) {
    await stage.abort();
    throw err;
  }
}

export { EXIT_GATE_FAILED };
