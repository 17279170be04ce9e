/** Reading and watching the policy directory of `proof serve` (the pure parts are in src/serve). */
import { type FSWatcher, watch } from "node:fs";
import { fileLimit, listPolicyFiles, readTextFile } from "./files.js";

/** One policy file's text, with its path as given (`/`-separated). */
export interface PolicyText {
  file: string;
  text: string;
}

/**
 * Reads every policy of a directory, as `--policy DIR` lists them (src/io/files.ts
 * listPolicyFiles): `*.yaml`, `*.yml`, `*.ir.json`, not `*.test.yaml`, sorted; a file path is one
 * policy.
 * @throws ProofError `policy.none`, `io.unreadable`, `io.too_large`, `io.binary` (exit 6).
 */
export async function readPolicyTexts(path: string): Promise<PolicyText[]> {
  const out: PolicyText[] = [];
  for (const file of await listPolicyFiles(path))
    out.push({ file, text: await readTextFile(file, fileLimit()) });
  return out;
}

/** A running watch; `close` stops it and any pending call. */
export interface DirectoryWatch {
  close(): void;
}

/**
 * Calls `onChange` once a directory has been quiet for `debounceMs` after a change in it (an
 * editor's save is several events: a temporary file, a rename, a permission change).
 * Not recursive: the policy directory's policies are its own files. When the directory cannot be
 * watched (removed, or too many watches), `onError` is told once and the watch stops.
 */
export function watchDirectory(
  dir: string,
  onChange: () => void,
  onError: (err: Error) => void,
  debounceMs = 200,
): DirectoryWatch {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    watcher?.close();
    watcher = undefined;
  };
  try {
    watcher = watch(dir, { persistent: false }, () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        onChange();
      }, debounceMs);
    });
    watcher.on("error", (err) => {
      stop();
      onError(err);
    });
  } catch (err) {
    onError(err as Error);
  }
  return { close: stop };
}
