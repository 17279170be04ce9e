/**
 * Newline-delimited framing of an MCP stdio stream (MCP 2025-06-18, "Transports / stdio": one
 * JSON-RPC message per line, no embedded newlines). Pure: bytes in, complete lines out.
 *
 * Unlike the SDK's stdio transport this framer puts no limit on a line's size: a line is kept as
 * a list of chunks until its newline arrives and decoded once, so a large tool result costs one
 * copy, not one per chunk.
 */
export class LineFramer {
  private parts: Buffer[] = [];

  /**
   * Feeds one chunk of the stream.
   * @returns the lines it completed, as UTF-8 text without the newline (a trailing `\r` removed).
   */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.parts.push(chunk.subarray(start, nl));
      lines.push(this.take());
      start = nl + 1;
    }
    if (start < chunk.length) this.parts.push(chunk.subarray(start));
    return lines;
  }

  /** The unterminated rest of the stream when it ends, if any (a final line without newline). */
  end(): string | undefined {
    if (this.parts.length === 0) return undefined;
    const rest = this.take();
    return rest === "" ? undefined : rest;
  }

  private take(): string {
    const bytes = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
    this.parts = [];
    const text = bytes.toString("utf8");
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  }
}
