/**
 * Byte limits on what proof reads (src/io/files.ts): a file over its limit, a device that never
 * ends, or a JSON Lines line that never ends costs a located error, never the machine's memory.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { fileLimit, readLines, readTextFile, traceLimit } from "../../src/io/files.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "proof-limits-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  delete process.env.PROOF_MAX_FILE_BYTES;
  delete process.env.PROOF_MAX_TRACE_BYTES;
});

async function failure(promise: Promise<unknown>): Promise<ProofError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProofError);
  return err as ProofError;
}

const small = { bytes: 16, env: "PROOF_MAX_FILE_BYTES", what: "input file" };

describe("readTextFile", () => {
  it("reads a file up to its limit and refuses one byte more, naming the file", async () => {
    const at = join(dir, "sixteen.yaml");
    await writeFile(at, "a".repeat(16));
    expect(await readTextFile(at, small)).toBe("a".repeat(16));
    await writeFile(at, "a".repeat(17));
    const err = await failure(readTextFile(at, small));
    expect(err.code).toBe("io.too_large");
    expect(err.exitCode).toBe(6);
    expect(err.location).toEqual({ file: at.split("\\").join("/") });
    expect(err.message).toMatch(/larger than the input file limit of 16 bytes/);
    expect(err.hint).toMatch(/PROOF_MAX_FILE_BYTES/);
  });

  it.runIf(existsSync("/dev/zero"))("stops reading a device that never ends at the limit", async () => {
    const err = await failure(readTextFile("/dev/zero", { ...small, bytes: 1024 * 1024 }));
    expect(err.code).toBe("io.too_large");
    expect(err.location).toEqual({ file: "/dev/zero" });
  });

  it("still names a missing file and a directory as unreadable", async () => {
    expect((await failure(readTextFile(join(dir, "missing.yaml"), small))).code).toBe("io.unreadable");
    const err = await failure(readTextFile(dir, small));
    expect(err.code).toBe("io.unreadable");
    expect(err.message).toMatch(/is a directory/);
  });
});

describe("readLines", () => {
  it("refuses a line over the limit with its line number, after yielding the lines before it", async () => {
    const at = join(dir, "long.jsonl");
    await writeFile(at, `{}\n${"x".repeat(40)}\n{}\n`);
    const seen: number[] = [];
    const err = await failure(
      (async () => {
        for await (const l of readLines(at, { ...small, bytes: 32 })) seen.push(l.line);
      })(),
    );
    expect(seen).toEqual([1]);
    expect(err.code).toBe("io.too_large");
    expect(err.location).toEqual({ file: at.split("\\").join("/"), line: 2 });
  });

  it.runIf(existsSync("/dev/zero"))("stops a file without line breaks at the limit", async () => {
    const err = await failure(
      (async () => {
        for await (const _ of readLines("/dev/zero", { ...small, bytes: 1024 * 1024 })) {
          // nothing: the first line never ends
        }
      })(),
    );
    expect(err.code).toBe("io.too_large");
    expect(err.location).toEqual({ file: "/dev/zero", line: 1 });
  });
});

describe("limits from the environment", () => {
  it("defaults to 4 MiB for inputs and 256 MiB for traces", () => {
    expect(fileLimit().bytes).toBe(4 * 1024 * 1024);
    expect(traceLimit().bytes).toBe(256 * 1024 * 1024);
  });

  it("takes bytes or a binary suffix", () => {
    process.env.PROOF_MAX_FILE_BYTES = "1000";
    expect(fileLimit().bytes).toBe(1000);
    process.env.PROOF_MAX_FILE_BYTES = "8M";
    expect(fileLimit().bytes).toBe(8 * 1024 * 1024);
    process.env.PROOF_MAX_TRACE_BYTES = "1GiB";
    expect(traceLimit().bytes).toBe(1024 ** 3);
  });

  it.each(["0", "-1", "lots", "1.5M", "99999999999999999"])("refuses %j as a usage error", (raw) => {
    process.env.PROOF_MAX_FILE_BYTES = raw;
    let err: unknown;
    try {
      fileLimit();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe("usage.invalid_limit");
    expect((err as ProofError).message).toMatch(/PROOF_MAX_FILE_BYTES/);
  });
});
