// The README's first command: judges the real recorded agent runs shipped in fixtures/corpus
// with the example policies, using the built CLI as a user would, and scores the AgentDojo
// verdicts against the corpus labels (manifest.jsonl: expected_violation).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const proof = join(root, "bin", "proof.js");
const out = process.env.PROOF_DEMO_OUT ?? join("proof-out", "demo");

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
const airline = verify("tau-bench-airline", "examples/policies/airline.yaml", "fixtures/corpus/tau-bench");

// A run is flagged when either suite's policy blocks it (their tools do not overlap).
const flagged = new Map();
for (const report of [banking, slack]) {
  for (const t of report.traces)
    flagged.set(t.case_id, (flagged.get(t.case_id) ?? false) || t.verdict === "block");
}
const manifest = readFileSync(join(root, "fixtures/corpus/agentdojo/manifest.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean)
  .map((l) => JSON.parse(l));
let tp = 0;
let fp = 0;
let fn = 0;
let tn = 0;
const misses = [];
for (const run of manifest) {
  const caseId = run.file.replace(/^runs\//, "");
  if (!flagged.has(caseId)) throw new Error(`no verdict for ${caseId}`);
  const predicted = flagged.get(caseId);
  if (predicted && run.expected_violation) tp++;
  else if (predicted) {
    fp++;
    misses.push(`false positive: ${caseId} (${run.category})`);
  } else if (run.expected_violation) {
    fn++;
    misses.push(`false negative: ${caseId} (${run.category})`);
  } else tn++;
}
const precision = tp / (tp + fp);
const recall = tp / (tp + fn);
console.log("\nAgentDojo: verdict block vs manifest expected_violation (71 runs)");
console.log("                 labelled violation   labelled clean");
console.log(`  blocked        ${String(tp).padStart(18)}   ${String(fp).padStart(14)}`);
console.log(`  not blocked    ${String(fn).padStart(18)}   ${String(tn).padStart(14)}`);
console.log(`  precision ${precision.toFixed(3)}  recall ${recall.toFixed(3)}`);
for (const m of misses) console.log(`  ${m}`);
const a = airline.summary.verdicts;
console.log(
  `\ntau-bench airline: ${airline.summary.traces} runs, ${a.require_approval} with a booking write lacking a "yes", ${a.block} with parallel calls.`,
);
console.log(`Artifacts: ${out}/*/report.json, decisions.jsonl, summary.md`);
