/** `manifest.json`: digests of every artifact, Ed25519 signature over its canonical JSON. */
import { describe, expect, it } from "vitest";
import { ProofError } from "../../src/errors.js";
import { canonicalJson } from "../../src/io/canonical.js";
import {
  checkManifest,
  generateKeyPair,
  type Manifest,
  parsePrivateKey,
  parsePublicKey,
  renderManifest,
} from "../../src/report/manifest.js";

const pair = generateKeyPair();
const priv = parsePrivateKey(pair.privateKey, "proof.key");
const pub = parsePublicKey(pair.publicKey, "proof.pub");
const files = { "report.json": "sha256:aa", "summary.md": "sha256:bb" };

function signed(f: Record<string, string> = files): string {
  return renderManifest({
    version: "1.0.0",
    policies: [{ policy_id: "p", policy_digest: "sha256:cc" }],
    bundleDigest: "sha256:dd",
    files: { ...f, "manifest.json": "sha256:ignored" },
    signingKey: priv,
  });
}

describe("manifest", () => {
  it("lists every other file, the digests and the version; keys are PEM SPKI and PKCS#8", () => {
    expect(pair.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(pair.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const m = JSON.parse(signed()) as Manifest;
    expect(m.files).toEqual(files);
    expect(m.proof_version).toBe("1.0.0");
    expect(m.bundle_digest).toBe("sha256:dd");
    expect(m.signature?.algorithm).toBe("ed25519");
    // Deterministic: Ed25519 signatures depend only on key and message.
    expect(signed()).toBe(signed());
  });

  it("verifies an intact out dir and names the first modified, removed or added file", () => {
    const text = signed();
    expect(checkManifest(text, files, pub)).toBeNull();
    expect(checkManifest(text, { ...files, "report.json": "sha256:ab" }, pub)).toEqual({
      kind: "modified",
      file: "report.json",
    });
    expect(checkManifest(text, { "report.json": "sha256:aa" }, pub)).toEqual({
      kind: "removed",
      file: "summary.md",
    });
    expect(checkManifest(text, { ...files, "extra.txt": "sha256:ee" }, pub)).toEqual({
      kind: "added",
      file: "extra.txt",
    });
  });

  it("rejects a changed manifest, another key and a missing signature", () => {
    const m = JSON.parse(signed()) as Manifest;
    const forged = JSON.stringify({ ...m, files: { ...m.files, "report.json": "sha256:ff" } });
    expect(checkManifest(forged, { ...files, "report.json": "sha256:ff" }, pub)?.kind).toBe("signature");
    const other = parsePublicKey(generateKeyPair().publicKey, "other.pub");
    expect(checkManifest(signed(), files, other)).toMatchObject({ kind: "signature" });
    const { signature: _, ...unsigned } = m;
    expect(checkManifest(JSON.stringify(unsigned), files, pub)?.kind).toBe("signature");
    expect(checkManifest("not json", files, pub)?.kind).toBe("manifest");
  });

  it("checks signature.key_id against the given key: it is not covered by the signature", () => {
    const m = JSON.parse(signed()) as Manifest;
    const edited = { ...m, signature: { ...m.signature, key_id: `sha256:${"1".repeat(64)}` } };
    expect(checkManifest(JSON.stringify(edited), files, pub)).toEqual({
      kind: "signature",
      message: expect.stringContaining("the key id was changed"),
    });
  });

  it("refuses a directory holding no listed file, and a manifest holding a key twice", () => {
    const nested = { ...files, "sub/deep/x.json": "sha256:ee" };
    expect(checkManifest(signed(nested), nested, pub, ["sub", "sub/deep"])).toBeNull();
    expect(checkManifest(signed(), files, pub, ["empty"])).toEqual({ kind: "added", file: "empty/" });
    expect(checkManifest(signed(nested), nested, pub, ["sub", "sub/deep", "sub/zz"])).toEqual({
      kind: "added",
      file: "sub/zz/",
    });
    const dup = signed().replace("{\n", '{\n  "files": {},\n');
    expect(checkManifest(dup, files, pub)).toMatchObject({ kind: "manifest" });
  });

  it("signs the canonical JSON without the signature field: reformatting keeps it valid", () => {
    const m = JSON.parse(signed()) as Manifest;
    expect(checkManifest(canonicalJson(m), files, pub)).toBeNull();
  });

  it("refuses keys that are not Ed25519 PEM keys (exit 6)", () => {
    expect(() => parsePrivateKey("nope", "k.pem")).toThrow(ProofError);
    expect(() => parsePublicKey(pair.privateKey.replace(/PRIVATE/g, "PUBLIC"), "k.pem")).toThrow(/k\.pem/);
    // A private key given where the public key belongs is refused, not silently accepted.
    expect(() => parsePublicKey(pair.privateKey, "k.pem")).toThrow(ProofError);
  });
});
