/**
 * OAuth2 bearer-token authentication for `proof serve` (docs/serve-auth.md): the `auth.yaml`
 * configuration, and a {@link RequestAuthenticator} that validates JWT access tokens (RFC 9068)
 * with jose against the issuer's signing keys, found through its discovery document (OpenID
 * Connect Discovery 1.0 section 4, RFC 8414 section 3) and cached. Refusals follow RFC 6750
 * section 3 (`WWW-Authenticate: Bearer ...`). A token is never logged nor echoed.
 */
import {
  createLocalJWKSet,
  errors,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { inputError, type SourceLocation } from "../errors.js";
import { locate, type ParsedYaml, parseYaml } from "../policy/yaml.js";
import type {
  AuthFailureReason,
  AuthOutcome,
  RequestAuthenticator,
  ServeMetricsSink,
  ServeRoute,
} from "./types.js";

/** The routes that take a bearer token (`/healthz` and `/readyz` never do). */
export type ProtectedRoute = Exclude<ServeRoute, "/healthz" | "/readyz">;

const PROTECTED_ROUTES: readonly ProtectedRoute[] = [
  "/v1/verify",
  "/v1/check",
  "/v1/adapt",
  "/v1/compile",
  "/v1/policies",
  "/metrics",
];

/** Scopes each route needs when `auth.yaml` does not say: `/metrics` needs a valid token only. */
export const DEFAULT_ROUTE_SCOPES: Readonly<Record<ProtectedRoute, readonly string[]>> = {
  "/v1/verify": ["verify:run"],
  "/v1/check": ["verify:run"],
  "/v1/compile": ["policy:compile"],
  "/v1/policies": ["policy:read"],
  "/v1/adapt": ["policy:read"],
  "/metrics": [],
};

/**
 * The JWS algorithms accepted: asymmetric ones only (RFC 8725 section 3.1), so that a public
 * key can never be used as an HMAC secret and `none` is never accepted.
 */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

/** A loaded `auth.yaml` with every default filled in (times in seconds). */
export interface AuthConfig {
  /** The `iss` every token must carry, exactly; https (http only for a loopback host). */
  issuer: string;
  /** The `aud` values accepted: a token must name at least one. */
  audience: string[];
  /** Scopes each protected route needs, all of them (an empty list: any valid token). */
  scopes: Record<ProtectedRoute, string[]>;
  /** How long fetched keys are used before a background refresh (default 600). */
  jwksCacheTtlSeconds: number;
  /** Tolerance on `exp` and `nbf` for clocks that disagree (default 30). */
  clockLeewaySeconds: number;
  /** The algorithms accepted, a subset of {@link ASYMMETRIC_ALGORITHMS} (default: all of them). */
  algorithms: string[];
  /** Where the discovery document is, when not at the issuer's well-known locations. */
  discoveryUrl?: string;
  /** Least time between two fetches caused by tokens with an unknown `kid` (default 30). */
  jwksRefetchIntervalSeconds: number;
  /** Bounds of the exponential backoff of background refreshes after a failure (default 1 to 300). */
  refreshBackoff: { minSeconds: number; maxSeconds: number };
  /** Time limit of one request to the issuer (default 5). */
  fetchTimeoutSeconds: number;
}

const KEYS = [
  "issuer",
  "audience",
  "scopes",
  "jwksCacheTtlSeconds",
  "clockLeewaySeconds",
  "requiredAlgorithms",
  "discoveryUrl",
  "jwksRefetchIntervalSeconds",
  "refreshBackoff",
  "fetchTimeoutSeconds",
] as const;

/** A scope token as RFC 6749 section 3.3 allows it: printable ASCII but space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Whether a URL's host is this machine: the only case where http is allowed. */
function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Whether `text` is a URL the authenticator may fetch or trust: https, or http on a loopback
 * host (a local IdP for development and tests); never with credentials or a fragment.
 */
export function isAcceptableIdpUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username || url.password || url.hash) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url));
}

/**
 * Parses and checks `auth.yaml` (docs/serve-auth.md gives every key).
 * @param text the file's text; `file` names it in errors
 * @returns the configuration with defaults filled in
 * @throws ProofError (exit 6) located at the key or value: `yaml.*` (YAML errors),
 *   `auth.unknown_key`, `auth.missing_key`, `auth.wrong_type`, `auth.invalid_value` (a scope
 *   that is not a scope token, a route that takes no token, an algorithm that is not asymmetric,
 *   backoff bounds in the wrong order, a non-positive time), `auth.insecure_url` (an issuer,
 *   discovery URL that is neither https nor http on a loopback host).
 */
