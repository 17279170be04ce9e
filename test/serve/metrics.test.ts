/**
 * The Prometheus sink of `proof serve` (src/serve/metrics.ts): each call of the sink appears in
 * the exposition text under its name and labels, values outside the closed label sets are
 * counted as "other", and promtool accepts the text.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createServeMetrics, DURATION_BUCKETS, SERVE_METRIC_NAMES } from "../../src/serve/metrics.js";
import type { AuthFailureReason, ServeRoute } from "../../src/serve/types.js";
import { missingTools } from "../helpers/tools.js";

/** The value of the sample `name{labels}` in `text` (labels in the order prom-client writes them). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");
  const head = inner === "" ? name : `${name}{${inner}}`;
  const line = text.split("\n").find((l) => l.startsWith(`${head} `));
  return line === undefined ? undefined : Number(line.slice(head.length + 1));
}

/** Every series name (before `{` or the value) in `text`, without comments. */
function seriesNames(text: string): Set<string> {
  return new Set(
    text
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split(/[{ ]/, 1)[0] as string),
  );
}

const quiet = { defaultMetrics: false, warn: () => {} };

describe("createServeMetrics", () => {
  it("counts requests by route, method and code, and times them by route", async () => {
    const m = createServeMetrics(quiet);
    m.request("/v1/verify", "POST", 200, 0.003);
    m.request("/v1/verify", "POST", 200, 0.7);
    m.request("/v1/check", "POST", 400, 0.0004);
    m.request("/healthz", "GET", 200, 0.0001);
    const { body, contentType } = await m.render();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const req = SERVE_METRIC_NAMES.requests;
    expect(sample(body, req, { route: "/v1/verify", method: "POST", code: "200" })).toBe(2);
    expect(sample(body, req, { route: "/v1/check", method: "POST", code: "400" })).toBe(1);
    expect(sample(body, req, { route: "/healthz", method: "GET", code: "200" })).toBe(1);
    const d = SERVE_METRIC_NAMES.duration;
    expect(sample(body, `${d}_count`, { route: "/v1/verify" })).toBe(2);
    expect(sample(body, `${d}_sum`, { route: "/v1/verify" })).toBeCloseTo(0.703, 9);
    // 3 ms lands in the 5 ms bucket and above, 700 ms only from the 1 s bucket on.
    expect(sample(body, `${d}_bucket`, { le: "0.0025", route: "/v1/verify" })).toBe(0);
    expect(sample(body, `${d}_bucket`, { le: "0.005", route: "/v1/verify" })).toBe(1);
    expect(sample(body, `${d}_bucket`, { le: "0.5", route: "/v1/verify" })).toBe(1);
    expect(sample(body, `${d}_bucket`, { le: "1", route: "/v1/verify" })).toBe(2);
    expect(sample(body, `${d}_bucket`, { le: "+Inf", route: "/v1/verify" })).toBe(2);
    expect(sample(body, `${d}_bucket`, { le: "0.001", route: "/v1/check" })).toBe(1);
  });

  it("has buckets from 1 ms to 10 s with the SLO thresholds on boundaries", () => {
    expect(DURATION_BUCKETS[0]).toBe(0.001);
    expect(DURATION_BUCKETS.at(-1)).toBe(10);
    expect(DURATION_BUCKETS).toContain(0.05);
    expect(DURATION_BUCKETS).toContain(0.5);
    expect([...DURATION_BUCKETS].sort((a, b) => a - b)).toEqual(DURATION_BUCKETS);
  });

  it("counts verdicts, cache lookups, reloads, auth failures, JWKS and TLS reloads", async () => {
    const m = createServeMetrics(quiet);
    m.verdicts("/v1/verify", "block", 3);
    m.verdicts("/v1/verify", "block", 2);
    m.verdicts("/v1/check", "require_approval", 1);
    m.policyCache(true);
    m.policyCache(true);
    m.policyCache(false);
    m.policyReload("ok");
    m.policyReload("error");
    m.policyReload("error");
    m.authFailure("expired");
    m.authFailure("client_certificate_san");
    m.jwksRefresh("ok");
    m.jwksRefresh("error");
    m.tlsReload("error");
    const { body } = await m.render();
    const n = SERVE_METRIC_NAMES;
    expect(sample(body, n.verdicts, { route: "/v1/verify", verdict: "block" })).toBe(5);
    expect(sample(body, n.verdicts, { route: "/v1/check", verdict: "require_approval" })).toBe(1);
    // Series for every verdict exist from the start, at zero.
    expect(sample(body, n.verdicts, { route: "/v1/check", verdict: "allow" })).toBe(0);
    expect(sample(body, n.cacheHits)).toBe(2);
    expect(sample(body, n.cacheMisses)).toBe(1);
    expect(sample(body, n.policyReloads, { outcome: "ok" })).toBe(1);
    expect(sample(body, n.policyReloads, { outcome: "error" })).toBe(2);
    expect(sample(body, n.authFailures, { reason: "expired" })).toBe(1);
    expect(sample(body, n.authFailures, { reason: "client_certificate_san" })).toBe(1);
    expect(sample(body, n.jwksRefreshes, { outcome: "ok" })).toBe(1);
    expect(sample(body, n.jwksRefreshes, { outcome: "error" })).toBe(1);
    expect(sample(body, n.tlsReloads, { outcome: "error" })).toBe(1);
    expect(sample(body, n.tlsReloads, { outcome: "ok" })).toBeUndefined();
    expect(sample(body, n.buildInfo, { version: PROOF_VERSION_FOR_TEST })).toBe(1);
  });

  it("maps label values outside the allowed sets to other, and warns once each", async () => {
    const warnings: string[] = [];
    const m = createServeMetrics({ defaultMetrics: false, warn: (w) => warnings.push(w) });
    for (let i = 0; i < 50; i++) m.request(`/v1/verify/${i}` as ServeRoute, `M${i}`, 200, 0.01);
    m.request("/v1/check", "BREW", 418, 0.01);
    m.request("/v1/check", "POST", 507, 0.01);
    m.request("/v1/check", "POST", 99, 0.01);
    m.request("/v1/check", "POST", Number.NaN, 0.01);
    m.verdicts("/v1/check", "deny" as never, 1);
    m.authFailure("stolen_token" as AuthFailureReason);
    m.policyReload("maybe" as never);
    m.jwksRefresh("timeout" as never);
    m.tlsReload("" as never);
    const { body } = await m.render();
    const n = SERVE_METRIC_NAMES;
    expect(sample(body, n.requests, { route: "other", method: "other", code: "200" })).toBe(50);
    expect(sample(body, n.requests, { route: "/v1/check", method: "other", code: "4xx" })).toBe(1);
    expect(sample(body, n.requests, { route: "/v1/check", method: "POST", code: "5xx" })).toBe(1);
    expect(sample(body, n.requests, { route: "/v1/check", method: "POST", code: "other" })).toBe(2);
    expect(sample(body, `${n.duration}_count`, { route: "other" })).toBe(50);
    expect(sample(body, n.verdicts, { route: "/v1/check", verdict: "other" })).toBe(1);
    expect(sample(body, n.authFailures, { reason: "other" })).toBe(1);
    expect(sample(body, n.policyReloads, { outcome: "other" })).toBe(1);
    expect(sample(body, n.jwksRefreshes, { outcome: "other" })).toBe(1);
    expect(sample(body, n.tlsReloads, { outcome: "other" })).toBe(1);
    // 50 distinct paths and methods made 1 series, not 50.
    const requestLines = body.split("\n").filter((l) => l.startsWith(`${n.requests}{`));
    expect(requestLines).toHaveLength(4);
    expect(warnings).toContain('metrics: route "/v1/verify/0" counted as "other"');
    expect(warnings).toContain('metrics: verdict "deny" counted as "other"');
    expect(warnings).toContain('metrics: status "99" counted as "other"');
    expect(warnings).toContain("metrics: further values of route not reported one by one");
    // Each distinct value is told once, and at most 6 lines per label.
    expect(new Set(warnings).size).toBe(warnings.length);
    expect(warnings.filter((w) => w.startsWith("metrics: method ")).length).toBe(5);
    expect(warnings.length).toBeLessThanOrEqual(6 * 8);
  });

  it("drops impossible numbers with a warning instead of throwing", async () => {
    const warnings: string[] = [];
    const m = createServeMetrics({ defaultMetrics: false, warn: (w) => warnings.push(w) });
    m.request("/v1/check", "POST", 200, -1);
    m.request("/v1/check", "POST", 200, Number.POSITIVE_INFINITY);
    m.verdicts("/v1/check", "allow", -2);
    m.verdicts("/v1/check", "allow", 1.5);
    const { body } = await m.render();
    const n = SERVE_METRIC_NAMES;
    expect(sample(body, n.requests, { route: "/v1/check", method: "POST", code: "200" })).toBe(2);
    expect(sample(body, `${n.duration}_count`, { route: "/v1/check" })).toBeUndefined();
    expect(sample(body, n.verdicts, { route: "/v1/check", verdict: "allow" })).toBe(0);
    expect(warnings).toEqual([
      "metrics: request duration -1 s dropped",
      "metrics: request duration Infinity s dropped",
      "metrics: verdict count -2 dropped",
      "metrics: verdict count 1.5 dropped",
    ]);
  });

  it("keeps each sink's counters in its own registry", async () => {
    const a = createServeMetrics(quiet);
    const b = createServeMetrics(quiet);
    a.policyCache(true);
    expect(sample((await a.render()).body, SERVE_METRIC_NAMES.cacheHits)).toBe(1);
    expect(sample((await b.render()).body, SERVE_METRIC_NAMES.cacheHits)).toBe(0);
  });

  it("adds the process and Node.js metrics with the proof_ prefix by default", async () => {
    const m = createServeMetrics({ warn: () => {} });
    const names = seriesNames((await m.render()).body);
    expect(names).toContain("proof_process_cpu_seconds_total");
    expect(names).toContain("proof_process_resident_memory_bytes");
    expect(names).toContain("proof_nodejs_eventloop_lag_seconds");
    expect([...names].filter((x) => !x.startsWith("proof_"))).toEqual([]);
    const without = seriesNames((await createServeMetrics(quiet).render()).body);
    expect(without).not.toContain("proof_process_cpu_seconds_total");
  });

  const skip = missingTools("promtool");
  it.skipIf(skip !== undefined)("writes exposition text that promtool accepts", async () => {
    const m = createServeMetrics({ warn: () => {} });
    m.request("/v1/verify", "POST", 200, 0.02);
    m.request("/bogus" as ServeRoute, "GET", 404, 0.001);
    m.verdicts("/v1/verify", "warn", 1);
    m.authFailure("missing_token");
    m.jwksRefresh("ok");
    m.tlsReload("ok");
    const { body } = await m.render();
    // `promtool check metrics` lints too (exit 3 for lint problems, 1 for a parse error).
    const run = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" });
    expect(run.error).toBeUndefined();
    expect(`${run.stdout}${run.stderr}`).toBe("");
    expect(run.status).toBe(0);
    // And a text promtool must refuse, so that the check above can fail.
    const bad = spawnSync("promtool", ["check", "metrics"], { input: "proof_x{a=} 1\n", encoding: "utf8" });
    expect(bad.status).not.toBe(0);
  });
});

declare const PROOF_VERSION: string;
const PROOF_VERSION_FOR_TEST = PROOF_VERSION;
