import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { lstat, mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { environmentError, ProofError } from "../errors.js";
import { toPosix } from "./files.js";

/**
 * Turns a system error met while writing `path` into a located {@link ProofError}, so that no
 * refused write ends as exit 1 (kept for proof's own bugs):
 * - `io.is_directory` (exit 6) when a file was asked for and `path` is a directory (`-o DIR`);
 * - `io.not_directory` (exit 6) when a directory was asked for, or a path goes through a file
 *   (`--out FILE`, `--out FILE/sub`);
 * - the `environment` errors of {@link environmentError} (exit 8: read-only, disk full, denied);
 * - `io.unwritable` (exit 8) for any other refusal of the operating system (a pseudo file system).
 * A ProofError, or an error that is no system error (a bug), is returned unchanged.
 * @param path the path the user named (shown instead of a temporary sibling's)
 */
export function writeFailure(err: unknown, path: string): unknown {
  if (err instanceof ProofError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string") return err;
  const file = toPosix(path);
  if (code === "EISDIR") return isDirectory(path, err);
  if (code === "ENOTDIR" || code === "EEXIST")
    return new ProofError(
      "io.not_directory",
      `cannot write ${file}: it, or a directory on its path, is a file where a directory is expected`,
      { location: { file }, hint: "name a directory, or a path that does not exist yet", cause: err },
    );
  // The path the user named, not the temporary sibling the system error names.
  const env = environmentError({ code, path: file }, "write");
  if (env)
    return new ProofError(env.code, env.message, { category: "environment", location: { file }, cause: err });
  return new ProofError("io.unwritable", `cannot write ${file}: the system refused it (${code})`, {
    category: "environment",
    location: { file },
    cause: err,
  });
}

/** `io.is_directory` (exit 6): a file was asked for and `path` is a directory (`-o DIR`). */
function isDirectory(path: string, cause?: unknown): ProofError {
  const file = toPosix(path);
  return new ProofError("io.is_directory", `cannot write ${file}: it is a directory, a file is expected`, {
    location: { file },
    hint: "name a file",
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Writes a file so that a reader sees the old content or the new, never a mix: the bytes go to a
 * temporary sibling which is flushed and then renamed over the target. Nothing is left behind
 * when it fails.
 * @throws ProofError `io.is_directory` (exit 6) when `path` is a directory, and the errors of
 *   {@link writeFailure} (exit 6 or 8) when the system refuses the write.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    // Checked first: renaming a file over an empty directory fails only after the bytes are written.
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isDirectory()) throw isDirectory(path);
    await mkdir(dirname(path) || ".", { recursive: true });
    const handle = await open(tmp, "w");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw writeFailure(err, path);
  }
}

/** A text file written line by line with back-pressure, for artifacts too large to build in memory. */
export interface LineWriter {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens a file for streaming writes (inside an out dir's staging directory or a temporary path). */
export async function openLineWriter(path: string): Promise<LineWriter> {
  // Up to 1 MiB buffered before a write waits for the disk: with the default 16 KiB, every 64 KiB
  // chunk (WRITE_CHUNK) waited for its own write to finish, and verify idled at each one.
  const stream = createWriteStream(path, { encoding: "utf8", highWaterMark: WRITE_BUFFER });
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

/** Bytes a {@link openLineWriter} stream buffers before a write waits for the ones before it. */
export const WRITE_BUFFER = 1 << 20;

/** Characters a {@link chunkedWriter} gathers before one write: about 64 KiB. */
export const WRITE_CHUNK = 1 << 16;

/**
 * A {@link LineWriter} that gathers small writes into chunks of about {@link WRITE_CHUNK}
 * characters and passes a larger write on in slices of that size, never splitting a surrogate
 * pair: a write per decision line costs more than serialising it (docs/performance.md), and a
 * stream encodes each write whole. The bytes that reach `writer` are exactly those written;
 * `close` writes what is gathered, then closes `writer`.
 */
export function chunkedWriter(writer: LineWriter, chunk: number = WRITE_CHUNK): LineWriter {
  let pending = "";
  return {
    async write(text) {
      if (text.length >= chunk) {
        if (pending !== "") await writer.write(pending);
        pending = "";
        for (let i = 0; i < text.length; ) {
          const piece = slice(text, i, chunk);
          await writer.write(piece);
          i += piece.length;
        }
        return;
      }
      pending += text;
      if (pending.length >= chunk) {
        const full = pending;
        pending = "";
        await writer.write(full);
      }
    },
    async close() {
      if (pending !== "") await writer.write(pending);
      pending = "";
      await writer.close();
    },
  };
}

/**
 * `size` UTF-16 code units of `text` from `start`, one fewer when that would split a surrogate
 * pair: each slice is encoded to UTF-8 alone, and half a pair would become U+FFFD.
 */
function slice(text: string, start: number, size: number): string {
  const end = Math.min(text.length, start + size);
  const last = text.charCodeAt(end - 1);
  return text.slice(start, end < text.length && last >= 0xd800 && last <= 0xdbff ? end - 1 : end);
}

/** A {@link LineWriter} that hashes what it writes: the file's digest without reading it back. */
export interface HashingWriter extends LineWriter {
  /**
   * `sha256:` + lowercase hex SHA-256 of every byte written (UTF-8, as the stream encodes each
   * chunk); valid once {@link LineWriter.close} has returned.
   */
  digest(): string;
}

/**
 * Opens a file for streaming writes, hashing each chunk as it goes to the stream: a large
 * artifact (`decisions.jsonl`) gets its manifest digest with no second pass over the file.
 */
export async function openHashingWriter(path: string): Promise<HashingWriter> {
  const writer = await openLineWriter(path);
  const hash = createHash("sha256");
  let digest: string | undefined;
  return {
    async write(text) {
      // Hashed as the stream encodes it: chunk by chunk, so a surrogate pair split across two
      // writes is the same replacement characters in the file and in the hash.
      hash.update(text, "utf8");
      await writer.write(text);
    },
    async close() {
      await writer.close();
      digest ??= `sha256:${hash.digest("hex")}`;
    },
    digest() {
      if (digest === undefined) throw new Error("digest of a file still being written");
      return digest;
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
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let writer: LineWriter;
  try {
    if ((await lstat(path).catch(() => undefined))?.isDirectory()) throw isDirectory(path);
    await mkdir(dirname(path) || ".", { recursive: true });
    writer = await openLineWriter(tmp);
  } catch (err) {
    throw writeFailure(err, path);
  }
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
      try {
        await close();
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => {});
        throw writeFailure(err, path);
      }
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