export function parseAuthConfig(text: string, file: string): AuthConfig {
  const parsed = parseYaml(text, file);
  const root = parsed.value;
  if (root === null || typeof root !== "object" || Array.isArray(root)) {
    throw inputError("auth.wrong_type", "auth.yaml must be a mapping of keys (issuer, audience, ...)", {
      file,
      line: 1,
      column: 1,
    });
  }
  const doc = root as Record<string, unknown>;
  const at = (path: (string | number)[], key?: string): SourceLocation => locate(parsed, path, key);
  for (const key of Object.keys(doc)) {
    if (!(KEYS as readonly string[]).includes(key)) {
      throw inputError(
        "auth.unknown_key",
        `unknown key '${key}' in auth.yaml`,
        at([], key),
        `the keys are ${KEYS.join(", ")}`,
      );
    }
  }
  for (const key of ["issuer", "audience"] as const) {
    if (doc[key] === undefined || doc[key] === null)
      throw inputError("auth.missing_key", `auth.yaml needs '${key}'`, { file, line: 1, column: 1 });
  }
  const issuer = url(parsed, doc, "issuer") as string;
  const audience = stringList(parsed, doc.audience, ["audience"], "audience");
  if (audience.length === 0)
    throw inputError("auth.invalid_value", "audience must name at least one value", at(["audience"]));
  const discoveryUrl = doc.discoveryUrl === undefined ? undefined : url(parsed, doc, "discoveryUrl");
  const scopes: Record<ProtectedRoute, string[]> = Object.fromEntries(
    PROTECTED_ROUTES.map((r) => [r, [...DEFAULT_ROUTE_SCOPES[r]]]),
  ) as Record<ProtectedRoute, string[]>;
  if (doc.scopes !== undefined) {
    const given = doc.scopes;
    if (given === null || typeof given !== "object" || Array.isArray(given)) {
      throw inputError("auth.wrong_type", "scopes must be a mapping of route to scopes", at(["scopes"]));
    }
    for (const [route, value] of Object.entries(given as Record<string, unknown>)) {
      if (!(PROTECTED_ROUTES as readonly string[]).includes(route)) {
        const never = route === "/healthz" || route === "/readyz";
        throw inputError(
          "auth.invalid_value",
          never
            ? `${route} is never authenticated: it takes no scopes`
            : `unknown route '${route}' in scopes`,
          at(["scopes"], route),
          `the routes are ${PROTECTED_ROUTES.join(", ")}`,
        );
      }
      const list =
        typeof value === "string"
          ? value.split(" ").filter((s) => s !== "")
          : stringList(parsed, value ?? [], ["scopes", route], `scopes of ${route}`);
      for (const scope of list) {
        if (!SCOPE_TOKEN.test(scope)) {
          throw inputError(
            "auth.invalid_value",
            `'${scope}' is not a valid OAuth scope`,
            at(["scopes", route]),
          );
        }
      }
      scopes[route as ProtectedRoute] = list;
    }
  }
  let algorithms: string[] = [...ASYMMETRIC_ALGORITHMS];
  if (doc.requiredAlgorithms !== undefined) {
    algorithms = stringList(parsed, doc.requiredAlgorithms, ["requiredAlgorithms"], "requiredAlgorithms");
    for (const [i, alg] of algorithms.entries()) {
      if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
        throw inputError(
          "auth.invalid_value",
          `algorithm '${alg}' is not accepted: only asymmetric signatures are`,
          at(["requiredAlgorithms", i]),
          `choose among ${ASYMMETRIC_ALGORITHMS.join(", ")}`,
        );
      }
    }
    if (algorithms.length === 0)
      throw inputError(
        "auth.invalid_value",
        "requiredAlgorithms must name at least one",
        at(["requiredAlgorithms"]),
      );
  }
  let refreshBackoff = { minSeconds: 1, maxSeconds: 300 };
  if (doc.refreshBackoff !== undefined) {
    const b = doc.refreshBackoff;
    if (b === null || typeof b !== "object" || Array.isArray(b)) {
      throw inputError(
        "auth.wrong_type",
        "refreshBackoff must be a mapping with minSeconds and maxSeconds",
        at(["refreshBackoff"]),
      );
    }
    for (const key of Object.keys(b)) {
      if (key !== "minSeconds" && key !== "maxSeconds") {
        throw inputError(
          "auth.unknown_key",
          `unknown key '${key}' in refreshBackoff`,
          at(["refreshBackoff"], key),
          "the keys are minSeconds, maxSeconds",
        );
      }
    }
    const nested = b as Record<string, unknown>;
    refreshBackoff = {
      minSeconds: seconds(parsed, nested, ["refreshBackoff"], "minSeconds", 1),
      maxSeconds: seconds(parsed, nested, ["refreshBackoff"], "maxSeconds", 300),
    };
    if (refreshBackoff.maxSeconds < refreshBackoff.minSeconds) {
      throw inputError(
        "auth.invalid_value",
        "refreshBackoff.maxSeconds must not be less than minSeconds",
        at(["refreshBackoff", "maxSeconds"]),
      );
    }
  }
  const config: AuthConfig = {
    issuer,
    audience,
    scopes,
    jwksCacheTtlSeconds: seconds(parsed, doc, [], "jwksCacheTtlSeconds", 600),
    clockLeewaySeconds: seconds(parsed, doc, [], "clockLeewaySeconds", 30, true),
    algorithms,
    jwksRefetchIntervalSeconds: seconds(parsed, doc, [], "jwksRefetchIntervalSeconds", 30, true),
    refreshBackoff,
    fetchTimeoutSeconds: seconds(parsed, doc, [], "fetchTimeoutSeconds", 5),
  };
  if (discoveryUrl !== undefined) config.discoveryUrl = discoveryUrl;
  return config;
}

