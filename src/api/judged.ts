/**
 * Traces judged apart from the run that reports on them: in a worker thread (`--jobs`) or in
 * another shard of the run (`--shard`, `proof merge`). A {@link JudgedCase} carries everything the
 * report, the waivers and the artifacts need of its trace, so that the run that gathers them
 * writes the same bytes as a run that judged every trace itself. Pure: no file system.
 */
import { createHash } from "node:crypto";
import { CanonicalArrayHash } from "../io/canonical.js";
import type { PolicySet } from "../policy/set.js";
import { trialOf } from "../regress/trials.js";
import type { Trace } from "../trace/model.js";
import { CoverageCollector, type CoverageReport } from "../verify/coverage.js";
import type { TraceResult } from "../verify/decision.js";
import type { Activation } from "../verify/engine.js";
import { Engine } from "../verify/engine.js";
import type { JudgedTrace, JudgementOptions } from "./pipeline.js";

/**
 * One judged trace and where it stands in the run: `order` is [file ordinal, trace index in the
 * file], the order of `decisions.jsonl` (files as listed root after root, traces as read).
 */
export interface JudgedCase extends JudgedTrace {
  order: [number, number];
  /** Index into the traces roots as given: JUnit has one suite per root. */
  root: number;
  /**
   * The arguments of every call decided other than `allow`, by `seq`: all a waiver's `call.args`
   * fingerprint may ask for. A call with no arguments is absent.
   */
  args: Record<string, unknown>;
  /**
   * The result's lines of `decisions.jsonl`, when the thread that judged it wrote them: a worker
   * thread does, so that serialising decisions is spread over the threads too.
   */
  lines?: string;
}

/** Builds the {@link JudgedCase} of a trace just judged. */
export function judgedCase(
  result: TraceResult,
  trace: Trace,
  file: string,
  root: number,
  order: [number, number],
): JudgedCase {
  const args: Record<string, unknown> = {};
  for (const d of result.decisions) {
    if (d.verdict === "allow") continue;
    const call = trace.events[d.seq];
    if (call?.type === "tool_call" && call.args !== undefined) args[String(d.seq)] = call.args;
  }
  const trial = trialOf(result.case_id, trace.header.meta);
  return {
    result,
    file,
    format: trace.header.source.format,
    warnings: [...trace.warnings],
    ...(trial ? { trial } : {}),
    order,
    root,
    args,
  };
}

/**
 * What a run records of every trace it reads, judged or not: its case id and trace id. The
 * digest of the list in run order tells whether shards read the same corpus.
 */
export function seenKey(trace: Trace): string {
  return `${trace.header.case_id}\u0000${trace.header.trace_id}`;
}

/**
 * The {@link seenKey}s of a run in run order, as a count and the digest of their list (what a
 * shard records as `traces_read` and `traces_digest`), without holding the list.
 */
export class SeenTraces {
  private readonly hash = new CanonicalArrayHash();
  private n = 0;

  add(key: string): void {
    this.hash.add(key);
    this.n++;
  }

  /** How many traces were read. */
  get count(): number {
    return this.n;
  }

  /** `digestOf` the list of keys (src/io/canonical.ts); call once, when every trace is read. */
  digest(): string {
    return this.hash.digest();
  }
}

/** Orders judged cases as a run in one thread meets them. */
export function byRunOrder(a: JudgedCase, b: JudgedCase): number {
  return a.order[0] - b.order[0] || a.order[1] - b.order[1];
}

/** A part of a sharded run: shard `index` of `count`, 1-based. */
export interface ShardSpec {
  index: number;
  count: number;
}

/**
 * The shard (1-based) that judges a case: the SHA-256 of the case id, read as a big-endian
 * integer, modulo `count`, plus one. It depends on the case id alone, so adding files elsewhere
 * in the corpus moves no other case.
 */
export function shardOf(caseId: string, count: number): number {
  const hex = createHash("sha256").update(caseId, "utf8").digest("hex");
  return Number(BigInt(`0x${hex}`) % BigInt(count)) + 1;
}

/** A file a shard read, kept for SARIF regions: its text and its size in bytes on disk. */
export interface KeptSource {
  path: string;
  size: number;
  text: string;
}

/**
 * The texts of `paths`, in the order given (each once), while their sizes add up to at most
 * `budget` bytes: what src/io/artifacts.ts readSourcesWithin gives, over texts kept by the shards
 * instead of files. A path no shard kept is left out.
 */
export function sourcesWithin(
  paths: readonly string[],
  kept: ReadonlyMap<string, KeptSource>,
  budget: number,
): Map<string, string> {
  const texts = new Map<string, string>();
  let used = 0;
  for (const path of paths) {
    if (texts.has(path)) continue;
    const source = kept.get(path);
    if (!source || used + source.size > budget) continue;
    texts.set(path, source.text);
    used += source.size;
  }
  return texts;
}

/**
 * Adds up the coverage documents of several parts of one run (threads or shards, each with its
 * own collector) into the document one collector over the whole run gives: counters are sums,
 * ratios and dead rules recomputed from them.
 * @param min the `--min-coverage` threshold (percent), or null
 */
export function mergeCoverage(
  policies: PolicySet,
  activation: Activation,
  context: Record<string, unknown>,
  parts: readonly CoverageReport[],
  min: number | null,
): CoverageReport {
  const collector = new CoverageCollector();
  // An engine registers the policies and marks the active rules, as every part's engine did.
  new Engine(policies.compiled, activation, context, collector);
  const byKey = new Map(policies.compiled.map((p) => [`${p.ir.policy_id}\u0000${p.ir.policy_digest}`, p]));
  for (const part of parts) {
    for (let i = 0; i < part.tool_calls; i++) collector.call();
    for (const p of part.policies) {
      const compiled = byKey.get(`${p.policy_id}\u0000${p.policy_digest}`);
      if (!compiled) throw new Error(`coverage of policy ${p.policy_id} that the run does not apply`);
      for (const r of p.rules) {
        const counters = collector.rule(compiled, r.id);
        counters.evaluated += r.evaluated;
        counters.fired += r.fired;
        counters.errors += r.errors;
        r.conditions.forEach((c, i) => {
          counters.trues[i] = (counters.trues[i] ?? 0) + c.true;
          counters.falses[i] = (counters.falses[i] ?? 0) + c.false;
        });
      }
    }
  }
  return collector.summary(min);
}

/**
 * What a worker thread or a shard needs to judge traces as the run does: the policies as IRs
 * (compiled again where they are used), the context and the plan. Structured-cloneable and JSON.
 */
export interface JudgeSetup extends JudgementOptions {
  policies: { ir: PolicySet["irs"][number]; file: string }[];
}
