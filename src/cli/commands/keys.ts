import type { Command } from "commander";
import { writeKeyPair } from "../../io/artifacts.js";
import { prettyJson } from "../../io/canonical.js";
import { generateKeyPair, keyId, parsePublicKey } from "../../report/manifest.js";
import type { GlobalOptions } from "../output.js";

/**
 * `proof keys gen --out DIR`: writes a new Ed25519 key pair, `DIR/proof.key` (PKCS#8 PEM, mode
 * 0600) and `DIR/proof.pub` (SPKI PEM), for `verify --sign-key` and `attest verify --pub`.
 * Refuses to overwrite existing keys (exit 6).
 */
export function registerKeys(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  const keys = program.command("keys").description("manage the Ed25519 keys that sign manifest.json");
  keys
    .command("gen")
    .description("write a new key pair: DIR/proof.key (private, mode 0600) and DIR/proof.pub")
    .requiredOption("--out <dir>", "directory for proof.key and proof.pub")
    .action((opts: { out: string }, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const pair = generateKeyPair();
        const written = await writeKeyPair(opts.out, pair);
        const id = keyId(parsePublicKey(pair.publicKey, written.publicPath));
        if (global.json) {
          process.stdout.write(
            prettyJson({ private_key: written.privatePath, public_key: written.publicPath, key_id: id }),
          );
        } else if (!global.quiet) {
          process.stderr.write(`${id}: ${written.privatePath} (keep secret), ${written.publicPath}\n`);
        }
        return 0;
      }),
    );
}
