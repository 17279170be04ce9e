/**
 * `proof mcp gateway` (docs/integrations/mcp-gateway.md): an MCP Streamable HTTP endpoint (MCP
 * 2025-06-18 and 2025-03-26, "Transports / Streamable HTTP": POST, GET and DELETE on one endpoint
 * `/mcp`, sessions named by `Mcp-Session-Id`, answers as JSON or as SSE) in front of an upstream
 * MCP server (src/mcp/upstream.ts). Each session has its own guard and its own {@link McpProxy},
 * the same decision core as `proof mcp proxy`: every `tools/call` is judged before the upstream
 * sees it, refusals are the same JSON-RPC errors, tool results feed provenance and sequence rules.
 *
 * The HTTP side is written here on fastify rather than with the MCP SDK's server transport: that
 * transport commits a 200 before the message reaches the application, and the gateway must be
 * able to answer 503 (upstream unreachable, with `Retry-After`), 504 (no answer in time) or 404
 * (the upstream lost the session) for the very request that found out.
 *
 * An answer mirrors the upstream's: JSON when it answered JSON, SSE when it streamed, so that
 * progress notifications and server requests sent while a call runs reach the client on the
 * call's own stream. Messages no request waits for go to the session's GET stream, or are dropped
 * with a warning when the client has none open.
 */
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ServerOptions as HttpsServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { Counter, Gauge } from "prom-client";
import { errorEnvelope, ProofError } from "../errors.js";
import { createGuard, type Guard, timedGuard } from "../guard/guard.js";
import { jsonLine } from "../io/canonical.js";
import { type StdioChild, spawnStdioChild } from "../io/stdio-child.js";
import type { LedgerObservation } from "../ledger/ledger.js";
import { type LedgerDecision, LedgerSession, observingGuard, policyFacts } from "../ledger/session.js";
import type { PolicySet } from "../policy/set.js";
import type { ServeMetrics } from "../serve/metrics.js";
import { checkPeer } from "../serve/tls.js";
import type { ClientCertificateCheck, RequestAuthenticator, ServeRoute } from "../serve/types.js";
import type { DecisionExporter } from "../telemetry/otel.js";
import type { CompiledPolicy } from "../verify/compiled.js";
import type { Decision } from "../verify/decision.js";
import { errorLine, INVALID_REQUEST, idOfMessage, type JsonRpcId, SERVER_UNAVAILABLE } from "./jsonrpc.js";
import { McpProxy } from "./proxy.js";
import { sseEvent } from "./sse.js";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  httpUpstream,
  stdioUpstream,
  type Upstream,
  type UpstreamAnswer,
  type UpstreamSession,
} from "./upstream.js";

/** The path of the MCP endpoint. */
export const MCP_PATH = "/mcp";
/** Default time an upstream has to answer one request completely (ms); MCP clients wait 60 s too. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Default time after which a session no request has used is closed (ms). */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
/** Seconds a client is told to wait (`Retry-After`) when the upstream is unavailable. */
export const RETRY_AFTER_SECONDS = 1;
/** Largest request body (bytes) unless configured. */
const DEFAULT_BODY_BYTES = 4 * 1024 * 1024;

/** Where the gateway's upstream is: a Streamable HTTP URL, or a stdio command run per session. */
export type GatewayUpstream = { url: string } | { command: readonly string[] };

