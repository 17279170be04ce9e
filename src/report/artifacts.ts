import { renderAnnotations } from "./annotations.js";
import type { RuleMeta } from "./findings.js";
import { renderJunit } from "./junit.js";
import type { Report } from "./report.js";
import { renderSarif } from "./sarif.js";

/** What the public artifacts need besides the report. */
export interface PublicArtifactOptions {
  /** Every rule of the policies (for SARIF's rule descriptions). */
  rules: readonly RuleMeta[];
  /** The traces roots as given, `/`-separated, and the root index of each case id (JUnit suites). */
  roots: readonly string[];
  rootOf: ReadonlyMap<string, number>;
  /** The proof version (SARIF's driver). */
  version: string;
  /** Replace matched values by a SHA-256 prefix instead of shortening them (DESIGN.md §7). */
  redact: boolean;
}

/**
 * The artifacts of an out dir derived from the report for other tools: `junit.xml`,
 * `results.sarif` and `annotations.txt` (file name -> UTF-8 text). See docs/artifacts.md.
 */
export function renderPublicArtifacts(report: Report, o: PublicArtifactOptions): Record<string, string> {
  return {
    "annotations.txt": renderAnnotations(report, { redact: o.redact }),
    "junit.xml": renderJunit(report, o.roots, o.rootOf, { redact: o.redact }),
    "results.sarif": renderSarif(report, o.rules, { version: o.version, redact: o.redact }),
  };
}
