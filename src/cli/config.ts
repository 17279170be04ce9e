import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { Command, Option } from "commander";
import { inputError, ProofError } from "../errors.js";
import { fileLimit, readTextFile } from "../io/files.js";
import { schemaError } from "../policy/schema-errors.js";
import { parseYaml } from "../policy/yaml.js";

/** The file `--config` defaults to, looked up in the working directory. */
export const DEFAULT_CONFIG_FILE = "proof.config.yaml";

/** Config keys whose values are paths: relative ones resolve against the config file's directory. */
const PATH_KEYS = new Set([
  "policy",
  "traces",
  "context",
  "plan",
  "weights",
  "baseline",
  "out",
  "policy_dir",
  "waivers",
]);

/** Option sources a config value may replace: unset, or commander's default. Flags and env win. */
const REPLACEABLE_SOURCES = new Set([undefined, "default"]);

/**
 * Options that share a config key's name but not its meaning, by command path: `out` is the
 * artifact directory, which every gate run replaces whole, so it must never receive the keys of
 * `proof keys gen --out` (the private key would be deleted by the next run), nor those of
 * `proof test --out` (its junit.xml would replace the gate's out dir).
 */
const NOT_FROM_CONFIG: Record<string, readonly string[]> = {
  "keys gen": ["out"],
  // `proof test --out` holds the tests' junit.xml: never the gate's out dir of the config.
  test: ["out"],
  // `proof diff --format` is the output form, not the trace format that `format:` sets.
  diff: ["format"],
  // `proof eval --out` holds a scorecard: never the gate's out dir of the config.
  eval: ["out"],
};

/** `regress run` for the `run` subcommand of `regress`: the command's names below the program. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/**
 * A loaded `proof.config.yaml` (`proof.config/v1`, schemas/config.schema.json).
 * `values` maps option attribute names (`failOn`, from `fail_on`) to values, paths already
 * resolved against the config file's directory (relative to the working directory).
 */
export interface ProofConfig {
  file: string;
  values: Record<string, string | string[]>;
}

/** `fail_on_regression` -> `failOnRegression`: commander's attribute name for `--fail-on-regression`. */
export function optionName(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Makes a path from the config file relative to the working directory, as if the user had typed
 * it there: reports show paths as given, and must hold no absolute path (docs/artifacts.md).
 */
function resolvePath(value: string, configDir: string): string {
  if (isAbsolute(value)) return value;
  const rel = relative(process.cwd(), resolve(configDir, value)) || ".";
  return sep === "/" ? rel : rel.split(sep).join("/");
}

/**
 * Reads and validates a config file.
 * @throws ProofError `io.unreadable` when it cannot be read, `yaml.*` on a YAML error, and
 *   `config.unknown_key` / `config.wrong_type` / `config.invalid_value` / `config.missing_key`
 *   (all exit 6) with file, line and column.
 */
export async function loadConfig(file: string): Promise<ProofConfig> {
  const parsed = parseYaml(await readTextFile(file, fileLimit()), file);
  // Loaded only when there is a config file: most runs have none, and start-up pays for every
  // module loaded (docs/performance.md, "Start-up").
  const { validateConfig } = await import("../generated/validate-config.js");
  if (!validateConfig(parsed.value)) throw schemaError(parsed, validateConfig.errors, "config");
  const configDir = dirname(resolve(file));
  const values: Record<string, string | string[]> = {};
  for (const [key, raw] of Object.entries(parsed.value as Record<string, string | string[]>)) {
    if (key === "schema") continue;
    const resolveOne = (v: string) => (PATH_KEYS.has(key) ? resolvePath(v, configDir) : v);
    values[optionName(key)] = Array.isArray(raw) ? raw.map(resolveOne) : resolveOne(raw);
  }
  return { file, values };
}

/**
 * Finds the config of a run: `--config FILE` when given (it must exist), else
 * `proof.config.yaml` in the working directory when there is one, else none.
 * @throws ProofError as {@link loadConfig}.
 */
export async function findConfig(explicit: string | undefined): Promise<ProofConfig | undefined> {
  if (explicit !== undefined) return loadConfig(explicit);
  try {
    return await loadConfig(DEFAULT_CONFIG_FILE);
  } catch (err) {
    // Only a missing default file means "no config"; a broken one is an error like any other.
    const cause = err instanceof ProofError ? (err.cause as NodeJS.ErrnoException | undefined) : undefined;
    if (err instanceof ProofError && err.code === "io.unreadable" && cause?.code === "ENOENT")
      return undefined;
    throw err;
  }
}

/**
 * Fills the options of `cmd` that the command line left unset (or at their default) from the
 * config, keeping a flag given on the command line. Keys the command has no option for are
 * ignored: one config serves every command (and a few options are never filled, see
 * NOT_FROM_CONFIG). A single path given for a variadic option (`traces`)
 * becomes a list of one.
 */
export function applyConfig(cmd: Command, config: ProofConfig): void {
  const excluded = NOT_FROM_CONFIG[commandPath(cmd)] ?? [];
  for (const option of cmd.options) {
    const name = option.attributeName();
    if (excluded.includes(name)) continue;
    const value = config.values[name];
    if (value === undefined || !REPLACEABLE_SOURCES.has(cmd.getOptionValueSource(name))) continue;
    const fitted = option.variadic ? (Array.isArray(value) ? value : [value]) : value;
    if (Array.isArray(fitted) && !option.variadic) {
      throw inputError(
        "config.wrong_type",
        `${option.long ?? name} takes one value, but the config gives a list`,
        { file: config.file },
      );
    }
    cmd.setOptionValueWithSource(name, fitted, "config");
  }
}

/** Options declared required (`requiredOption`) whose check {@link deferRequiredOptions} took over. */
const deferred = new WeakSet<Option>();

/**
 * Takes over commander's check of required options (`requiredOption`) in `program` and every
 * subcommand: commander checks them before the `preAction` hook, that is before the config is
 * merged, so a value the config gives would be refused. {@link checkRequiredOptions} checks them
 * afterwards. Call once, after every command is registered.
 */
export function deferRequiredOptions(cmd: Command): void {
  for (const option of cmd.options) {
    if (option.mandatory) {
      option.mandatory = false;
      deferred.add(option);
    }
  }
  for (const sub of cmd.commands) deferRequiredOptions(sub);
}

/**
 * Checks that every required option of `cmd` is set, by a flag or by the config.
 * @throws ProofError `usage.missing_option` (exit 6) naming the first missing flag, as commander
 *   would, with a hint naming the config key.
 */
export function checkRequiredOptions(cmd: Command): void {
  for (const option of cmd.options) {
    if (!deferred.has(option) || cmd.getOptionValue(option.attributeName()) !== undefined) continue;
    const key = option.attributeName().replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    throw inputError(
      "usage.missing_option",
      `required option '${option.flags}' not specified`,
      undefined,
      `give it on the command line, or as '${key}:' in ${DEFAULT_CONFIG_FILE}`,
    );
  }
}
