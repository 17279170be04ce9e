/**
 * File-system side of manifests and keys (docs/artifacts.md): hashing an out dir's files, reading PEM
 * keys, writing a new key pair. The manifest logic itself is pure (src/report/manifest.ts).
 */
import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { chmod, mkdir, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ProofError } from "../errors.js";
import { readTextFile, toPosix } from "./files.js";
import { writeFailure } from "./write.js";

/** Digest given to an entry that is neither a regular file nor a directory: it never matches. */
const NOT_A_FILE = "not-a-regular-file";

/** Bytes read at a time when a file is hashed from disk. */
const HASH_CHUNK = 1 << 20;

/**
 * Every file under `dir`, recursively: `/`-separated relative path -> `sha256:` + lowercase hex
 * SHA-256 of its bytes. Symbolic links are followed to the file they name (what a reader of the
 * artifact gets); an entry that is no regular file (a FIFO, a dangling link) gets a digest that
 * matches nothing. Keys are inserted in code-unit order. Files are read in chunks of 1 MiB, so a
 * large artifact costs no more memory than a small one.
 * @param known digests already computed while the files were written, by relative path: those
 *   files are not read again.
 * @throws ProofError `io.unreadable` (exit 6) when `dir` or a file cannot be read.
 */
export async function hashDirectory(
  dir: string,
  known: ReadonlyMap<string, string> = new Map(),
): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  const walk = async (sub: string): Promise<void> => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(join(dir, sub), { withFileTypes: true });
    } catch (err) {
      throw unreadable(join(dir, sub), err);
    }
    for (const e of entries) {
      const rel = sub === "" ? e.name : `${sub}/${e.name}`;
      if (e.isDirectory()) {
        await walk(rel);
        continue;
      }
      const digest = known.get(rel);
      if (digest !== undefined && e.isFile()) {
        found[rel] = digest;
        continue;
      }
      const full = join(dir, rel);
      try {
        found[rel] =
          e.isFile() || (e.isSymbolicLink() && isRegularFileSync(full)) ? await hashFile(full) : NOT_A_FILE;
      } catch (err) {
        throw unreadable(full, err);
      }
    }
  };
  await walk("");
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(found).sort()) sorted[k] = found[k] as string;
  return sorted;
}

/** `sha256:` + hex SHA-256 of a file's bytes, read in chunks. */
async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(HASH_CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, HASH_CHUNK, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return `sha256:${hash.digest("hex")}`;
}

