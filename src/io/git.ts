/**
 * Policy files as a git commit holds them, for `proof diff --git-base REF` (docs/cli.md): the
 * same files `--policy PATH` would read from the working tree, read with `git show REF:./FILE`.
 */
import { ProofError } from "../errors.js";
import { fileLimit } from "./files.js";

/** One policy file at a commit: its path (relative to the working directory, `/`-separated) and text. */
export interface GitFile {
  path: string;
  text: string;
}

/**
 * Runs git with these arguments in the working directory; resolves with stdout as UTF-8, or
 * null when git exits non-zero. Output over the file size limit is refused like a large file.
 * @throws ProofError `diff.git_missing` (exit 7) when git cannot be run.
 */
async function git(args: string[]): Promise<string | null> {
  // execa costs about 90 ms to import: only this command loads it.
  const { execa } = await import("execa");
  const result = await execa("git", args, {
    reject: false,
    encoding: "utf8",
    maxBuffer: fileLimit().bytes,
    stdin: "ignore",
    windowsHide: true,
  });
  const errno = (result as { code?: string }).code;
  if (errno === "ENOENT")
    throw new ProofError("diff.git_missing", "git was not found on PATH: --git-base needs git", {
      category: "dependency",
    });
  if (result.isMaxBuffer)
    throw new ProofError("diff.git_base", `git ${args[0]} printed more than ${fileLimit().bytes} bytes`);
  return result.exitCode === 0 ? result.stdout : null;
}

/**
 * The policy files of `path` at commit `ref`: `path` itself when it is a file there; for a
 * directory, its `*.yaml`, `*.yml` and `*.ir.json` files (not recursive, as `--policy` reads
 * them), sorted. An empty list when `path` did not exist at `ref` (a pull request adding a policy).
 * @throws ProofError `diff.git_base` (exit 6) when `ref` is not a commit, or a file cannot be read
 *   from it; `diff.git_missing` (exit 7) without git.
 */
export async function policyFilesAt(ref: string, path: string): Promise<GitFile[]> {
  if (ref.startsWith("-") || (await git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`])) === null)
    throw new ProofError("diff.git_base", `--git-base ${ref} is not a commit of the git repository here`, {
      hint: "fetch it first (git fetch origin BRANCH) and name it as git does (origin/main)",
    });
  const trimmed = path.replace(/\/+$/, "") || ".";
  // Entries are `MODE TYPE OID\tNAME`, NAME relative to the working directory as given.
  const listing = (await git(["ls-tree", "-z", ref, "--", trimmed, `${trimmed}/`])) ?? "";
  const blobs = listing
    .split("\0")
    .filter((entry) => / blob [0-9a-f]+\t/.test(entry))
    .map((entry) => entry.slice(entry.indexOf("\t") + 1));
  const names = [...new Set(blobs)].filter((n) => n === trimmed || /\.(ya?ml|ir\.json)$/.test(n)).sort();
  const out: GitFile[] = [];
  for (const name of names) {
    const text = await git(["show", `${ref}:./${name}`]);
    if (text === null) throw new ProofError("diff.git_base", `git could not show ${ref}:${name}`);
    out.push({ path: name, text });
  }
  return out;
}
