// Load baseline of `proof serve` (docs/serve.md): autocannon on loopback against `GET /healthz`
// and `POST /v1/check`, each next to a bare node:http server answering the same bytes, both
// measured in the same run; the ratio is the figure. Prints a markdown section;
// scripts/bench.mjs writes it into docs/performance.md.
//
//   node scripts/bench-serve.mjs [--seconds N] [--connections C]
//
// Also `node scripts/bench-serve.mjs --bare FILE`: the bare server itself, answering every
// request with the bytes of FILE (a JSON object of path -> body), once the request is read.
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};

if (args[0] === "--bare") {
  const bodies = JSON.parse(readFileSync(args[1], "utf8"));
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const body = bodies[req.url] ?? "";
      res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  server.listen(0, "127.0.0.1", () =>
    process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`),
  );
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
} else {
  await bench();
}

/** Starts `node ARGS` and resolves with the URL it prints and the child. */
function start(nodeArgs, cwd) {
  const child = spawn(process.execPath, nodeArgs, { cwd, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s) => {
      out += s;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1], child });
    });
    child.on("exit", (code) => reject(new Error(`${nodeArgs.join(" ")} exited ${code}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.on("exit", resolve);
    child.kill("SIGTERM");
  });
}

async function bench() {
  const { default: autocannon } = await import("autocannon");
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const out = join(root, "bench-out", "serve");
  const seconds = Number(flag("--seconds", 5));
  const connections = Number(flag("--connections", 10));
  mkdirSync(join(out, "policies"), { recursive: true });
  copyFileSync(join(root, "examples/policies/agentdojo-banking.yaml"), join(out, "policies", "banking.yaml"));

  const proof = await start(
    [
      join(root, "bin", "proof.js"),
      "serve",
      "--policy-dir",
      "policies",
      "--listen",
      "127.0.0.1:0",
      "--profile",
      "dev",
      "--insecure-no-auth",
    ],
    out,
  );
  // A call with a provenance rule to judge, after a prior trace of the corpus: real work per call.
  const prior = readFileSync(
    join(
      root,
      "fixtures/corpus/agentdojo/runs/claude-3-5-sonnet-20241022/banking/user_task_5/none/none.json",
    ),
    "utf8",
  );
  const checkBody = JSON.stringify({
    call: { tool: "send_money", args: { recipient: "SE3550000000054910000003", amount: 100 } },
    trace: { name: "prior.json", content: prior },
  });
  const post = { method: "POST", headers: { "content-type": "application/json" }, body: checkBody };
  const answer = async (path, init) => (await fetch(`${proof.url}${path}`, init)).text();
  const bodies = { "/healthz": await answer("/healthz"), "/v1/check": await answer("/v1/check", post) };
  if (!bodies["/v1/check"].includes('"verdict"'))
    throw new Error(`unexpected /v1/check answer: ${bodies["/v1/check"]}`);
  writeFileSync(join(out, "bodies.json"), JSON.stringify(bodies));
  const verdict = JSON.parse(bodies["/v1/check"]).verdict;
  const tools = JSON.parse(prior).messages.flatMap((m) => m.tool_calls ?? []).length;
  const bare = await start([fileURLToPath(import.meta.url), "--bare", join(out, "bodies.json")], out);

  const run = (url, init = {}) =>
    autocannon({ url, connections, duration: seconds, ...init }).then((r) => ({
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      errors: r.errors + r.timeouts + r.non2xx,
    }));
  const rows = [];
  for (const [path, init] of [
    ["/healthz", {}],
    ["/v1/check", post],
  ]) {
    // One second each, not recorded: the first requests pay for JIT compilation.
    await autocannon({ url: `${proof.url}${path}`, connections, duration: 1, ...init });
    await autocannon({ url: `${bare.url}${path}`, connections, duration: 1, ...init });
    const served = await run(`${proof.url}${path}`, init);
    const base = await run(`${bare.url}${path}`, init);
    rows.push({ path, served, base });
  }
  await stop(proof.child);
  await stop(bare.child);

  const fmt = (n) => Math.round(n).toLocaleString("en-US");
  const health = rows[0].served;
  const met = health.rps >= 1000 && health.p99 < 10 && health.errors === 0;
  console.log(
    [
      "### proof serve under load",
      "",
      `autocannon on loopback, ${connections} connections for ${seconds} s per row, against \`proof serve\` (one policy,`,
      "no authentication) and a bare node:http server answering the same bytes after reading the request, same run.",
      `\`/v1/check\` decides one \`send_money\` call after a prior AgentDojo trace of ${tools} tool calls (verdict`,
      `${verdict}: a provenance rule traces the recipient to a tool result). Latencies in whole ms, as autocannon`,
      "records them; the ratio is of requests/s, proof serve to the bare server.",
      "",
      "| route | server | requests/s | p50 | p99 | errors |",
      "|---|---|---|---|---|---|",
      ...rows.flatMap(({ path, served, base }) => [
        `| \`${path}\` | proof serve | ${fmt(served.rps)} | ${served.p50} | ${served.p99} | ${served.errors} |`,
        `| \`${path}\` | bare node:http | ${fmt(base.rps)} | ${base.p50} | ${base.p99} | ${base.errors} |`,
        `| \`${path}\` | ratio | ${(served.rps / base.rps).toFixed(2)} | | | |`,
      ]),
      "",
      `Target for \`/healthz\`: at least 1,000 requests/s with p99 under 10 ms and no errors: ${met ? "**met**" : "**missed**"}.`,
      "autocannon runs in this script's process, on the same cores as both servers (after one second of",
      "warm-up each): the absolute figures are the machine's and move with its load; the ratios are the server's.",
    ].join("\n"),
  );
}
