import { createReadStream, readdirSync, readFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import { offsetToLineColumn, ProofError } from "../errors.js";

/** Converts an OS path to the `/`-separated form every artifact uses. */
export function toPosix(path: string): string {
  return sep === "/" ? path : path.split(sep).join("/");
}

/** The error of a path that cannot be read: missing, a directory where a file was expected, or refused. */
export function unreadable(path: string, err: unknown): ProofError {
  const code = (err as NodeJS.ErrnoException)?.code;
  const what = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : String(err);
  return new ProofError("io.unreadable", `cannot read ${toPosix(path)}: ${what}`, {
    location: { file: toPosix(path) },
    cause: err,
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes bytes as UTF-8 text, refusing binary content.
 * @param at where the bytes are: `line` is the line they start on (for one line of a JSON Lines
 *   file), `final` whether they end the file (only then can a cut character mean truncation).
 * @throws ProofError `io.binary` when the bytes hold a NUL or are not valid UTF-8, with the line
 *   and column of the first bad byte (a file cut inside a multi-byte character says so).
 */
export function decodeText(
  bytes: Uint8Array,
  file: string,
  at: { line: number; final: boolean } = { line: 1, final: true },
): string {
  if (bytes.includes(0)) {
    throw new ProofError("io.binary", `${file} is a binary file, not text`, {
      location: at.line === 1 && at.final ? { file } : { file, line: at.line },
    });
  }
  try {
    const text = utf8.decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (err) {
    const bad = firstInvalidByte(bytes);
    // A streaming decode of the bytes before it yields every complete character before the
    // faulty sequence, whose end is the line and column to report.
    const decoded = new TextDecoder("utf-8").decode(bytes.subarray(0, bad), { stream: true });
    const before = decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
    const what =
      bad === bytes.length && at.final
        ? "ends inside a UTF-8 character (the file looks truncated)"
        : "is not valid UTF-8 text";
    const pos = offsetToLineColumn(before, before.length);
    throw new ProofError("io.binary", `${file} ${what}`, {
      location: { file, line: at.line + pos.line - 1, column: pos.column },
      cause: err,
    });
  }
}

/**
 * Offset of the byte at which UTF-8 decoding fails, or `bytes.length` when the only fault is an
 * incomplete character at the end. A streaming decode of a prefix fails exactly when the prefix
 * holds a complete invalid sequence, so a binary search over prefix lengths finds the byte.
 */
function firstInvalidByte(bytes: Uint8Array): number {
  const fails = (n: number): boolean => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, n), { stream: true });
      return false;
    } catch {
      return true;
    }
  };
  if (!fails(bytes.length)) return bytes.length;
  let lo = 0;
  let hi = bytes.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (fails(mid)) hi = mid;
    else lo = mid;
  }
  return hi - 1;
}

/**
 * Reads a whole UTF-8 text file. The read itself is synchronous: for thousands of small trace
 * files one by one, the open/stat/read/close round trips of the asynchronous API cost several
 * times the read (docs/performance.md), and a CLI that handles one file at a time has nothing
 * to do meanwhile.
 * @throws ProofError `io.unreadable` (missing, a directory, no permission) or `io.binary`.
 */
export async function readTextFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw unreadable(path, err);
  }
  return decodeText(bytes, toPosix(path));
}

/** Size in bytes of a file. @throws ProofError `io.unreadable`. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    throw unreadable(path, err);
  }
}

/** Whether a path names an existing directory. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether a path names an existing file (following symbolic links). */
async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Streams a text file line by line, never holding more than one line: for JSON Lines of any size.
 * Lines end at `\n` (a `\r` before it is dropped). Each line is decoded on its own, which is
 * exact because a newline byte never occurs inside a multi-byte UTF-8 character: invalid UTF-8 is
 * refused with its line and column, while a U+FFFD the text really holds is kept.
 * Yields `{text, line}` with 1-based line numbers.
 * @throws ProofError `io.unreadable` or `io.binary`.
 */
export async function* readLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  const file = toPosix(path);
  const stream = createReadStream(path);
  let line = 0;
  let parts: Buffer[] = [];
  const decodeLine = (bytes: Buffer, final: boolean): string => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    return decodeText(bytes.subarray(0, end), file, { line, final });
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        parts.push(chunk.subarray(start, nl));
        const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
        parts = [];
        start = nl + 1;
        line++;
        yield { text: decodeLine(bytes, false), line };
      }
      if (start < chunk.length) parts.push(chunk.subarray(start));
    }
    if (parts.length > 0) {
      line++;
      yield { text: decodeLine(Buffer.concat(parts), true), line };
    }
  } catch (err) {
    if (err instanceof ProofError) throw err;
    throw unreadable(path, err);
  } finally {
    stream.destroy();
  }
}

/** A file found under a traces root: `path` as the user would write it, `rel` relative to the root. */
export interface FoundFile {
  path: string;
  rel: string;
}

const TRACE_EXTENSIONS = [".json", ".jsonl"];

/**
 * Lists trace files under each argument: a file is taken as it is (its `rel` is its base name); a
 * directory is searched recursively for `.json` and `.jsonl` files, sorted by `/`-separated
 * relative path in code-unit order so that every run visits files in the same order.
 * @throws ProofError `io.unreadable` when an argument does not exist.
 */
export async function listTraceFiles(root: string): Promise<FoundFile[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(root);
  } catch (err) {
    throw unreadable(root, err);
  }
  if (!info.isDirectory()) return [{ path: toPosix(root), rel: basename(root) }];
  const found: FoundFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      // Synchronous, like the reads (see readTextFile): a corpus of thousands of directories
      // lists several times faster without a thread-pool round trip per directory.
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw unreadable(dir, err);
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (
        TRACE_EXTENSIONS.some((ext) => entry.name.endsWith(ext)) &&
        // A symbolic link to a trace file is a trace (skipping it would silently drop a case);
        // linked directories are not followed, so a link cycle cannot loop.
        (entry.isFile() || (entry.isSymbolicLink() && (await isFile(full))))
      ) {
        found.push({ path: toPosix(full), rel: toPosix(relative(root, full)) });
      }
    }
  };
  await walk(root);
  return found.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/**
 * Lists the policy files of `--policy P`: P itself when it is a file; in a directory, every
 * `*.yaml`, `*.yml` and `*.ir.json`, sorted.
 * @throws ProofError `policy.none` for a directory without policies, `io.unreadable` when missing.
 */
export async function listPolicyFiles(path: string): Promise<string[]> {
  if (!(await isDirectory(path))) {
    await fileSize(path);
    return [toPosix(path)];
  }
  const entries = await readdir(path, { withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && /\.(ya?ml|ir\.json)$/.test(e.name))
    .map((e) => toPosix(join(path, e.name)))
    .sort();
  if (files.length === 0)
    throw new ProofError("policy.none", `no *.yaml policy in ${toPosix(path)}`, {
      location: { file: toPosix(path) },
    });
  return files;
}