/** What {@link createGateway} and {@link startGateway} take. Only policies and upstream are required. */
export interface GatewayOptions {
  /** The policies every session's guard applies (as `loadPolicySet` in src/io returns them). */
  policies: PolicySet | readonly CompiledPolicy[];
  /** The context of `when` and CEL conditions; default `{}`. */
  context?: object;
  /**
   * Makes the guard of a new session (an embedder's own, or one shared with something that
   * reads its trace); default `createGuard(policies, {context, case_id: "mcp-gateway:<id>"})`.
   */
  guard?: (sessionId: string) => Guard;
  upstream: GatewayUpstream;
  /** Time to connect to an HTTP upstream, ms (default {@link DEFAULT_CONNECT_TIMEOUT_MS}). */
  connectTimeoutMs?: number;
  /** Time for the upstream to answer one request completely, ms (default 60 000). */
  requestTimeoutMs?: number;
  /** A session unused this long is closed, ms (default 30 minutes). */
  sessionIdleMs?: number;
  /** Largest request body, bytes (default 4 MiB). */
  bodyBytes?: number;
  /** Asked on `/mcp` and `/metrics`; none: every request runs. */
  authenticator?: RequestAuthenticator;
  /** Checks the TLS client certificate on `/mcp` and `/metrics` (403 on refusal). */
  clientCertificateCheck?: ClientCertificateCheck;
  /** Serve HTTPS with these options; plain HTTP when absent. */
  https?: HttpsServerOptions;
  /** Prometheus metrics of `proof serve` (src/serve/metrics.ts); the gateway adds its own to the registry. */
  metrics?: ServeMetrics;
  /**
   * Where decisions and observations go (an open ledger, src/io/ledger-file.ts): each session's
   * records carry its id as `session` (src/ledger/session.ts), so that `proof ledger lineage`
   * can follow a decision to the tool result it came from. An allowed call is forwarded only
   * once its decision is kept; a rejected append refuses that call and fails every session
   * closed from then on, as the stdio proxy does.
   */
  ledger?: {
    append(record: LedgerDecision): Promise<void>;
    observe(observation: LedgerObservation): Promise<void>;
  };
  /**
   * Exports each decision as an OpenTelemetry span with the low-risk fields
   * (`createDecisionExporter`, src/telemetry/otel.ts); `run_id` is the session id. Never changes
   * a decision.
   */
  exporter?: Pick<DecisionExporter, "export">;
  /** Keeps a session's trace (canonical JSON Lines) when the session ends. */
  record?: (sessionId: string, traceJsonl: string) => Promise<void>;
  /** Told of every decision (tests, embedding). */
  onDecision?: (sessionId: string, decision: Decision, forwarded: boolean) => void;
  /** Starts a stdio server (default: src/io/stdio-child.ts). */
  spawn?: (argv: readonly string[]) => StdioChild;
  /** Where log lines go (one line each, no newline); stderr by default. */
  log?: (line: string) => void;
}

/** A created gateway: not listening until {@link GatewayServer.listen}. */
export interface GatewayServer {
  app: FastifyInstance;
  /** Starts listening. @returns the base URL, `http://127.0.0.1:PORT` (the endpoint is `/mcp` under it). */
  listen(host: string, port: number): Promise<string>;
  /** Number of open sessions. */
  readonly sessions: number;
  /** Ends every session (records written), stops listening, frees upstream connections. */
  close(): Promise<void>;
}

/** What {@link startGateway} returns. */
export interface GatewayHandle {
  /** The MCP endpoint, `http://HOST:PORT/mcp`. */
  url: string;
  /** Number of open sessions. */
  readonly sessions: number;
  close(): Promise<void>;
}

/** One client session. */
interface Session {
  id: string;
  guard: Guard;
  proxy: McpProxy;
  upstream: UpstreamSession;
  /** Who opened it (the client certificate's and the token's subject); no one else can use it. */
  subject: string | undefined;
  /** The client's GET stream, where messages no request waits for go. */
  stream: ServerResponse | undefined;
  lastUsed: number;
  /** Lines the proxy writes to the client while a call of `capture` runs. */
  toClient: string[] | undefined;
  toServer: string[] | undefined;
  /**
   * Calls the proxy holds until their decision record is kept (by JSON-RPC id as canonical
   * JSON): told the line it then writes, to the server (forwarded) or to the client (refused).
   */
  held: Map<string, (out: Captured) => void>;
  warnedDrop: boolean;
  /** Its initialize succeeded (it is in the session table). */
  started: boolean;
  closing: Promise<void> | undefined;
}

/** What the proxy wrote to each side while handling one message. */
interface Captured {
  toClient: string[];
  toServer: string[];
}

const JSON_TYPE = "application/json";
const OPEN_ROUTES = new Set(["/healthz", "/readyz"]);

