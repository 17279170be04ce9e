/**
 * The seams of `proof serve` (docs/serve.md): the HTTP server (src/serve/server.ts) asks an
 * {@link RequestAuthenticator} whether a request may run, a {@link ClientCertificateCheck}
 * whether its TLS peer is allowed, and reports what it did to {@link ServeMetricsSink}. Keeping
 * these as interfaces lets the server be tested without an IdP, and the OAuth2, mTLS and
 * Prometheus parts be tested without the server.
 */

import type { TLSSocket } from "node:tls";
import type { Verdict } from "../policy/ir.js";

/** The routes of the API, as used for scopes and metric labels (low cardinality by design). */
export type ServeRoute =
  | "/v1/verify"
  | "/v1/check"
  | "/v1/adapt"
  | "/v1/compile"
  | "/v1/policies"
  | "/healthz"
  | "/readyz"
  | "/metrics";

/** Why a request was refused before it ran; each is one value of the auth-failure metric label. */
export type AuthFailureReason =
  | "missing_token"
  | "malformed_token"
  | "bad_signature"
  | "unknown_key"
  | "expired"
  | "not_yet_valid"
  | "wrong_issuer"
  | "wrong_audience"
  | "missing_scope"
  | "idp_unavailable"
  | "client_certificate_missing"
  | "client_certificate_untrusted"
  | "client_certificate_san";

/** The answer of an authenticator: allowed (with who), or refused with the HTTP status to send. */
export type AuthOutcome =
  | { ok: true; subject?: string; scopes: string[] }
  | {
      ok: false;
      /** 401 (no or bad token), 403 (valid token, missing scope) or 503 (IdP unreachable, no key). */
      status: 401 | 403 | 503;
      reason: AuthFailureReason;
      /** Human-readable, safe to return to the client (never a token or a stack trace). */
      message: string;
      /** The `WWW-Authenticate` header value for 401 and 403 (RFC 6750 section 3). */
      wwwAuthenticate?: string;
      /** Seconds for `Retry-After` with a 503. */
      retryAfter?: number;
    };

/** Decides whether a request may use a route, from its `Authorization` header. */
export interface RequestAuthenticator {
  /** @param authorization the raw header value, or undefined when absent. Never throws. */
  authenticate(authorization: string | undefined, route: ServeRoute): Promise<AuthOutcome>;
  /** Whether signing keys are loaded (for `/readyz`). */
  ready(): boolean;
  /** Fetches discovery and JWKS the first time; resolves even if the IdP is down (then not ready). */
  start(): Promise<void>;
  /** Stops background refreshes. */
  close(): void;
}

/**
 * Checks the client certificate of an mTLS connection (the server requests one and verifies the
 * chain itself, so that a refusal is a 403 with a reason instead of a dropped handshake).
 */
export type ClientCertificateCheck = (
  socket: TLSSocket,
) => { ok: true; subject?: string } | { ok: false; reason: AuthFailureReason; message: string };

/** Where the server reports what it did; prom-client backs it (src/serve/metrics.ts). */
export interface ServeMetricsSink {
  /** One finished HTTP request: its route (or "other"), method, status code, duration in seconds. */
  request(route: ServeRoute | "other", method: string, status: number, seconds: number): void;
  /** Verdicts produced by `/v1/verify` (one per trace) or `/v1/check` (one per call). */
  verdicts(route: "/v1/verify" | "/v1/check", verdict: Verdict, count: number): void;
  /** A policy-set lookup by id or digest: found compiled in the cache, or compiled now. */
  policyCache(hit: boolean): void;
  /** A policy-directory reload: applied, or refused because a policy failed to compile. */
  policyReload(outcome: "ok" | "error"): void;
  /** A refused request, by reason. */
  authFailure(reason: AuthFailureReason): void;
  /** A fetch of the issuer's JWKS (start, TTL expiry, unknown `kid`). */
  jwksRefresh(outcome: "ok" | "error"): void;
  /** A reload of the TLS certificate, key or client CA from disk. */
  tlsReload(outcome: "ok" | "error"): void;
}
