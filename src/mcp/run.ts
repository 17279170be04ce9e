/**
 * Wires {@link McpProxy} to the client's streams and a server process: frames lines in both
 * directions, and decides when the session is over. Streams and process are given, never opened
 * here (src/io/stdio-child.ts starts the server).
 */
import type { Readable, Writable } from "node:stream";
import type { StdioChild, StdioChildExit } from "../io/stdio-child.js";
import { LineFramer } from "./framer.js";
import type { McpProxy, ProxyPorts } from "./proxy.js";

/** How a proxied session ended. */
export interface SessionEnd {
  /** Whether the server ended while the client was still connected (a fault: exit non-zero). */
  serverDied: boolean;
  server: StdioChildExit;
}

/** What a session needs besides the proxy's own ports. */
export interface SessionIO {
  input: Readable;
  output: Writable;
  server: StdioChild;
  /** How long a server may take to stop after its input is closed before it gets SIGTERM. */
  stopGraceMs?: number;
}

/**
 * Runs one session until the client closes its input (then the server's input is closed and the
 * server awaited) or the server ends (then waiting calls are answered with errors at once and the
 * session ends without waiting for the client). Resolves once our output is flushed.
 */
export async function runSession(
  makeProxy: (ports: ProxyPorts) => McpProxy,
  ports: Omit<ProxyPorts, "toClient" | "toServer">,
  io: SessionIO,
): Promise<SessionEnd> {
  const { input, output, server } = io;
  const proxy = makeProxy({
    ...ports,
    toClient: (line) => {
      output.write(`${line}\n`);
    },
    toServer: (line) => {
      server.write(`${line}\n`);
    },
  });
  const fromClient = new LineFramer();
  const fromServer = new LineFramer();
  let clientDone = false;

  server.stdout.on("data", (chunk: Buffer) => {
    for (const line of fromServer.push(chunk)) proxy.fromServer(line);
  });
  const onInput = (chunk: Buffer) => {
    for (const line of fromClient.push(chunk)) proxy.fromClient(line);
  };
  const onInputEnd = () => {
    const rest = fromClient.end();
    if (rest !== undefined) proxy.fromClient(rest);
    clientDone = true;
    server.endInput();
    const grace = setTimeout(() => server.kill("SIGTERM"), io.stopGraceMs ?? 5000);
    grace.unref();
    void server.exited.then(() => clearTimeout(grace));
  };
  input.on("data", onInput);
  input.on("end", onInputEnd);
  // A client that went away (EPIPE on our output) ends the session like a closed input.
  output.on("error", () => {
    if (!clientDone) onInputEnd();
  });

  const exit = await server.exited;
  const rest = fromServer.end();
  if (rest !== undefined) proxy.fromServer(rest);
  proxy.serverGone(exit.reason);
  input.off("data", onInput);
  input.off("end", onInputEnd);
  // Nothing more is read: a server that died ends the session even if the client stays open.
  input.destroy();
  await new Promise<void>((resolve) => output.write("", () => resolve()));
  return { serverDied: !clientDone, server: exit };
}
