import { existsSync, readFileSync } from "node:fs";
import { lstat, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ProofError } from "../errors.js";
import { toPosix } from "./files.js";
import { writeFileAtomic } from "./write.js";

/** Name in package.json of the package whose shipped files {@link readPackageFile} reads. */
const PACKAGE_NAME = "proof-gate";

/** The package root, found once: see {@link packageRoot}. */
let root: string | undefined;

/**
 * The directory of proof's own package.json. Found by walking up from this module, because the
 * module sits at another depth in the bundle (dist/) than in the sources (src/io/) that tests run.
 * @throws Error when there is none: an installation without its package.json is broken (a bug).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === PACKAGE_NAME
    ) {
      root = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the proof package's package.json");
    dir = parent;
  }
}

/**
 * Reads a text file shipped in the package (`templates/`, `ci-templates/`, listed in package.json
 * `files`) by its `/`-separated path in the package.
 * @throws Error when it is missing: the package is incomplete (a bug, exit 1), not a user error.
 */
export async function readPackageFile(rel: string): Promise<string> {
  return readFile(join(packageRoot(), ...rel.split("/")), "utf8");
}

/** A file to create: path relative to the working directory, and its content. */
export interface NewFile {
  path: string;
  content: string;
}

/**
 * The first of `paths` that exists (any kind of entry, a dangling symbolic link included), or
 * null. Used to refuse before writing anything, so a refusal leaves the repository as it was.
 */
export async function firstExisting(paths: readonly string[]): Promise<string | null> {
  for (const p of paths) {
    try {
      await lstat(p);
      return p;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new ProofError("io.unreadable", `cannot inspect ${toPosix(p)}: ${(err as Error).message}`, {
          location: { file: toPosix(p) },
          cause: err,
        });
      }
    }
  }
  return null;
}

/** Writes each file atomically, creating parent directories. */
export async function writeNewFiles(files: readonly NewFile[]): Promise<void> {
  for (const f of files) await writeFileAtomic(f.path, f.content);
}

/**
 * Runs `fn` with a fresh temporary directory and removes it afterwards, whatever `fn` did: for
 * output a command needs to produce but not to keep (the out dir of the run that records
 * `proof init`'s first baseline).
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "proof-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
