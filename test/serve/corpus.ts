/** Trace files read into request sources, as `proof verify --traces ROOT` would find them. */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "../e2e/cli.js";

/** Every `.json` and `.jsonl` file under `dir` (relative to the repository), as `{name, content}`. */
export function sourcesUnder(dir: string): { name: string; content: string }[] {
  const base = join(ROOT, dir);
  const out: { name: string; content: string }[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.jsonl?$/.test(e.name))
        out.push({ name: relative(base, p).split("\\").join("/"), content: readFileSync(p, "utf8") });
    }
  };
  walk(base);
  return out;
}
