/**
 * The out dir (docs/artifacts.md): written as a whole by swapping a staged sibling in, and only
 * ever in place of a directory proof itself wrote. Its rules, each against a way to lose data:
 * - a directory is replaced only when its content proves proof wrote it: a `manifest.json` of
 *   schema `proof.manifest/v1` listing every other entry, each a regular file (no `.git`, no
 *   symbolic link, no directory), or only the `status.json` of a failed `proof run` command;
 * - `--out` that is a symbolic link, the working directory or one above it is refused;
 * - a run's inputs may not lie inside its out dir (the swap would delete them);
 * - one run at a time: an exclusive lock file `.NAME.lock` beside the out dir holds the writer's
 *   pid and host; a lock whose process is gone on this host is taken over;
 * - the swap is two renames (out dir → `.NAME.staging-ID.old`, staging → out dir); a run killed
 *   between them leaves both, and the next run (holding the lock) finishes the swap before
 *   anything else, and removes what dead runs left.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import {
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  unlink,
  writeFile,
} from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join, resolve, sep } from "node:path";
import { ProofError } from "../errors.js";
import { MANIFEST_FILE } from "../report/manifest.js";
import { parseJson } from "../trace/json.js";
import { hashDirectory } from "./artifacts.js";
import { toPosix } from "./files.js";
import {
  type HashingWriter,
  type LineWriter,
  openHashingWriter,
  writeFailure,
  writeFileAtomic,
} from "./write.js";

/** The file a failed `proof run` command leaves alone in a new out dir. */
const STATUS_FILE = "status.json";

/** Largest `manifest.json` or `status.json` read to recognise an out dir (far above real ones). */
const MAX_MARKER_BYTES = 16 * 1024 * 1024;

/** Name of a staging directory (or of the previous out dir mid-swap) of the out dir `name`. */
function stagingPattern(name: string): RegExp {
  return new RegExp(`^\\.${escapeRegExp(name)}\\.staging-\\d+-[0-9a-f]{12}(\\.old)?$`);
}

/** Any staging directory of any out dir: never read as traces. */
const ANY_STAGING = /^\..+\.staging-\d+-[0-9a-f]{12}(\.old)?$/;

/** A temporary file of {@link writeFileAtomic} for `name`, left by a killed run. */
const TEMP_FILE = /^\.(.+)\.\d+\.tmp$/;

