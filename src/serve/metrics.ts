/**
 * Prometheus metrics of `proof serve`: a {@link ServeMetricsSink} backed by prom-client, on a
 * registry of its own (never prom-client's global one, so two servers in one process, or a test,
 * never share counters). The metric names and labels are a contract with the Grafana dashboard
 * (deploy/grafana/proof.json), the alert rules (deploy/prometheus/alerts.yaml) and docs/slo.md;
 * test/deploy/prometheus.test.ts checks every query there against {@link SERVE_METRIC_NAMES}.
 *
 * Every label takes its value from a closed set: a value outside it is counted as "other"
 * (cardinality guard), because an unbounded label (a raw path, a client's method, a new reason
 * code) would create one time series per value and can exhaust the Prometheus server.
 * Exposition format: Prometheus text format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 */

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Verdict } from "../policy/ir.js";
import { VERSION } from "../version.js";
import type { AuthFailureReason, ServeMetricsSink, ServeRoute } from "./types.js";

/** Prefix of every metric name, the process and Node.js default metrics included. */
export const METRIC_PREFIX = "proof_";

/** Names of the metrics {@link createServeMetrics} always registers (not the default ones). */
export const SERVE_METRIC_NAMES = {
  /** Counter, labels route, method, code: finished HTTP requests. */
  requests: "proof_http_requests_total",
  /** Histogram in seconds, label route: time from request to response. */
  duration: "proof_http_request_duration_seconds",
  /** Counter, labels route, verdict: verdicts of /v1/verify (per trace) and /v1/check (per call). */
  verdicts: "proof_verdicts_total",
  /** Counter: policy-set lookups answered from the compiled cache. */
  cacheHits: "proof_policy_cache_hits_total",
  /** Counter: policy-set lookups that had to compile. */
  cacheMisses: "proof_policy_cache_misses_total",
  /** Counter, label outcome (ok, error): policy-directory reloads. */
  policyReloads: "proof_policy_reloads_total",
  /** Counter, label reason (an {@link AuthFailureReason}): refused requests. */
  authFailures: "proof_auth_failures_total",
  /** Counter, label outcome: fetches of the issuer's JWKS. */
  jwksRefreshes: "proof_jwks_refreshes_total",
  /** Counter, label outcome: reloads of the TLS certificate, key or client CA. */
  tlsReloads: "proof_tls_reloads_total",
  /** Gauge, always 1, label version: which release runs (for rollouts). */
  buildInfo: "proof_build_info",
} as const;

/**
 * Upper bounds of the request-duration histogram, in seconds: 1 ms to 10 s, about three per
 * decade, with 50 ms and 500 ms present so that the SLO thresholds of docs/slo.md (check p99
 * < 50 ms, verify p95 < 500 ms) fall on a bucket boundary and need no interpolation.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const ROUTES: ReadonlySet<string> = new Set<ServeRoute>([
  "/v1/verify",
  "/v1/check",
  "/v1/adapt",
  "/v1/compile",
  "/v1/policies",
  "/healthz",
  "/readyz",
  "/metrics",
]);
const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** Status codes the server sends itself; any other valid code is counted by its class ("5xx"). */
const CODES: ReadonlySet<number> = new Set([
  200, 201, 204, 304, 400, 401, 403, 404, 405, 406, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504,
]);
const VERDICTS: ReadonlySet<string> = new Set<Verdict>(["allow", "warn", "require_approval", "block"]);
const REASONS: ReadonlySet<string> = new Set<AuthFailureReason>([
  "missing_token",
  "malformed_token",
  "bad_signature",
  "unknown_key",
  "expired",
  "not_yet_valid",
  "wrong_issuer",
  "wrong_audience",
  "missing_scope",
  "idp_unavailable",
  "client_certificate_missing",
  "client_certificate_untrusted",
  "client_certificate_san",
]);
const OUTCOMES: ReadonlySet<string> = new Set(["ok", "error"]);

