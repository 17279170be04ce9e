#!/usr/bin/env bash
# proof-ci.sh: the CI contract of proof (docs/ci.md). Every CI wrapper (the GitHub action, the
# GitLab, Jenkins and CircleCI templates) calls this one script, so the behaviour lives here once.
#
# Needs bash (arrays, `read -ra`), not a POSIX sh: Alpine images ship only busybox sh, so add bash
# there first (`apk add bash`). Also needs node, which proof itself runs on.
#
# Environment in (all optional):
#   PROOF_BIN      command that runs proof, split on whitespace (default: the proof of the package
#                  this script was installed with: node <package>/bin/proof.js)
#   PROOF_CONFIG   config file (--config); without it proof reads ./proof.config.yaml when present
#   PROOF_OUT      artifact directory, the one fixed path the wrappers archive (default proof-out)
#   PROOF_ARGS     extra arguments for the gate, split on whitespace, never evaluated: quotes,
#                  `;` and `$(...)` arrive as literal arguments (so paths cannot hold spaces)
#   PROOF_CMD      a command that records the traces, split like PROOF_ARGS: the gate then runs as
#                  `proof run ... -- PROOF_CMD`, and a failure of the command passes through
#   PROOF_GATE     auto (default: `regress run` when a baseline exists, the config's `baseline:`,
#                  a --baseline in PROOF_ARGS or .proof/baseline.json, else `verify`), verify, regress
#   PROOF_BASE_POLICY_DIGEST, PROOF_BASE_BASELINE_DIGEST
#                  the base branch's policy bundle digest and baseline file digest (`sha256:HEX`,
#                  or `absent`): when they differ from the current ones, the summary says that the
#                  pull request changes the policy or the baseline, with the verdict transitions
#   PROOF_BASE_REF a git ref holding the base branch (origin/main): after the gate, `proof diff
#                  --git-base` says what the policy change does rule by rule, with its impact on
#                  the traces, in the log (markdown) and in PROOF_POLICY_DIFF when that names a file
#                  (outside PROOF_OUT, which proof replaces whole)
#   PROOF_SHARD    I/N: judge only shard I of N of the cases (`--shard I/N`) and write a part to
#                  PROOF_OUT, which decides no gate: give each shard its own PROOF_OUT, such as
#                  proof-parts/I, and gate with PROOF_MERGE once every shard is done (docs/ci.md)
#   PROOF_MERGE    a directory whose subdirectories hold the parts of every shard: runs
#                  `proof merge` into PROOF_OUT instead of a gate, and is the gate (exit 0 or 5)
#   PROOF_FAIL_ON_LOOSENING
#                  1: a gate that passed exits 5 when that diff loosens the policy (status.json
#                  still holds the gate's own 0; the log says why)
#
# Paths out (a part of PROOF_SHARD holds shard.json, cases.jsonl, sources.jsonl and manifest.json
#   instead): $PROOF_OUT/{report.json,decisions.jsonl,summary.md,status.json,junit.xml,
#   results.sarif,annotations.txt,manifest.json} and regress.json for the regression gate
#   (docs/artifacts.md). Nothing else is written.
#
# Exit: proof's own exit code, unchanged: 0 gate passed, 5 gate failed, or anything else passed
#   through (a wrapped command's code, 1 bug, 6 invalid input, 7 missing dependency ...).
#   $PROOF_OUT/status.json says which phase produced it (docs/exit-codes.md).

# No `set -e`: the exit code is computed and re-raised explicitly, so that no failing helper can
# replace proof's code, and the caller's `set -e` has no say either.
set +e
set -uo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${PROOF_OUT:-proof-out}
gate=${PROOF_GATE:-auto}

# Splits a string on whitespace into the global array `words`, with globbing off so that `*`
# stays literal. `read -ra` never evaluates: no expansion, substitution or quote removal.
split_words() {
  words=()
  set -f
  # -d '' reads past newlines; read then returns 1 at the end of input, which is expected.
  IFS=$' \t\n' read -r -d '' -a words <<<"$1" || true
  set +f
}

