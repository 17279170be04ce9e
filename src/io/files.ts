import { closeSync, createReadStream, fstatSync, openSync, readdirSync, readSync } from "node:fs";
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
 * A bound on the bytes proof reads from one input, so that a huge file, a device such as
 * `/dev/zero` or a FIFO that never ends costs a located error instead of the machine's memory.
 * `env` names the environment variable that overrides the default; `what` says in words what
 * the bound applies to (for the message).
 */
export interface ByteLimit {
  bytes: number;
  env: string;
  what: string;
}

/** Default bound of {@link fileLimit}: 4 MiB, far above any real policy, context or config. */
export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Default bound of {@link traceLimit}: 256 MiB. */
export const DEFAULT_MAX_TRACE_BYTES = 256 * 1024 * 1024;

/**
 * Reads a byte limit from the environment: a positive integer number of bytes, optionally with
 * a binary suffix `K`, `M` or `G` (`8M` is 8 MiB).
 * @throws ProofError `usage.invalid_limit` (exit 6) naming the variable when it is not one.
 */
function limitFromEnv(env: string, fallback: number): number {
  const raw = process.env[env];
  if (raw === undefined || raw === "") return fallback;
  const m = /^\s*(\d{1,15})\s*([KMG]i?B?)?\s*$/i.exec(raw);
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m?.[2]?.[0] ?? "").toUpperCase()] ?? 1;
  const bytes = m ? Number(m[1]) * unit : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new ProofError(
      "usage.invalid_limit",
      `${env} must be a positive number of bytes (such as 8388608 or 8M), not '${raw}'`,
    );
  }
  return bytes;
}

/**
 * The bound on a policy, IR, context, config, weights, plan or call file:
 * `PROOF_MAX_FILE_BYTES`, default {@link DEFAULT_MAX_FILE_BYTES}.
 * @throws ProofError `usage.invalid_limit` when the variable is not a size.
 */
