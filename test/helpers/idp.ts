/**
 * A real OAuth 2.0 authorization server in the test process (oidc-provider from npm), issuing
 * JWT access tokens (RFC 9068) with the client-credentials grant. Resource indicators (RFC 8707)
 * decide the audience: the `resource` of the token request becomes `aud`. It listens on
 * loopback http, which the authenticator allows for loopback hosts only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import Provider from "oidc-provider";

/** The audience tests configure: the resource indicator clients ask tokens for. */
export const API_AUDIENCE = "https://proof.test/api";
export const CLIENT_ID = "proof-ci";
const CLIENT_SECRET = "test-client-secret-that-is-long-enough-0123456789";
/** Every scope the IdP knows; the client may ask for any of them. */
export const ALL_SCOPES = ["verify:run", "policy:read", "policy:compile", "metrics:read"];

/** A private ES256 signing key as a JWK, with its `kid`. */
export async function signingKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" };
}

export interface TestIdp {
  /** `http://127.0.0.1:<port>`: `iss` of its tokens. */
  issuer: string;
  /** The private key it signs with now. */
  key: JWK;
  /** An access token for `scope` (space-separated) and `resource` (default {@link API_AUDIENCE}). */
  token(scope: string, resource?: string): Promise<string>;
  /** Signs with a new key from now on (the old one leaves the JWKS), keeping the port. */
  rotate(kid: string): Promise<void>;
  /** Stops answering (connections refused) until {@link TestIdp.resume}. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  close(): Promise<void>;
}

function provider(issuer: string, key: JWK, ttlSeconds: number): Provider {
  return new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        scope: ALL_SCOPES.join(" "),
      },
    ],
    jwks: { keys: [key] },
    clientDefaults: { id_token_signed_response_alg: "ES256" },
    scopes: ALL_SCOPES,
    ttl: { ClientCredentials: ttlSeconds },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({
          scope: ALL_SCOPES.join(" "),
          audience: resource,
          accessTokenTTL: ttlSeconds,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
  });
}

/**
 * Starts an IdP on a free loopback port.
 * @param options.key the signing key (default: a new one, kid `k1`); two IdPs given the same key
 *   sign tokens that verify with each other's keys but carry different issuers
 * @param options.ttlSeconds lifetime of access tokens (default 60)
 */
export async function startIdp(options: { key?: JWK; ttlSeconds?: number } = {}): Promise<TestIdp> {
  const ttl = options.ttlSeconds ?? 60;
  let key = options.key ?? (await signingKey("k1"));
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const use = (k: JWK): void => {
    key = k;
    handler = provider(issuer, k, ttl).callback();
  };
  use(key);
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    issuer,
    get key() {
      return key;
    },
    async token(scope, resource = API_AUDIENCE) {
      const res = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
        },
        body: new URLSearchParams({ grant_type: "client_credentials", scope, resource }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string };
      if (!body.access_token) throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async rotate(kid) {
      use(await signingKey(kid));
    },
    stop,
    resume: () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve)),
    close: stop,
  };
}

/** A `fetch` that counts the JWKS requests it makes (`/jwks` of oidc-provider). */
export function countingFetch(): { fetch: typeof globalThis.fetch; jwks: () => number; all: () => number } {
  let jwks = 0;
  let all = 0;
  return {
    fetch: (input, init) => {
      all++;
      if (String(input).endsWith("/jwks")) jwks++;
      return globalThis.fetch(input, init);
    },
    jwks: () => jwks,
    all: () => all,
  };
}
