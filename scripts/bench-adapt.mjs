// Benchmark of `proof adapt` (docs/adapt.md): selection latency p50/p95/p99 for a generated
// 1,000-rule policy with realistic `when` predicates, in process; and the whole `proof adapt`
// process time against a bare `node -e 0` measured in the same run. Prints a markdown section;
// scripts/bench.mjs writes it into docs/performance.md.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "bench-out", "adapt");
mkdirSync(out, { recursive: true });
const { compilePolicy, compileIR, planRules, basicSelector, weightedSelector, digestOf } = await import(
  pathToFileURL(join(root, "dist", "index.js")).href
);

/** A small deterministic PRNG (mulberry32), so every run benchmarks the same policy. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENVIRONMENTS = ["prod", "staging", "dev"];
const REGIONS = ["EU", "EEA", "US", "APAC", "LATAM", "conflict_affected"];
const TOOLS = [
  "send_money",
  "create_purchase_order",
  "approve_supplier",
  "share_supplier_data",
  "post_message",
  "run_shell",
];
const DATA = ["pii", "financial", "health", "public"];

/** Predicates of the kinds real policies use: environment, enabled tools, data classes, regions, tiers. */
function predicate(r) {
  const pick = (list) => list[Math.floor(r() * list.length)];
  switch (Math.floor(r() * 7)) {
    case 0:
      return `context.environment == "${pick(ENVIRONMENTS)}"`;
    case 1:
      return `context.environment in ["${pick(ENVIRONMENTS)}", "${pick(ENVIRONMENTS)}"]`;
    case 2:
      return `"${pick(TOOLS)}" in context.tools_enabled`;
    case 3:
      return `context.data_classes.exists(c, c == "${pick(DATA)}")`;
    case 4:
      return `context.supplier.region in ["${pick(REGIONS)}", "${pick(REGIONS)}"] && context.supplier.tier <= ${1 + Math.floor(r() * 3)}`;
    case 5:
      return `has(context.flags.${pick(["strict", "beta", "audit"])}) && context.flags.${pick(["strict", "beta", "audit"])}`;
    default:
      return `context.company_employees >= ${pick([250, 1000, 3000])}`;
  }
}

function policyYaml(n, seed) {
  const r = rng(seed);
  const lines = ["schema: proof.policy/v1", "policy_id: bench.adapt.v1", "rules:"];
  for (let i = 0; i < n; i++) {
    const id = `rule_${String(i).padStart(4, "0")}`;
    lines.push(`  - id: ${id}`);
    if (r() < 0.85) lines.push(`    when: '${predicate(r)}'`);
    lines.push(`    match: { tool: ${TOOLS[i % TOOLS.length]}, args: { amount: { gt: ${i} } } }`);
    lines.push(`    effect: ${["warn", "require_approval", "block"][i % 3]}`);
    lines.push(`    cost: ${Math.floor(r() * 5)}`);
  }
  return `${lines.join("\n")}\n`;
}