/** The id of a JSON-RPC request in a client's body (undefined for a notification or bad JSON). */
function requestIdOf(body: string): JsonRpcId | undefined {
  try {
    const m: unknown = JSON.parse(body);
    return isObject(m) && typeof m.method === "string" ? idOfMessage(m) : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The header's value when it was sent once; the first when repeated. */
function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Writes a whole response on a hijacked reply. */
function send(raw: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (raw.headersSent) {
    raw.end();
    return;
  }
  raw.writeHead(status, { "content-type": JSON_TYPE, ...headers });
  raw.end(body);
}

/** A JSON-RPC error as a whole HTTP answer (the transport's own refusals carry id null). */
function rpcError(raw: ServerResponse, status: number, code: number, message: string, headers = {}): void {
  send(raw, status, errorLine(null, code, message), headers);
}

/**
 * Creates the gateway: the fastify app with `/mcp`, `/healthz`, `/readyz` and (with metrics)
 * `/metrics`. Nothing listens yet and no upstream is contacted: sessions open their upstream
 * link when a client initialises.
 * @throws TypeError for an upstream URL that is not http or https, or an empty command.
 */
export function createGateway(options: GatewayOptions): GatewayServer {
  const log = options.log ?? ((line: string) => process.stderr.write(`proof mcp gateway: ${line}\n`));
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const sessionIdleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS;
  const { authenticator, clientCertificateCheck, metrics } = options;
  const up = options.upstream;
  if ("command" in up && up.command.length === 0) throw new TypeError("the upstream command is empty");
  const upstream: Upstream =
    "url" in up
      ? httpUpstream(up.url, connectTimeoutMs)
      : stdioUpstream(up.command, options.spawn ?? spawnStdioChild);
  const sessions = new Map<string, Session>();
  /** Set once the ledger failed: every session refuses tool calls from then on. */
  let fault: string | undefined;
  /** Policy ids, digests and rule effects, for decision records (none for bare compiled policies). */
  const facts = "irs" in options.policies ? policyFacts(options.policies) : undefined;

  const gm = metrics ? gatewayMetrics(metrics) : undefined;

  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    logger: false,
    bodyLimit: options.bodyBytes ?? DEFAULT_BODY_BYTES,
    forceCloseConnections: true,
    exposeHeadRoutes: false,
  }) as unknown as FastifyInstance;
  // The body reaches the proxy as text: it reads it strictly (duplicate keys, numbers out of
  // range), as the stdio proxy reads a line.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((err, _request, reply) => {
    const e = err as { code?: string; statusCode?: number; message?: string };
    const status =
      e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
        ? 415
        : typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500
          ? e.statusCode
          : 500;
    if (status === 500)
      log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    const message =
      status === 415
        ? "Unsupported Media Type: a message must be sent as application/json"
        : status === 500
          ? "internal error"
          : `${status === 413 ? "Payload Too Large" : "Bad Request"}: ${e.message ?? "invalid request"}`;
    return reply
      .code(status)
      .type(JSON_TYPE)
      .send(errorLine(null, INVALID_REQUEST, message));
  });

  app.addHook("onRequest", async (request, reply) => {
    const path = request.routeOptions.url;
    if (path === undefined || OPEN_ROUTES.has(path)) return;
    if (clientCertificateCheck) {
      const outcome = checkPeer(request.raw.socket, clientCertificateCheck);
      if (outcome.ok)
        (request as FastifyRequest & { subject?: string }).subject = `cert:${outcome.subject ?? ""}`;
      else {
        metrics?.authFailure(outcome.reason);
        return reply
          .code(403)
          .type(JSON_TYPE)
          .send(JSON.stringify(errorEnvelope(new ProofError(`auth.${outcome.reason}`, outcome.message))));
      }
    }
    if (authenticator) {
      // `/mcp` is no route of auth.yaml's `scopes`: any valid token (issuer, audience) may use it.
      const outcome = await authenticator.authenticate(request.headers.authorization, path as ServeRoute);
      if (!outcome.ok) {
        metrics?.authFailure(outcome.reason);
        if (outcome.wwwAuthenticate) reply.header("www-authenticate", outcome.wwwAuthenticate);
        if (outcome.retryAfter !== undefined) reply.header("retry-after", String(outcome.retryAfter));
        return reply
          .code(outcome.status)
          .type(JSON_TYPE)
          .send(
            JSON.stringify(
              errorEnvelope(
                new ProofError(`auth.${outcome.reason}`, outcome.message, {
                  category: outcome.status === 503 ? "dependency" : "input",
                }),
              ),
            ),
          );
      }
      // Who may use a session: the token's subject, and the certificate's when there is one.
      const r = request as FastifyRequest & { subject?: string };
      r.subject = `${r.subject ?? ""} token:${outcome.subject ?? ""}`;
    }
  });

  if (metrics) {
    app.addHook("onResponse", async (request, reply) => {
      const path = request.routeOptions.url;
      if (path === MCP_PATH) gm?.requests.inc({ method: request.method, code: String(reply.statusCode) });
      else if (path === "/healthz" || path === "/readyz" || path === "/metrics")
        metrics.request(path, request.method, reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  const subjectOf = (request: FastifyRequest) => (request as FastifyRequest & { subject?: string }).subject;

  /** Runs `f` with the proxy's output captured; @returns what it wrote to the client and the server. */
  const capture = (s: Session, f: () => void): { toClient: string[]; toServer: string[] } => {
    const outer = [s.toClient, s.toServer] as const;
    const out = { toClient: [] as string[], toServer: [] as string[] };
    s.toClient = out.toClient;
    s.toServer = out.toServer;
    try {
      f();
    } finally {
      [s.toClient, s.toServer] = outer;
    }
    return out;
  };

  /**
   * Hands a line the proxy wrote after a held call's record was kept (or failed) to the request
   * waiting for it. @returns whether some request was waiting for that id.
   */
  const releaseHeld = (s: Session, line: string, side: keyof Captured): boolean => {
    if (s.held.size === 0) return false;
    let id: JsonRpcId | undefined;
    try {
      id = idOfMessage(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return false;
    }
    const key = JSON.stringify(id ?? null);
    const release = s.held.get(key);
    if (!release) return false;
    s.held.delete(key);
    release(side === "toClient" ? { toClient: [line], toServer: [] } : { toClient: [], toServer: [line] });
    return true;
  };

  /**
   * Waits for the outcome of a call the proxy holds until its decision record is kept, at most
   * the request time; nothing written by then counts as nothing forwarded.
   */
  const awaitHeld = (s: Session, id: JsonRpcId): Promise<Captured> =>
    new Promise((resolve) => {
      const key = JSON.stringify(id);
      const timer = setTimeout(() => {
        s.held.delete(key);
        resolve({ toClient: [], toServer: [] });
      }, requestTimeoutMs);
      s.held.set(key, (out) => {
        clearTimeout(timer);
        resolve(out);
      });
    });

  /** A message no request waits for: to the GET stream, else dropped with one warning. */
  const unrelated = (s: Session, line: string) => {
    if (s.stream && !s.stream.writableEnded) {
      s.stream.write(sseEvent(line));
      return;
    }
    if (!s.warnedDrop) {
      s.warnedDrop = true;
      log(
        `session ${s.id}: a server message arrived while the client had no GET stream open; dropped (and any later ones)`,
      );
    }
  };

  const openSession = (subject: string | undefined): Session => {
    const id = randomUUID();
    const timed = timedGuard(
      options.guard?.(id) ??
        createGuard(options.policies, {
          ...(options.context ? { context: options.context } : {}),
          case_id: `mcp-gateway:${id}`,
        }),
    );
    const own: Guard = timed;
    const ledger = options.ledger;
    const records = new LedgerSession(id, facts);
    const ledgerFailed = (err: unknown): void => {
      const why = `the ledger append failed: ${err instanceof Error ? err.message : String(err)}`;
      if (fault === undefined) log(`${why}; every later tool call is refused`);
      fault ??= why;
      for (const other of sessions.values()) other.proxy.failClosed(why);
      s.proxy.failClosed(why);
    };
    // Observations go to the ledger too, so that lineage can prove where a value came from.
    const guard = ledger
      ? observingGuard(own, records, (observation) => {
          ledger.observe(observation).catch(ledgerFailed);
        })
      : own;
    const s = {
      id,
      guard,
      subject,
      stream: undefined,
      lastUsed: Date.now(),
      toClient: undefined,
      toServer: undefined,
      held: new Map(),
      warnedDrop: false,
      started: false,
      closing: undefined,
    } as unknown as Session;
    s.proxy = new McpProxy(
      guard,
      {
        toClient: (line) => {
          if (s.toClient) s.toClient.push(line);
          else if (!releaseHeld(s, line, "toClient")) unrelated(s, line);
        },
        toServer: (line) => {
          if (s.toServer) s.toServer.push(line);
          else releaseHeld(s, line, "toServer");
        },
        decided: (decision, forwarded, call) => {
          gm?.decisions.inc({ verdict: decision.verdict });
          options.onDecision?.(id, decision, forwarded);
          options.exporter?.export(decision, {
            run_id: id,
            latency_ms: timed.lastCheckMs(),
            ...(facts?.policies.length === 1 ? { policy_digest: facts.policies[0]?.digest } : {}),
          });
          if (!ledger) return;
          // Returned to the proxy, which forwards an allowed call only once its record is kept.
          const kept = ledger.append(records.decision(decision, call));
          kept.catch(ledgerFailed);
          return kept;
        },
        warn: (message) => log(`session ${id}: ${message}`),
      },
      { caseId: `mcp-gateway:${id}` },
    );
    if (fault !== undefined) s.proxy.failClosed(fault);
    s.upstream = upstream.open((text) => {
      const out = capture(s, () => s.proxy.fromServer(text));
      for (const line of out.toClient) unrelated(s, line);
    });
    return s;
  };

  /** Ends a session: its GET stream, its upstream link, and its recorded trace. Idempotent. */
  const closeSession = (s: Session): Promise<void> => {
    s.closing ??= (async () => {
      sessions.delete(s.id);
      gm?.sessions.set(sessions.size);
      s.stream?.end();
      // Calls still waiting for their decision record were not forwarded: their requests end now.
      for (const release of s.held.values()) release({ toClient: [], toServer: [] });
      s.held.clear();
      await s.upstream
        .close()
        .catch((err: unknown) => log(`session ${s.id}: closing upstream: ${String(err)}`));
      // A session whose initialize never succeeded ran nothing: no trace to keep.
      if (options.record && s.started) {
        const trace = s.guard.trace();
        const text = [jsonLine(trace.header), ...trace.events.map((e) => jsonLine(e))].join("");
        await options.record(s.id, text).catch((err: unknown) => {
          log(
            `session ${s.id}: the trace could not be recorded: ${err instanceof Error ? err.message : String(err)}`,
          );
        });
      }
    })();
    return s.closing;
  };

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const s of sessions.values())
        if (now - s.lastUsed > sessionIdleMs && !s.stream) {
          log(`session ${s.id}: idle for ${Math.round((now - s.lastUsed) / 1000)} s; closed`);
          void closeSession(s);
        }
    },
    Math.min(sessionIdleMs, 60_000),
  );
  sweep.unref();

  /**
   * Checks what every request on `/mcp` must carry: an `Origin` (when sent) naming this host, as
   * the transport requires against DNS rebinding. @returns false when it answered a refusal.
   */
  const originOk = (request: FastifyRequest, raw: ServerResponse): boolean => {
    const origin = header(request, "origin");
    if (origin === undefined) return true;
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== undefined && host === header(request, "host")) return true;
    rpcError(raw, 403, INVALID_REQUEST, "Forbidden: the Origin header does not name this server");
    return false;
  };

  /** The session a request names, or undefined when it answered the refusal. */
  const sessionOf = (request: FastifyRequest, raw: ServerResponse): Session | undefined => {
    const sid = header(request, "mcp-session-id");
    if (sid === undefined) {
      rpcError(raw, 400, INVALID_REQUEST, "Bad Request: no Mcp-Session-Id header (send initialize first)");
      return undefined;
    }
    const s = sessions.get(sid);
    // Another subject's session is answered as unknown: its existence is nobody else's business.
    if (!s || s.closing || s.subject !== subjectOf(request)) {
      rpcError(raw, 404, INVALID_REQUEST, "Not Found: no such session (start a new one with initialize)");
      return undefined;
    }
    s.lastUsed = Date.now();
    return s;
  };

  app.post(MCP_PATH, async (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    if (!originOk(request, raw)) return;
    const accept = header(request, "accept") ?? "";
    if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
      rpcError(
        raw,
        406,
        INVALID_REQUEST,
        "Not Acceptable: Accept must list application/json and text/event-stream",
      );
      return;
    }
    const body = typeof request.body === "string" ? request.body : "";
    let session: Session | undefined;
    let fresh = false;
    if (header(request, "mcp-session-id") === undefined) {
      let initialize = false;
      try {
        const m = JSON.parse(body) as unknown;
        initialize = isObject(m) && m.method === "initialize" && idOfMessage(m) !== undefined;
      } catch {
        initialize = false;
      }
      if (!initialize) {
        rpcError(raw, 400, INVALID_REQUEST, "Bad Request: no Mcp-Session-Id header (send initialize first)");
        return;
      }
      session = openSession(subjectOf(request));
      fresh = true;
    } else {
      session = sessionOf(request, raw);
      if (!session) return;
    }
    const s = session;
    let judged = capture(s, () => s.proxy.fromClient(body));
    if (judged.toServer.length === 0 && judged.toClient.length === 0) {
      // A request neither forwarded nor answered yet is an allowed call held until its decision
      // is in the ledger: its outcome comes once the append settles.
      const held = requestIdOf(body);
      if (held !== undefined) {
        judged = await awaitHeld(s, held);
        if (judged.toServer.length === 0 && judged.toClient.length === 0) {
          // The session ended, or the record was not kept in time: the call did not run.
          send(
            raw,
            503,
            errorLine(
              held,
              SERVER_UNAVAILABLE,
              "proof: the call was not forwarded: its decision was not recorded in time",
            ),
          );
          return;
        }
      }
    }
    const forwarded = judged.toServer[0];
    if (forwarded === undefined) {
      // Refused or answered by the proxy itself: nothing reached the upstream.
      if (fresh) void closeSession(s);
      if (judged.toClient.length === 0) send(raw, 202, "");
      else send(raw, 200, judged.toClient.join("\n"));
      return;
    }
    const message = JSON.parse(forwarded) as Record<string, unknown>;
    const id: JsonRpcId | undefined = typeof message.method === "string" ? idOfMessage(message) : undefined;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, requestTimeoutMs);
    /** Set once the client has its answer: the upstream's stream may then end on its own. */
    let answered = false;
    // A client that goes away before its answer stops the wait upstream (and frees the request id).
    raw.on("close", () => {
      if (!answered) abort.abort();
    });
    const protocolVersion = header(request, "mcp-protocol-version");
    const answer: UpstreamAnswer = await s.upstream.send(forwarded, {
      request: id !== undefined,
      signal: abort.signal,
      ...(protocolVersion !== undefined ? { protocolVersion } : {}),
    });
    const sessionHeader: Record<string, string> = fresh ? { "mcp-session-id": s.id } : {};
    /** Answers the request with a gateway error when the upstream could not: 503, 502, 504 or 404. */
    const fail = (status: number, text: string, headers: Record<string, string> = {}) => {
      answered = true;
      clearTimeout(timer);
      gm?.upstreamErrors.inc({ status: String(status) });
      const out = id === undefined ? { toClient: [] } : capture(s, () => s.proxy.abandon(id, text));
      const bodyText = out.toClient[0] ?? errorLine(id ?? null, SERVER_UNAVAILABLE, text);
      if (fresh) void closeSession(s);
      send(raw, status, bodyText, headers);
    };
    if (answer.kind === "unavailable") {
      const what = `the upstream MCP server ${upstream.name}`;
      const text =
        answer.status === 504 || timedOut
          ? `proof: ${what} did not answer within ${requestTimeoutMs} ms; the call's outcome is unknown`
          : `proof: ${what} is unavailable (${answer.reason}); ${answer.ran ? "the call's outcome is unknown" : "the call was not run"}`;
      fail(
        timedOut ? 504 : answer.status,
        text,
        answer.status === 503 ? { "retry-after": String(RETRY_AFTER_SECONDS) } : {},
      );
      return;
    }
    if (answer.kind === "session_gone") {
      fail(
        404,
        `proof: the upstream MCP server ${upstream.name} no longer knows this session; start a new one`,
      );
      void closeSession(s);
      return;
    }
    if (answer.kind === "accepted") {
      answered = true;
      clearTimeout(timer);
      if (id !== undefined) {
        fail(502, `proof: the upstream MCP server ${upstream.name} accepted a request without answering it`);
        return;
      }
      if (message.method === "notifications/initialized") s.upstream.initialized();
      send(raw, 202, "", sessionHeader);
      return;
    }
    // Messages: relayed through the proxy (which observes the call's result), as they came.
    const lines: string[] = [];
    const stream = answer.stream;
    /** Registers a session whose initialize succeeded (before its answer can reach the client). */
    const settle = () => {
      answered = true;
      clearTimeout(timer);
      if (!fresh) return;
      if (!initializeSucceeded(lines)) void closeSession(s);
      else {
        s.started = true;
        sessions.set(s.id, s);
        gm?.sessions.set(sessions.size);
      }
    };
    // The head goes out with the first event: one packet fewer per call.
    if (stream)
      raw.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        ...sessionHeader,
      });
    let ended = false;
    for await (const text of answer.messages) {
      const out = capture(s, () => s.proxy.fromServer(text));
      if (ended) {
        // After the response the stream is the server's to close; what still comes goes where
        // unrelated messages go.
        for (const line of out.toClient) unrelated(s, line);
        continue;
      }
      lines.push(...out.toClient);
      if (!stream || out.toClient.length === 0) continue;
      const events = out.toClient.map(sseEvent).join("");
      if (id !== undefined && !s.proxy.isWaiting(id)) {
        // The response is here: the client's stream ends with it, without waiting for the upstream's.
        settle();
        raw.end(events);
        ended = true;
      } else raw.write(events);
    }
    if (ended) return;
    const failure = answer.messages.failure;
    if (id !== undefined && s.proxy.isWaiting(id) && failure && !stream && lines.length === 0) {
      // Nothing was sent yet: the failure can still be an HTTP status.
      fail(
        503,
        `proof: the upstream MCP server ${upstream.name} is unavailable (${failure.reason}); ${failure.ran ? "the call's outcome is unknown" : "the call was not run"}`,
        { "retry-after": String(RETRY_AFTER_SECONDS) },
      );
      return;
    }
    if (id !== undefined && s.proxy.isWaiting(id)) {
      const why = timedOut
        ? `proof: the upstream MCP server ${upstream.name} did not answer within ${requestTimeoutMs} ms; the call's outcome is unknown`
        : `proof: the upstream MCP server ${upstream.name} ended its answer without a response; the call's outcome is unknown`;
      gm?.upstreamErrors.inc({ status: timedOut ? "504" : "502" });
      const out = capture(s, () => s.proxy.abandon(id, why));
      lines.push(...out.toClient);
      if (stream) raw.write(out.toClient.map(sseEvent).join(""));
    }
    settle();
    if (stream) raw.end();
    else
      send(
        raw,
        answer.status,
        lines.length === 1 ? (lines[0] as string) : `[${lines.join(",")}]`,
        // Only a session that started is named: a failed initialize leaves none behind.
        s.started ? sessionHeader : {},
      );
  });

  app.get(MCP_PATH, async (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    if (!originOk(request, raw)) return;
    if (!(header(request, "accept") ?? "").includes("text/event-stream")) {
      rpcError(raw, 406, INVALID_REQUEST, "Not Acceptable: a GET stream is text/event-stream");
      return;
    }
    const s = sessionOf(request, raw);
    if (!s) return;
    if (s.stream && !s.stream.writableEnded) {
      rpcError(raw, 409, INVALID_REQUEST, "Conflict: this session already has a GET stream open");
      return;
    }
    raw.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    raw.flushHeaders();
    s.stream = raw;
    raw.on("close", () => {
      if (s.stream === raw) s.stream = undefined;
      s.lastUsed = Date.now();
    });
  });

  app.delete(MCP_PATH, async (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    if (!originOk(request, raw)) return;
    const s = sessionOf(request, raw);
    if (!s) return;
    await closeSession(s);
    raw.writeHead(204);
    raw.end();
  });

  app.route({
    method: ["PUT", "PATCH", "HEAD", "OPTIONS"],
    url: MCP_PATH,
    handler: async (request, reply) =>
      reply
        .code(405)
        .header("allow", "GET, POST, DELETE")
        .type(JSON_TYPE)
        .send(
          errorLine(
            null,
            INVALID_REQUEST,
            `Method Not Allowed: ${MCP_PATH} takes GET, POST and DELETE, not ${request.method}`,
          ),
        ),
  });

  app.get("/healthz", async (_request, reply) => reply.code(200).type(JSON_TYPE).send('{"status":"ok"}\n'));

  app.get("/readyz", async (_request, reply) => {
    const why = await upstream.probe();
    const auth = authenticator ? authenticator.ready() : true;
    const ready = why === undefined && auth && fault === undefined;
    gm?.upstreamUp.set(why === undefined ? 1 : 0);
    const body: Record<string, unknown> = {
      ready,
      upstream_ready: why === undefined,
      authenticator_ready: auth,
      ledger_ok: fault === undefined,
    };
    if (why !== undefined) body.upstream_error = `${upstream.name}: ${why}`;
    if (!ready) reply.header("retry-after", String(RETRY_AFTER_SECONDS));
    return reply
      .code(ready ? 200 : 503)
      .type(JSON_TYPE)
      .send(`${JSON.stringify(body)}\n`);
  });

  if (metrics) {
    app.get("/metrics", async (_request, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.code(200).type(contentType).send(body);
    });
  }

  let closed: Promise<void> | undefined;
  return {
    app,
    get sessions() {
      return sessions.size;
    },
    async listen(host, port) {
      await app.listen({ host, port });
      const address = app.server.address() as AddressInfo;
      const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
      return `${options.https ? "https" : "http"}://${shown}:${address.port}`;
    },
    close() {
      closed ??= (async () => {
        clearInterval(sweep);
        await Promise.all([...sessions.values()].map((s) => closeSession(s)));
        await app.close();
        upstream.close();
      })();
      return closed;
    },
  };
}

