/**
 * The decision ledger: hash chain, head sidecar, signatures; `proof ledger verify` names the first
 * broken place, `proof ledger query` filters records.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/io/canonical.js";
import { openLedger } from "../../src/io/ledger-file.js";
import { GENESIS, headSignedBytes, recordHash, verifyLedger } from "../../src/ledger/ledger.js";
import { proof, removeTempDirs, tempDir } from "../e2e/cli.js";
import { missingTools } from "../helpers/tools.js";

const DECISIONS = [
  { tool: "read_file", verdict: "allow", rules: [], seq: 2 },
  { tool: "send_money", verdict: "block", rules: ["payee_untrusted"], seq: 4 },
  { tool: "send_money", verdict: "require_approval", rules: ["large_payment"], seq: 6 },
  { tool: "read_file", verdict: "warn", rules: ["read_budget"], seq: 8 },
  { tool: "send_money", verdict: "block", rules: ["large_payment", "payee_untrusted"], seq: 10 },
];

const keys = generateKeyPairSync("ed25519");
let dir: string;
let pubFile: string;
let keyFile: string;

/** Writes a fresh ledger of DECISIONS (signed or not) and returns its path. */
async function makeLedger(name: string, signed = false): Promise<string> {
  const file = join(dir, name);
  const ledger = await openLedger(file, signed ? { signKey: keyFile } : {});
  // Appended without awaiting each: the ledger serialises them in call order.
  await Promise.all(DECISIONS.map((d) => ledger.append(d)));
  await ledger.close();
  return file;
}

async function lines(file: string): Promise<string[]> {
  return (await readFile(file, "utf8")).split("\n").filter((l) => l !== "");
}

beforeAll(async () => {
  dir = await tempDir();
  pubFile = join(dir, "proof.pub");
  keyFile = join(dir, "proof.key");
  await writeFile(pubFile, keys.publicKey.export({ type: "spki", format: "pem" }) as string);
  await writeFile(keyFile, keys.privateKey.export({ type: "pkcs8", format: "pem" }) as string);
});
afterAll(removeTempDirs);

describe("ledger records", () => {
  it("chains each record to the previous one and writes the head after every append", async () => {
    const file = await makeLedger("chain.jsonl");
    const records = (await lines(file)).map((l) => JSON.parse(l));
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(records[0].prev).toBe(GENESIS);
    for (const [i, r] of records.entries()) {
      expect(r.hash).toBe(recordHash(r.seq, r.prev, r.decision));
      if (i > 0) expect(r.prev).toBe(records[i - 1].hash);
      expect(r.decision).toEqual(DECISIONS[i]);
    }
    expect(JSON.parse(await readFile(`${file}.head`, "utf8"))).toEqual({ seq: 4, hash: records[4].hash });
  });

  it("reopens a ledger and continues its chain; refuses to extend a broken one", async () => {
    const file = await makeLedger("reopen.jsonl");
    const again = await openLedger(file);
    await again.append({ tool: "x", verdict: "allow", rules: [] });
    await again.close();
    const all = await lines(file);
    expect(verifyLedger(all, await readFile(`${file}.head`, "utf8")).problem).toBeNull();
    expect(JSON.parse(all[5] as string).seq).toBe(5);

    await writeFile(file, `${all.slice(0, 3).join("\n")}\n`);
    await expect(openLedger(file)).rejects.toMatchObject({ code: "ledger.broken", category: "integrity" });
  });

  it("signs the hash of each record with Ed25519", async () => {
    const file = await makeLedger("signed-unit.jsonl", true);
    const head = await readFile(`${file}.head`, "utf8");
    expect(verifyLedger(await lines(file), head, keys.publicKey).problem).toBeNull();
    const other = generateKeyPairSync("ed25519").publicKey;
    expect(verifyLedger(await lines(file), head, other).problem).toEqual({
      line: 1,
      message: "signature does not verify with the given public key",
    });
  });
});

