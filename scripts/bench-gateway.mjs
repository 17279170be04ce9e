// Benchmark of `proof mcp gateway` (docs/integrations/mcp-gateway.md): per-call latency of
// `tools/call` through the gateway against calling the same Streamable HTTP server
// (@modelcontextprotocol/server-everything) directly, and throughput with 8 concurrent sessions,
// both with the MCP SDK's Streamable HTTP client, in the same run. Prints a markdown section;
// scripts/bench.mjs writes it into docs/performance.md.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { cpuMs } from "./bench-proc.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "bench-out", "gateway");
mkdirSync(out, { recursive: true });
// An argument rule on the measured tool and a provenance rule (as in bench-mcp.mjs), so the guard
// judges every call and keeps every result as untrusted content.
writeFileSync(
  join(out, "policy.yaml"),
  `schema: proof.policy/v1
policy_id: bench.gateway
defaults:
  verdict: allow
rules:
  - id: no_secret_echo
    match:
      tool: [echo]
      args:
        message: { contains: secret }
    effect: block
  - id: no_untrusted_sum
    match:
      tool: [get-sum]
      provenance: { args: [a, b], from: untrusted }
    effect: block
`,
);
const everything = createRequire(import.meta.url).resolve(
  "@modelcontextprotocol/server-everything/dist/index.js",
);
const WARMUP = 30;
const CALLS = 300;
const SESSIONS = 8;
// The same argument on every call, as in the MCP proxy bench (bench-mcp.mjs reads one file over
// and over): the figure is the transport's and the decision's, not the growth of a session's
// untrusted values, which the guard's own cost depends on.
const MESSAGE = "hello";
const CALLS_PER_SESSION = 100;
const ROUNDS = 3;

const children = [];
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a process and resolves with the first match of `pattern` on the stream. */
function start(args, stream, pattern, env = process.env) {
  // The other stream is not read: ignored, so that a chatty server never blocks on a full pipe.
  const stdio = stream === "stdout" ? ["ignore", "pipe", "ignore"] : ["ignore", "ignore", "pipe"];
  const child = spawn(process.execPath, args, { cwd: out, env, stdio });
  children.push(child);
  return new Promise((resolve, reject) => {
    let text = "";
    child[stream].on("data", (d) => {
      text += d;
      const m = pattern.exec(text);
      if (m) resolve(m);
    });
    child.on("exit", (code) => reject(new Error(`exited with ${code}: ${text}`)));
  });
}

