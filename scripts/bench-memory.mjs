// Memory of `proof verify` as the corpus grows, run by `npm run bench` (scripts/bench.mjs), which
// appends its Markdown to docs/performance.md: the bench corpus (scripts/gen-corpus.mjs, same
// seed) generated at about 100 MB and at about 1 GB, and the peak resident set of one
// `proof verify --jobs 1` process over each, then with the default thread count. The figure is the
// ratio of the two peaks: memory should follow the largest trace, not the corpus (target: at most
// 1.5). Wall times are shown for context only.
//
//   node scripts/bench-memory.mjs [--small-mb N] [--large-mb N] [--no-default-jobs]
//
// The corpora (about 1.1 GB on disk with the default sizes) are written under bench-out/memory
// and removed at the end. A smaller `--large-mb` makes a quick run; the table names the sizes.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULTS, generateCorpus } from "./gen-corpus.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const smallMb = Number(flag("--small-mb", 100));
const largeMb = Number(flag("--large-mb", 1000));
const defaultJobs = !args.includes("--no-default-jobs");
const proof = join(root, "bin", "proof.js");
const out = join(root, "bench-out", "memory");
const rssFile = join(out, "rss.json");
const log = (s) => process.stderr.write(`${s}\n`);
const POLICIES = ["agentdojo-banking.yaml", "agentdojo-slack.yaml", "airline.yaml"];

// Loaded into the measured process: on exit it records that process's own peak resident set
// (worker threads included: they live in the same process), as scripts/bench.mjs does.
const hook = `data:text/javascript,${encodeURIComponent(
  `import { writeFileSync } from "node:fs";
process.on("exit", () => {
  writeFileSync(${JSON.stringify(rssFile)}, JSON.stringify({ maxRSS: process.resourceUsage().maxRSS }));
});`,
)}`;

/** One `proof verify` over `corpus`; returns its peak RSS (KiB) and wall time (ms). */
function verify(corpus, name, more) {
  rmSync(rssFile, { force: true });
  const policy = join(out, "policies");
  const start = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      hook,
      proof,
      "verify",
      "--policy",
      policy,
      "--traces",
      corpus,
      "--out",
      join(out, name),
      "--quiet",
      ...more,
    ],
    { cwd: root, encoding: "utf8" },
  );
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error || ![0, 5].includes(r.status ?? -1)) {
    throw new Error(`proof verify over ${corpus} exited ${r.status}: ${r.error ?? r.stderr}`);
  }
  const { maxRSS } = JSON.parse(readFileSync(rssFile, "utf8"));
  rmSync(join(out, name), { recursive: true, force: true });
  return { rss: maxRSS, wall };
}

const mib = (kib) => `${Math.round(kib / 1024)} MiB`;
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
const size = (megabytes) => (megabytes >= 1000 ? `${megabytes / 1000} GB` : `${megabytes} MB`);
const mb = (bytes) => `${Math.round(bytes / 1e6).toLocaleString("en-US")} MB`;

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "policies"), { recursive: true });
for (const f of POLICIES) copyFileSync(join(root, "examples", "policies", f), join(out, "policies", f));

const rows = [];
try {
  // The scale giving `smallMb` is found from one generation at scale 1: the generator's size is
  // proportional to its scale.
  const unit = generateCorpus({ seed: DEFAULTS.seed, scale: 1, out: join(out, "unit") }).bytes;
  rmSync(join(out, "unit"), { recursive: true, force: true });
  for (const [label, target] of [
    ["small", smallMb],
    ["large", largeMb],
  ]) {
    const dir = join(out, label);
    const manifest = generateCorpus({ seed: DEFAULTS.seed, scale: (target * 1e6) / unit, out: dir });
    log(`memory: ${label} corpus ${mb(manifest.bytes)}, ${manifest.files} files, ${manifest.traces} traces`);
    const corpus = join(dir, "corpus");
    const one = verify(corpus, `${label}-jobs-1`, ["--jobs", "1"]);
    log(`  --jobs 1: peak RSS ${mib(one.rss)}, ${s(one.wall)}`);
    const all = defaultJobs ? verify(corpus, `${label}-jobs-default`, []) : undefined;
    if (all) log(`  default jobs: peak RSS ${mib(all.rss)}, ${s(all.wall)}`);
    rows.push({ manifest, one, all });
    // Only one corpus on disk at a time.
    rmSync(dir, { recursive: true, force: true });
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

const [small, large] = rows;
const ratio = large.one.rss / small.one.rss;
const ratioAll = large.all && small.all ? large.all.rss / small.all.rss : undefined;
const met = (r) => (r <= 1.5 ? "met" : "**not met**");
log(`memory: ${mb(large.manifest.bytes)} / ${mb(small.manifest.bytes)} peak RSS ratio ${ratio.toFixed(2)}`);
const lines = [
  "### Memory as the corpus grows",
  "",
  `The bench corpus generated at about ${size(smallMb)} and at about ${size(largeMb)} (same seed, every count`,
  "scaled), and one `proof verify` process over each: its peak resident set (worker threads",
  "included), one run each. Memory should follow the largest trace, not the corpus: the figure is",
  `the ratio of the two peaks, target at most 1.5 (${met(ratio)} with \`--jobs 1\`${
    ratioAll === undefined ? "" : `, ${met(ratioAll)} with the default`
  }). Wall`,
  "times for context.",
  "",
  `| corpus | files | traces | \`--jobs 1\` peak RSS | wall |${defaultJobs ? ` default (\`--jobs ${os.availableParallelism()}\`) peak RSS | wall |` : ""}`,
  `|---|---:|---:|---:|---:|${defaultJobs ? "---:|---:|" : ""}`,
  ...rows.map(
    ({ manifest: m, one, all }) =>
      `| ${mb(m.bytes)} | ${m.files.toLocaleString("en-US")} | ${m.traces.toLocaleString("en-US")} | ${mib(one.rss)} | ${s(one.wall)} |${
        all ? ` ${mib(all.rss)} | ${s(all.wall)} |` : ""
      }`,
  ),
  `| **ratio** | | | **${ratio.toFixed(2)}** | |${ratioAll === undefined ? "" : ` **${ratioAll.toFixed(2)}** | |`}`,
];
process.stdout.write(`${lines.join("\n")}\n`);
