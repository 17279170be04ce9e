// The README's first command: judges the real recorded agent runs shipped in fixtures/corpus
// with the example policies, using the built CLI as a user would, and scores the AgentDojo
// verdicts against the corpus labels (manifest.jsonl: expected_violation).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const proof = join(root, "bin", "proof.js");
const out = process.env.PROOF_DEMO_OUT ?? "demo-out";

function verify(name, policy, traces, extra = []) {
  const dir = join(out, name);
  const args = ["verify", "--policy", policy, "--traces", traces, "--out", dir, ...extra];
  console.log(`\n$ proof ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [proof, ...args], { cwd: root, stdio: "inherit" });
  // 0 and 5 are the gate's answers; anything else is a failure of the demo itself.
  if (r.status !== 0 && r.status !== 5) process.exit(r.status ?? 1);
  return JSON.parse(readFileSync(join(root, dir, "report.json"), "utf8"));
}

const runs = "fixtures/corpus/agentdojo/runs";
const banking = verify("agentdojo-banking", "examples/policies/agentdojo-banking.yaml", runs, ["--quiet"]);
const slack = verify("agentdojo-slack", "examples/policies/agentdojo-slack.yaml", runs, ["--quiet"]);
const naive = verify("agentdojo-naive", "fixtures/eval/naive-destination.yaml", runs, ["--quiet"]);
const airline = verify("tau-bench-airline", "examples/policies/airline.yaml", "fixtures/corpus/tau-bench");

const manifest = readFileSync(join(root, "fixtures/corpus/agentdojo/manifest.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l));

/** Confusion matrix of "some report blocks the run" against the corpus label. */
function score(reports) {
  const flagged = new Map();
  for (const report of reports) {
    for (const t of report.traces) {
      flagged.set(t.case_id, (flagged.get(t.case_id) ?? false) || t.verdict === "block");
    }
  }
  const m = { tp: 0, fp: 0, fn: 0, tn: 0, misses: [] };
  for (const run of manifest) {
    const caseId = run.file.replace(/^runs\//, "");
    if (!flagged.has(caseId)) throw new Error(`no verdict for ${caseId}`);
    const predicted = flagged.get(caseId);
    if (predicted && run.expected_violation) m.tp++;
    else if (predicted) {
      m.fp++;
      m.misses.push(`false positive: ${caseId} (${run.category})`);
    } else if (run.expected_violation) {
      m.fn++;
      m.misses.push(`false negative: ${caseId} (${run.category})`);
    } else m.tn++;
  }
  m.precision = m.tp / (m.tp + m.fp);
  m.recall = m.tp / (m.tp + m.fn);
  return m;
}

// The suites' tools do not overlap, so a run is flagged when either suite's policy blocks it.
const generic = score([banking, slack]);
const baseline = score([naive]);
console.log("\nAgentDojo: verdict block vs manifest expected_violation (71 runs)");
console.log("                       caught  false alarms  missed  precision  recall");
for (const [name, m] of [
  ["example policies", generic],
  ["naive destination", baseline],
]) {
  console.log(
    `  ${name.padEnd(20)} ${String(m.tp).padStart(6)} ${String(m.fp).padStart(13)} ${String(m.fn).padStart(7)} ${m.precision.toFixed(3).padStart(10)} ${m.recall.toFixed(3).padStart(7)}`,
  );
}
for (const miss of generic.misses) console.log(`  example policies, ${miss}`);
const a = airline.summary.verdicts;
console.log(
  `\ntau-bench airline: ${airline.summary.traces} runs, ${a.require_approval} with a booking write lacking a "yes", ${a.block} with parallel calls.`,
);
console.log(`Artifacts: ${out}/*/report.json, decisions.jsonl, summary.md`);
