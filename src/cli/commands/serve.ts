import { dirname, isAbsolute, join } from "node:path";
import type { Command } from "commander";
import { ProofError } from "../../errors.js";
import { fileLimit, readTextFile, toPosix } from "../../io/files.js";
import { parseServeFile, resolveServeConfig, SERVE_FILE_KEYS, type ServeFlags } from "../../serve/config.js";
import { addServeSecurityOptions } from "../options.js";
import type { GlobalOptions } from "../output.js";

/** Socket errors of listening that are the machine's, not proof's (exit 8). */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EADDRNOTAVAIL: "the address is not available on this machine",
  EACCES: "permission denied (ports below 1024 need privileges)",
};

/**
 * Reads `serve.yaml`; a relative file name in it (policyDir, auth, tlsCert, tlsKey, clientCa) is
 * relative to the file's directory.
 * @throws ProofError (exit 6) as parseServeFile, or when the file cannot be read.
 */
async function readServeFile(file: string) {
  const parsed = parseServeFile(await readTextFile(file, fileLimit()), toPosix(file));
  for (const key of SERVE_FILE_KEYS) {
    const value = parsed[key];
    if (value !== undefined && !isAbsolute(value)) parsed[key] = toPosix(join(dirname(file), value));
  }
  return parsed;
}

/**
 * `proof serve --policy-dir DIR [--listen HOST:PORT] [--config serve.yaml]`: the API of
 * docs/serve.md over HTTP until SIGTERM or SIGINT (which drain requests in flight), reloading the
 * policies on SIGHUP and when a file of DIR changes. Prints `proof serve: listening on URL` on
 * stdout once it accepts connections. The server module (and fastify) is loaded only here, so
 * that other commands start without it.
 */
export function registerServe(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  const serve = program
    .command("serve")
    .description("serve verify, check, adapt and compile over HTTP (docs/serve.md)")
    .option("--policy-dir <dir>", "the policies to serve (every *.yaml, *.yml, *.ir.json of DIR)")
    .option("--listen <host:port>", "where to listen (default 127.0.0.1:8787; port 0 picks a free one)");
  addServeSecurityOptions(serve)
    .addHelpText("after", "\nWith the global --config FILE, settings come from a serve.yaml (docs/serve.md).")
    .action((opts: ServeFlags, cmd: Command) =>
      run(async () => {
        const global = cmd.optsWithGlobals<GlobalOptions>();
        const file = global.config ? await readServeFile(global.config) : undefined;
        const config = resolveServeConfig(opts, file);
        const [{ createServer }, { buildServeDependencies }] = await Promise.all([
          import("../../serve/server.js"),
          import("../../serve/deps.js"),
        ]);
        const log = (line: string) => process.stderr.write(`proof serve: ${line}\n`);
        const deps = await buildServeDependencies(config, log);
        const handle = await createServer(deps.options);
        let url: string;
        try {
          await deps.start(handle.app.server);
          url = await handle.listen(config.listen.host, config.listen.port);
        } catch (err) {
          deps.stop();
          await handle.close(0);
          const code = (err as NodeJS.ErrnoException).code ?? "";
          const why = LISTEN_ERRORS[code];
          if (why === undefined) throw err;
          const where = `${config.listen.host}:${config.listen.port}`;
          throw new ProofError(`serve.${code.toLowerCase()}`, `cannot listen on ${where}: ${why}`, {
            category: "environment",
            cause: err,
          });
        }
        process.stdout.write(`proof serve: listening on ${url}\n`);
        return new Promise<number>((resolve) => {
          const reload = () => void handle.reload();
          const stop = (signal: NodeJS.Signals) => {
            process.removeListener("SIGHUP", reload);
            if (!global.quiet) process.stderr.write(`proof serve: ${signal}: draining requests in flight\n`);
            void handle.close(config.limits.requestTimeoutMs).then(() => {
              deps.stop();
              resolve(0);
            });
          };
          process.on("SIGHUP", reload);
          process.once("SIGTERM", stop);
          process.once("SIGINT", stop);
        });
      }),
    );
}
