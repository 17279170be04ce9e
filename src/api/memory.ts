/**
 * The gate over traces held in memory (`proof serve`, programs that record traces themselves):
 * the same judgement as `proof verify` (src/api/pipeline.ts), with no file system. A source's
 * `name` stands for the file's path relative to `--traces`, so that case ids, and with `root` the
 * report's `file` fields, are those `proof verify --traces ROOT` gives for the same files.
 */
import { inputError, ProofError } from "../errors.js";
import { prettyJson } from "../io/canonical.js";
import type { Plan } from "../plan/plan.js";
import type { Verdict } from "../policy/ir.js";
import type { PolicySet } from "../policy/set.js";
import type { Report } from "../report/report.js";
import type { FormatName } from "../trace/model.js";
import { readTraces, type TraceSource } from "../trace/read.js";
import { type CaseResult, Judgement } from "./pipeline.js";

/** One trace file held in memory. */
export interface MemorySource {
  /**
   * The file's path relative to the traces root, `/`-separated (`runs/a.json`): the base of its
   * case ids. It must end in `.json` or `.jsonl`, which decides how `content` is read.
   */
  name: string;
  /** The file's text (a leading byte order mark is dropped, as from a file). */
  content: string;
  /** Its format; `auto` (detection) by default. */
  format?: FormatName | "auto";
}

/** Ends in `.json` or `.jsonl` and holds no `\` (segments and NUL are checked apart). */
const NAME = /^[^\\]+\.jsonl?$/;

/**
 * Checks a source name: a relative `/`-separated path of a `.json` or `.jsonl` file.
 * @param where what to name in the message (`traces[3].name`)
 * @throws ProofError `trace.name` (exit 6).
 */
export function checkSourceName(name: string, where: string): void {
  if (
    !NAME.test(name) ||
    name.includes("\u0000") ||
    name.split("/").some((part) => part === "" || part === "." || part === "..")
  ) {
    throw inputError(
      "trace.name",
      `${where} must be a relative path ending in .json or .jsonl, without . or .. segments, not '${name}'`,
    );
  }
}

/** Drops a byte order mark, as reading a file does (src/io/files.ts decodeText). */
function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * A trace source over text in memory, read as the same bytes would be from a file: a NUL is
 * refused as binary content, lines end at `\n` with a `\r` before it dropped, and a byte order
 * mark is dropped (at the start of the text, and of each line of JSON Lines).
 * @param path the file as reports show it; @param rel the path relative to the traces root.
 */
export function memoryTraceSource(path: string, rel: string, content: string): TraceSource {
  const binary = (line?: number) =>
    new ProofError("io.binary", `${path} is a binary file, not text`, {
      location: line === undefined ? { file: path } : { file: path, line },
    });
  return {
    path,
    rel,
    text: async () => {
      if (content.includes("\u0000")) throw binary();
      return withoutBom(content);
    },
    lines: async function* () {
      const parts = content.split("\n");
      // Text after the last line break is a last line; nothing after it is none.
      if (parts[parts.length - 1] === "") parts.pop();
      for (const [i, part] of parts.entries()) {
        if (part.includes("\u0000")) throw binary(i + 1);
        const text = part.endsWith("\r") ? part.slice(0, -1) : part;
        yield { text: withoutBom(text), line: i + 1 };
      }
    },
  };
}

/** What {@link verifySources} takes besides the policies and the sources. */
export interface MemoryVerifyOptions {
  failOn: Verdict;
  /** The context object; none (the report's `context_digest` null) when absent. */
  context?: Record<string, unknown>;
  /** A plan made for these policies and this context (checked as `proof verify --plan` does). */
  plan?: Plan;
  /** Collect policy coverage into the report (`--coverage`); `min` as `--min-coverage`. */
  coverage?: { min: number | null };
  /**
   * The traces root as it would be given to `--traces` (`runs`): the report's `file` fields are
   * `root/name`. None: `file` is `name`, as `proof verify --traces .` run in the root gives.
   */
  root?: string;
  /**
   * Called between traces; a judgement takes its time in one go, so this is where a time limit
   * can stop it (throw to stop).
   */
  checkpoint?: () => void;
}

/** The result of {@link verifySources}. */
export interface MemoryVerifyResult {
  report: Report;
  /** The report as `proof verify` writes `report.json`: byte-identical for the same inputs. */
  bytes: string;
  cases: CaseResult[];
  /** Warnings for a person (the report holds them too). */
  warnings: string[];
}

/**
 * Judges traces held in memory against policies already loaded, as `proof verify` judges the
 * same files under a traces root. Sources are visited in code-unit order of `name`, as files are.
 * @throws ProofError (exit 6) on a bad name, a bad trace (located in `name`), a plan that does
 *   not fit, duplicate case ids, or no trace at all (`trace.none`).
 */
export async function verifySources(
  policies: PolicySet,
  sources: readonly MemorySource[],
  options: MemoryVerifyOptions,
): Promise<MemoryVerifyResult> {
  const judgement = new Judgement(policies, {
    context: options.context ?? {},
    hasContext: options.context !== undefined,
    ...(options.plan ? { plan: options.plan } : {}),
    failOn: options.failOn,
    ...(options.coverage ? { coverage: options.coverage } : {}),
  });
  for (const [i, s] of sources.entries()) checkSourceName(s.name, `traces[${i}].name`);
  const sorted = [...sources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const root = options.root?.replace(/\/+$/, "");
  for (const s of sorted) {
    const path = root && root !== "." ? `${root}/${s.name}` : s.name;
    for await (const trace of readTraces(memoryTraceSource(path, s.name, s.content), s.format ?? "auto")) {
      options.checkpoint?.();
      judgement.record(judgement.verify(trace), trace, path);
    }
  }
  const report = judgement.finish(root ?? "the request");
  return {
    report,
    bytes: prettyJson(report),
    cases: judgement.cases,
    warnings: [...judgement.activation.warnings],
  };
}
