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
  /** How long a server may take to stop after its input is closed before it gets SIGTERM (ms). */
  stopGraceMs?: number;
  /** How long a server may take to stop after SIGTERM before it gets SIGKILL (ms). */
  killGraceMs?: number;
}

/** Default of {@link SessionIO.stopGraceMs}: MCP's stdio shutdown asks for a close, then SIGTERM. */
export const STOP_GRACE_MS = 5000;
/** Default of {@link SessionIO.killGraceMs}: a server that ignores SIGTERM must not outlive us. */
export const KILL_GRACE_MS = 2000;

/**
 * Runs one session until the client closes its input or the server ends. When the client closes
 * its input, the server's input is closed (MCP 2025-06-18, "Lifecycle / Shutdown", stdio), then
 * after {@link SessionIO.stopGraceMs} the server gets SIGTERM and after a further
 * {@link SessionIO.killGraceMs} SIGKILL, so the session always ends. When the server ends first,
 * waiting calls are answered with errors at once and the session ends without waiting for the
 * client. Resolves once our output is flushed.
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
    let timer = setTimeout(() => {
      server.kill("SIGTERM");
      timer = setTimeout(() => server.kill("SIGKILL"), io.killGraceMs ?? KILL_GRACE_MS);
    }, io.stopGraceMs ?? STOP_GRACE_MS);
    void server.exited.then(() => clearTimeout(timer));
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