/** A URL value that must be https or http on a loopback host. */
function url(parsed: ParsedYaml, doc: Record<string, unknown>, key: string): string {
  const value = doc[key];
  const where = locate(parsed, [key]);
  if (typeof value !== "string") throw inputError("auth.wrong_type", `${key} must be a URL string`, where);
  if (!isAcceptableIdpUrl(value)) {
    throw inputError(
      "auth.insecure_url",
      `${key} '${value}' must be an https URL (http is allowed only for localhost, 127.0.0.0/8 and [::1]), without credentials or fragment`,
      where,
    );
  }
  return value;
}

/** A string, or a list of strings, as a list. */
function stringList(parsed: ParsedYaml, value: unknown, path: (string | number)[], what: string): string[] {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) {
    throw inputError(
      "auth.wrong_type",
      `${what} must be a string or a list of strings`,
      locate(parsed, path),
    );
  }
  return value.map((v, i) => {
    if (typeof v !== "string" || v === "")
      throw inputError(
        "auth.wrong_type",
        `${what} must hold non-empty strings`,
        locate(parsed, [...path, i]),
      );
    return v;
  });
}

/** A number of seconds: positive (or zero when `zero` allows), finite. */
function seconds(
  parsed: ParsedYaml,
  doc: Record<string, unknown>,
  path: string[],
  key: string,
  fallback: number,
  zero = false,
): number {
  const value = doc[key];
  if (value === undefined) return fallback;
  const where = locate(parsed, [...path, key]);
  if (typeof value !== "number" || !Number.isFinite(value))
    throw inputError("auth.wrong_type", `${key} must be a number of seconds`, where);
  if (value < 0 || (!zero && value === 0))
    throw inputError(
      "auth.invalid_value",
      `${key} must be ${zero ? "zero or more" : "more than zero"}`,
      where,
    );
  return value;
}

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /**
   * Counts every fetch of the issuer's keys: "ok" or "error". Refusals are not counted here: the
   * server counts each refusal it sends (`authFailure`), so a sink with both may be given.
   */
  metrics?: Pick<ServeMetricsSink, "jwksRefresh">;
  /** The `fetch` used for discovery and JWKS (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /**
   * The clock for token times and the refetch rate limit, in milliseconds since 1970 (default
   * `Date.now`). Background refreshes run on real timers.
   */
  now?: () => number;
  /** Where warnings go: an unreachable issuer, keys left out of the JWKS (default: standard error). */
  warn?: (message: string) => void;
}

