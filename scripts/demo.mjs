// The README's first command: scores the example policies on the real recorded agent runs shipped
// in fixtures/corpus with `proof eval`, using the built CLI as a user would (AgentDojo: verdicts
// against the corpus labels, manifest.jsonl), then judges the tau-bench airline runs with
// `proof verify`.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const proof = join(root, "bin", "proof.js");
const out = process.env.PROOF_DEMO_OUT ?? "demo-out";

/** Runs proof, echoing the command; 0 and 5 are the gate's answers, anything else ends the demo. */
function run(args, { show = true } = {}) {
  if (show) console.log(`\n$ proof ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [proof, ...args], { cwd: root, stdio: "inherit" });
  if (r.status !== 0 && r.status !== 5) process.exit(r.status ?? 1);
}

const read = (dir, file) => JSON.parse(readFileSync(resolve(root, out, dir, file), "utf8"));
const corpus = [
  "--traces",
  "fixtures/corpus/agentdojo/runs",
  "--labels",
  "fixtures/corpus/agentdojo/manifest.jsonl",
];

const suites = ["banking", "slack", "travel", "workspace"];
run([
  "eval",
  ...suites.flatMap((s) => ["--policy", `examples/policies/agentdojo-${s}.yaml`]),
  ...corpus,
  "--group-by",
  "suite",
  "--out",
  join(out, "agentdojo"),
]);
// The contrast: one rule that blocks any destination-like argument seen in tool output.
run(
  [
    "eval",
    "--quiet",
    "--policy",
    "fixtures/eval/naive-destination.yaml",
    ...corpus,
    "--out",
    join(out, "agentdojo-naive"),
  ],
  {
    show: false,
  },
);
const line = (name, o) =>
  `  ${name.padEnd(24)} precision ${o.precision.toFixed(3)}  recall ${o.recall.toFixed(3)}  false alarms ${String(o.fp).padStart(2)}  missed ${o.fn}`;
console.log("\nAgainst a naive check (fixtures/eval/naive-destination.yaml) on the same 136 runs:");
console.log(line("example policies", read("agentdojo", "eval.json").overall));
console.log(line("naive destination check", read("agentdojo-naive", "eval.json").overall));

run([
  "verify",
  "--quiet",
  "--policy",
  "examples/policies/airline.yaml",
  "--traces",
  "fixtures/corpus/tau-bench",
  "--out",
  join(out, "tau-bench-airline"),
]);
const a = read("tau-bench-airline", "report.json").summary;
console.log(
  `\ntau-bench airline: ${a.traces} runs, ${a.verdicts.require_approval} with a booking write lacking a "yes", ${a.verdicts.block} with parallel calls.`,
);
console.log(
  `Artifacts: ${out}/agentdojo*/eval.json, eval.md; ${out}/tau-bench-airline/report.json, summary.md`,
);
