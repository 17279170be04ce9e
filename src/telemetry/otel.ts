/**
 * OpenTelemetry export of decisions (docs/boundary.md): one span per decision, with low-risk fields
 * only, to an OTLP JSON file and/or an OTLP/HTTP endpoint, through the official JS SDK
 * (`@opentelemetry/sdk-trace-base` 2.x, `@opentelemetry/exporter-trace-otlp-http` 0.223.x, whose
 * later versions need Node 22). The SDK is imported on first use: a run without export never
 * loads it. Export only observes: it never changes a decision, an exit code or an artifact.
 */
import type { Attributes } from "@opentelemetry/api";
import type { ReadableSpan, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { canonicalJson } from "../io/canonical.js";
import { writeFileAtomic } from "../io/write.js";
import type { Decision } from "../verify/decision.js";
import { VERSION } from "../version.js";

/** Options of {@link createDecisionExporter}; with neither `file` nor `endpoint` nothing is exported. */
export interface ExporterOptions {
  /** Path of an OTLP JSON file (an `ExportTraceServiceRequest`), written on `shutdown`. */
  file?: string;
  /** OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces` (JSON encoding). */
  endpoint?: string;
  /** Add the call's arguments (canonical JSON) as `proof.tool.args`: off by default, they may be secret. */
  includeArgs?: boolean;
  /** Bound of one OTLP/HTTP export, retries included, in milliseconds (the SDK's default: 10000). */
  timeoutMillis?: number;
}

/** What the caller knows about a decision beyond the decision itself. */
export interface DecisionMeta {
  /** Identifies the run (one `proof verify`, one proxy session). */
  run_id?: string;
  /** Policy digest, or the bundle digest of several policies. */
  policy_digest?: string;
  /** Time the decision took, in milliseconds; the span's duration when given (else zero). */
  latency_ms?: number;
  /** The call's arguments: exported only with `includeArgs`. */
  args?: unknown;
}

/** Exports decisions as spans. `shutdown` flushes and must be awaited once, at the end. */
export interface DecisionExporter {
  export(decision: Decision, meta?: DecisionMeta): void;
  /**
   * Flushes every span (writes the file, sends the last batch) and stops.
   * @returns problems met while exporting (an unreachable endpoint, an unwritable file), as
   *   messages: export never fails the caller's run.
   */
  shutdown(): Promise<string[]>;
}

/** Span attribute names; `gen_ai.tool.name` is the OpenTelemetry GenAI semantic convention's. */
export const ATTR = {
  runId: "proof.run_id",
  verdict: "proof.verdict",
  reasons: "proof.reasons",
  rules: "proof.rules",
  policyDigest: "proof.policy_digest",
  tool: "gen_ai.tool.name",
  caseId: "proof.case_id",
  traceId: "proof.trace_id",
  seq: "proof.seq",
  at: "proof.at",
  latency: "proof.latency_ms",
  args: "proof.tool.args",
} as const;

/** The attributes of one decision's span: low-risk fields, and arguments only when asked. */
export function decisionAttributes(decision: Decision, meta: DecisionMeta, includeArgs: boolean): Attributes {
  const a: Attributes = {
    [ATTR.verdict]: decision.verdict,
    [ATTR.reasons]: decision.reasons,
    [ATTR.rules]: decision.rules,
    [ATTR.tool]: decision.tool,
    [ATTR.caseId]: decision.case_id,
    [ATTR.traceId]: decision.trace_id,
    [ATTR.seq]: decision.seq,
    [ATTR.at]: decision.at,
  };
  if (meta.run_id !== undefined) a[ATTR.runId] = meta.run_id;
  if (meta.policy_digest !== undefined) a[ATTR.policyDigest] = meta.policy_digest;
  if (meta.latency_ms !== undefined) a[ATTR.latency] = meta.latency_ms;
  if (includeArgs && meta.args !== undefined) a[ATTR.args] = canonicalJson(meta.args);
  return a;
}

/** Keeps finished spans in memory until `shutdown` serialises them into the OTLP JSON file. */
class FileSpanExporter implements SpanExporter {
  private readonly spans: ReadableSpan[] = [];
  constructor(
    private readonly file: string,
    private readonly serialize: (spans: ReadableSpan[]) => Uint8Array | undefined,
    private readonly problems: string[],
  ) {}

  export(spans: ReadableSpan[], done: (result: { code: number; error?: Error }) => void): void {
    this.spans.push(...spans);
    done({ code: 0 });
  }

  async shutdown(): Promise<void> {
    try {
      await writeFileAtomic(this.file, this.serialize(this.spans) ?? new Uint8Array());
    } catch (err) {
      this.problems.push(
        `otel: cannot write ${this.file}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  async forceFlush(): Promise<void> {}
}

/**
 * Creates a decision exporter; loads the OpenTelemetry SDK (about 30 ms) only when an output is
 * given. Spans are named `proof.decision`, one per decision, with the resource `service.name`
 * `proof` and `service.version` the proof version.
 * @throws Error when the SDK cannot be loaded (a missing dependency).
 */
export async function createDecisionExporter(options: ExporterOptions): Promise<DecisionExporter> {
  if (options.file === undefined && options.endpoint === undefined) {
    return { export() {}, shutdown: async () => [] };
  }
  const [{ BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor }, { resourceFromAttributes }] =
    await Promise.all([import("@opentelemetry/sdk-trace-base"), import("@opentelemetry/resources")]);
  const problems: string[] = [];
  const processors: SpanProcessor[] = [];
  if (options.file !== undefined) {
    const { JsonTraceSerializer } = await import("@opentelemetry/otlp-transformer");
    processors.push(
      new SimpleSpanProcessor(
        new FileSpanExporter(options.file, (s) => JsonTraceSerializer.serializeRequest(s), problems),
      ),
    );
  }
  if (options.endpoint !== undefined) {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    const http = new OTLPTraceExporter({
      url: options.endpoint,
      ...(options.timeoutMillis !== undefined ? { timeoutMillis: options.timeoutMillis } : {}),
    });
    // Results are checked here because the SDK only logs a failed export through its diag logger.
    const checked: SpanExporter = {
      export(spans, done) {
        http.export(spans, (result) => {
          if (result.code !== 0)
            problems.push(
              `otel: export to ${options.endpoint} failed: ${result.error?.message ?? "unknown error"}`,
            );
          done(result);
        });
      },
      shutdown: () => http.shutdown(),
      forceFlush: () => http.forceFlush(),
    };
    processors.push(new BatchSpanProcessor(checked));
  }
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "proof", "service.version": VERSION }),
    spanProcessors: processors,
  });
  const tracer = provider.getTracer("proof", VERSION);
  const includeArgs = options.includeArgs === true;
  return {
    export(decision, meta = {}) {
      const end = Date.now();
      const start = end - Math.max(0, meta.latency_ms ?? 0);
      const span = tracer.startSpan("proof.decision", {
        startTime: start,
        attributes: decisionAttributes(decision, meta, includeArgs),
      });
      span.end(end);
    },
    async shutdown() {
      // Each output is flushed and shut down on its own: a failing endpoint (whose forceFlush
      // rejects) must not keep the file output from being written, since its shutdown writes it.
      const settled = await Promise.allSettled(
        processors.map(async (p) => {
          try {
            await p.forceFlush();
          } finally {
            await p.shutdown();
          }
        }),
      );
      for (const s of settled) {
        if (s.status === "fulfilled") continue;
        const message = `otel: ${s.reason instanceof Error ? s.reason.message : String(s.reason)}`;
        // The checked endpoint exporter has already reported a failed export in its own words.
        if (!problems.some((p) => p.startsWith(`otel: export to ${options.endpoint} failed`)))
          problems.push(message);
      }
      return problems;
    },
  };
}
