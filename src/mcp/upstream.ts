/**
 * The MCP server behind `proof mcp gateway` (docs/integrations/mcp-gateway.md): reached over
 * Streamable HTTP (MCP 2025-06-18, "Transports / Streamable HTTP", client side), or started over
 * stdio, one child process per gateway session. Either way an {@link UpstreamSession} takes one
 * JSON-RPC message at a time and says how its answer comes: accepted (no answer), a stream of
 * message texts, or not at all (the upstream is unavailable, with the reason and HTTP status the
 * gateway answers with). Every wait is bounded: connecting by a connect timeout, answering by the
 * caller's abort signal.
 *
 * The HTTP side uses node:http rather than an MCP client library because the gate must judge the
 * very bytes the upstream sent (src/mcp/jsonrpc.ts reads them strictly), must know which request
 * a broken stream was carrying, and must bound the connection separately from a long tool call;
 * a client library parses, validates and reconnects on its own.
 */
import { Agent, type Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { StdioChild } from "../io/stdio-child.js";
import { LineFramer } from "./framer.js";
import { idKey, idOfMessage, isResponse, type JsonRpcId } from "./jsonrpc.js";
import { SseDecoder } from "./sse.js";

/** Message texts arriving for one request, in order, until the upstream's answer ends. */
export class MessageQueue implements AsyncIterable<string> {
  private readonly items: string[] = [];
  private done = false;
  private wake: (() => void) | undefined;

  push(text: string): void {
    if (this.done) return;
    this.items.push(text);
    this.wake?.();
  }

  /**
   * Why the messages ended early, when the upstream's end is known to be a failure (a stdio
   * server that exited): `ran` tells whether the message may have been acted on.
   */
  failure: { reason: string; ran: boolean } | undefined;

  /** No more messages will come (idempotent); `failure` when the upstream failed. */
  end(failure?: { reason: string; ran: boolean }): void {
    if (!this.done && failure) this.failure = failure;
    this.done = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    while (true) {
      const next = this.items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

/** How the upstream answered one message. */
export type UpstreamAnswer =
  /** Taken, no answer follows (HTTP 202; a notification or response written to a stdio server). */
  | { kind: "accepted" }
  /**
   * The answer's messages (a request's response, and any requests or notifications sent before
   * it). `stream`: they came as SSE, so the client gets SSE too; else one JSON body. `status`:
   * the upstream's HTTP status (200, or a 4xx whose body is a JSON-RPC error).
   */
  | { kind: "messages"; stream: boolean; status: number; messages: MessageQueue }
  /**
   * Not answered. `status`: what the gateway answers (503 unreachable, 502 the upstream failed,
   * 504 no answer in time). `ran`: whether the upstream may have run the message (false when the
   * connection was never made).
   */
  | { kind: "unavailable"; status: 502 | 503 | 504; reason: string; ran: boolean }
  /** The upstream no longer knows the session (HTTP 404 to a request carrying its session id). */
  | { kind: "session_gone" };

/** Options of one {@link UpstreamSession.send}. */
export interface SendOptions {
  /** The message is a request: an answer is expected. */
  request: boolean;
  /** The client's `MCP-Protocol-Version` header, passed on. */
  protocolVersion?: string;
  /** Aborting stops waiting: the answer becomes `unavailable` (504) or its messages end. */
  signal: AbortSignal;
}

/** One gateway session's link to the upstream. */
export interface UpstreamSession {
  /** Sends one message (a JSON text). Never rejects. */
  send(line: string, options: SendOptions): Promise<UpstreamAnswer>;
  /** The client finished initialising: an HTTP upstream may now be listened to (GET stream). */
  initialized(): void;
  /** Ends the session upstream (HTTP DELETE, or stops the stdio server); bounded in time. */
  close(): Promise<void>;
}

/** The upstream of a gateway: where sessions are opened. */
export interface Upstream {
  /** The URL, or the command line, for messages. */
  readonly name: string;
  /** Opens a session; `unrelated` gets messages no request waits for (server notifications...). */
  open(unrelated: (text: string) => void): UpstreamSession;
  /** Whether it can be reached now: undefined when it can, else why not. Bounded by the connect timeout. */
  probe(): Promise<string | undefined>;
  /** Frees pooled connections. */
  close(): void;
}

/** Default time to establish a connection to an HTTP upstream, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
/** Largest error body read from an upstream (bytes); the rest is dropped. */
const MAX_ERROR_BODY = 64 * 1024;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The media type of a Content-Type header, lower case, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * An MCP server reached over Streamable HTTP at `url`. Connections are pooled (keep-alive); a
 * connection not made within `connectTimeoutMs` fails the message as unreachable (503).
 * @throws TypeError for a URL that is not http or https.
 */
export function httpUpstream(url: string, connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Upstream {
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:")
    throw new TypeError(`the upstream URL must be http or https, not ${target.protocol}`);
  const secure = target.protocol === "https:";
  const agent: HttpAgent = secure ? new HttpsAgent({ keepAlive: true }) : new Agent({ keepAlive: true });
  const request = secure ? httpsRequest : httpRequest;
  const port = Number(target.port || (secure ? 443 : 80));
  const host = target.hostname.replace(/^\[|\]$/g, "");

  /** One HTTP exchange with the upstream; resolves at the response's head (or the failure). */
  const exchange = (
    method: "POST" | "GET" | "DELETE",
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
  ): Promise<{ res: IncomingMessage } | { error: string; connected: boolean; aborted: boolean }> =>
    new Promise((resolve) => {
      let connected = false;
      let timer: NodeJS.Timeout | undefined;
      const req = request(target, { method, headers, agent });
      const onAbort = () => req.destroy(new Error("aborted"));
      signal.addEventListener("abort", onAbort, { once: true });
      req.on("socket", (socket) => {
        if (!socket.connecting) {
          connected = true;
          return;
        }
        timer = setTimeout(
          () => req.destroy(new Error(`no connection within ${connectTimeoutMs} ms`)),
          connectTimeoutMs,
        );
        socket.once("connect", () => {
          connected = true;
          clearTimeout(timer);
        });
      });
      req.on("error", (err) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        resolve({ error: messageOf(err), connected, aborted: signal.aborted });
      });
      req.on("response", (res) => {
        clearTimeout(timer);
        res.on("close", () => signal.removeEventListener("abort", onAbort));
        resolve({ res });
      });
      req.end(body);
    });

  return {
    name: url,
    open(unrelated) {
      let sessionId: string | undefined;
      let protocol: string | undefined;
      const lifetime = new AbortController();
      const common = (): Record<string, string> => ({
        ...(sessionId !== undefined ? { "mcp-session-id": sessionId } : {}),
        ...(protocol !== undefined ? { "mcp-protocol-version": protocol } : {}),
      });
      /** Feeds a response body's messages to `queue` (SSE events, or one JSON body) and ends it. */
      const drain = (res: IncomingMessage, stream: boolean, queue: MessageQueue) => {
        res.setEncoding("utf8");
        if (stream) {
          const decoder = new SseDecoder();
          res.on("data", (chunk: string) => {
            for (const e of decoder.push(chunk)) if (e.event === "message") queue.push(e.data);
          });
        } else {
          let text = "";
          res.on("data", (chunk: string) => {
            text += chunk;
          });
          res.on("end", () => queue.push(text));
        }
        res.on("close", () => queue.end());
        res.on("error", () => queue.end());
      };
      return {
        async send(line, options) {
          if (options.protocolVersion !== undefined) protocol = options.protocolVersion;
          const sent = sessionId !== undefined;
          const out = await exchange(
            "POST",
            {
              "content-type": "application/json",
              accept: "application/json, text/event-stream",
              ...common(),
            },
            line,
            options.signal,
          );
          if ("error" in out) {
            if (out.aborted)
              return { kind: "unavailable", status: 504, reason: "no answer in time", ran: true };
            return { kind: "unavailable", status: 503, reason: out.error, ran: out.connected };
          }
          const { res } = out;
          const sid = res.headers["mcp-session-id"];
          if (typeof sid === "string" && sid !== "") sessionId = sid;
          const status = res.statusCode ?? 0;
          if (status === 202 || (!options.request && status >= 200 && status < 300)) {
            res.resume();
            return { kind: "accepted" };
          }
          if (status === 404 && sent) {
            res.resume();
            return { kind: "session_gone" };
          }
          const type = mediaType(res.headers["content-type"]);
          if (status === 200 && type === "text/event-stream") {
            const messages = new MessageQueue();
            drain(res, true, messages);
            return { kind: "messages", stream: true, status, messages };
          }
          if (status >= 200 && status < 500 && type === "application/json") {
            const messages = new MessageQueue();
            drain(res, false, messages);
            return { kind: "messages", stream: false, status, messages };
          }
          // Anything else (5xx, an unexpected media type): read a bounded excerpt for the reason.
          const excerpt = await new Promise<string>((resolve) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
              if (text.length < MAX_ERROR_BODY) text += chunk;
            });
            res.on("close", () => resolve(text));
          });
          const said = excerpt.trim().slice(0, 200).replace(/\s+/g, " ");
          return {
            kind: "unavailable",
            status: 502,
            reason: `answered HTTP ${status}${type ? ` ${type}` : ""}${said ? `: ${said}` : ""}`,
            ran: true,
          };
        },
        initialized() {
          // The server's own requests and notifications come on a GET stream (405: it has none).
          void exchange("GET", { accept: "text/event-stream", ...common() }, undefined, lifetime.signal).then(
            (out) => {
              if ("error" in out) return;
              const { res } = out;
              if (res.statusCode !== 200 || mediaType(res.headers["content-type"]) !== "text/event-stream") {
                res.resume();
                return;
              }
              const queue = new MessageQueue();
              drain(res, true, queue);
              void (async () => {
                for await (const text of queue) unrelated(text);
              })();
            },
          );
        },
        async close() {
          const wasOpen = sessionId;
          lifetime.abort();
          if (wasOpen === undefined) return;
          const signal = AbortSignal.timeout(connectTimeoutMs);
          const out = await exchange("DELETE", common(), undefined, signal);
          if ("res" in out) out.res.resume();
        },
      };
    },
    probe() {
      return new Promise((resolve) => {
        const socket = connect({ host, port });
        const timer = setTimeout(() => {
          socket.destroy();
          resolve(`no connection to ${host}:${port} within ${connectTimeoutMs} ms`);
        }, connectTimeoutMs);
        socket.once("connect", () => {
          clearTimeout(timer);
          socket.end();
          resolve(undefined);
        });
        socket.once("error", (err) => {
          clearTimeout(timer);
          resolve(messageOf(err));
        });
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** How long a stdio server may take to stop after its input closes, then after SIGTERM (ms). */
const STDIO_STOP_GRACE_MS = 2000;

/**
 * An MCP server started over stdio for each session (`spawn(argv)`): each gateway session has a
 * process of its own, so that no state (open files, a browser, credentials picked up at run
 * time) crosses from one client to another. A response goes to the request that waits for its
 * id; every other line goes to `unrelated`. A server that has exited makes every later message
 * unavailable (503): the session cannot recover and the client should start a new one.
 */
export function stdioUpstream(
  argv: readonly string[],
  spawn: (argv: readonly string[]) => StdioChild,
): Upstream {
  const name = argv.join(" ");
  return {
    name,
    open(unrelated) {
      const child = spawn(argv);
      const framer = new LineFramer();
      const waiters = new Map<string, MessageQueue>();
      let exit: string | undefined;
      const line = (text: string) => {
        if (text.trim() === "") return;
        let id: JsonRpcId | undefined;
        try {
          const m = JSON.parse(text) as unknown;
          if (m !== null && typeof m === "object" && !Array.isArray(m)) {
            const message = m as Record<string, unknown>;
            if (isResponse(message)) id = idOfMessage(message);
          }
        } catch {
          // Not JSON: the proxy reports it when it reads it.
        }
        const queue = id === undefined ? undefined : waiters.get(idKey(id));
        if (queue && id !== undefined) {
          waiters.delete(idKey(id));
          queue.push(text);
          queue.end();
        } else unrelated(text);
      };
      child.stdout.on("data", (chunk: Buffer) => {
        for (const l of framer.push(chunk)) line(l);
      });
      const exited = child.exited.then((e) => {
        const rest = framer.end();
        if (rest !== undefined) line(rest);
        exit = e.reason;
        // A server that could not start never read the message.
        const failure = { reason: `the server ${e.reason}`, ran: !e.reason.startsWith("could not start") };
        for (const q of waiters.values()) q.end(failure);
        waiters.clear();
      });
      return {
        async send(text, options) {
          if (exit !== undefined)
            return { kind: "unavailable", status: 503, reason: `the server ${exit}`, ran: false };
          let key: string | undefined;
          if (options.request) {
            const id = idOfMessage(JSON.parse(text) as Record<string, unknown>);
            if (id !== undefined) key = idKey(id);
          }
          const queue = new MessageQueue();
          if (key !== undefined) waiters.set(key, queue);
          if (!child.write(`${text}\n`)) {
            if (key !== undefined) waiters.delete(key);
            return { kind: "unavailable", status: 503, reason: "the server's input is closed", ran: false };
          }
          if (key === undefined) return { kind: "accepted" };
          options.signal.addEventListener(
            "abort",
            () => {
              waiters.delete(key);
              queue.end();
            },
            { once: true },
          );
          return { kind: "messages", stream: false, status: 200, messages: queue };
        },
        initialized() {},
        async close() {
          child.endInput();
          const term = setTimeout(() => child.kill("SIGTERM"), STDIO_STOP_GRACE_MS);
          const kill = setTimeout(() => child.kill("SIGKILL"), 2 * STDIO_STOP_GRACE_MS);
          await exited;
          clearTimeout(term);
          clearTimeout(kill);
        },
      };
    },
    async probe() {
      return undefined;
    },
    close() {},
  };
}
