import { existsSync, readFileSync } from "node:fs";
import { lstat, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ProofError } from "../errors.js";
import { fileLimit, readTextFile, toPosix, unreadable } from "./files.js";
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

/**
 * The directory of the documentation shipped in the package (`docs/`, listed in package.json
 * `files`), for commands that point the user to it: relative to `cwd` when inside it (a local
 * install, `node_modules/proof-gate/docs`), else absolute (an `npx` cache), `/`-separated.
 */
export function docsDir(cwd: string = process.cwd()): string {
  const dir = join(packageRoot(), "docs");
  const rel = relative(cwd, dir);
  return toPosix(rel === "" || rel.startsWith("..") || isAbsolute(rel) ? dir : rel);
}

/**
 * Whether a `.gitignore` text ignores the directory `name` at the top of the repository through
 * one of the plain patterns that mean exactly that (`name`, `name/`, `/name`, `/name/`, and the
 * same with `/**`), the last of them winning over a negation (`!name/`) as in git. Other patterns
 * (wildcards) are not interpreted: a caller then adds the plain one, which is harmless.
 * Source of the syntax: gitignore(5).
 */
export function ignoresDirectory(text: string, name: string): boolean {
  const plain = new Set([name, `${name}/`, `/${name}`, `/${name}/`, `${name}/**`, `/${name}/**`]);
  let ignored = false;
  for (const raw of text.split("\n")) {
    // git strips trailing spaces unless escaped; a CR is left by CRLF files.
    const line = raw.replace(/\r$/, "").replace(/(?<!\\) +$/, "");
    if (plain.has(line)) ignored = true;
    else if (line.startsWith("!") && plain.has(line.slice(1))) ignored = false;
  }
  return ignored;
}

/** What {@link planIgnore} found: the file to write (null when it ignores the entry already). */
export interface IgnorePlan {
  action: "create" | "append" | "present";
  file: NewFile | null;
}

/**
 * Plans the addition of `dir/` to the `.gitignore` at `path`: created when absent, appended to
 * (after a newline when the file lacks a final one) when it does not ignore `dir` yet. Only reads:
 * the caller writes {@link IgnorePlan.file}, after its other checks, so that a refusal writes nothing.
 * @throws ProofError `io.unreadable`, `io.too_large` or `io.binary` (exit 6) when the file exists
 *   and cannot be read as text, or `init.gitignore` (exit 6) when it is not a regular file.
 */
export async function planIgnore(path: string, dir: string): Promise<IgnorePlan> {
  const entry = `${dir}/\n`;
  const found = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw unreadable(path, err);
  });
  if (found === null) return { action: "create", file: { path, content: entry } };
  if (!found.isFile()) {
    throw new ProofError(
      "init.gitignore",
      `${toPosix(path)} is not a regular file, so ${dir}/ cannot be added to it`,
      {
        location: { file: toPosix(path) },
        hint: "make it a regular file: git reads no .gitignore that is a symbolic link (git 2.32 and later)",
      },
    );
  }
  const text = await readTextFile(path, fileLimit());
  if (ignoresDirectory(text, dir)) return { action: "present", file: null };
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  return { action: "append", file: { path, content: `${text}${sep}${entry}` } };
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
