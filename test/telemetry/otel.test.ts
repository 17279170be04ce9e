/**
 * OpenTelemetry export of decisions: OTLP JSON file, OTLP/HTTP to a local collector stand-in,
 * low-risk fields only unless asked, and never a change to a decision or an artifact.
 */

import { readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecisionExporter } from "../../src/telemetry/otel.js";
import type { Decision } from "../../src/verify/decision.js";
import { proof, removeTempDirs, snapshot, tempDir } from "../e2e/cli.js";

const DECISION: Decision = {
  case_id: "runs/pay.json",
  trace_id: `sha256:${"a".repeat(64)}`,
  seq: 4,
  at: "messages[3].tool_calls[0]",
  tool: "send_money",
  verdict: "block",
  rules: ["payee_untrusted"],
  reasons: ["payee_from_untrusted_content"],
  evidence: [],
  errors: [],
};
const SECRET = "DE89370400440532013000";

/** OTLP JSON attributes as a plain object: key -> string, number or string list. */
function attributes(span: { attributes: { key: string; value: Record<string, unknown> }[] }) {
  const out: Record<string, unknown> = {};
  for (const { key, value } of span.attributes) {
    if ("stringValue" in value) out[key] = value.stringValue;
    else if ("intValue" in value) out[key] = Number(value.intValue);
    else if ("doubleValue" in value) out[key] = value.doubleValue;
    else if ("arrayValue" in value)
      out[key] = ((value.arrayValue as { values?: { stringValue: string }[] }).values ?? []).map(
        (v) => v.stringValue,
      );
  }
  return out;
}

/** The spans of an OTLP JSON ExportTraceServiceRequest. */
// biome-ignore lint/suspicious/noExplicitAny: parsed OTLP JSON, checked by the assertions
function spans(request: any): any[] {
  return request.resourceSpans.flatMap((r: { scopeSpans: { spans: unknown[] }[] }) =>
    r.scopeSpans.flatMap((s) => s.spans),
  );
}

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(removeTempDirs);

describe("decision exporter", () => {
  it("writes one span per decision to an OTLP JSON file, without argument values", async () => {
    const file = join(dir, "spans.json");
    const exporter = await createDecisionExporter({ file });
    exporter.export(DECISION, {
      run_id: "run-1",
      policy_digest: "sha256:p",
      latency_ms: 3,
      args: { to: SECRET },
    });
    exporter.export({ ...DECISION, seq: 6, verdict: "allow", rules: [], reasons: [] }, { run_id: "run-1" });
    expect(await exporter.shutdown()).toEqual([]);
    const text = await readFile(file, "utf8");
    expect(text).not.toContain(SECRET);
    const request = JSON.parse(text);
    expect(request.resourceSpans[0].resource.attributes).toContainEqual({
      key: "service.name",
      value: { stringValue: "proof" },
    });
    const [first, second] = spans(request);
    expect(first.name).toBe("proof.decision");
    expect(attributes(first)).toEqual({
      "proof.run_id": "run-1",
      "proof.verdict": "block",
      "proof.reasons": ["payee_from_untrusted_content"],
      "proof.rules": ["payee_untrusted"],
      "proof.policy_digest": "sha256:p",
      "gen_ai.tool.name": "send_money",
      "proof.case_id": "runs/pay.json",
      "proof.trace_id": DECISION.trace_id,
      "proof.seq": 4,
      "proof.at": "messages[3].tool_calls[0]",
      "proof.latency_ms": 3,
    });
    // The latency is the span's duration (nanoseconds, as strings in OTLP JSON).
    expect(BigInt(first.endTimeUnixNano) - BigInt(first.startTimeUnixNano)).toBe(3_000_000n);
    expect(attributes(second)["proof.verdict"]).toBe("allow");
  });

  it("adds the arguments only with includeArgs", async () => {
    const file = join(dir, "args.json");
    const exporter = await createDecisionExporter({ file, includeArgs: true });
    exporter.export(DECISION, { args: { to: SECRET, amount: 5 } });
    await exporter.shutdown();
    const [span] = spans(JSON.parse(await readFile(file, "utf8")));
    expect(attributes(span)["proof.tool.args"]).toBe(`{"amount":5,"to":"${SECRET}"}`);
  });

  it("sends the spans to an OTLP/HTTP endpoint", async () => {
    const received: { url: string; type: string; body: string }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        received.push({ url: req.url ?? "", type: req.headers["content-type"] ?? "", body });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    // Bounded: the server closes itself after 20 s if the test never gets there.
    const guard = setTimeout(() => server.close(), 20_000);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const exporter = await createDecisionExporter({ endpoint: `http://127.0.0.1:${port}/v1/traces` });
      exporter.export(DECISION, { run_id: "run-http", args: { to: SECRET } });
      expect(await exporter.shutdown()).toEqual([]);
      expect(received).toHaveLength(1);
      expect(received[0]?.url).toBe("/v1/traces");
      expect(received[0]?.type).toContain("application/json");
      expect(received[0]?.body).not.toContain(SECRET);
      const [span] = spans(JSON.parse(received[0]?.body ?? "{}"));
      expect(attributes(span)).toMatchObject({ "proof.run_id": "run-http", "proof.verdict": "block" });
    } finally {
      clearTimeout(guard);
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("reports an unreachable endpoint as a problem instead of failing", async () => {
    // Port 9 (discard) on 127.0.0.1: nothing listens there in a test sandbox.
    const exporter = await createDecisionExporter({
      endpoint: "http://127.0.0.1:9/v1/traces",
      timeoutMillis: 500,
    });
    exporter.export(DECISION);
    const problems = await exporter.shutdown();
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toContain("otel: export to http://127.0.0.1:9/v1/traces failed");
  });

  it("writes the file even when the endpoint refuses, and reports the endpoint as a problem", async () => {
    // Both outputs at once: the refused endpoint's flush rejects, which used to skip the file's
    // shutdown (where the file is written). Port 9 on 127.0.0.1 refuses connections.
    const file = join(dir, "with-endpoint.json");
    const exporter = await createDecisionExporter({
      file,
      endpoint: "http://127.0.0.1:9/v1/traces",
      timeoutMillis: 500,
    });
    exporter.export(DECISION, { run_id: "run-both" });
    const problems = await exporter.shutdown();
    const [span] = spans(JSON.parse(await readFile(file, "utf8")));
    expect(attributes(span)).toMatchObject({ "proof.run_id": "run-both", "proof.verdict": "block" });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.startsWith("otel: "))).toBe(true);
    expect(problems.join("\n")).toContain("http://127.0.0.1:9/v1/traces");
  });
});

