/**
 * Turns a resolved `proof serve` configuration into the server's dependencies: the Prometheus
 * metrics, the OAuth 2.0 authenticator (`auth`), the HTTPS options and client-certificate check
 * (`tls`, `clientCa`, `allowedSans`), and the watch that reloads certificates from disk. The one
 * place where configuration becomes `createServer` options (docs/serve.md, docs/serve-auth.md).
 */

import { fileLimit, readTextFile } from "../io/files.js";
import { VERSION } from "../version.js";
import { createAuthenticator, parseAuthConfig } from "./auth.js";
import type { ServeConfig } from "./config.js";
import { createServeMetrics, type ServeMetrics } from "./metrics.js";
import type { ServerOptions } from "./server.js";
import {
  clientCertificateCheck,
  type SecureContextTarget,
  type TlsWatch,
  tlsServerOptions,
  watchTlsFiles,
} from "./tls.js";
import type { RequestAuthenticator } from "./types.js";

/** What a server needs besides its options: started before it listens, stopped after it closes. */
export interface ServeDependencies {
  /** The options to pass to `createServer` (policyDir, limits, metrics, auth, TLS). */
  options: ServerOptions;
  metrics: ServeMetrics;
  authenticator?: RequestAuthenticator;
  /**
   * Fetches the IdP's signing keys (when `auth` is set; resolves even if the IdP is down, which
   * `/readyz` then reports) and starts reloading the certificate, key and client CA of `server`
   * from disk when they change (when `tls` is set).
   */
  start(server: object): Promise<void>;
  /** Stops the key refreshes and the certificate watch. */
  stop(): void;
}

/**
 * Builds the dependencies of a configuration: reads and checks `auth.yaml` and the PEM files now,
 * so that a bad file stops the command before it listens.
 * @param log where warnings go (a line without trailing newline)
 * @throws ProofError `auth.*` and `tls.*` (exit 6) for a bad auth.yaml or PEM file, or an
 *   environment error (exit 8) when a file cannot be read.
 */
export async function buildServeDependencies(
  config: ServeConfig,
  log: (line: string) => void,
): Promise<ServeDependencies> {
  const metrics = createServeMetrics({ version: VERSION, warn: log });
  const options: ServerOptions = {
    policyDir: config.policyDir,
    watch: true,
    limits: config.limits,
    metrics,
    metricsText: async () => (await metrics.render()).body,
    metricsContentType: metrics.contentType,
    log,
  };
  let authenticator: RequestAuthenticator | undefined;
  if (config.auth !== undefined) {
    const authConfig = parseAuthConfig(await readTextFile(config.auth, fileLimit()), config.auth);
    authenticator = createAuthenticator(authConfig, { metrics, warn: log });
    options.authenticator = authenticator;
  }
  const files = config.tls
    ? { ...config.tls, ...(config.clientCa !== undefined ? { clientCa: config.clientCa } : {}) }
    : undefined;
  if (files) {
    options.https = await tlsServerOptions(files);
    if (files.clientCa !== undefined)
      options.clientCertificateCheck = clientCertificateCheck(config.allowedSans);
  }
  let watch: TlsWatch | undefined;
  return {
    options,
    metrics,
    ...(authenticator ? { authenticator } : {}),
    async start(server) {
      if (files) {
        // createServer was given options.https, so its server is an https.Server.
        if (typeof (server as Partial<SecureContextTarget>).setSecureContext !== "function")
          throw new Error("TLS is configured but the server is not HTTPS");
        watch = watchTlsFiles(files, server as SecureContextTarget, { metrics, warn: log });
      }
      await authenticator?.start();
    },
    stop() {
      watch?.close();
      authenticator?.close();
    },
  };
}
