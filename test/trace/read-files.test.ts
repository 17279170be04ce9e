/** Reading trace files from disk: text decoding and line splitting (src/io/files.ts). */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listTraceFiles, readLines } from "../../src/io/files.js";
import { traceSource } from "../../src/io/trace-files.js";
import { readAll, rejection } from "./helpers.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "proof-read-files-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, data: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

async function lines(path: string): Promise<{ text: string; line: number }[]> {
  const out: { text: string; line: number }[] = [];
  for await (const l of readLines(path)) out.push(l);
  return out;
}

async function tracesOf(path: string) {
  const [found] = await listTraceFiles(path);
  if (!found) throw new Error("not found");
  return readAll(traceSource(found));
}

const HEADER = {
  type: "trace",
  trace_id: `sha256:${"0".repeat(64)}`,
  case_id: "c",
  source: { format: "openai", file: "f" },
  meta: {},
};
const message = (seq: number, content: string) => ({
  type: "message",
  seq,
  role: "user",
  content,
  at: `[${seq}]`,
});

describe("readLines", () => {
  it("splits on \\n, drops \\r before it, strips a BOM, and keeps a last line without newline", async () => {
    const path = await write("a.jsonl", Buffer.from("\ufeffone\r\ntwo\n\nthree", "utf8"));
    expect(await lines(path)).toEqual([
      { text: "one", line: 1 },
      { text: "two", line: 2 },
      { text: "", line: 3 },
      { text: "three", line: 4 },
    ]);
  });

  it("decodes lines far longer than a read chunk, with characters cut across chunk boundaries", async () => {
    const long = "é€𝄞".repeat(50_000); // 2-, 3- and 4-byte characters, 450 kB
    const path = await write("long.jsonl", `${long}\nshort\n${long}x\n`);
    const got = await lines(path);
    expect(got.map((l) => l.line)).toEqual([1, 2, 3]);
    expect(got[0]?.text === long).toBe(true);
    expect(got[1]?.text).toBe("short");
    expect(got[2]?.text === `${long}x`).toBe(true);
  });

  it("keeps a U+FFFD the text really holds (models emit it), so imported traces read back", async () => {
    const path = await write(
      "fffd.jsonl",
      `${JSON.stringify(HEADER)}\n${JSON.stringify(message(0, "bad \ufffd byte"))}\n`,
    );
    const [trace] = await tracesOf(path);
    expect(trace?.events[0]).toMatchObject({ content: "bad \ufffd byte" });
  });

  it("refuses invalid UTF-8 with the line and column of the bad byte", async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${JSON.stringify(HEADER)}\n${JSON.stringify(message(0, "ok"))}\n{"content":"caf`),
      Buffer.from([0xe9]),
      Buffer.from('"}\n'),
    ]);
    const path = await write("latin1.jsonl", bytes);
    const err = await rejection(tracesOf(path));
    expect(err).toMatchObject({ code: "io.binary", location: { file: path, line: 3, column: 16 } });
    expect(err.message).toMatch(/is not valid UTF-8 text$/);
  });

  it("refuses a NUL byte as binary, naming the line", async () => {
    const path = await write("nul.jsonl", Buffer.from(`${JSON.stringify(HEADER)}\nab\u0000cd\n`));
    const err = await rejection(tracesOf(path));
    expect(err).toMatchObject({ code: "io.binary", location: { file: path, line: 2 } });
  });
});

describe("whole .json files", () => {
  it("says a file cut inside a multi-byte character looks truncated, with its position", async () => {
    const full = Buffer.from('[{"role": "user",\n  "content": "prix en €"}]');
    const path = await write("cut.json", full.subarray(0, full.indexOf("€") + 1));
    const err = await rejection(tracesOf(path));
    expect(err).toMatchObject({ code: "io.binary", location: { file: path, line: 2, column: 23 } });
    expect(err.message).toMatch(/ends inside a UTF-8 character \(the file looks truncated\)$/);
  });

  it("reports a run cut inside a string (at a character boundary) as invalid JSON, naming the string", async () => {
    const path = await write(
      "half.json",
      '{"suite_name": "banking", "messages": [{"role": "user", "content": "pay',
    );
    const err = await rejection(tracesOf(path));
    // Parse errors name the file as reports do: relative to the working directory.
    // The error points at the string left open: its opening quote.
    expect(err).toMatchObject({ code: "trace.invalid_json", location: { line: 1, column: 68 } });
    expect(String((err.location as { file: string }).file).endsWith("/half.json")).toBe(true);
    expect(err.message).toMatch(/the file looks truncated/);
  });
});
