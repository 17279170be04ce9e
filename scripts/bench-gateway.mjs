// Benchmark of `proof mcp gateway` (docs/integrations/mcp-gateway.md): per-call latency of
// `tools/call` through the gateway against calling the same Streamable HTTP server
// (@modelcontextprotocol/server-everything) directly, and throughput with 8 concurrent sessions,
// both with the MCP SDK's Streamable HTTP client, in the same run. Prints a markdown section;
// scripts/bench.mjs writes it into docs/performance.md.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "bench-out", "gateway");
mkdirSync(out, { recursive: true });
// An argument rule and a provenance rule on the measured tool, so the guard does work per call.
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
  - id: no_untrusted_message
    match:
      tool: [echo]
      provenance: { args: [message], from: untrusted }
    effect: block
`,
);
const everything = createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/dist/index.js");
const WARMUP = 30;
const CALLS = 300;
const SESSIONS = 8;
const CALLS_PER_SESSION = 150;

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

async function latency(url) {
  const { client, transport } = await connect(url);
  const times = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const t0 = process.hrtime.bigint();
    await client.callTool({ name: "echo", arguments: { message: `call ${i}` } });
    if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await transport.terminateSession();
  await client.close();
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
        await client.callTool({ name: "echo", arguments: { message: `call ${i}` } });
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
await start([everything, "streamableHttp"], "stderr", /listening on port/, { ...process.env, PORT: String(port) });
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

// Interleaved, so that both paths see the same machine load.
const directTimes = await latency(direct);
const gatewayTimes = await latency(gateway);
const directRate = await throughput(direct);
const gatewayRate = await throughput(gateway);

const row = (name, xs) => `| ${name} | ${pct(xs, 50).toFixed(3)} | ${pct(xs, 95).toFixed(3)} |`;
const added50 = pct(gatewayTimes, 50) - pct(directTimes, 50);
const added95 = pct(gatewayTimes, 95) - pct(directTimes, 95);
const rate = (x) => Math.round(x).toLocaleString("en-US");
console.log(
  [
    "### MCP gateway overhead",
    "",
    `\`tools/call\` (echo) over Streamable HTTP with the MCP SDK client, ${CALLS} calls after ${WARMUP} warm-up calls,`,
    "directly to @modelcontextprotocol/server-everything (`streamableHttp`, answers as SSE) and through",
    "`proof mcp gateway --upstream` (two rules), same run, on loopback.",
    "",
    "| path | p50 ms | p95 ms |",
    "|---|---|---|",
    row("direct", directTimes),
    row("through the gateway", gatewayTimes),
    `| added by the gateway | ${added50.toFixed(3)} | ${added95.toFixed(3)} |`,
    "",
    `Throughput, ${SESSIONS} sessions calling at once (${CALLS_PER_SESSION} calls each): direct ${rate(directRate)} calls/s,`,
    `through the gateway ${rate(gatewayRate)} calls/s, ratio **${(gatewayRate / directRate).toFixed(2)}**.`,
    "",
    `Target: p95 added latency under 2 ms: ${added95 < 2 ? "**met**" : "**missed**"}. The client, the gateway and the`,
    "server share the same cores, so the throughput ratio includes the gateway's CPU taken from the other two.",
  ].join("\n"),
);
process.exit(0);
