import { join } from "node:path";
import type { Command } from "commander";
import { environmentError, inputError, ProofError } from "../../errors.js";
import { createGuard, type TimedGuard, timedGuard } from "../../guard/guard.js";
import { jsonLine } from "../../io/canonical.js";
import { toPosix } from "../../io/files.js";
import { type Ledger, openLedger } from "../../io/ledger-file.js";
import { loadContext, loadPolicySet } from "../../io/policy-files.js";
import { type ReservedFile, reserveFile } from "../../io/reserved-file.js";
import { spawnStdioChild } from "../../io/stdio-child.js";
import { writeFileAtomic } from "../../io/write.js";
import { LedgerSession, observingGuard, type PolicyFacts, policyFacts } from "../../ledger/session.js";
import { McpProxy, PROXY_CASE_ID } from "../../mcp/proxy.js";
import { runSession } from "../../mcp/run.js";
import { resolveServeConfig } from "../../serve/config.js";
import { createDecisionExporter, type DecisionExporter } from "../../telemetry/otel.js";
import { addServeSecurityOptions } from "../options.js";
import { oneLine } from "../output.js";

interface ProxyOptions {
  policy: string;
  context?: string;
  record?: string;
  ledger?: string;
  ledgerSignKey?: string;
  otelOut?: string;
  otelEndpoint?: string;
}

/** Adds --otel-out and --otel-endpoint: each decision as an OpenTelemetry span (docs/boundary.md). */
function addOtelOptions(cmd: Command): Command {
  return cmd
    .option(
      "--otel-out <file>",
      "also write every decision as an OpenTelemetry span to this OTLP JSON file, at exit",
    )
    .option("--otel-endpoint <url>", "also send every decision as a span to this OTLP/HTTP traces URL");
}

/** The span exporter the options ask for, or undefined; its problems are reported at shutdown. */
async function openExporter(opts: ProxyOptions): Promise<DecisionExporter | undefined> {
  if (!opts.otelOut && !opts.otelEndpoint) return undefined;
  return createDecisionExporter({
    ...(opts.otelOut ? { file: opts.otelOut } : {}),
    ...(opts.otelEndpoint ? { endpoint: opts.otelEndpoint } : {}),
  });
}