/** The issuer's keys could not be used for a token: none fits, and whether the IdP answered. */
class NoKeyError extends Error {
  constructor(readonly idpDown: boolean) {
    super("no signing key fits the token");
  }
}

/** Bound on a discovery document or JWKS body, far above any real one. */
const MAX_IDP_BODY = 1024 * 1024;
/** Bound on a bearer token: real access tokens are a few KiB. */
const MAX_TOKEN_CHARS = 16 * 1024;
/** `b64token` of RFC 6750 section 2.1. */
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;

/**
 * A {@link RequestAuthenticator} for `config`. Keys: the first `start()` (or the first token)
 * fetches the discovery document (`discoveryUrl`, else
 * `<issuer>/.well-known/openid-configuration`, then the RFC 8414 location
 * `/.well-known/oauth-authorization-server<issuer path>`), checks its `issuer`, and fetches its
 * `jwks_uri`. Keys are used for `jwksCacheTtlSeconds`, then refreshed in the background; a
 * failed refresh keeps the keys it has and retries with exponential backoff between the
 * `refreshBackoff` bounds. A token whose `kid` is unknown fetches the keys again at once (key
 * rotation), at most once per `jwksRefetchIntervalSeconds`, concurrent ones sharing one fetch.
 * Tokens: a `Bearer` JWT signed with one of `config.algorithms`, with `iss` equal to the issuer,
 * an `aud` in the audience, an `exp` (and `nbf` if present) within `clockLeewaySeconds`; its
 * scopes come from `scope` (space-separated) or `scp` (list or space-separated) and must include
 * every scope the route needs.
 * @returns outcomes as in src/serve/types.ts: 401 (`missing_token` without an error code, as
 *   RFC 6750 section 3.1 asks; `malformed_token`, `bad_signature`, `unknown_key`, `expired`,
 *   `not_yet_valid`, `wrong_issuer`, `wrong_audience` with `error="invalid_token"`), 403
 *   (`missing_scope`, `error="insufficient_scope"` and the needed `scope`), 503
 *   (`idp_unavailable`: no cached key fits and the issuer cannot be reached; `retryAfter` is the
 *   time to the next background attempt). `authenticate` never throws.
 */
