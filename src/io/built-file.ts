/**
 * Files of the built bundle found beside a module at run time (the worker of `--jobs`): the one
 * file-system question the worker pool asks, kept with the rest of the file-system code.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The path of `url` when it names an existing local file, else undefined (a module run from the
 * TypeScript sources has no built sibling).
 */
export function existingFile(url: URL): string | undefined {
  if (url.protocol !== "file:") return undefined;
  const path = fileURLToPath(url);
  return existsSync(path) ? path : undefined;
}
