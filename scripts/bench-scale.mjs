// Start-up and worker threads, run by `npm run bench` (scripts/bench.mjs), which appends its
// Markdown to docs/performance.md:
//
// - start-up: `proof --version` and `proof check` of one call against a bare `node -e 0`, fresh
//   processes alternating, median of N runs after a warm-up round;
// - threads: `proof verify --jobs 1` and with the default (every core) over the bench corpus,
//   against the bench's baseline (read and `JSON.parse` every file), alternating, median; and one
//   shard of two (`--shard 1/2`), what each runner of a two-runner CI pays.
//
//   node scripts/bench-scale.mjs [--corpus DIR] [--runs N] [--start-runs N]
//
// Without --corpus only start-up is measured. Speed is never asserted: the figures are ratios.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const corpus = flag("--corpus", undefined);
const runs = Number(flag("--runs", 3));
const startRuns = Number(flag("--start-runs", 21));
const proof = join(root, "bin", "proof.js");
const out = join(root, "bench-out", "scale");
const log = (s) => process.stderr.write(`${s}\n`);

/** Runs `node ARGS` once in the repository; returns its wall time in ms. */
function wall(nodeArgs, okCodes = [0]) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, nodeArgs, { cwd: root, encoding: "utf8", maxBuffer: 1 << 26 });
  const t = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error || !okCodes.includes(r.status ?? -1)) {
    throw new Error(`node ${nodeArgs.join(" ")} exited ${r.status}: ${r.error ?? r.stderr}`);
  }
  return t;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Runs every command of `cases` in turn, `n` rounds after one unmeasured; medians by name. */
function alternate(cases, n) {
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let i = 0; i <= n; i++) {
    for (const [name, [nodeArgs, ok]] of Object.entries(cases)) {
      const t = wall(nodeArgs, ok);
      if (i > 0) times[name].push(t);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

const ms = (x) => `${Math.round(x)} ms`;
const lines = [];

// 1. Start-up.
mkdirSync(out, { recursive: true });
const call = join(out, "call.json");
writeFileSync(
  call,
  `${JSON.stringify({ tool: "send_money", args: { recipient: "DE89370400440532013000", amount: 10 } })}\n`,
);
const start = alternate(
  {
    node: [["-e", "0"]],
    version: [[proof, "--version"]],
    check: [[proof, "check", "--policy", "examples/policies/agentdojo-banking.yaml", "--call", call]],
  },
  startRuns,
);
const versionRatio = start.version / start.node;
const checkRatio = start.check / start.node;
log(`start-up: node ${ms(start.node)}, --version ${ms(start.version)}, check ${ms(start.check)}`);
const met = (ratio, target) => (ratio <= target ? "met" : "**not met**");
lines.push(
  "### Start-up",
  "",
  `Fresh processes, alternating, median of ${startRuns} runs after one unmeasured round. \`proof check\` decides one`,
  "`send_money` call against `examples/policies/agentdojo-banking.yaml` (compiled from its YAML).",
  "Each command's module is imported only when that command runs (src/cli/main.ts), the schema",
  "validators are compiled at build time, one module per schema (scripts/gen-validators.mjs),",
  "CEL is loaded only for a policy that has CEL (src/expr/cel.ts); this policy has none, the `yaml`",
  "library only when js-yaml cannot be relied on or an error is located (src/policy/yaml-library.ts),",
  "and small chunks of the bundle are merged into chunks loaded with them (scripts/merge-chunks.mjs).",
  "",
  "| command | wall time | ratio to `node -e 0` | target |",
  "|---|---:|---:|---|",
  `| \`node -e 0\` | ${ms(start.node)} | 1.00 | |`,
  `| \`proof --version\` | ${ms(start.version)} | **${versionRatio.toFixed(2)}** | at most 1.5: ${met(versionRatio, 1.5)} |`,
  `| \`proof check\` (one call) | ${ms(start.check)} | **${checkRatio.toFixed(2)}** | at most 2: ${met(checkRatio, 2)} |`,
);

// 2. Worker threads and shards over the bench corpus.
if (corpus) {
  const policy = join(root, "bench-out", "policies");
  const verify = (name, ...more) => [
    [proof, "verify", "--policy", policy, "--traces", corpus, "--out", join(out, name), "--quiet", ...more],
    [0, 5],
  ];
  const jobs = os.availableParallelism();
  // The other half, written once: the merge of both halves is measured with the rest.
  wall(verify("shard-2-of-2", "--jobs", "1", "--shard", "2/2")[0], [0]);
  const t = alternate(
    {
      baseline: [[join(root, "scripts", "bench.mjs"), "--baseline", corpus]],
      one: verify("jobs-1", "--jobs", "1"),
      all: verify("jobs-default"),
      shard: verify("shard-1-of-2", "--jobs", "1", "--shard", "1/2"),
      merge: [
        [
          proof,
          "merge",
          join(out, "shard-1-of-2"),
          join(out, "shard-2-of-2"),
          "--out",
          join(out, "merged"),
          "--quiet",
        ],
        [0, 5],
      ],
    },
    runs,
  );
  // The same bytes whatever the threads (test/e2e/shard.test.ts asserts it on the demo corpus).
  for (const other of ["jobs-default", "merged"]) {
    if (spawnSync("diff", ["-r", join(out, "jobs-1"), join(out, other)]).status !== 0)
      throw new Error(`--jobs 1 and ${other} wrote different artifacts`);
  }
  log(
    `threads: baseline ${ms(t.baseline)}, --jobs 1 ${ms(t.one)}, default (${jobs}) ${ms(t.all)}, shard 1/2 ${ms(t.shard)}, merge ${ms(t.merge)}`,
  );
  lines.push(
    "",
    "### Worker threads and shards",
    "",
    `\`proof verify\` over the corpus above with \`--jobs 1\`, with the default (${jobs} threads: the cores`,
    "available), and one shard of two (`--shard 1/2 --jobs 1`, what each runner of a two-runner CI",
    "pays before `proof merge`), and the merge of both halves, against the same baseline; alternating,",
    `median of ${runs} runs. The out dirs of \`--jobs 1\`, the default and the merge are compared byte`,
    "for byte in the same run. A shard writes no report and no public artifacts (SARIF with its",
    "regions is the largest part of them): the merge does.",
    "",
    "| run | wall time | ratio to the baseline | speed-up over `--jobs 1` |",
    "|---|---:|---:|---:|",
    `| baseline: read + \`JSON.parse\` | ${ms(t.baseline)} | 1.00 | |`,
    `| \`--jobs 1\` | ${ms(t.one)} | ${(t.one / t.baseline).toFixed(2)} | 1.00 |`,
    `| default (\`--jobs ${jobs}\`) | ${ms(t.all)} | ${(t.all / t.baseline).toFixed(2)} | **${(t.one / t.all).toFixed(2)}** |`,
    `| \`--shard 1/2 --jobs 1\` | ${ms(t.shard)} | ${(t.shard / t.baseline).toFixed(2)} | ${(t.one / t.shard).toFixed(2)} |`,
    `| \`proof merge\` of the two halves | ${ms(t.merge)} | ${(t.merge / t.baseline).toFixed(2)} | |`,
  );
}
rmSync(out, { recursive: true, force: true });
process.stdout.write(`${lines.join("\n")}\n`);
