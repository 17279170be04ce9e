import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative, sep } from "node:path";
import { createInterface } from "node:readline";
import { ProofError } from "../errors.js";

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
 * @throws ProofError `io.binary` when the bytes hold a NUL or are not valid UTF-8.
 */
export function decodeText(bytes: Uint8Array, file: string): string {
  if (bytes.includes(0)) {
    throw new ProofError("io.binary", `${file} is a binary file, not text`, { location: { file } });
  }
  try {
    const text = utf8.decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (err) {
    throw new ProofError("io.binary", `${file} is not valid UTF-8 text`, { location: { file }, cause: err });
  }
}

/**
 * Reads a whole UTF-8 text file.
 * @throws ProofError `io.unreadable` (missing, a directory, no permission) or `io.binary`.
 */
export async function readTextFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
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

/**
 * Streams a text file line by line, never holding more than one line: for JSON Lines of any size.
 * Yields `{text, line}` with 1-based line numbers; a line with a NUL byte is reported as binary.
 * @throws ProofError `io.unreadable` or `io.binary`.
 */
export async function* readLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  const stream = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  try {
    for await (const raw of lines) {
      line++;
      const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      if (text.includes("\u0000") || text.includes("\uFFFD")) {
        throw new ProofError("io.binary", `${toPosix(path)} is a binary file, not text`, {
          location: { file: toPosix(path), line },
        });
      }
      yield { text, line };
    }
  } catch (err) {
    if (err instanceof ProofError) throw err;
    throw unreadable(path, err);
  } finally {
    lines.close();
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
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw unreadable(dir, err);
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && TRACE_EXTENSIONS.some((ext) => entry.name.endsWith(ext))) {
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

  /** Creates the staging directory beside `target`. */
  static async create(target: string): Promise<StagedDir> {
    const parent = dirname(target) || ".";
    await mkdir(parent, { recursive: true });
    const staging = await mkdtemp(join(parent, `.${basename(target)}.staging-`));
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
