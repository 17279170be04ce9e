import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

const { version } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as {
  version: string;
};

export default defineConfig({
  define: { PROOF_VERSION: JSON.stringify(version) },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // The CEL engine loads on demand (src/expr/cel.ts); tests compile synchronously, as the library.
    setupFiles: ["test/helpers/cel-engine.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
