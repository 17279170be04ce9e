/**
 * The configuration of `proof serve`: flags, and `serve.yaml` (`--config`, docs/serve.md), with
 * flags winning over the file and the file over defaults. Pure: the command reads the file.
 */
import { inputError, type SourceLocation } from "../errors.js";
import { locate, type ParsedYaml, parseYaml } from "../policy/yaml.js";

/** How strict the server is: `prod` refuses development shortcuts such as `--insecure-no-auth`. */
export type ServeProfile = "dev" | "stage" | "prod";

/** Bounds on one request. */
export interface ServeLimits {
  /** Largest request body in bytes (larger: 413). */
  bodyBytes: number;
  /** Time to receive and answer one request, in milliseconds (past it: 408 or 503). */
  requestTimeoutMs: number;
}

/** Limits unless configured: 16 MiB of body, 30 seconds. */
export const DEFAULT_LIMITS: ServeLimits = { bodyBytes: 16 * 1024 * 1024, requestTimeoutMs: 30_000 };

/** Where the server listens unless configured: loopback only. */
export const DEFAULT_LISTEN = "127.0.0.1:8787";

/** The configuration once flags, file and defaults are merged. */
export interface ServeConfig {
  listen: { host: string; port: number };
  policyDir: string;
  profile: ServeProfile;
  insecureNoAuth: boolean;
  limits: ServeLimits;
  /** `auth.yaml` (docs/serve-auth.md): OAuth 2.0 bearer tokens are required when set. */
  auth?: string;
  /** PEM certificate chain and private key: HTTPS when set. */
  tls?: { cert: string; key: string };
  /** PEM bundle of the CAs whose client certificates are accepted: mutual TLS when set. */
  clientCa?: string;
  /** Subject alternative names a client certificate must carry one of (DNS or URI); any when empty. */
  allowedSans: string[];
}

/** The flags of `proof serve`, as parsed (any of them may be absent). */
export interface ServeFlags {
  policyDir?: string;
  listen?: string;
  profile?: string;
  insecureNoAuth?: boolean;
  auth?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  allowedSan?: string[];
}

/** The keys of `serve.yaml`, each optional; paths resolved by the caller. */
export interface ServeFile {
  file: string;
  listen?: string;
  policyDir?: string;
  profile?: string;
  insecureNoAuth?: boolean;
  limits?: Partial<ServeLimits>;
  auth?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  allowedSans?: string[];
  /** Where each key is, for errors found when the values are combined. */
  at: (key: string) => SourceLocation;
}

const TOP_KEYS = [
  "listen",
  "policyDir",
  "profile",
  "insecureNoAuth",
  "limits",
  "auth",
  "tlsCert",
  "tlsKey",
  "clientCa",
  "allowedSans",
];
/** The keys of serve.yaml that name files (relative to the file's directory). */
export const SERVE_FILE_KEYS = ["policyDir", "auth", "tlsCert", "tlsKey", "clientCa"] as const;
const LIMIT_KEYS = ["bodyBytes", "requestTimeoutMs"];
const PROFILES: readonly ServeProfile[] = ["dev", "stage", "prod"];

/**
 * Parses `HOST:PORT` (`[::1]:8787` for IPv6); port 0 asks the system for a free one.
 * @param where the flag or key, for messages; @param at its location in a file.
 * @throws ProofError `serve.listen` (exit 6).
 */
export function parseListen(
  value: string,
  where: string,
  at?: SourceLocation,
): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw inputError(
      "serve.listen",
      `${where} must be HOST:PORT (such as 127.0.0.1:8787 or [::1]:8787), not '${value}'`,
      at,
    );
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/**
 * Parses `serve.yaml`: a mapping of the keys listen, policyDir, profile, insecureNoAuth, limits
 * (bodyBytes, requestTimeoutMs), auth, tlsCert, tlsKey, clientCa (file names) and allowedSans (a
 * list of names); any other key is refused.
 * @throws ProofError `serve.config` (exit 6) located at the key or value, or a YAML error.
 */
