/**
 * The governance gate of a pull request (docs/ci.md "The governance gate"): the base branch's
 * policy bundle digest and baseline file digest, read with git from `origin/BASE_REF`, for the
 * contract script's PROOF_BASE_POLICY_DIGEST and PROOF_BASE_BASELINE_DIGEST.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
// compilePolicy is synchronous: the CEL engine is loaded with this module (src/expr/cel.ts).
import "../expr/cel-engine.js";
import { digestOf, sha256Hex } from "../io/canonical.js";
import { fileLimit, readTextFile } from "../io/files.js";
import { compilePolicy } from "../policy/compile.js";
import { loadIR } from "../policy/load-ir.js";
import { parseYaml } from "../policy/yaml.js";

/** What the base branch held: `sha256:HEX` digests, the baseline's `absent` when it had none. */
export interface BaseDigests {
  policy?: string;
  baseline?: string;
}

/** Runs git in `cwd`; resolves with its stdout, or null when it fails or prints too much. */
function git(cwd: string, args: string[]): Promise<Buffer | null> {
  return new Promise((done) => {
    execFile(
      "git",
      args,
      { cwd, encoding: "buffer", maxBuffer: fileLimit().bytes, windowsHide: true },
      (err, stdout) => done(err ? null : stdout),
    );
  });
}

/** A path of the config, relative to the working directory, `/`-separated. */
function fromConfig(value: string, configFile: string, cwd: string): string {
  const rel = relative(cwd, resolve(cwd, dirname(configFile), value)) || ".";
  return sep === "/" ? rel : rel.split(sep).join("/");
}

/** The config's top-level `policy` and `baseline`, relative to the working directory. */
async function configPaths(cwd: string, config: string): Promise<{ policy?: string; baseline?: string }> {
  const file = resolve(cwd, config || "proof.config.yaml");
  if (!config && !existsSync(file)) return {};
  const value = parseYaml(await readTextFile(file, fileLimit()), config || "proof.config.yaml").value;
  const out: { policy?: string; baseline?: string } = {};
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const map = value as Record<string, unknown>;
    if (typeof map.policy === "string") out.policy = fromConfig(map.policy, file, cwd);
    if (typeof map.baseline === "string") out.baseline = fromConfig(map.baseline, file, cwd);
  }
  return out;
}

/** The policy digest of one file as proof compiles it (YAML, or an IR `.json`). */
function digestOfPolicy(text: string, file: string): string {
  return (file.endsWith(".json") ? loadIR(text, file) : compilePolicy(text, file)).policy_digest;
}

/**
 * Reads the base branch's digests, best effort: `log` says why one is missing (no git remote,
 * a policy that the running proof cannot compile...), and the gate runs without that note. The
 * policy and baseline are the inputs when given, else the config's (`config` or
 * ./proof.config.yaml, read as YAML), the baseline defaulting to .proof/baseline.json. The
 * bundle digest is the one proof reports: `digestOf` of the sorted policy digests of the files
 * `--policy` names (a file, or a directory's `*.yaml`, `*.yml` and `*.ir.json`).
 */
export async function baseDigests(
  options: { cwd: string; baseRef: string; config: string; policy: string; baseline: string },
  log: (line: string) => void,
): Promise<BaseDigests> {
  const { cwd, baseRef } = options;
  let fromConfigFile: { policy?: string; baseline?: string } = {};
  try {
    fromConfigFile = await configPaths(cwd, options.config);
  } catch (err) {
    log(`base branch: the config could not be read (${(err as Error).message}); only inputs are used`);
  }
  const policy = options.policy || fromConfigFile.policy || "";
  const baseline = options.baseline || fromConfigFile.baseline || ".proof/baseline.json";
  await git(cwd, ["fetch", "--no-tags", "--depth=1", "origin", baseRef]);
  const ref = `origin/${baseRef}`;
  if ((await git(cwd, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`])) === null) {
    log(`base branch: ${ref} is not available; no governance note`);
    return {};
  }
  const out: BaseDigests = {};
  if (policy !== "" && !isAbsolute(policy)) {
    const trimmed = policy.replace(/\/+$/, "");
    // Entries are `MODE TYPE OID\tNAME`; only blobs are policy files (a listed tree is the directory).
    const listing = await git(cwd, ["ls-tree", "-z", ref, "--", trimmed, `${trimmed}/`]);
    const blobs = (listing?.toString("utf8") ?? "")
      .split("\0")
      .filter((entry) => / blob [0-9a-f]+\t/.test(entry))
      .map((entry) => entry.slice(entry.indexOf("\t") + 1));
    const names = [...new Set(blobs)].filter((n) => n === trimmed || /\.(ya?ml|ir\.json)$/.test(n)).sort();
    const digests: string[] = [];
    for (const name of names) {
      const text = await git(cwd, ["show", `${ref}:./${name}`]);
      try {
        if (text === null) throw new Error("git show failed");
        digests.push(digestOfPolicy(text.toString("utf8"), name));
      } catch (err) {
        log(`base branch: ${name} does not compile (${(err as Error).message}); no policy note`);
        digests.length = 0;
        break;
      }
    }
    if (digests.length > 0) out.policy = digestOf(digests.sort());
  }
  const bytes = await git(cwd, ["show", `${ref}:./${baseline}`]);
  out.baseline = bytes === null ? "absent" : `sha256:${sha256Hex(bytes)}`;
  return out;
}
