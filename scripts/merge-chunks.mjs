// Merges small chunks of a split esbuild bundle into larger chunks that are always loaded with
// them, so that a command's start reads fewer files (docs/performance.md, "Start-up").
//
// esbuild puts every set of modules that the same entry points reach into one chunk, and with
// about forty entry points (the CLI, the library, the action, the verify worker and every module
// imported on demand) that makes dozens of chunks, many of a few hundred bytes: `proof check`
// started by loading 31 files. Node.js pays about as much to resolve, read and link one more ES
// module file as to compile 10-15 KB of code, so those files cost more than their code.
//
// A chunk X merges into a chunk Y only when every entry point that loads X also loads Y (the
// entry points reaching X are a subset of those reaching Y), when every entry point that loads Y
// already loads every file X imports, and only when X (with what merged into it already) is at
// most `limit` bytes. An entry point that loaded X then loads exactly the same code from one file
// fewer; one that loaded Y without X loads at most `limit` bytes more, and no other file.
// Module identity is kept: each module is still in exactly one file, which every importer of it
// imports.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { build } from "esbuild";

/**
 * The merges to make, from the build's metafile (esbuild's `metafile` result: `outputs`, each
 * with `imports`, `exports`, `bytes` and, for an entry point, `entryPoint`).
 * @param limit the most bytes a chunk (with what merged into it) may add to the chunk it merges into.
 * @returns for every chunk that is kept and has others merged into it, the file names of those
 *   others (output file names, without a directory).
 */
export function planMerges(metafile, limit) {
  const outputs = new Map();
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (!path.endsWith(".js")) continue;
    const imports = output.imports
      .filter((i) => i.kind === "import-statement" && !i.external)
      .map((i) => basename(i.path));
    outputs.set(basename(path), { bytes: output.bytes, entry: output.entryPoint !== undefined, imports });
  }
  const closure = (file, seen = new Set()) => {
    if (seen.has(file)) return seen;
    seen.add(file);
    for (const i of outputs.get(file).imports) closure(i, seen);
    return seen;
  };
  /** The entry points that load each chunk at their start. */
  const loadedBy = new Map();
  for (const [file, output] of outputs) {
    if (!output.entry) continue;
    for (const c of closure(file)) {
      if (outputs.get(c).entry) continue;
      if (!loadedBy.has(c)) loadedBy.set(c, new Set());
      loadedBy.get(c).add(file);
    }
  }
  const subset = (a, b) => [...a].every((x) => b.has(x));
  /** The file each output is in now: itself, or the chunk it merged into. */
  const home = new Map([...outputs.keys()].map((f) => [f, f]));
  /**
   * Whether the files' imports would have a cycle if `x` merged into `y`. ES modules in a cycle
   * are evaluated in an order that no longer follows their imports, so a merge must not make one:
   * x and y may each import, through a third file, what the other holds.
   */
  const cyclic = (x, y) => {
    const at = (f) => (home.get(f) === x ? y : home.get(f));
    const edges = new Map();
    for (const [f, output] of outputs) {
      const from = at(f);
      if (!edges.has(from)) edges.set(from, new Set());
      for (const i of output.imports) if (at(i) !== from) edges.get(from).add(at(i));
    }
    const state = new Map();
    const visit = (n) => {
      if (state.get(n) === "done") return false;
      if (state.get(n) === "open") return true;
      state.set(n, "open");
      for (const m of edges.get(n) ?? []) if (visit(m)) return true;
      state.set(n, "done");
      return false;
    };
    return [...edges.keys()].some(visit);
  };
  const kept = new Map([...loadedBy.keys()].map((c) => [c, { bytes: outputs.get(c).bytes, merged: [] }]));
  /** The files a kept chunk imports, with what merged into it, other than itself. */
  const importsOf = (k) => {
    const out = new Set();
    for (const m of [k, ...kept.get(k).merged])
      for (const i of outputs.get(m).imports) if (home.get(i) !== k) out.add(home.get(i));
    return out;
  };
  /**
   * Whether every entry point that loads `y` already loads every file of `imports` (what x
   * imports): x's code then brings no other file along into y (a merge must add x's bytes to y's
   * loaders, not x's imports, which may be a large chunk they never needed).
   */
  const bringsNothing = (imports, y) =>
    [...imports].every((i) => i === y || subset(loadedBy.get(y), loadedBy.get(i) ?? new Set()));
  // Smallest first, so that a chunk takes its small companions before it is itself considered.
  const bySize = [...kept.keys()].sort(
    (a, b) => outputs.get(a).bytes - outputs.get(b).bytes || (a < b ? -1 : 1),
  );
  for (const x of bySize) {
    const own = kept.get(x);
    if (own.bytes > limit) continue;
    // The closest superset: the fewest entry points that load x's code without needing it.
    let into;
    const imports = importsOf(x);
    for (const [y] of kept) {
      if (y === x || !subset(loadedBy.get(x), loadedBy.get(y)) || !bringsNothing(imports, y) || cyclic(x, y))
        continue;
      if (
        into === undefined ||
        loadedBy.get(y).size < loadedBy.get(into).size ||
        (loadedBy.get(y).size === loadedBy.get(into).size && y < into)
      )
        into = y;
    }
    if (into === undefined) continue;
    const target = kept.get(into);
    target.bytes += own.bytes;
    target.merged.push(x, ...own.merged);
    for (const [f, h] of home) if (h === x) home.set(f, into);
    kept.delete(x);
  }
  return new Map([...kept].filter(([, k]) => k.merged.length > 0).map(([c, k]) => [c, k.merged.sort()]));
}

