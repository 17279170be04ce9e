/**
 * The monitoring artifacts of deploy/: the alert rules pass `promtool check rules` and their unit
 * tests (`promtool test rules`, each alert firing on a fault and silent on healthy traffic), the
 * scrape configuration passes `promtool check config`, every PromQL query of the rules and of the
 * Grafana dashboard names only metrics createServeMetrics() exports, and the dashboard has the
 * panels docs/deploy.md describes.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createServeMetrics } from "../../src/serve/metrics.js";
import { ROOT } from "../e2e/cli.js";
import { missingTools } from "../helpers/tools.js";

const PROM = join(ROOT, "deploy", "prometheus");
const ALERTS = join(PROM, "alerts.yaml");
const DASHBOARD = join(ROOT, "deploy", "grafana", "proof.json");

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[];
}
interface RuleTests {
  tests: Array<{ name: string; alert_rule_test?: AlertTest[] }>;
}
interface Target {
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  __inputs?: Array<{ name: string; type: string; pluginId: string }>;
  templating: { list: Array<{ name: string; type: string; query?: unknown }> };
  panels: Panel[];
}

const rules = parse(readFileSync(ALERTS, "utf8")) as RuleFile;
const allRules = rules.groups.flatMap((g) => g.rules);
const alerts = allRules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
const queries = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);

/** Values for the Grafana variables of a query, so that Prometheus can parse it. */
function withoutGrafanaVariables(expr: string): string {
  return expr.replaceAll("$__rate_interval", "5m").replaceAll("$__range", "6h").replaceAll("$job", ".*");
}

const PROMQL_WORDS = new Set([
  "by",
  "without",
  "and",
  "or",
  "unless",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "offset",
  "bool",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects: identifiers left once strings, label matchers,
 * grouping clauses, range selectors and function calls are taken out.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");
  const names: string[] = [];
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice((m.index ?? 0) + word.length).trimStart();
    const before = stripped.slice(0, m.index ?? 0);
    if (after.startsWith("(")) continue; // a function or aggregation
    if (PROMQL_WORDS.has(word.toLowerCase())) continue;
    if (/[0-9.]$/.test(before) || /^[eE]/.test(word)) continue; // the exponent of a number
    names.push(word);
  }
  return names;
}

/** Series names createServeMetrics() exports, histograms as their _bucket, _sum and _count. */
function exportedNames(): Set<string> {
  const names = new Set<string>();
  for (const metric of createServeMetrics({ warn: () => {} }).registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string; type: string };
    if (type === "histogram") for (const s of ["_bucket", "_sum", "_count"]) names.add(`${name}${s}`);
    else if (type === "summary") for (const s of ["", "_sum", "_count"]) names.add(`${name}${s}`);
    else names.add(name);
  }
  return names;
}

