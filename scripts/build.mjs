// Builds the CLI: precompiled schema validators, then one ESM bundle per entry point.
//
// The bundle is self-contained: every package it uses is compiled into dist/, so the published
// package declares no runtime dependency and an install pulls nothing else. The build fails when
// an output still imports a package at run time (anything but a Node.js built-in), and it writes
// dist/THIRD-PARTY-LICENSES.txt with the license of every package compiled in, which their
// licenses require to travel with the code.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { mergeChunks, planMerges, redirectImports } from "./merge-chunks.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "dist"), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, "scripts", "gen-validators.mjs")], { stdio: "inherit" });
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/**
 * Bundles `yaml` from its ES module build instead of its CommonJS one (the `node` condition of its
 * exports), so that the parts proof never calls (stringifying, most YAML 1.1 tags) can be left
 * out: 200 KB instead of 260 KB in every command that reads YAML. The two builds are the same code
 * but for the Node.js specifics of the CommonJS one: warnings through `process.emitWarning`
 * rather than `console.warn`, `!!binary` as a Buffer rather than a Uint8Array, and the
 * LOG_TOKENS / LOG_STREAM debugging variables.
 */
const yamlAsModule = {
  name: "yaml-as-module",
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, async (args) => {
      const manifest = await b.resolve("yaml/package.json", { kind: args.kind, resolveDir: args.resolveDir });
      if (manifest.errors.length > 0) return { errors: manifest.errors };
      return { path: join(dirname(manifest.path), "browser", "dist", "index.js") };
    });
  },
};

/**
 * The `yaml` library is a file of its own, CommonJS so that src/policy/yaml-library.ts can load it
 * synchronously the first time something needs it: most commands never do (js-yaml reads their
 * YAML), and compiling it costs about 5 ms of every start. Only what proof calls is kept.
 */
const YAML_LIBRARY_FILE = "yaml.cjs";
const yamlLibrary = await build({
  stdin: {
    contents:
      'export { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from "yaml";',
    resolveDir: root,
    sourcefile: "yaml-library-entry.js",
  },
  outfile: join(root, "dist", YAML_LIBRARY_FILE),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  plugins: [yamlAsModule],
});

const result = await build({
  entryPoints: {
    proof: join(root, "src/cli/main.ts"),
    index: join(root, "src/index.ts"),
    // The GitHub action's gate step (action/action.yml runs dist/action.js).
    action: join(root, "src/action/main.ts"),
    // A worker thread of `proof verify --jobs N` (src/api/pool.ts starts it from beside itself).
    "verify-worker": join(root, "src/api/verify-worker.ts"),
    // A thread that finds SARIF regions at the end of such a run (src/api/pool-regions.ts).
    "regions-worker": join(root, "src/api/regions-worker.ts"),
  },
  outdir: join(root, "dist"),
  bundle: true,
  platform: "node",
  mainFields: ["module", "main"],
  format: "esm",
  target: "node20",
  splitting: true,
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  plugins: [yamlAsModule],
  define: {
    PROOF_VERSION: JSON.stringify(manifest.version),
    PROOF_YAML_LIBRARY: JSON.stringify(`./${YAML_LIBRARY_FILE}`),
  },
  // Some CommonJS dependencies call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __proofRequire } from 'node:module'; const require = __proofRequire(import.meta.url);",
  },
});

/** Whether `specifier` names a Node.js built-in module (`node:fs`, `fs`, `fs/promises`). */
const isBuiltin = (specifier) => specifier.startsWith("node:") || builtinModules.includes(specifier);

const external = [];
const outputs = { ...result.metafile.outputs, ...yamlLibrary.metafile.outputs };
for (const [file, output] of Object.entries(outputs)) {
  for (const i of output.imports) {
    if (i.external && !isBuiltin(i.path)) external.push(`${file} imports ${i.path}`);
  }
}
// The `yaml` library must reach the chunks only through its own file.
const yamlInChunks = Object.keys(result.metafile.inputs).filter((input) =>
  packageDir(input)?.endsWith("/yaml"),
);
if (yamlInChunks.length > 0) {
  console.error(
    `build: the yaml library is bundled into the chunks (${yamlInChunks[0]}): load it through src/policy/yaml-library.ts`,
  );
  process.exit(1);
}
// Each validator is its own module so that a command loads only those it uses; the gathering
// module imports all of them, and the bundle splits by module, so bundled code must not use it.
const gathering = "src/generated/validators.js";
if (Object.hasOwn(result.metafile.inputs, gathering)) {
  const importers = Object.entries(result.metafile.inputs)
    .filter(([, input]) => input.imports.some((i) => i.path === gathering))
    .map(([file]) => file);
  console.error(
    `build: ${importers.join(", ")} import ${gathering}, which loads every validator: import the one needed from src/generated/validate-NAME.js`,
  );
  process.exit(1);
}
if (external.length > 0) {
  console.error(`build: the bundle must not import packages at run time:\n  ${external.join("\n  ")}`);
  process.exit(1);
}

// Fewer files for a command to load at start (scripts/merge-chunks.mjs): a chunk of at most
// 32 KB merges into a chunk that every entry point loading it loads too.
const dist = join(root, "dist");
const exportsByFile = new Map(
  Object.entries(result.metafile.outputs).map(([file, output]) => [basename(file), output.exports]),
);
const home = await mergeChunks(dist, planMerges(result.metafile, 32_000), (f) => exportsByFile.get(f) ?? []);
redirectImports(
  dist,
  readdirSync(dist).filter((f) => f.endsWith(".js")),
  home,
);

/**
 * The package directory (`node_modules/<name>` or `node_modules/@scope/<name>`, innermost when
 * nested) of a bundled input path, or null for the project's own sources.
 */
function packageDir(input) {
  const parts = input.split("/");
  const at = parts.lastIndexOf("node_modules");
  if (at < 0) return null;
  const length = parts[at + 1]?.startsWith("@") ? 3 : 2;
  return parts.slice(0, at + length).join("/");
}

const bundled = new Set();
for (const input of [...Object.keys(result.metafile.inputs), ...Object.keys(yamlLibrary.metafile.inputs)]) {
  const dir = packageDir(input);
  if (dir !== null) bundled.add(dir);
}
const notices = [...bundled]
  .map((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
    const texts = readdirSync(join(root, dir))
      .filter((f) => /^(licen[cs]e|notice|copying)/i.test(f))
      .sort()
      .map((f) => readFileSync(join(root, dir, f), "utf8").trim());
    const license = typeof pkg.license === "string" ? pkg.license : JSON.stringify(pkg.license ?? "UNKNOWN");
    const body =
      texts.length > 0
        ? texts.join("\n\n")
        : `(the package ships no license file; its package.json says ${license})`;
    return {
      id: `${pkg.name}@${pkg.version}`,
      text: `${pkg.name}@${pkg.version}, license ${license}\n\n${body}`,
    };
  })
  .sort((a, b) => (a.id < b.id ? -1 : 1));
writeFileSync(
  join(root, "dist", "THIRD-PARTY-LICENSES.txt"),
  `The bundle in this directory includes the following packages, under their own licenses.\n\n${notices
    .map((n) => `${"-".repeat(78)}\n${n.text}\n`)
    .join("\n")}`,
);
