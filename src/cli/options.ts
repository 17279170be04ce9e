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