/** Options of {@link createServeMetrics}. */
export interface ServeMetricsOptions {
  /**
   * Register prom-client's process and Node.js metrics (CPU seconds, resident memory, open file
   * descriptors, event-loop lag, heap, GC), each named with the `proof_` prefix
   * (`proof_process_cpu_seconds_total`, `proof_nodejs_eventloop_lag_seconds`...), less the three
   * gauges prom-client names `nodejs_active_*_total` (see the code). Default true.
   */
  defaultMetrics?: boolean;
  /**
   * Told when a value is mapped to "other" or a number is dropped: once per distinct value, for
   * the first 5 values of each label, then once that further values go unreported (never a token
   * or a body: only the label name and the rejected value, cut to 40 characters).
   * Default: a Node.js process warning (`process.emitWarning`, code PROOF_METRICS).
   */
  warn?: (message: string) => void;
  /** Release reported by `proof_build_info{version}`. Default: this package's version. */
  version?: string;
}

/** The sink, plus what `GET /metrics` needs. */
export interface ServeMetrics extends ServeMetricsSink {
  /** The dedicated registry holding every metric of this sink. */
  readonly registry: Registry;
  /** Content type of {@link render}'s body: `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** The exposition text of every metric, for `GET /metrics`. Never rejects for a valid registry. */
  render(): Promise<{ contentType: string; body: string }>;
}

/**
 * Creates the Prometheus sink of `proof serve` on a fresh registry.
 *
 * Metric names are {@link SERVE_METRIC_NAMES} (plus prom-client's default metrics, `proof_`
 * prefixed, unless `defaultMetrics: false`). Labels: `route` (a {@link ServeRoute} or "other"),
 * `method` (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or "other"), `code` (the status code
 * when it is one the server sends, else its class such as "5xx", so `code=~"5.."` selects every
 * server error; "other" outside 100-599), `verdict` (allow, warn, require_approval, block),
 * `reason` (an {@link AuthFailureReason}), `outcome` (ok, error); anything else is "other".
 * The sink methods never throw: a negative, fractional or non-finite count and a negative or
 * non-finite duration are dropped with a warning (see {@link ServeMetricsOptions.warn}).
 */