export function parseServeFile(text: string, file: string): ServeFile {
  const parsed = parseYaml(text, file);
  const value = parsed.value ?? {};
  const at = (...path: string[]) => locate(parsed, path);
  if (typeof value !== "object" || Array.isArray(value)) {
    throw inputError("serve.config", "serve.yaml must be a mapping of settings", {
      file,
      line: 1,
      column: 1,
    });
  }
  const obj = value as Record<string, unknown>;
  refuseUnknown(parsed, obj, TOP_KEYS, []);
  const out: ServeFile = { file, at: (key) => at(...key.split(".")) };
  const str = (key: string): string | undefined => {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v === "")
      throw inputError("serve.config", `${key} must be a non-empty string`, at(key));
    return v;
  };
  const listen = str("listen");
  if (listen !== undefined) {
    parseListen(listen, "listen", at("listen"));
    out.listen = listen;
  }
  for (const key of SERVE_FILE_KEYS) {
    const v = str(key);
    if (v !== undefined) out[key] = v;
  }
  if (obj.allowedSans !== undefined) {
    const sans = obj.allowedSans;
    if (!Array.isArray(sans) || sans.some((v) => typeof v !== "string" || v === ""))
      throw inputError("serve.config", "allowedSans must be a list of non-empty strings", at("allowedSans"));
    out.allowedSans = sans as string[];
  }
  const profile = str("profile");
  if (profile !== undefined) {
    parseProfile(profile, "profile", at("profile"));
    out.profile = profile;
  }
  if (obj.insecureNoAuth !== undefined) {
    if (typeof obj.insecureNoAuth !== "boolean")
      throw inputError("serve.config", "insecureNoAuth must be true or false", at("insecureNoAuth"));
    out.insecureNoAuth = obj.insecureNoAuth;
  }
  if (obj.limits !== undefined) {
    const limits = obj.limits;
    if (limits === null || typeof limits !== "object" || Array.isArray(limits))
      throw inputError("serve.config", "limits must be a mapping", at("limits"));
    const l = limits as Record<string, unknown>;
    refuseUnknown(parsed, l, LIMIT_KEYS, ["limits"]);
    out.limits = {};
    for (const key of LIMIT_KEYS as (keyof ServeLimits)[]) {
      const v = l[key];
      if (v === undefined) continue;
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0)
        throw inputError("serve.config", `limits.${key} must be a positive integer`, at("limits", key));
      out.limits[key] = v;
    }
  }
  return out;
}

function refuseUnknown(
  parsed: ParsedYaml,
  obj: Record<string, unknown>,
  known: string[],
  path: string[],
): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw inputError(
        "serve.config",
        `unknown key '${[...path, key].join(".")}' in serve.yaml`,
        locate(parsed, path, key),
        `known keys: ${known.map((k) => [...path, k].join(".")).join(", ")}`,
      );
    }
  }
}

/** @throws ProofError `serve.profile` (exit 6). */
function parseProfile(value: string, where: string, at?: SourceLocation): ServeProfile {
  if (!(PROFILES as readonly string[]).includes(value)) {
    throw inputError("serve.profile", `${where} must be one of ${PROFILES.join(", ")}, not '${value}'`, at);
  }
  return value as ServeProfile;
}

/**
 * Merges flags over the file over defaults, and checks what only the whole can tell: a policy
 * directory is given; without `auth`, `--insecure-no-auth` is required, and the `prod` profile
 * (the default) refuses it; `prod` also requires mutual TLS; a certificate comes with its key;
 * a client CA needs TLS, and allowed SANs need a client CA.
 * @throws ProofError `serve.no_policy_dir`, `serve.no_auth`, `serve.insecure_in_prod`,
 *   `serve.tls_pair`, `serve.needs_tls`, `serve.needs_client_ca`, `serve.prod_mtls` and the parse
 *   errors above (exit 6).
 */
