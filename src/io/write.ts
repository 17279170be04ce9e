import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { ProofError } from "../errors.js";
import { toPosix, unreadable } from "./files.js";

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
