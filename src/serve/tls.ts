/**
 * TLS and mutual TLS for `proof serve` (docs/serve-auth.md): the HTTPS server options, the check
 * of a client certificate that turns a refused peer into a 403 with a reason, and the reload of
 * certificate, key and client CA from disk without a restart.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { ServerOptions } from "node:https";
import type { Socket } from "node:net";
import { type SecureContextOptions, TLSSocket } from "node:tls";
import { inputError, ProofError } from "../errors.js";
import { type PemBlock, type PemFile, readPemFile } from "../io/pem.js";
import { type FileWatch, watchFiles } from "../io/watch-files.js";
import type { ClientCertificateCheck, ServeMetricsSink } from "./types.js";

/** The files of a TLS server: its certificate chain and private key, and the CA of clients (mTLS). */
export interface TlsFiles {
  /** PEM: the server certificate first, then any intermediates. */
  cert: string;
  /** PEM: the server's private key, unencrypted (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`). */
  key: string;
  /** PEM: one or more CA certificates that client certificates must chain to; turns on mTLS. */
  clientCa?: string;
}

/**
 * The TLS 1.2 cipher suites offered, in order of preference: ECDHE key exchange (forward
 * secrecy) with an AEAD cipher (AES-GCM or ChaCha20-Poly1305) only, as in Mozilla's
 * "intermediate" server configuration; no RSA key exchange, no CBC, no SHA-1 MAC. TLS 1.3 suites
 * are all AEAD with ephemeral key exchange and are listed first, so TLS 1.3 is preferred
 * whenever the client offers it.
 */
export const TLS_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

const CERT_LABELS = ["CERTIFICATE"] as const;
const KEY_LABELS = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"] as const;

/** Certificate, key and client CA as read and checked: the PEM texts for Node's TLS. */
interface TlsMaterial {
  cert: string;
  key: string;
  ca?: string;
}

/** Parses each certificate block, so that a damaged one is reported at its line. */
function checkCertificates(pem: PemFile, what: string): X509Certificate[] {
  return pem.blocks
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => {
      try {
        return new X509Certificate(b.pem);
      } catch (err) {
        throw blockError(pem, b, `${what}: not a valid X.509 certificate (${(err as Error).message})`);
      }
    });
}

function blockError(pem: PemFile, block: PemBlock, message: string): ProofError {
  return inputError("tls.invalid_pem", message, { file: pem.file, line: block.line, column: 1 });
}

/**
 * Reads and checks the TLS files: each PEM block parses, the key is a private key, and the key
 * belongs to the first certificate (a pair rotated half-way is caught here, not at a handshake).
 * @throws ProofError (exit 6), located: `io.unreadable`, `tls.invalid_pem`, `tls.no_pem`,
 *   `tls.key_mismatch`.
 */
async function readTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const certPem = await readPemFile(files.cert, CERT_LABELS, "TLS certificate");
  const keyPem = await readPemFile(files.key, KEY_LABELS, "TLS private key");
  const [leaf] = checkCertificates(certPem, "TLS certificate");
  const keyBlock = keyPem.blocks.find((b) => (KEY_LABELS as readonly string[]).includes(b.label)) as PemBlock;
  let key: KeyObject;
  try {
    key = createPrivateKey(keyBlock.pem);
  } catch (err) {
    throw blockError(
      keyPem,
      keyBlock,
      `TLS private key: not a usable private key (${(err as Error).message})`,
    );
  }
  if (leaf && !leaf.checkPrivateKey(key)) {
    throw inputError(
      "tls.key_mismatch",
      `the private key in ${keyPem.file} does not belong to the certificate in ${certPem.file}`,
      { file: keyPem.file },
      "give the key the certificate was issued for (after a rotation, replace both files)",
    );
  }
  const material: TlsMaterial = { cert: certPem.text, key: keyBlock.pem };
  if (files.clientCa !== undefined) {
    const caPem = await readPemFile(files.clientCa, CERT_LABELS, "client CA");
    checkCertificates(caPem, "client CA");
    material.ca = caPem.text;
  }
  return material;
}

/** The parts of the options that make a secure context, shared by start-up and reloads. */
function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca !== undefined ? { ca: material.ca } : {}),
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.3",
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  };
}

/**
 * The options of an HTTPS server (`https.createServer`, fastify's `https`): TLS 1.2 at least,
 * TLS 1.3 preferred, the cipher policy of {@link TLS_CIPHERS}, the server's cipher order.
 * With `clientCa`, client certificates are requested and verified against it, but an
 * unverified or absent one does not end the handshake (`rejectUnauthorized: false`): the server
 * answers 403 with the reason from {@link clientCertificateCheck}, which a client can act on.
 * @throws ProofError (exit 6), located: `io.unreadable` (missing or unreadable file),
 *   `tls.invalid_pem` (damaged block, at its line), `tls.no_pem` (no certificate or key in the
 *   file: DER given?), `tls.key_mismatch` (key and certificate are not a pair).
 */
