/**
 * The policy core of `proof mcp proxy` (docs/boundary.md): what to do with each line that arrives from
 * the MCP client or from the server. Pure: lines in, lines out through {@link ProxyPorts}; the
 * streams and the server process are wired in src/mcp/run.ts and src/io/stdio-child.ts.
 *
 * The proxy judges exactly what it forwards. Every client line is parsed strictly: a line that
 * JSON readers could read differently (a duplicate key, an out-of-range number) is refused, never
 * forwarded, since a server whose parser keeps the first of two keys would act on a value the
 * guard never saw. Every `tools/call` must name its tool with a non-empty string and carry object
 * params (and object arguments); it is decided by the guard, and only `allow` and `warn` are
 * forwarded, re-serialised from the very value the guard judged. Other client messages are
 * forwarded as they came. The proxy's own faults refuse calls: no policy, a guard that throws, a
 * server that is gone.
 */
import { type Guard, type GuardCall, PENDING_TRACE_ID } from "../guard/guard.js";
import { resultText } from "../trace/formats/mcp.js";
import type { Decision } from "../verify/decision.js";
import {
  errorLine,
  errorObject,
  INVALID_PARAMS,
  INVALID_REQUEST,
  idKey,
  idOfMessage,
  inert,
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  POLICY_REFUSED,
  PROXY_FAULT,
  parseLine,
  SERVER_UNAVAILABLE,
  showName,
  toolCallParams,
  validId,
} from "./jsonrpc.js";

/** The `case_id` of a proxied session (its decisions, its recorded trace). */
export const PROXY_CASE_ID = "mcp-proxy";

/** Where the proxy's output goes. */
export interface ProxyPorts {
  /** One line (no newline) to the client. */
  toClient(line: string): void;
  /** One line (no newline) to the server. */
  toServer(line: string): void;
  /**
   * A decision (for the ledger), whether the call is to be forwarded, and the call the guard
   * judged (absent for a message refused before the guard could judge it, see
   * {@link McpProxy.fromClient}: that comes as a `block` decision with `seq: -1`, no event of the
   * session's trace). When it returns a promise for a call to be forwarded, the proxy waits for it
   * before forwarding and refuses the call if it rejects (the record could not be kept: fail closed,
   * every later call refused too).
   */
  decided(decision: Decision, forwarded: boolean, call?: GuardCall): void | Promise<void>;
  /** A problem worth one line on stderr. */
  warn(message: string): void;
}

/** A forwarded client request waiting for the server's answer. */
interface Pending {
  id: JsonRpcId;
  /** Set for a forwarded `tools/call`: its result is observed by the guard. */
  call?: { callId: string; tool: string };
}

/** Verdicts that let a call run (docs/boundary.md). */
const RUNS = new Set(["allow", "warn"]);

/** Longest non-string tool name kept (as JSON text) in a refusal's decision. */
const MAX_RECORDED_NAME = 256;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The readable part of a refusal: `block write_file: rules a, b (reasons x, y)`. */
export function refusalMessage(d: Decision): string {
  const rules = d.rules.length > 0 ? `: rules ${d.rules.join(", ")} (reasons ${d.reasons.join(", ")})` : "";
  const errors = d.errors.map((e) => `; error in ${e.rule}: ${e.message}`).join("");
  return `proof: ${d.verdict} ${showName(d.tool)}${rules}${errors}`;
}

/** The tool a refused message names, as its decision records it: a string as is, else JSON text. */
function recordedName(name: unknown): string {
  if (typeof name === "string") return name;
  if (name === undefined) return "";
  const text = JSON.stringify(name) ?? "";
  return text.length > MAX_RECORDED_NAME ? `${text.slice(0, MAX_RECORDED_NAME - 1)}…` : text;
}

/** How a refusal names a request in words: `(id 7)`, or nothing for a notification. */
function idWords(id: unknown): string {
  return validId(id) ? ` (id ${inert(JSON.stringify(id))})` : "";
}

/** Options of {@link McpProxy}. */
export interface McpProxyOptions {
  /** The `case_id` of refusals made before the guard judged anything; default {@link PROXY_CASE_ID}. */
  caseId?: string;
}

/**
 * One proxied session. `guard` is the session's guard, or the reason there is none (the policy
 * could not be loaded): then every `tools/call` is refused with {@link PROXY_FAULT}.
 */
export class McpProxy {
  private readonly pending = new Map<string, Pending>();
  private serverDown: string | undefined;
  private fault: string | undefined;
  private readonly caseId: string;

  constructor(
    private readonly guard: Guard | { fault: string },
    private readonly ports: ProxyPorts,
    options: McpProxyOptions = {},
  ) {
    if ("fault" in guard) this.fault = guard.fault;
    this.caseId = options.caseId ?? PROXY_CASE_ID;
  }

