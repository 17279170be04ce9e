/**
 * The HTTP server of `proof serve` (docs/serve.md), on fastify: the verify, check, adapt and
 * compile pipelines of the CLI (src/api) behind a JSON API, with the policies of a directory
 * loaded once, cached by digest and reloaded atomically. Authentication, client certificates and
 * metrics come in as optional seams (src/serve/types.ts), so this module knows no IdP, no
 * certificate store and no metrics library.
 */
import type { ServerOptions as HttpsServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { makePlan } from "../api/adapt.js";
import { checkCall, onlyTrace } from "../api/check.js";
import { compileSource } from "../api/compile.js";
import { checkSourceName, type MemorySource, memoryTraceSource, verifySources } from "../api/memory.js";
import { errorEnvelope, inputError, ProofError } from "../errors.js";
import { prettyJson } from "../io/canonical.js";
import { readPolicyTexts, watchDirectory } from "../io/policy-dir.js";
import { loadPlan } from "../plan/load-plan.js";
import { parseWeights } from "../plan/weights.js";
import type { Verdict } from "../policy/ir.js";
import { parseJson } from "../trace/json.js";
import type { FormatName } from "../trace/model.js";
import { FORMAT_NAMES } from "../trace/read.js";
import { parseCall } from "../verify/check.js";
import { VERDICT_ORDER } from "../verify/decision.js";
import { DEFAULT_LIMITS, type ServeLimits } from "./config.js";
import { findPolicy, type PolicyLoader, PolicyStore } from "./policies.js";
import { checkPeer } from "./tls.js";
import type { ClientCertificateCheck, RequestAuthenticator, ServeMetricsSink, ServeRoute } from "./types.js";

/** What {@link createServer} takes. Only the policies are required. */
export interface ServerOptions {
  /** The policy directory (as `--policy DIR` lists it); or give `loadPolicies`. */
  policyDir?: string;
  /** Reads the policies' texts instead of `policyDir` (tests, embedding). */
  loadPolicies?: PolicyLoader;
  /** Reload when a file of `policyDir` changes (debounced); off by default. */
  watch?: boolean;
  /** Request bounds; {@link DEFAULT_LIMITS} for any not given. */
  limits?: Partial<ServeLimits>;
  /** Asked on every route but /healthz and /readyz; none: every request runs. */
  authenticator?: RequestAuthenticator;
  /** Checks the TLS client certificate on every route but /healthz and /readyz (403 on refusal). */
  clientCertificateCheck?: ClientCertificateCheck;
  /** Serve HTTPS with these options (fastify's `https`); plain HTTP when absent. */
  https?: HttpsServerOptions;
  /** Told of requests, verdicts, policy cache lookups, reloads and refusals. */
  metrics?: ServeMetricsSink;
  /** The body of `GET /metrics`; the route exists only when given. */
  metricsText?: () => Promise<string>;
  /** Its content type (default the Prometheus text format 0.0.4). */
  metricsContentType?: string;
  /** Where log lines go (one line each, no newline); stderr by default. */
  log?: (line: string) => void;
}

/** A created server: not listening until {@link ServeHandle.listen}. */
export interface ServeHandle {
  /** The fastify instance (tests use its `inject`). */
  app: FastifyInstance;
  store: PolicyStore;
  /** Starts listening. @returns the URL it listens on, `http://127.0.0.1:PORT`. */
  listen(host: string, port: number): Promise<string>;
  /** Reloads the policies (as SIGHUP does); logs the outcome. @returns the error when it failed. */
  reload(): Promise<ProofError | undefined>;
  /**
   * Stops accepting requests and waits for those in flight; after `deadlineMs` open connections
   * are cut. Stops the policy watch.
   */
  close(deadlineMs?: number): Promise<void>;
}

/** The content type of every JSON response. */
const JSON_TYPE = "application/json; charset=utf-8";
const PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8";
/** Media types of a JSON Lines body (one trace file sent as it is to `/v1/verify`). */
const JSONL_TYPES = ["application/x-ndjson", "application/jsonl"];

/** The routes and the one method each takes. */
const ROUTES: readonly { url: ServeRoute; method: "GET" | "POST" }[] = [
  { url: "/v1/verify", method: "POST" },
  { url: "/v1/check", method: "POST" },
  { url: "/v1/adapt", method: "POST" },
  { url: "/v1/compile", method: "POST" },
  { url: "/v1/policies", method: "GET" },
  { url: "/healthz", method: "GET" },
  { url: "/readyz", method: "GET" },
  { url: "/metrics", method: "GET" },
];
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;

/** Routes open to anyone: a load balancer or kubelet probes them without credentials. */
const OPEN: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

// Request bodies (JSON Schema, checked by fastify's ajv): unknown keys are refused, types never
// coerced, so that `"content": 1` is an error rather than the trace "1".
const policyField = { type: "string", minLength: 1 };
const traceSource = {
  type: "object",
  required: ["name", "content"],
  additionalProperties: false,
  properties: {
    name: { type: "string", minLength: 1 },
    content: { type: "string" },
    format: { type: "string", enum: FORMAT_NAMES },
  },
};
const objectField = { type: "object" };
const SCHEMAS: Record<string, object> = {
  "/v1/verify": {
    type: "object",
    required: ["traces"],
    additionalProperties: false,
    properties: {
      policy: policyField,
      traces: { type: "array", minItems: 1, items: traceSource },
      fail_on: { type: "string", enum: VERDICT_ORDER },
      context: objectField,
      plan: objectField,
      coverage: { type: "boolean" },
      min_coverage: { type: "number", minimum: 0, maximum: 100 },
      root: { type: "string", minLength: 1 },
    },
  },
  "/v1/check": {
    type: "object",
    required: ["call"],
    additionalProperties: false,
    properties: {
      policy: policyField,
      call: objectField,
      call_name: { type: "string", minLength: 1 },
      trace: traceSource,
      context: objectField,
    },
  },
  "/v1/adapt": {
    type: "object",
    required: ["context"],
    additionalProperties: false,
    properties: {
      policy: policyField,
      context: objectField,
      selector: { type: "string", enum: ["basic", "weighted"] },
      weights: objectField,
    },
  },
  "/v1/compile": {
    type: "object",
    required: ["source"],
    additionalProperties: false,
    properties: {
      source: { type: "string" },
      name: { type: "string", pattern: "^[^/\\\\]+\\.(ya?ml|json)$" },
    },
  },
};

interface VerifyBody {
  policy?: string;
  traces: MemorySource[];
  fail_on?: Verdict;
  context?: Record<string, unknown>;
  plan?: Record<string, unknown>;
  coverage?: boolean;
  min_coverage?: number;
  root?: string;
}
interface CheckBody {
  policy?: string;
  call: unknown;
  call_name?: string;
  trace?: MemorySource;
  context?: Record<string, unknown>;
}
interface AdaptBody {
  policy?: string;
  context: Record<string, unknown>;
  selector?: "basic" | "weighted";
  weights?: Record<string, unknown>;
}
interface CompileBody {
  source: string;
  name?: string;
}

/** The query of a JSON Lines body to `/v1/verify`. */
interface JsonLinesQuery {
  policy?: string;
  name?: string;
  fail_on?: Verdict;
  root?: string;
}

/**
 * The request of `/v1/verify`: the JSON body, or one trace file of JSON Lines as the body with
 * its name (default `trace.jsonl`), policy, `fail_on` and root in the query.
 * @throws ProofError `request.invalid` for query parameters with a JSON body, `trace.name` for a
 *   JSON Lines name that does not end in `.jsonl`.
 */
function verifyBody(body: unknown, query: JsonLinesQuery): VerifyBody {
  if (typeof body !== "string") {
    if (Object.keys(query).length > 0) {
      throw inputError(
        "request.invalid",
        "query parameters go with a JSON Lines body; a JSON body carries its fields",
      );
    }
    return body as VerifyBody;
  }
  const name = query.name ?? "trace.jsonl";
  if (!name.endsWith(".jsonl")) {
    throw inputError("trace.name", `name must end in .jsonl for a JSON Lines body, not '${echo(name)}'`);
  }
  return {
    traces: [{ name, content: body }],
    ...(query.policy ? { policy: query.policy } : {}),
    ...(query.fail_on ? { fail_on: query.fail_on } : {}),
    ...(query.root ? { root: query.root } : {}),
  };
}

/** An error response: status, envelope, extra headers. */
interface HttpError {
  status: number;
  error: ProofError;
  headers?: Record<string, string>;
}

/** The route a request matched, or undefined for none (404). */
function routeOf(request: FastifyRequest): ServeRoute | undefined {
  const url = request.routeOptions.url;
  return ROUTES.find((r) => r.url === url)?.url;
}

/** Text safe to echo in a message: one line, bounded. */
function echo(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
  const one = text.replace(/[\u0000-\u001f\u007f]/g, "?");
  return one.length > 200 ? `${one.slice(0, 200)}...` : one;
}

/**
 * Maps anything a route threw to a response; only a {@link ProofError} of the input kinds or a
 * client error fastify recognised says what went wrong, anything else is `internal` with no
 * detail (the detail goes to the log).
 */
function toHttpError(err: unknown, limits: ServeLimits, log: (line: string) => void): HttpError {
  if (err instanceof ProofError) {
    if (err.code === "serve.timeout") return { status: 503, error: err, headers: { "retry-after": "1" } };
    if (err.category === "input" || err.category === "integrity") return { status: 400, error: err };
    if (err.category === "dependency") return { status: 503, error: err };
    log(`internal error: ${err.code}: ${err.message}`);
    return {
      status: 500,
      error: new ProofError("internal", "internal server error", { category: "internal" }),
    };
  }
  const e = err as Partial<FastifyError> & { validation?: unknown };
  if (e.code === "FST_ERR_HANDLER_TIMEOUT") {
    return {
      status: 503,
      error: timeoutError(limits),
      headers: { "retry-after": "1" },
    };
  }
  if (e.validation) {
    return { status: 400, error: inputError("request.invalid", echo(e.message ?? "invalid request")) };
  }
  if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return {
      status: 413,
      error: inputError(
        "request.too_large",
        `the request body is larger than ${limits.bodyBytes} bytes`,
        undefined,
        "limits.bodyBytes in serve.yaml sets the bound",
      ),
    };
  }
  if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    return {
      status: 415,
      error: inputError("request.media_type", "the request body must be application/json"),
    };
  }
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    return { status, error: inputError("request.invalid", echo(e.message ?? "bad request")) };
  }
  log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return {
    status: 500,
    error: new ProofError("internal", "internal server error", { category: "internal" }),
  };
}

