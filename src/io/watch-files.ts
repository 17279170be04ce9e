/**
 * Noticing that files changed on disk, for reloads without a restart (TLS certificates of
 * `proof serve`). `fs.watch` is fast but not reliable everywhere (network file systems, some
 * containers, and a watched file that is replaced by a rename loses its watch), so the parent
 * directories are watched and a periodic `stat` of each file backs the watch up.
 */
import { type FSWatcher, statSync, watch } from "node:fs";
import { dirname, resolve } from "node:path";

/** Options of {@link watchFiles}. */
export interface WatchFilesOptions {
  /** Quiet time after the last event before `onChange` runs, in milliseconds (default 200). */
  debounceMs?: number;
  /** Period of the `stat` fallback in milliseconds (default 10,000; 0 turns it off). */
  pollMs?: number;
  /** Told when a directory cannot be watched (the poll still runs). */
  warn?: (message: string) => void;
}

/** A running watch; `close` stops it (no `onChange` runs afterwards). */
export interface FileWatch {
  close(): void;
}

/**
 * What `stat` says of a file, following symbolic links: a changed size, time, inode or device
 * means new content or a new file (a Kubernetes secret swaps a symbolic link to a new directory).
 * "missing" while the file is absent, so that its return counts as a change.
 */
function signature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
  } catch {
    return "missing";
  }
}

/**
 * Calls `onChange` (debounced) when any of `paths` may have changed: on any event in their
 * directories, and when the periodic `stat` of a file differs from the last one. The caller
 * compares contents itself: an event does not prove a change.
 */
export function watchFiles(
  paths: readonly string[],
  onChange: () => void,
  options: WatchFilesOptions = {},
): FileWatch {
  const debounceMs = options.debounceMs ?? 200;
  const pollMs = options.pollMs ?? 10_000;
  let closed = false;
  let pending: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (closed) return;
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => {
      pending = undefined;
      if (!closed) onChange();
    }, debounceMs);
    pending.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(resolve(p))))) {
    try {
      const w = watch(dir, { persistent: false }, fire);
      w.on("error", (err) => options.warn?.(`stopped watching ${dir}: ${err.message}; polling instead`));
      watchers.push(w);
    } catch (err) {
      options.warn?.(`cannot watch ${dir}: ${(err as Error).message}; polling instead`);
    }
  }
  const last = new Map(paths.map((p) => [p, signature(p)]));
  const poll =
    pollMs > 0
      ? setInterval(() => {
          let changed = false;
          for (const p of paths) {
            const now = signature(p);
            if (now !== last.get(p)) changed = true;
            last.set(p, now);
          }
          if (changed) fire();
        }, pollMs)
      : undefined;
  poll?.unref();
  return {
    close() {
      closed = true;
      if (pending) clearTimeout(pending);
      if (poll) clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