export function resolveServeConfig(flags: ServeFlags, file: ServeFile | undefined): ServeConfig {
  const profile = flags.profile
    ? parseProfile(flags.profile, "--profile")
    : file?.profile
      ? parseProfile(file.profile, "profile", file.at("profile"))
      : "prod";
  const listen = flags.listen
    ? parseListen(flags.listen, "--listen")
    : parseListen(file?.listen ?? DEFAULT_LISTEN, "listen", file?.listen ? file.at("listen") : undefined);
  const policyDir = flags.policyDir ?? file?.policyDir;
  if (!policyDir) {
    throw inputError(
      "serve.no_policy_dir",
      "no policy directory: give --policy-dir DIR, or policyDir in serve.yaml",
      file ? { file: file.file } : undefined,
    );
  }
  const auth = flags.auth ?? file?.auth;
  const hasAuth = auth !== undefined;
  const insecureNoAuth = flags.insecureNoAuth === true || file?.insecureNoAuth === true;
  if (hasAuth && insecureNoAuth) {
    throw inputError(
      "serve.no_auth",
      "--insecure-no-auth contradicts --auth: give one of them",
      flags.insecureNoAuth !== true && file ? file.at("insecureNoAuth") : undefined,
    );
  }
  if (insecureNoAuth && profile === "prod") {
    const fromFile = flags.insecureNoAuth !== true;
    throw inputError(
      "serve.insecure_in_prod",
      `${fromFile ? "insecureNoAuth" : "--insecure-no-auth"} is refused under the prod profile${flags.profile || file?.profile ? "" : " (the default)"}`,
      fromFile && file ? file.at("insecureNoAuth") : undefined,
      "use --profile dev (or stage) for a server without authentication",
    );
  }
  if (!hasAuth && !insecureNoAuth) {
    throw inputError(
      "serve.no_auth",
      "refusing to start without authentication: pass --insecure-no-auth (or insecureNoAuth: true in serve.yaml) to serve without it",
      undefined,
      "only on a trusted network, under --profile dev or stage",
    );
  }
  const cert = flags.tlsCert ?? file?.tlsCert;
  const key = flags.tlsKey ?? file?.tlsKey;
  if ((cert === undefined) !== (key === undefined)) {
    throw inputError(
      "serve.tls_pair",
      `${cert === undefined ? "--tls-key" : "--tls-cert"} needs ${cert === undefined ? "--tls-cert" : "--tls-key"}: a certificate and its private key go together`,
      file && (file.tlsCert ?? file.tlsKey) !== undefined
        ? file.at(file.tlsCert ? "tlsCert" : "tlsKey")
        : undefined,
    );
  }
  const clientCa = flags.clientCa ?? file?.clientCa;
  if (clientCa !== undefined && cert === undefined) {
    throw inputError(
      "serve.needs_tls",
      "--client-ca (mutual TLS) needs --tls-cert and --tls-key",
      flags.clientCa === undefined && file ? file.at("clientCa") : undefined,
    );
  }
  const allowedSans = flags.allowedSan ?? file?.allowedSans ?? [];
  if (allowedSans.length > 0 && clientCa === undefined) {
    throw inputError(
      "serve.needs_client_ca",
      "--allowed-san restricts client certificates, so it needs --client-ca",
      flags.allowedSan === undefined && file ? file.at("allowedSans") : undefined,
    );
  }
  if (profile === "prod" && clientCa === undefined) {
    throw inputError(
      "serve.prod_mtls",
      `the prod profile${flags.profile || file?.profile ? "" : " (the default)"} requires mutual TLS: give --tls-cert, --tls-key and --client-ca`,
      undefined,
      "use --profile stage (or dev) to serve without client certificates",
    );
  }
  return {
    listen,
    policyDir,
    profile,
    insecureNoAuth,
    limits: { ...DEFAULT_LIMITS, ...(file?.limits ?? {}) },
    ...(auth !== undefined ? { auth } : {}),
    ...(cert !== undefined && key !== undefined ? { tls: { cert, key } } : {}),
    ...(clientCa !== undefined ? { clientCa } : {}),
    allowedSans,
  };
}
