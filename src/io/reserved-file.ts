import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { environmentError, inputError, type ProofError } from "../errors.js";
import { toPosix } from "./files.js";

/** A file whose place is taken now and whose content is written, atomically, later. */
export interface ReservedFile {
  /** Writes the content to the temporary sibling, flushes it and renames it over the target. */
  commit(data: string | Uint8Array): Promise<void>;
  /** Removes the temporary sibling; the target is left as it was. */
  abort(): Promise<void>;
}

/** Why a path cannot be written, as a located error: exit 8 for the machine's refusals, else 6. */
function unwritable(err: unknown, path: string): ProofError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // The path the user named, not the temporary sibling the system error names.
  const env = environmentError({ code, path: toPosix(path) }, "write");
  if (env) return env;
  const why =
    code === "ENOTDIR"
      ? "a parent of it is not a directory"
      : code === "EISDIR"
        ? "it is a directory"
        : err instanceof Error
          ? err.message
          : String(err);
  return inputError("io.not_writable", `cannot write ${toPosix(path)}: ${why}`, { file: toPosix(path) });
}

/**
 * Takes the place of a file that will be written at the end of a long-running command (a
 * recorded session), so that a path that cannot be written fails before anything happens rather
 * than after: the parent directories are made and a temporary sibling (`.NAME.PID.tmp`) is
 * created and kept open until {@link ReservedFile.commit} or {@link ReservedFile.abort}.
 * @throws ProofError `io.not_writable` (exit 6) when the path is a directory or a parent is a
 *   file; an `environment` error (exit 8: `io.eacces`, `io.erofs`, `io.enospc`...) when the
 *   system refuses; each names the path.
 */
export async function reserveFile(path: string): Promise<ReservedFile> {
  const existing = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw unwritable(err, path);
  });
  if (existing?.isDirectory()) throw unwritable(Object.assign(new Error(), { code: "EISDIR" }), path);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    await mkdir(dirname(path) || ".", { recursive: true });
    handle = await open(tmp, "w");
  } catch (err) {
    throw unwritable(err, path);
  }
  let open_ = true;
  const close = async () => {
    if (!open_) return;
    open_ = false;
    await handle.close();
  };
  return {
    async commit(data) {
      try {
        await handle.writeFile(data);
        await handle.sync();
        await close();
        await rename(tmp, path);
      } catch (err) {
        await close().catch(() => {});
        await rm(tmp, { force: true }).catch(() => {});
        throw unwritable(err, path);
      }
    },
    async abort() {
      await close().catch(() => {});
      await rm(tmp, { force: true });
    },
  };
}