export function createServeMetrics(options: ServeMetricsOptions = {}): ServeMetrics {
  const registry = new Registry();
  const warned = new Map<string, Set<string>>();
  const warn = options.warn ?? ((m: string) => process.emitWarning(m, { code: "PROOF_METRICS" }));
  /** Tells `message` once per distinct `value` of `kind`, at most 5 values per kind. */
  const once = (kind: string, value: string, message: string): void => {
    // Bounded per kind: a client sending ever new methods must neither grow this set nor drown
    // the first warning about another label.
    const seen = warned.get(kind) ?? new Set<string>();
    warned.set(kind, seen);
    if (seen.has(value) || seen.size > 5) return;
    seen.add(value);
    warn(seen.size > 5 ? `metrics: further values of ${kind} not reported one by one` : message);
  };
  const bounded = (label: string, value: string, allowed: ReadonlySet<string>): string => {
    if (allowed.has(value)) return value;
    const shown = JSON.stringify(String(value).slice(0, 40));
    once(label, shown, `metrics: ${label} ${shown} counted as "other"`);
    return "other";
  };
  const codeLabel = (status: number): string => {
    if (CODES.has(status)) return String(status);
    if (Number.isInteger(status) && status >= 100 && status <= 599) return `${Math.floor(status / 100)}xx`;
    const shown = JSON.stringify(String(status).slice(0, 40));
    once("status", shown, `metrics: status ${shown} counted as "other"`);
    return "other";
  };

  const requests = new Counter({
    name: SERVE_METRIC_NAMES.requests,
    help: "Finished HTTP requests by route, method and status code (or class).",
    labelNames: ["route", "method", "code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: SERVE_METRIC_NAMES.duration,
    help: "Time from receiving a request to sending its response, in seconds, by route.",
    labelNames: ["route"] as const,
    buckets: [...DURATION_BUCKETS],
    registers: [registry],
  });
  const verdicts = new Counter({
    name: SERVE_METRIC_NAMES.verdicts,
    help: "Verdicts returned: one per trace by /v1/verify, one per tool call by /v1/check.",
    labelNames: ["route", "verdict"] as const,
    registers: [registry],
  });
  const cacheHits = new Counter({
    name: SERVE_METRIC_NAMES.cacheHits,
    help: "Policy-set lookups answered from the cache of compiled policies.",
    registers: [registry],
  });
  const cacheMisses = new Counter({
    name: SERVE_METRIC_NAMES.cacheMisses,
    help: "Policy-set lookups that had to compile the policy set.",
    registers: [registry],
  });
  const policyReloads = new Counter({
    name: SERVE_METRIC_NAMES.policyReloads,
    help: "Reloads of the policy directory: ok (applied) or error (refused, previous set kept).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const authFailures = new Counter({
    name: SERVE_METRIC_NAMES.authFailures,
    help: "Requests refused by authentication or the client-certificate check, by reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const jwksRefreshes = new Counter({
    name: SERVE_METRIC_NAMES.jwksRefreshes,
    help: "Fetches of the issuer's JSON Web Key Set, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const tlsReloads = new Counter({
    name: SERVE_METRIC_NAMES.tlsReloads,
    help: "Reloads of the TLS certificate, key or client CA from disk, by outcome.",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const buildInfo = new Gauge({
    name: SERVE_METRIC_NAMES.buildInfo,
    help: "Always 1; the label version names the running release.",
    labelNames: ["version"] as const,
    registers: [registry],
  });
  buildInfo.set({ version: options.version ?? VERSION }, 1);
  // Zero-valued series exist from the start, so that rate() and the hit-rate ratio see a series
  // before the first event instead of "no data" (an absent series cannot be told from a broken
  // scrape in an alert).
  cacheHits.inc(0);
  cacheMisses.inc(0);
  for (const outcome of OUTCOMES) policyReloads.inc({ outcome }, 0);
  for (const route of ["/v1/verify", "/v1/check"])
    for (const verdict of VERDICTS) verdicts.inc({ route, verdict }, 0);

  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
    // Prometheus reserves `_total` for counters and `promtool check metrics` refuses these three
    // gauges; the per-type gauges of the same name without `_total` stay (sum them for a total).
    for (const gauge of ["active_handles", "active_requests", "active_resources"])
      registry.removeSingleMetric(`${METRIC_PREFIX}nodejs_${gauge}_total`);
  }

  const contentType = registry.contentType;
  return {
    registry,
    contentType,
    async render() {
      return { contentType, body: await registry.metrics() };
    },
    request(route, method, status, seconds) {
      const r = bounded("route", route, ROUTES);
      requests.inc({ route: r, method: bounded("method", method, METHODS), code: codeLabel(status) });
      if (Number.isFinite(seconds) && seconds >= 0) duration.observe({ route: r }, seconds);
      else once("duration", String(seconds), `metrics: request duration ${String(seconds)} s dropped`);
    },
    verdicts(route, verdict, count) {
      if (!Number.isInteger(count) || count < 0) {
        once("count", String(count), `metrics: verdict count ${String(count)} dropped`);
        return;
      }
      verdicts.inc(
        { route: bounded("route", route, ROUTES), verdict: bounded("verdict", verdict, VERDICTS) },
        count,
      );
    },
    policyCache(hit) {
      (hit ? cacheHits : cacheMisses).inc();
    },
    policyReload(outcome) {
      policyReloads.inc({ outcome: bounded("outcome", outcome, OUTCOMES) });
    },
    authFailure(reason) {
      authFailures.inc({ reason: bounded("reason", reason, REASONS) });
    },
    jwksRefresh(outcome) {
      jwksRefreshes.inc({ outcome: bounded("outcome", outcome, OUTCOMES) });
    },
    tlsReload(outcome) {
      tlsReloads.inc({ outcome: bounded("outcome", outcome, OUTCOMES) });
    },
  };
}
