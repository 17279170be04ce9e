// Benchmark of the importers (issue 6): importing the whole real AgentDojo and tau-bench corpus
// in fixtures/corpus, in events per second, as a ratio to a bare `JSON.parse` of the same bytes.
// Both run in this one process over the same texts already in memory, alternating, so neither
// file reading nor Node's start-up is in either figure: the ratio is the cost of import itself
// (format detection, canonical events, trace ids) over parsing. Prints a markdown section;
// scripts/bench.mjs writes it into docs/performance.md.
//
//   node scripts/bench-import.mjs [--runs N]
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const runs = Number(args.includes("--runs") ? args[args.indexOf("--runs") + 1] : 15);
const { readTraces } = await import(pathToFileURL(join(root, "dist", "index.js")).href);

/** Every `.json` file under a directory, sorted, as verify lists them. */
function listJson(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listJson(p));
    else if (e.name.endsWith(".json")) out.push(p);
  }
  return out;
}

const corpus = join(root, "fixtures", "corpus");
const files = [...listJson(join(corpus, "agentdojo")), ...listJson(join(corpus, "tau-bench"))].map((p) => ({
  path: relative(root, p),
  text: readFileSync(p, "utf8"),
}));
const bytes = files.reduce((n, f) => n + Buffer.byteLength(f.text), 0);

/** A trace source over a text in memory (the file system is not what is measured). */
const source = (f) => ({
  path: f.path,
  rel: f.path,
  text: async () => f.text,
  lines: async function* () {
    yield* f.text.split("\n").map((text, i) => ({ text, line: i + 1 }));
  },
});

function parseAll() {
  let n = 0;
  for (const f of files) n += JSON.parse(f.text) === null ? 0 : 1;
  return n;
}

async function importAll() {
  let traces = 0;
  let events = 0;
  for (const f of files) {
    for await (const t of readTraces(source(f), "auto")) {
      traces++;
      events += t.events.length;
    }
  }
  return { traces, events };
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// One unmeasured round of each warms the JIT; then they alternate.
parseAll();
const counts = await importAll();
const parse = [];
const imp = [];
for (let i = 0; i < runs; i++) {
  let t = now();
  parseAll();
  parse.push(now() - t);
  t = now();
  await importAll();
  imp.push(now() - t);
}
const p = median(parse);
const m = median(imp);
const rate = (ms) => Math.round(counts.events / (ms / 1000)).toLocaleString("en-US");
const ms = (x) => `${x.toFixed(1)} ms`;
process.stdout.write(`### proof import: the real AgentDojo and tau-bench corpus

${files.length} files in \`fixtures/corpus\` (${(bytes / 1e6).toFixed(1)} MB), ${counts.traces} traces, ${counts.events.toLocaleString("en-US")} canonical events, in process with the texts in memory (median of ${runs} runs after one warm-up):

| | time | events/s |
|---|---:|---:|
| bare \`JSON.parse\` of the same texts | ${ms(p)} | ${rate(p)} |
| import (\`readTraces\`, detection, canonical events, trace ids) | ${ms(m)} | ${rate(m)} |
| **ratio** | **${(m / p).toFixed(2)}** | |
`);
