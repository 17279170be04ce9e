/**
 * File-system side of manifests and keys (docs/artifacts.md): hashing an out dir's files, reading PEM
 * keys, writing a new key pair. The manifest logic itself is pure (src/report/manifest.ts).
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { chmod, mkdir, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ProofError } from "../errors.js";
import { fileSize, readTextFile, toPosix } from "./files.js";
import { writeFailure } from "./write.js";

/** Digest given to an entry that is neither a regular file nor a directory: it never matches. */
const NOT_A_FILE = "not-a-regular-file";

/**
 * Every file under `dir`, recursively: `/`-separated relative path -> `sha256:` + lowercase hex
 * SHA-256 of its bytes. Symbolic links are followed to the file they name (what a reader of the
 * artifact gets); an entry that is no regular file (a FIFO, a dangling link) gets a digest that
 * matches nothing. Keys are inserted in code-unit order.
 * @throws ProofError `io.unreadable` (exit 6) when `dir` or a file cannot be read.
 */
export async function hashDirectory(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  const walk = (sub: string): void => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(join(dir, sub), { withFileTypes: true });
    } catch (err) {
      throw unreadable(join(dir, sub), err);
    }
    for (const e of entries) {
      const rel = sub === "" ? e.name : `${sub}/${e.name}`;
      if (e.isDirectory()) {
        walk(rel);
        continue;
      }
      const full = join(dir, rel);
      let bytes: Buffer | null = null;
      try {
        if (e.isFile() || (e.isSymbolicLink() && isRegularFileSync(full))) bytes = readFileSync(full);
      } catch (err) {
        throw unreadable(full, err);
      }
      found[rel] = bytes ? `sha256:${createHash("sha256").update(bytes).digest("hex")}` : NOT_A_FILE;
    }
  };
  walk("");
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(found).sort()) sorted[k] = found[k] as string;
  return sorted;
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
 * Reads the text of files, in the order given (each once), while their sizes add up to at most
 * `budget` bytes. A file that cannot be read any more, or would pass the budget, is left out: it
 * only costs its results their region, never the run.
 * @returns path as given -> text.
 */
export async function readSourcesWithin(
  paths: readonly string[],
  budget = MAX_REGION_SOURCE_BYTES,
): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  let used = 0;
  for (const path of paths) {
    if (texts.has(path)) continue;
    try {
      const size = await fileSize(path);
      if (used + size > budget) continue;
      texts.set(path, await readTextFile(path));
      used += size;
    } catch (err) {
      if (!(err instanceof ProofError)) throw err;
    }
  }
  return texts;
}