function escapeRegExp(text: string): string {
  // Escapes a fixed file name for a pattern of our own, not a user-supplied pattern.
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The files an earlier run says it wrote in `dir`: those its `manifest.json` (schema
 * `proof.manifest/v1`) lists, with the manifest itself; or `status.json` alone when that is all
 * `dir` holds (with leftovers of an atomic write) and it is a status of proof. Otherwise why not.
 */
function markedFiles(dir: string, entries: readonly string[]): Set<string> | string {
  const read = (name: string): unknown => {
    const path = join(dir, name);
    const info = lstatSync(path);
    if (!info.isFile() || info.size > MAX_MARKER_BYTES) return undefined;
    try {
      return parseJson(readFileSync(path, "utf8"), toPosix(path));
    } catch {
      return undefined;
    }
  };
  if (entries.includes(MANIFEST_FILE)) {
    const manifest = read(MANIFEST_FILE) as { schema?: unknown; files?: unknown } | undefined;
    const files = manifest?.files;
    if (
      manifest?.schema !== "proof.manifest/v1" ||
      typeof files !== "object" ||
      files === null ||
      Array.isArray(files)
    )
      return `its ${MANIFEST_FILE} is not a proof manifest`;
    return new Set([MANIFEST_FILE, ...Object.keys(files)]);
  }
  const statusOnly = entries.every((e) => e === STATUS_FILE || TEMP_FILE.exec(e)?.[1] === STATUS_FILE);
  if (statusOnly && entries.includes(STATUS_FILE)) {
    const status = read(STATUS_FILE) as { phase?: unknown; code?: unknown } | undefined;
    if ((status?.phase === "cmd" || status?.phase === "gate") && Number.isInteger(status.code))
      return new Set([STATUS_FILE]);
    return `its ${STATUS_FILE} was not written by proof`;
  }
  return `it is not empty and holds no ${MANIFEST_FILE} of an earlier run`;
}

/**
 * Whether proof may replace `dir` whole: it is empty, or {@link markedFiles} names every entry
 * (or a leftover temporary file of one) and each is a regular file, not a link or a directory.
 * @returns undefined when it may, else why not.
 */
function whyNotReplaceable(dir: string, entries: readonly string[]): string | undefined {
  if (entries.length === 0) return undefined;
  const files = markedFiles(dir, entries);
  if (typeof files === "string") return files;
  for (const name of entries) {
    const temp = TEMP_FILE.exec(name);
    if (!files.has(name) && !(temp !== null && files.has(temp[1] as string)))
      return `it holds ${name}, which no earlier run of proof wrote`;
    const info = lstatSync(join(dir, name));
    if (info.isSymbolicLink()) return `${name} in it is a symbolic link`;
    if (!info.isFile()) return `${name} in it is not a regular file`;
  }
  return undefined;
}

/**
 * Whether `dir` is an out dir or a staging directory of proof, which a walk of a traces directory
 * skips (`--traces . --out proof-out` must not read its own artifacts as traces). Looser than the
 * test before replacing: the marker of {@link markedFiles} suffices, whatever else `dir` holds.
 */
export function isProofOutput(dir: string): boolean {
  if (ANY_STAGING.test(basename(dir))) return true;
  // Two failed lookups are cheaper than listing a directory of traces a second time.
  if (!existsSync(join(dir, MANIFEST_FILE)) && !existsSync(join(dir, STATUS_FILE))) return false;
  try {
    const entries = readdirSync(dir);
    return entries.length > 0 && typeof markedFiles(dir, entries) !== "string";
  } catch {
    return false;
  }
}

/** The refusal of an out dir (exit 6): the user named a directory proof must not replace. */
function refuse(target: string, why: string, hint = "name a new or empty directory"): ProofError {
  const file = toPosix(target);
  return new ProofError("io.out_dir", `cannot use ${file} as the out dir: ${why}`, {
    location: { file },
    hint,
  });
}

/** What a lock file holds: who writes the out dir. */
interface LockOwner {
  pid: number;
  host: string;
  nonce: string;
}

/** Lock files this process holds (a lock naming this pid but not held here is stale). */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const v = JSON.parse(await readFile(path, "utf8")) as LockOwner;
    return Number.isInteger(v.pid) && typeof v.host === "string" && typeof v.nonce === "string"
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock of an out dir: creates `lock` with its content at once (a hard link of a
 * complete temporary file, so no reader sees it half-written). A lock whose pid is dead on this
 * host, or is this process's own pid without this process holding it (a container restarted with
 * the same pid), is taken over.
 * @returns a function that releases the lock.
 * @throws ProofError `io.out_dir_locked` (exit 8) while another live run holds it.
 */
async function acquireLock(lock: string, target: string): Promise<() => Promise<void>> {
  const me: LockOwner = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString("hex") };
  const tmp = `${lock}.${process.pid}.${me.nonce}.tmp`;
  await writeFile(tmp, `${JSON.stringify(me)}\n`, { flag: "wx" });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, lock);
        held.add(lock);
        return async () => {
          held.delete(lock);
          const owner = await readOwner(lock);
          if (owner?.nonce === me.nonce) await unlink(lock).catch(() => {});
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const owner = await readOwner(lock);
      const stale =
        owner !== undefined &&
        owner.host === me.host &&
        (owner.pid === process.pid ? !held.has(lock) : !alive(owner.pid));
      if (!stale) {
        const who = owner ? `pid ${owner.pid} on ${owner.host}` : "an unknown process";
        throw new ProofError(
          "io.out_dir_locked",
          `${toPosix(target)} is being written by another proof run (${who})`,
          {
            category: "environment",
            location: { file: toPosix(target) },
            hint: `wait for it to end, or delete ${toPosix(lock)} if no such run exists`,
          },
        );
      }
      // Move the stale lock aside and check it is the one judged stale: another run may have
      // taken it over meanwhile, and its fresh lock is then put back.
      const aside = `${lock}.${process.pid}.${me.nonce}.stale`;
      try {
        await rename(lock, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      const moved = await readOwner(aside);
      if (moved?.nonce !== owner.nonce) await link(aside, lock).catch(() => {});
      await unlink(aside).catch(() => {});
    }
    throw new ProofError("io.out_dir_locked", `${toPosix(target)} is being written by another proof run`, {
      category: "environment",
      location: { file: toPosix(target) },
      hint: "run one proof per out dir at a time",
    });
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    },
  );
}

/**
 * Finishes or undoes what a killed run left beside `target` (run while holding the lock, so no
 * live run owns any of it): with no out dir but a `.staging-ID.old` of a started swap, the staging
 * directory `.staging-ID` (complete: a swap starts only after everything is written) becomes the
 * out dir, or else the `.old` one goes back; then every staging directory left is removed, and so
 * are temporary files of old locks.
 */
