import { inputError } from "../../errors.js";
import { validateTraceEvent } from "../../generated/validate-trace-event.js";
import type { JsonValue } from "../../policy/ir.js";
import { traceId } from "../builder.js";
import type { FormatName, Trace, TraceEvent, TraceHeader } from "../model.js";
import { isObject } from "./common.js";

/** Whether a JSON Lines document is a canonical trace header. */
export function isProofHeader(doc: unknown): boolean {
  return isObject(doc) && doc.type === "trace";
}

/**
 * Reassembles canonical `proof.trace/v1` JSON Lines (schemas/trace-event.schema.json), one trace
 * per header line. Events are validated as they come; `seq` must count up from 0 and a call's
 * `message_seq` must name an earlier message. The header's `case_id` is kept (it is the record of
 * where the trace came from); `trace_id` is recomputed from the events.
 */
export class ProofTraceAssembler {
  private header: TraceHeader | undefined;
  private events: TraceEvent[] = [];

  constructor(private readonly file: string) {}

  /**
   * Feeds one parsed line; returns the previous trace when this line starts a new one.
   * @throws ProofError `trace.invalid_event` (exit 6) naming the line.
   */
  push(doc: unknown, line: number): Trace | undefined {
    if (!validateTraceEvent(doc)) {
      const e = validateTraceEvent.errors?.[0];
      const where = e ? `${e.instancePath || "(line)"} ${e.message ?? "is invalid"}` : "is invalid";
      throw inputError("trace.invalid_event", `not a proof.trace/v1 line: ${where}`, {
        file: this.file,
        line,
        column: 1,
      });
    }
    const value = doc as TraceHeader | TraceEvent;
    if (value.type === "trace") {
      const done = this.finish();
      this.header = value;
      return done;
    }
    if (!this.header) {
      throw inputError("trace.invalid_event", "event before the trace header line", {
        file: this.file,
        line,
        column: 1,
      });
    }
    if (value.seq !== this.events.length) {
      throw inputError(
        "trace.invalid_event",
        `seq ${value.seq} out of order, expected ${this.events.length}`,
        {
          file: this.file,
          line,
          column: 1,
        },
      );
    }
    if (value.type === "tool_call" && value.message_seq !== null) {
      const m = this.events[value.message_seq];
      if (m?.type !== "message") {
        throw inputError(
          "trace.invalid_event",
          `message_seq ${value.message_seq} is not an earlier message`,
          {
            file: this.file,
            line,
            column: 1,
          },
        );
      }
    }
    this.events.push(value);
    return undefined;
  }

  /** Ends the current trace, if any. */
  finish(): Trace | undefined {
    if (!this.header) return undefined;
    const h = this.header;
    const trace: Trace = {
      header: {
        type: "trace",
        trace_id: traceId(this.events),
        case_id: h.case_id,
        source: { format: h.source.format as FormatName, file: h.source.file },
        meta: h.meta as Record<string, JsonValue>,
      },
      events: this.events,
      warnings: [],
    };
    this.header = undefined;
    this.events = [];
    return trace;
  }
}
