/**
 * The policy core of `proof mcp proxy` (DESIGN.md §9): what to do with each line that arrives from
 * the MCP client or from the server. Pure: lines in, lines out through {@link ProxyPorts}; the
 * streams and the server process are wired in src/mcp/run.ts and src/io/stdio-child.ts.
 *
 * Every `tools/call` request is decided by the guard before it reaches the server; only `allow`
 * and `warn` are forwarded (as the very line the client sent). Every other line is forwarded
 * untouched in both directions. The proxy's own faults refuse calls: no policy, a guard that
 * throws, a server that is gone.
 */
import type { Guard, GuardCall } from "../guard/guard.js";
import { resultText } from "../trace/formats/mcp.js";
import type { Decision } from "../verify/decision.js";
import {
  errorLine,
  errorObject,
  INVALID_REQUEST,
  idKey,
  idOfMessage,
  isRequest,
  isResponse,
  type JsonRpcId,
  type JsonRpcMessage,
  PARSE_ERROR,
  POLICY_REFUSED,
  PROXY_FAULT,
  parseLine,
  SERVER_UNAVAILABLE,
} from "./jsonrpc.js";

/** Where the proxy's output goes. */
export interface ProxyPorts {
  /** One line (no newline) to the client. */
  toClient(line: string): void;
  /** One line (no newline) to the server. */
  toServer(line: string): void;
  /** A decision the guard made (for the ledger), and whether the call was forwarded. */
  decided(decision: Decision, forwarded: boolean): void;
  /** A problem worth one line on stderr. */
  warn(message: string): void;
}

/** A forwarded client request waiting for the server's answer. */
interface Pending {
  id: JsonRpcId;
  /** Set for a forwarded `tools/call`: its result is observed by the guard. */
  call?: { callId: string; tool: string };
}

/** Verdicts that let a call run (DESIGN.md §9). */
const RUNS = new Set(["allow", "warn"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The readable part of a refusal: `block write_file: rules a, b (reasons x, y)`. */
export function refusalMessage(d: Decision): string {
  const rules = d.rules.length > 0 ? `: rules ${d.rules.join(", ")} (reasons ${d.reasons.join(", ")})` : "";
  const errors = d.errors.map((e) => `; error in ${e.rule}: ${e.message}`).join("");
  return `proof: ${d.verdict} ${d.tool}${rules}${errors}`;
}

/**
 * One proxied session. `guard` is the session's guard, or the reason there is none (the policy
 * could not be loaded): then every `tools/call` is refused with {@link PROXY_FAULT}.
 */
export class McpProxy {
  private readonly pending = new Map<string, Pending>();
  private serverDown: string | undefined;
  private fault: string | undefined;

  constructor(
    private readonly guard: Guard | { fault: string },
    private readonly ports: ProxyPorts,
  ) {
    if ("fault" in guard) this.fault = guard.fault;
  }

  /** From now on every `tools/call` is refused with {@link PROXY_FAULT} (e.g. the ledger failed). */
  failClosed(reason: string): void {
    this.fault ??= reason;
  }

  /** Number of forwarded requests still waiting for the server. */
  get waiting(): number {
    return this.pending.size;
  }

  /** Handles one line from the client. */
  fromClient(line: string): void {
    if (line.trim() === "") return;
    const parsed = parseLine(line);
    if (parsed.kind === "invalid") {
      this.ports.toClient(errorLine(null, PARSE_ERROR, `Parse error: ${parsed.reason}`));
      return;
    }
    if (parsed.kind === "batch") {
      this.refuseBatch(parsed.messages);
      return;
    }
    const m = parsed.message;
    if (m.jsonrpc !== "2.0" || (typeof m.method !== "string" && !isResponse(m))) {
      this.ports.toClient(errorLine(idOfMessage(m) ?? null, INVALID_REQUEST, "Invalid Request"));
      return;
    }
    if (m.method === "tools/call") {
      this.toolCall(m, line);
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

  /** Handles one line from the server: observed when it answers a call, always passed on as is. */
  fromServer(line: string): void {
    if (line.trim() !== "") {
      const parsed = parseLine(line);
      if (parsed.kind === "message") this.answer(parsed.message);
      else if (parsed.kind === "batch") for (const m of parsed.messages) if (isObject(m)) this.answer(m);
    }
    this.ports.toClient(line);
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

  private toolCall(m: JsonRpcMessage, line: string): void {
    const id = idOfMessage(m);
    const params = isObject(m.params) ? m.params : {};
    const call: GuardCall = {
      tool: typeof params.name === "string" ? params.name : "",
      args: params.arguments === undefined ? {} : params.arguments,
      // Refused and forwarded calls alike carry the request id, so a trace names what was tried.
      call_id: id === undefined ? null : String(id),
    };
    const refuse = (code: number, message: string, data: unknown) => {
      // A notification cannot be answered: it is dropped, which is a refusal too.
      if (id !== undefined) this.ports.toClient(errorLine(id, code, message, data));
    };
    if (this.fault !== undefined) {
      refuse(PROXY_FAULT, `proof: block ${call.tool}: ${this.fault}`, {
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
      refuse(PROXY_FAULT, `proof: block ${call.tool}: ${this.fault}`, {
        verdict: "block",
        reasons: ["proxy_fault"],
        error: this.fault,
      });
      return;
    }
    const runs = RUNS.has(decision.verdict) && this.serverDown === undefined;
    this.ports.decided(decision, runs);
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
    if (id !== undefined) {
      this.pending.set(idKey(id), { id, call: { callId: String(id), tool: call.tool } });
    }
    this.ports.toServer(line);
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