async function connect(url) {
  const client = new Client({ name: "bench", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport };
}

/**
 * Per-call latency of both paths, one session each, calls alternating between them: the two
 * see the same machine load, which on shared cores moves more than the gateway's cost.
 */
async function latency(urls) {
  const sessions = [];
  for (const url of urls) sessions.push(await connect(url));
  const times = urls.map(() => []);
  for (let i = 0; i < WARMUP + CALLS; i++) {
    for (const [k, { client }] of sessions.entries()) {
      const t0 = process.hrtime.bigint();
      await client.callTool({ name: "echo", arguments: { message: MESSAGE } });
      if (i >= WARMUP) times[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  for (const { client, transport } of sessions) {
    await transport.terminateSession();
    await client.close();
  }
  return times;
}

/** Calls per second with SESSIONS sessions calling at once, each CALLS_PER_SESSION calls. */
async function throughput(url) {
  const sessions = await Promise.all(Array.from({ length: SESSIONS }, () => connect(url)));
  for (const { client } of sessions) await client.callTool({ name: "echo", arguments: { message: "warm" } });
  const t0 = process.hrtime.bigint();
  await Promise.all(
    sessions.map(async ({ client }) => {
      for (let i = 0; i < CALLS_PER_SESSION; i++)
        await client.callTool({ name: "echo", arguments: { message: MESSAGE } });
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const { client, transport } of sessions) {
    await transport.terminateSession();
    await client.close();
  }
  return (SESSIONS * CALLS_PER_SESSION) / seconds;
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const port = await freePort();
await start([everything, "streamableHttp"], "stderr", /listening on port/, {
  ...process.env,
  PORT: String(port),
});
const direct = `http://127.0.0.1:${port}/mcp`;
const [, gateway] = await start(
  [
    join(root, "bin", "proof.js"),
    "mcp",
    "gateway",
    "--listen",
    "127.0.0.1:0",
    "--policy",
    "policy.yaml",
    "--profile",
    "dev",
    "--insecure-no-auth",
    "--upstream",
    direct,
  ],
  "stdout",
  /listening on (\S+)/,
);

const gatewayPid = children[1].pid;
const cpu0 = cpuMs(gatewayPid);
const [directTimes, gatewayTimes] = await latency([direct, gateway]);
const cpu1 = cpuMs(gatewayPid);
const cpuPerCall = cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) / (WARMUP + CALLS);
// Rounds alternating between the paths; the median of each, so a burst of other work on the
// machine does not decide the ratio.
const directRates = [];
const gatewayRates = [];
for (let round = 0; round < ROUNDS; round++) {
  directRates.push(await throughput(direct));
  gatewayRates.push(await throughput(gateway));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const directRate = median(directRates);
const gatewayRate = median(gatewayRates);

// The guard alone, in this process: the cost of one decision when every tool result is a new
// untrusted value, early in a session and late (mean over 50 calls each).
const { createGuard, loadPolicy } = await import(join(root, "dist", "index.js"));
writeFileSync(
  join(out, "provenance.yaml"),
  `schema: proof.policy/v1
policy_id: bench.gateway.provenance
defaults:
  verdict: allow
rules:
  - id: no_untrusted_message
    match:
      tool: [echo]
      provenance: { args: [message], from: untrusted }
    effect: block
`,
);
const guard = createGuard(await loadPolicy(join(out, "provenance.yaml")));
const perCall = [];
let t = process.hrtime.bigint();
for (let i = 1; i <= 1000; i++) {
  guard.check({ tool: "echo", args: { message: `call ${i}` }, call_id: String(i) });
  guard.observe({
    type: "tool_result",
    call_id: String(i),
    tool: "echo",
    content: `Echo: call ${i}`,
    error: null,
  });
  if (i % 50 === 0) {
    perCall[i] = Number(process.hrtime.bigint() - t) / 1e6 / 50;
    t = process.hrtime.bigint();
  }
}

const row = (name, xs) => `| ${name} | ${pct(xs, 50).toFixed(3)} | ${pct(xs, 95).toFixed(3)} |`;
const added50 = pct(gatewayTimes, 50) - pct(directTimes, 50);
const added95 = pct(gatewayTimes, 95) - pct(directTimes, 95);
const rate = (x) => Math.round(x).toLocaleString("en-US");
console.log(
  [
    "### MCP gateway overhead",
    "",
    `\`tools/call\` (echo, the same message every call) over Streamable HTTP with the MCP SDK client, ${CALLS} calls after ${WARMUP} warm-up calls`,
    "per path, alternating between the paths,",
    "directly to @modelcontextprotocol/server-everything (`streamableHttp`, answers as SSE) and through",
    "`proof mcp gateway --upstream` (two rules), same run, on loopback.",
    "",
    "| path | p50 ms | p95 ms |",
    "|---|---|---|",
    row("direct", directTimes),
    row("through the gateway", gatewayTimes),
    `| added by the gateway | ${added50.toFixed(3)} | ${added95.toFixed(3)} |`,
    "",
    cpuPerCall === undefined
      ? "The gateway's CPU time per call is read from /proc, which this system does not have."
      : `CPU time of the gateway process per call (user and system, from /proc, counted in 10 ms ticks): ${cpuPerCall.toFixed(2)} ms.`,
    "",
    `Throughput, ${SESSIONS} sessions calling at once (${CALLS_PER_SESSION} calls each; median of ${ROUNDS} rounds alternating between the paths): direct ${rate(directRate)} calls/s,`,
    `through the gateway ${rate(gatewayRate)} calls/s, ratio **${(gatewayRate / directRate).toFixed(2)}**`,
    `(rounds: direct ${directRates.map(rate).join(", ")}; through the gateway ${gatewayRates.map(rate).join(", ")}).`,
    "",
    `Target: p95 added latency under 2 ms: ${added95 < 2 ? "**met**" : "**missed**"}. The client, the gateway and the`,
    "server share the same cores, so the throughput ratio includes the gateway's CPU taken from the other two.",
    "The guard's own cost, with a new untrusted value per tool result and a provenance rule on `echo`:",
    `${perCall[100].toFixed(2)} ms per call at calls 51-100 and ${perCall[1000].toFixed(2)} ms at calls 951-1,000 of one session`,
    "(in process, same run; the guard indexes each result once as it is observed).",
    "",
    `Load average of the machine when the run ended: ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores (other work included).`,
  ].join("\n"),
);
process.exit(0);