/** Whether the answer to `initialize` was a result (not an error): only then does a session start. */
function initializeSucceeded(lines: readonly string[]): boolean {
  return lines.some((line) => {
    try {
      const m = JSON.parse(line) as unknown;
      return isObject(m) && isObject(m.result);
    } catch {
      return false;
    }
  });
}

/**
 * Creates a gateway and starts listening: the in-process way to put a guard in front of an MCP
 * server (tests, conformance harnesses, embedding).
 * @param options as {@link createGateway}, plus where to listen (default 127.0.0.1, a free port)
 * @returns the endpoint URL (`http://127.0.0.1:PORT/mcp`) and `close()`, which ends every
 *   session, writes their records and stops listening.
 * @throws as {@link createGateway}; a listen error (EADDRINUSE...) as Node raises it.
 */
export async function startGateway(
  options: GatewayOptions & { host?: string; port?: number },
): Promise<GatewayHandle> {
  const gateway = createGateway(options);
  const base = await gateway.listen(options.host ?? "127.0.0.1", options.port ?? 0);
  return {
    url: `${base}${MCP_PATH}`,
    get sessions() {
      return gateway.sessions;
    },
    close: () => gateway.close(),
  };
}

/** The gateway's own metrics, on the registry of `proof serve`'s metrics. */
function gatewayMetrics(metrics: ServeMetrics) {
  const registers = [metrics.registry];
  return {
    requests: new Counter({
      name: "proof_mcp_gateway_requests_total",
      help: "Finished requests to the MCP endpoint, by HTTP method and status code.",
      labelNames: ["method", "code"] as const,
      registers,
    }),
    decisions: new Counter({
      name: "proof_mcp_gateway_decisions_total",
      help: "Decisions on tools/call messages, by verdict.",
      labelNames: ["verdict"] as const,
      registers,
    }),
    sessions: new Gauge({
      name: "proof_mcp_gateway_sessions",
      help: "Open MCP sessions.",
      registers,
    }),
    upstreamErrors: new Counter({
      name: "proof_mcp_gateway_upstream_errors_total",
      help: "Requests the upstream did not answer, by the status the gateway answered (502, 503, 504, 404).",
      labelNames: ["status"] as const,
      registers,
    }),
    upstreamUp: new Gauge({
      name: "proof_mcp_gateway_upstream_up",
      help: "1 when the last readiness probe reached the upstream, else 0.",
      registers,
    }),
  };
}