function context(r) {
  const pick = (list) => list[Math.floor(r() * list.length)];
  const ctx = {
    environment: pick(ENVIRONMENTS),
    tools_enabled: TOOLS.filter(() => r() < 0.6),
    data_classes: DATA.filter(() => r() < 0.4),
    supplier: { region: pick(REGIONS), tier: 1 + Math.floor(r() * 3) },
    flags: r() < 0.5 ? { strict: true } : {},
  };
  if (r() < 0.9) ctx.company_employees = pick([50, 500, 5000]);
  return ctx;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const RULES = 1000;
const yaml = policyYaml(RULES, 42);
const policyFile = join(out, "policy.yaml");
writeFileSync(policyFile, yaml);
const ir = compilePolicy(yaml, "policy.yaml");
const irFile = join(out, "policy.ir.json");
writeFileSync(irFile, `${JSON.stringify(ir, null, 2)}\n`);
const distinct = new Set(ir.rules.filter((x) => x.when).map((x) => x.when)).size;
const policy = compileIR(ir);

// In process: selection and ordering only (what `adapt_selection_latency_seconds` measures).
const r = rng(7);
const contexts = Array.from({ length: 200 }, () => context(r));
const weights = Object.fromEntries(ir.rules.map((x, i) => [x.id, i % 7]));
for (let i = 0; i < 200; i++)
  planRules(policy, contexts[i % contexts.length], "sha256:warmup", basicSelector);
const samples = { basic: [], weighted: [] };
for (const [name, selector] of [
  ["basic", basicSelector],
  ["weighted", weightedSelector(weights)],
]) {
  for (let i = 0; i < 2000; i++) {
    const ctx = contexts[i % contexts.length];
    const t0 = process.hrtime.bigint();
    planRules(policy, ctx, digestOf(ctx), selector);
    samples[name].push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples[name].sort((a, b) => a - b);
}

// The floor: the CEL library alone evaluating each distinct \`when\` once per context, planned
// beforehand, with the bindings adapt gives it (\`context\`): what any selection has to pay.
const { celEnv, parse, plan } = await import("@bufbuild/cel");
const env = celEnv({});
const programs = [...new Set(ir.rules.filter((x) => x.when).map((x) => x.when))].map((w) =>
  plan(env, parse(w)),
);
for (let i = 0; i < 200; i++) for (const p of programs) p({ context: contexts[i % contexts.length] });
samples.floor = [];
for (let i = 0; i < 2000; i++) {
  const bindings = { context: contexts[i % contexts.length] };
  const t0 = process.hrtime.bigint();
  for (const p of programs) p(bindings);
  samples.floor.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
samples.floor.sort((a, b) => a - b);

// Whole processes: proof adapt on the IR and on the YAML, against node -e 0.
const ctxFile = join(out, "context.json");
writeFileSync(ctxFile, `${JSON.stringify(contexts[0])}\n`);
function timeProcess(args, runs = 15) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const p = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "ignore"] });
    if (p.status !== 0) throw new Error(`${args.join(" ")} exited ${p.status}`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
const bin = join(root, "bin", "proof.js");
const bare = timeProcess(["-e", "0"]);
const adaptIr = timeProcess([
  bin,
  "adapt",
  "--policy",
  irFile,
  "--context",
  ctxFile,
  "--dry-run",
  "-o",
  join(out, "plan.json"),
]);
const adaptYaml = timeProcess([
  bin,
  "adapt",
  "--policy",
  policyFile,
  "--context",
  ctxFile,
  "--dry-run",
  "-o",
  join(out, "plan.json"),
]);

const f = (ms) => `${ms < 1 ? (ms * 1000).toFixed(0) : ms.toFixed(2)} ${ms < 1 ? "µs" : "ms"}`;
const floor95 = percentile(samples.floor, 95);
const rows = ["basic", "weighted", "floor"].map(
  (name) =>
    `| ${name === "floor" ? "floor: each distinct `when` once, CEL library alone" : name} | ${f(percentile(samples[name], 50))} | ${f(percentile(samples[name], 95))} | ${f(percentile(samples[name], 99))} | ${(percentile(samples[name], 95) / floor95).toFixed(2)} |`,
);
const section = `### proof adapt: ${RULES} rules, ${distinct} distinct \`when\` predicates

Selection and ordering in process (2,000 plans over 200 generated contexts, after warm-up):

| selector | p50 | p95 | p99 | p95 / floor |
|---|---:|---:|---:|---:|
${rows.join("\n")}

Whole process, median of 15 runs: \`proof adapt\` on the IR ${f(adaptIr)}, on the YAML ${f(adaptYaml)};
bare \`node -e 0\` ${f(bare)}. Ratio to a bare node start: ${(adaptIr / bare).toFixed(2)} (IR),
${(adaptYaml / bare).toFixed(2)} (YAML).
`;
process.stdout.write(section);
