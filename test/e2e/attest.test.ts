/**
 * `proof attest verify` against edits the file digests alone do not show: a rewritten
 * `signature.key_id` (not covered by the signature) and an added directory (an empty one holds no
 * file to digest). Keys from `proof keys gen`, the out dir from `proof verify --sign-key`.
 */
import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/io/canonical.js";
import { missingTools } from "../helpers/tools.js";
import { proof, removeTempDirs, tempDir } from "./cli.js";

const POLICY = `schema: proof.policy/v1
policy_id: attest.v1
defaults:
  verdict: allow
rules:
  - id: no_delete
    match: { tool: [delete_repo] }
    effect: block
`;

const TRACE = JSON.stringify({
  messages: [
    { role: "user", content: "tidy up" },
    {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "a", type: "function", function: { name: "delete_repo", arguments: "{}" } }],
    },
  ],
});

let dir: string;

/** A fresh signed out dir `name` (exit 5: the trace is blocked). */
async function signedOut(name: string): Promise<string> {
  const r = await proof(
    [
      "verify",
      "--policy",
      "policy.yaml",
      "--traces",
      "traces",
      "--out",
      name,
      "--sign-key",
      "keys/proof.key",
    ],
    dir,
  );
  expect(r.code).toBe(5);
  return join(dir, name);
}

const attest = (out: string, pub = "keys/proof.pub") => proof(["attest", "verify", out, "--pub", pub], dir);

// Under CI the openssl cross-checks always run (and fail if openssl is missing); elsewhere
// they are skipped with the reason when it is.
const NO_OPENSSL = missingTools("openssl");

beforeAll(async () => {
  dir = await tempDir();
  await mkdir(join(dir, "traces"));
  await writeFile(join(dir, "policy.yaml"), POLICY);
  await writeFile(join(dir, "traces", "run.json"), TRACE);
  expect((await proof(["keys", "gen", "--out", "keys"], dir)).code).toBe(0);
  expect((await proof(["keys", "gen", "--out", "other"], dir)).code).toBe(0);
});

afterAll(removeTempDirs);

describe("proof attest verify", () => {
  it("refuses an edited signature.key_id (exit 2), though the signature itself still holds", async () => {
    const out = await signedOut("keyid");
    expect((await attest("keyid")).code).toBe(0);
    const path = join(out, "manifest.json");
    const manifest = JSON.parse(await readFile(path, "utf8"));
    const forged = `sha256:${"0".repeat(64)}`;
    manifest.signature.key_id = forged;
    await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
    const r = await attest("keyid");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("keyid/manifest.json: signature.key_id");
    expect(r.stderr).toContain("the key id was changed");
    const json = await proof(["--json", "attest", "verify", "keyid", "--pub", "keys/proof.pub"], dir);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "attest.signature", category: "integrity" });
    // A key id that is not even a string is refused the same way.
    manifest.signature.key_id = 7;
    await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
    expect((await attest("keyid")).code).toBe(2);
  });

  it("refuses an added directory (exit 2, naming it), even an empty one", async () => {
    const out = await signedOut("dirs");
    await mkdir(join(out, "empty"));
    let r = await attest("dirs");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("dirs/empty/: added: a directory holding no file listed in manifest.json");
    const json = await proof(["--json", "attest", "verify", "dirs", "--pub", "keys/proof.pub"], dir);
    expect(JSON.parse(json.stdout).error).toMatchObject({
      code: "attest.added",
      location: { file: "dirs/empty/" },
    });

    // Nested empty directories: the outer one is named first (sorted order).
    const nested = await signedOut("nested");
    await mkdir(join(nested, "a", "b"), { recursive: true });
    r = await attest("nested");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("nested/a/: added");

    // A directory holding an unlisted file is named by that file, as before.
    const full = await signedOut("full");
    await mkdir(join(full, "sub"));
    await writeFile(join(full, "sub", "x.txt"), "x");
    r = await attest("full");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("full/sub/x.txt: added: not listed in manifest.json");
  });

  it("refuses a manifest holding a key twice (exit 2): the signature covers only one reading", async () => {
    const out = await signedOut("dup");
    const path = join(out, "manifest.json");
    const text = await readFile(path, "utf8");
    // A first-key reader would see the forged schema; JSON.parse keeps the signed one.
    await writeFile(path, text.replace("{\n", '{\n  "files": {},\n'));
    const r = await attest("dup");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("dup/manifest.json: not strict JSON");
  });

  it("key_id and signature are checkable with openssl", async (ctx) => {
    if (NO_OPENSSL) ctx.skip(NO_OPENSSL);
    const out = await signedOut("openssl");
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    const der = execFileSync("openssl", ["pkey", "-pubin", "-in", "keys/proof.pub", "-outform", "DER"], {
      cwd: dir,
    });
    const digest = execFileSync("openssl", ["dgst", "-sha256", "-r"], { input: der, encoding: "utf8" });
    expect(manifest.signature.key_id).toBe(`sha256:${digest.split(" ")[0]}`);
    const { signature, ...unsigned } = manifest;
    await writeFile(join(dir, "manifest.msg"), canonicalJson(unsigned));
    await writeFile(join(dir, "manifest.sig"), Buffer.from(signature.value, "base64"));
    const verified = execFileSync(
      "openssl",
      [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "keys/proof.pub",
        "-rawin",
        "-in",
        "manifest.msg",
        "-sigfile",
        "manifest.sig",
      ],
      { cwd: dir, encoding: "utf8" },
    );
    expect(verified).toContain("Signature Verified Successfully");
    // The other key's id differs, so a manifest claiming it is refused before any file is looked at.
    expect((await attest("openssl", "other/proof.pub")).code).toBe(2);
  });
});