if [[ -n ${PROOF_BIN:-} ]]; then
  split_words "$PROOF_BIN"
  bin=("${words[@]}")
else
  bin=(node "$script_dir/../bin/proof.js")
fi
split_words "${PROOF_ARGS:-}"
args=("${words[@]}")
split_words "${PROOF_CMD:-}"
cmd=("${words[@]}")

global=(--quiet)
config=""
if [[ -n ${PROOF_CONFIG:-} ]]; then
  config=$PROOF_CONFIG
  global+=(--config "$config")
elif [[ -f proof.config.yaml ]]; then
  config=proof.config.yaml
fi

# The baseline the gate uses: --baseline in PROOF_ARGS, else the config's `baseline:` (a plain
# top-level scalar, as proof init writes it; relative to the config file), else the default file.
baseline=""
baseline_source=""
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --baseline) baseline=${args[i + 1]:-} baseline_source=args ;;
    --baseline=*) baseline=${args[i]#--baseline=} baseline_source=args ;;
  esac
done
if [[ -z $baseline && -n $config && -f $config ]]; then
  value=$(sed -n 's/^baseline:[[:space:]]*//p' "$config" | head -n 1 | sed 's/[[:space:]]#.*$//; s/[[:space:]]*$//')
  value=${value#[\"\']}
  value=${value%[\"\']}
  if [[ -n $value ]]; then
    [[ $value == /* ]] || value="$(dirname "$config")/$value"
    baseline=${value#./} baseline_source=config
  fi
fi
if [[ -z $baseline && -f .proof/baseline.json ]]; then
  baseline=.proof/baseline.json baseline_source=default
fi

case $gate in
  auto) if [[ -n $baseline ]]; then gate=regress; else gate=verify; fi ;;
  verify | regress) ;;
  *)
    echo "proof-ci: PROOF_GATE must be auto, verify or regress, not '$gate'" >&2
    exit 6
    ;;
esac
# proof finds a configured baseline itself; the default file is passed explicitly so that
# `proof run` (which gates with regress only when given a baseline) picks it up too.
extra=()
if [[ $gate == regress && $baseline_source == default ]]; then
  extra=(--baseline "$baseline")
fi

shard=()
if [[ -n ${PROOF_SHARD:-} ]]; then
  if [[ -n ${PROOF_MERGE:-} ]]; then
    echo "proof-ci: PROOF_SHARD writes a part and PROOF_MERGE gathers parts: set one of them" >&2
    exit 6
  fi
  shard=(--shard "$PROOF_SHARD")
fi

# --out comes after PROOF_ARGS: the last value wins, so the artifacts always land in $PROOF_OUT.
if [[ -n ${PROOF_MERGE:-} ]]; then
  # Every subdirectory holding a part, in name order; proof refuses a missing or foreign one.
  parts=()
  for part in "$PROOF_MERGE"/*/; do
    [[ -f ${part}shard.json ]] && parts+=("${part%/}")
  done
  if ((${#parts[@]} == 0)); then
    echo "proof-ci: PROOF_MERGE=$PROOF_MERGE holds no part (a subdirectory with shard.json)" >&2
    exit 6
  fi
  what="proof merge of ${#parts[@]} parts"
  invocation=("${bin[@]}" "${global[@]}" merge "${parts[@]}" --out "$out")
elif ((${#cmd[@]} > 0)); then
  what="proof run ($gate gate) -- ${cmd[*]}"
  invocation=("${bin[@]}" "${global[@]}" run --gate "$gate" "${extra[@]}" "${args[@]}" "${shard[@]}" --out "$out" -- "${cmd[@]}")
elif [[ $gate == regress ]]; then
  what="proof regress run"
  invocation=("${bin[@]}" "${global[@]}" regress run "${extra[@]}" "${args[@]}" "${shard[@]}" --out "$out")
else
  what="proof verify"
  invocation=("${bin[@]}" "${global[@]}" verify "${args[@]}" "${shard[@]}" --out "$out")
fi

((${#shard[@]} > 0)) && what+=" --shard $PROOF_SHARD"
echo "proof-ci: $what, artifacts in $out"
"${invocation[@]}"
code=$?

# A part decides no gate: the merge job summarises the whole run.
if ((${#shard[@]} > 0)); then
  if ((code == 0)); then
    echo "proof-ci: shard $PROOF_SHARD written to $out; gate with PROOF_MERGE once every shard is done"
  else
    echo "proof-ci: shard $PROOF_SHARD failed with exit $code: not a gate verdict (6 invalid input)"
  fi
  exit "$code"
fi

# The policy diff of a pull request: only after a gate verdict, never replacing a failure's code.
# Its --policy and --traces come from PROOF_ARGS, else from the config as for the gate.
loosened=0
if [[ -n ${PROOF_BASE_REF:-} ]] && ((code == 0 || code == 5)); then
  diff_args=()
  for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
      --policy) diff_args+=(--policy "${args[i + 1]:-}") ;;
      --policy=*) diff_args+=(--policy "${args[i]#--policy=}") ;;
      --traces)
        diff_args+=(--traces)
        for ((j = i + 1; j < ${#args[@]}; j++)); do
          [[ ${args[j]} == -* ]] && break
          diff_args+=("${args[j]}")
        done
        ;;
    esac
  done
  [[ ${PROOF_FAIL_ON_LOOSENING:-} == 1 ]] && diff_args+=(--fail-on-loosening)
  diff_out=${PROOF_POLICY_DIFF:-}
  [[ -n $diff_out ]] || diff_out=$(mktemp)
  echo "proof-ci: proof diff --git-base $PROOF_BASE_REF"
  "${bin[@]}" "${global[@]}" diff --git-base "$PROOF_BASE_REF" --format markdown "${diff_args[@]}" >"$diff_out"
  diff_code=$?
  cat "$diff_out"
  [[ -n ${PROOF_POLICY_DIFF:-} ]] || rm -f "$diff_out"
  if ((diff_code == 5 && code == 0)); then
    loosened=1
  elif ((diff_code != 0 && diff_code != 5)); then
    echo "proof-ci: proof diff failed with exit $diff_code; the gate's exit $code stands" >&2
  fi
fi

# The bounded summary: read from the artifacts by node (proof's own runtime), at most 40 lines.
# Trace text (case ids) is attacker-controlled: control characters become spaces and every line
# starts with fixed text, so none can start a workflow command.
# shellcheck disable=SC2016 # JavaScript, not shell, inside the single quotes
summary_js='
const { readFileSync, existsSync } = require("node:fs");
const { createHash } = require("node:crypto");
const { join } = require("node:path");
const [out, codeText, baseline, basePolicy, baseBaseline] = process.argv.slice(1);
const code = Number(codeText);
const clean = (s) => String(s).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ").slice(0, 160);
const json = (f) => { try { return JSON.parse(readFileSync(join(out, f), "utf8")); } catch { return null; } };
const lines = [];
const status = json("status.json");
const phase = status && status.code === code ? status.phase : null;
if (phase === "gate" && code === 0) lines.push("proof-ci: gate passed (exit 0)");
else if (phase === "gate") lines.push(`proof-ci: gate FAILED (exit ${code}): see ${out}/summary.md`);
else if (phase === "cmd")
  lines.push(`proof-ci: the wrapped command failed with exit ${code}; the gate did not run (not a policy verdict)`);
else if (code === 0) lines.push("proof-ci: proof exited 0 but wrote no status.json for it");
else lines.push(`proof-ci: proof failed with exit ${code}: not a gate verdict (1 bug, 6 invalid input, 7 missing dependency)`);
const report = phase === "gate" ? json("report.json") : null;
const regress = phase === "gate" ? json("regress.json") : null;
if (report) {
  const s = report.summary, v = s.verdicts;
  lines.push(`${s.traces} traces, ${s.tool_calls} tool calls: ${v.allow} allow, ${v.warn} warn, ${v.require_approval} require_approval, ${v.block} block; ${s.failed} at or above ${report.fail_on}`);
  const rank = { block: 0, require_approval: 1, warn: 2 };
  const findings = report.traces.filter((t) => t.verdict !== "allow")
    .sort((a, b) => rank[a.verdict] - rank[b.verdict] || (a.case_id < b.case_id ? -1 : 1));
  for (const t of findings.slice(0, 8)) lines.push(`  ${t.verdict.padEnd(16)} ${clean(t.case_id)}  ${clean(t.rules.join(", "))}`);
  if (findings.length > 8) lines.push(`  ... and ${findings.length - 8} more in ${out}/report.json`);
}
const transitions = (list, limit) => {
  for (const t of list.slice(0, limit))
    lines.push(`  ${t.kind.padEnd(9)} ${clean(t.case_id)}  ${t.before ? t.before.verdict : "-"} -> ${t.after ? t.after.verdict : "-"}${t.fails ? "  (fails)" : ""}`);
  if (list.length > limit) lines.push(`  ... and ${list.length - limit} more in ${out}/regress.json`);
};
if (regress) {
  const s = regress.summary;
  lines.push(`regression: ${s.cases} cases: ${s.unchanged} unchanged, ${s.loosened} loosened, ${s.tightened} tightened, ${s.changed} changed, ${s.missing} missing, ${s.new} new; ${s.failed} failing`);
  transitions(regress.transitions.filter((t) => t.fails), 8);
}
// The governance gate (docs/ci.md): does this pull request change the policy or the baseline?
const moved = regress ? regress.transitions.filter((t) => t.kind === "loosened" || t.kind === "tightened") : [];
const impact = () => {
  if (!regress) lines.push("  (the gate ran without a baseline, so there are no verdict transitions to list)");
  else if (moved.length === 0) lines.push("  no verdict transitions against the baseline");
  else transitions(moved, 6);
};
if (basePolicy && report && basePolicy !== report.bundle_digest) {
  lines.push(`GOVERNANCE: this pull request changes the policy (bundle ${clean(basePolicy)} -> ${report.bundle_digest})`);
  impact();
}
if (baseBaseline && phase === "gate") {
  let current = "absent";
  if (baseline && existsSync(baseline)) current = "sha256:" + createHash("sha256").update(readFileSync(baseline)).digest("hex");
  if (current !== baseBaseline) {
    lines.push(`GOVERNANCE: this pull request changes the baseline ${clean(baseline || ".proof/baseline.json")} (${clean(baseBaseline)} -> ${current}): review its diff`);
    impact();
  }
}
if (phase === "gate") lines.push(`artifacts: ${out}/ (summary.md, report.json, junit.xml, results.sarif, status.json, manifest.json)`);
else if (phase === "cmd") lines.push(`artifacts: only ${out}/status.json was replaced`);
const shown = lines.length > 40 ? [...lines.slice(0, 39), "  ... (summary cut at 40 lines)"] : lines;
process.stdout.write(shown.join("\n") + "\n");
'
node -e "$summary_js" "$out" "$code" "$baseline" "${PROOF_BASE_POLICY_DIGEST:-}" "${PROOF_BASE_BASELINE_DIGEST:-}" ||
  echo "proof-ci: could not summarise $out (exit $code stands)" >&2

# After the summary, which reports the gate's own verdict as status.json holds it.
if ((loosened == 1)); then
  echo "proof-ci: GOVERNANCE: the pull request loosens the policy (PROOF_FAIL_ON_LOOSENING=1): exit 5"
  code=5
fi

exit "$code"
