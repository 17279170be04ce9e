/**
 * Group commit of the ledger writer (src/io/ledger-file.ts): appends in flight share one write and
 * one fsync, yet the file is byte for byte the ledger that appending them one at a time gives; a
 * caller's promise resolves only once its record is flushed; the head never names a record not
 * yet flushed and is current after close; a failed batch rejects its entries and leaves no part of
 * it in the file. The ledger file's handle is wrapped (node:fs/promises mocked) to count fsyncs,
 * see what is durable when, and inject failures.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { openLedger, readLedgerFiles } from "../../src/io/ledger-file.js";
import { contentDigest, type LedgerObservation, verifyLedger } from "../../src/ledger/ledger.js";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";

/** What the wrapped ledger handle saw and what it is told to do; reset before each test. */
const disk = vi.hoisted(() => ({
  /** fsyncs of the ledger file that succeeded. */
  syncs: 0,
  /** Seq of the last record flushed by a successful fsync (-1: none). */
  durableSeq: -1,
  /** Each head rewrite: the seq it names and the durable seq at that moment. */
  heads: [] as { seq: number; durable: number }[],
  /** One-shot failures of the ledger handle. */
  failWrite: false,
  failSync: false,
  failTruncate: false,
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const eio = (call: string) => Object.assign(new Error(`EIO: i/o error, ${call}`), { code: "EIO" });
  const bind = (target: object, prop: string | symbol) => {
    const v = Reflect.get(target, prop);
    return typeof v === "function" ? v.bind(target) : v;
  };
  const open = async (path: string, flags?: string, mode?: number) => {
    const handle = await real.open(path, flags, mode);
    const file = String(path);
    if (flags === "a" && file.endsWith(".jsonl"))
      return new Proxy(handle, {
        get(target, prop) {
          if (prop === "write")
            return async (buf: Buffer, offset: number, length: number) => {
              if (!disk.failWrite) return target.write(buf, offset, length);
              disk.failWrite = false;
              // Half the bytes reach the file before the error: a partial batch.
              await target.write(buf, offset, Math.max(1, Math.floor(length / 2)));
              throw eio("write");
            };
          if (prop === "sync")
            return async () => {
              if (disk.failSync) {
                disk.failSync = false;
                throw eio("fsync");
              }
              await target.sync();
              disk.syncs++;
              const text = await real.readFile(file, "utf8");
              disk.durableSeq = text.split("\n").length - 2;
            };
          if (prop === "truncate")
            return async (len: number) => {
              if (disk.failTruncate) {
                disk.failTruncate = false;
                throw eio("ftruncate");
              }
              return target.truncate(len);
            };
          return bind(target, prop);
        },
      });
    if (/\.jsonl\.head\..*tmp$/.test(file))
      return new Proxy(handle, {
        get(target, prop) {
          if (prop === "writeFile")
            return async (data: string) => {
              disk.heads.push({ seq: (JSON.parse(data) as { seq: number }).seq, durable: disk.durableSeq });
              return target.writeFile(data);
            };
          return bind(target, prop);
        },
      });
    return handle;
  };
  return { ...real, open, default: { ...real, open } };
});

const keys = generateKeyPairSync("ed25519");
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
});
afterAll(removeTempDirs);
beforeEach(() => {
  Object.assign(disk, {
    syncs: 0,
    durableSeq: -1,
    heads: [],
    failWrite: false,
    failSync: false,
    failTruncate: false,
  });
});

/** Entry i: a decision, or every third an observation, so both kinds share the chain. */
function entry(i: number): { decision: unknown } | { observation: LedgerObservation } {
  if (i % 3 === 2)
    return {
      observation: {
        session: "s1",
        seq: i,
        type: "tool_result",
        tool: "read_file",
        call_id: `c${i}`,
        at: `events[${i}]`,
        error: false,
        content_sha256: contentDigest(`result ${i}`),
      },
    };
  return { decision: { tool: "read_file", verdict: i % 5 === 0 ? "block" : "allow", rules: [], seq: i } };
}

