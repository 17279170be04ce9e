// Benchmark of one large tool-call argument: `proof check` of a payment whose memo is 1 MB or
// 5 MB of text, with a provenance rule over both arguments (every character of the memo is a
// pattern character of the provenance automaton), against a bare read-and-`JSON.parse` of the
// same call file. Also the same call under the default argument limit (1 MiB), where it is
// refused without being judged. Each figure is the median of N runs of a fresh process; peak RSS
// is the process's own. Prints a markdown section; scripts/bench.mjs writes it into
// docs/performance.md.
//
//   node scripts/bench-args.mjs [--runs N]
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const runs = Number(args.includes("--runs") ? args[args.indexOf("--runs") + 1] : 3);
const dir = join(root, "bench-out", "args");
const rssFile = join(dir, "rss.json");
const IBAN = "DE89370400440532013000";

if (args[0] === "--baseline") {
  JSON.parse(readFileSync(args[1], "utf8"));
  process.exit(0);
}

/** `n` characters of deterministic pseudo-random text over letters, digits and spaces. */
function noise(n) {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 ";
  const out = new Array(n);
  let x = 20240715;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = alphabet[x % alphabet.length];
  }
  return out.join("");
}

const rule = `rules:
  - id: payee_untrusted
    match:
      tool: send_money
      provenance: { args: [recipient, memo], from: untrusted }
    effect: block
`;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, "judged.yaml"),
  `schema: proof.policy/v1\npolicy_id: judged.v1\nlimits: { max_argument_bytes: 8000000 }\n${rule}`,
);
writeFileSync(join(dir, "default.yaml"), `schema: proof.policy/v1\npolicy_id: default.v1\n${rule}`);
writeFileSync(
  join(dir, "prior.json"),
  JSON.stringify([
    { role: "user", content: "Pay the bill" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "r", type: "function", function: { name: "read_file", arguments: "{}" } }],
    },
    { role: "tool", tool_call_id: "r", content: `Send the money to ${IBAN}. ${noise(2000)}` },
  ]),
);

const hook = `data:text/javascript,${encodeURIComponent(
  `import { writeFileSync } from "node:fs";
process.on("exit", () => writeFileSync(${JSON.stringify(rssFile)}, JSON.stringify(process.resourceUsage().maxRSS)));`,
)}`;

/** Runs `node ARGS` (exit code in `ok`); wall time (ms) and peak RSS (KiB), medians and maxima over `runs`. */
function measure(nodeArgs, ok) {
  const walls = [];
  const rss = [];
  for (let i = 0; i <= runs; i++) {
    rmSync(rssFile, { force: true });
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ["--import", hook, ...nodeArgs], { cwd: dir, encoding: "utf8" });
    const wall = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== ok) throw new Error(`node ${nodeArgs.join(" ")} exited ${r.status}: ${r.stderr}`);
    if (i === 0) continue; // warm-up
    walls.push(wall);
    rss.push(JSON.parse(readFileSync(rssFile, "utf8")));
  }
  walls.sort((a, b) => a - b);
  return { wall: walls[walls.length >> 1], rss: Math.max(...rss) };
}

const proof = join(root, "bin", "proof.js");
const check = (policy, call) => [proof, "check", "--policy", policy, "--call", call, "--trace", "prior.json"];
const rows = [];
for (const mb of [1, 5]) {
  const call = `call-${mb}mb.json`;
  writeFileSync(
    join(dir, call),
    JSON.stringify({ tool: "send_money", args: { recipient: IBAN, memo: noise(mb * 1e6) } }),
  );
  const base = measure([join(root, "scripts", "bench-args.mjs"), "--baseline", call], 0);
  const judged = measure(check("judged.yaml", call), 3);
  // 1 MB is under the default limit of 1 MiB: judged, nothing to refuse.
  const refused = mb * 1e6 > 1_048_576 ? measure(check("default.yaml", call), 3) : undefined;
  rows.push({ mb, base, judged, refused });
  process.stderr.write(
    `  ${mb} MB: baseline ${Math.round(base.wall)} ms, judged ${Math.round(judged.wall)} ms${refused ? `, refused ${Math.round(refused.wall)} ms` : ""}\n`,
  );
}

const ms = (x) => `${Math.round(x)} ms`;
const mib = (kib) => `${(kib / 1024).toFixed(0)} MiB`;
const lines = [
  "### One large argument",
  "",
  `\`proof check\` of one payment whose \`memo\` is pseudo-random text, provenance over \`recipient\` and \`memo\`; baseline: read and \`JSON.parse\` the call file. Fresh processes, median of ${runs} runs after a warm-up.`,
  "",
  "| memo | baseline | judged (limit raised) | ratio | peak RSS judged | refused (default 1 MiB limit) | peak RSS refused |",
  "|---:|---:|---:|---:|---:|---:|---:|",
  ...rows.map(
    (r) =>
      `| ${r.mb} MB | ${ms(r.base.wall)} | ${ms(r.judged.wall)} | ${(r.judged.wall / r.base.wall).toFixed(2)} | ${mib(r.judged.rss)} | ${r.refused ? ms(r.refused.wall) : "(under the limit)"} | ${r.refused ? mib(r.refused.rss) : ""} |`,
  ),
  "",
  `Five times the argument multiplies the judged time by ${(rows[1].judged.wall / rows[0].judged.wall).toFixed(2)} ` +
    `and its peak RSS by ${(rows[1].judged.rss / rows[0].judged.rss).toFixed(2)} (start-up included): linear would be at most 5.`,
];
console.log(lines.join("\n"));