describe("proof verify --otel-out", () => {
  it("leaves the out dir byte-identical and exports one span per decision", async () => {
    await writeFile(
      join(dir, "policy.yaml"),
      `schema: proof.policy/v1
policy_id: otel.v1
rules:
  - id: payee_untrusted
    match:
      tool: [send_money]
      provenance:
        args: [recipient]
        from: untrusted
    effect: block
    reason: payee_from_untrusted_content
`,
    );
    await writeFile(
      join(dir, "run.json"),
      JSON.stringify([
        { role: "user", content: "Pay the bill" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c1", type: "function", function: { name: "read_file", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c1", content: `Pay to ${SECRET}` },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "c2",
              type: "function",
              function: { name: "send_money", arguments: JSON.stringify({ recipient: SECRET }) },
            },
          ],
        },
      ]),
    );
    const base = ["verify", "--policy", "policy.yaml", "--traces", "run.json", "--format", "openai"];
    const plain = await proof([...base, "--out", "out-plain"], dir);
    const traced = await proof(
      [...base, "--out", "out-otel", "--otel-out", "spans.otlp.json", "--otel-include-args"],
      dir,
    );
    expect(plain.code).toBe(5);
    expect(traced.code).toBe(plain.code);
    expect(traced.stdout).toBe(plain.stdout);
    const a = await snapshot(join(dir, "out-plain"));
    const b = await snapshot(join(dir, "out-otel"));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, bytes] of a) expect(b.get(name)?.equals(bytes), name).toBe(true);

    const exported = spans(JSON.parse(await readFile(join(dir, "spans.otlp.json"), "utf8")));
    expect(exported.map((s) => attributes(s)["proof.verdict"])).toEqual(["allow", "block"]);
    expect(attributes(exported[1])["proof.tool.args"]).toBe(`{"recipient":"${SECRET}"}`);
  });

  it("with a refusing --otel-endpoint too, still writes --otel-out and warns about the endpoint", async () => {
    // Uses the policy and run written by the test above.
    const r = await proof(
      [
        "verify",
        "--policy",
        "policy.yaml",
        "--traces",
        "run.json",
        "--format",
        "openai",
        "--out",
        "out-both",
        "--otel-out",
        "both.otlp.json",
        "--otel-endpoint",
        "http://127.0.0.1:9/v1/traces",
      ],
      dir,
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("otel: export to http://127.0.0.1:9/v1/traces failed");
    const exported = spans(JSON.parse(await readFile(join(dir, "both.otlp.json"), "utf8")));
    expect(exported.map((s) => attributes(s)["proof.verdict"])).toEqual(["allow", "block"]);
  });
});
