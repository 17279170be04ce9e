/** Microsoft's SARIF multitool (npm `@microsoft/sarif-multitool`), as the tests run it. */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import type * as Sarif from "sarif";

/**
 * Runs `sarif-multitool validate --rule-kind Gh;Sarif FILE` (the SARIF schema and rules, and
 * GitHub code scanning's ingestion rules such as GH2012) and returns its error-level results as
 * `RULE: arguments`, empty when the file passes. The .NET binary the package ships is run
 * directly: the package's launcher passes its arguments through a shell, which splits `Gh;Sarif`.
 * The validation log is written beside FILE, as `FILE.validation.sarif`.
 */
export async function multitoolErrors(file: string): Promise<string[]> {
  const binary = createRequire(import.meta.url)("@microsoft/sarif-multitool") as string;
  const output = `${file}.validation.sarif`;
  await promisify(execFile)(binary, [
    "validate",
    "--rule-kind",
    "Gh;Sarif",
    file,
    "--output",
    output,
    "--log",
    "ForceOverwrite",
  ]);
  const log = JSON.parse(await readFile(output, "utf8")) as Sarif.Log;
  return (log.runs[0]?.results ?? [])
    .filter((r) => r.level === "error")
    .map((r) => `${r.ruleId}: ${JSON.stringify(r.message.arguments ?? r.message.text)}`);
}
