import { renderAnnotations } from "./annotations.js";
import type { RuleMeta } from "./findings.js";
import type { RegressGate } from "./gate.js";
import { junitParts } from "./junit.js";
import { RegionFinder, type RegionLookup, type RegionRequest } from "./regions.js";

export { resolveRegions } from "./regions.js";

import type { Report } from "./report.js";
import { renderSarif, sarifRegionRequests } from "./sarif.js";

/** What the public artifacts need besides the report. */
export interface PublicArtifactOptions {
  /** Every rule of the policies (for SARIF's rule descriptions). */
  rules: readonly RuleMeta[];
  /** The traces roots as given, `/`-separated, and the root index of each case id (JUnit suites). */
  roots: readonly string[];
  rootOf: ReadonlyMap<string, number>;
  /** The proof version (SARIF's driver). */
  version: string;
  /** Replace matched values by a SHA-256 prefix instead of shortening them (docs/artifacts.md). */
  redact: boolean;
  /** The regression gate, when it decided the run: the artifacts then follow it, not `fail_on`. */
  regress?: RegressGate;
  /**
   * Texts of the files results point into (trace files, the baseline), by the path the report
   * names them with: SARIF results get a line and column region in them. Files left out get none.
   */
  sources?: ReadonlyMap<string, string>;
  /**
   * Regions already found (src/report/regions.ts resolveRegions over {@link publicRegionRequests}),
   * instead of `sources`: no file's text need be held while the artifacts are built.
   */
  regions?: RegionLookup;
}

/** The regions the public artifacts may ask for: see src/report/sarif.ts sarifRegionRequests. */
export function publicRegionRequests(
  report: Report,
  o: Pick<PublicArtifactOptions, "rules" | "regress">,
): RegionRequest[] {
  return sarifRegionRequests(report, o.rules, o.regress ? { regress: o.regress } : {});
}

/**
 * The artifacts of an out dir derived from the report for other tools: `junit.xml`,
 * `results.sarif` and `annotations.txt` (file name -> UTF-8 text), each failing exactly the cases
 * that fail the gate. See docs/artifacts.md.
 */
export function renderPublicArtifacts(report: Report, o: PublicArtifactOptions): Record<string, string> {
  return Object.fromEntries(
    publicArtifactParts(report, o).map(([name, parts]) => [name, [...parts()].join("")]),
  );
}

/** The artifact of {@link publicArtifactParts} that reads regions: the others need none. */
export const SARIF_ARTIFACT = "results.sarif";

/**
 * {@link renderPublicArtifacts} one artifact at a time, each as a function giving its text in
 * parts (their concatenation is exactly the text): a writer renders and writes one before the
 * next, and `junit.xml`, which has a test case per trace, is never one string.
 */
export function publicArtifactParts(
  report: Report,
  o: PublicArtifactOptions,
): [name: string, parts: () => Iterable<string>][] {
  const gate = o.regress ? { regress: o.regress } : {};
  return [
    ["annotations.txt", () => [renderAnnotations(report, { redact: o.redact, ...gate })]],
    ["junit.xml", () => junitParts(report, o.roots, o.rootOf, { redact: o.redact, ...gate })],
    [
      SARIF_ARTIFACT,
      () => [
        renderSarif(report, o.rules, {
          version: o.version,
          redact: o.redact,
          ...gate,
          ...(o.regions ? { regions: o.regions } : o.sources ? { regions: new RegionFinder(o.sources) } : {}),
        }),
      ],
    ],
  ];
}