/** The GitHub anchor of a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

describe("metric names in the alert rules and the dashboard", () => {
  const exported = exportedNames();
  const recorded = new Set(allRules.flatMap((r) => (r.record ? [r.record] : [])));
  // `up` is the series Prometheus writes for every scrape target itself.
  const known = (name: string) => exported.has(name) || recorded.has(name) || name === "up";

  it("finds metric names in PromQL, and only those", () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (job, le) (rate(proof_x_bucket{route="/v1/verify",code=~"5.."}[5m]))) > 1e-3 and on (job) up offset 5m',
      ),
    ).toEqual(["proof_x_bucket", "up"]);
    expect(metricNames("proof:a:ratio_rate1h > (14.4 * 0.001)")).toEqual(["proof:a:ratio_rate1h"]);
    expect(metricNames('sum(increase(proof_nope_total{job=~"$job"}[$__range]))')).toEqual([
      "proof_nope_total",
    ]);
    expect(known("proof_nope_total")).toBe(false);
    expect(known("proof_http_request_duration_seconds_bucket")).toBe(true);
    expect(known("proof_http_request_duration_seconds")).toBe(false);
  });

  it("every rule selects only exported or recorded metrics", () => {
    const unknown = allRules.flatMap((r) =>
      metricNames(r.expr)
        .filter((n) => !known(n))
        .map((n) => `${r.alert ?? r.record}: ${n}`),
    );
    expect(unknown).toEqual([]);
    expect(allRules.every((r) => metricNames(r.expr).length > 0)).toBe(true);
  });

  it("every dashboard query selects only exported metrics", () => {
    expect(queries.length).toBeGreaterThanOrEqual(12);
    const unknown = queries.flatMap((q) =>
      metricNames(q.expr)
        .filter((n) => !exported.has(n))
        .map((n) => `${q.panel}: ${n}`),
    );
    expect(unknown).toEqual([]);
    expect(queries.every((q) => metricNames(q.expr).length > 0)).toBe(true);
  });
});

describe("alert rules", () => {
  it("each alert has a severity, a summary, a description and a runbook in the repository", () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        "ProofHighErrorRate",
        "ProofVerifyLatencyHigh",
        "Proof5xxSpike",
        "ProofPolicyCacheHitRateLow",
        "ProofTargetDown",
      ]),
    );
    const problems: string[] = [];
    for (const a of alerts) {
      if (!["page", "ticket", "warning"].includes(a.labels?.severity ?? ""))
        problems.push(`${a.alert}: severity`);
      for (const key of ["summary", "description", "runbook_url"])
        if (!a.annotations?.[key]) problems.push(`${a.alert}: ${key}`);
      const [file, hash] = (a.annotations?.runbook_url ?? "").split("#");
      if (!file?.startsWith("docs/runbooks/") || !existsSync(join(ROOT, file))) {
        problems.push(`${a.alert}: runbook ${file} missing`);
        continue;
      }
      const headings = readFileSync(join(ROOT, file), "utf8")
        .split("\n")
        .filter((l) => /^#{1,6} /.test(l))
        .map((l) => anchor(l.replace(/^#+ /, "")));
      if (hash === undefined || !headings.includes(hash))
        problems.push(`${a.alert}: no heading #${hash} in ${file}`);
    }
    expect(problems).toEqual([]);
  });

  it("each alert is shown firing and shown silent by alerts.test.yaml, and all are silent when healthy", () => {
    const tests = parse(readFileSync(join(PROM, "alerts.test.yaml"), "utf8")) as RuleTests;
    const cases = tests.tests.flatMap((t) => (t.alert_rule_test ?? []).map((c) => ({ group: t.name, ...c })));
    const healthy = tests.tests.find((t) => t.name === "healthy traffic raises no alert");
    const missing: string[] = [];
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      if (!mine.some((c) => (c.exp_alerts ?? []).length > 0)) missing.push(`${alert} never fires`);
      if (!mine.some((c) => c.group !== healthy?.name && (c.exp_alerts ?? []).length === 0))
        missing.push(`${alert} never shown silent before or beside its fault`);
      if (!healthy?.alert_rule_test?.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length === 0))
        missing.push(`${alert} not checked on healthy traffic`);
    }
    expect(missing).toEqual([]);
  });

  const skip = missingTools("promtool");
  describe.skipIf(skip !== undefined)("with promtool", () => {
    const scratch = mkdtempSync(join(tmpdir(), "proof-prom-"));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));
    const promtool = (args: string[], cwd = PROM) =>
      spawnSync("promtool", args, { cwd, encoding: "utf8", timeout: 60_000 });

    it("promtool check rules accepts alerts.yaml", () => {
      const run = promtool(["check", "rules", "alerts.yaml"]);
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
      expect(run.stdout).toContain(`SUCCESS: ${allRules.length} rules found`);
    });

    it("promtool test rules passes alerts.test.yaml", () => {
      const run = promtool(["test", "rules", "alerts.test.yaml"]);
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
      expect(run.stdout).toContain("SUCCESS");
    });

    it("the rule tests fail when a threshold is loosened (they can catch a wrong rule)", () => {
      copyFileSync(join(PROM, "alerts.test.yaml"), join(scratch, "alerts.test.yaml"));
      const text = readFileSync(ALERTS, "utf8");
      const loosened = text.replace("> 0.01\n", "> 0.5\n");
      expect(loosened).not.toBe(text);
      writeFileSync(join(scratch, "alerts.yaml"), loosened);
      const run = promtool(["test", "rules", "alerts.test.yaml"], scratch);
      expect(run.status).not.toBe(0);
      expect(`${run.stdout}${run.stderr}`).toContain("ProofHighErrorRate");
    });

    it("promtool parses every dashboard query", () => {
      const file = join(scratch, "dashboard-queries.yaml");
      const asRules = {
        groups: [
          {
            name: "dashboard",
            rules: queries.map((q, i) => ({
              record: `dashboard:query_${i}`,
              expr: withoutGrafanaVariables(q.expr),
            })),
          },
        ],
      };
      writeFileSync(file, JSON.stringify(asRules));
      const run = promtool(["check", "rules", file], scratch);
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
      writeFileSync(
        file,
        JSON.stringify({ groups: [{ name: "x", rules: [{ record: "x", expr: "sum(" }] }] }),
      );
      expect(promtool(["check", "rules", file], scratch).status).not.toBe(0);
    });

    it("promtool check config accepts the scrape configuration", () => {
      // Syntax only: the client certificate files it names exist on the Prometheus server.
      const run = promtool(["check", "config", "--syntax-only", "scrape.yaml"]);
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    });
  });
});

describe("Grafana dashboard", () => {
  it("is a Grafana dashboard with a Prometheus data source input and variable", () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe("proof-serve");
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" }),
    ]);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", query: "prometheus" }),
    );
    // Grafana fills the variable in; it is no JavaScript template.
    const ds = { type: "prometheus", uid: ["$", "{DS_PROMETHEUS}"].join("") };
    for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
      expect(panel.datasource, panel.title).toEqual(ds);
      for (const t of panel.targets ?? []) expect(t.datasource, panel.title).toEqual(ds);
    }
  });

  it("has unique panel ids and panels inside the 24-column grid", () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.gridPos.h, p.title).toBeGreaterThan(0);
    }
  });

  it("has the verdict, latency, error-rate, cache, auth and reload panels", () => {
    const byTitle = (title: string) => {
      const panel = dashboard.panels.find((p) => p.title === title);
      expect(panel, title).toBeDefined();
      return (panel?.targets ?? []).map((t) => t.expr).join("\n");
    };
    expect(byTitle("OK")).toMatch(/proof_verdicts_total\{[^}]*verdict="allow"/);
    expect(byTitle("WARN")).toMatch(/proof_verdicts_total\{[^}]*verdict="warn"/);
    expect(byTitle("FAIL")).toMatch(/proof_verdicts_total\{[^}]*verdict=~"require_approval\|block"/);
    expect(byTitle("p95 latency by route")).toMatch(/histogram_quantile\(0\.95, sum by \(route, le\)/);
    expect(byTitle("p99 latency by route")).toMatch(/histogram_quantile\(0\.99, sum by \(route, le\)/);
    expect(byTitle("Error rate (5xx / all, /v1)")).toMatch(
      /code=~"5\.\."[\s\S]*\/ sum\(rate\(proof_http_requests_total/,
    );
    expect(byTitle("Policy cache hit rate")).toContain("proof_policy_cache_misses_total");
    expect(byTitle("Auth failures by reason")).toMatch(/sum by \(reason\) \(rate\(proof_auth_failures_total/);
    const reloads = byTitle("Reloads");
    for (const m of ["proof_policy_reloads_total", "proof_jwks_refreshes_total", "proof_tls_reloads_total"])
      expect(reloads).toContain(m);
  });
});
