/**
 * What a file of the built bundle (dist/) loads at start: the files reached by its static
 * imports, and their text. Start-up tests use it to show a module stays out of a command's start.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../e2e/cli.js";

/** The bundle files that `file` imports statically (`import ... from "./x.js"`, `import "./x.js"`). */
export function staticImports(file: string): string[] {
  const text = readFileSync(join(ROOT, "dist", file), "utf8");
  return [
    ...text.matchAll(/(?:^|[;\s}])(?:import|export)\s*(?:[^"'()]*?\s*from\s*)?["']\.\/([^"']+)["']/g),
  ].map((m) => m[1] as string);
}

/** The bundle files `file` loads at start, itself included (static imports, transitively). */
export function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const f of staticImports(file)) staticClosure(f, seen);
  return seen;
}

/** The text of every bundle file `file` loads statically, itself included. */
export function closureText(file: string): string {
  return [...staticClosure(file)].map((f) => readFileSync(join(ROOT, "dist", f), "utf8")).join("\n");
}
