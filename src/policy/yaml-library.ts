/**
 * The `yaml` library (https://github.com/eemeli/yaml), loaded the first time something needs it.
 * js-yaml reads nearly every policy, configuration and YAML tool result (src/policy/yaml.ts,
 * src/verify/content.ts); the `yaml` library reads only what js-yaml may read differently and
 * locates what is to be reported. Loading it costs about 5 ms, a tenth of a bare Node start, so a
 * command that never needs it should not load it: the bundle keeps it in a CommonJS file of its
 * own beside the chunks (`dist/yaml.cjs`, built by scripts/build.mjs), which a synchronous
 * `require` loads here on first use. Run from the sources, the package itself is loaded.
 */
import { createRequire } from "node:module";
import type * as Yaml from "yaml";

/** The bundle's file of the `yaml` library, relative to the chunk this module is bundled into. */
declare const PROOF_YAML_LIBRARY: string | undefined;

let library: typeof Yaml | undefined;

/**
 * The `yaml` library's module.
 * @throws Error when its file is missing (a damaged install)
 */
export function yamlLibrary(): typeof Yaml {
  if (library === undefined) {
    // Not `require`: the bundler would take a literal path for a module to bundle.
    const load = createRequire(import.meta.url);
    library = load(typeof PROOF_YAML_LIBRARY === "string" ? PROOF_YAML_LIBRARY : "yaml") as typeof Yaml;
  }
  return library;
}
