/**
 * The package as npm publishes it: `npm pack` of the repository, for the tests that install it
 * (test/e2e/package.test.ts, test/ci/gitlab.test.ts). Packs the dist/ that `npm test` built, with
 * `--ignore-scripts`: prepack would rebuild dist/ while other test files run it.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { ROOT, tempDir } from "./cli.js";

/** A packed tarball and the files in it (paths relative to the package root). */
export interface Packed {
  tarball: string;
  files: string[];
}

let packed: Promise<Packed> | undefined;

/**
 * Environment for npm run by a test: offline (a package that needs the registry fails instead of
 * fetching), with an empty cache of its own and no user configuration, so that neither the
 * network nor this machine's npm set-up can make an install pass.
 */
export async function offlineNpmEnv(): Promise<Record<string, string>> {
  const dir = await tempDir();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // npm_config_* of an enclosing `npm test` would leak its own settings into the child.
    if (v !== undefined && !k.toLowerCase().startsWith("npm_")) env[k] = v;
  }
  return {
    ...env,
    npm_config_offline: "true",
    npm_config_cache: join(dir, "cache"),
    npm_config_userconfig: join(dir, "npmrc"),
    npm_config_update_notifier: "false",
    npm_config_audit: "false",
    npm_config_fund: "false",
    NO_COLOR: "1",
  };
}

/** Packs the repository once per test file; resolves with the tarball's path and file list. */
export function packTarball(): Promise<Packed> {
  packed ??= (async () => {
    const dir = await tempDir();
    const env = await offlineNpmEnv();
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        "npm",
        ["pack", "--ignore-scripts", "--json", "--pack-destination", dir],
        { cwd: ROOT, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
        (err, out, stderr) => (err ? reject(new Error(`npm pack failed: ${stderr}`)) : resolve(out)),
      ),
    );
    const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    if (!info) throw new Error(`npm pack printed no package: ${stdout}`);
    return { tarball: join(dir, info.filename), files: info.files.map((f) => f.path).sort() };
  })();
  return packed;
}
