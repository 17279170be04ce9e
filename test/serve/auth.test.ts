/**
 * OAuth2 bearer-token authentication of `proof serve` (src/serve/auth.ts) against a real
 * authorization server in process (oidc-provider, client-credentials grant, JWT access tokens
 * with the audience from a resource indicator).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeJwt, importJWK, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { type AuthConfig, createAuthenticator, parseAuthConfig, tokenScopes } from "../../src/serve/auth.js";
import type { AuthOutcome, RequestAuthenticator } from "../../src/serve/types.js";
import { ROOT } from "../e2e/cli.js";
import { API_AUDIENCE, countingFetch, signingKey, startIdp, type TestIdp } from "../helpers/idp.js";

function thrown(f: () => unknown): ProofError {
  try {
    f();
  } catch (err) {
    if (err instanceof ProofError) return err;
    throw err;
  }
  throw new Error("expected a ProofError");
}

describe("parseAuthConfig", () => {
  it("fills in the defaults and takes an audience given as one string", () => {
    const c = parseAuthConfig(
      "issuer: https://idp.example.com/realms/x\naudience: https://proof.example.com\n",
      "auth.yaml",
    );
    expect(c.issuer).toBe("https://idp.example.com/realms/x");
    expect(c.audience).toEqual(["https://proof.example.com"]);
    expect(c.scopes).toEqual({
      "/v1/verify": ["verify:run"],
      "/v1/check": ["verify:run"],
      "/v1/compile": ["policy:compile"],
      "/v1/policies": ["policy:read"],
      "/v1/adapt": ["policy:read"],
      "/metrics": [],
    });
    expect(c.jwksCacheTtlSeconds).toBe(600);
    expect(c.clockLeewaySeconds).toBe(30);
    expect(c.jwksRefetchIntervalSeconds).toBe(30);
    expect(c.refreshBackoff).toEqual({ minSeconds: 1, maxSeconds: 300 });
    expect(c.algorithms).not.toContain("HS256");
    expect(c.discoveryUrl).toBeUndefined();
  });

  it("takes every key", () => {
    const c = parseAuthConfig(
      [
        "issuer: https://idp.example.com",
        "audience: [a, b]",
        "scopes:",
        '  /metrics: "metrics:read"',
        "  /v1/verify: [verify:run, extra]",
        "  /v1/policies: []",
        "jwksCacheTtlSeconds: 60",
        "clockLeewaySeconds: 0",
        "requiredAlgorithms: [ES256]",
        "discoveryUrl: https://idp.example.com/custom/.well-known/openid-configuration",
        "jwksRefetchIntervalSeconds: 5",
        "refreshBackoff: {minSeconds: 2, maxSeconds: 20}",
        "fetchTimeoutSeconds: 3",
      ].join("\n"),
      "auth.yaml",
    );
    expect(c.audience).toEqual(["a", "b"]);
    expect(c.scopes["/metrics"]).toEqual(["metrics:read"]);
    expect(c.scopes["/v1/verify"]).toEqual(["verify:run", "extra"]);
    expect(c.scopes["/v1/policies"]).toEqual([]);
    expect(c.scopes["/v1/check"]).toEqual(["verify:run"]);
    expect(c.algorithms).toEqual(["ES256"]);
    expect(c.clockLeewaySeconds).toBe(0);
    expect(c.refreshBackoff).toEqual({ minSeconds: 2, maxSeconds: 20 });
    expect(c.fetchTimeoutSeconds).toBe(3);
    expect(c.discoveryUrl).toMatch(/custom/);
  });

  it("allows http for a loopback issuer only", () => {
    expect(parseAuthConfig("issuer: http://127.0.0.1:8080\naudience: a\n", "a.yaml").issuer).toBe(
      "http://127.0.0.1:8080",
    );
    expect(parseAuthConfig("issuer: http://localhost:9\naudience: a\n", "a.yaml").issuer).toBe(
      "http://localhost:9",
    );
    const e = thrown(() => parseAuthConfig("audience: a\nissuer: http://idp.example.com\n", "a.yaml"));
    expect(e.code).toBe("auth.insecure_url");
    expect(e.exitCode).toBe(6);
    expect(e.location).toEqual({ file: "a.yaml", line: 2, column: 9 });
  });

  it.each([
    ["issuer: https://i\naudience: a\nissuerr: x\n", "auth.unknown_key", 3, 1],
    ["issuer: https://i\naudience: 3\n", "auth.wrong_type", 2, 11],
    ["issuer: https://i\n", "auth.missing_key", 1, 1],
    ["issuer: https://i\naudience: a\nscopes:\n  /healthz: x\n", "auth.invalid_value", 4, 3],
    ["issuer: https://i\naudience: a\nscopes:\n  /v2/verify: x\n", "auth.invalid_value", 4, 3],
    ['issuer: https://i\naudience: a\nscopes:\n  /v1/verify: ["a\\"b"]\n', "auth.invalid_value", 4, 15],
    ["issuer: https://i\naudience: a\nrequiredAlgorithms: [ES256, HS256]\n", "auth.invalid_value", 3, 29],
    ["issuer: https://i\naudience: a\njwksCacheTtlSeconds: 0\n", "auth.invalid_value", 3, 22],
    ["issuer: https://i\naudience: a\nclockLeewaySeconds: ten\n", "auth.wrong_type", 3, 21],
    [
      "issuer: https://i\naudience: a\nrefreshBackoff: {minSeconds: 5, maxSeconds: 1}\n",
      "auth.invalid_value",
      3,
      45,
    ],
    ["issuer: https://i\naudience: a\nrefreshBackoff: {min: 5}\n", "auth.unknown_key", 3, 18],
    ["issuer: https://user:pw@i\naudience: a\n", "auth.insecure_url", 1, 9],
    ["- a\n", "auth.wrong_type", 1, 1],
  ])("refuses %j with %s at its line and column", (text, code, line, column) => {
    const e = thrown(() => parseAuthConfig(text, "auth.yaml"));
    expect(e.code).toBe(code);
    expect(e.category).toBe("input");
    expect(e.location).toEqual({ file: "auth.yaml", line, column });
  });
});

describe("the test IdP stays in the tests", () => {
  it("no source file imports oidc-provider", () => {
    const offenders = readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .filter((f) => readFileSync(join(ROOT, "src", f), "utf8").includes("oidc-provider"));
    expect(offenders).toEqual([]);
  });
});

describe("tokenScopes", () => {
  it("reads scope as a space-separated string and scp as a list or a string", () => {
    expect(tokenScopes({ scope: "a b  c" })).toEqual(["a", "b", "c"]);
    expect(tokenScopes({ scp: ["a", "b"] })).toEqual(["a", "b"]);
    expect(tokenScopes({ scp: "a b" })).toEqual(["a", "b"]);
    expect(tokenScopes({})).toEqual([]);
  });
});

/** The config of an authenticator for `idp`, with short backoff so recovery tests are quick. */
function configFor(idp: TestIdp, extra: Partial<AuthConfig> = {}): AuthConfig {
  return {
    ...parseAuthConfig(`issuer: ${idp.issuer}\naudience: ${API_AUDIENCE}\n`, "auth.yaml"),
    refreshBackoff: { minSeconds: 0.05, maxSeconds: 0.2 },
    ...extra,
  };
}