describe("proof ledger verify", () => {
  it("passes an intact ledger (exit 0), signed or not", async () => {
    expect((await proof(["ledger", "verify", await makeLedger("ok.jsonl")], dir)).code).toBe(0);
    const signed = await makeLedger("signed.jsonl", true);
    const r = await proof(["--json", "ledger", "verify", signed, "--pub", pubFile], dir);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ verified: true, records: 5, signed: true });
  });

  it("says what a check without --pub cannot prove: truncation with a rewritten head", async () => {
    const file = await makeLedger("unsigned-note.jsonl");
    const r = await proof(["ledger", "verify", file], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("chain verified, 5 records");
    expect(r.stderr).toContain("without --pub the head proves nothing against truncation");
    const json = await proof(["--json", "ledger", "verify", file], dir);
    expect(JSON.parse(json.stdout)).toMatchObject({
      verified: true,
      signed: false,
      truncation_detected: false,
      warning: expect.stringContaining("proves nothing against truncation"),
    });
    const signed = await proof(
      ["--json", "ledger", "verify", await makeLedger("signed-note.jsonl", true), "--pub", pubFile],
      dir,
    );
    expect(JSON.parse(signed.stdout)).toMatchObject({ signed: true, truncation_detected: true });
    expect(JSON.parse(signed.stdout).warning).toBeUndefined();
  });

  it("refuses a signed ledger cut and re-headed under --pub (exit 2, naming the head)", async () => {
    const file = await makeLedger("reheaded.jsonl", true);
    await cutAndReHead(file, 3, (last) => ({ seq: last.seq, hash: last.hash }));
    // Without the key nothing can tell: that is what the warning says.
    expect((await proof(["ledger", "verify", file], dir)).code).toBe(0);
    const r = await proof(["ledger", "verify", file, "--pub", pubFile], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("reheaded.jsonl.head: head is not signed");
  });

  it("names the line of a tampered record (exit 2)", async () => {
    const file = await makeLedger("tampered.jsonl");
    const all = await lines(file);
    all[2] = (all[2] as string).replace('"require_approval"', '"allow"');
    await writeFile(file, `${all.join("\n")}\n`);
    const r = await proof(["ledger", "verify", file], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("tampered.jsonl:3");
    expect(r.stderr).toContain("hash does not match");
    // The location is printed once, by the error line, not repeated in the message.
    expect(r.stderr.split("tampered.jsonl:3").length - 1).toBe(1);
    const json = await proof(["--json", "ledger", "verify", file], dir);
    const { error } = JSON.parse(json.stdout);
    expect(error.location).toMatchObject({ file: expect.stringMatching(/tampered\.jsonl$/), line: 3 });
    expect(error.message).not.toContain("tampered.jsonl");
  });

  it("names the break when a tampered record's hash was recomputed too (exit 2)", async () => {
    const file = await makeLedger("rehashed.jsonl");
    const all = await lines(file);
    const rec = JSON.parse(all[1] as string);
    rec.decision.verdict = "allow";
    rec.hash = recordHash(rec.seq, rec.prev, rec.decision);
    all[1] = JSON.stringify(rec);
    await writeFile(file, `${all.join("\n")}\n`);
    const r = await proof(["ledger", "verify", file], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("rehashed.jsonl:3");
    expect(r.stderr).toContain("prev does not match");
  });

  it("detects the last lines cut off through the head (exit 2)", async () => {
    const file = await makeLedger("cut.jsonl");
    const all = await lines(file);
    await writeFile(file, `${all.slice(0, 3).join("\n")}\n`);
    const r = await proof(["ledger", "verify", file], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cut.jsonl.head");
    expect(r.stderr).toContain("truncated: head names record seq 4, the file ends at seq 2");
  });

  it("names the first reordered line (exit 2)", async () => {
    const file = await makeLedger("reordered.jsonl");
    const all = await lines(file);
    [all[1], all[2]] = [all[2] as string, all[1] as string];
    await writeFile(file, `${all.join("\n")}\n`);
    const r = await proof(["ledger", "verify", file], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("reordered.jsonl:2");
    expect(r.stderr).toContain("seq is 2, expected 1");
  });

  it("refuses a bad signature and an unsigned ledger under --pub (exit 2)", async () => {
    const file = await makeLedger("badsig.jsonl", true);
    const all = await lines(file);
    const rec = JSON.parse(all[3] as string);
    rec.sig = Buffer.from(rec.sig, "base64").reverse().toString("base64");
    all[3] = JSON.stringify(rec);
    await writeFile(file, `${all.join("\n")}\n`);
    const r = await proof(["ledger", "verify", file, "--pub", pubFile], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("badsig.jsonl:4");
    expect(r.stderr).toContain("signature does not verify");

    const unsigned = await proof(
      ["ledger", "verify", await makeLedger("unsigned.jsonl"), "--pub", pubFile],
      dir,
    );
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toContain("unsigned.jsonl:1: record is not signed");
  });

  it("refuses a ledger whose head was deleted (exit 2), and a missing file (exit 6)", async () => {
    const file = await makeLedger("nohead.jsonl");
    await rm(`${file}.head`);
    const r = await proof(["ledger", "verify", file], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("head file is missing");
    expect((await proof(["ledger", "verify", join(dir, "none.jsonl")], dir)).code).toBe(6);
  });
});

/** Cuts a ledger to its first `keep` records and writes `head` beside it, as an attacker would. */
async function cutAndReHead(
  file: string,
  keep: number,
  head: (last: { seq: number; hash: string; sig?: string }) => object,
) {
  const all = await lines(file);
  await writeFile(file, `${all.slice(0, keep).join("\n")}\n`);
  const last = JSON.parse(all[keep - 1] as string);
  await writeFile(`${file}.head`, `${canonicalJson(head(last))}\n`);
}

// Under CI the openssl cross-checks always run (and fail if openssl is missing); elsewhere
// they are skipped with the reason when it is.
const NO_OPENSSL = missingTools("openssl");

describe("signed head", () => {
  it("signs the head of a signed ledger; a cut ledger with a rewritten head fails with the key", async () => {
    const file = await makeLedger("reheaded-unit.jsonl", true);
    const head = JSON.parse(await readFile(`${file}.head`, "utf8"));
    expect(Object.keys(head).sort()).toEqual(["hash", "seq", "sig"]);

    // Unsigned head naming the new last record: the chain and the head agree, only the key tells.
    await cutAndReHead(file, 3, (last) => ({ seq: last.seq, hash: last.hash }));
    const text = await readFile(`${file}.head`, "utf8");
    expect(verifyLedger(await lines(file), text).problem).toBeNull();
    expect(verifyLedger(await lines(file), text, keys.publicKey).problem).toEqual({
      line: null,
      message: "head is not signed: without a signed head, records cut off the end cannot be detected",
    });

    // The old head's signature kept, or a record's own signature copied into the head: neither
    // holds for the new head (a record signature covers other bytes than a head signature).
    for (const sig of [head.sig, JSON.parse((await lines(file))[2] as string).sig]) {
      await cutAndReHead(file, 3, (last) => ({ seq: last.seq, hash: last.hash, sig }));
      expect(
        verifyLedger(await lines(file), await readFile(`${file}.head`, "utf8"), keys.publicKey).problem,
      ).toMatchObject({ line: null, message: expect.stringContaining("head signature does not verify") });
    }
  });

  it("gives a new signed ledger a signed head at once, so that emptying it shows", async () => {
    const file = join(dir, "empty-signed.jsonl");
    await (await openLedger(file, { signKey: keyFile })).close();
    const head = await readFile(`${file}.head`, "utf8");
    expect(JSON.parse(head)).toMatchObject({ seq: -1, hash: GENESIS });
    expect(verifyLedger([], head, keys.publicKey).problem).toBeNull();
    // Every record cut and the head deleted: fine for an unsigned ledger, not under the key.
    expect(verifyLedger([], null).problem).toBeNull();
    expect(verifyLedger([], null, keys.publicKey).problem?.message).toContain("head file is missing");
  });

  it("never signs anew a ledger whose head is not signed by the key, nor extends a signed one unsigned", async () => {
    const cut = await makeLedger("relaunder.jsonl", true);
    await cutAndReHead(cut, 2, (last) => ({ seq: last.seq, hash: last.hash }));
    // Reopening would sign a fresh head over the cut ledger: refused.
    await expect(openLedger(cut, { signKey: keyFile })).rejects.toMatchObject({
      code: "ledger.broken",
      message: expect.stringContaining("head is not signed"),
    });
    const other = generateKeyPairSync("ed25519").privateKey;
    await expect(
      openLedger(await makeLedger("otherkey.jsonl", true), { signKey: other }),
    ).rejects.toMatchObject({
      code: "ledger.broken",
      message: expect.stringContaining("head signature does not verify"),
    });
    await expect(openLedger(await makeLedger("nokey.jsonl", true))).rejects.toMatchObject({
      code: "ledger.key_required",
    });

    // Reopened with its own key, a signed ledger goes on and still verifies.
    const ok = await makeLedger("resumed.jsonl", true);
    const again = await openLedger(ok, { signKey: keyFile });
    await again.append({ tool: "x", verdict: "allow", rules: [] });
    await again.close();
    const head = await readFile(`${ok}.head`, "utf8");
    expect(JSON.parse(head).seq).toBe(5);
    expect(verifyLedger(await lines(ok), head, keys.publicKey)).toEqual({ records: 6, problem: null });
  });

  it("refuses a record or head holding a key twice (one reading hashed, another shown)", async () => {
    const file = await makeLedger("dupkey.jsonl");
    const all = await lines(file);
    all[1] = (all[1] as string).replace('{"decision":', '{"decision":{"verdict":"allow"},"decision":');
    await writeFile(file, `${all.join("\n")}\n`);
    const r = await proof(["ledger", "verify", file], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("dupkey.jsonl:2: not strict JSON");

    const head = await makeLedger("duphead.jsonl");
    const text = await readFile(`${head}.head`, "utf8");
    await writeFile(`${head}.head`, text.replace('{"hash":', '{"seq":0,"hash":'));
    expect(
      verifyLedger(await lines(head), await readFile(`${head}.head`, "utf8")).problem?.message,
    ).toContain("head file is not strict JSON");
  });

  it("head signatures are plain Ed25519 over the documented bytes (checked with openssl)", async (ctx) => {
    if (NO_OPENSSL) ctx.skip(NO_OPENSSL);
    const file = await makeLedger("openssl.jsonl", true);
    const head = JSON.parse(await readFile(`${file}.head`, "utf8"));
    // The documented message: canonical JSON of {hash, schema, seq}.
    const message = `{"hash":"${head.hash}","schema":"proof.ledger.head/v1","seq":4}`;
    expect(headSignedBytes(4, head.hash).toString("utf8")).toBe(message);
    await writeFile(join(dir, "head.msg"), message);
    await writeFile(join(dir, "head.sig"), Buffer.from(head.sig, "base64"));
    const check = (msg: string) =>
      execFileSync(
        "openssl",
        ["pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-rawin", "-in", msg, "-sigfile", "head.sig"],
        { cwd: dir, encoding: "utf8" },
      );
    expect(check("head.msg")).toContain("Signature Verified Successfully");
    await writeFile(join(dir, "head.bad"), message.replace('"seq":4', '"seq":3'));
    expect(() => check("head.bad")).toThrow();
  });
});

describe("proof ledger query", () => {
  it("prints the records passing every filter, as JSON lines or an array", async () => {
    const file = await makeLedger("query.jsonl");
    const seqs = async (...flags: string[]) => {
      const r = await proof(["ledger", "query", file, ...flags], dir);
      expect(r.code).toBe(0);
      return r.stdout
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l).seq);
    };
    expect(await seqs()).toEqual([0, 1, 2, 3, 4]);
    expect(await seqs("--verdict", "block")).toEqual([1, 4]);
    expect(await seqs("--rule", "large_payment")).toEqual([2, 4]);
    expect(await seqs("--tool", "read_file")).toEqual([0, 3]);
    expect(await seqs("--since-seq", "2", "--tool", "send_money")).toEqual([2, 4]);
    expect(await seqs("--verdict", "allow", "--rule", "payee_untrusted")).toEqual([]);
    const json = await proof(["--json", "ledger", "query", file, "--verdict", "warn"], dir);
    expect(JSON.parse(json.stdout).map((r: { seq: number }) => r.seq)).toEqual([3]);
    expect((await proof(["ledger", "query", file, "--verdict", "maybe"], dir)).code).toBe(6);
    expect((await proof(["ledger", "query", file, "--since-seq", "-1"], dir)).code).toBe(6);
  });
});
