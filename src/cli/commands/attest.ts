import type { Command } from "commander";
import { ProofError } from "../../errors.js";
import { hashDirectory, readKeyFile, requireDirectory } from "../../io/artifacts.js";
import { prettyJson } from "../../io/canonical.js";
import { listDirectories } from "../../io/directories.js";
import { readTextFile, toPosix } from "../../io/files.js";
import { type AttestProblem, checkManifest, MANIFEST_FILE, parsePublicKey } from "../../report/manifest.js";
import { type GlobalOptions, oneLine } from "../output.js";

/** A failed verification, said of the file its location names (the offending file or the manifest). */
function describe(p: AttestProblem): string {
  switch (p.kind) {
    case "manifest":
    case "signature":
      return p.message;
    case "modified":
      return "modified: its SHA-256 differs from manifest.json";
    case "removed":
      return "removed: listed in manifest.json, but missing";
    case "added":
      return p.file.endsWith("/")
        ? "added: a directory holding no file listed in manifest.json"
        : "added: not listed in manifest.json";
  }
}

/**
 * `proof attest verify DIR --pub KEY`: checks an out dir against its signed `manifest.json`
 * (docs/artifacts.md). Exit 0 when the signature holds for KEY and names KEY's id, every listed file
 * has its listed SHA-256 and no other file or directory exists; exit 2 otherwise, naming the first
 * offending file (in sorted order), directory or the signature; exit 6 when DIR, its manifest or KEY
 * cannot be read.
 */
export function registerAttest(
  program: Command,
  run: (action: () => Promise<number>) => Promise<void>,
): void {
  const attest = program.command("attest").description("check signed artifacts");
  attest
    .command("verify")
    .description("check an out dir against its signed manifest.json; exit 2 on any difference")
    .argument("<dir>", "out dir written by proof verify --sign-key")
    .requiredOption("--pub <key>", "Ed25519 public key (PEM, proof.pub from proof keys gen)")
    .action((dir: string, opts: { pub: string }, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const key = parsePublicKey(await readKeyFile(opts.pub), toPosix(opts.pub));
        await requireDirectory(dir);
        const manifest = await readTextFile(`${dir}/${MANIFEST_FILE}`);
        const actual = await hashDirectory(dir);
        delete actual[MANIFEST_FILE];
        const problem = checkManifest(manifest, actual, key, await listDirectories(dir));
        const shown = toPosix(dir).replace(/\/+$/, "");
        if (problem) {
          throw new ProofError(`attest.${problem.kind}`, describe(problem), {
            category: "integrity",
            location: { file: "file" in problem ? `${shown}/${problem.file}` : `${shown}/${MANIFEST_FILE}` },
          });
        }
        if (global.json)
          process.stdout.write(prettyJson({ verified: true, dir: shown, files: Object.keys(actual).length }));
        else if (!global.quiet)
          process.stderr.write(`${oneLine(`${shown}: verified, ${Object.keys(actual).length} files`)}\n`);
        return 0;
      }),
    );
}