/** Flushes the exporter, saying each problem (an export never changes a decision or the exit). */
async function closeExporter(
  exporter: DecisionExporter | undefined,
  warn: (m: string) => void,
): Promise<void> {
  for (const problem of (await exporter?.shutdown()) ?? []) warn(`warning: ${problem}`);
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

/**
 * The ledger of `--ledger` (signed with `--ledger-sign-key`), opened before any call is served:
 * undefined without the option.
 * @throws ProofError located at the ledger file when it cannot be opened (exit 8 when the system
 *   refused), or `ledger.broken` / `ledger.key_required` as {@link openLedger} throws them.
 */
async function openLedgerOption(
  opts: Pick<ProxyOptions, "ledger" | "ledgerSignKey">,
): Promise<Ledger | undefined> {
  const path = opts.ledger;
  if (!path) return undefined;
  return openLedger(path, opts.ledgerSignKey ? { signKey: opts.ledgerSignKey } : {}).catch((err: unknown) => {
    throw fileError(err, path, "open the ledger");
  });
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
  const proxyCommand = mcp
    .command("proxy")
    .description("stdio MCP proxy: decide each tools/call with the policy before the server sees it")
    .argument("<server...>", "the MCP server command and its arguments, after --")
    .requiredOption("--policy <path>", "policy YAML, IR file, or directory of policies")
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions")
    .option("--record <file>", "write the session as a canonical proof trace (JSON Lines) at exit")
    .option("--ledger <file>", "append every decision and observed result to this hash-chained ledger")
    .option("--ledger-sign-key <file>", "with --ledger: sign each record with this Ed25519 key (PEM)");
  addOtelOptions(proxyCommand).action((server: string[], opts: ProxyOptions) =>
    run(async () => {
      if (server.length === 0) throw inputError("usage.missing_argument", "no server command given after --");
      let fault: string | undefined;
      let guard: TimedGuard | undefined;
      let facts: PolicyFacts | undefined;
      try {
        const policies = await loadPolicySet(opts.policy);
        const context = opts.context ? await loadContext(opts.context) : {};
        guard = timedGuard(createGuard(policies, { context, case_id: PROXY_CASE_ID }));
        facts = policyFacts(policies);
      } catch (err) {
        fault = `the policy cannot be loaded: ${messageOf(err)}`;
      }
      // The proxy's own files are opened before the server starts: a session whose decisions
      // could not be kept must not run a single call.
      const ledger = await openLedgerOption(opts);
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
      const exporter = await openExporter(opts);
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
            exporter?.export(decision, {
              run_id: session.id,
              latency_ms: guard?.lastCheckMs() ?? 0,
              ...(facts?.policies.length === 1 ? { policy_digest: facts.policies[0]?.digest } : {}),
            });
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
      await closeExporter(exporter, say);
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

  const gatewayCommand = mcp
    .command("gateway")
    .description(
      "MCP Streamable HTTP gateway: decide each tools/call of every session before the upstream sees it",
    )
    .argument(
      "[server...]",
      "a stdio MCP server command and its arguments, after -- (one process per session)",
    )
    .requiredOption("--listen <host:port>", "where to listen (port 0 picks a free one)")
    .requiredOption("--policy <path>", "policy YAML, IR file, or directory of policies")
    .option(
      "--upstream <url>",
      "the upstream MCP server's Streamable HTTP endpoint (instead of -- SERVER...)",
    )
    .option("--context <file>", "context (JSON or YAML object) for `when` and CEL conditions")
    .option(
      "--record <dir>",
      "write each session as a canonical proof trace, DIR/<session id>.jsonl, when it ends",
    )
    .option("--ledger <file>", "append every decision, with its session id, to this hash-chained ledger")
    .option("--ledger-sign-key <file>", "with --ledger: sign each record with this Ed25519 key (PEM)")
    .option(
      "--connect-timeout <ms>",
      "time to connect to the upstream before a call gets 503",
      positiveInt,
      2000,
    )
    .option(
      "--request-timeout <ms>",
      "time for the upstream to answer a request before it gets 504",
      positiveInt,
      60000,
    );
  addServeSecurityOptions(addOtelOptions(gatewayCommand)).action((server: string[], opts: GatewayFlags) =>
    run(() => gateway(server, opts)),
  );
}

interface GatewayFlags extends ProxyOptions {
  listen: string;
  upstream?: string;
  connectTimeout: number;
  requestTimeout: number;
  auth?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  allowedSan?: string[];
  profile?: string;
  insecureNoAuth?: boolean;
}

/** A positive integer option (milliseconds). @throws ProofError `usage.invalid_value` (exit 6). */
function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw inputError(
      "usage.invalid_value",
      `expected a positive whole number of milliseconds, not '${value}'`,
    );
  return n;
}

/** Socket errors of listening that are the machine's, not proof's (exit 8). */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EADDRNOTAVAIL: "the address is not available on this machine",
  EACCES: "permission denied (ports below 1024 need privileges)",
};

function sayGateway(message: string): void {
  process.stderr.write(`${oneLine(`proof mcp gateway: ${message}`)}\n`);
}

/**
 * `proof mcp gateway --listen HOST:PORT --policy P (--upstream URL | -- SERVER...)`
 * (docs/integrations/mcp-gateway.md). Everything that can be wrong is checked before it listens:
 * the policy (exit 6), the auth and TLS settings as `proof serve` checks them (exit 6), the
 * ledger and the record directory (exit 8 when the system refuses, 6 for a bad path, 2 for a
 * broken ledger). Runs until SIGTERM or SIGINT, which end every session (records written) and
 * exit 0. The gateway module (and fastify) is loaded only here.
 */
async function gateway(server: string[], opts: GatewayFlags): Promise<number> {
  if ((opts.upstream === undefined) === (server.length === 0))
    throw inputError(
      "usage.upstream",
      opts.upstream === undefined
        ? "no upstream: give --upstream URL, or a stdio server command after --"
        : "--upstream and a server command after -- exclude each other: give one upstream",
    );
  if (opts.upstream !== undefined) {
    let protocol = "";
    try {
      protocol = new URL(opts.upstream).protocol;
    } catch {
      protocol = "";
    }
    if (protocol !== "http:" && protocol !== "https:")
      throw inputError("usage.upstream", `--upstream must be an http or https URL, not '${opts.upstream}'`);
  }
  const config = resolveServeConfig(
    {
      policyDir: opts.policy,
      listen: opts.listen,
      ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
      ...(opts.insecureNoAuth ? { insecureNoAuth: true } : {}),
      ...(opts.auth !== undefined ? { auth: opts.auth } : {}),
      ...(opts.tlsCert !== undefined ? { tlsCert: opts.tlsCert } : {}),
      ...(opts.tlsKey !== undefined ? { tlsKey: opts.tlsKey } : {}),
      ...(opts.clientCa !== undefined ? { clientCa: opts.clientCa } : {}),
      ...(opts.allowedSan !== undefined ? { allowedSan: opts.allowedSan } : {}),
    },
    undefined,
  );
  const policies = await loadPolicySet(opts.policy);
  const context = opts.context ? await loadContext(opts.context) : undefined;
  const [{ createGateway }, { buildServeDependencies }] = await Promise.all([
    import("../../mcp/gateway.js"),
    import("../../serve/deps.js"),
  ]);
  const deps = await buildServeDependencies(config, sayGateway);
  const record = opts.record;
  if (record !== undefined) {
    // Proves now that the directory can be written: a session whose trace could not be kept
    // must fail before it runs, not when it ends.
    const probe = await reserveFile(join(record, ".proof-gateway-probe"));
    await probe.abort();
  }
  const ledger = await openLedgerOption(opts);
  const open = ledger;
  const exporter = await openExporter(opts);
  const handle = createGateway({
    policies,
    ...(context ? { context } : {}),
    upstream: opts.upstream !== undefined ? { url: opts.upstream } : { command: server },
    connectTimeoutMs: opts.connectTimeout,
    requestTimeoutMs: opts.requestTimeout,
    bodyBytes: config.limits.bodyBytes,
    metrics: deps.metrics,
    ...(deps.authenticator ? { authenticator: deps.authenticator } : {}),
    ...(deps.options.clientCertificateCheck
      ? { clientCertificateCheck: deps.options.clientCertificateCheck }
      : {}),
    ...(deps.options.https ? { https: deps.options.https } : {}),
    ...(open ? { ledger: open } : {}),
    ...(exporter ? { exporter } : {}),
    ...(record !== undefined
      ? { record: (id: string, text: string) => writeFileAtomic(join(record, `${id}.jsonl`), text) }
      : {}),
    log: sayGateway,
  });
  let base: string;
  try {
    await deps.start(handle.app.server);
    base = await handle.listen(config.listen.host, config.listen.port);
  } catch (err) {
    deps.stop();
    await handle.close();
    await ledger?.close().catch(() => {});
    await closeExporter(exporter, sayGateway);
    const code = (err as NodeJS.ErrnoException).code ?? "";
    const why = LISTEN_ERRORS[code];
    if (why === undefined) throw err;
    throw new ProofError(
      `serve.${code.toLowerCase()}`,
      `cannot listen on ${config.listen.host}:${config.listen.port}: ${why}`,
      { category: "environment", cause: err },
    );
  }
  process.stdout.write(`proof mcp gateway: listening on ${base}/mcp\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      sayGateway(`${signal}: ending every session`);
      void handle.close().then(async () => {
        deps.stop();
        let code = 0;
        await ledger?.close().catch((err: unknown) => {
          sayGateway(`the ledger could not be closed: ${messageOf(err)}`);
          code = exitOf(err);
        });
        await closeExporter(exporter, sayGateway);
        resolve(code);
      });
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