async function recover(target: string): Promise<void> {
  const parent = dirname(target);
  const name = basename(target);
  const staging = stagingPattern(name);
  const entries = (await readdir(parent)).sort();
  const dirs: string[] = [];
  for (const e of entries) {
    if (staging.test(e) && (await lstat(join(parent, e))).isDirectory()) dirs.push(e);
    else if (e.startsWith(`.${name}.lock.`) && (e.endsWith(".tmp") || e.endsWith(".stale"))) {
      const pid = Number(e.slice(`.${name}.lock.`.length).split(".")[0]);
      if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
        await unlink(join(parent, e)).catch(() => {});
    }
  }
  if (!(await exists(target))) {
    const old = dirs.find((d) => d.endsWith(".old"));
    if (old !== undefined) {
      const newer = old.slice(0, -".old".length);
      await rename(join(parent, dirs.includes(newer) ? newer : old), target);
    }
  }
  for (const d of dirs) await rm(join(parent, d), { recursive: true, force: true });
}

/** Throws unless `target` may be swapped out whole; see the module comment. */
async function checkReplaceable(target: string): Promise<void> {
  let entries: string[];
  try {
    if (!(await lstat(target)).isDirectory()) throw refuse(target, "it is not a directory");
    entries = await readdir(target);
  } catch (err) {
    if (err instanceof ProofError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const why = whyNotReplaceable(target, entries);
  if (why !== undefined) throw refuse(target, `${why}; replacing it could delete files`);
}

/** Throws when an input of the run lies inside `target` (or is it): the swap would delete it. */
async function checkInputs(target: string, inputs: readonly string[]): Promise<void> {
  if (!(await exists(target))) return;
  const out = await realpath(target);
  for (const input of inputs) {
    // An input yet to be written (the baseline of `regress init`) counts where it will be.
    const real =
      (await realpath(input).catch(() => undefined)) ??
      (await realpath(dirname(resolve(input))).then(
        (dir) => join(dir, basename(input)),
        () => undefined,
      ));
    if (real === undefined) continue; // reported as unreadable when it is read
    if (real === out || real.startsWith(`${out}${sep}`))
      throw refuse(
        target,
        `it holds ${toPosix(input)}, an input of this run, which replacing it would delete`,
        "write the out dir elsewhere, or move the input out of it",
      );
  }
}

/**
 * Locks the out dir `target` and checks it: not a symbolic link, not the working directory or
 * one above it, an out dir of proof (or new, or empty), holding none of `inputs`. Leftovers of
 * killed runs are recovered first.
 * @returns the lock's release function.
 * @throws ProofError `io.out_dir` (exit 6), `io.out_dir_locked` (exit 8), or the errors of
 *   {@link writeFailure} when the parent cannot be created.
 */
async function openOutDir(target: string, inputs: readonly string[]): Promise<() => Promise<void>> {
  const full = resolve(target);
  const cwd = process.cwd();
  if (full === cwd || cwd.startsWith(full.endsWith(sep) ? full : `${full}${sep}`))
    throw refuse(target, "it holds the working directory");
  if ((await lstat(target).catch(() => undefined))?.isSymbolicLink())
    throw refuse(
      target,
      "it is a symbolic link; proof replaces the out dir whole and would replace the link, not follow it",
      "name the directory the link points to",
    );
  const parent = dirname(full);
  const lock = join(parent, `.${basename(full)}.lock`);
  let release: (() => Promise<void>) | undefined;
  try {
    await mkdir(parent, { recursive: true });
    release = await acquireLock(lock, target);
    await recover(full);
    await checkReplaceable(target);
    await checkInputs(target, inputs);
    return release;
  } catch (err) {
    await release?.().catch(() => {});
    throw writeFailure(err, target);
  }
}

/**
 * An output directory under construction: files are written into a hidden sibling directory
 * (`.NAME.staging-PID-RANDOM`) and swapped in whole by {@link StagedDir.commit}, so that the out
 * dir holds the old set or the new set, and stale files of the old set do not survive.
 * {@link StagedDir.abort} removes the staging directory and leaves the old one untouched. The
 * out dir's lock is held from {@link StagedDir.create} until `commit` or `abort`.
 */
export class StagedDir {
  /** Digests of the files written through this object, by name: the manifest reads none back. */
  private readonly written = new Map<string, string>();

  private constructor(
    readonly target: string,
    readonly staging: string,
    private readonly release: () => Promise<void>,
  ) {}

  /**
   * Locks and checks the out dir (see the module comment), then creates the staging directory.
   * @param inputs paths the run reads (policy, traces, context, plan, baseline, key): none may
   *   lie inside the out dir.
   * @throws ProofError `io.out_dir` (exit 6) for a directory proof must not replace, a symbolic
   *   link, the working directory, or one holding an input; `io.out_dir_locked` (exit 8) while
   *   another run writes it; the errors of {@link writeFailure} (exit 6 or 8).
   */
  static async create(target: string, inputs: readonly string[] = []): Promise<StagedDir> {
    const release = await openOutDir(target, inputs);
    const full = resolve(target);
    // mkdir, not mkdtemp: mkdtemp makes the directory 0700, and it becomes the out dir, which
    // CI steps running as other users (artifact upload, containers) must be able to read.
    const staging = join(
      dirname(full),
      `.${basename(full)}.staging-${process.pid}-${randomBytes(6).toString("hex")}`,
    );
    try {
      await mkdir(staging);
    } catch (err) {
      await release();
      throw writeFailure(err, target);
    }
    return new StagedDir(target, staging, release);
  }

  /** Path of a file inside the staging directory. */
  path(name: string): string {
    return join(this.staging, name);
  }

  /** Writes one whole file into the staging directory. @throws the errors of {@link writeFailure}. */
  async write(name: string, data: string | Uint8Array): Promise<void> {
    this.written.delete(name);
    try {
      await writeFile(this.path(name), data);
    } catch (err) {
      throw writeFailure(err, join(this.target, name));
    }
    this.written.set(name, `sha256:${createHash("sha256").update(data).digest("hex")}`);
  }

  /**
   * Opens a file of the staging directory for writes in chunks, hashed as they are written: an
   * artifact too large to build as one string. Its digest is kept for {@link digests} on close.
   * @throws the errors of {@link writeFailure}.
   */
  async open(name: string): Promise<LineWriter> {
    this.written.delete(name);
    let writer: HashingWriter;
    try {
      writer = await openHashingWriter(this.path(name));
    } catch (err) {
      throw writeFailure(err, join(this.target, name));
    }
    return {
      write: async (text) => {
        try {
          await writer.write(text);
        } catch (err) {
          throw writeFailure(err, join(this.target, name));
        }
      },
      close: async () => {
        try {
          await writer.close();
        } catch (err) {
          throw writeFailure(err, join(this.target, name));
        }
        this.written.set(name, writer.digest());
      },
    };
  }

  /**
   * Every file of the staging directory -> `sha256:` digest, as src/io/artifacts.ts hashDirectory
   * gives: files written through {@link write} or {@link open} take the digest computed while
   * writing; any other file (written through {@link path}) is hashed from disk in chunks.
   * @throws ProofError `io.unreadable` (exit 6) when a file cannot be read.
   */
  digests(): Promise<Record<string, string>> {
    return hashDirectory(this.staging, this.written);
  }

  /**
   * Swaps the staging directory in place of the out dir and releases the lock. A failure of the
   * second rename puts the old out dir back; a kill between the renames is recovered by the next
   * run (see the module comment).
   * @throws the errors of {@link writeFailure}.
   */
  async commit(): Promise<void> {
    const old = `${this.staging}.old`;
    try {
      let hadOld = false;
      try {
        await rename(this.target, old);
        hadOld = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      try {
        await rename(this.staging, this.target);
      } catch (err) {
        if (hadOld) await rename(old, this.target).catch(() => {});
        throw err;
      }
      // The new set is in place: a failure to delete the old one is left to the next run.
      if (hadOld) await rm(old, { recursive: true, force: true }).catch(() => {});
    } catch (err) {
      await this.abort().catch(() => {});
      throw writeFailure(err, this.target);
    }
    await this.release();
  }

  /** Discards everything staged and releases the lock. */
  async abort(): Promise<void> {
    try {
      await rm(this.staging, { recursive: true, force: true });
    } finally {
      await this.release();
    }
  }
}

/**
 * Replaces one file of the out dir `target` and nothing else (the `status.json` of a failed
 * `proof run` command), under the same lock and checks as a whole out dir; creates the out dir
 * when there is none.
 * @throws the errors of {@link StagedDir.create}.
 */
export async function writeOutFile(target: string, name: string, data: string): Promise<void> {
  const release = await openOutDir(target, []);
  try {
    await writeFileAtomic(join(target, name), data);
  } finally {
    await release();
  }
}
