import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, readdirSync, readFileSync } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { offsetToLineColumn, ProofError } from "../errors.js";

/** Converts an OS path to the `/`-separated form every artifact uses. */
export function toPosix(path: string): string {
  return sep === "/" ? path : path.split(sep).join("/");
}

function unreadable(path: string, err: unknown): ProofError {
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
 * Writes a file so that a reader sees the old content or the new, never a mix: the bytes go to a
 * temporary sibling which is flushed and then renamed over the target.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path) || ".", { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/**
 * An output directory under construction (DESIGN.md §7): files are written into a temporary
 * sibling directory and swapped in whole by {@link StagedDir.commit}, so a reader sees the old set
 * or the new set, and stale files of the old set do not survive. {@link StagedDir.abort} removes
 * the staging directory and leaves the old one untouched.
 */
export class StagedDir {
  private constructor(
    readonly target: string,
    readonly staging: string,
  ) {}

  /**
   * Creates the staging directory beside `target`. Because the swap deletes whatever `target`
   * held, it must be new, empty, or an earlier out dir (it holds `status.json` or `report.json`):
   * `--out src` or `--out .` by mistake must not cost the user a directory.
   * @throws ProofError `io.out_dir` (exit 6) for a file, the working directory or one above it,
   *   or a directory of other files.
   */
  static async create(target: string): Promise<StagedDir> {
    await checkReplaceable(target);
    const parent = dirname(target) || ".";
    await mkdir(parent, { recursive: true });
    // mkdir, not mkdtemp: mkdtemp makes the directory 0700, and it becomes the out dir, which
    // CI steps running as other users (artifact upload, containers) must be able to read.
    const staging = join(
      parent,
      `.${basename(target)}.staging-${process.pid}-${randomBytes(6).toString("hex")}`,
    );
    await mkdir(staging);
    return new StagedDir(target, staging);
  }

  /** Path of a file inside the staging directory. */
  path(name: string): string {
    return join(this.staging, name);
  }

  /** Writes one whole file into the staging directory. */
  async write(name: string, data: string | Uint8Array): Promise<void> {
    await writeFile(this.path(name), data);
  }

  /** Swaps the staging directory in place of the target. */
  async commit(): Promise<void> {
    const old = `${this.staging}.old`;
    let hadOld = false;
    try {
      await rename(this.target, old);
      hadOld = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await rename(this.staging, this.target);
    if (hadOld) await rm(old, { recursive: true, force: true });
  }

  /** Discards everything staged. */
  async abort(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}

/** Throws unless `target` may be swapped out whole: see {@link StagedDir.create}. */
async function checkReplaceable(target: string): Promise<void> {
  const refuse = (why: string) =>
    new ProofError("io.out_dir", `cannot use ${toPosix(target)} as the out dir: ${why}`, {
      location: { file: toPosix(target) },
      hint: "name a new or empty directory",
    });
  const full = resolve(target);
  const cwd = process.cwd();
  if (full === cwd || cwd.startsWith(full.endsWith(sep) ? full : `${full}${sep}`))
    throw refuse("it holds the working directory");
  let entries: string[];
  try {
    if (!(await stat(target)).isDirectory()) throw refuse("it is not a directory");
    entries = await readdir(target);
  } catch (err) {
    if (err instanceof ProofError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw unreadable(target, err);
  }
  if (entries.length > 0 && !entries.includes("status.json") && !entries.includes("report.json"))
    throw refuse(
      "it is not empty and holds no status.json of an earlier run; replacing it could delete files",
    );
}

/** A text file written line by line with back-pressure, for artifacts too large to build in memory. */
export interface LineWriter {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens a file for streaming writes (inside a {@link StagedDir} or a temporary path). */
export async function openLineWriter(path: string): Promise<LineWriter> {
  const stream = createWriteStream(path, { encoding: "utf8" });
  await once(stream, "open");
  return {
    async write(text) {
      if (!stream.write(text)) await once(stream, "drain");
    },
    async close() {
      await new Promise<void>((resolve, reject) =>
        stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
    },
  };
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

/** A line writer whose file appears only on {@link AtomicLineFile.commit}; `abort` leaves nothing. */
export interface AtomicLineFile extends LineWriter {
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Opens `path` for streaming writes through a temporary sibling that is renamed in on commit. */
export async function openAtomicLineFile(path: string): Promise<AtomicLineFile> {
  await mkdir(dirname(path) || ".", { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const writer = await openLineWriter(tmp);
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await writer.close();
    }
  };
  return {
    write: (text) => writer.write(text),
    close,
    async commit() {
      await close();
      await rename(tmp, path);
    },
    async abort() {
      await close().catch(() => {});
      await rm(tmp, { force: true });
    },
  };
}

/** Writes to standard output, waiting when the pipe is full. */
export const stdoutWriter: LineWriter = {
  async write(text) {
    if (!process.stdout.write(text)) await once(process.stdout, "drain");
  },
  async close() {},
};
