// Benchmark of `proof mcp proxy` (docs/boundary.md) against calling the same MCP server
// (@modelcontextprotocol/server-filesystem) directly, both with the MCP SDK's client over stdio,
// in the same run:
//   - latency: `tools/call` (read_text_file) one at a time, p50 and p95;
//   - throughput: one client keeping 8 calls in flight over a 5,000-call session of writes to new
//     paths (checked by the provenance rule) and reads of distinct files (results the guard
//     observes and indexes), in chunks of 100 calls alternating between the paths, so that both
//     see the same machine load, reported per 1,000-call window, so that a decline with the
//     session's length shows.
// Prints a markdown section; scripts/bench.mjs writes it into docs/performance.md.
//
//   node scripts/bench-mcp.mjs [--calls N] [--ledger-calls M]
//       N measured throughput calls per session (default 5000), M through a proxy with --ledger
//       (default 1000; 0 skips it)
//   PROOF_BENCH_CPU_PROF=DIR node scripts/bench-mcp.mjs   also write the proxy's CPU profile to DIR
import { mkdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { cpuMs, rssMiB } from "./bench-proc.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(name);
  return i === -1 ? fallback : Number(argv[i + 1]);
};
const out = join(root, "bench-out", "mcp");
rmSync(join(out, "files"), { recursive: true, force: true });
for (const f of ["ledger.jsonl", "ledger.jsonl.head"]) rmSync(join(out, f), { force: true });
mkdirSync(join(out, "files"), { recursive: true });
const files = realpathSync(join(out, "files"));
writeFileSync(join(files, "a.txt"), "benchmark\n");
// A policy with an argument rule and a provenance rule on every write, so the guard does work.
writeFileSync(
  join(out, "policy.yaml"),
  `schema: proof.policy/v1
policy_id: bench.mcp
defaults:
  verdict: allow
rules:
  - id: no_secret_read
    match:
      tool: [read_text_file]
      args:
        path: { contains: secret }
    effect: block
  - id: no_untrusted_destination
    match:
      tool: [write_file, move_file]
      provenance: { args: [path, destination], from: untrusted }
    effect: block
`,
);
const server = createRequire(import.meta.url).resolve(
  "@modelcontextprotocol/server-filesystem/dist/index.js",
);
const node = process.execPath;
const profDir = process.env.PROOF_BENCH_CPU_PROF ? resolve(process.env.PROOF_BENCH_CPU_PROF) : undefined;
const proxyArgs = [
  ...(profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []),
  join(root, "bin", "proof.js"),
  "mcp",
  "proxy",
  "--policy",
  "policy.yaml",
  "--",
  node,
  server,
  files,
];

