// Benchmark of `proof mcp proxy` (docs/boundary.md): per-call latency of `tools/call` through the
// proxy against calling the same MCP server (@modelcontextprotocol/server-filesystem) directly,
// both with the MCP SDK's client over stdio, in the same run. Prints a markdown section;
// scripts/bench.mjs writes it into docs/performance.md.
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "bench-out", "mcp");
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
const WARMUP = 30;
const CALLS = 300;

async function measure(command, args) {
  const transport = new StdioClientTransport({ command, args, cwd: out, stderr: "ignore" });
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(transport);
  const times = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const t0 = process.hrtime.bigint();
    await client.callTool({ name: "read_text_file", arguments: { path: join(files, "a.txt") } });
    if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await client.close();
  return times;
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const node = process.execPath;
const direct = await measure(node, [server, files]);
const proxied = await measure(node, [
  join(root, "bin", "proof.js"),
  "mcp",
  "proxy",
  "--policy",
  "policy.yaml",
  "--",
  node,
  server,
  files,
]);
const row = (name, xs) => `| ${name} | ${pct(xs, 50).toFixed(3)} | ${pct(xs, 95).toFixed(3)} |`;
const added50 = pct(proxied, 50) - pct(direct, 50);
const added95 = pct(proxied, 95) - pct(direct, 95);
console.log(
  [
    "### MCP proxy overhead",
    "",
    `\`tools/call\` (read_text_file) over stdio with the MCP SDK client, ${CALLS} calls after ${WARMUP} warm-up calls,`,
    "directly to @modelcontextprotocol/server-filesystem and through `proof mcp proxy` (two rules), same run.",
    "",
    "| path | p50 ms | p95 ms |",
    "|---|---|---|",
    row("direct", direct),
    row("through the proxy", proxied),
    `| added by the proxy | ${added50.toFixed(3)} | ${added95.toFixed(3)} |`,
    "",
    `Target: p95 added latency under 2 ms: ${added95 < 2 ? "**met**" : "**missed**"}. The guard keeps its state`,
    "between calls (src/guard/guard.ts): a check searches only the call's own argument values.",
  ].join("\n"),
);