export function fileLimit(): ByteLimit {
  return {
    bytes: limitFromEnv("PROOF_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES),
    env: "PROOF_MAX_FILE_BYTES",
    what: "input file",
  };
}

/**
 * The bound on a trace file read whole, and on each line of a JSON Lines file (which is read one
 * line at a time, so its total size is not bounded): `PROOF_MAX_TRACE_BYTES`, default
 * {@link DEFAULT_MAX_TRACE_BYTES}.
 * @throws ProofError `usage.invalid_limit` when the variable is not a size.
 */
export function traceLimit(): ByteLimit {
  return {
    bytes: limitFromEnv("PROOF_MAX_TRACE_BYTES", DEFAULT_MAX_TRACE_BYTES),
    env: "PROOF_MAX_TRACE_BYTES",
    what: "trace file",
  };
}

/** Renders a byte count as `4 MiB` when it is a whole number of KiB, MiB or GiB. */
function bytesLabel(n: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} bytes`;
}

/** The error of an input over its byte limit, naming the file (and the line of a JSON Lines file). */
function tooLarge(file: string, limit: ByteLimit, line?: number): ProofError {
  const where = line === undefined ? "the file is" : `line ${line} is`;
  return new ProofError(
    "io.too_large",
    `${where} larger than the ${limit.what} limit of ${bytesLabel(limit.bytes)}`,
    {
      location: line === undefined ? { file } : { file, line },
      hint: `set ${limit.env} to a larger size (in bytes, or with K, M or G) if the file is genuine`,
    },
  );
}

/**
 * Reads at most `limit.bytes` bytes of a file. A regular file is refused on its size before
 * anything is read; anything else (a device such as `/dev/zero`, a FIFO, a file still growing)
 * is read in chunks and refused as soon as it passes the limit, so memory stays bounded.
 * @throws ProofError `io.unreadable` (missing, a directory, no permission) or `io.too_large`.
 */
function readBounded(path: string, limit: ByteLimit): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw unreadable(path, err);
  }
  try {
    const info = fstatSync(fd);
    if (info.isDirectory())
      throw unreadable(path, Object.assign(new Error("is a directory"), { code: "EISDIR" }));
    if (info.isFile() && info.size > limit.bytes) throw tooLarge(toPosix(path), limit);
    // One read for a regular file of known size; chunks otherwise. One byte more than the limit
    // is asked for, so that reaching it proves the input is too large.
    const chunks: Buffer[] = [];
    let total = 0;
    let buffer = Buffer.allocUnsafe(info.isFile() ? Math.min(info.size, limit.bytes) + 1 : 64 * 1024);
    let filled = 0;
    for (;;) {
      if (filled === buffer.length) {
        chunks.push(buffer);
        buffer = Buffer.allocUnsafe(Math.min(64 * 1024, limit.bytes + 1 - total));
        filled = 0;
      }
      const n = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (n === 0) break;
      filled += n;
      total += n;
      if (total > limit.bytes) throw tooLarge(toPosix(path), limit);
    }
    chunks.push(buffer.subarray(0, filled));
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
  } catch (err) {
    if (err instanceof ProofError) throw err;
    throw unreadable(path, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a whole UTF-8 text file of at most `limit` bytes. The read itself is synchronous: for
 * thousands of small trace files one by one, the open/stat/read/close round trips of the
 * asynchronous API cost several times the read (docs/performance.md), and a CLI that handles one
 * file at a time has nothing to do meanwhile.
 * @param limit the byte limit: {@link traceLimit} unless the caller reads a smaller kind of input
 *   (policies, contexts and configs pass {@link fileLimit})
 * @throws ProofError `io.unreadable` (missing, a directory, no permission), `io.too_large`,
 *   `io.binary` or `usage.invalid_limit`.
 */
export async function readTextFile(path: string, limit: ByteLimit = traceLimit()): Promise<string> {
  return decodeText(readBounded(path, limit), toPosix(path));
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
 * @param limit the bound on one line ({@link traceLimit} by default): a line that passes it is
 *   refused as soon as it does, so a file without line breaks (or `/dev/zero`) cannot fill memory.
 * @throws ProofError `io.unreadable`, `io.binary`, `io.too_large` or `usage.invalid_limit`.
 */
export async function* readLines(
  path: string,
  limit: ByteLimit = traceLimit(),
): AsyncGenerator<{ text: string; line: number }> {
  const file = toPosix(path);
  const stream = createReadStream(path);
  let line = 0;
  let parts: Buffer[] = [];
  let pending = 0;
  const decodeLine = (bytes: Buffer, final: boolean): string => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    return decodeText(bytes.subarray(0, end), file, { line, final });
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        if (pending + nl - start > limit.bytes) throw tooLarge(file, limit, line + 1);
        parts.push(chunk.subarray(start, nl));
        const bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
        parts = [];
        pending = 0;
        start = nl + 1;
        line++;
        yield { text: decodeLine(bytes, false), line };
      }
      if (start < chunk.length) {
        parts.push(chunk.subarray(start));
        pending += chunk.length - start;
        if (pending > limit.bytes) throw tooLarge(file, limit, line + 1);
      }
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
 * `*.yaml`, `*.yml` and `*.ir.json`, sorted, but not the policy unit tests `*.test.yaml`.
 * @throws ProofError `policy.none` for a directory without policies, `io.unreadable` when missing.
 */
export async function listPolicyFiles(path: string): Promise<string[]> {
  if (!(await isDirectory(path))) {
    await fileSize(path);
    return [toPosix(path)];
  }
  const entries = await readdir(path, { withFileTypes: true });
  const files = entries
    // Policy unit tests (`*.test.yaml`) live beside the policies they test: they are not policies.
    .filter((e) => e.isFile() && /\.(ya?ml|ir\.json)$/.test(e.name) && !/\.test\.ya?ml$/.test(e.name))
    .map((e) => toPosix(join(path, e.name)))
    .sort();
  if (files.length === 0)
    throw new ProofError("policy.none", `no *.yaml policy in ${toPosix(path)}`, {
      location: { file: toPosix(path) },
    });
  return files;
}
