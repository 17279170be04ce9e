import type { Command } from "commander";

/**
 * Adds the options of every command that writes an out dir (`verify`, `regress`, `run`,
 * `adapt --traces`): the trace format, the out dir, redaction and manifest signing. One
 * declaration keeps their names, defaults and help the same everywhere (docs/cli.md).
 */
export function addArtifactOptions(
  cmd: Command,
  outHelp = "artifact directory, written as a whole",
): Command {
  return cmd
    .option("--format <format>", "trace format, or auto", "auto")
    .option("--out <dir>", outHelp, "proof-out")
    .option("--redact", "replace matched values in SARIF, summary and annotations by a SHA-256 prefix")
    .option(
      "--sign-key <file>",
      "sign manifest.json with this Ed25519 private key (PEM, from proof keys gen)",
    );
}

/**
 * Adds the options of the gates that honour waivers (`verify`, `regress run`, `run`): the
 * waivers file and the date their expiry is judged against (docs/testing.md, "Waivers").
 */
export function addWaiverOptions(cmd: Command): Command {
  return cmd
    .option("--waivers <file>", "waivers.yaml: expiring exceptions for findings (proof.waivers/v1)")
    .option(
      "--today <date>",
      "judge waiver expiry on this date, YYYY-MM-DD (default SOURCE_DATE_EPOCH, else today in UTC)",
    );
}

/** Collects a repeatable option's values. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * The authentication and TLS options `proof serve` and `proof mcp gateway` share (docs/serve-auth.md):
 * --auth, --tls-cert, --tls-key, --client-ca, --allowed-san (repeatable), --profile and
 * --insecure-no-auth; src/serve/config.ts resolves and checks them.
 */
export function addServeSecurityOptions(cmd: Command): Command {
  return cmd
    .option(
      "--auth <file>",
      "auth.yaml: require OAuth 2.0 bearer tokens from its issuer (docs/serve-auth.md)",
    )
    .option("--tls-cert <file>", "PEM certificate chain: serve HTTPS (with --tls-key)")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .option("--client-ca <file>", "PEM CA bundle: require client certificates it issued (mutual TLS)")
    .option(
      "--allowed-san <name>",
      "accept only client certificates naming this DNS or URI SAN (repeatable)",
      collect,
    )
    .option("--profile <name>", "dev | stage | prod (default prod): prod requires --auth and --client-ca")
    .option("--insecure-no-auth", "serve without authentication (development only; refused under prod)");
}