/** Signs a JWT with `key` (a private JWK), as the IdP would, with chosen claims. */
async function mint(
  key: JWK,
  issuer: string,
  claims: Record<string, unknown>,
  kid: string | null = key.kid ?? null,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    scope: "verify:run",
    iss: issuer,
    aud: API_AUDIENCE,
    iat: now,
    exp: now + 3600,
    ...claims,
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", ...(kid === null ? {} : { kid }) })
    .sign(await importJWK(key, "ES256"));
}

function refused(outcome: AuthOutcome): Extract<AuthOutcome, { ok: false }> {
  if (outcome.ok) throw new Error("expected a refusal");
  return outcome;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting: ${what}`);
}

describe("createAuthenticator against a real IdP", () => {
  let idp: TestIdp;
  let clock = Date.now();
  const metrics: string[] = [];
  const warnings: string[] = [];
  let auth: RequestAuthenticator;
  const counter = countingFetch();

  beforeAll(async () => {
    // Tokens live an hour: the tests move the authenticator's clock by minutes.
    idp = await startIdp({ ttlSeconds: 3600 });
    auth = createAuthenticator(configFor(idp), {
      fetch: counter.fetch,
      now: () => clock,
      metrics: { jwksRefresh: (o) => metrics.push(o) },
      warn: (m) => warnings.push(m),
    });
    expect(auth.ready()).toBe(false);
    await auth.start();
  });
  afterAll(async () => {
    auth.close();
    await idp.close();
  });

  it("loads the keys through discovery and is ready", () => {
    expect(auth.ready()).toBe(true);
    expect(metrics).toEqual(["ok"]);
    expect(counter.jwks()).toBe(1);
  });

  it("accepts a valid access token and reports its subject and scopes", async () => {
    const token = await idp.token("verify:run policy:read");
    const outcome = await auth.authenticate(`Bearer ${token}`, "/v1/verify");
    expect(outcome).toEqual({ ok: true, subject: "proof-ci", scopes: ["verify:run", "policy:read"] });
    expect((await auth.authenticate(`bearer ${token}`, "/v1/policies")).ok).toBe(true);
  });

  it("answers a missing token with a challenge without an error code (RFC 6750 3.1)", async () => {
    for (const header of [undefined, "", "Basic dXNlcjpwYXNz"]) {
      const r = refused(await auth.authenticate(header, "/v1/verify"));
      expect(r.status).toBe(401);
      expect(r.reason).toBe("missing_token");
      expect(r.wwwAuthenticate).toBe('Bearer realm="proof"');
    }
  });

  it("refuses a malformed token as invalid_token", async () => {
    const huge = `Bearer ${"a".repeat(20_000)}.${"b".repeat(10)}.${"c".repeat(10)}`;
    for (const header of ["Bearer", "Bearer not-a-jwt", "Bearer a.b.c", "Bearer a b", huge, "Bearer é.b.c"]) {
      const r = refused(await auth.authenticate(header, "/v1/verify"));
      expect([r.status, r.reason]).toEqual([401, "malformed_token"]);
      expect(r.wwwAuthenticate).toMatch(
        /^Bearer realm="proof", error="invalid_token", error_description="[^"]+"$/,
      );
    }
  });

  it("refuses an expired token, and accepts one within the clock leeway", async () => {
    const token = await idp.token("verify:run");
    const saved = clock;
    try {
      const exp = (decodeJwt(token).exp as number) * 1000;
      clock = exp + 20_000;
      expect((await auth.authenticate(`Bearer ${token}`, "/v1/verify")).ok).toBe(true);
      clock = exp + 31_000;
      const r = refused(await auth.authenticate(`Bearer ${token}`, "/v1/verify"));
      expect([r.status, r.reason]).toEqual([401, "expired"]);
      expect(r.wwwAuthenticate).toContain('error="invalid_token"');
    } finally {
      clock = saved;
    }
  });

  it("refuses a token that is not valid yet, or has no expiry", async () => {
    const early = await mint(idp.key, idp.issuer, { nbf: Math.floor(Date.now() / 1000) + 120 });
    expect(refused(await auth.authenticate(`Bearer ${early}`, "/v1/verify")).reason).toBe("not_yet_valid");
    const now = Math.floor(Date.now() / 1000);
    const forever = await new SignJWT({ scope: "verify:run" })
      .setProtectedHeader({ alg: "ES256", kid: idp.key.kid as string })
      .setIssuer(idp.issuer)
      .setAudience(API_AUDIENCE)
      .setIssuedAt(now)
      .sign(await importJWK(idp.key, "ES256"));
    const r = refused(await auth.authenticate(`Bearer ${forever}`, "/v1/verify"));
    expect([r.status, r.reason, r.message]).toEqual([401, "malformed_token", "the token has no exp claim"]);
  });

  it("refuses a token of another issuer signed with the same key", async () => {
    const other = await startIdp({ key: idp.key });
    try {
      const token = await other.token("verify:run");
      const r = refused(await auth.authenticate(`Bearer ${token}`, "/v1/verify"));
      expect([r.status, r.reason]).toEqual([401, "wrong_issuer"]);
    } finally {
      await other.close();
    }
  });

  it("refuses a token for another audience", async () => {
    const token = await idp.token("verify:run", "https://other.test/api");
    const r = refused(await auth.authenticate(`Bearer ${token}`, "/v1/verify"));
    expect([r.status, r.reason]).toEqual([401, "wrong_audience"]);
  });

  it("refuses a token whose signature does not verify", async () => {
    const token = await idp.token("verify:run");
    const [h, p, s] = token.split(".") as [string, string, string];
    const flipped = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
    expect(refused(await auth.authenticate(`Bearer ${flipped}`, "/v1/verify")).reason).toBe("bad_signature");
    // Signed by a foreign key that claims the IdP's kid.
    const forged = await mint(await signingKey(idp.key.kid as string), idp.issuer, {});
    expect(refused(await auth.authenticate(`Bearer ${forged}`, "/v1/verify")).reason).toBe("bad_signature");
  });

  it("refuses symmetric algorithms without fetching keys", async () => {
    const before = counter.all();
    const hs = await new SignJWT({ scope: "verify:run" })
      .setProtectedHeader({ alg: "HS256", kid: "ghost" })
      .setIssuer(idp.issuer)
      .setAudience(API_AUDIENCE)
      .setExpirationTime("1m")
      .sign(new TextEncoder().encode("a-shared-secret-of-at-least-32-bytes!!"));
    const r = refused(await auth.authenticate(`Bearer ${hs}`, "/v1/verify"));
    expect([r.status, r.reason]).toEqual([401, "malformed_token"]);
    expect(counter.all()).toBe(before);
  });

  it("answers 403 insufficient_scope naming the scope the route needs", async () => {
    const token = await idp.token("policy:read");
    const r = refused(await auth.authenticate(`Bearer ${token}`, "/v1/verify"));
    expect([r.status, r.reason]).toEqual([403, "missing_scope"]);
    expect(r.wwwAuthenticate).toMatch(
      /^Bearer realm="proof", error="insufficient_scope", error_description="[^"]+", scope="verify:run"$/,
    );
    expect((await auth.authenticate(`Bearer ${token}`, "/v1/adapt")).ok).toBe(true);
    // /metrics needs no scope unless configured.
    expect((await auth.authenticate(`Bearer ${token}`, "/metrics")).ok).toBe(true);
    const scp = await mint(idp.key, idp.issuer, { scope: undefined, scp: ["policy:compile"] });
    expect((await auth.authenticate(`Bearer ${scp}`, "/v1/compile")).ok).toBe(true);
  });

  it("never puts the token in a message or a challenge", async () => {
    const good = await idp.token("policy:read");
    const expired = await mint(idp.key, idp.issuer, { exp: Math.floor(Date.now() / 1000) - 600 });
    for (const token of [good, expired, `${good}x`, "abc.def.ghi"]) {
      const outcome = await auth.authenticate(`Bearer ${token}`, "/v1/verify");
      const text = JSON.stringify(outcome);
      expect(outcome.ok).toBe(false);
      for (const part of token.split(".")) expect(text).not.toContain(part);
    }
    expect(warnings.join("\n")).not.toContain(good.split(".")[2]);
  });

  it("fetches the keys again once for an unknown kid, at most once per interval", async () => {
    const ghost = await signingKey("ghost");
    const before = counter.jwks();
    clock += 31_000;
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => mint(ghost, idp.issuer, { jti: `t${i}` })),
    );
    const outcomes = await Promise.all(tokens.map((t) => auth.authenticate(`Bearer ${t}`, "/v1/verify")));
    for (const t of tokens) outcomes.push(await auth.authenticate(`Bearer ${t}`, "/v1/verify"));
    expect(new Set(outcomes.map((o) => refused(o).reason))).toEqual(new Set(["unknown_key"]));
    expect(outcomes.every((o) => !o.ok && o.status === 401)).toBe(true);
    expect(counter.jwks()).toBe(before + 1);
    clock += 29_000;
    await auth.authenticate(`Bearer ${tokens[0]}`, "/v1/verify");
    expect(counter.jwks()).toBe(before + 1);
    clock += 1_000;
    await auth.authenticate(`Bearer ${tokens[0]}`, "/v1/verify");
    expect(counter.jwks()).toBe(before + 2);
  });

  it("follows a key rotation: the new kid is fetched, the old key stops working", async () => {
    const old = await idp.token("verify:run");
    clock += 31_000;
    await idp.rotate("k2");
    const before = counter.jwks();
    const fresh = await idp.token("verify:run");
    expect((await auth.authenticate(`Bearer ${fresh}`, "/v1/verify")).ok).toBe(true);
    expect(counter.jwks()).toBe(before + 1);
    const r = refused(await auth.authenticate(`Bearer ${old}`, "/v1/verify"));
    expect([r.status, r.reason]).toEqual([401, "unknown_key"]);
  });

  it("keeps cached keys while the IdP is down, and answers 503 for a key it cannot fetch", async () => {
    const known = await idp.token("verify:run");
    const next = await signingKey("k3");
    const unknown = await mint(next, idp.issuer, {});
    await idp.stop();
    try {
      clock += 31_000;
      expect((await auth.authenticate(`Bearer ${known}`, "/v1/verify")).ok).toBe(true);
      const r = refused(await auth.authenticate(`Bearer ${unknown}`, "/v1/verify"));
      expect([r.status, r.reason]).toEqual([503, "idp_unavailable"]);
      expect(r.retryAfter).toBeGreaterThanOrEqual(1);
      expect(r.wwwAuthenticate).toBeUndefined();
      expect(metrics).toContain("error");
      expect(auth.ready()).toBe(true);
      expect(warnings.some((w) => w.includes("cannot fetch signing keys"))).toBe(true);
    } finally {
      await idp.resume();
    }
  });
});

describe("createAuthenticator when the IdP is unreachable at start", () => {
  it("is not ready, fails closed with 503, and recovers in the background when the IdP is back", async () => {
    const idp = await startIdp();
    const token = await idp.token("verify:run");
    await idp.stop();
    const outcomes: string[] = [];
    const auth = createAuthenticator(configFor(idp), {
      metrics: { jwksRefresh: (o) => outcomes.push(o) },
      warn: () => undefined,
    });
    try {
      await auth.start();
      expect(auth.ready()).toBe(false);
      const r = refused(await auth.authenticate(`Bearer ${token}`, "/v1/verify"));
      expect([r.status, r.reason]).toEqual([503, "idp_unavailable"]);
      expect(r.retryAfter).toBe(1);
      await until(() => outcomes.length >= 3, "background retries");
      expect(new Set(outcomes)).toEqual(new Set(["error"]));
      await idp.resume();
      await until(() => auth.ready(), "the keys after the IdP is back");
      expect(outcomes.at(-1)).toBe("ok");
      expect(await auth.authenticate(`Bearer ${token}`, "/v1/verify")).toMatchObject({ ok: true });
    } finally {
      auth.close();
      await idp.close();
    }
  });
});

describe("discovery", () => {
  let idp: TestIdp;
  beforeAll(async () => {
    idp = await startIdp();
  });
  afterAll(() => idp.close());

  it("falls back to the RFC 8414 location when the OpenID one is missing", async () => {
    const asked: string[] = [];
    const fetchFn: typeof fetch = async (input, init) => {
      const url = String(input);
      asked.push(url.replace(idp.issuer, ""));
      if (url.endsWith("/.well-known/openid-configuration")) return new Response("no", { status: 404 });
      if (url.endsWith("/.well-known/oauth-authorization-server"))
        return fetch(`${idp.issuer}/.well-known/openid-configuration`, init);
      return fetch(input, init);
    };
    const auth = createAuthenticator(configFor(idp), { fetch: fetchFn, warn: () => undefined });
    await auth.start();
    auth.close();
    expect(auth.ready()).toBe(true);
    expect(asked).toEqual([
      "/.well-known/openid-configuration",
      "/.well-known/oauth-authorization-server",
      "/jwks",
    ]);
  });

  it("refuses a discovery document that names another issuer", async () => {
    const warnings: string[] = [];
    const config = { ...configFor(idp), issuer: `${idp.issuer}/other` };
    const auth = createAuthenticator(
      { ...config, discoveryUrl: `${idp.issuer}/.well-known/openid-configuration` },
      { warn: (m) => warnings.push(m) },
    );
    await auth.start();
    auth.close();
    expect(auth.ready()).toBe(false);
    expect(warnings.join("\n")).toContain(`names issuer "${idp.issuer}"`);
  });

  it("tries every key that fits a token without a kid", async () => {
    const publicOf = (k: JWK): JWK => {
      const { d: _d, kid: _kid, ...pub } = k;
      return pub;
    };
    const other = await signingKey("other");
    const fetchFn: typeof fetch = async (input, init) => {
      if (!String(input).endsWith("/jwks")) return fetch(input, init);
      return Response.json({ keys: [publicOf(other), publicOf(idp.key)] });
    };
    const auth = createAuthenticator(configFor(idp), { fetch: fetchFn, warn: () => undefined });
    await auth.start();
    auth.close();
    const signed = await mint(idp.key, idp.issuer, {}, null);
    expect(await auth.authenticate(`Bearer ${signed}`, "/v1/verify")).toMatchObject({ ok: true });
    const foreign = await mint(await signingKey("x"), idp.issuer, {}, null);
    expect(refused(await auth.authenticate(`Bearer ${foreign}`, "/v1/verify")).reason).toBe("bad_signature");
  });

  it("leaves out symmetric and private keys of a JWKS, with a warning", async () => {
    const warnings: string[] = [];
    const pub = { ...idp.key };
    delete pub.d;
    const fetchFn: typeof fetch = async (input, init) => {
      if (!String(input).endsWith("/jwks")) return fetch(input, init);
      return Response.json({
        keys: [{ kty: "oct", k: "c2VjcmV0", kid: "s" }, { ...idp.key, kid: "p" }, pub],
      });
    };
    const auth = createAuthenticator(configFor(idp), { fetch: fetchFn, warn: (m) => warnings.push(m) });
    await auth.start();
    auth.close();
    expect(auth.ready()).toBe(true);
    expect(warnings.filter((w) => w.includes("left out"))).toHaveLength(2);
    expect((await auth.authenticate(`Bearer ${await idp.token("verify:run")}`, "/v1/verify")).ok).toBe(true);
  });
});