async function connect(command, args) {
  const transport = new StdioClientTransport({ command, args, cwd: out, stderr: "ignore" });
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(transport);
  return { client, pid: transport.pid };
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

// --- Latency: one call at a time.
const WARMUP = 30;
const CALLS = 300;

/**
 * Times read_text_file calls one at a time on both paths, alternating call by call (and which
 * goes first), so that both see the same machine load. @returns milliseconds per path.
 */
async function latency(paths) {
  const clients = [];
  for (const [command, args] of paths) clients.push((await connect(command, args)).client);
  const times = clients.map(() => []);
  for (let i = 0; i < WARMUP + CALLS; i++) {
    for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const t0 = process.hrtime.bigint();
      await clients[k].callTool({ name: "read_text_file", arguments: { path: join(files, "a.txt") } });
      if (i >= WARMUP) times[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  for (const c of clients) await c.close();
  return times;
}

const [direct, proxied] = await latency([
  [node, [server, files]],
  [node, proxyArgs],
]);

// --- Throughput: 8 calls in flight over one long session per path.
const IN_FLIGHT = 8;
const TOTAL = flag("--calls", 5000);
const WINDOW = Math.max(1, Math.min(1000, Math.floor(TOTAL / 5)));
const WINDOWS = Math.ceil(TOTAL / WINDOW);
const T_WARMUP = 100;
const LEDGER_CALLS = flag("--ledger-calls", 1000);
/** The proxy keeping a hash-chained ledger of every decision and observed result. */
const ledgerArgs = [
  ...proxyArgs.slice(0, proxyArgs.indexOf("--")),
  "--ledger",
  "ledger.jsonl",
  ...proxyArgs.slice(proxyArgs.indexOf("--")),
];

/**
 * The n-th call of a session in `dir`: even calls write a new file (its path checked by the
 * provenance rule against every result so far), odd calls read a file of distinct content made
 * beforehand (a result the guard observes and indexes). Zero-padded names: no path is part of
 * another, so no write is refused and both paths do the same work.
 */
function nthCall(dir, n) {
  const name = String(n).padStart(6, "0");
  return n % 2 === 0
    ? { name: "write_file", arguments: { path: join(dir, `w${name}.txt`), content: `entry ${name}\n` } }
    : { name: "read_text_file", arguments: { path: join(dir, `r${name}.txt`) } };
}

/** Writes the files that calls [0, upto) of a session in `dir` read. */
function prepare(dir, upto) {
  mkdirSync(dir, { recursive: true });
  for (let n = 1; n < upto; n += 2) {
    const name = String(n).padStart(6, "0");
    writeFileSync(
      join(dir, `r${name}.txt`),
      `note ${name}: ticket T-${((n * 2654435761) >>> 0).toString(36)} assigned to desk ${n % 97}\n`,
    );
  }
}

/** Runs calls [from, to) of a session with IN_FLIGHT in flight; resolves with the seconds taken. */
async function run(session, from, to) {
  let next = from;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < to) {
      const n = next++;
      const result = await session.client.callTool(nthCall(session.dir, n));
      if (result.isError) session.refused++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function open(label, command, args, upto) {
  const dir = join(files, label);
  prepare(dir, upto);
  return { label, dir, refused: 0, seconds: [], cpu: [], ...(await connect(command, args)) };
}

/**
 * Runs calls [start, start + count) of each session (offset by its `base`), in chunks that
 * alternate between the sessions and which goes first, so that all see the same machine load
 * even when other work comes and goes. Adds each session's seconds and CPU time to `[w]`.
 */
async function alternate(sessions, start, count, chunk, w) {
  const cpu = sessions.map((s) => cpuMs(s.pid));
  for (const s of sessions) s.seconds[w] = 0;
  for (let from = start, c = 0; from < start + count; from += chunk, c++) {
    const to = Math.min(start + count, from + chunk);
    for (const s of c % 2 === 0 ? sessions : [...sessions].reverse())
      s.seconds[w] += await run(s, (s.base ?? 0) + from, (s.base ?? 0) + to);
  }
  sessions.forEach((s, i) => {
    const c1 = cpuMs(s.pid);
    s.cpu[w] = cpu[i] === undefined || c1 === undefined ? undefined : (c1 - cpu[i]) / count;
  });
}

const upto = T_WARMUP + TOTAL + LEDGER_CALLS;
const sessions = [
  await open("direct", node, [server, files], upto),
  await open("proxy", node, proxyArgs, upto),
];
for (const s of sessions) await run(s, 0, T_WARMUP);
const cpu0 = cpuMs(sessions[1].pid);
const CHUNK = Math.max(1, Math.floor(WINDOW / 10));
for (let w = 0; w < WINDOWS; w++)
  await alternate(sessions, T_WARMUP + w * WINDOW, Math.min(WINDOW, TOTAL - w * WINDOW), CHUNK, w);
const cpu1 = cpuMs(sessions[1].pid);
const proxyRss = rssMiB(sessions[1].pid);
await sessions[1].client.close();

// The same calls through a proxy that keeps a ledger, next to the direct session going on.
let ledger;
if (LEDGER_CALLS > 0) {
  const l = await open("ledger", node, ledgerArgs, upto);
  await run(l, 0, T_WARMUP);
  // The direct session goes on past the calls it made above, on its own counters.
  const d = { ...sessions[0], base: TOTAL, refused: 0, seconds: [], cpu: [] };
  await alternate([d, l], T_WARMUP, LEDGER_CALLS, Math.max(1, Math.floor(LEDGER_CALLS / 10)), 0);
  await l.client.close();
  ledger = {
    direct: LEDGER_CALLS / d.seconds[0],
    proxy: LEDGER_CALLS / l.seconds[0],
    cpu: l.cpu[0],
    refused: l.refused + d.refused,
  };
}
await sessions[0].client.close();

const [d, p] = sessions;
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const windowCalls = (w) => Math.min(WINDOW, TOTAL - w * WINDOW);
const rate = (s, w) => windowCalls(w) / s.seconds[w];
const dRate = TOTAL / sum(d.seconds);
const pRate = TOTAL / sum(p.seconds);
const ratio = pRate / dRate;
const ratios = d.seconds.map((_, w) => rate(p, w) / rate(d, w));
const fmt = (x) => Math.round(x).toLocaleString("en-US");
const ms = (x) => (x === undefined ? "n/a" : x.toFixed(3));
const row = (name, xs) => `| ${name} | ${pct(xs, 50).toFixed(3)} | ${pct(xs, 95).toFixed(3)} |`;
const added50 = pct(proxied, 50) - pct(direct, 50);
const added95 = pct(proxied, 95) - pct(direct, 95);
// A decline with the session's length shows in the proxy's CPU time per call, which the machine's
// other work moves far less than the rates of single windows.
const cpuFirst = p.cpu[0];
const cpuLast = p.cpu[p.cpu.length - 1];
const growth = cpuFirst && cpuLast !== undefined ? cpuLast / cpuFirst : undefined;
const met = ratio >= 0.8 && (growth === undefined || growth <= 1.25);
console.log(
  [
    "### MCP proxy overhead",
    "",
    `\`tools/call\` (read_text_file) over stdio with the MCP SDK client, ${CALLS} calls after ${WARMUP} warm-up calls,`,
    "directly to @modelcontextprotocol/server-filesystem and through `proof mcp proxy` (two rules), same run,",
    "alternating call by call between the paths.",
    "",
    "| path | p50 ms | p95 ms |",
    "|---|---|---|",
    row("direct", direct),
    row("through the proxy", proxied),
    `| added by the proxy | ${added50.toFixed(3)} | ${added95.toFixed(3)} |`,
    "",
    `Target: p95 added latency under 2 ms: ${added95 < 2 ? "**met**" : "**missed**"}. The guard keeps its state`,
    "between calls (src/guard/guard.ts): a check searches only the call's own argument values.",
    "",
    "### MCP proxy throughput",
    "",
    `One client with ${IN_FLIGHT} calls in flight, one session of ${TOTAL.toLocaleString("en-US")} calls per path after ${T_WARMUP} warm-up calls:`,
    "half `write_file` to a new path (the provenance rule searches it in every result so far), half",
    "`read_text_file` of a file of distinct content (a result the guard observes and indexes). Both sessions",
    `stay open; the calls run in chunks of ${CHUNK} alternating between the paths, same run. CPU time per call is`,
    "the server's (direct) and the proxy process's own, from /proc in 10 ms ticks.",
    "",
    "| calls | direct calls/s | through the proxy calls/s | ratio | server CPU ms/call | proxy CPU ms/call |",
    "|---|---:|---:|---:|---:|---:|",
    ...d.seconds.map(
      (_, w) =>
        `| ${(w * WINDOW + 1).toLocaleString("en-US")}-${(w * WINDOW + windowCalls(w)).toLocaleString("en-US")} | ${fmt(rate(d, w))} | ${fmt(rate(p, w))} | ${ratios[w].toFixed(2)} | ${ms(d.cpu[w])} | ${ms(p.cpu[w])} |`,
    ),
    `| all | ${fmt(dRate)} | ${fmt(pRate)} | **${ratio.toFixed(2)}** | | ${cpu0 === undefined || cpu1 === undefined ? "n/a" : ((cpu1 - cpu0) / TOTAL).toFixed(3)} |`,
    "",
    `Calls answered with an error: direct ${d.refused}, through the proxy ${p.refused}.` +
      (proxyRss
        ? ` Memory of the proxy process at the session's end: ${proxyRss.rss.toFixed(0)} MiB resident, peak ${proxyRss.peak.toFixed(0)} MiB.`
        : ""),
    ...(ledger
      ? [
          "",
          `With \`--ledger\` (a hash-chained record of every decision and observed result), ${LEDGER_CALLS.toLocaleString("en-US")} calls`,
          `after ${T_WARMUP} warm-up calls, alternating with the direct session going on: direct ${fmt(ledger.direct)} calls/s,`,
          `through the proxy ${fmt(ledger.proxy)} calls/s, ratio **${(ledger.proxy / ledger.direct).toFixed(2)}**; proxy CPU ${ms(ledger.cpu)} ms per call;`,
          `calls answered with an error: ${ledger.refused}.`,
        ]
      : []),
    "",
    `Target: at least 0.8 of direct over the ${TOTAL.toLocaleString("en-US")} calls, not declining with the session's length`,
    `(the proxy's CPU time per call in the last window is ${growth === undefined ? "n/a" : growth.toFixed(2)} of the first's; at most 1.25): ${met ? "**met**" : "**missed**"}.`,
    `Load average of the machine when the run ended: ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores (other work included).`,
  ].join("\n"),
);
