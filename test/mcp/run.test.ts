/** Shutdown of a proxied session: a server that ignores SIGTERM is killed, never waited on forever. */
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StdioChild, StdioChildExit } from "../../src/io/stdio-child.js";
import { McpProxy } from "../../src/mcp/proxy.js";
import { KILL_GRACE_MS, runSession, STOP_GRACE_MS } from "../../src/mcp/run.js";
import { repoGuard } from "./helpers.js";

/** A scripted server: it ends only on the signals listed in `diesOn`, and notes every signal. */
function fakeServer(diesOn: NodeJS.Signals[]): StdioChild & { signals: NodeJS.Signals[] } {
  let settle: (e: StdioChildExit) => void = () => {};
  const exited = new Promise<StdioChildExit>((resolve) => {
    settle = resolve;
  });
  const signals: NodeJS.Signals[] = [];
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGTERM: 15, SIGKILL: 9 };
  return {
    stdout: new PassThrough(),
    signals,
    write: () => true,
    endInput: () => {},
    kill(signal) {
      signals.push(signal);
      if (diesOn.includes(signal))
        settle({ code: 128 + (numbers[signal] ?? 0), reason: `killed by ${signal}` });
    },
    exited,
  };
}

function start(server: StdioChild) {
  const input = new PassThrough();
  const output = new PassThrough();
  output.resume();
  const ended = runSession(
    (ports) => new McpProxy(repoGuard(), ports),
    { decided: () => {}, warn: () => {} },
    { input, output, server },
  );
  return { input, ended };
}

describe("runSession shutdown", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends SIGTERM after the stop grace period and SIGKILL after the kill grace period", async () => {
    const server = fakeServer(["SIGKILL"]);
    const { input, ended } = start(server);
    input.end();
    await vi.advanceTimersByTimeAsync(STOP_GRACE_MS - 1);
    expect(server.signals).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.signals).toEqual(["SIGTERM"]);
    await vi.advanceTimersByTimeAsync(KILL_GRACE_MS);
    expect(server.signals).toEqual(["SIGTERM", "SIGKILL"]);
    const end = await ended;
    expect(end).toEqual({ serverDied: false, server: { code: 137, reason: "killed by SIGKILL" } });
  });

  it("sends no SIGKILL to a server that stops on SIGTERM", async () => {
    const server = fakeServer(["SIGTERM"]);
    const { input, ended } = start(server);
    input.end();
    await vi.advanceTimersByTimeAsync(STOP_GRACE_MS + KILL_GRACE_MS * 2);
    expect(server.signals).toEqual(["SIGTERM"]);
    expect((await ended).server.code).toBe(143);
  });
});