export async function tlsServerOptions(files: TlsFiles): Promise<ServerOptions> {
  const material = await readTlsMaterial(files);
  return {
    ...secureContextOptions(material),
    ...(files.clientCa !== undefined ? { requestCert: true, rejectUnauthorized: false } : {}),
  };
}

/** One entry of an allow list: a SAN type (`DNS`, `URI`, or either) and its value. */
interface AllowedSan {
  type: "DNS" | "URI" | "any";
  value: string;
}

function parseAllowedSan(entry: string): AllowedSan {
  const m = /^(DNS|URI):(.+)$/i.exec(entry);
  if (m) {
    const type = (m[1] as string).toUpperCase() as "DNS" | "URI";
    const value = m[2] as string;
    return { type, value: type === "DNS" ? value.toLowerCase() : value };
  }
  if (/^[A-Za-z ]+:/.test(entry) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) {
    throw inputError(
      "tls.invalid_san",
      `allowed SAN '${entry}': only DNS: and URI: names are matched`,
      undefined,
      "write DNS:client.example.com or URI:spiffe://example.com/agent (a bare name matches either)",
    );
  }
  if (entry.trim() === "") throw inputError("tls.invalid_san", "an allowed SAN is empty");
  return { type: "any", value: entry };
}

/**
 * The DNS and URI names of a certificate's subjectAltName as Node renders it
 * (`DNS:a.example, URI:spiffe://x, IP Address:127.0.0.1`; a value holding a comma or a quote is
 * JSON-quoted). Other types are left out: they are never matched.
 */
export function subjectAltNames(rendered: string | undefined): { type: "DNS" | "URI"; value: string }[] {
  const out: { type: "DNS" | "URI"; value: string }[] = [];
  if (!rendered) return out;
  let i = 0;
  while (i < rendered.length) {
    const colon = rendered.indexOf(":", i);
    if (colon < 0) break;
    const type = rendered.slice(i, colon).trim();
    let value: string;
    let next: number;
    if (rendered[colon + 1] === '"') {
      // A JSON string: find its closing quote, skipping escaped ones.
      let j = colon + 2;
      while (j < rendered.length && rendered[j] !== '"') j += rendered[j] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(rendered.slice(colon + 1, j + 1)) as string;
      } catch {
        value = rendered.slice(colon + 2, j);
      }
      next = rendered.indexOf(",", j + 1);
    } else {
      next = rendered.indexOf(",", colon + 1);
      value = rendered.slice(colon + 1, next < 0 ? undefined : next);
    }
    if (type === "DNS" || type === "URI") out.push({ type, value });
    if (next < 0) break;
    i = next + 1;
  }
  return out;
}

/**
 * The check of a client certificate for an mTLS server made with {@link tlsServerOptions} and
 * a `clientCa`. Refused: no certificate (`client_certificate_missing`); one that does not chain
 * to the client CA, or is expired (`client_certificate_untrusted`, with OpenSSL's reason such as
 * `UNABLE_TO_VERIFY_LEAF_SIGNATURE`); with `allowedSans`, one with no DNS or URI subject
 * alternative name in the list (`client_certificate_san`). Matching is exact, no wildcards: DNS
 * names ignore ASCII case (RFC 4343), URIs are compared as written. The common name is never
 * matched (RFC 6125 deprecates it for identities).
 * @param allowedSans entries `DNS:name`, `URI:uri`, or a bare value matching either type;
 *   undefined or empty allows every certificate the CA verified.
 * @returns the check; an allowed peer's `subject` is its matching SAN, else its subject's CN.
 * @throws ProofError `tls.invalid_san` (exit 6) for an entry of another type (`IP:`, `email:`).
 */
export function clientCertificateCheck(allowedSans?: readonly string[]): ClientCertificateCheck {
  const allowed = (allowedSans ?? []).map(parseAllowedSan);
  return (socket: TLSSocket) => {
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) {
      return {
        ok: false,
        reason: "client_certificate_missing",
        message: "this server requires a client certificate (mutual TLS), and none was presented",
      };
    }
    if (!socket.authorized) {
      const why = String(socket.authorizationError ?? "not verified");
      return {
        ok: false,
        reason: "client_certificate_untrusted",
        message: `the client certificate is not trusted by this server's client CA (${why})`,
      };
    }
    const cn = typeof cert.subject?.CN === "string" ? cert.subject.CN : undefined;
    if (allowed.length === 0) return cn === undefined ? { ok: true } : { ok: true, subject: cn };
    for (const san of subjectAltNames(cert.subjectaltname)) {
      const value = san.type === "DNS" ? san.value.toLowerCase() : san.value;
      if (allowed.some((a) => (a.type === "any" || a.type === san.type) && a.value === value)) {
        return { ok: true, subject: `${san.type}:${san.value}` };
      }
    }
    return {
      ok: false,
      reason: "client_certificate_san",
      message: "the client certificate names no subject alternative name (DNS or URI) this server allows",
    };
  };
}