  /** From now on every `tools/call` is refused with {@link PROXY_FAULT} (e.g. the ledger failed). */
  failClosed(reason: string): void {
    this.fault ??= reason;
  }

  /** Number of forwarded requests still waiting for the server. */
  get waiting(): number {
    return this.pending.size;
  }

  /**
   * Handles one line from the client. Refused, never forwarded: a line that is not JSON
   * (`-32700`); ambiguous JSON, a value that is not a message, a `method` that is not a string, an
   * id that is neither a string nor a number or is already waiting for the server (`-32600`,
   * answered with id null when the id cannot be told); a batch (see {@link refuseBatch}); a
   * `tools/call` whose params are malformed (`-32602`, see `toolCallParams`).
   */
  fromClient(line: string): void {
    if (line.trim() === "") return;
    const parsed = parseLine(line);
    if (parsed.kind === "invalid") {
      this.ports.toClient(
        errorLine(
          null,
          parsed.code,
          `${parsed.code === INVALID_REQUEST ? "Invalid Request" : "Parse error"}: ${inert(parsed.reason)}`,
        ),
      );
      return;
    }
    if (parsed.kind === "ambiguous") {
      const why = `the message is ambiguous: ${inert(parsed.reason)}`;
      const loose = isObject(parsed.value) ? parsed.value : {};
      const params = isObject(loose.params) ? loose.params : {};
      this.refuseUnjudged(
        parsed.id ?? undefined,
        recordedName(params.name),
        "line",
        "ambiguous_json",
        why,
        "a client message",
      );
      this.ports.toClient(errorLine(parsed.id, INVALID_REQUEST, `Invalid Request: ${why}`));
      return;
    }
    if (parsed.kind === "batch") {
      this.refuseBatch(parsed.messages);
      return;
    }
    const m = parsed.message;
    const invalid = this.invalidRequest(m);
    if (invalid !== undefined) {
      const id = validId(m.id) && !invalid.badId ? m.id : null;
      if (m.method === "tools/call") {
        const params = isObject(m.params) ? m.params : {};
        this.refuseUnjudged(
          undefined,
          recordedName(params.name),
          "id",
          "invalid_request",
          invalid.reason,
          "a tools/call",
        );
      }
      this.ports.toClient(errorLine(id, INVALID_REQUEST, `Invalid Request: ${invalid.reason}`));
      return;
    }
    if (m.method === "tools/call") {
      this.toolCall(m);
      return;
    }
    const id = idOfMessage(m);
    if (isRequest(m) && id !== undefined) {
      if (this.serverDown !== undefined) {
        this.ports.toClient(errorLine(id, SERVER_UNAVAILABLE, this.downMessage()));
        return;
      }
      this.pending.set(idKey(id), { id });
    }
    // Notifications and the client's answers to server requests: nothing to wait for.
    if (this.serverDown === undefined) this.ports.toServer(line);
  }

  /**
   * Why a parsed client message is no valid JSON-RPC request, notification or response, if it is
   * not. `badId`: the id itself is at fault (the answer then carries id null).
   */
  private invalidRequest(m: JsonRpcMessage): { reason: string; badId: boolean } | undefined {
    if (m.jsonrpc !== "2.0") return { reason: 'jsonrpc must be "2.0"', badId: false };
    if (Object.hasOwn(m, "method")) {
      if (typeof m.method !== "string") return { reason: "method must be a string", badId: false };
      if (!Object.hasOwn(m, "id")) return undefined;
      // MCP 2025-06-18: a request's id is a string or an integer, never null.
      if (!validId(m.id)) return { reason: "id must be a string or a number", badId: true };
      if (this.pending.has(idKey(m.id)))
        return {
          reason: `id ${inert(JSON.stringify(m.id))} is already used by a request waiting for the server`,
          badId: true,
        };
      return undefined;
    }
    if (!isResponse(m))
      return { reason: "neither a request (method) nor a response (result or error)", badId: false };
    return undefined;
  }

