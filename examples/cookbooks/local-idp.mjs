#!/usr/bin/env node
// A local OAuth 2.0 authorization server for the cookbooks (docs/cookbooks/): oidc-provider, a
// development dependency of this repository, issuing JWT access tokens (RFC 9068) to one client
// with the client-credentials grant. The audience of a token is the `resource` of its request
// (RFC 8707 resource indicators), defaulting to IDP_AUDIENCE. It listens on loopback http only:
// proof accepts an http issuer for a loopback host and nowhere else. Not for production.
//
//   node local-idp.mjs serve        listens on 127.0.0.1:$IDP_PORT; SIGHUP re-reads the keys and
//                                   the client secret (rotation without a restart)
//   node local-idp.mjs new-key KID  puts a new ES256 signing key first in $IDP_KEYS (created with
//                                   mode 0600); the first key signs, the others stay published
//   node local-idp.mjs retire KID   removes a key from $IDP_KEYS (tokens it signed stop verifying)
//
// Environment: IDP_PORT (default 9400), IDP_KEYS (private JWKS file, default idp-keys.json),
// IDP_CLIENT_ID (default proof-client), IDP_CLIENT_SECRET_FILE (the client secret, one line;
// required by `serve`), IDP_AUDIENCE (default https://proof.local/api), IDP_TOKEN_TTL (seconds,
// default 300).
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { exportJWK, generateKeyPair } from "jose";

const env = process.env;
const port = Number(env.IDP_PORT ?? 9400);
const keysFile = env.IDP_KEYS ?? "idp-keys.json";
const clientId = env.IDP_CLIENT_ID ?? "proof-client";
const audience = env.IDP_AUDIENCE ?? "https://proof.local/api";
const ttl = Number(env.IDP_TOKEN_TTL ?? 300);
const scopes = ["verify:run", "policy:read", "policy:compile", "metrics:read"];

function fail(message) {
  process.stderr.write(`local-idp: ${message}\n`);
  process.exit(2);
}

function readKeys() {
  if (!existsSync(keysFile)) return [];
  const parsed = JSON.parse(readFileSync(keysFile, "utf8"));
  if (!Array.isArray(parsed.keys)) throw new Error(`${keysFile}: no "keys" list`);
  return parsed.keys;
}

// Written to a sibling and renamed, so a running server never reads half a file.
function writeKeys(keys) {
  const tmp = `${keysFile}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, keysFile);
}

function readSecret() {
  const file = env.IDP_CLIENT_SECRET_FILE;
  if (!file) throw new Error("IDP_CLIENT_SECRET_FILE is not set");
  const secret = readFileSync(file, "utf8").trim();
  // oidc-provider refuses shorter secrets for some algorithms; a short secret is a weak one anyway.
  if (secret.length < 32) throw new Error(`${file}: the client secret must be at least 32 characters`);
  return secret;
}

// Imported by `serve` only: loading oidc-provider prints warnings the key commands have no use for.
async function provider(issuer, keys, secret) {
  const { default: Provider } = await import("oidc-provider");
  return new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: secret,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        scope: scopes.join(" "),
      },
    ],
    jwks: { keys },
    clientDefaults: { id_token_signed_response_alg: "ES256" },
    scopes,
    ttl: { ClientCredentials: ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: scopes.join(" "),
          audience: resource,
          accessTokenTTL: ttl,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
  });
}

async function serve() {
  const issuer = `http://127.0.0.1:${port}`;
  let keys = readKeys();
  if (keys.length === 0) fail(`${keysFile}: no signing key (run: node local-idp.mjs new-key k1)`);
  let handler = (await provider(issuer, keys, readSecret())).callback();
  const server = createServer((req, res) => handler(req, res));
  process.on("SIGHUP", async () => {
    try {
      keys = readKeys();
      handler = (await provider(issuer, keys, readSecret())).callback();
      process.stdout.write(
        `local-idp: reloaded, signing with ${keys[0]?.kid}, publishing ${keys.length} keys\n`,
      );
    } catch (err) {
      process.stderr.write(`local-idp: reload failed, keeping the old keys: ${err.message}\n`);
    }
  });
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  server.on("error", (err) => fail(err.message));
  server.listen(port, "127.0.0.1", () => {
    process.stdout.write(`local-idp: issuer ${issuer}, signing with ${keys[0]?.kid}\n`);
  });
}

async function newKey(kid) {
  if (!kid) fail("usage: local-idp.mjs new-key KID");
  const keys = readKeys();
  if (keys.some((k) => k.kid === kid)) fail(`${keysFile}: a key ${kid} exists already`);
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  writeKeys([{ ...(await exportJWK(privateKey)), kid, alg: "ES256", use: "sig" }, ...keys]);
  process.stdout.write(`local-idp: ${keysFile}: ${[kid, ...keys.map((k) => k.kid)].join(", ")}\n`);
}

function retire(kid) {
  const keys = readKeys();
  const kept = keys.filter((k) => k.kid !== kid);
  if (kept.length === keys.length) fail(`${keysFile}: no key ${kid}`);
  if (kept.length === 0) fail(`${keysFile}: ${kid} is the only key`);
  writeKeys(kept);
  process.stdout.write(`local-idp: ${keysFile}: ${kept.map((k) => k.kid).join(", ")}\n`);
}

const [command, arg] = process.argv.slice(2);
try {
  if (command === "serve") await serve();
  else if (command === "new-key") await newKey(arg);
  else if (command === "retire") retire(arg);
  else fail("usage: local-idp.mjs serve | new-key KID | retire KID");
} catch (err) {
  fail(err.message);
}