function isRegularFileSync(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function unreadable(path: string, err: unknown): ProofError {
  const code = (err as NodeJS.ErrnoException)?.code;
  return new ProofError(
    "io.unreadable",
    `cannot read ${toPosix(path)}: ${code === "ENOENT" ? "no such file or directory" : String(err)}`,
    { location: { file: toPosix(path) }, cause: err },
  );
}

/** Reads a PEM key file as text. @throws ProofError `io.unreadable` / `io.binary` (exit 6). */
export function readKeyFile(path: string): Promise<string> {
  return readTextFile(path);
}

/**
 * Checks that `path` is an existing directory.
 * @throws ProofError `io.unreadable` when it does not exist or is not a directory.
 */
export async function requireDirectory(path: string): Promise<void> {
  let ok = false;
  try {
    ok = (await stat(path)).isDirectory();
  } catch (err) {
    throw unreadable(path, err);
  }
  if (!ok)
    throw new ProofError("io.unreadable", `${toPosix(path)} is not a directory`, {
      location: { file: toPosix(path) },
    });
}

/** Names of the files `proof keys gen` writes. */
export const PRIVATE_KEY_FILE = "proof.key";
export const PUBLIC_KEY_FILE = "proof.pub";

/**
 * Writes a key pair into `dir` (created if needed): `proof.key` with mode 0600 (only the owner
 * may read a private key) and `proof.pub` with mode 0644. Never overwrites: a lost private key
 * cannot be recovered, and signatures made with it would no longer verify.
 * @returns the paths written.
 * @throws ProofError `io.exists` (exit 6) when either file already exists, and the errors of
 *   {@link writeFailure}: `io.not_directory` (exit 6) when `dir` is a file, exit 8 when the
 *   system refuses the write.
 */
export async function writeKeyPair(
  dir: string,
  pair: { privateKey: string; publicKey: string },
): Promise<{ privatePath: string; publicPath: string }> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw writeFailure(err, dir);
  }
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  const exists = (p: string): ProofError =>
    new ProofError("io.exists", `${toPosix(p)} already exists`, {
      location: { file: toPosix(p) },
      hint: "choose another --out directory or remove the old keys",
    });
  for (const p of [privatePath, publicPath]) {
    const found = await stat(p).then(
      () => true,
      () => false,
    );
    if (found) throw exists(p);
  }
  const write = async (path: string, text: string, mode: number): Promise<void> => {
    // "wx": fail rather than follow or replace a file that appeared meanwhile.
    const handle = await open(path, "wx", mode);
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
    // The creation mode is filtered by the umask; set it exactly.
    await chmod(path, mode);
  };
  // A key file that appeared since the check above is another run's: "wx" refuses it.
  const failure = (err: unknown, path: string): unknown =>
    (err as NodeJS.ErrnoException)?.code === "EEXIST" ? exists(path) : writeFailure(err, path);
  try {
    await write(privatePath, pair.privateKey, 0o600);
  } catch (err) {
    throw failure(err, privatePath);
  }
  try {
    await write(publicPath, pair.publicKey, 0o644);
  } catch (err) {
    // A private key without its public half is of no use and must not be left lying around.
    await rm(privatePath, { force: true }).catch(() => {});
    throw failure(err, publicPath);
  }
  return { privatePath: toPosix(privatePath), publicPath: toPosix(publicPath) };
}

/**
 * Most bytes of input files (traces, the baseline) read a second time after a gate, to give SARIF
 * results a line and column: 64 MiB in all, so a run over a huge corpus costs at most that much.
 */
export const MAX_REGION_SOURCE_BYTES = 64 * 1024 * 1024;

/**
 * Chooses files, in the order given (each once), while their sizes add up to at most `budget`
 * bytes; a file that cannot be read is left out. Sizes are read synchronously: a stat costs a few
 * microseconds, far less than a thread-pool round trip, and a run may ask this of thousands.
 * @returns the chosen paths, in the order given, each with its size in bytes
 */
export function chooseWithinBudget(
  paths: readonly string[],
  budget = MAX_REGION_SOURCE_BYTES,
): Map<string, number> {
  const chosen = new Map<string, number>();
  const seen = new Set<string>();
  let used = 0;
  for (const path of paths) {
    if (seen.has(path)) continue;
    seen.add(path);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      continue;
    }
    if (used + size > budget) continue;
    chosen.set(path, size);
    used += size;
  }
  return chosen;
}

/**
 * The files {@link chooseWithinBudget} chooses, and the text of a chosen file when asked (read
 * then, so that only one is held at a time). A file that cannot be read any more, or would pass
 * the budget, is left out: it only costs its results their region, never the run.
 * @returns path as given -> its text, or undefined for a file left out or no longer readable.
 */
export async function sourcesWithinBudget(
  paths: readonly string[],
  budget = MAX_REGION_SOURCE_BYTES,
): Promise<(path: string) => Promise<string | undefined>> {
  const chosen = chooseWithinBudget(paths, budget);
  return async (path) => (chosen.has(path) ? readSource(path) : undefined);
}

/**
 * The text of a file that results point into, or undefined when it cannot be read any more
 * (gone, or grown past the trace size limit since it was judged): that only costs its results
 * their region.
 * @throws what reading throws besides a ProofError
 */
export async function readSource(path: string): Promise<string | undefined> {
  try {
    return await readTextFile(path);
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    return undefined;
  }
}