/** The error of a request past its time limit (503 with `Retry-After`). */
function timeoutError(limits: ServeLimits): ProofError {
  return new ProofError("serve.timeout", `the request took longer than ${limits.requestTimeoutMs} ms`, {
    category: "dependency",
    hint: "send fewer traces per request, or raise limits.requestTimeoutMs in serve.yaml",
  });
}

function sendError(reply: FastifyReply, e: HttpError): FastifyReply {
  for (const [name, value] of Object.entries(e.headers ?? {})) reply.header(name, value);
  return reply
    .code(e.status)
    .type(JSON_TYPE)
    .send(`${JSON.stringify(errorEnvelope(e.error))}\n`);
}

/**
 * Creates the server and loads the policies; it does not listen yet.
 * @throws ProofError (exit 6) when the policies cannot be loaded: a server never starts
 *   without its policies.
 */
export async function createServer(options: ServerOptions): Promise<ServeHandle> {
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...(options.limits ?? {}) };
  const log = options.log ?? ((line: string) => process.stderr.write(`proof serve: ${line}\n`));
  const { metrics, authenticator, clientCertificateCheck } = options;
  const policyDir = options.policyDir;
  const loader: PolicyLoader | undefined =
    options.loadPolicies ?? (policyDir !== undefined ? () => readPolicyTexts(policyDir) : undefined);
  if (!loader) throw new TypeError("createServer needs policyDir or loadPolicies");
  const store = new PolicyStore(loader, metrics);
  const first = await store.reload();
  if (first) throw first;
  const loaded = store.snapshot().policies;
  log(`policies loaded: ${loaded.map((p) => `${p.ir.policy_id} ${p.ir.policy_digest}`).join(", ")}`);

  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    logger: false,
    bodyLimit: limits.bodyBytes,
    // Receiving the whole request (a slow client): Node answers 408 and closes the connection.
    requestTimeout: limits.requestTimeoutMs,
    // Routing to reply: 503 through the error handler below.
    handlerTimeout: limits.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    exposeHeadRoutes: false,
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  }) as unknown as FastifyInstance;

  // JSON bodies are read with proof's own parser: duplicate keys and numbers out of range are
  // refused as in every file proof reads, and a syntax error says where it is.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, parseJson(body as string, "request body"));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // A trace file of JSON Lines sent as it is (`POST /v1/verify?policy=&name=`): kept as text,
  // read by the trace reader as the file would be.
  app.addContentTypeParser(JSONL_TYPES, { parseAs: "string" }, (_request, body, done) => done(null, body));

  app.setErrorHandler((err, _request, reply) => sendError(reply, toHttpError(err, limits, log)));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, {
      status: 404,
      error: inputError("request.not_found", `no route ${request.method} ${echo(request.url)}`),
    }),
  );

  app.addHook("onRequest", async (request, reply) => {
    const route = routeOf(request);
    if (route === undefined || OPEN.has(route)) return;
    if (clientCertificateCheck) {
      const outcome = checkPeer(request.raw.socket, clientCertificateCheck);
      if (!outcome.ok) {
        metrics?.authFailure(outcome.reason);
        return sendError(reply, {
          status: 403,
          error: new ProofError(`auth.${outcome.reason}`, outcome.message),
        });
      }
    }
    if (authenticator) {
      const outcome = await authenticator.authenticate(request.headers.authorization, route);
      if (!outcome.ok) {
        metrics?.authFailure(outcome.reason);
        const headers: Record<string, string> = {};
        if (outcome.wwwAuthenticate) headers["www-authenticate"] = outcome.wwwAuthenticate;
        if (outcome.retryAfter !== undefined) headers["retry-after"] = String(outcome.retryAfter);
        return sendError(reply, {
          status: outcome.status,
          error: new ProofError(`auth.${outcome.reason}`, outcome.message, {
            category: outcome.status === 503 ? "dependency" : "input",
          }),
          headers,
        });
      }
    }
  });

  if (metrics) {
    app.addHook("onResponse", async (request, reply) => {
      metrics.request(
        routeOf(request) ?? "other",
        request.method,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
    });
  }

  /**
   * Stops a judgement between traces once the request is past its time limit. The clock, not
   * `request.signal`: Node ends a request (and fastify aborts its signal) once its body is read.
   */
  const checkpointFor = () => {
    const deadline = performance.now() + limits.requestTimeoutMs;
    return () => {
      if (performance.now() > deadline) throw timeoutError(limits);
    };
  };

  const json = (reply: FastifyReply, text: string) => reply.code(200).type(JSON_TYPE).send(text);

  const verifySchema = {
    body: {
      content: {
        "application/json": { schema: SCHEMAS["/v1/verify"] },
        ...Object.fromEntries(JSONL_TYPES.map((t) => [t, { schema: { type: "string" } }])),
      },
    },
    querystring: {
      type: "object",
      additionalProperties: false,
      properties: {
        policy: policyField,
        name: { type: "string", minLength: 1 },
        fail_on: { type: "string", enum: VERDICT_ORDER },
        root: { type: "string", minLength: 1 },
      },
    },
  };
  app.post("/v1/verify", { schema: verifySchema }, async (request, reply) => {
    const body = verifyBody(request.body, request.query as JsonLinesQuery);
    const policy = findPolicy(store.snapshot(), body.policy, "policy");
    const plan = body.plan ? loadPlan(JSON.stringify(body.plan), "plan") : undefined;
    const coverage =
      body.coverage || body.min_coverage !== undefined ? { min: body.min_coverage ?? null } : undefined;
    const result = await verifySources(policy.set, body.traces, {
      failOn: body.fail_on ?? "block",
      ...(body.context ? { context: body.context } : {}),
      ...(plan ? { plan } : {}),
      ...(coverage ? { coverage } : {}),
      ...(body.root ? { root: body.root } : {}),
      checkpoint: checkpointFor(),
    });
    if (metrics) {
      for (const [verdict, count] of Object.entries(result.report.summary.verdicts))
        if (count > 0) metrics.verdicts("/v1/verify", verdict as Verdict, count);
    }
    return json(reply, result.bytes);
  });

  app.post("/v1/check", { schema: { body: SCHEMAS["/v1/check"] } }, async (request, reply) => {
    const body = request.body as CheckBody;
    const policy = findPolicy(store.snapshot(), body.policy, "policy");
    const callFile = body.call_name ?? "call.json";
    const call = parseCall(body.call, callFile);
    let prior: Awaited<ReturnType<typeof onlyTrace>> | undefined;
    if (body.trace) {
      const { name, content } = body.trace;
      checkSourceName(name, "trace.name");
      const rel = name.slice(name.lastIndexOf("/") + 1);
      prior = await onlyTrace(
        [memoryTraceSource(name, rel, content)],
        "trace",
        name,
        (body.trace.format ?? "auto") as FormatName | "auto",
      );
    }
    const { decision } = checkCall({
      policies: policy.set,
      call,
      ...(prior ? { prior } : {}),
      ...(body.context ? { context: body.context } : {}),
      callFile,
    });
    metrics?.verdicts("/v1/check", decision.verdict, 1);
    return json(reply, prettyJson(decision));
  });

  app.post("/v1/adapt", { schema: { body: SCHEMAS["/v1/adapt"] } }, async (request, reply) => {
    const body = request.body as AdaptBody;
    const policy = findPolicy(store.snapshot(), body.policy, "policy");
    const selector = body.selector ?? "basic";
    if (body.weights && selector !== "weighted") {
      throw inputError("usage.selector", "weights go with the selector weighted");
    }
    const ids = new Set(policy.ir.rules.map((r) => r.id));
    const weights = body.weights ? parseWeights(JSON.stringify(body.weights), "weights", ids) : undefined;
    const { plan } = makePlan({
      policies: policy.set,
      context: body.context,
      selector,
      ...(weights ? { weights } : {}),
    });
    return json(reply, prettyJson(plan));
  });

  app.post("/v1/compile", { schema: { body: SCHEMAS["/v1/compile"] } }, async (request, reply) => {
    const body = request.body as CompileBody;
    return json(reply, compileSource(body.source, body.name ?? "policy.yaml").text);
  });

  app.get("/v1/policies", async (_request, reply) => {
    const snapshot = store.snapshot();
    const failure = store.lastFailure();
    return json(
      reply,
      prettyJson({
        generation: snapshot.generation,
        policies: snapshot.policies.map((p) => ({
          policy_id: p.ir.policy_id,
          policy_digest: p.ir.policy_digest,
          bundle_digest: p.set.bundleDigest,
          file: p.file,
          rules: p.ir.rules.length,
        })),
        reload_error: failure ? errorEnvelope(failure.error) : null,
      }),
    );
  });

  app.get("/healthz", async (_request, reply) => json(reply, '{"status":"ok"}\n'));

  app.get("/readyz", async (_request, reply) => {
    const policies = store.loaded();
    const auth = authenticator ? authenticator.ready() : true;
    const ready = policies && auth;
    return reply
      .code(ready ? 200 : 503)
      .type(JSON_TYPE)
      .send(`${JSON.stringify({ ready, policies_loaded: policies, authenticator_ready: auth })}\n`);
  });

  if (options.metricsText) {
    const text = options.metricsText;
    const type = options.metricsContentType ?? PROMETHEUS_TYPE;
    app.get("/metrics", async (_request, reply) =>
      reply
        .code(200)
        .type(type)
        .send(await text()),
    );
  }

  // A known path with a method it does not take: 405 naming the one it does.
  for (const { url, method } of ROUTES) {
    if (url === "/metrics" && !options.metricsText) continue;
    app.route({
      method: METHODS.filter((m) => m !== method),
      url,
      handler: async (request, reply) =>
        sendError(reply.header("allow", method), {
          status: 405,
          error: inputError("request.method", `${url} takes ${method}, not ${request.method}`),
        }),
    });
  }

  const reload = async (): Promise<ProofError | undefined> => {
    const error = await store.reload();
    if (error) {
      const where = error.location
        ? `${error.location.file}${error.location.line ? `:${error.location.line}` : ""}: `
        : "";
      log(
        `policy reload failed, keeping generation ${store.snapshot().generation}: ${where}${error.message}`,
      );
    } else {
      const s = store.snapshot();
      log(
        `policies reloaded: generation ${s.generation}, ${s.policies.length} ${s.policies.length === 1 ? "policy" : "policies"}`,
      );
    }
    return error;
  };

  const watch =
    options.watch && policyDir !== undefined
      ? watchDirectory(
          policyDir,
          () => void reload(),
          (err) => log(`cannot watch ${policyDir} for changes (SIGHUP still reloads): ${err.message}`),
        )
      : undefined;

  return {
    app,
    store,
    reload,
    async listen(host: string, port: number): Promise<string> {
      await app.listen({ host, port });
      const address = app.server.address() as AddressInfo;
      const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
      return `${options.https ? "https" : "http"}://${shown}:${address.port}`;
    },
    async close(deadlineMs = limits.requestTimeoutMs): Promise<void> {
      watch?.close();
      let timer: NodeJS.Timeout | undefined;
      const cut = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          app.server.closeAllConnections?.();
          resolve();
        }, deadlineMs);
        timer.unref();
      });
      await Promise.race([app.close(), cut]);
      if (timer) clearTimeout(timer);
    },
  };
}
