import type { Command } from "commander";
import { inputError } from "../../errors.js";
import { createGuard, type Guard } from "../../guard/guard.js";
import { jsonLine } from "../../io/canonical.js";
import { type Ledger, openLedger } from "../../io/ledger-file.js";
import { spawnStdioChild } from "../../io/stdio-child.js";
import { writeFileAtomic } from "../../io/write.js";
import { McpProxy } from "../../mcp/proxy.js";
import { runSession } from "../../mcp/run.js";
import { loadContext, loadPolicySet } from "../load.js";
import { oneLine } from "../output.js";

interface ProxyOptions {
  policy: string;
  context?: string;
  record?: string;
  ledger?: string;
  ledgerSignKey?: string;
}

/** The `case_id` of a recorded proxy session (a recorder may rename the file; the id stays). */
const CASE_ID = "mcp-proxy";

function say(message: string): void {
  process.stderr.write(`${oneLine(`proof mcp proxy: ${message}`)}\n`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `proof mcp proxy --policy P [--context C] [--record T.jsonl] [--ledger L.jsonl] -- SERVER...`:
 * a stdio MCP proxy that decides every `tools/call` before the server sees it (DESIGN.md §9,
 * docs/boundary.md). A policy, context or ledger that cannot be opened does not stop the proxy:
 * it answers the protocol and refuses every call (fail closed), and exits 6 at the end.
 * Exit: the server's code when the client ended the session; when the server ended it first,
 * its code (128+N for signal N), or 1 if that was 0.
 */
export function registerMcp(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  const mcp = program.command("mcp").description("guard live MCP tool calls");
  mcp
    .command("proxy")
    .description("stdio MCP proxy: decide each tools/call with the policy before the server sees it")
    .argument("<server...>", "the MCP server command and its arguments, after --")
    .requiredOption("--policy <path>", "policy YAML, IR file, or directory of policies")
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions")
    .option("--record <file>", "write the session as a canonical proof trace (JSON Lines) at exit")
    .option("--ledger <file>", "append every decision to this hash-chained ledger")
    .option("--ledger-sign-key <file>", "with --ledger: sign each record with this Ed25519 key (PEM)")
    .action((server: string[], opts: ProxyOptions) =>
      run(async () => {
        if (server.length === 0)
          throw inputError("usage.missing_argument", "no server command given after --");
        let fault: string | undefined;
        let guard: Guard | undefined;
        try {
          const policies = await loadPolicySet(opts.policy);
          const context = opts.context ? await loadContext(opts.context) : {};
          guard = createGuard(policies, { context, case_id: CASE_ID });
        } catch (err) {
          fault = `the policy cannot be loaded: ${messageOf(err)}`;
        }
        let ledger: Ledger | undefined;
        if (opts.ledger && !fault) {
          try {
            ledger = await openLedger(opts.ledger, opts.ledgerSignKey ? { signKey: opts.ledgerSignKey } : {});
          } catch (err) {
            fault = `the ledger cannot be opened: ${messageOf(err)}`;
          }
        }
        if (fault) say(`${fault}; every tool call will be refused`);
        let proxy: McpProxy | undefined;
        let ledgerFailed = false;
        const end = await runSession(
          (ports) => {
            proxy = new McpProxy(guard && !fault ? guard : { fault: fault ?? "no guard" }, ports);
            return proxy;
          },
          {
            decided: (decision) => {
              ledger?.append(decision).catch((err: unknown) => {
                ledgerFailed = true;
                const why = `the ledger append failed: ${messageOf(err)}`;
                say(`${why}; every later tool call will be refused`);
                proxy?.failClosed(why);
              });
            },
            warn: say,
          },
          { input: process.stdin, output: process.stdout, server: spawnStdioChild(server) },
        );
        await ledger?.close().catch((err: unknown) => {
          ledgerFailed = true;
          say(`the ledger could not be closed: ${messageOf(err)}`);
        });
        if (opts.record && guard) {
          const trace = guard.trace();
          const lines = [jsonLine(trace.header), ...trace.events.map((e) => jsonLine(e))];
          await writeFileAtomic(opts.record, lines.join(""));
        }
        if (end.serverDied) {
          say(`the MCP server ${end.server.reason} while the client was connected; calls were refused since`);
          return end.server.code === 0 ? 1 : end.server.code;
        }
        if (fault) return 6;
        if (ledgerFailed) return 1;
        return end.server.code;
      }),
    );
}
