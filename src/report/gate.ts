/**
 * What decided the gate, as the public artifacts (JUnit, SARIF, annotations) need it. Under
 * `proof verify` a case fails when its verdict is at or above `--fail-on`; under `proof regress`
 * a case fails exactly when its transition against the baseline fails (loosened, tightened under
 * `--fail-on-regression any`, missing without `--allow-missing`, new at or above `--fail-on`),
 * and a case whose verdict is the recorded one passes whatever that verdict is.
 */
import type { RegressResult, Transition } from "../regress/compare.js";

/** The regression gate of a run: its comparison, and how a reader accepts an intended change. */
export interface RegressGate {
  result: RegressResult;
  /** The baseline file as given, relative, `/`-separated: the file to commit after accepting. */
  baseline: string;
  /** The `proof regress accept ...` command line that records the current verdicts (shell words). */
  accept: string;
}

/** The transitions of a comparison by case id. */
export function transitionsByCase(gate: RegressGate): Map<string, Transition> {
  return new Map(gate.result.transitions.map((t) => [t.case_id, t]));
}

/** `before -> after` of a transition, `-` for the side that does not exist. */
export function verdictArrow(t: Transition): string {
  return `${t.before?.verdict ?? "-"} -> ${t.after?.verdict ?? "-"}`;
}

/**
 * One sentence on what a failing transition means, in plain words (trace text not included):
 * `verdict loosened from block to warn against the baseline`.
 */
export function transitionSentence(t: Transition): string {
  switch (t.kind) {
    case "loosened":
    case "tightened":
      return `verdict ${t.kind} from ${t.before?.verdict} to ${t.after?.verdict} against the baseline`;
    case "missing":
      return `recorded in the baseline as ${t.before?.verdict}, but no trace has this case any more`;
    case "new":
      return `not in the baseline, and its verdict ${t.after?.verdict} is at or above --fail-on`;
    case "changed":
      return `same verdict ${t.after?.verdict} as the baseline, other rules or decisions`;
  }
}

/** How to fix a failing regression gate, as one line: accept the change if it is intended. */
export function acceptHint(gate: RegressGate): string {
  return `If the change is intended, run \`${gate.accept}\` and commit ${gate.baseline}.`;
}
