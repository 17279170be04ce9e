import type { Command } from "commander";
import { environmentError, inputError, ProofError } from "../../errors.js";
import { createGuard, type Guard } from "../../guard/guard.js";
import { jsonLine } from "../../io/canonical.js";
import { toPosix } from "../../io/files.js";
import { type Ledger, openLedger } from "../../io/ledger-file.js";
import { loadContext, loadPolicySet } from "../../io/policy-files.js";
import { type ReservedFile, reserveFile } from "../../io/reserved-file.js";
import { spawnStdioChild } from "../../io/stdio-child.js";
import { LedgerSession, observingGuard, type PolicyFacts, policyFacts } from "../../ledger/session.js";
import { McpProxy, PROXY_CASE_ID } from "../../mcp/proxy.js";
import { runSession } from "../../mcp/run.js";
import { oneLine } from "../output.js";

interface ProxyOptions {
  policy: string;
  context?: string;
  record?: string;
  ledger?: string;
  ledgerSignKey?: string;
}

function say(message: string): void {
  process.stderr.write(`${oneLine(`proof mcp proxy: ${message}`)}\n`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A failure of the proxy's own files as a located error: exit 8 when the system refused. */
function fileError(err: unknown, path: string, what: string): ProofError {
  if (err instanceof ProofError) return err;
  const env = environmentError(err, what);
  if (env) return env;
  const file = toPosix((err as NodeJS.ErrnoException | undefined)?.path ?? path);
  return inputError("io.unreadable", `cannot ${what} ${file}: ${messageOf(err)}`, { file });
}

/** The exit code a failure of the ledger deserves: 8 when the system refused, else its own. */
function exitOf(err: unknown): number {
  return err instanceof ProofError ? err.exitCode : (environmentError(err)?.exitCode ?? 1);
}

/**
 * `proof mcp proxy --policy P [--context C] [--record T.jsonl] [--ledger L.jsonl] -- SERVER...`:
 * a stdio MCP proxy that decides every `tools/call` before the server sees it (docs/boundary.md,
 * docs/boundary.md). A policy or context that cannot be loaded does not stop the proxy: it
 * answers the protocol and refuses every call (fail closed), and exits 6 at the end. A ledger that
 * cannot be opened or a record path that cannot be written stops it before the server starts,
 * with a located error (exit 8 when the system refused, 6 for a bad path, 2 for a broken ledger).
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
    .option("--ledger <file>", "append every decision and observed result to this hash-chained ledger")
    .option("--ledger-sign-key <file>", "with --ledger: sign each record with this Ed25519 key (PEM)")
    .action((server: string[], opts: ProxyOptions) =>
      run(async () => {
        if (server.length === 0)
          throw inputError("usage.missing_argument", "no server command given after --");
        let fault: string | undefined;
        let guard: Guard | undefined;
        let facts: PolicyFacts | undefined;
        try {
          const policies = await loadPolicySet(opts.policy);
          const context = opts.context ? await loadContext(opts.context) : {};
          guard = createGuard(policies, { context, case_id: PROXY_CASE_ID });
          facts = policyFacts(policies);
        } catch (err) {
          fault = `the policy cannot be loaded: ${messageOf(err)}`;
        }
        // The proxy's own files are opened before the server starts: a session whose decisions
        // could not be kept must not run a single call.
        let ledger: Ledger | undefined;
        if (opts.ledger) {
          const path = opts.ledger;
          ledger = await openLedger(path, opts.ledgerSignKey ? { signKey: opts.ledgerSignKey } : {}).catch(
            (err: unknown) => {
              throw fileError(err, path, "open the ledger");
            },
          );
        }
        let record: ReservedFile | undefined;
        if (opts.record) {
          try {
            record = await reserveFile(opts.record);
          } catch (err) {
            await ledger?.close().catch(() => {});
            throw err;
          }
        }
        if (fault) say(`${fault}; every tool call will be refused`);
        let proxy: McpProxy | undefined;
        let ledgerError: unknown;
        const ledgerFailed = (err: unknown, why: string) => {
          ledgerError ??= err;
          say(why);
        };
        const session = new LedgerSession(undefined, facts);
        const appendFailed = (err: unknown) => {
          ledgerFailed(err, `the ledger append failed: ${messageOf(err)}; tool calls will be refused`);
        };
        // Observations go to the ledger too, so that lineage can prove where a value came from.
        const judged =
          guard && ledger
            ? observingGuard(guard, session, (observation) => {
                ledger?.observe(observation).catch((err: unknown) => {
                  appendFailed(err);
                  proxy?.failClosed(`the ledger append failed: ${messageOf(err)}`);
                });
              })
            : guard;
        const end = await runSession(
          (ports) => {
            proxy = new McpProxy(judged && !fault ? judged : { fault: fault ?? "no guard" }, ports, {
              caseId: PROXY_CASE_ID,
            });
            return proxy;
          },
          {
            // Returned to the proxy, which forwards an allowed call only once its record is kept.
            decided: (decision, _forwarded, call) => {
              if (!ledger) return;
              const p = ledger.append(session.decision(decision, call));
              p.catch(appendFailed);
              return p;
            },
            warn: say,
          },
          { input: process.stdin, output: process.stdout, server: spawnStdioChild(server) },
        );
        await ledger?.close().catch((err: unknown) => {
          ledgerFailed(err, `the ledger could not be closed: ${messageOf(err)}`);
        });
        if (record && guard && !fault) {
          const trace = guard.trace();
          const lines = [jsonLine(trace.header), ...trace.events.map((e) => jsonLine(e))];
          await record.commit(lines.join(""));
        } else await record?.abort();
        if (end.serverDied) {
          say(`the MCP server ${end.server.reason} while the client was connected; calls were refused since`);
          return end.server.code === 0 ? 1 : end.server.code;
        }
        if (fault) return 6;
        if (ledgerError !== undefined) return exitOf(ledgerError);
        return end.server.code;
      }),
    );
}