  /**
   * Handles one line from the server: observed when it answers a call, passed on as is. An
   * ambiguous line is passed on re-serialised from what the proxy read, so the client sees the
   * result the guard observed.
   */
  fromServer(line: string): void {
    if (line.trim() === "") {
      this.ports.toClient(line);
      return;
    }
    const parsed = parseLine(line);
    let out = line;
    let value: unknown;
    if (parsed.kind === "ambiguous") {
      value = parsed.value;
      try {
        out = JSON.stringify(value);
      } catch {
        // Too deep to write back: what it answers gets an error instead (below).
        out = "";
      }
      this.ports.warn(
        `the MCP server sent an ambiguous line (${inert(parsed.reason)}); passed on as the proxy read it`,
      );
    } else if (parsed.kind === "message") value = parsed.message;
    else if (parsed.kind === "batch") value = parsed.messages;
    if (out === "") {
      const m = isObject(value) ? value : {};
      const id = idOfMessage(m) ?? null;
      const fault = "proof: the MCP server's answer could not be passed on unambiguously";
      this.answer({ jsonrpc: "2.0", id, error: { code: PROXY_FAULT, message: fault } });
      if (id !== null) this.ports.toClient(errorLine(id, PROXY_FAULT, fault));
      return;
    }
    if (isObject(value)) this.answer(value);
    else if (Array.isArray(value)) for (const m of value) if (isObject(m)) this.answer(m);
    this.ports.toClient(out);
  }
  /**
   * The server is gone (exited, or its pipes closed): every waiting request gets an error now and
   * every later one at once; none is forwarded any more.
   */
  serverGone(reason: string): void {
    this.serverDown ??= reason;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) {
      const message = this.downMessage();
      if (p.call) this.observe({ callId: p.call.callId, tool: p.call.tool, content: "", error: message });
      this.ports.toClient(errorLine(p.id, SERVER_UNAVAILABLE, message));
    }
  }

  /** Whether a forwarded request with this id still waits for the server's answer. */
  isWaiting(id: JsonRpcId): boolean {
    return this.pending.has(idKey(id));
  }

  /**
   * The server will never answer this forwarded request (its connection failed, its answer
   * stream ended without it, or it took too long): the request stops waiting, a tool call's
   * outcome is observed as an error (so sequence rules see a failed call, not a missing one), and
   * the client gets a {@link SERVER_UNAVAILABLE} error with `message` (which says whether the call
   * ran: after a failed connection it did not, after a broken stream nobody knows). Unlike
   * {@link serverGone}, later requests are still forwarded: a server reached over HTTP may come
   * back. Does nothing for an id that is not waiting.
   */
  abandon(id: JsonRpcId, message: string): void {
    const key = idKey(id);
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    if (p.call) this.observe({ callId: p.call.callId, tool: p.call.tool, content: "", error: message });
    this.ports.toClient(errorLine(p.id, SERVER_UNAVAILABLE, message));
  }

  private downMessage(): string {
    return `proof: the MCP server is unavailable (${this.serverDown}); the call was not run`;
  }

  /**
   * JSON-RPC batches are refused (MCP 2025-06-18 removed them): every request in the batch gets
   * an Invalid Request error, in one batch answer, and nothing of it reaches the server, so a
   * batch can neither hang the client nor slip a `tools/call` past the guard.
   */
  private refuseBatch(messages: unknown[]): void {
    const text = "proof mcp proxy refuses JSON-RPC batches: send each message on its own line";
    if (messages.length === 0) {
      this.ports.toClient(errorLine(null, INVALID_REQUEST, text));
      return;
    }
    const answers: JsonRpcMessage[] = [];
    for (const m of messages) {
      if (!isObject(m)) answers.push(errorObject(null, INVALID_REQUEST, text));
      else if (isRequest(m)) answers.push(errorObject(idOfMessage(m) ?? null, INVALID_REQUEST, text));
    }
    if (answers.length > 0) this.ports.toClient(JSON.stringify(answers));
  }

  /**
   * Answers (unless it is a notification), records and reports a client message refused before
   * the guard could judge it: the ledger gets a `block` decision naming what and why.
   */
  private refuseUnjudged(
    id: string | number | undefined,
    tool: string,
    at: string,
    reason: string,
    why: string,
    what: string,
  ): void {
    const recorded = this.ports.decided(
      {
        case_id: this.caseId,
        trace_id: PENDING_TRACE_ID,
        seq: -1,
        at,
        tool,
        verdict: "block",
        rules: [],
        reasons: [reason],
        evidence: [],
        errors: [{ rule: "", message: why }],
      },
      false,
    );
    if (recorded instanceof Promise) recorded.catch((err: unknown) => this.recordFailed(err));
    this.ports.warn(`refused ${what}${idWords(id)} without judging it: ${why}`);
  }

  private toolCall(m: JsonRpcMessage): void {
    const id = idOfMessage(m);
    const refuse = (code: number, message: string, data: unknown) => {
      // A notification cannot be answered: it is dropped, which is a refusal too.
      if (id !== undefined) this.ports.toClient(errorLine(id, code, message, data));
    };
    const params = toolCallParams(m.params);
    if (!params.ok) {
      const name = isObject(m.params) ? m.params.name : undefined;
      this.refuseUnjudged(id, recordedName(name), params.at, "invalid_params", params.reason, "a tools/call");
      refuse(INVALID_PARAMS, `Invalid params: ${params.reason}`, {
        verdict: "block",
        reasons: ["invalid_params"],
        error: params.reason,
      });
      return;
    }
    const call: GuardCall = {
      tool: params.tool,
      args: params.args,
      // Refused and forwarded calls alike carry the request id, so a trace names what was tried.
      call_id: id === undefined ? null : String(id),
    };
    const shown = showName(call.tool);
    if (this.fault !== undefined) {
      refuse(PROXY_FAULT, `proof: block ${shown}: ${this.fault}`, {
        verdict: "block",
        reasons: ["proxy_fault"],
        error: this.fault,
      });
      return;
    }
    let decision: Decision;
    try {
      decision = (this.guard as Guard).check(call);
    } catch (err) {
      // The guard's own failure: this call and every later one are refused (fail closed).
      this.fault = `the policy could not be evaluated: ${err instanceof Error ? err.message : String(err)}`;
      this.ports.warn(this.fault);
      refuse(PROXY_FAULT, `proof: block ${shown}: ${this.fault}`, {
        verdict: "block",
        reasons: ["proxy_fault"],
        error: this.fault,
      });
      return;
    }
    const runs = RUNS.has(decision.verdict) && this.serverDown === undefined;
    const recorded = this.ports.decided(decision, runs, call);
    if (!runs && recorded instanceof Promise) recorded.catch((err: unknown) => this.recordFailed(err));
    if (!RUNS.has(decision.verdict)) {
      refuse(POLICY_REFUSED, refusalMessage(decision), { decision });
      return;
    }
    if (this.serverDown !== undefined) {
      if (typeof call.call_id === "string")
        this.observe({ callId: call.call_id, tool: call.tool, content: "", error: this.downMessage() });
      refuse(SERVER_UNAVAILABLE, this.downMessage(), { decision });
      return;
    }
    const entry: Pending | undefined =
      id === undefined ? undefined : { id, call: { callId: String(id), tool: call.tool } };
    // Held from now on, so that the id cannot be reused and a server that goes away answers it.
    if (entry) this.pending.set(idKey(entry.id), entry);
    // The server gets the value the guard judged, written anew: no byte of the client's line that
    // a reader could take differently survives (strict parsing refused those already).
    const forward = () => this.ports.toServer(JSON.stringify(m));
    if (!(recorded instanceof Promise)) {
      forward();
      return;
    }
    // Forwarded only once its decision is kept: a call whose record failed must not run.
    const settle = (why: string | undefined) => {
      if (entry && this.pending.get(idKey(entry.id)) !== entry) return; // answered meanwhile
      if (this.serverDown !== undefined) return;
      const fault = why ?? this.fault;
      if (fault === undefined) {
        forward();
        return;
      }
      if (entry) this.pending.delete(idKey(entry.id));
      refuse(PROXY_FAULT, `proof: block ${shown}: ${fault}`, {
        verdict: "block",
        reasons: ["proxy_fault"],
        error: fault,
      });
    };
    recorded.then(
      () => settle(undefined),
      (err: unknown) => settle(this.recordFailed(err)),
    );
  }

  /** A decision record that could not be kept: every later call is refused. @returns the reason. */
  private recordFailed(err: unknown): string {
    const why = `the ledger append failed: ${err instanceof Error ? err.message : String(err)}`;
    this.failClosed(why);
    return why;
  }

  /** A message from the server: a response settles its request, a tool call's result is observed. */
  private answer(m: JsonRpcMessage): void {
    if (!isResponse(m)) return;
    const id = idOfMessage(m);
    if (id === undefined) return;
    const p = this.pending.get(idKey(id));
    if (!p) return;
    this.pending.delete(idKey(id));
    if (!p.call) return;
    let content = "";
    let error: string | null = null;
    if (isObject(m.result)) {
      content = resultText(m.result);
      if (m.result.isError === true) error = content;
    } else {
      const e = isObject(m.error) ? m.error : {};
      error = typeof e.message === "string" ? e.message : JSON.stringify(m.error);
    }
    this.observe({ callId: p.call.callId, tool: p.call.tool, content, error });
  }

  private observe(r: { callId: string; tool: string; content: string; error: string | null }): void {
    if ("fault" in this.guard) return;
    try {
      this.guard.observe({
        type: "tool_result",
        call_id: r.callId,
        tool: r.tool,
        content: r.content,
        error: r.error,
      });
    } catch (err) {
      // A result the guard could not take would hide provenance from later decisions: fail closed.
      this.fault = `a tool result could not be observed: ${err instanceof Error ? err.message : String(err)}`;
      this.ports.warn(this.fault);
    }
  }
}
