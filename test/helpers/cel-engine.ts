/**
 * Loaded before every test file (vitest.config.ts `setupFiles`): tests compile policies with CEL
 * synchronously, as the library does, so the CEL engine is loaded as the library entry point loads
 * it (src/index.ts). Loading on demand is tested by test/policy/cel-on-demand.test.ts, which
 * starts from a fresh module graph, and by the built CLI (test/e2e/start-up.test.ts).
 */
import "../../src/expr/cel-engine.js";