function add(ledger: Awaited<ReturnType<typeof openLedger>>, i: number): Promise<void> {
  const e = entry(i);
  return "decision" in e ? ledger.append(e.decision) : ledger.observe(e.observation);
}

/** The ledger of entries 0..count-1 appended one at a time, each awaited. */
async function oneByOne(name: string, count: number, signKey?: KeyObject): Promise<string> {
  const file = join(dir, name);
  const ledger = await openLedger(file, signKey ? { signKey } : {});
  for (let i = 0; i < count; i++) await add(ledger, i);
  await ledger.close();
  return file;
}

const bytes = (file: string) => readFile(file);

describe("ledger group commit", () => {
  for (const signed of [false, true]) {
    it(`200 appends in flight give the bytes of 200 appends one at a time (${signed ? "signed" : "unsigned"})`, async () => {
      const key = signed ? keys.privateKey : undefined;
      const serial = await oneByOne(`serial-${signed}.jsonl`, 200, key);
      expect(disk.syncs).toBe(200);

      disk.syncs = 0;
      const file = join(dir, `concurrent-${signed}.jsonl`);
      const ledger = await openLedger(file, key ? { signKey: key } : {});
      await Promise.all(Array.from({ length: 200 }, (_, i) => add(ledger, i)));
      await ledger.close();
      // Appended in one turn: one batch, one write, one fsync.
      expect(disk.syncs).toBe(1);
      expect(await bytes(file)).toEqual(await bytes(serial));
      expect(await bytes(`${file}.head`)).toEqual(await bytes(`${serial}.head`));
      const { lines, head } = await readLedgerFiles(file);
      expect(lines).toHaveLength(200);
      expect(verifyLedger(lines, head, signed ? keys.publicKey : undefined).problem).toBeNull();
    });
  }

  it("resolves each append only once its record is flushed; the head never names an unflushed record", async () => {
    const file = join(dir, "waves.jsonl");
    const ledger = await openLedger(file, { signKey: keys.privateKey });
    const early: number[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      pending.push(
        add(ledger, i).then(() => {
          if (disk.durableSeq < i) early.push(i);
        }),
      );
      // Appends arrive over many turns, so batches follow one another while heads are written.
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pending);
    await ledger.close();
    expect(early).toEqual([]);
    expect(disk.syncs).toBeGreaterThan(1);
    expect(disk.syncs).toBeLessThan(200);
    // The seq -1 head of a new signed ledger, then heads that follow the flushed records.
    expect(disk.heads[0]).toEqual({ seq: -1, durable: -1 });
    for (const h of disk.heads) expect(h.seq).toBeLessThanOrEqual(h.durable);
    expect(disk.heads.at(-1)?.seq).toBe(199);
    expect(await bytes(file)).toEqual(
      await bytes(await oneByOne("waves-serial.jsonl", 200, keys.privateKey)),
    );
    const { lines, head } = await readLedgerFiles(file);
    expect(verifyLedger(lines, head, keys.publicKey).problem).toBeNull();
  });

  it("close waits for every append and leaves the head naming the last record", async () => {
    const file = join(dir, "close.jsonl");
    const ledger = await openLedger(file);
    const settled: boolean[] = [];
    const pending = Array.from({ length: 50 }, (_, i) => add(ledger, i).then(() => settled.push(true)));
    await ledger.close();
    expect(settled).toHaveLength(50);
    await Promise.all(pending);
    await expect(ledger.append({ tool: "late" })).rejects.toThrow("append after close");
    const { lines, head } = await readLedgerFiles(file);
    expect(lines).toHaveLength(50);
    expect(JSON.parse(head as string).seq).toBe(49);
    expect(verifyLedger(lines, head).problem).toBeNull();
  });

  for (const fault of ["failWrite", "failSync"] as const) {
    it(`a batch whose ${fault === "failWrite" ? "write" : "fsync"} fails rejects each of its entries and leaves none of it; later appends go on`, async () => {
      const file = join(dir, `${fault}.jsonl`);
      const ledger = await openLedger(file, { signKey: keys.privateKey });
      await Promise.all([0, 1, 2].map((i) => add(ledger, i)));
      const before = await bytes(file);
      disk[fault] = true;
      const failed = await Promise.allSettled([3, 4, 5].map((i) => add(ledger, i)));
      for (const r of failed) {
        expect(r.status).toBe("rejected");
        expect((r as PromiseRejectedResult).reason).toMatchObject({
          code: "io.eio",
          category: "environment",
        });
      }
      // Cut back to the last flushed record: no partial line, no record of the failed batch.
      expect(await bytes(file)).toEqual(before);
      // Later appends chain on from the last durable record, as if the failed ones were never made.
      await Promise.all([6, 7].map((i) => add(ledger, i)));
      await ledger.close();
      const expected = join(dir, `${fault}-expected.jsonl`);
      const serial = await openLedger(expected, { signKey: keys.privateKey });
      for (const i of [0, 1, 2, 6, 7]) await add(serial, i);
      await serial.close();
      expect(await bytes(file)).toEqual(await bytes(expected));
      expect(await bytes(`${file}.head`)).toEqual(await bytes(`${expected}.head`));
      const { lines, head } = await readLedgerFiles(file);
      expect(verifyLedger(lines, head, keys.publicKey).problem).toBeNull();
    });
  }

  it("a failed batch that cannot be cut off fails the ledger for good: later appends and close reject", async () => {
    const file = join(dir, "uncut.jsonl");
    const ledger = await openLedger(file);
    await add(ledger, 0);
    disk.failWrite = true;
    disk.failTruncate = true;
    await expect(add(ledger, 1)).rejects.toMatchObject({ code: "io.eio" });
    await expect(add(ledger, 2)).rejects.toMatchObject({ code: "io.eio" });
    await expect(ledger.close()).rejects.toMatchObject({ code: "io.eio" });
    // The partial record stays: reopening refuses to extend the ledger.
    await expect(openLedger(file)).rejects.toMatchObject({ code: "ledger.broken" });
  });

  it("a head that cannot be rewritten fails the ledger: close rejects with the error", async () => {
    const file = join(dir, "headless.jsonl");
    const ledger = await openLedger(file);
    // A directory where the head goes: every rewrite of it fails.
    await mkdir(`${file}.head`);
    await add(ledger, 0).catch(() => {});
    await expect(ledger.close()).rejects.toMatchObject({ code: "io.is_directory" });
    // The record itself was flushed before the head was tried.
    const text = await readFile(file, "utf8");
    expect(text.split("\n").filter((l) => l !== "")).toHaveLength(1);
  });

  it("a crash after a batch is flushed and before its head is rewritten: verify reports the stale head (exit 2)", async () => {
    // The state such a crash leaves: the head names an earlier durable record of the same chain.
    const file = join(dir, "crash.jsonl");
    const pub = join(dir, "crash.pub");
    await writeFile(pub, keys.publicKey.export({ type: "spki", format: "pem" }) as string);
    const ledger = await openLedger(file, { signKey: keys.privateKey });
    await Promise.all([0, 1].map((i) => add(ledger, i)));
    await ledger.close();
    await copyFile(`${file}.head`, join(dir, "crash.head.old"));
    const again = await openLedger(file, { signKey: keys.privateKey });
    await Promise.all([2, 3, 4].map((i) => add(again, i)));
    await again.close();
    await copyFile(join(dir, "crash.head.old"), `${file}.head`);

    const { lines, head } = await readLedgerFiles(file);
    const problem = verifyLedger(lines, head, keys.publicKey).problem;
    expect(problem?.line).toBeNull();
    expect(problem?.message).toMatch(
      /^head mismatch: head names record seq 1 sha256:\w+, the file ends at seq 4 /,
    );
    const r = await proof(["ledger", "verify", file, "--pub", pub], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("crash.jsonl.head: head mismatch: head names record seq 1");
    // Never extended: the records after the head are kept as they are, for whoever examines them.
    await expect(openLedger(file, { signKey: keys.privateKey })).rejects.toMatchObject({
      code: "ledger.broken",
    });
  });
});
