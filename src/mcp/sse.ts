/**
 * Server-Sent Events as MCP's Streamable HTTP transport uses them (MCP 2025-06-18, "Transports /
 * Streamable HTTP"): each JSON-RPC message is the `data` of one event. The decoder follows the
 * event-stream interpretation of the WHATWG HTML standard, section 9.2.6 ("Interpreting an event
 * stream"); the gateway reads the upstream's bytes itself instead of through an SSE client
 * library so that each event's data reaches the proxy as the very text the upstream sent, and is
 * read strictly there (src/mcp/jsonrpc.ts).
 */

/** One dispatched event: its type (`message` unless named) and data (lines joined with `\n`). */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * An incremental event-stream decoder: push text chunks as they arrive, get the events they
 * complete. Comments (`:` lines) and `retry` are ignored; an event with no `data` line is not
 * dispatched (the standard's rule, which also drops priming events that carry only an id).
 */
export class SseDecoder {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;
  /** A `\r` ended the last chunk: a `\n` starting the next one belongs to it. */
  private pendingCr = false;

  /** Decodes a chunk. @returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith("\n")) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(this.buffer.slice(start, i), out);
      if (c === 13) {
        if (i + 1 === this.buffer.length) this.pendingCr = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) {
        const e: SseEvent = { event: this.event || "message", data: this.data.join("\n") };
        if (this.id !== undefined) e.id = this.id;
        out.push(e);
      }
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\u0000")) this.id = value;
  }
}

/**
 * One JSON-RPC message as an SSE `message` event. Compact JSON has no raw line breaks (strings
 * escape them), but a message passed on as the upstream wrote it may be pretty-printed: each of
 * its lines becomes a `data` line, which a decoder joins back with `\n`.
 */
export function sseEvent(message: string): string {
  return `event: message\ndata: ${message.split(/\r\n|\r|\n/).join("\ndata: ")}\n\n`;
}
