// Builds the CLI: precompiled schema validators, then one ESM bundle per entry point.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "dist"), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, "scripts", "gen-validators.mjs")], { stdio: "inherit" });
const { version } = JSON.parse((await import("node:fs")).readFileSync(join(root, "package.json"), "utf8"));

await build({
  entryPoints: {
    proof: join(root, "src/cli/main.ts"),
    index: join(root, "src/index.ts"),
    // The GitHub action's gate step (action/action.yml runs dist/action.js).
    action: join(root, "src/action/main.ts"),
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
  define: { PROOF_VERSION: JSON.stringify(version) },
  // Some CommonJS dependencies call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __proofRequire } from 'node:module'; const require = __proofRequire(import.meta.url);",
  },
});