/**
 * Merges chunks of the bundle in `dir` as {@link planMerges} says: each kept chunk is bundled
 * again (esbuild, ES module) with those merged into it, re-exporting what each of them exported,
 * and every import of a merged chunk is pointed at the kept one.
 * @param exportsOf the names each chunk exports (from the metafile), to refuse a merge whose
 *   chunks export the same name (the merged module could export only one of them).
 * @returns the chunk each merged chunk went into, by file name (the merged files are removed).
 * @throws Error when two merged chunks export the same name.
 */
export async function mergeChunks(dir, merges, exportsOf) {
  const home = new Map();
  for (const [kept, merged] of merges) for (const m of merged) home.set(m, kept);
  const texts = new Map();
  for (const [kept, merged] of merges) {
    const group = [kept, ...merged];
    const seen = new Map();
    for (const c of group) {
      for (const name of exportsOf(c)) {
        if (seen.has(name)) throw new Error(`merge-chunks: ${seen.get(name)} and ${c} both export ${name}`);
        seen.set(name, c);
      }
    }
    const members = new Set(group);
    const result = await build({
      stdin: {
        contents: group.map((c) => `export * from "./${c}";`).join("\n"),
        resolveDir: dir,
        sourcefile: `merged-into-${kept}`,
      },
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      legalComments: "none",
      logLevel: "warning",
      // The comments marking each merged chunk then name it as `// chunk-X.js`.
      absWorkingDir: dir,
      plugins: [
        {
          name: "other-chunks",
          setup(b) {
            b.onResolve({ filter: /^\.\/[^/]+\.js$/ }, (args) => {
              const file = args.path.slice(2);
              if (members.has(file)) return { path: join(dir, file) };
              return { path: `./${home.get(file) ?? file}`, external: true };
            });
          },
        },
      ],
    });
    texts.set(kept, result.outputFiles[0].text);
  }
  for (const [kept, text] of texts) writeFileSync(join(dir, kept), text);
  for (const m of home.keys()) rmSync(join(dir, m));
  return home;
}

/** Points every import of a merged chunk in `files` (of `dir`) at the chunk it merged into. */
export function redirectImports(dir, files, home) {
  for (const file of files) {
    const text = readFileSync(join(dir, file), "utf8");
    const out = text.replace(/(["'])\.\/(chunk-[A-Z0-9]+\.js)\1/g, (whole, quote, chunk) =>
      home.has(chunk) ? `${quote}./${home.get(chunk)}${quote}` : whole,
    );
    if (out !== text) writeFileSync(join(dir, file), out);
  }
}