export function createAuthenticator(
  config: AuthConfig,
  options: AuthenticatorOptions = {},
): RequestAuthenticator {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const warn = options.warn ?? ((m: string) => process.stderr.write(`proof serve: ${m}\n`));
  let local: ReturnType<typeof createLocalJWKSet> | undefined;
  let jwksUri: string | undefined;
  let lastFetchFailed = false;
  let failures = 0;
  let lastKidRefetch = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let nextAttemptAt = Date.now();
  let closed = false;

  const getJson = async (target: string, what: string): Promise<{ status: number; body?: unknown }> => {
    const res = await fetchFn(target, {
      headers: { accept: "application/json" },
      redirect: "error",
      signal: AbortSignal.timeout(config.fetchTimeoutSeconds * 1000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return { status: res.status };
    }
    const text = await res.text();
    if (text.length > MAX_IDP_BODY) throw new Error(`${what} at ${target} is larger than 1 MiB`);
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      throw new Error(`${what} at ${target} is not JSON`);
    }
  };

  const discover = async (): Promise<string> => {
    const issuerUrl = new URL(config.issuer);
    const path = issuerUrl.pathname === "/" ? "" : issuerUrl.pathname.replace(/\/$/, "");
    const candidates = config.discoveryUrl
      ? [config.discoveryUrl]
      : [
          `${config.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`,
          `${issuerUrl.origin}/.well-known/oauth-authorization-server${path}`,
        ];
    for (const candidate of candidates) {
      const { status, body } = await getJson(candidate, "the discovery document");
      if (status === 404 && candidate !== candidates.at(-1)) continue;
      if (body === undefined)
        throw new Error(`the discovery document at ${candidate} answered HTTP ${status}`);
      const doc = body as { issuer?: unknown; jwks_uri?: unknown };
      if (doc.issuer !== config.issuer) {
        throw new Error(
          `the discovery document at ${candidate} names issuer ${JSON.stringify(doc.issuer)}, not ${config.issuer}`,
        );
      }
      if (typeof doc.jwks_uri !== "string" || !isAcceptableIdpUrl(doc.jwks_uri))
        throw new Error(`the discovery document at ${candidate} has no https jwks_uri`);
      return doc.jwks_uri;
    }
    throw new Error("no discovery document found");
  };

  /** The usable signing keys of a JWKS: public, for signatures, of an accepted kind. */
  const usableKeys = (body: unknown, source: string): JSONWebKeySet => {
    const keys = (body as { keys?: unknown })?.keys;
    if (!Array.isArray(keys)) throw new Error(`the JWKS at ${source} has no keys list`);
    const kept: JWK[] = [];
    for (const k of keys as JWK[]) {
      const label = `key ${JSON.stringify(k?.kid ?? "(no kid)")}`;
      if (k === null || typeof k !== "object") continue;
      if (k.kty === "oct") warn(`JWKS at ${source}: ${label} is a symmetric key, left out`);
      else if ("d" in k) warn(`JWKS at ${source}: ${label} holds a private key, left out`);
      else if (k.use !== undefined && k.use !== "sig") continue;
      else kept.push(k);
    }
    if (kept.length === 0) throw new Error(`the JWKS at ${source} holds no public signing key`);
    return { keys: kept };
  };

  const schedule = (delayMs: number): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    nextAttemptAt = Date.now() + delayMs;
    timer = setTimeout(() => void refresh(), delayMs);
    timer.unref();
  };

  const fetchKeys = async (): Promise<void> => {
    try {
      jwksUri ??= await discover();
      const { status, body } = await getJson(jwksUri, "the JWKS");
      if (body === undefined) throw new Error(`the JWKS at ${jwksUri} answered HTTP ${status}`);
      local = createLocalJWKSet(usableKeys(body, jwksUri));
      if (lastFetchFailed) warn(`signing keys fetched again from ${config.issuer}`);
      lastFetchFailed = false;
      failures = 0;
      options.metrics?.jwksRefresh("ok");
      schedule(config.jwksCacheTtlSeconds * 1000);
    } catch (err) {
      // Discovery again next time: a rotation may have moved the JWKS.
      jwksUri = undefined;
      lastFetchFailed = true;
      failures++;
      options.metrics?.jwksRefresh("error");
      const { minSeconds, maxSeconds } = config.refreshBackoff;
      const delay = Math.min(maxSeconds, minSeconds * 2 ** Math.min(failures - 1, 30));
      const cause = (err as Error).name === "TimeoutError" ? "timed out" : (err as Error).message;
      warn(
        `cannot fetch signing keys of ${config.issuer}: ${cause}; ${local ? "cached keys stay in use, " : ""}retrying in ${delay} s`,
      );
      schedule(delay * 1000);
    }
  };

  const refresh = (): Promise<void> => {
    if (closed) return Promise.resolve();
    inflight ??= fetchKeys().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };

  const tryLocal: JWTVerifyGetKey = async (header, token) => {
    if (!local) throw new errors.JWKSNoMatchingKey();
    return local(header, token);
  };

  const resolver: JWTVerifyGetKey = async (header, token) => {
    try {
      return await tryLocal(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
    }
    if (inflight) await inflight;
    else if (now() - lastKidRefetch >= config.jwksRefetchIntervalSeconds * 1000) {
      lastKidRefetch = now();
      await refresh();
    }
    try {
      return await tryLocal(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      throw new NoKeyError(lastFetchFailed);
    }
  };

  /**
   * Verifies signature and claims. Several keys may fit a token (no `kid`, or a `kid` reused
   * across a rotation): jose then hands them over one by one, and the first that verifies wins.
   */
  const verify = async (token: string) => {
    const claims = {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockTolerance: config.clockLeewaySeconds,
      currentDate: new Date(now()),
      requiredClaims: ["exp"],
    };
    try {
      return await jwtVerify(token, resolver, claims);
    } catch (err) {
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      let last: unknown = new errors.JWSSignatureVerificationFailed();
      for await (const key of err) {
        try {
          return await jwtVerify(token, key, claims);
        } catch (e) {
          if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
          last = e;
        }
      }
      throw last;
    }
  };

  const authenticate = async (authorization: string | undefined, route: ServeRoute): Promise<AuthOutcome> => {
    if (
      authorization === undefined ||
      authorization.trim() === "" ||
      !/^bearer(\s|$)/i.test(authorization.trim())
    ) {
      return {
        ok: false,
        status: 401,
        reason: "missing_token",
        message: "this route needs a bearer token: send 'Authorization: Bearer <access token>'",
        wwwAuthenticate: 'Bearer realm="proof"',
      };
    }
    const m = BEARER.exec(authorization);
    if (!m || (m[1] as string).length > MAX_TOKEN_CHARS)
      return invalid("malformed_token", "the bearer token is not a well-formed JWT");
    const token = m[1] as string;
    let payload: JWTPayload;
    try {
      ({ payload } = await verify(token));
    } catch (err) {
      return refusal(err);
    }
    const granted = tokenScopes(payload);
    const needed = (config.scopes as Partial<Record<ServeRoute, string[]>>)[route] ?? [];
    const missing = needed.filter((s) => !granted.includes(s));
    if (missing.length > 0) {
      const scope = needed.join(" ");
      return {
        ok: false,
        status: 403,
        reason: "missing_scope",
        message: `the token lacks the scope ${missing.join(", ")} that ${route} needs`,
        wwwAuthenticate: `${challenge("insufficient_scope", `the token lacks the scope ${missing.join(" ")}`)}, scope="${scope}"`,
      };
    }
    const subject =
      typeof payload.sub === "string"
        ? payload.sub
        : typeof payload.client_id === "string"
          ? payload.client_id
          : undefined;
    return subject === undefined ? { ok: true, scopes: granted } : { ok: true, subject, scopes: granted };
  };

  const refusal = (err: unknown): AuthOutcome => {
    if (err instanceof NoKeyError) {
      if (err.idpDown) {
        return {
          ok: false,
          status: 503,
          reason: "idp_unavailable",
          message: "the token's signing key is not known and the issuer cannot be reached; try again later",
          retryAfter: Math.max(1, Math.ceil((nextAttemptAt - Date.now()) / 1000)),
        };
      }
      return invalid("unknown_key", "the token is signed with a key the issuer does not publish");
    }
    if (err instanceof errors.JWTExpired) return invalid("expired", "the token has expired");
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === "nbf") return invalid("not_yet_valid", "the token is not valid yet (nbf)");
      if (err.claim === "iss") return invalid("wrong_issuer", "the token was issued by another issuer");
      if (err.claim === "aud") return invalid("wrong_audience", "the token is meant for another audience");
      if (err.reason === "missing") return invalid("malformed_token", `the token has no ${err.claim} claim`);
      return invalid("malformed_token", `the token's ${err.claim} claim is not valid`);
    }
    if (err instanceof errors.JWSSignatureVerificationFailed)
      return invalid("bad_signature", "the token's signature does not verify");
    if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
      return invalid("malformed_token", "the token's signing algorithm is not accepted");
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid)
      return invalid("malformed_token", "the bearer token is not a well-formed JWT");
    return invalid("bad_signature", "the token could not be verified");
  };

  return {
    authenticate: async (authorization, route) => {
      try {
        return await authenticate(authorization, route);
      } catch {
        // The contract is never to throw; a failure here is refused, never let through.
        return invalid("bad_signature", "the token could not be verified");
      }
    },
    ready: () => local !== undefined,
    start: async () => {
      if (!local) await refresh();
    },
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** A 401 refusal with `error="invalid_token"`. */
function invalid(reason: AuthFailureReason, message: string): AuthOutcome {
  return { ok: false, status: 401, reason, message, wwwAuthenticate: challenge("invalid_token", message) };
}

/**
 * A `Bearer` challenge with an error code and description (RFC 6750 section 3): the
 * description may hold only printable ASCII but `"` and `\`, which are replaced.
 */
function challenge(error: string, description: string): string {
  const safe = description.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, "'");
  return `Bearer realm="proof", error="${error}", error_description="${safe}"`;
}

/**
 * The scopes a token grants: `scope`, a space-separated string (RFC 9068 section 2.2.3, RFC 8693
 * section 4.2), or `scp`, a list or a space-separated string as some IdPs write it.
 */
export function tokenScopes(payload: JWTPayload): string[] {
  const out = new Set<string>();
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === "string") for (const s of claim.split(" ")) if (s) out.add(s);
    if (Array.isArray(claim)) for (const s of claim) if (typeof s === "string" && s) out.add(s);
  }
  return [...out];
}