/** What {@link watchTlsFiles} needs of a server: Node's `tls.Server#setSecureContext`. */
export interface SecureContextTarget {
  setSecureContext(options: SecureContextOptions): void;
}

/** Options of {@link watchTlsFiles}. */
export interface WatchTlsOptions {
  metrics?: Pick<ServeMetricsSink, "tlsReload">;
  /** Told of each reload attempt: "ok", or "error" with the error (the old context stays). */
  onReload?: (outcome: "ok" | "error", error?: ProofError) => void;
  /** Quiet time after a change before reloading, in milliseconds (default 200). */
  debounceMs?: number;
  /** Period of the `stat` fallback in milliseconds (default 10,000). */
  pollMs?: number;
  /** Where warnings go (default: standard error). */
  warn?: (message: string) => void;
}

/** A running watch of the TLS files. */
export interface TlsWatch {
  /** Reads the files now and applies them when they changed; resolves with the outcome. */
  reload(): Promise<"ok" | "error" | "unchanged">;
  close(): void;
}

/**
 * Reloads certificate, key and client CA when they change on disk, and applies them to
 * `server` with `setSecureContext`: connections already open keep their context, new ones get
 * the new one, so no request fails across a rotation. A change is noticed by a debounced
 * directory watch and a periodic `stat` ({@link watchFiles}); the files are read whole and
 * applied only when their text differs from what is in use. A file that is missing, damaged,
 * or a key that does not match the certificate (the key not yet rotated) keeps the old context,
 * reports `tlsReload("error")` and a warning, and is tried again at the next change.
 * @param files the same paths given to {@link tlsServerOptions}
 */
export function watchTlsFiles(
  files: TlsFiles,
  server: SecureContextTarget,
  options: WatchTlsOptions = {},
): TlsWatch {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`proof serve: ${m}\n`));
  let applied: string | undefined;
  let running: Promise<"ok" | "error" | "unchanged"> = Promise.resolve("unchanged");
  const key = (m: TlsMaterial): string => `${m.cert}\u0000${m.key}\u0000${m.ca ?? ""}`;
  const attempt = async (): Promise<"ok" | "error" | "unchanged"> => {
    let material: TlsMaterial;
    try {
      material = await readTlsMaterial(files);
    } catch (err) {
      const error = err instanceof ProofError ? err : new ProofError("tls.reload", String(err));
      warn(`TLS reload refused, the previous certificate stays in use: ${error.message}`);
      options.metrics?.tlsReload("error");
      options.onReload?.("error", error);
      return "error";
    }
    const k = key(material);
    if (k === applied) return "unchanged";
    try {
      server.setSecureContext(secureContextOptions(material));
    } catch (err) {
      const error = new ProofError("tls.reload", `TLS reload refused: ${(err as Error).message}`);
      warn(`${error.message}; the previous certificate stays in use`);
      options.metrics?.tlsReload("error");
      options.onReload?.("error", error);
      return "error";
    }
    applied = k;
    options.metrics?.tlsReload("ok");
    options.onReload?.("ok");
    return "ok";
  };
  // Reloads run one after another, so that an older read never replaces a newer one.
  const reload = (): Promise<"ok" | "error" | "unchanged"> => {
    running = running.then(attempt, attempt);
    return running;
  };
  // What the server started with counts as applied: the first change is the first reload.
  const initial = readTlsMaterial(files).then(
    (m) => {
      applied = key(m);
    },
    () => undefined,
  );
  running = initial.then(() => "unchanged" as const);
  const paths = [files.cert, files.key, ...(files.clientCa !== undefined ? [files.clientCa] : [])];
  const watch: FileWatch = watchFiles(paths, () => void reload(), {
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    warn,
  });
  return { reload, close: () => watch.close() };
}

/**
 * Runs a client-certificate check on the socket of a request: a connection that is not TLS has
 * no certificate to show, so it is refused as `client_certificate_missing` (what the server and
 * the gateway answer with 403).
 */
export function checkPeer(socket: Socket, check: ClientCertificateCheck): ReturnType<ClientCertificateCheck> {
  return socket instanceof TLSSocket
    ? check(socket)
    : { ok: false, reason: "client_certificate_missing", message: "a client certificate is required" };
}
